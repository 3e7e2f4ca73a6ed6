//! The four test receivers of the upstream suites (FORMAT.md, "Test receivers"), built with
//! [`servicestack_events::Receiver`]. Each member records a `receiver` event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use servicestack_events::{MessageReceiver, Receiver, ReceiverContext, Resolver};

use crate::recorder::Recorder;

/// `CustomType {Id:int, Name}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CustomType {
    /// Id.
    pub id: i32,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `SetterType {Id:int, Name}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SetterType {
    /// Id.
    pub id: i32,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The test host's `ChatMessage`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Process-wide message id.
    pub id: i64,
    /// Sender's user id.
    pub from_user_id: String,
    /// Sender's display name.
    pub from_name: String,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Private message?
    #[serde(default)]
    pub private: bool,
    /// Channel, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// The body of a message as JSON (`null` when empty or not JSON).
pub fn body_of(json_text: &str) -> Value {
    if json_text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(json_text).unwrap_or(Value::Null)
    }
}

/// The IoC-injected dependency of `TestContainerReceiver`, shared by every instance.
pub struct Dependency {
    recorder: Arc<Recorder>,
}

impl Dependency {
    fn record(&self, value: Value, instance: &mut Instance, context: &ReceiverContext<'_>) {
        instance.calls += 1;
        record(
            &self.recorder,
            "TestContainerReceiver",
            "Dependency.Record",
            value,
            (instance.number, instance.calls),
            context,
        );
    }
}

/// One receiver instance. `calls` lives in the instance, so it counts only the messages the
/// SDK delivered to this very object: a resolver that hands out fresh instances keeps it at 1.
pub struct Instance {
    recorder: Arc<Recorder>,
    class: &'static str,
    number: u64,
    calls: u64,
    dependency: Arc<Dependency>,
}

impl Instance {
    fn record(&mut self, member: &str, value: Value, context: &ReceiverContext<'_>) {
        self.calls += 1;
        record(
            &self.recorder,
            self.class,
            member,
            value,
            (self.number, self.calls),
            context,
        );
    }
}

fn record(
    recorder: &Recorder,
    class: &str,
    member: &str,
    value: Value,
    (instance, calls): (u64, u64),
    context: &ReceiverContext<'_>,
) {
    let message = context.message;
    let mut fields = Map::new();
    fields.insert("receiver".into(), json!(class));
    fields.insert("member".into(), json!(member));
    fields.insert("value".into(), value);
    fields.insert("instance".into(), json!(instance));
    fields.insert("calls".into(), json!(calls));
    fields.insert("selector".into(), json!(message.selector()));
    fields.insert("op".into(), json!(message.op()));
    fields.insert("target".into(), json!(message.target()));
    fields.insert("cssSelector".into(), json!(message.css_selector()));
    recorder.record("receiver", fields);
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Any receiver, boxed, so receivers of different instance types share one type.
pub struct AnyReceiver(Box<dyn MessageReceiver>);

impl MessageReceiver for AnyReceiver {
    fn receive(&self, context: &ReceiverContext<'_>) -> Result<(), servicestack_events::Error> {
        self.0.receive(context)
    }
}

/// Builds the receivers of one client, playing the role of its IoC resolver.
pub struct ReceiverFactory {
    recorder: Arc<Recorder>,
    singleton: bool,
    dependency: Arc<Dependency>,
    /// One core singleton resolver per class, shared by every op the class is registered under.
    singletons: HashMap<&'static str, Resolver<Arc<Mutex<Instance>>>>,
    counters: HashMap<&'static str, Arc<AtomicU64>>,
}

impl ReceiverFactory {
    /// `resolver`: `"new"` (a new instance per message) or `"singleton"` (one per class).
    pub fn new(recorder: Arc<Recorder>, singleton: bool) -> Self {
        ReceiverFactory {
            dependency: Arc::new(Dependency {
                recorder: recorder.clone(),
            }),
            recorder,
            singleton,
            singletons: HashMap::new(),
            counters: HashMap::new(),
        }
    }

    /// The receiver for `class`.
    pub fn build(&mut self, class: &str) -> Result<AnyReceiver, String> {
        let class: &'static str = crate::scenario::RECEIVER_CLASSES
            .iter()
            .copied()
            .find(|known| *known == class)
            .ok_or_else(|| format!("unknown receiver class {class}"))?;
        let counter = self.counters.entry(class).or_default().clone();
        let recorder = self.recorder.clone();
        let dependency = self.dependency.clone();
        let make = move || Instance {
            recorder: recorder.clone(),
            class,
            number: counter.fetch_add(1, Ordering::Relaxed) + 1,
            calls: 0,
            dependency: dependency.clone(),
        };
        let resolver = if self.singleton {
            self.singletons
                .entry(class)
                .or_insert_with(Resolver::singleton)
                .clone()
        } else {
            Resolver::new_instance()
        };
        let receiver = Receiver::per_message(make).resolver(resolver);
        Ok(AnyReceiver(match class {
            "TestNamedReceiver" => Box::new(named(receiver)),
            "TestGlobalReceiver" => Box::new(global(receiver)),
            "TestJavaScriptReceiver" => Box::new(javascript(receiver)),
            _ => Box::new(container(receiver)),
        }))
    }
}

fn no_such_method(receiver: Receiver<Instance>) -> Receiver<Instance> {
    receiver.no_such_method(|instance, target, context| {
        instance.record(
            &format!("noSuchMethod:{target}"),
            body_of(context.message.json()),
            context,
        );
    })
}

/// `FooMethod(CustomType)`, `BarMethod(CustomType)`, setter `QuxSetter(CustomType)`.
fn named(receiver: Receiver<Instance>) -> Receiver<Instance> {
    no_such_method(
        receiver
            .method("FooMethod", |i: &mut Instance, arg: CustomType, c| {
                i.record("FooMethod", to_json(&arg), c);
            })
            .method("BarMethod", |i: &mut Instance, arg: CustomType, c| {
                i.record("BarMethod", to_json(&arg), c);
            })
            .setter("QuxSetter", |i: &mut Instance, arg: CustomType, c| {
                i.record("QuxSetter", to_json(&arg), c);
            }),
    )
}

/// `CustomType(CustomType)`, setter `SetterType(SetterType)`.
fn global(receiver: Receiver<Instance>) -> Receiver<Instance> {
    no_such_method(
        receiver
            .method("CustomType", |i: &mut Instance, arg: CustomType, c| {
                i.record("CustomType", to_json(&arg), c);
            })
            .setter("SetterType", |i: &mut Instance, arg: SetterType, c| {
                i.record("SetterType", to_json(&arg), c);
            }),
    )
}

/// `Chat(ChatMessage)`, `Announce(string)`, `Toggle()`, `BackgroundImage(string)`.
fn javascript(receiver: Receiver<Instance>) -> Receiver<Instance> {
    no_such_method(
        receiver
            .method("Chat", |i: &mut Instance, arg: ChatMessage, c| {
                i.record("Chat", to_json(&arg), c);
            })
            .method("Announce", |i: &mut Instance, arg: String, c| {
                i.record("Announce", json!(arg), c);
            })
            .action("Toggle", |i: &mut Instance, c| {
                i.record("Toggle", Value::Null, c)
            })
            .method("BackgroundImage", |i: &mut Instance, arg: String, c| {
                i.record("BackgroundImage", json!(arg), c);
            }),
    )
}

/// `Custom(CustomType)` and `Setter(SetterType)`, both through the injected `Dependency`.
fn container(receiver: Receiver<Instance>) -> Receiver<Instance> {
    receiver
        .method("Custom", |i: &mut Instance, arg: CustomType, c| {
            let dependency = i.dependency.clone();
            dependency.record(to_json(&arg), i, c);
        })
        .method("Setter", |i: &mut Instance, arg: SetterType, c| {
            let dependency = i.dependency.clone();
            dependency.record(to_json(&arg), i, c);
        })
}
