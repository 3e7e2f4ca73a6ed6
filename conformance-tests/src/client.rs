//! A client-core client wired to a [`Recorder`]: every callback, handler, listener, receiver and
//! state change is recorded as an event (FORMAT.md, "Events a client records").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use servicestack_events::{
    ClientBuilder, ConnectionState, Error, ReconnectInfo, RegistrationId, ServerEventCommand,
    ServerEventConnect, ServerEventMessage, ServerEventsClient,
};
use tokio::task::JoinHandle;

use crate::receivers::{ReceiverFactory, body_of};
use crate::recorder::Recorder;
use crate::scenario::ClientSpec;

fn object(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `{message, status, kind}` of an error.
pub fn error_fields(error: &Error) -> Map<String, Value> {
    object([
        ("message", json!(error.to_string())),
        ("status", json!(error.status())),
        ("kind", json!(error.kind())),
    ])
}

/// The fields of a `connect` event.
pub fn connect_fields(info: &ServerEventConnect) -> Map<String, Value> {
    object([
        ("id", json!(info.id)),
        ("userId", json!(info.user_id)),
        ("displayName", json!(info.display_name)),
        ("isAuthenticated", json!(info.is_authenticated)),
        ("channels", json!(info.channels)),
        ("heartbeatUrl", json!(info.heartbeat_url)),
        ("unRegisterUrl", json!(info.unregister_url)),
        ("updateSubscriberUrl", json!(info.update_subscriber_url)),
        (
            "heartbeatIntervalMs",
            json!(info.heartbeat_interval.as_millis() as u64),
        ),
        ("idleTimeoutMs", json!(info.idle_timeout.as_millis() as u64)),
        ("meta", json!(info.command.meta)),
    ])
}

/// The fields of a `join`/`leave`/`update` event.
pub fn command_fields(command: &ServerEventCommand) -> Map<String, Value> {
    object([
        ("channel", json!(command.channel())),
        ("userId", json!(command.user_id)),
        ("displayName", json!(command.display_name)),
        ("isAuthenticated", json!(command.is_authenticated)),
        ("channels", json!(command.channels)),
        ("meta", json!(command.meta)),
    ])
}

/// `join`, `leave` or `update`: the `kind` field of a `command` event.
pub fn command_kind(command: &ServerEventCommand) -> &'static str {
    match command.kind {
        servicestack_events::CommandKind::Join => "join",
        servicestack_events::CommandKind::Leave => "leave",
        _ => "update",
    }
}

/// The fields of a `heartbeat` event.
pub fn heartbeat_fields(heartbeat: &ServerEventCommand) -> Map<String, Value> {
    object([
        ("userId", json!(heartbeat.user_id)),
        ("displayName", json!(heartbeat.display_name)),
    ])
}

/// The fields of a `message` event.
pub fn message_fields(message: &ServerEventMessage) -> Map<String, Value> {
    object([
        ("eventId", json!(message.event_id())),
        ("channel", json!(message.channel())),
        ("selector", json!(message.selector())),
        ("op", json!(message.op())),
        ("target", json!(message.target())),
        ("cssSelector", json!(message.css_selector())),
        ("json", json!(message.json())),
        ("body", body_of(message.json())),
    ])
}

/// The name of a state (`idle`, `connecting`, `open`, `reconnecting`, `paused`, `closed`).
pub fn state_name(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Idle => "idle",
        ConnectionState::Connecting { .. } => "connecting",
        ConnectionState::Open { .. } => "open",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Paused => "paused",
        ConnectionState::Closed { .. } => "closed",
        _ => "unknown",
    }
}

