//! Reading the JavaScript options object (`ServerEventsClientOptions`).
//!
//! The data options (timeouts, paths, credentials, reconnect policy, ...) are the core's
//! `ClientOptions`: the object's data properties are deserialized into it, so their names, defaults and
//! checks are the core's. What stays here is what only JavaScript has: functions, receivers and
//! the resolver. A value of the wrong type is a `TypeError` thrown by the constructor, never a
//! panic and never silently ignored.

use std::rc::Rc;

use js_sys::{Function, Object};
use servicestack_events::{ClientBuilder, ClientOptions, Credentials};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::invalid_argument;
use crate::hooks::Hooks;
use crate::js;

/// The options that are JavaScript values (functions, receivers, the resolver): never part of
/// the core's data options.
const JS_ONLY: [&str; 8] = [
    "handlers",
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
    resolve_stream_url: Option<Function>,
    get_credentials: Option<Function>,
}

/// The core's options from the data properties of `options` (`undefined`, `null` and the
/// JavaScript-only options left out). A function anywhere else is refused: `JSON.stringify`
/// would drop it without a word.
fn core_options(options: &JsValue) -> Result<ClientOptions, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(ClientOptions::default());
    }
    let data = Object::new();
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
        js::put(&data, &name, value);
    }
    // Read straight from the object (no JSON text, so no JSON parser in the module).
    serde_wasm_bindgen::from_value(data.into())
        .map_err(|e| invalid_argument(&format!("options: {e}")))
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
