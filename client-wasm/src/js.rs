//! Small helpers for JavaScript values that never panic and never let a JavaScript exception
//! unwind through Rust frames: every call that can throw is imported with `catch`.

use std::future::Future;

use futures_util::FutureExt;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse(text)`.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &str) -> Result<JsValue, JsValue>;
}

/// Sets a property on an object this crate just created (which cannot refuse it).
pub(crate) fn put(target: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(target, &JsValue::from_str(key), &value.into());
}

/// A string, or `null` for `None`.
pub(crate) fn string_or_null(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// An array of `values`.
pub(crate) fn array<const N: usize>(values: [JsValue; N]) -> Array {
    values.iter().collect()
}

/// Calls `function(a, b)`; a throw is ignored (the package's own callback catches everything).
pub(crate) fn call2(function: &Function, a: &JsValue, b: &JsValue) -> JsValue {
    function
        .call2(&JsValue::UNDEFINED, a, b)
        .unwrap_or(JsValue::UNDEFINED)
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

/// A Promise settled by `future`. The future is boxed so that every caller shares one
/// instantiation of the Promise glue (a smaller module).
pub(crate) fn promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(future.boxed_local())
}
