//! Resolvers: how a receiver gets the instance that handles a message.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::rt::{MaybeSend, MaybeSync};

/// The application's factory.
trait FactoryFn<I>: Fn() -> I + MaybeSend + MaybeSync {}
impl<I, F: Fn() -> I + MaybeSend + MaybeSync> FactoryFn<I> for F {}

enum Policy<I> {
    NewInstance,
    /// The instance, once the first message created it; clones of the resolver share it.
    Singleton(Arc<Mutex<Option<I>>>),
    Factory(Arc<dyn FactoryFn<I>>),
}

/// How a receiver gets the instance that handles a message, as ServiceStack's `IResolver`
/// does. The receiver's registration supplies a "create an instance" callback (a
/// constructor, in a binding's language); the resolver decides when to call it:
///
/// - [`Resolver::new_instance`] (the default): a new instance for every message.
/// - [`Resolver::singleton`]: one instance, created at the first message and shared by every
///   message and by every receiver registered with a clone of the same resolver.
/// - [`Resolver::factory`]: the application's own function (an IoC container, a pool), asked
///   for every message instead of the create callback.
///
/// A create callback may fail (a constructor that throws): [`Resolver::try_resolve`] passes the
/// error on, and a singleton stays unset until a creation succeeds.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use servicestack_events::Resolver;
///
/// let shared = Resolver::singleton();
/// let created = Mutex::new(0);
/// let create = || { *created.lock().unwrap() += 1; Arc::new("instance") };
/// let first = shared.resolve(&create);
/// let again = shared.clone().resolve(&create);
/// assert!(Arc::ptr_eq(&first, &again));
/// assert_eq!(*created.lock().unwrap(), 1);
/// ```
///
/// `I` is the instance handle: `Arc<Mutex<R>>` for [`Receiver<R>`](crate::Receiver), a foreign
/// object in the bindings.
pub struct Resolver<I> {
    policy: Policy<I>,
}

impl<I: Clone> Resolver<I> {
    /// A new instance for every message (the default).
    pub fn new_instance() -> Self {
        Resolver {
            policy: Policy::NewInstance,
        }
    }

    /// One instance, created at the first message, for every message of every receiver
    /// registered with this resolver or a clone of it.
    pub fn singleton() -> Self {
        Resolver {
            policy: Policy::Singleton(Arc::default()),
        }
    }

    /// Asks `factory` for the instance of every message, instead of the receiver's create
    /// callback.
    pub fn factory<F>(factory: F) -> Self
    where
        F: Fn() -> I + MaybeSend + MaybeSync + 'static,
    {
        Resolver {
            policy: Policy::Factory(Arc::new(factory)),
        }
    }

    /// The instance for one message; `create` makes a new one.
    pub fn resolve(&self, create: &dyn Fn() -> I) -> I {
        match self.try_resolve::<std::convert::Infallible>(&|| Ok(create())) {
            Ok(instance) => instance,
            Err(never) => match never {},
        }
    }

    /// [`resolve`](Self::resolve) with a create callback that may fail; its error is returned
    /// and nothing is kept.
    pub fn try_resolve<E>(&self, create: &dyn Fn() -> Result<I, E>) -> Result<I, E> {
        match &self.policy {
            Policy::NewInstance => create(),
            Policy::Singleton(cell) => {
                // Held while creating, so two receivers sharing the singleton cannot both
                // create it. `create` never reaches back into this resolver.
                let mut instance = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(instance) = instance.as_ref() {
                    return Ok(instance.clone());
                }
                let created = create()?;
                *instance = Some(created.clone());
                Ok(created)
            }
            Policy::Factory(factory) => Ok(factory()),
        }
    }
}

impl<I: Clone> Default for Resolver<I> {
    fn default() -> Self {
        Self::new_instance()
    }
}

impl<I> Clone for Resolver<I> {
    fn clone(&self) -> Self {
        Resolver {
            policy: match &self.policy {
                Policy::NewInstance => Policy::NewInstance,
                Policy::Singleton(cell) => Policy::Singleton(cell.clone()),
                Policy::Factory(factory) => Policy::Factory(factory.clone()),
            },
        }
    }
}

impl<I> fmt::Debug for Resolver<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.policy {
            Policy::NewInstance => "Resolver::NewInstance",
            Policy::Singleton(_) => "Resolver::Singleton",
            Policy::Factory(_) => "Resolver::Factory",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A create callback that numbers its instances.
    fn numbering() -> (Arc<AtomicUsize>, impl Fn() -> Arc<usize>) {
        let created = Arc::new(AtomicUsize::new(0));
        let counter = created.clone();
        (created, move || {
            Arc::new(counter.fetch_add(1, Ordering::SeqCst) + 1)
        })
    }

    #[test]
    fn new_instance_creates_one_per_message() {
        let (created, create) = numbering();
        let resolver = Resolver::new_instance();
        let instances: Vec<usize> = (0..5).map(|_| *resolver.resolve(&create)).collect();
        assert_eq!(instances, [1, 2, 3, 4, 5]);
        assert_eq!(created.load(Ordering::SeqCst), 5);
        assert_eq!(*Resolver::default().resolve(&create), 6, "the default");
    }

    #[test]
    fn a_singleton_creates_once_for_every_message_and_every_receiver_sharing_it() {
        let (created, create) = numbering();
        let (other_created, other_create) = numbering();
        let singleton = Resolver::singleton();
        let global = singleton.clone();
        let css = singleton.clone();
        assert_eq!(
            created.load(Ordering::SeqCst),
            0,
            "created at the first message"
        );
        let first = global.resolve(&create);
        for _ in 0..3 {
            assert!(Arc::ptr_eq(&first, &global.resolve(&create)));
            assert!(Arc::ptr_eq(&first, &css.resolve(&other_create)));
        }
        assert_eq!(created.load(Ordering::SeqCst), 1);
        assert_eq!(other_created.load(Ordering::SeqCst), 0);
        let separate = Resolver::singleton();
        assert_eq!(
            *separate.resolve(&create),
            2,
            "another singleton has its own"
        );
    }

    #[test]
    fn a_factory_is_asked_for_every_message_instead_of_the_create_callback() {
        let (created, create) = numbering();
        // An IoC container numbering its own instances from 101.
        let (asked, container) = numbering();
        let resolver = Resolver::factory(move || Arc::new(*container() + 100));
        let instances: Vec<usize> = (0..3).map(|_| *resolver.resolve(&create)).collect();
        assert_eq!(instances, [101, 102, 103]);
        assert_eq!(asked.load(Ordering::SeqCst), 3);
        assert_eq!(created.load(Ordering::SeqCst), 0);
        assert_eq!(format!("{resolver:?}"), "Resolver::Factory");
    }

    #[test]
    fn a_failed_creation_is_returned_and_a_singleton_tries_again_next_time() {
        let attempts = AtomicUsize::new(0);
        let flaky = || match attempts.fetch_add(1, Ordering::SeqCst) {
            0 => Err("the constructor threw"),
            n => Ok(Arc::new(n)),
        };
        let singleton = Resolver::singleton();
        assert_eq!(singleton.try_resolve(&flaky), Err("the constructor threw"));
        assert_eq!(singleton.try_resolve(&flaky).map(|i| *i), Ok(1));
        assert_eq!(singleton.try_resolve(&flaky).map(|i| *i), Ok(1), "kept");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }
}
