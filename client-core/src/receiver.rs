//! Receivers: objects whose methods are called by selector, like ServiceStack's
//! `ServerEventReceiver`, built from a registration table instead of runtime reflection.
//!
//! A message `{op}.{target}` goes to the receiver registered under `op` (`cmd` is the global
//! receiver). Its instance comes from the receiver's [`Resolver`]: a new one per message by
//! default, or a singleton shared with other receivers, or the application's own factory. The target is matched case-insensitively with every `-` removed, first against the
//! type names of the members' argument types (so `cmd.CustomType` reaches whichever member takes a
//! `CustomType`), then against member names; with no match, `no_such_method` runs.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use servicestack_events::Receiver;
//!
//! #[derive(serde::Deserialize)]
//! struct CustomType { id: i32, name: String }
//!
//! #[derive(Default)]
//! struct Recorder { seen: Vec<String> }
//!
//! let recorder = Arc::new(Mutex::new(Recorder::default()));
//! let receiver = Receiver::shared(recorder.clone())
//!     .method("FooMethod", |r: &mut Recorder, arg: CustomType, _| r.seen.push(format!("foo {} {}", arg.id, arg.name)))
//!     .setter("QuxSetter", |r: &mut Recorder, arg: CustomType, _| r.seen.push(format!("qux {}", arg.name)))
//!     .no_such_method(|r, target, _| r.seen.push(format!("missing {target}")));
//! // client.register_named_receiver("test", receiver);
//! # let _ = receiver;
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;

use crate::client::ServerEventsClient;
use crate::error::Error;
use crate::message::ServerEventMessage;
use crate::resolver::Resolver;
use crate::rt::{MaybeSend, MaybeSync};

/// What a receiver member is given besides its argument.
pub struct ReceiverContext<'a> {
    /// The client that received the message.
    pub client: &'a ServerEventsClient,
    /// The message being handled.
    pub message: &'a ServerEventMessage,
}

impl ReceiverContext<'_> {
    /// Whether the client asks for strict matching
    /// ([`ClientBuilder::strict_receiver_matching`](crate::ClientBuilder::strict_receiver_matching)):
    /// an argument type name matches a member only when the member's name matches too.
    pub fn strict_matching(&self) -> bool {
        self.client.strict_receivers()
    }
}

/// Anything that can handle the messages of one op. [`Receiver`] is the typed implementation;
/// bindings implement this for JavaScript objects and Kotlin or Swift listeners.
pub trait MessageReceiver: MaybeSend + MaybeSync + 'static {
    /// Handles one message whose op this receiver is registered for.
    fn receive(&self, context: &ReceiverContext<'_>) -> Result<(), Error>;
}

