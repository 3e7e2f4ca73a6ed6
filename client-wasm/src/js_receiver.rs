//! Receivers written in JavaScript: a plain object (or an instance of a class, or `document`)
//! registered for an op handles the messages `{op}.{target}`.
//!
//! For each message the instance is resolved (a class goes through the resolver), its `client`
//! and `request` properties are set, and then:
//! 1. the member named `target` (exactly, else case-insensitively with `-` and `_` ignored, so
//!    `background-image` reaches `backgroundImage`) is called with `(body, request)` when it is a
//!    method, or assigned the body otherwise (plain properties and setters alike: `document.title`);
//! 2. with no such member, `noSuchMethod(target, request)` is called when the instance has one;
//! 3. otherwise the body is set as a new property named `target` (as ss-utils does:
//!    `test.QuxTarget` sets `receiver.QuxTarget`).
//!
//! Unlike the TypeScript client, a message reaches a receiver once (the TypeScript client calls
//! the global receiver twice for `cmd` messages without a handler) and `noSuchMethod` runs only
//! when no member matched.

use std::rc::Rc;

use js_sys::Object;
use servicestack_events::{Error, MessageReceiver, ReceiverContext};
use wasm_bindgen::JsValue;

use crate::client::{self, Shared};
use crate::{convert, error, js, resolver};

/// Members never reached by a selector.
const RESERVED: [&str; 4] = ["constructor", "client", "request", "noSuchMethod"];

/// A receiver object or class registered for one op.
pub(crate) struct JsReceiver {
    receiver: JsValue,
    shared: Rc<Shared>,
}

impl JsReceiver {
    pub(crate) fn new(receiver: JsValue, shared: Rc<Shared>) -> Self {
        JsReceiver { receiver, shared }
    }
}

impl MessageReceiver for JsReceiver {
    fn receive(&self, context: &ReceiverContext<'_>) -> Result<(), Error> {
        let request: JsValue = convert::message(context.message).into();
        let body = js::get(&request, "body");
        let target = context.message.target().unwrap_or_default();
        let client = client::handle(context.client, &self.shared);
        let resolver = self.shared.resolver();
        let outcome = resolver::resolve(&self.receiver, &resolver)
            .and_then(|instance| invoke(&instance, target, &body, &request, &client));
        if let Err(thrown) = outcome {
            let what = context.message.selector().unwrap_or("receiver");
            self.shared
                .hooks
                .report_thrown(&error::callback_failed(what, &thrown));
        }
        Ok(())
    }
}

/// Lower case, without `-` and `_`: how a target is compared with member names.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn invoke(
    instance: &JsValue,
    target: &str,
    body: &JsValue,
    request: &JsValue,
    client: &JsValue,
) -> Result<(), JsValue> {
    // As the TypeScript client does; objects that refuse new properties are still usable.
    let _ = js::set(instance, "client", client);
    let _ = js::set(instance, "request", request);
    if let Some(name) = member_name(instance, target) {
        let value = js::get(instance, &name);
        return match js::as_function(&value) {
            Some(method) => js::call(&method, instance, &[body.clone(), request.clone()]).map(drop),
            None => js::set(instance, &name, body),
        };
    }
    if let Some(fallback) = js::as_function(&js::get(instance, "noSuchMethod")) {
        js::call(
            &fallback,
            instance,
            &[JsValue::from_str(target), request.clone()],
        )?;
    } else if !target.is_empty() && !RESERVED.contains(&target) {
        // As ss-utils does: `receiver[target] = body` for a member it does not have.
        js::set(instance, target, body)?;
    }
    Ok(())
}

/// The member of `instance` (own or inherited, `Object.prototype` excluded) that `target`
/// names: an exact match first, then a case-insensitive one.
fn member_name(instance: &JsValue, target: &str) -> Option<String> {
    if target.is_empty() || RESERVED.contains(&target) {
        return None;
    }
    let object_prototype = js::prototype(&Object::new().into());
    let mut names = Vec::new();
    let mut current = Some(instance.clone());
    while let Some(object) = current {
        if object_prototype
            .as_ref()
            .is_some_and(|proto| Object::is(proto, &object))
        {
            break;
        }
        names.extend(js::own_names(&object));
        current = js::prototype(&object);
    }
    let usable = |name: &&String| !RESERVED.contains(&name.as_str());
    if let Some(exact) = names.iter().filter(usable).find(|name| *name == target) {
        return Some(exact.clone());
    }
    let wanted = key(target);
    names
        .iter()
        .filter(usable)
        .find(|name| key(name) == wanted)
        .cloned()
}
