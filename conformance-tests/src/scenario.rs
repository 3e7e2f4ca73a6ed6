//! The scenario model: `scenarios/scenarios.json` as typed Rust values (see `scenarios/FORMAT.md`).
//!
//! Unknown keys are rejected, so a typo in the shared file fails every leg's load test instead of
//! being silently ignored.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{Map, Value};

/// The shared file, compiled in so the test binaries need no paths at run time.
pub const SCENARIOS_JSON: &str = include_str!("../scenarios/scenarios.json");

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Format version (1).
    pub version: u32,
    /// Every scenario, in file order.
    pub scenarios: Vec<Scenario>,
}

/// One scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    /// Unique snake_case name, prefixed with its origin; also the test name in every leg.
    pub name: String,
    /// The upstream cases it ports.
    pub origins: Vec<String>,
    /// What it proves.
    pub summary: String,
    /// The server profile.
    #[serde(default)]
    pub server: Profile,
    /// The legs that run it.
    pub legs: Vec<Leg>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether `leg` runs this scenario.
    pub fn runs_on(&self, leg: Leg) -> bool {
        self.legs.contains(&leg)
    }
}

/// Server profiles (FORMAT.md, "Server profiles").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Heartbeat 200 ms, idle 30 s, housekeeping 5 s, notifications on.
    #[default]
    Default,
    /// `default` + `LimitToAuthenticatedUsers`.
    Auth,
    /// `default` + no join/leave/update notifications, idle timeout 400 ms.
    NoNotify,
    /// `default` with a 10 s heartbeat.
    SlowHeartbeat,
    /// `default` + the hooks of `ServerConfig::custom_meta_hooks` (custom Meta and connect
    /// arguments).
    CustomMeta,
    /// Two nodes sharing one Redis behind a round-robin TCP front (`ServerConfig::cluster_node`:
    /// `default` + the `custom_meta` hooks, idle timeout 2 s, housekeeping 100 ms).
    Cluster,
}

/// A language leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// `conformance-tests` (this crate).
    Rust,
    /// The npm package in headless Chromium.
    Wasm,
    /// The npm package on Node.
    Node,
    /// The uniffi Kotlin bindings.
    Kotlin,
    /// The uniffi Swift bindings.
    Swift,
}

/// What an error must look like: matched against the error's `{message, status, kind}`.
pub type ErrorMatch = Map<String, Value>;

/// A `match` object.
pub type Matcher = Map<String, Value>;

