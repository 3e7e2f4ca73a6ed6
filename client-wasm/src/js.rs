//! Small helpers for reading and writing JavaScript values that never panic and never let a
//! JavaScript exception unwind through Rust frames: every call that can throw is imported with
//! `catch` and returns a `Result`.

use std::future::Future;

use futures_util::FutureExt;
use js_sys::{Array, Function, JsString, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `Object.getOwnPropertyNames(value)` (throws for `null`, revoked proxies, ...).
    #[wasm_bindgen(js_namespace = Object, js_name = getOwnPropertyNames, catch)]
    fn own_property_names(value: &JsValue) -> Result<Array, JsValue>;

    /// `Object.getPrototypeOf(value)`.
    #[wasm_bindgen(js_namespace = Object, js_name = getPrototypeOf, catch)]
    fn prototype_of(value: &JsValue) -> Result<JsValue, JsValue>;

    /// `JSON.parse(text)`.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &str) -> Result<JsValue, JsValue>;

    /// `JSON.stringify(value)`; `undefined` for values JSON cannot represent.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    fn json_stringify(value: &JsValue) -> Result<JsValue, JsValue>;

    /// `String(value)`, which can throw for objects with a throwing `toString`.
    #[wasm_bindgen(js_name = String, catch)]
    fn to_js_string(value: &JsValue) -> Result<JsString, JsValue>;

    /// The global object (`globalThis`).
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL_THIS: JsValue;
}

/// `target[key]`, or `undefined` when `target` is not an object or the getter throws.
pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    if !is_object_like(target) {
        return JsValue::UNDEFINED;
    }
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[key] = value`; an error when the assignment throws or is refused.
pub(crate) fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<(), JsValue> {
    if !is_object_like(target) {
        return Err(type_error(&format!(
            "cannot set '{key}' on a primitive value"
        )));
    }
    match Reflect::set(target, &JsValue::from_str(key), value)? {
        true => Ok(()),
        false => Err(type_error(&format!("property '{key}' is read-only"))),
    }
}

/// `key in target`.
pub(crate) fn has(target: &JsValue, key: &str) -> bool {
    is_object_like(target) && Reflect::has(target, &JsValue::from_str(key)).unwrap_or(false)
}

/// Sets a property on an object this crate just created (which cannot refuse it).
pub(crate) fn put(target: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(target, &JsValue::from_str(key), &value.into());
}

/// A string, or `null` for `None`.
pub(crate) fn string_or_null(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// Whether `value` is an object or a function (something that can carry properties).
pub(crate) fn is_object_like(value: &JsValue) -> bool {
    value.is_object() || value.is_function()
}

/// `value` as a function, when it is one.
pub(crate) fn as_function(value: &JsValue) -> Option<Function> {
    value.dyn_ref::<Function>().cloned()
}

/// Calls `function` with `this` and `args`; the thrown value on failure.
pub(crate) fn call(
    function: &Function,
    this: &JsValue,
    args: &[JsValue],
) -> Result<JsValue, JsValue> {
    let array = Array::new();
    for arg in args {
        array.push(arg);
    }
    function.apply(this, &array)
}

/// `new constructor()`.
pub(crate) fn construct(constructor: &Function) -> Result<JsValue, JsValue> {
    Reflect::construct(constructor, &Array::new())
}

/// The own property names of `value` (empty when it has none or they cannot be listed).
pub(crate) fn own_names(value: &JsValue) -> Vec<String> {
    own_property_names(value)
        .map(|names| names.iter().filter_map(|name| name.as_string()).collect())
        .unwrap_or_default()
}

/// The prototype of `value`, or `None` at the end of the chain.
pub(crate) fn prototype(value: &JsValue) -> Option<JsValue> {
    prototype_of(value).ok().filter(is_object_like)
}

/// `JSON.parse(text)`, or `null` when `text` is empty or not JSON.
pub(crate) fn parse_json(text: &str) -> JsValue {
    if text.trim().is_empty() {
        return JsValue::NULL;
    }
    json_parse(text).unwrap_or(JsValue::NULL)
}

/// A service's response body through `JSON.parse` (`null` when empty); a body that is not JSON
/// is a deserialize error, as on the native client.
pub(crate) fn parse_response(text: &str) -> Result<JsValue, servicestack_events::Error> {
    if text.trim().is_empty() {
        return Ok(JsValue::NULL);
    }
    json_parse(text).map_err(|_| servicestack_events::Error::Deserialize {
        type_name: "JSON response".into(),
        message: "the response is not JSON".into(),
    })
}

/// `JSON.stringify(value)`; a `TypeError` for values that have no JSON form (functions,
/// `undefined`, cycles, BigInts).
pub(crate) fn stringify(value: &JsValue) -> Result<String, JsValue> {
    json_stringify(value)?
        .as_string()
        .ok_or_else(|| type_error("the value cannot be serialized as JSON"))
}

/// A readable description of any thrown value: an `Error`'s message, else `String(value)`.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    if let Some(text) = value.as_string() {
        return text;
    }
    to_js_string(value)
        .map(String::from)
        .unwrap_or_else(|_| "(a value that cannot be shown)".to_owned())
}

/// A new `TypeError`.
pub(crate) fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

/// The global object.
pub(crate) fn global() -> JsValue {
    GLOBAL_THIS.with(JsValue::clone)
}

/// Writes `message` and `value` to `console.error` (the last resort for errors nobody handles).
pub(crate) fn console_error(message: &str, value: &JsValue) {
    web_sys::console::error_2(&JsValue::from_str(message), value);
}

/// A Promise settled by `future`. The future is boxed so that every caller shares one
/// instantiation of the Promise glue (a smaller module).
pub(crate) fn promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(future.boxed_local())
}
