//! Reading the JavaScript options object (`ServerEventsClientOptions`).
//!
//! The data options (timeouts, paths, credentials, reconnect policy, ...) are the core's
//! `ClientOptions`: the object's data properties are read into it one by one (no serde in the
//! module: serde-wasm-bindgen and the derived deserializer cost more than this reader), with
//! the same names, the core's defaults and the checks serde makes on the native side. What stays here is what only JavaScript has: functions, receivers and
//! the resolver. A value of the wrong type is a `TypeError` thrown by the constructor, never a
//! panic and never silently ignored.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Function, Number};
use servicestack_events::{ClientBuilder, ClientOptions, Credentials, ReconnectPolicy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::invalid_argument;
use crate::hooks::Hooks;
use crate::js;

/// The options that are JavaScript values (functions, receivers, the resolver): never part of
/// the core's data options.
const JS_ONLY: [&str; 9] = [
    "handlers",
    "success",
    "receivers",
    "resolver",
    "onException",
    "onReconnect",
    "onStateChange",
    "resolveStreamUrl",
    "getCredentials",
];

/// The constructor's options: the core's data options and the JavaScript-only ones.
pub(crate) struct JsOptions {
    /// The data options, checked by the core.
    pub(crate) core: ClientOptions,
    /// `handlers`: name → function.
    pub(crate) handlers: Vec<(String, Function)>,
    /// `receivers`: op → object or class.
    pub(crate) receivers: Vec<(String, JsValue)>,
    /// `resolver`: an object with `tryResolve(Class)`, or `undefined`.
    pub(crate) resolver: JsValue,
    pub(crate) on_exception: Option<Function>,
    pub(crate) on_reconnect: Option<Function>,
    pub(crate) on_state_change: Option<Function>,
    /// `options.success(selector, body, json)`: after every application message is handled.
    pub(crate) success: Option<Function>,
    resolve_stream_url: Option<Function>,
    get_credentials: Option<Function>,
}

/// The core's options from the data properties of `options` (`undefined`, `null` and the
/// JavaScript-only options left out), read property by property: every field starts at the
/// core's default (`ClientOptions::default()`, the one place defaults are written) and a
/// present property replaces it. Unknown properties are ignored, as serde ignores them on the
/// native side. A function anywhere else is refused: it cannot be data.
fn core_options(options: &JsValue) -> Result<ClientOptions, JsValue> {
    let mut core = ClientOptions::default();
    if options.is_undefined() || options.is_null() {
        return Ok(core);
    }
    for name in js::own_names(options) {
        let value = js::get(options, &name);
        if JS_ONLY.contains(&name.as_str()) || value.is_undefined() || value.is_null() {
            continue;
        }
        if value.is_function() {
            return Err(invalid_argument(&format!(
                "options.{name} must not be a function"
            )));
        }
        let field = |kind: &str| invalid_argument(&format!("options.{name} must be {kind}"));
        let count = || whole_number(&value).ok_or_else(|| field("a whole number of at least 0"));
        let millis = || count().map(Duration::from_millis);
        let text = || value.as_string().ok_or_else(|| field("a string"));
        let flag = || value.as_bool().ok_or_else(|| field("a boolean"));
        let size =
            || count().and_then(|n| usize::try_from(n).map_err(|_| field("a smaller number")));
        match name.as_str() {
            "channels" => {
                core.channels = strings(&value).ok_or_else(|| field("an array of strings"))?
            }
            "heartbeatIntervalMs" => core.heartbeat_interval = Some(millis()?),
            "idleTimeoutMs" => core.idle_timeout = Some(millis()?),
            "connectTimeoutMs" => core.connect_timeout = millis()?,
            "requestTimeoutMs" => core.request_timeout = millis()?,
            "maxEventSize" => core.max_event_size = size()?,
            "messageBuffer" => core.message_buffer = size()?,
            "allowedOrigins" => {
                core.allowed_origins =
                    strings(&value).ok_or_else(|| field("an array of strings"))?
            }
            "eventStreamPath" => core.event_stream_path = text()?,
            "subscribersPath" => core.subscribers_path = text()?,
            "bearerToken" => core.bearer_token = Some(text()?.into()),
            "headers" => {
                core.headers = string_map(&value)
                    .ok_or_else(|| field("a plain object of strings"))?
                    .into_iter()
                    .map(|(key, text)| (key, text.into()))
                    .collect()
            }
            "reconnect" => {
                core.reconnect = reconnect_policy(&value).ok_or_else(|| field(RECONNECT_FORMS))?
            }
            "withCredentials" => core.with_credentials = flag()?,
            "unregisterOnUnload" => core.unregister_on_unload = flag()?,
            "strictReceiverMatching" => core.strict_receiver_matching = flag()?,
            _ => {}
        }
    }
    Ok(core)
}

/// What `reconnect` may be (the core's serialized forms of a `ReconnectPolicy`).
const RECONNECT_FORMS: &str =
    "\"servicestack\", \"never\", {delayMs: n} or {initialMs: n, maxMs: m}";

/// A safe non-negative integer (what serde reads as a `u64` from a JavaScript number).
fn whole_number(value: &JsValue) -> Option<u64> {
    let number = value.as_f64()?;
    (Number::is_safe_integer(value) && number >= 0.0).then_some(number as u64)
}

/// An array of strings.
fn strings(value: &JsValue) -> Option<Vec<String>> {
    if !Array::is_array(value) {
        return None;
    }
    Array::from(value)
        .iter()
        .map(|item| item.as_string())
        .collect()
}

/// The own properties of a plain object (`{…}` or `Object.create(null)`) whose values are all
/// strings. Anything else (a `Map`, an array, a class instance) is refused rather than read as
/// an object without properties, which would drop its entries without a word.
fn string_map(value: &JsValue) -> Option<Vec<(String, String)>> {
    let plain = value.is_object()
        && js::prototype(value).is_none_or(|proto| js::prototype(&proto).is_none());
    if !plain {
        return None;
    }
    js::own_names(value)
        .into_iter()
        .map(|name| js::get(value, &name).as_string().map(|text| (name, text)))
        .collect()
}

/// `"servicestack"`, `"never"`, `{delayMs}` (fixed) or `{initialMs, maxMs?}` (exponential; the
/// core's default longest wait when `maxMs` is left out). Other properties are ignored.
fn reconnect_policy(value: &JsValue) -> Option<ReconnectPolicy> {
    if let Some(name) = value.as_string() {
        return ReconnectPolicy::from_name(&name);
    }
    if !value.is_object() {
        return None;
    }
    let (mut delay, mut initial, mut max) = (None, None, None);
    for name in js::own_names(value) {
        let slot = match name.as_str() {
            "delayMs" => &mut delay,
            "initialMs" => &mut initial,
            "maxMs" => &mut max,
            _ => continue,
        };
        *slot = Some(whole_number(&js::get(value, &name))?);
    }
    ReconnectPolicy::from_millis(delay, initial, max)
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

impl JsOptions {
    /// Reads and checks `options` (`undefined` and `null` mean no options).
    pub(crate) fn read(options: &JsValue) -> Result<JsOptions, JsValue> {
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
        Ok(JsOptions {
            core: core_options(options)?,
            handlers,
            receivers,
            resolver,
            on_exception: function(options, "onException")?,
            on_reconnect: function(options, "onReconnect")?,
            on_state_change: function(options, "onStateChange")?,
            success: function(options, "success")?,
            resolve_stream_url: function(options, "resolveStreamUrl")?,
            get_credentials: function(options, "getCredentials")?,
        })
    }

    /// The builder with the core's options and the JavaScript callbacks the core calls
    /// (`resolveStreamUrl`, `getCredentials`).
    pub(crate) fn configure(&self, mut builder: ClientBuilder, hooks: &Rc<Hooks>) -> ClientBuilder {
        builder = builder.options(self.core.clone());
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
        builder
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
