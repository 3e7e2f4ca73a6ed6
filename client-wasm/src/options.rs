//! Reading the JavaScript options object (`ServerEventsClientOptions`) into the core's builder.
//!
//! Every option is checked: a value of the wrong type is a `TypeError` thrown by the
//! constructor, never a panic and never silently ignored.

use std::rc::Rc;
use std::time::Duration;

use js_sys::Function;
use servicestack_events::{ClientBuilder, Credentials, ReconnectPolicy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::invalid_argument;
use crate::hooks::Hooks;
use crate::js;

/// The options that stay on the JavaScript side (callbacks, receivers, page behaviour).
pub(crate) struct ClientOptions {
    /// `handlers`: name → function.
    pub(crate) handlers: Vec<(String, Function)>,
    /// `receivers`: op → object or class.
    pub(crate) receivers: Vec<(String, JsValue)>,
    /// `resolver`: an object with `tryResolve(Class)`, or `undefined`.
    pub(crate) resolver: JsValue,
    pub(crate) on_exception: Option<Function>,
    pub(crate) on_reconnect: Option<Function>,
    pub(crate) on_state_change: Option<Function>,
    /// `withCredentials` (default `true`): send cookies cross-origin.
    pub(crate) with_credentials: bool,
    /// `unregisterOnUnload` (default `true`): unregister with `sendBeacon` on `pagehide`.
    pub(crate) unregister_on_unload: bool,
    resolve_stream_url: Option<Function>,
    get_credentials: Option<Function>,
    options: JsValue,
}

fn function(options: &JsValue, key: &str) -> Result<Option<Function>, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    js::as_function(&value)
        .map(Some)
        .ok_or_else(|| invalid_argument(&format!("options.{key} must be a function")))
}

fn boolean(options: &JsValue, key: &str, default: bool) -> Result<bool, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(default);
    }
    value
        .as_bool()
        .ok_or_else(|| invalid_argument(&format!("options.{key} must be a boolean")))
}

fn string(options: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| invalid_argument(&format!("options.{key} must be a string")))
}

fn number(options: &JsValue, key: &str) -> Result<Option<f64>, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        _ => Err(invalid_argument(&format!(
            "options.{key} must be a non-negative number"
        ))),
    }
}

fn millis(options: &JsValue, key: &str) -> Result<Option<Duration>, JsValue> {
    Ok(number(options, key)?.map(|ms| Duration::from_millis(ms as u64)))
}

/// An array-of-strings option (`[]` when absent).
fn string_list(options: &JsValue, key: &str) -> Result<Vec<String>, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let not_a_list = || invalid_argument(&format!("options.{key} must be an array of strings"));
    if !js_sys::Array::is_array(&value) {
        return Err(not_a_list());
    }
    js_sys::Array::from(&value)
        .iter()
        .map(|item| item.as_string().ok_or_else(not_a_list))
        .collect()
}

/// The `[key, value]` string pairs of a plain object option.
fn string_pairs(options: &JsValue, key: &str) -> Result<Vec<(String, String)>, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(invalid_argument(&format!(
            "options.{key} must be an object"
        )));
    }
    js::own_names(&value)
        .into_iter()
        .map(|name| {
            let item = js::get(&value, &name);
            item.as_string()
                .map(|text| (name.clone(), text))
                .ok_or_else(|| invalid_argument(&format!("options.{key}.{name} must be a string")))
        })
        .collect()
}

/// The `[key, value]` pairs of a plain object option whose values are objects or functions.
fn object_entries(options: &JsValue, key: &str) -> Result<Vec<(String, JsValue)>, JsValue> {
    let value = js::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(invalid_argument(&format!(
            "options.{key} must be an object"
        )));
    }
    Ok(js::own_names(&value)
        .into_iter()
        .map(|name| {
            let item = js::get(&value, &name);
            (name, item)
        })
        .collect())
}

/// `reconnect`: `"servicestack"` (default), `"never"`, `{ delayMs }` (fixed) or
/// `{ initialMs, maxMs? }` (exponential with jitter).
fn reconnect_policy(options: &JsValue) -> Result<Option<ReconnectPolicy>, JsValue> {
    let value = js::get(options, "reconnect");
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(name) = value.as_string() {
        return match name.as_str() {
            "servicestack" => Ok(Some(ReconnectPolicy::servicestack())),
            "never" => Ok(Some(ReconnectPolicy::never())),
            _ => Err(invalid_argument(
                "options.reconnect must be \"servicestack\", \"never\", { delayMs } or { initialMs, maxMs }",
            )),
        };
    }
    if let Some(delay) = millis(&value, "delayMs")? {
        return Ok(Some(ReconnectPolicy::fixed(delay)));
    }
    if let Some(initial) = millis(&value, "initialMs")? {
        let max = millis(&value, "maxMs")?.unwrap_or(Duration::from_secs(60));
        return Ok(Some(ReconnectPolicy::exponential(initial, max)));
    }
    Err(invalid_argument(
        "options.reconnect must be \"servicestack\", \"never\", { delayMs } or { initialMs, maxMs }",
    ))
}