type Member<R> = Arc<dyn Fn(&mut R, &ReceiverContext<'_>) -> Result<(), Error> + Send + Sync>;
type Fallback<R> = Arc<dyn Fn(&mut R, &str, &ReceiverContext<'_>) + Send + Sync>;

/// An instance as the resolver hands it out.
type Instance<R> = Arc<Mutex<R>>;

struct Entry<R> {
    name: String,
    member: Member<R>,
}

/// A receiver of type `R` described by a table of members.
pub struct Receiver<R> {
    /// The "create an instance" callback; the resolver decides when it runs.
    create: Box<dyn Fn() -> Instance<R> + Send + Sync>,
    resolver: Resolver<Instance<R>>,
    by_type: HashMap<String, Entry<R>>,
    by_name: HashMap<String, Member<R>>,
    no_such_method: Option<Fallback<R>>,
    strict: bool,
}

/// The lookup key of a target or member name: lower case, without `-` and `_`.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `Foo` for `my_crate::module::Foo<Bar>`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl<R: Default + Send + 'static> Receiver<R> {
    /// A receiver whose instance is created with `R::default()` for every message.
    pub fn new() -> Self {
        Self::per_message(R::default)
    }
}

impl<R: Default + Send + 'static> Default for Receiver<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Send + 'static> Receiver<R> {
    /// A receiver whose instances `create` makes (the place to inject dependencies, as an IoC
    /// container would): one for every message, unless [`resolver`](Self::resolver) says
    /// otherwise.
    pub fn per_message(create: impl Fn() -> R + Send + Sync + 'static) -> Self {
        Self::with_create(Box::new(move || Arc::new(Mutex::new(create()))))
    }

    /// A receiver that reuses one instance for every message. Keep a clone of the `Arc` to look
    /// at the instance's state.
    pub fn shared(instance: Arc<Mutex<R>>) -> Self {
        let create = instance.clone();
        Self::with_create(Box::new(move || create.clone()))
            .resolver(Resolver::factory(move || instance.clone()))
    }

    /// Resolves the instance of every message with `resolver`: for example a
    /// [`Resolver::singleton`] whose clones are given to several receivers, so they share one
    /// instance.
    pub fn resolver(mut self, resolver: Resolver<Arc<Mutex<R>>>) -> Self {
        self.resolver = resolver;
        self
    }

    fn with_create(create: Box<dyn Fn() -> Instance<R> + Send + Sync>) -> Self {
        Receiver {
            create,
            resolver: Resolver::new_instance(),
            by_type: HashMap::new(),
            by_name: HashMap::new(),
            no_such_method: None,
            strict: false,
        }
    }

    /// Registers a member taking a JSON argument of type `T`. It is found by `name` and by the
    /// short name of `T`. An empty body reads as JSON `null` (so use `Option<T>` to accept one).
    pub fn method<T, F>(mut self, name: &str, member: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: Fn(&mut R, T, &ReceiverContext<'_>) + Send + Sync + 'static,
    {
        let member: Member<R> = Arc::new(move |instance, context| {
            let argument = context.message.parse_json::<T>()?;
            member(instance, argument, context);
            Ok(())
        });
        self.by_type.insert(
            key(short_type_name::<T>()),
            Entry {
                name: key(name),
                member: member.clone(),
            },
        );
        self.by_name.insert(key(name), member);
        self
    }

    /// Registers a property setter; the same as [`method`](Self::method), named for intent.
    pub fn setter<T, F>(self, name: &str, setter: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: Fn(&mut R, T, &ReceiverContext<'_>) + Send + Sync + 'static,
    {
        self.method(name, setter)
    }

    /// Registers a member without an argument; a message with a non-empty body is an error.
    pub fn action<F>(mut self, name: &str, member: F) -> Self
    where
        F: Fn(&mut R, &ReceiverContext<'_>) + Send + Sync + 'static,
    {
        let member: Member<R> = Arc::new(move |instance, context| {
            if !context.message.json().trim().is_empty() {
                return Err(Error::Deserialize {
                    type_name: "()".into(),
                    message: format!(
                        "{} takes no argument but the message has a body",
                        context.message.target().unwrap_or_default()
                    ),
                });
            }
            member(instance, context);
            Ok(())
        });
        self.by_name.insert(key(name), member);
        self
    }

    /// What to do with a target no member matches. It receives the original target text.
    pub fn no_such_method<F>(mut self, fallback: F) -> Self
    where
        F: Fn(&mut R, &str, &ReceiverContext<'_>) + Send + Sync + 'static,
    {
        self.no_such_method = Some(Arc::new(fallback));
        self
    }

    /// In strict mode a type-name match counts only when the member's name matches too
    /// (ServiceStack's `StrictMode`).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    fn find(&self, target: &str, strict: bool) -> Option<&Member<R>> {
        let wanted = key(target);
        let strict = self.strict || strict;
        self.by_type
            .get(&wanted)
            .filter(|entry| !strict || entry.name == wanted)
            .map(|entry| &entry.member)
            .or_else(|| self.by_name.get(&wanted))
    }

    fn with_instance(&self, action: impl FnOnce(&mut R)) {
        let instance = self.resolver.resolve(&self.create);
        let mut guard = instance
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut guard);
    }
}

impl<R: Send + 'static> MessageReceiver for Receiver<R> {
    fn receive(&self, context: &ReceiverContext<'_>) -> Result<(), Error> {
        let target = context.message.target().unwrap_or_default();
        let mut result = Ok(());
        match self.find(target, context.strict_matching()) {
            Some(member) => self.with_instance(|instance| result = member(instance, context)),
            None => match &self.no_such_method {
                Some(fallback) => {
                    self.with_instance(|instance| fallback(instance, target, context))
                }
                None => tracing::debug!(target, "no receiver member matches"),
            },
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq, Clone)]
    struct CustomType {
        id: i32,
        name: String,
    }

    #[test]
    fn keys_ignore_case_dashes_and_underscores() {
        assert_eq!(key("background-image"), key("BackgroundImage"));
        assert_eq!(key("foo_method"), "foomethod");
        assert_eq!(short_type_name::<CustomType>(), "CustomType");
        assert_eq!(short_type_name::<Option<CustomType>>(), "Option");
        assert_eq!(short_type_name::<String>(), "String");
    }

    #[test]
    fn lookup_prefers_type_names_then_member_names() {
        let receiver = Receiver::<Vec<String>>::new()
            .method("Custom", |_: &mut Vec<String>, _: CustomType, _| {})
            .action("Toggle", |_, _| {});
        assert!(receiver.find("CustomType", false).is_some());
        assert!(receiver.find("custom", false).is_some());
        assert!(receiver.find("TOGGLE", false).is_some());
        assert!(receiver.find("missing", false).is_none());
        // The client's strict matching makes every receiver strict.
        assert!(receiver.find("CustomType", true).is_none());
        assert!(receiver.find("custom", true).is_some());
        let strict = Receiver::<Vec<String>>::new()
            .method("Custom", |_: &mut Vec<String>, _: CustomType, _| {})
            .strict(true);
        assert!(strict.find("CustomType", false).is_none());
        assert!(strict.find("Custom", false).is_some());
    }

    /// Counts the instances it makes and, in each instance, the messages that reached it.
    fn counting(
        created: &Arc<Mutex<usize>>,
        resolver: Resolver<Arc<Mutex<Vec<String>>>>,
    ) -> Receiver<Vec<String>> {
        let created = created.clone();
        Receiver::per_message(move || {
            *created.lock().unwrap() += 1;
            Vec::new()
        })
        .resolver(resolver)
        .action("Toggle", |seen, context| {
            seen.push(context.message.selector().unwrap_or_default().to_owned())
        })
    }

    fn deliver(receiver: &Receiver<Vec<String>>, client: &ServerEventsClient, data: &str) {
        let message = ServerEventMessage::parse(1, data.into()).unwrap();
        receiver
            .receive(&ReceiverContext {
                client,
                message: &message,
            })
            .unwrap();
    }

    #[test]
    fn receivers_registered_with_one_singleton_share_its_instance() {
        let client = ServerEventsClient::new("http://h", ["A"]).unwrap();
        let created = Arc::new(Mutex::new(0));
        let singleton = Resolver::singleton();
        let global = counting(&created, singleton.clone());
        let css = counting(&created, singleton.clone());
        deliver(&global, &client, "cmd.Toggle ");
        deliver(&global, &client, "cmd.Toggle ");
        deliver(&css, &client, "css.Toggle ");
        assert_eq!(*created.lock().unwrap(), 1);
        let instance = singleton.resolve(&|| unreachable!("created already"));
        assert_eq!(
            *instance.lock().unwrap(),
            ["cmd.Toggle", "cmd.Toggle", "css.Toggle"]
        );
    }

    #[test]
    fn by_default_every_message_gets_a_new_instance() {
        let client = ServerEventsClient::new("http://h", ["A"]).unwrap();
        let created = Arc::new(Mutex::new(0));
        let receiver = counting(&created, Resolver::default());
        for _ in 0..3 {
            deliver(&receiver, &client, "cmd.Toggle ");
        }
        assert_eq!(*created.lock().unwrap(), 3);
    }
}