/// One step.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "op",
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Step {
    /// Creates a client (does not start it).
    Client(ClientSpec),
    /// Connects and waits for `cmd.onConnect` (or the expected error).
    Connect {
        client: String,
        #[serde(default)]
        expect_error: Option<ErrorMatch>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Starts without waiting.
    Start { client: String },
    /// Stops; waits until the subscription is unregistered.
    Stop { client: String },
    /// Restarts the connection.
    Restart { client: String },
    /// Pauses (unregisters, disconnects) until `resume`.
    Pause { client: String },
    /// Resumes a paused client.
    Resume { client: String },
    /// Drops every handle to the client (Rust: `drop`; other legs: dispose/close).
    Drop { client: String },
    /// Replaces the local channel list (no request).
    SetChannels {
        client: String,
        channels: Vec<String>,
    },
    /// Subscribes the live subscription to channels.
    Subscribe {
        client: String,
        channels: Vec<String>,
    },
    /// Unsubscribes the live subscription from channels.
    Unsubscribe {
        client: String,
        channels: Vec<String>,
    },
    /// Signs in through the client's service client.
    Authenticate {
        client: String,
        user: String,
        password: String,
        #[serde(default)]
        expect_error: Option<ErrorMatch>,
    },
    /// `PostChatToChannel`.
    PostChat {
        from: String,
        #[serde(default)]
        channel: Option<String>,
        message: String,
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        to_user_id: Option<String>,
    },
    /// `PostRawToChannel`.
    PostRaw {
        from: String,
        #[serde(default)]
        channel: Option<String>,
        selector: String,
        message: Option<String>,
    },
    /// `PostObjectToChannel`.
    PostObject {
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        custom_type: Option<Value>,
        #[serde(default)]
        setter_type: Option<Value>,
    },
    /// `POST /reset-serverevents`.
    ResetServer {},
    /// Shuts the server down and starts it again on the same port (Rust leg only).
    RestartServer {},
    /// A plain HTTP call from the test.
    Http {
        method: String,
        url: String,
        #[serde(default)]
        body: Option<Value>,
        #[serde(default)]
        expect_status: Option<Value>,
    },
    /// `POST /test/faults`.
    Fault { set: Value },
    /// Writes bytes straight into a client's stream.
    RawFrame {
        client: String,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        base64: Option<String>,
        #[serde(default)]
        parts: Option<Vec<FramePart>>,
    },
    /// Crashes the cluster node holding the client's subscription (`POST
    /// /test/crash-node?id=$<client>.id`; the `cluster` profile only).
    CrashNode { client: String },
    /// Removes a trigger listener added by the `client` step.
    RemoveListener {
        client: String,
        name: String,
        index: usize,
    },
    /// Waits for the next matching event after the previous `expect` of that client and kind.
    Expect {
        client: String,
        kind: String,
        #[serde(default, rename = "match")]
        matcher: Option<Matcher>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Waits until `count` matching events arrived, then checks there are exactly `count`.
    ExpectCount {
        client: String,
        kind: String,
        count: usize,
        #[serde(default, rename = "match")]
        matcher: Option<Matcher>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Checks the count now.
    AssertCount {
        client: String,
        kind: String,
        count: usize,
        #[serde(default, rename = "match")]
        matcher: Option<Matcher>,
    },
    /// Waits until the server lists `count` subscribers.
    ExpectSubscribers {
        client: String,
        #[serde(default)]
        channels: Option<Vec<String>>,
        count: usize,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Checks the client's local state.
    AssertClient {
        client: String,
        #[serde(default)]
        channels: Option<Vec<String>>,
        #[serde(default)]
        stream_url_ends_with: Option<String>,
        #[serde(default)]
        connected: Option<bool>,
        #[serde(default)]
        times_started: Option<u64>,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        with_credentials: Option<bool>,
    },
    /// Runs `step` on `times` threads at once and waits for all of them.
    Concurrent { times: usize, step: Box<Step> },
    /// GETs `path` through the client's service client.
    ServiceGet {
        client: String,
        path: String,
        #[serde(default)]
        expect_error: Option<ErrorMatch>,
    },
    /// Starts the SDK's wait for the client's next `message`, `command` or `heartbeat`, with the
    /// SDK timeout `timeout_ms`; the wait is registered before the step ends.
    WaitNext {
        client: String,
        kind: String,
        wait: String,
        timeout_ms: u64,
    },
    /// Waits for the wait named `wait` to end; its result must match, or its error must.
    WaitResult {
        wait: String,
        #[serde(default, rename = "match")]
        matcher: Option<Matcher>,
        #[serde(default)]
        expect_error: Option<ErrorMatch>,
    },
    /// Registers a recording `cmd.{name}` handler on a running client.
    RegisterHandler { client: String, name: String },
    /// Removes the `cmd.{name}` handler.
    RemoveHandler { client: String, name: String },
    /// Registers a test receiver class for the op `name` on a running client (through the
    /// client's resolver).
    RegisterReceiver {
        client: String,
        name: String,
        class: String,
    },
    /// Removes the receiver of the op `name`.
    UnregisterReceiver { client: String, name: String },
    /// Adds one recording trigger listener; its index is the next one for that name.
    AddListener { client: String, name: String },
    /// Removes every handler, receiver and trigger listener.
    RemoveAllRegistrations { client: String },
    /// Checks the gaps between consecutive matching events recorded so far (at least two).
    AssertGaps {
        client: String,
        kind: String,
        #[serde(default, rename = "match")]
        matcher: Option<Matcher>,
        min_ms: u64,
        max_ms: u64,
    },
}

/// The kinds `wait_next` can wait for.
pub const WAIT_KINDS: &[&str] = &["message", "command", "heartbeat"];

/// One piece of a `raw_frame`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FramePart {
    /// UTF-8 text.
    #[serde(default)]
    pub text: Option<String>,
    /// Bytes, base64.
    #[serde(default)]
    pub base64: Option<String>,
    /// How many times to repeat this part (default 1).
    #[serde(default)]
    pub repeat: Option<usize>,
}

/// The `client` step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientSpec {
    /// The client's name in the scenario.
    pub id: String,
    /// Channels (omitted = none, i.e. the server's `*`).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Another base URL (variables allowed); default `$baseUrl`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// `cmd` handlers that record `handler` events.
    #[serde(default)]
    pub handlers: Vec<String>,
    /// `cmd` handlers that record a `handler` event, then throw (panic).
    #[serde(default)]
    pub throwing_handlers: Vec<String>,
    /// op → receiver class.
    #[serde(default)]
    pub receivers: BTreeMap<String, String>,
    /// `new` (default) or `singleton`.
    #[serde(default)]
    pub resolver: Option<String>,
    /// trigger name → how many listeners.
    #[serde(default)]
    pub listeners: BTreeMap<String, usize>,
    /// Heartbeat interval override.
    #[serde(default)]
    pub heartbeat_ms: Option<u64>,
    /// Idle timeout override.
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
    /// Connect timeout override.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Largest accepted event.
    #[serde(default)]
    pub max_event_size_bytes: Option<usize>,
    /// Also consume messages asynchronously and record `streamed` events.
    #[serde(default)]
    pub consume_stream: bool,
    /// Browser only: the EventSource `withCredentials` option.
    #[serde(default)]
    pub with_credentials: Option<bool>,
}

/// Every event kind a client records.
pub const EVENT_KINDS: &[&str] = &[
    "connect",
    "join",
    "leave",
    "update",
    "command",
    "heartbeat",
    "message",
    "handler",
    "listener",
    "receiver",
    "exception",
    "reconnect",
    "state",
    "streamed",
];

/// The receiver classes every leg implements.
pub const RECEIVER_CLASSES: &[&str] = &[
    "TestNamedReceiver",
    "TestGlobalReceiver",
    "TestJavaScriptReceiver",
    "TestContainerReceiver",
];

/// Name prefixes, by origin.
pub const NAME_PREFIXES: &[&str] = &["cs_", "ts_", "java_", "fault_", "core_"];

impl Step {
    /// The op name, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            Step::Client(_) => "client",
            Step::Connect { .. } => "connect",
            Step::Start { .. } => "start",
            Step::Stop { .. } => "stop",
            Step::Restart { .. } => "restart",
            Step::Pause { .. } => "pause",
            Step::Resume { .. } => "resume",
            Step::Drop { .. } => "drop",
            Step::SetChannels { .. } => "set_channels",
            Step::Subscribe { .. } => "subscribe",
            Step::Unsubscribe { .. } => "unsubscribe",
            Step::Authenticate { .. } => "authenticate",
            Step::PostChat { .. } => "post_chat",
            Step::PostRaw { .. } => "post_raw",
            Step::PostObject { .. } => "post_object",
            Step::ResetServer {} => "reset_server",
            Step::RestartServer {} => "restart_server",
            Step::Http { .. } => "http",
            Step::Fault { .. } => "fault",
            Step::RawFrame { .. } => "raw_frame",
            Step::CrashNode { .. } => "crash_node",
            Step::RemoveListener { .. } => "remove_listener",
            Step::Expect { .. } => "expect",
            Step::ExpectCount { .. } => "expect_count",
            Step::AssertCount { .. } => "assert_count",
            Step::ExpectSubscribers { .. } => "expect_subscribers",
            Step::AssertClient { .. } => "assert_client",
            Step::Concurrent { .. } => "concurrent",
            Step::ServiceGet { .. } => "service_get",
            Step::WaitNext { .. } => "wait_next",
            Step::WaitResult { .. } => "wait_result",
            Step::RegisterHandler { .. } => "register_handler",
            Step::RemoveHandler { .. } => "remove_handler",
            Step::RegisterReceiver { .. } => "register_receiver",
            Step::UnregisterReceiver { .. } => "unregister_receiver",
            Step::AddListener { .. } => "add_listener",
            Step::RemoveAllRegistrations { .. } => "remove_all_registrations",
            Step::AssertGaps { .. } => "assert_gaps",
        }
    }

    /// The clients this step refers to.
    fn clients(&self) -> Vec<&str> {
        match self {
            Step::Client(spec) => vec![spec.id.as_str()],
            Step::Connect { client, .. }
            | Step::Start { client }
            | Step::Stop { client }
            | Step::Restart { client }
            | Step::Pause { client }
            | Step::Resume { client }
            | Step::Drop { client }
            | Step::SetChannels { client, .. }
            | Step::Subscribe { client, .. }
            | Step::Unsubscribe { client, .. }
            | Step::Authenticate { client, .. }
            | Step::RawFrame { client, .. }
            | Step::CrashNode { client }
            | Step::RemoveListener { client, .. }
            | Step::Expect { client, .. }
            | Step::ExpectCount { client, .. }
            | Step::AssertCount { client, .. }
            | Step::ExpectSubscribers { client, .. }
            | Step::AssertClient { client, .. }
            | Step::ServiceGet { client, .. }
            | Step::WaitNext { client, .. }
            | Step::RegisterHandler { client, .. }
            | Step::RemoveHandler { client, .. }
            | Step::RegisterReceiver { client, .. }
            | Step::UnregisterReceiver { client, .. }
            | Step::AddListener { client, .. }
            | Step::RemoveAllRegistrations { client }
            | Step::AssertGaps { client, .. } => vec![client.as_str()],
            Step::PostChat { from, .. } | Step::PostRaw { from, .. } => vec![from.as_str()],
            Step::Concurrent { step, .. } => step.clients(),
            Step::PostObject { .. }
            | Step::ResetServer {}
            | Step::RestartServer {}
            | Step::Http { .. }
            | Step::Fault { .. }
            | Step::WaitResult { .. } => Vec::new(),
        }
    }
}