impl ClientOptions {
    /// Reads and checks `options` (`undefined` and `null` mean no options).
    pub(crate) fn read(options: &JsValue) -> Result<ClientOptions, JsValue> {
        if !(options.is_undefined() || options.is_null() || options.is_object()) {
            return Err(invalid_argument("options must be an object"));
        }
        let handlers = object_entries(options, "handlers")?
            .into_iter()
            .map(|(name, value)| match js::as_function(&value) {
                Some(function) => Ok((name, function)),
                None => Err(invalid_argument(&format!(
                    "handlers.{name} must be a function"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let receivers = object_entries(options, "receivers")?
            .into_iter()
            .map(|(name, value)| {
                if js::is_object_like(&value) {
                    Ok((name, value))
                } else {
                    Err(invalid_argument(&format!(
                        "receivers.{name} must be an object or a class"
                    )))
                }
            })
            .collect::<Result<_, _>>()?;
        let resolver = js::get(options, "resolver");
        if !(resolver.is_undefined() || resolver.is_null())
            && js::as_function(&js::get(&resolver, "tryResolve")).is_none()
        {
            return Err(invalid_argument(
                "options.resolver must have a tryResolve method",
            ));
        }
        Ok(ClientOptions {
            handlers,
            receivers,
            resolver,
            on_exception: function(options, "onException")?,
            on_reconnect: function(options, "onReconnect")?,
            on_state_change: function(options, "onStateChange")?,
            with_credentials: boolean(options, "withCredentials", true)?,
            unregister_on_unload: boolean(options, "unregisterOnUnload", true)?,
            resolve_stream_url: function(options, "resolveStreamUrl")?,
            get_credentials: function(options, "getCredentials")?,
            options: options.clone(),
        })
    }

    /// Applies the options the core handles (timeouts, credentials, reconnect policy, paths).
    pub(crate) fn configure(
        &self,
        mut builder: ClientBuilder,
        hooks: &Rc<Hooks>,
    ) -> Result<ClientBuilder, JsValue> {
        let options = &self.options;
        if let Some(interval) = millis(options, "heartbeatIntervalMs")?.filter(|d| !d.is_zero()) {
            builder = builder.heartbeat_interval(interval);
        }
        if let Some(timeout) = millis(options, "idleTimeoutMs")?.filter(|d| !d.is_zero()) {
            builder = builder.idle_timeout(timeout);
        }
        if let Some(timeout) = millis(options, "connectTimeoutMs")? {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = millis(options, "requestTimeoutMs")? {
            builder = builder.request_timeout(timeout);
        }
        if let Some(bytes) = number(options, "maxEventSize")? {
            builder = builder.max_event_size(bytes as usize);
        }
        if let Some(messages) = number(options, "messageBuffer")? {
            builder = builder.message_buffer(messages as usize);
        }
        let allowed_origins = string_list(options, "allowedOrigins")?;
        if !allowed_origins.is_empty() {
            builder = builder.allowed_origins(allowed_origins);
        }
        if let Some(path) = string(options, "eventStreamPath")? {
            builder = builder.event_stream_path(path);
        }
        if let Some(path) = string(options, "subscribersPath")? {
            builder = builder.subscribers_path(path);
        }
        if let Some(token) = string(options, "bearerToken")? {
            builder = builder.bearer_token(token);
        }
        for (name, value) in string_pairs(options, "headers")? {
            builder = builder.header(name, value);
        }
        if let Some(policy) = reconnect_policy(options)? {
            builder = builder.reconnect_policy(policy);
        }
        builder = builder.with_credentials(self.with_credentials);
        if let Some(rewrite) = self.resolve_stream_url.clone() {
            let hooks = hooks.clone();
            builder = builder.resolve_stream_url(move |url| {
                match js::call(&rewrite, &JsValue::UNDEFINED, &[JsValue::from_str(url)]) {
                    Ok(value) => value.as_string().unwrap_or_else(|| {
                        hooks.report_thrown(&invalid_argument(
                            "resolveStreamUrl must return a string",
                        ));
                        url.to_owned()
                    }),
                    Err(thrown) => {
                        hooks.report_thrown(&thrown);
                        url.to_owned()
                    }
                }
            });
        }
        if let Some(provider) = self.get_credentials.clone() {
            builder = builder.credentials_fn(move |refresh| {
                let provider = provider.clone();
                async move { credentials_from(&provider, refresh).await }
            });
        }
        Ok(builder)
    }
}

/// Calls `getCredentials(refresh)` and reads the `{ bearerToken?, headers?, query? }` it gives
/// (or resolves to).
async fn credentials_from(provider: &Function, refresh: bool) -> Result<Credentials, String> {
    let returned = js::call(
        provider,
        &JsValue::UNDEFINED,
        &[JsValue::from_bool(refresh)],
    )
    .map_err(|thrown| js::describe(&thrown))?;
    let value = match returned.dyn_into::<js_sys::Promise>() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .map_err(|thrown| js::describe(&thrown))?,
        Err(value) => value,
    };
    if value.is_undefined() || value.is_null() {
        return Ok(Credentials::default());
    }
    let mut credentials = Credentials::default();
    if let Some(token) = string(&value, "bearerToken").map_err(|e| js::describe(&e))? {
        credentials.bearer_token = Some(token.into());
    }
    for (name, text) in string_pairs(&value, "headers").map_err(|e| js::describe(&e))? {
        credentials = credentials.with_header(name, text);
    }
    for (name, text) in string_pairs(&value, "query").map_err(|e| js::describe(&e))? {
        credentials = credentials.with_query(name, text);
    }
    Ok(credentials)
}
