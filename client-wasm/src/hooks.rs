//! The JavaScript callbacks of one client and the one place they are called from.
//!
//! Every call into user code goes through [`Hooks::call`]: a thrown exception (or a rejected
//! promise) never unwinds into the client; it goes to `onException` as a `HandlerFailedError`
//! (or to `console.error` when there is no `onException`), and the stream carries on. No `RefCell` borrow is held while user code runs, so callbacks may freely
//! call back into the client (register handlers, stop it, ...).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use servicestack_events::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{error, js};

/// The callbacks of one client that are not core lifecycle events (those are the core's
/// lifecycle listeners: `js_lifecycle`).
pub(crate) struct Hooks {
    /// `handlers.onStop` (changeable at run time).
    on_stop: RefCell<Option<Function>>,
    /// `handlers.onException` (changeable at run time): thrown values, after `options.onException`.
    exception_handler: RefCell<Option<Function>>,
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
            on_stop: RefCell::default(),
            exception_handler: RefCell::default(),
            on_exception,
            on_reconnect,
            on_state_change,
        }
    }

    /// Sets (or with `None` removes) `onStop` or `onException`; whether `name` is one of them.
    pub(crate) fn set_handler(&self, name: &str, handler: Option<Function>) -> bool {
        let slot = match name {
            "onStop" => &self.on_stop,
            "onException" => &self.exception_handler,
            _ => return false,
        };
        *slot.borrow_mut() = handler;
        true
    }

    /// Calls `onStop`, if it is set.
    pub(crate) fn stopped(self: &Rc<Self>) {
        let handler = self.on_stop.borrow().clone();
        if let Some(handler) = handler {
            self.call(&handler, &JsValue::UNDEFINED, &[], "onStop");
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
            .or_else(|| self.exception_handler.borrow().clone());
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
