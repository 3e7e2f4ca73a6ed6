//! Receivers implemented in Kotlin or Swift: objects whose members are called by selector, like
//! ServiceStack's `ServerEventReceiver`.
//!
//! The foreign side declares its members once (name and, for members taking an argument, the
//! argument's type name); the client matches every `{op}.{target}` message against them with the
//! same rule as `servicestack_events::Receiver` (case-insensitive, `-` and `_` ignored; argument type
//! names first, then member names) and calls `invoke` with the member's declared name, or
//! `noSuchMethod` with the original target.
//!
//! The instance that handles a message comes from the core's resolver: the foreign side supplies
//! only a [`ServerEventReceiverFactory`] ("create an instance"), and the [`ReceiverResolver`]
//! given at registration decides when the core calls it (a new instance per message, or one
//! singleton shared by every receiver registered with the same resolver).

use std::collections::HashMap;
use std::sync::Arc;

use servicestack_events::{MessageReceiver, ReceiverContext, Resolver};

use crate::error::ServerEventsError;
use crate::types::ServerEventMessage;

/// One member of a foreign receiver.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceiverMember {
    /// The member's name, e.g. `FooMethod` or `announce`; matched against the target.
    pub name: String,
    /// For a member taking an argument: the argument's type name, e.g. `CustomType`, so
    /// `cmd.CustomType` reaches this member too.
    #[uniffi(default = None)]
    pub argument_type: Option<String>,
}

/// A receiver implemented in Kotlin or Swift (register it with `registerReceiver` or
/// `registerNamedReceiver`).
#[uniffi::export(foreign)]
pub trait ServerEventReceiver: Send + Sync {
    /// A message matched `member` (its declared name): run it. The argument, if any, is the
    /// message's `json`.
    fn invoke(&self, member: String, message: ServerEventMessage) -> Result<(), ServerEventsError>;
    /// No member matched `target` (as sent, e.g. `background-image`).
    fn no_such_method(
        &self,
        target: String,
        message: ServerEventMessage,
    ) -> Result<(), ServerEventsError>;
}

/// Creates receiver instances; the [`ReceiverResolver`] decides when. An application with an
/// IoC container resolves the instance here.
#[uniffi::export(foreign)]
pub trait ServerEventReceiverFactory: Send + Sync {
    /// A new receiver instance.
    fn create(&self) -> Arc<dyn ServerEventReceiver>;
}

/// How a receiver gets its instance for each message (ServiceStack's resolvers), decided by the
/// core: pass the same resolver to several registrations to share a singleton between them.
#[derive(uniffi::Object)]
pub struct ReceiverResolver {
    inner: Resolver<Arc<dyn ServerEventReceiver>>,
}

#[uniffi::export]
impl ReceiverResolver {
    /// A new instance for every message (the default).
    #[uniffi::constructor]
    pub fn new_instance() -> Arc<Self> {
        Arc::new(ReceiverResolver {
            inner: Resolver::new_instance(),
        })
    }

    /// One instance, created at the first message, shared by every message of every receiver
    /// registered with this resolver.
    #[uniffi::constructor]
    pub fn singleton() -> Arc<Self> {
        Arc::new(ReceiverResolver {
            inner: Resolver::singleton(),
        })
    }
}

/// The lookup key of a target or member name: lower case, without `-` and `_` (the rule of
/// `servicestack_events::Receiver`).
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Adapts a foreign receiver to the core's [`MessageReceiver`].
pub(crate) struct ForeignReceiver {
    by_type: HashMap<String, String>,
    by_name: HashMap<String, String>,
    factory: Arc<dyn ServerEventReceiverFactory>,
    resolver: Resolver<Arc<dyn ServerEventReceiver>>,
}

impl ForeignReceiver {
    pub(crate) fn new(
        members: Vec<ReceiverMember>,
        factory: Arc<dyn ServerEventReceiverFactory>,
        resolver: Option<Arc<ReceiverResolver>>,
    ) -> Self {
        let mut by_type = HashMap::new();
        let mut by_name = HashMap::new();
        for member in members {
            if let Some(type_name) = &member.argument_type {
                by_type.insert(key(type_name), member.name.clone());
            }
            by_name.insert(key(&member.name), member.name);
        }
        ForeignReceiver {
            by_type,
            by_name,
            factory,
            resolver: resolver.map_or_else(Resolver::new_instance, |r| r.inner.clone()),
        }
    }

    /// The declared name of the member `target` reaches, if any.
    /// With `strict`, an argument type name matches only a member of the same name.
    fn find(&self, target: &str, strict: bool) -> Option<&String> {
        let wanted = key(target);
        self.by_type
            .get(&wanted)
            .filter(|member| !strict || key(member) == wanted)
            .or_else(|| self.by_name.get(&wanted))
    }
}

