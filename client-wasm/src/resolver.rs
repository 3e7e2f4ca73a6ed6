//! Resolvers turn a receiver given as a class into the instance that handles a message, as
//! `@servicestack/client`'s `IResolver` does. The policies are the core's
//! (`servicestack_events::Resolver`); here they only get a class's constructor as the "create an
//! instance" callback: `NewInstanceResolver` (the default) makes a new instance per message,
//! `SingletonInstanceResolver` one per class, shared by every receiver registered with that class
//! while the resolver is in use. Any object with a `tryResolve(Class)` method can be given as the
//! `resolver` option instead, for example to inject dependencies.

use std::cell::RefCell;

use js_sys::Function;
use servicestack_events::Resolver;
use wasm_bindgen::prelude::*;

use crate::{error, js};

/// Makes a new instance of a receiver class for every message (the default).
#[wasm_bindgen]
#[derive(Default)]
pub struct NewInstanceResolver;

#[wasm_bindgen]
impl NewInstanceResolver {
    /// A new resolver.
    #[wasm_bindgen(constructor)]
    pub fn new() -> NewInstanceResolver {
        NewInstanceResolver
    }

    /// `new Class()`, as the core's new-instance resolver asks for it.
    #[wasm_bindgen(js_name = tryResolve)]
    pub fn try_resolve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "new () => any")] constructor: &Function,
    ) -> Result<JsValue, JsValue> {
        Resolver::new_instance().try_resolve(&|| js::construct(constructor))
    }
}

/// Reuses one instance per receiver class: a core singleton for each class it has seen.
#[wasm_bindgen]
#[derive(Default)]
pub struct SingletonInstanceResolver {
    /// `(class, its singleton)`; classes are compared with `===`.
    per_class: RefCell<Vec<(Function, Resolver<JsValue>)>>,
}

#[wasm_bindgen]
impl SingletonInstanceResolver {
    /// A new resolver.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SingletonInstanceResolver {
        SingletonInstanceResolver::default()
    }

    /// The class's one instance, created with `new Class()` the first time (a constructor that
    /// throws leaves it unset, so the next message tries again).
    #[wasm_bindgen(js_name = tryResolve)]
    pub fn try_resolve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "new () => any")] constructor: &Function,
    ) -> Result<JsValue, JsValue> {
        let singleton = self.singleton_of(constructor);
        singleton.try_resolve(&|| js::construct(constructor))
    }

    fn singleton_of(&self, class: &Function) -> Resolver<JsValue> {
        let mut per_class = self.per_class.borrow_mut();
        if let Some((_, singleton)) = per_class.iter().find(|(known, _)| known == class) {
            return singleton.clone();
        }
        let singleton = Resolver::singleton();
        per_class.push((class.clone(), singleton.clone()));
        singleton
    }
}

/// The instance to use for `receiver`: itself when it is an object, else what `resolver`
/// (an object with `tryResolve`, or `undefined` for a new instance) makes of the class.
pub(crate) fn resolve(receiver: &JsValue, resolver: &JsValue) -> Result<JsValue, JsValue> {
    let Some(class) = js::as_function(receiver) else {
        return Ok(receiver.clone());
    };
    let instance = match js::as_function(&js::get(resolver, "tryResolve")) {
        Some(try_resolve) => js::call(&try_resolve, resolver, &[class.into()])?,
        None => NewInstanceResolver.try_resolve(&class)?,
    };
    if js::is_object_like(&instance) {
        Ok(instance)
    } else {
        Err(error::invalid_argument(
            "the resolver returned no receiver instance",
        ))
    }
}