/// The fields of a `state` event: `state`, plus `attempt`, `delayMs`, `subscriptionId`,
/// `reason` and `error` (`{message, status, kind}`) where they apply.
pub fn state_fields(state: &ConnectionState) -> Map<String, Value> {
    use servicestack_events::CloseReason;
    let mut fields = object([("state", json!(state_name(state)))]);
    match state {
        ConnectionState::Connecting { attempt } => {
            fields.insert("attempt".into(), json!(attempt));
        }
        ConnectionState::Open { subscription_id } => {
            fields.insert("subscriptionId".into(), json!(subscription_id));
        }
        ConnectionState::Reconnecting {
            attempt,
            delay,
            cause,
        } => {
            fields.insert("attempt".into(), json!(attempt));
            fields.insert("delayMs".into(), json!(delay.as_millis() as u64));
            fields.insert("error".into(), Value::Object(error_fields(cause)));
        }
        ConnectionState::Closed { reason } => {
            let (name, error) = match reason {
                CloseReason::Stopped => ("stopped", None),
                CloseReason::Disposed => ("disposed", None),
                CloseReason::Dropped => ("dropped", None),
                CloseReason::ConnectFailed(e) => ("connectFailed", Some(e)),
                CloseReason::Unauthorized(e) => ("unauthorized", Some(e)),
                CloseReason::GaveUp(e) => ("gaveUp", Some(e)),
                _ => ("other", None),
            };
            fields.insert("reason".into(), json!(name));
            fields.insert(
                "error".into(),
                error.map_or(Value::Null, |e| Value::Object(error_fields(e))),
            );
        }
        _ => {}
    }
    fields
}

fn reconnect_fields(info: &ReconnectInfo) -> Map<String, Value> {
    object([
        ("previousId", json!(info.previous_subscription_id)),
        ("id", json!(info.subscription_id)),
        ("attempts", json!(info.attempts)),
        (
            "cause",
            info.cause
                .as_ref()
                .map_or(Value::Null, |e| Value::Object(error_fields(e))),
        ),
    ])
}

/// A `cmd` handler that records a `handler` event (then panics when `throws`).
pub fn recording_handler(
    recorder: &Arc<Recorder>,
    name: &str,
    throws: bool,
) -> impl Fn(&ServerEventsClient, &ServerEventMessage) + Send + Sync + 'static {
    let r = recorder.clone();
    let handler_name = name.to_owned();
    move |_client, message| {
        r.record(
            "handler",
            object([
                ("name", json!(handler_name)),
                ("body", body_of(message.json())),
            ]),
        );
        if throws {
            panic!("handler {handler_name} fails on purpose");
        }
    }
}

/// A trigger listener that records a `listener` event with its `index`.
pub fn recording_listener(
    recorder: &Arc<Recorder>,
    name: &str,
    index: usize,
) -> impl Fn(&ServerEventsClient, &ServerEventMessage) + Send + Sync + 'static {
    let r = recorder.clone();
    let listener_name = name.to_owned();
    move |_client, message| {
        r.record(
            "listener",
            object([
                ("name", json!(listener_name)),
                ("index", json!(index)),
                ("body", body_of(message.json())),
            ]),
        );
    }
}

