//! A lifecycle handler written in JavaScript (`handlers.onJoin`, `registerHandler("onConnect",
//! f)`) as one of the core's lifecycle listeners: the core keeps them, adds and removes them at
//! run time and calls them in order; this only converts the event and calls the function.

use std::rc::Rc;

use js_sys::Function;
use servicestack_events::{
    Error, LifecycleListener, ServerEventCommand, ServerEventConnect, ServerEventMessage,
};
use wasm_bindgen::JsValue;

use crate::hooks::Hooks;
use crate::{convert, dom};

/// The handler names that are core lifecycle events.
const CORE_EVENTS: [&str; 7] = [
    "onConnect",
    "onJoin",
    "onLeave",
    "onUpdate",
    "onCommand",
    "onMessage",
    "onHeartbeat",
];

/// One JavaScript function for one lifecycle event.
pub(crate) struct JsLifecycle {
    event: &'static str,
    function: Function,
    hooks: Rc<Hooks>,
}

impl JsLifecycle {
    /// The listener for handler `name`, when `name` is a core lifecycle event.
    pub(crate) fn new(name: &str, function: Function, hooks: Rc<Hooks>) -> Option<Self> {
        let event = CORE_EVENTS.into_iter().find(|event| *event == name)?;
        Some(JsLifecycle {
            event,
            function,
            hooks,
        })
    }

    /// Whether `name` is a core lifecycle event.
    pub(crate) fn is_core_event(name: &str) -> bool {
        CORE_EVENTS.contains(&name)
    }

    fn command(&self, event: &str, command: &ServerEventCommand) -> Result<(), Error> {
        if self.event == event {
            let argument: JsValue = convert::command(command).into();
            self.hooks
                .call(&self.function, &JsValue::UNDEFINED, &[argument], event);
        }
        Ok(())
    }
}

impl LifecycleListener for JsLifecycle {
    fn on_connect(&self, info: &ServerEventConnect) -> Result<(), Error> {
        if self.event == "onConnect" {
            let info: JsValue = convert::connect(info).into();
            self.hooks.call(
                &self.function,
                &JsValue::UNDEFINED,
                &[info.clone(), info],
                "onConnect",
            );
        }
        Ok(())
    }

    fn on_message(&self, message: &ServerEventMessage) -> Result<(), Error> {
        if self.event == "onMessage" {
            let request: JsValue = convert::message(message).into();
            let this = dom::element_for(message.css_selector());
            self.hooks
                .call(&self.function, &this, &[request], "onMessage");
        }
        Ok(())
    }

    fn on_command(&self, command: &ServerEventCommand) -> Result<(), Error> {
        self.command("onCommand", command)
    }

    fn on_join(&self, command: &ServerEventCommand) -> Result<(), Error> {
        self.command("onJoin", command)
    }

    fn on_leave(&self, command: &ServerEventCommand) -> Result<(), Error> {
        self.command("onLeave", command)
    }

    fn on_update(&self, command: &ServerEventCommand) -> Result<(), Error> {
        self.command("onUpdate", command)
    }

    fn on_heartbeat(&self, command: &ServerEventCommand) -> Result<(), Error> {
        self.command("onHeartbeat", command)
    }
}