impl MessageReceiver for ForeignReceiver {
    fn receive(&self, context: &ReceiverContext<'_>) -> Result<(), servicestack_events::Error> {
        let target = context.message.target().unwrap_or_default();
        let message = ServerEventMessage::from(context.message);
        let selector = context.message.selector().unwrap_or_default();
        let instance = self.resolver.resolve(&|| self.factory.create());
        let outcome = match self.find(target, context.strict_matching()) {
            Some(member) => instance.invoke(member.clone(), message),
            None => instance.no_such_method(target.to_owned(), message),
        };
        // The core reports it to every `onException` listener.
        outcome.map_err(|error| error.into_core(selector))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ServerEventReceiver for Recorder {
        fn invoke(
            &self,
            member: String,
            message: ServerEventMessage,
        ) -> Result<(), ServerEventsError> {
            self.0
                .lock()
                .unwrap()
                .push(format!("{member} {}", message.json));
            Ok(())
        }
        fn no_such_method(
            &self,
            target: String,
            _: ServerEventMessage,
        ) -> Result<(), ServerEventsError> {
            self.0
                .lock()
                .unwrap()
                .push(format!("noSuchMethod:{target}"));
            Ok(())
        }
    }

    /// Hands out the same recorder, counting how often it is asked.
    struct Always(Arc<Recorder>, Mutex<usize>);

    impl ServerEventReceiverFactory for Always {
        fn create(&self) -> Arc<dyn ServerEventReceiver> {
            *self.1.lock().unwrap() += 1;
            self.0.clone()
        }
    }

    fn always(recorder: &Arc<Recorder>) -> Arc<Always> {
        Arc::new(Always(recorder.clone(), Mutex::new(0)))
    }

    fn deliver(receiver: &ForeignReceiver, data: &str) {
        let client = servicestack_events::ServerEventsClient::new("http://h", ["A"]).unwrap();
        deliver_to(&client, receiver, data);
    }

    fn deliver_to(
        client: &servicestack_events::ServerEventsClient,
        receiver: &ForeignReceiver,
        data: &str,
    ) {
        let message = servicestack_events::ServerEventMessage::parse(1, data.into()).unwrap();
        receiver
            .receive(&ReceiverContext {
                client,
                message: &message,
            })
            .unwrap();
    }

    #[test]
    fn the_resolver_decides_when_the_factory_creates_an_instance() {
        let recorder = Arc::new(Recorder::default());
        let members = || {
            vec![ReceiverMember {
                name: "Announce".into(),
                argument_type: None,
            }]
        };
        let per_message = always(&recorder);
        let receiver = ForeignReceiver::new(members(), per_message.clone(), None);
        deliver(&receiver, "cmd.announce 1");
        deliver(&receiver, "cmd.announce 2");
        assert_eq!(
            *per_message.1.lock().unwrap(),
            2,
            "a new instance per message"
        );

        let shared = always(&recorder);
        let singleton = ReceiverResolver::singleton();
        let global = ForeignReceiver::new(members(), shared.clone(), Some(singleton.clone()));
        let css = ForeignReceiver::new(members(), shared.clone(), Some(singleton));
        deliver(&global, "cmd.announce 3");
        deliver(&css, "css.announce 4");
        deliver(&global, "cmd.announce 5");
        assert_eq!(
            *shared.1.lock().unwrap(),
            1,
            "one instance for both receivers"
        );
        assert_eq!(recorder.0.lock().unwrap().len(), 5);
    }

    #[test]
    fn targets_match_type_names_then_member_names() {
        let recorder = Arc::new(Recorder::default());
        let receiver = ForeignReceiver::new(
            vec![
                ReceiverMember {
                    name: "FooMethod".into(),
                    argument_type: Some("CustomType".into()),
                },
                ReceiverMember {
                    name: "BackgroundImage".into(),
                    argument_type: None,
                },
            ],
            always(&recorder),
            None,
        );
        for data in [
            "test.fooMethod {}",
            "test.CustomType {\"id\":1}",
            "css.background-image x",
            "test.nope 1",
        ] {
            deliver(&receiver, data);
        }
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "FooMethod {}",
                "FooMethod {\"id\":1}",
                "BackgroundImage x",
                "noSuchMethod:nope"
            ]
        );
    }

    #[test]
    fn a_strict_client_matches_type_names_only_with_the_member_name() {
        let recorder = Arc::new(Recorder::default());
        let receiver = ForeignReceiver::new(
            vec![ReceiverMember {
                name: "FooMethod".into(),
                argument_type: Some("CustomType".into()),
            }],
            always(&recorder),
            None,
        );
        let client = servicestack_events::ServerEventsClient::builder("http://h")
            .strict_receiver_matching(true)
            .build()
            .unwrap();
        for data in ["test.CustomType {}", "test.FooMethod {}"] {
            deliver_to(&client, &receiver, data);
        }
        assert_eq!(
            *recorder.0.lock().unwrap(),
            ["noSuchMethod:CustomType", "FooMethod {}"]
        );
    }
}
