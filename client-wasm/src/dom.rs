//! What the client does in a page (and skips where there is no `window`, as in Node or a
//! worker), as ServiceStack's ss-utils does: `css.*` messages style elements, `trigger.*`
//! messages raise DOM events, handlers run with `this` bound to the element the `$css` part
//! selects (`document.body` without one), and a `pagehide` listener unregisters the
//! subscription with `navigator.sendBeacon` when the page goes away.

use servicestack_events::{ServerEventMessage, ServerEventsClient as CoreClient};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Event, EventTarget, HtmlElement};

use crate::hooks::Hooks;
use crate::js;

fn document() -> Option<Document> {
    web_sys::window().and_then(|window| window.document())
}

/// A handler's `this`: the first element matching `css_selector`, else (no selector, no match,
/// or an invalid selector) `document.body`, as in ss-utils; `undefined` where there is no page.
pub(crate) fn element_for(css_selector: Option<&str>) -> JsValue {
    let Some(document) = document() else {
        return JsValue::UNDEFINED;
    };
    let selected = css_selector
        .filter(|s| !s.is_empty())
        .and_then(|selector| document.query_selector(selector).ok().flatten());
    match selected {
        Some(element) => element.into(),
        None => document.body().map_or(JsValue::UNDEFINED, JsValue::from),
    }
}

/// Raises a `trigger.{event}[$selector]` message as a DOM `CustomEvent` named `{event}` (it
/// bubbles, as jQuery's `trigger` does) on every element the selector matches, or on
/// `document` without one; `detail` is `{ message: body, event: request }`, the two arguments
/// ss-utils passes. An invalid selector is reported; a listener's exception is the browser's
/// to report, as for any DOM event.
pub(crate) fn raise_trigger(
    message: &ServerEventMessage,
    body: &JsValue,
    request: &JsValue,
    hooks: &Hooks,
) {
    let (Some(name), Some(document)) = (message.target().filter(|t| !t.is_empty()), document())
    else {
        return;
    };
    let Some(constructor) = js::as_function(&js::get(&js::global(), "CustomEvent")) else {
        return;
    };
    let detail = js_sys::Object::new();
    js::put(&detail, "message", body.clone());
    js::put(&detail, "event", request.clone());
    let init = js_sys::Object::new();
    js::put(&init, "detail", detail);
    js::put(&init, "bubbles", true);
    let arguments = js_sys::Array::of2(&JsValue::from_str(name), &init);
    // A new event per target: an event object is dispatched once.
    let raise = |target: &EventTarget| match js_sys::Reflect::construct(&constructor, &arguments) {
        Ok(event) => drop(target.dispatch_event(event.unchecked_ref::<Event>())),
        Err(thrown) => hooks.report_thrown(&thrown),
    };
    match message.css_selector().filter(|s| !s.is_empty()) {
        Some(selector) => select(&document, selector, hooks)
            .iter()
            .for_each(|element| raise(element)),
        None => raise(&document),
    }
}

/// The elements matching `selector`; none (and the error reported) for an invalid selector.
fn select(document: &Document, selector: &str, hooks: &Hooks) -> Vec<Element> {
    match document.query_selector_all(selector) {
        Ok(list) => (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|node| node.dyn_into::<Element>().ok())
            .collect(),
        Err(thrown) => {
            hooks.report_thrown(&thrown);
            Vec::new()
        }
    }
}

/// Applies a `css.{property}[$selector] value` message, as the TypeScript client does: the
/// property of every element the selector matches (the `body` without one) is set to the
/// message's body. An invalid selector is reported.
pub(crate) fn apply_css(message: &ServerEventMessage, value: &JsValue, hooks: &Hooks) {
    if message.op() != Some("css") {
        return;
    }
    let (Some(property), Some(document)) = (message.target(), document()) else {
        return;
    };
    let elements: Vec<Element> = match message.css_selector().filter(|s| !s.is_empty()) {
        Some(selector) => select(&document, selector, hooks),
        None => document.body().map(Element::from).into_iter().collect(),
    };
    for element in elements {
        if let Some(element) = element.dyn_ref::<HtmlElement>() {
            // `style[name] = value` accepts both `background-image` and `backgroundImage`.
            if let Err(thrown) = js::set(&element.style().into(), property, value) {
                hooks.report_thrown(&thrown);
            }
        }
    }
}

/// A `pagehide` listener that unregisters the client while it is installed.
pub(crate) struct UnloadGuard {
    window: web_sys::Window,
    listener: Closure<dyn FnMut(web_sys::Event)>,
}

impl UnloadGuard {
    /// Installs the listener when there is a page; `None` otherwise.
    pub(crate) fn install(client: &CoreClient) -> Option<UnloadGuard> {
        let window = web_sys::window()?;
        let client = client.clone();
        let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |_event: web_sys::Event| {
            let url = client
                .connection_info()
                .and_then(|info| info.unregister_url);
            // A beacon survives the page; the stop below may not get its request out.
            if let (Some(url), Some(window)) = (url, web_sys::window()) {
                let _ = window.navigator().send_beacon(&url);
            }
            wasm_bindgen_futures::spawn_local(client.stop());
        });
        window
            .add_event_listener_with_callback("pagehide", listener.as_ref().unchecked_ref())
            .ok()?;
        Some(UnloadGuard { window, listener })
    }
}

impl Drop for UnloadGuard {
    fn drop(&mut self) {
        let _ = self.window.remove_event_listener_with_callback(
            "pagehide",
            self.listener.as_ref().unchecked_ref(),
        );
    }
}
