//! The JavaScript callbacks of one client and the one place they are called from.
//!
//! Every call into user code goes through [`Hooks::call`]: a thrown exception (or a rejected
//! promise) never unwinds into the client; it goes to `onException` as a `HandlerFailedError`
//! (or to `console.error` when there is no `onException`), and the stream carries on. No `RefCell` borrow is held while user code runs, so callbacks may freely
//! call back into the client (register handlers, stop it, ...).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Function, Promise};
use servicestack_events::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{error, js};

/// Handler names with a meaning of their own; any other name handles `cmd.{name}` messages.
pub(crate) const LIFECYCLE_HANDLERS: [&str; 9] = [
    "onConnect",
    "onJoin",
    "onLeave",
    "onUpdate",
    "onCommand",
    "onMessage",
    "onHeartbeat",
    "onStop",
    "onException",
];

/// The callbacks of one client.
pub(crate) struct Hooks {
    /// `handlers.onConnect` and the other lifecycle handlers (changeable at run time).
    handlers: RefCell<HashMap<String, Function>>,
    /// `options.onException`.
    on_exception: Option<Function>,
    /// `options.onReconnect`.
    on_reconnect: Option<Function>,
    /// `options.onStateChange`.
    on_state_change: Option<Function>,
}

impl Hooks {
    pub(crate) fn new(
        on_exception: Option<Function>,
        on_reconnect: Option<Function>,
        on_state_change: Option<Function>,
    ) -> Self {
        Hooks {
            handlers: RefCell::default(),
            on_exception,
            on_reconnect,
            on_state_change,
        }
    }

    /// Sets (or with `None` removes) a lifecycle handler.
    pub(crate) fn set_handler(&self, name: &str, handler: Option<Function>) {
        let mut handlers = self.handlers.borrow_mut();
        match handler {
            Some(handler) => handlers.insert(name.to_owned(), handler),
            None => handlers.remove(name),
        };
    }

    /// The lifecycle handler `name`, if set (cloned, so no borrow outlives this call).
    pub(crate) fn handler(&self, name: &str) -> Option<Function> {
        self.handlers.borrow().get(name).cloned()
    }

    /// Calls lifecycle handler `name` with `args`, if it is set.
    pub(crate) fn call_handler(self: &Rc<Self>, name: &str, args: &[JsValue]) {
        if let Some(handler) = self.handler(name) {
            self.call(&handler, &JsValue::UNDEFINED, args, name);
        }
    }

    /// Calls `function` (for `what`: a selector or a callback name). A throw, or the rejection
    /// of a returned promise, is reported as a `HandlerFailedError` whose `cause` is the thrown
    /// value.
    pub(crate) fn call(
        self: &Rc<Self>,
        function: &Function,
        this: &JsValue,
        args: &[JsValue],
        what: &str,
    ) {
        match js::call(function, this, args) {
            Err(thrown) => self.report_thrown(&error::callback_failed(what, &thrown)),
            Ok(returned) => {
                if let Some(promise) = returned.dyn_ref::<Promise>() {
                    let hooks = self.clone();
                    let what = what.to_owned();
                    let settled = JsFuture::from(promise.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(thrown) = settled.await {
                            hooks.report_thrown(&error::callback_failed(&what, &thrown));
                        }
                    });
                }
            }
        }
    }

    /// Reports a value thrown by user code (or an `Error` built by the client).
    pub(crate) fn report_thrown(&self, thrown: &JsValue) {
        let handler = self
            .on_exception
            .clone()
            .or_else(|| self.handler("onException"));
        match handler {
            Some(handler) => {
                if let Err(again) =
                    js::call(&handler, &JsValue::UNDEFINED, std::slice::from_ref(thrown))
                {
                    js::console_error("ServerEventsClient: onException threw", &again);
                    js::console_error("ServerEventsClient: while reporting", thrown);
                }
            }
            None => js::console_error("ServerEventsClient:", thrown),
        }
    }

    /// Reports a client error as a JavaScript `Error`.
    pub(crate) fn report(&self, error: &Error) {
        self.report_thrown(&error::to_js(error));
    }

    /// Calls `onReconnect`.
    pub(crate) fn reconnected(self: &Rc<Self>, info: JsValue) {
        if let Some(handler) = &self.on_reconnect {
            self.call(handler, &JsValue::UNDEFINED, &[info], "onReconnect");
        }
    }

    /// Calls `onStateChange`.
    pub(crate) fn state_changed(self: &Rc<Self>, state: JsValue) {
        if let Some(handler) = &self.on_state_change {
            self.call(handler, &JsValue::UNDEFINED, &[state], "onStateChange");
        }
    }
}