/// Adds the recording callbacks, handlers and receivers of `spec` to `builder`; receivers come
/// from `factory` (the client's resolver).
pub fn configure(
    mut builder: ClientBuilder,
    spec: &ClientSpec,
    recorder: &Arc<Recorder>,
    factory: &mut ReceiverFactory,
) -> Result<ClientBuilder, String> {
    builder = builder.channels(spec.channels.clone());
    let r = recorder.clone();
    builder = builder.on_connect(move |info| r.record("connect", connect_fields(info)));
    let r = recorder.clone();
    builder = builder.on_join(move |command| r.record("join", command_fields(command)));
    let r = recorder.clone();
    builder = builder.on_leave(move |command| r.record("leave", command_fields(command)));
    let r = recorder.clone();
    builder = builder.on_update(move |command| r.record("update", command_fields(command)));
    let r = recorder.clone();
    builder = builder.on_command(move |command| {
        let mut fields = command_fields(command);
        fields.insert("kind".into(), json!(command_kind(command)));
        r.record("command", fields);
    });
    let r = recorder.clone();
    builder =
        builder.on_heartbeat(move |heartbeat| r.record("heartbeat", heartbeat_fields(heartbeat)));
    let r = recorder.clone();
    builder = builder.on_message(move |message| r.record("message", message_fields(message)));
    let r = recorder.clone();
    builder = builder.on_exception(move |error| r.record("exception", error_fields(error)));
    let r = recorder.clone();
    builder = builder.on_reconnect(move |info| r.record("reconnect", reconnect_fields(info)));

    let recording = spec.handlers.iter().map(|name| (name, false));
    let throwing = spec.throwing_handlers.iter().map(|name| (name, true));
    for (name, throws) in recording.chain(throwing) {
        builder = builder.handler(name, recording_handler(recorder, name, throws));
    }
    for (op, class) in &spec.receivers {
        builder = builder.named_receiver(op, factory.build(class)?);
    }
    if let Some(ms) = spec.heartbeat_ms {
        builder = builder.heartbeat_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = spec.idle_timeout_ms {
        builder = builder.idle_timeout(Duration::from_millis(ms));
    }
    if let Some(ms) = spec.connect_timeout_ms {
        builder = builder.connect_timeout(Duration::from_millis(ms));
    }
    if let Some(bytes) = spec.max_event_size_bytes {
        builder = builder.max_event_size(bytes);
    }
    Ok(builder)
}

/// A client under test with its event log.
pub struct TestClient {
    /// Its name in the scenario.
    pub name: String,
    /// The handle; `None` after a `drop` step.
    pub client: Option<ServerEventsClient>,
    /// Its event log.
    pub recorder: Arc<Recorder>,
    /// Trigger listeners by (name, index).
    pub listeners: HashMap<(String, usize), RegistrationId>,
    /// How many listeners each trigger name has had (the next index).
    pub listener_counts: HashMap<String, usize>,
    /// The client's receiver resolver, for receivers registered later.
    pub receivers: ReceiverFactory,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TestClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl TestClient {
    /// Builds the client of `spec` against `base_url`.
    pub fn new(spec: &ClientSpec, base_url: &str) -> Result<Self, String> {
        Self::with_builder(spec, base_url, |builder| builder)
    }

    /// Like [`new`](Self::new), letting the caller add settings (credentials, policies, ...).
    pub fn with_builder(
        spec: &ClientSpec,
        base_url: &str,
        extra: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Self, String> {
        let recorder = Arc::new(Recorder::new(&spec.id));
        let singleton = spec.resolver.as_deref() == Some("singleton");
        let mut receivers = ReceiverFactory::new(recorder.clone(), singleton);
        let builder = configure(
            ServerEventsClient::builder(base_url),
            spec,
            &recorder,
            &mut receivers,
        )?;
        let client = extra(builder)
            .build()
            .map_err(|e| format!("client {} does not build: {e}", spec.id))?;
        let mut listeners = HashMap::new();
        for (name, count) in &spec.listeners {
            for index in 0..*count {
                let id = client.add_listener(name, recording_listener(&recorder, name, index));
                listeners.insert((name.clone(), index), id);
            }
        }
        let listener_counts = spec.listeners.clone().into_iter().collect();
        let mut tasks = Vec::new();
        let r = recorder.clone();
        let mut states = client.state_changes();
        tasks.push(tokio::spawn(async move {
            while let Some(state) = states.next().await {
                r.record("state", state_fields(&state));
            }
        }));
        if spec.consume_stream {
            let r = recorder.clone();
            let mut messages = client.messages();
            tasks.push(tokio::spawn(async move {
                while let Some(message) = messages.next().await {
                    // An async consumer that yields between items, like the upstream
                    // BlockingCollection consumer's 1 ms await.
                    tokio::task::yield_now().await;
                    r.record("streamed", message_fields(&message));
                }
            }));
        }
        Ok(TestClient {
            name: spec.id.clone(),
            client: Some(client),
            recorder,
            listeners,
            listener_counts,
            receivers,
            tasks,
        })
    }

    /// The handle, or an error after a `drop` step.
    pub fn handle(&self) -> Result<&ServerEventsClient, String> {
        self.client
            .as_ref()
            .ok_or_else(|| format!("client {} was dropped", self.name))
    }

    /// The latest `connect` event's fields.
    pub fn last_connect(&self) -> Option<Value> {
        self.recorder.of_kind("connect").pop()
    }
}