/// Parses the shared file.
pub fn load() -> Result<ScenarioFile, String> {
    parse(SCENARIOS_JSON)
}

/// Parses and validates scenario JSON text.
pub fn parse(text: &str) -> Result<ScenarioFile, String> {
    let file: ScenarioFile =
        serde_json::from_str(text).map_err(|e| format!("scenarios.json does not parse: {e}"))?;
    validate(&file)?;
    Ok(file)
}

/// Checks what the types cannot: unique names, prefixes, known kinds and classes, clients
/// created before use.
pub fn validate(file: &ScenarioFile) -> Result<(), String> {
    if file.version != 1 {
        return Err(format!(
            "unsupported scenarios.json version {}",
            file.version
        ));
    }
    let mut names = HashSet::new();
    for scenario in &file.scenarios {
        let name = &scenario.name;
        let fail = |what: String| Err(format!("scenario {name}: {what}"));
        if !names.insert(name.clone()) {
            return fail("the name is used twice".into());
        }
        if !NAME_PREFIXES.iter().any(|p| name.starts_with(p)) {
            return fail(format!("the name must start with one of {NAME_PREFIXES:?}"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return fail("the name must be snake_case".into());
        }
        if scenario.origins.is_empty() || scenario.legs.is_empty() || scenario.steps.is_empty() {
            return fail("origins, legs and steps must not be empty".into());
        }
        let mut clients: HashSet<&str> = HashSet::new();
        let mut waits: HashSet<&str> = HashSet::new();
        for (index, step) in scenario.steps.iter().enumerate() {
            let fail = |what: String| {
                Err(format!(
                    "scenario {name}, step {index} ({}): {what}",
                    step.op()
                ))
            };
            if let Step::Client(spec) = step {
                if !clients.insert(spec.id.as_str()) {
                    return fail(format!("client {} is created twice", spec.id));
                }
                for class in spec.receivers.values() {
                    if !RECEIVER_CLASSES.contains(&class.as_str()) {
                        return fail(format!("unknown receiver class {class}"));
                    }
                }
                if let Some(resolver) = &spec.resolver
                    && resolver != "new"
                    && resolver != "singleton"
                {
                    return fail(format!("unknown resolver {resolver}"));
                }
                continue;
            }
            for client in step.clients() {
                if !clients.contains(client) {
                    return fail(format!("client {client} is used before its `client` step"));
                }
            }
            match step {
                Step::Expect { kind, .. }
                | Step::ExpectCount { kind, .. }
                | Step::AssertCount { kind, .. }
                | Step::AssertGaps { kind, .. }
                    if !EVENT_KINDS.contains(&kind.as_str()) =>
                {
                    return fail(format!("unknown event kind {kind}"));
                }
                Step::RegisterReceiver { class, .. }
                    if !RECEIVER_CLASSES.contains(&class.as_str()) =>
                {
                    return fail(format!("unknown receiver class {class}"));
                }
                Step::WaitNext { kind, wait, .. } => {
                    if !WAIT_KINDS.contains(&kind.as_str()) {
                        return fail(format!("wait_next waits for one of {WAIT_KINDS:?}"));
                    }
                    if !waits.insert(wait.as_str()) {
                        return fail(format!("the wait {wait} is started twice"));
                    }
                }
                Step::WaitResult {
                    wait,
                    matcher,
                    expect_error,
                } => {
                    if !waits.contains(wait.as_str()) {
                        return fail(format!("the wait {wait} is used before its wait_next"));
                    }
                    if matcher.is_some() && expect_error.is_some() {
                        return fail("a wait ends with a result or an error, not both".into());
                    }
                }
                Step::AssertGaps { min_ms, max_ms, .. } if min_ms > max_ms => {
                    return fail("minMs is larger than maxMs".into());
                }
                Step::Concurrent { step, times } => {
                    if *times == 0 {
                        return fail("times must be at least 1".into());
                    }
                    if !matches!(
                        **step,
                        Step::Start { .. }
                            | Step::Stop { .. }
                            | Step::Restart { .. }
                            | Step::Pause { .. }
                            | Step::Resume { .. }
                    ) {
                        return fail(
                            "only start, stop, restart, pause and resume run concurrently".into(),
                        );
                    }
                }
                Step::CrashNode { .. } if scenario.server != Profile::Cluster => {
                    return fail("crash_node needs the cluster profile".into());
                }
                Step::RawFrame {
                    text,
                    base64,
                    parts,
                    ..
                } => {
                    let given = usize::from(text.is_some())
                        + usize::from(base64.is_some())
                        + usize::from(parts.is_some());
                    if given != 1 {
                        return fail("exactly one of text, base64 and parts".into());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}
