//! Resolvers turn a receiver given as a class into the instance that handles a message, as
//! `@servicestack/client`'s `IResolver` does: `NewInstanceResolver` (the default) makes a new
//! instance per message, `SingletonInstanceResolver` reuses one per class (kept in the class's
//! static `instance` property, as the TypeScript client keeps it). Any object with a
//! `tryResolve(Class)` method can be given as the `resolver` option, for example to inject
//! dependencies.

use js_sys::Function;
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

    /// `new Class()`.
    #[wasm_bindgen(js_name = tryResolve)]
    pub fn try_resolve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "new () => any")] constructor: &Function,
    ) -> Result<JsValue, JsValue> {
        js::construct(constructor)
    }
}

/// Reuses one instance per receiver class, kept in the class's static `instance` property.
#[wasm_bindgen]
#[derive(Default)]
pub struct SingletonInstanceResolver;

#[wasm_bindgen]
impl SingletonInstanceResolver {
    /// A new resolver.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SingletonInstanceResolver {
        SingletonInstanceResolver
    }

    /// `Class.instance`, created with `new Class()` the first time.
    #[wasm_bindgen(js_name = tryResolve)]
    pub fn try_resolve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "new () => any")] constructor: &Function,
    ) -> Result<JsValue, JsValue> {
        let existing = js::get(constructor, "instance");
        if js::is_object_like(&existing) {
            return Ok(existing);
        }
        let instance = js::construct(constructor)?;
        js::set(constructor, "instance", &instance)?;
        Ok(instance)
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
        None => js::construct(&class)?,
    };
    if js::is_object_like(&instance) {
        Ok(instance)
    } else {
        Err(error::invalid_argument(
            "the resolver returned no receiver instance",
        ))
    }
}
