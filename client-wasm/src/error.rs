//! The error boundary: every [`servicestack_events::Error`] becomes a JavaScript `Error` whose
//! `name` says what went wrong (`"HttpError"`, `"UnauthorizedError"`, ...), with a `kind` (the
//! same in camelCase, stable for code to switch on), a `status` (the HTTP status, or `null`) and
//! a `retryAfterMs` (the server's `Retry-After`, or `null`).

use js_sys::Object;
use servicestack_events::Error;
use wasm_bindgen::{JsCast, JsValue};

use crate::js;

/// `"HttpError"` for `"http"`.
fn name_for(kind: &str) -> String {
    let mut chars = kind.chars();
    let mut name: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .collect();
    name.extend(chars);
    name.push_str("Error");
    name
}

/// The JavaScript `Error` for a client error.
pub(crate) fn to_js(error: &Error) -> JsValue {
    let kind = error.kind();
    let js_error = js_sys::Error::new(&error.to_string());
    js_error.set_name(&name_for(kind));
    let object: &Object = js_error.unchecked_ref();
    js::put(object, "kind", kind);
    js::put(
        object,
        "status",
        error
            .status()
            .map_or(JsValue::NULL, |s| JsValue::from(u32::from(s))),
    );
    js::put(
        object,
        "retryAfterMs",
        error.retry_after().map_or(JsValue::NULL, |after| {
            JsValue::from(after.as_millis() as f64)
        }),
    );
    js_error.into()
}
