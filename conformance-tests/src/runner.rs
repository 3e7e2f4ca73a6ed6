//! The Rust interpreter of `scenarios.json`: one fresh server per scenario, clients built with
//! client-core, every step run in order with deadlines instead of sleeps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use servicestack_events::{Error, ServerEventsClient};
use servicestack_events_server::TestServer;
use tokio::task::JoinHandle;

use crate::client::{
    TestClient, command_fields, command_kind, error_fields, heartbeat_fields, message_fields,
    recording_handler, recording_listener, state_name,
};
use crate::http::{Http, decode_base64, encode_segment};
use crate::matching::{Variables, matches, substitute, substitute_value};
use crate::recorder::Event;
use crate::scenario::{self, ClientSpec, FramePart, Leg, Matcher, Scenario, Step};
use crate::server;

/// Default deadline of a waiting step (FORMAT.md).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Runs the scenario called `name` on the Rust leg; the error explains the failure in full.
pub async fn run_scenario(name: &str) -> Result<(), String> {
    let file = scenario::load()?;
    let scenario = file
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no scenario named {name} in scenarios.json"))?;
    if !scenario.runs_on(Leg::Rust) {
        return Err(format!("scenario {name} does not list the rust leg"));
    }
    let raw_steps = raw_steps(name);
    let mut runner = Runner::start(scenario.clone()).await?;
    let started = Instant::now();
    let mut outcome = Ok(());
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Err(reason) = runner.step(step).await {
            let raw = raw_steps
                .get(index)
                .map_or_else(|| step.op().to_owned(), Value::to_string);
            outcome = Err(format!(
                "scenario {name} failed at step {index} of {} after {} ms: {raw}\n  {reason}\n  ({})\n{}",
                scenario.steps.len(),
                started.elapsed().as_millis(),
                scenario.summary,
                runner.describe_clients()
            ));
            break;
        }
    }
    runner.finish().await;
    outcome
}

/// The steps of `name` as written in the file, for failure messages.
fn raw_steps(name: &str) -> Vec<Value> {
    let file: Value = serde_json::from_str(scenario::SCENARIOS_JSON).unwrap_or(Value::Null);
    file["scenarios"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["name"] == name))
        .and_then(|s| s["steps"].as_array().cloned())
        .unwrap_or_default()
}

/// A `wait_next` in progress: the SDK's wait, ending with the event's fields or the error.
type WaitTask = JoinHandle<Result<Map<String, Value>, Error>>;

/// The state of one running scenario.
pub struct Runner {
    scenario: Scenario,
    server: Option<server::Host>,
    base_url: String,
    http: Http,
    clients: HashMap<String, TestClient>,
    /// (client, kind) → index of the event the previous `expect` matched.
    cursors: HashMap<(String, String), usize>,
    /// Running `wait_next` waits by name: the SDK timeout and the task awaiting the SDK's future.
    waits: HashMap<String, (Duration, WaitTask)>,
}

struct Vars<'a> {
    base_url: &'a str,
    clients: &'a HashMap<String, TestClient>,
}

impl Variables for Vars<'_> {
    fn lookup(&self, name: &str, field: Option<&str>) -> Result<Option<String>, String> {
        match (name, field) {
            ("baseUrl", None) => Ok(Some(self.base_url.to_owned())),
            (client, Some(field)) => {
                let Some(test_client) = self.clients.get(client) else {
                    return Ok(None);
                };
                let connect = test_client
                    .last_connect()
                    .ok_or_else(|| format!("${client}.{field}: {client} has not connected yet"))?;
                match connect.get(field) {
                    Some(Value::String(text)) => Ok(Some(text.clone())),
                    Some(Value::Number(n)) => Ok(Some(n.to_string())),
                    Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                    Some(Value::Array(items)) => Ok(Some(
                        items
                            .iter()
                            .map(|i| i.as_str().unwrap_or_default().to_owned())
                            .collect::<Vec<_>>()
                            .join(","),
                    )),
                    _ => Err(format!(
                        "${client}.{field}: no such variable in its onConnect"
                    )),
                }
            }
            _ => Ok(None),
        }
    }
}

fn timeout_of(ms: Option<u64>) -> Duration {
    ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis)
}

fn status_matches(expected: Option<&Value>, status: u16) -> Result<bool, String> {
    Ok(match expected {
        None => (200..300).contains(&status),
        Some(Value::String(s)) if s == "2xx" => (200..300).contains(&status),
        Some(Value::String(s)) if s == "error" => !(200..300).contains(&status),
        Some(Value::Number(n)) => n.as_u64() == Some(u64::from(status)),
        Some(other) => {
            return Err(format!(
                "expectStatus {other} is not a status, \"2xx\" or \"error\""
            ));
        }
    })
}

impl Runner {
    /// Starts the scenario's server.
    pub async fn start(scenario: Scenario) -> Result<Runner, String> {
        let server = server::start_host(scenario.server).await?;
        Ok(Runner {
            base_url: server.base_url().to_owned(),
            server: Some(server),
            scenario,
            http: Http::new(),
            clients: HashMap::new(),
            cursors: HashMap::new(),
            waits: HashMap::new(),
        })
    }

    fn vars(&self) -> Vars<'_> {
        Vars {
            base_url: &self.base_url,
            clients: &self.clients,
        }
    }

    fn text(&self, text: &str) -> Result<String, String> {
        substitute(text, &self.vars())
    }

    fn value(&self, value: &Value) -> Result<Value, String> {
        substitute_value(value, &self.vars())
    }

    fn matcher(&self, matcher: Option<&Matcher>) -> Result<Matcher, String> {
        match matcher {
            None => Ok(Map::new()),
            Some(m) => match self.value(&Value::Object(m.clone()))? {
                Value::Object(m) => Ok(m),
                _ => unreachable!("an object stays an object"),
            },
        }
    }

    fn test_client(&self, name: &str) -> Result<&TestClient, String> {
        self.clients
            .get(name)
            .ok_or_else(|| format!("no client named {name}"))
    }

    fn handle(&self, name: &str) -> Result<ServerEventsClient, String> {
        self.test_client(name)?.handle().cloned()
    }

    fn subscription_id(&self, name: &str) -> Result<String, String> {
        self.text(&format!("${name}.id"))
    }

    /// Every client's event log, for failure messages.
    pub fn describe_clients(&self) -> String {
        let mut names: Vec<&String> = self.clients.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|name| self.clients[name].recorder.describe(60))
            .collect()
    }

    /// Stops every client and the server.
    pub async fn finish(&mut self) {
        for (_, (_, task)) in self.waits.drain() {
            task.abort();
        }
        let stops: Vec<_> = self
            .clients
            .values()
            .filter_map(|c| c.client.as_ref().map(ServerEventsClient::stop))
            .collect();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(stops),
        )
        .await;
        self.clients.clear();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
        }
    }

    /// Runs one step.
    pub async fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Client(spec) => self.create_client(spec),
            Step::Connect {
                client,
                expect_error,
                timeout_ms,
            } => {
                let handle = self.handle(client)?;
                let result = tokio::time::timeout(timeout_of(*timeout_ms), handle.connect())
                    .await
                    .map_err(|_| {
                        format!("{client}: connect() did not finish within {timeout_ms:?} ms")
                    })?;
                self.check_outcome(client, result.map(|_| ()), expect_error.as_ref())
            }
            Step::Start { client } => self
                .handle(client)?
                .start()
                .map_err(|e| format!("{client}: start() failed: {e}")),
            Step::Stop { client } => {
                let handle = self.handle(client)?;
                tokio::time::timeout(Duration::from_secs(10), handle.stop())
                    .await
                    .map_err(|_| format!("{client}: stop() did not finish within 10 s"))
            }
            Step::Restart { client } => self
                .handle(client)?
                .restart()
                .map_err(|e| format!("{client}: restart() failed: {e}")),
            Step::Pause { client } => {
                self.handle(client)?.pause();
                Ok(())
            }
            Step::Resume { client } => self
                .handle(client)?
                .resume()
                .map_err(|e| format!("{client}: resume() failed: {e}")),
            Step::Drop { client } => {
                let test_client = self
                    .clients
                    .get_mut(client)
                    .ok_or_else(|| format!("no client named {client}"))?;
                test_client
                    .client
                    .take()
                    .map(drop)
                    .ok_or_else(|| format!("{client} was already dropped"))
            }
            Step::SetChannels { client, channels } => self
                .handle(client)?
                .set_channels(channels.clone())
                .map_err(|e| format!("{client}: set_channels failed: {e}")),
            Step::Subscribe { client, channels } => self
                .handle(client)?
                .subscribe_to_channels(channels.clone())
                .await
                .map_err(|e| format!("{client}: subscribe_to_channels({channels:?}) failed: {e}")),
            Step::Unsubscribe { client, channels } => self
                .handle(client)?
                .unsubscribe_from_channels(channels.clone())
                .await
                .map_err(|e| {
                    format!("{client}: unsubscribe_from_channels({channels:?}) failed: {e}")
                }),
            Step::Authenticate {
                client,
                user,
                password,
                expect_error,
            } => {
                let result = self
                    .handle(client)?
                    .authenticate(&self.text(user)?, self.text(password)?)
                    .await;
                self.check_outcome(client, result.map(|_| ()), expect_error.as_ref())
            }
            Step::PostChat {
                from,
                channel,
                message,
                selector,
                to_user_id,
            } => {
                let channel = self.text(channel.as_deref().unwrap_or("*"))?;
                let mut body = json!({
                    "from": self.subscription_id(from)?,
                    "channel": channel,
                    "message": self.text(message)?,
                    "selector": self.text(selector.as_deref().unwrap_or("cmd.chat"))?,
                });
                if let Some(to) = to_user_id {
                    body["toUserId"] = json!(self.text(to)?);
                }
                self.post_service(
                    Some(from),
                    &format!("/channels/{}/chat", encode_segment(&channel)),
                    &body,
                )
                .await
            }
            Step::PostRaw {
                from,
                channel,
                selector,
                message,
            } => {
                let channel = self.text(channel.as_deref().unwrap_or("*"))?;
                let mut body = json!({
                    "from": self.subscription_id(from)?,
                    "channel": channel,
                    "selector": self.text(selector)?,
                });
                if let Some(message) = message {
                    body["message"] = json!(self.text(message)?);
                }
                self.post_service(
                    Some(from),
                    &format!("/channels/{}/raw", encode_segment(&channel)),
                    &body,
                )
                .await
            }
            Step::PostObject {
                channel,
                selector,
                custom_type,
                setter_type,
            } => {
                let channel = self.text(channel.as_deref().unwrap_or("*"))?;
                let mut body = json!({ "channel": channel });
                if let Some(selector) = selector {
                    body["selector"] = json!(self.text(selector)?);
                }
                if let Some(value) = custom_type {
                    body["customType"] = self.value(value)?;
                }
                if let Some(value) = setter_type {
                    body["setterType"] = self.value(value)?;
                }
                self.post_service(
                    None,
                    &format!("/channels/{}/object", encode_segment(&channel)),
                    &body,
                )
                .await
            }
            Step::ResetServer {} => self
                .http
                .post_ok(&format!("{}/reset-serverevents", self.base_url), &json!({}))
                .await
                .map(drop),
            Step::RestartServer {} => self.restart_server().await,
            Step::Http {
                method,
                url,
                body,
                expect_status,
            } => {
                let url = self.text(url)?;
                let body = body.as_ref().map(|b| self.value(b)).transpose()?;
                let reply = self.http.send(method, &url, body.as_ref()).await?;
                if status_matches(expect_status.as_ref(), reply.status)? {
                    Ok(())
                } else {
                    Err(format!(
                        "{method} {url} answered {} (expected {}): {}",
                        reply.status,
                        expect_status
                            .as_ref()
                            .map_or("2xx".to_owned(), Value::to_string),
                        reply.body
                    ))
                }
            }
            Step::Fault { set } => {
                let body = self.value(set)?;
                self.http
                    .post_ok(&format!("{}/test/faults", self.base_url), &body)
                    .await
                    .map(drop)
            }
            Step::RawFrame {
                client,
                text,
                base64,
                parts,
            } => {
                let bytes =
                    self.frame_bytes(text.as_deref(), base64.as_deref(), parts.as_deref())?;
                let id = self.subscription_id(client)?;
                let url = format!("{}/test/raw?id={id}", self.base_url);
                let reply = self.http.post_bytes(&url, bytes).await?;
                if reply.ok() {
                    Ok(())
                } else {
                    Err(format!(
                        "POST {url} answered {}: {}",
                        reply.status, reply.body
                    ))
                }
            }
            Step::CrashNode { client } => {
                let id = self.subscription_id(client)?;
                let url = format!("{}/test/crash-node?id={id}", self.base_url);
                let reply = self.http.post_bytes(&url, Vec::new()).await?;
                if reply.ok() {
                    Ok(())
                } else {
                    Err(format!(
                        "POST {url} answered {}: {}",
                        reply.status, reply.body
                    ))
                }
            }
            Step::RemoveListener {
                client,
                name,
                index,
            } => {
                let test_client = self.test_client(client)?;
                let id = test_client
                    .listeners
                    .get(&(name.clone(), *index))
                    .ok_or_else(|| format!("{client} has no listener {name}[{index}]"))?;
                if test_client.handle()?.remove(*id) {
                    Ok(())
                } else {
                    Err(format!(
                        "{client}: listener {name}[{index}] was not registered"
                    ))
                }
            }
            Step::Expect {
                client,
                kind,
                matcher,
                timeout_ms,
            } => {
                self.expect(client, kind, matcher.as_ref(), timeout_of(*timeout_ms))
                    .await
            }
            Step::ExpectCount {
                client,
                kind,
                count,
                matcher,
                timeout_ms,
            } => {
                self.expect_count(
                    client,
                    kind,
                    *count,
                    matcher.as_ref(),
                    Some(timeout_of(*timeout_ms)),
                )
                .await
            }
            Step::AssertCount {
                client,
                kind,
                count,
                matcher,
            } => {
                self.expect_count(client, kind, *count, matcher.as_ref(), None)
                    .await
            }
            Step::ExpectSubscribers {
                client,
                channels,
                count,
                timeout_ms,
            } => {
                self.expect_subscribers(
                    client,
                    channels.as_deref(),
                    *count,
                    timeout_of(*timeout_ms),
                )
                .await
            }
            Step::AssertClient {
                client,
                channels,
                stream_url_ends_with,
                connected,
                times_started,
                state,
                with_credentials,
            } => {
                if with_credentials.is_some() {
                    return Err("withCredentials is a browser-only check".into());
                }
                let handle = self.handle(client)?;
                let mut problems = Vec::new();
                if let Some(expected) = channels {
                    let actual = handle.channels();
                    if &actual != expected {
                        problems.push(format!("channels are {actual:?}, expected {expected:?}"));
                    }
                }
                if let Some(suffix) = stream_url_ends_with {
                    let url = handle.event_stream_url();
                    if !url.ends_with(&self.text(suffix)?) {
                        problems.push(format!("the stream URL {url} does not end with {suffix}"));
                    }
                }
                let current = handle.state();
                if let Some(expected) = connected {
                    let actual =
                        matches!(current, servicestack_events::ConnectionState::Open { .. });
                    if actual != *expected {
                        problems.push(format!(
                            "connected is {actual} (state {current:?}), expected {expected}"
                        ));
                    }
                }
                if let Some(expected) = times_started {
                    let actual = handle.times_started();
                    if actual != *expected {
                        problems.push(format!("times_started is {actual}, expected {expected}"));
                    }
                }
                if let Some(expected) = state {
                    let actual = state_name(&current);
                    if actual != expected {
                        problems.push(format!("state is {current:?}, expected {expected}"));
                    }
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{client}: {}", problems.join("; ")))
                }
            }
            Step::Concurrent { times, step } => self.concurrent(*times, step).await,
            Step::ServiceGet {
                client,
                path,
                expect_error,
            } => {
                let path = self.text(path)?;
                let result = tokio::time::timeout(
                    DEFAULT_TIMEOUT,
                    self.handle(client)?.service_client().get::<Value>(&path),
                )
                .await
                .map_err(|_| format!("{client}: GET {path} did not finish within 5 s"))?;
                self.check_outcome(client, result.map(drop), expect_error.as_ref())
            }
            Step::WaitNext {
                client,
                kind,
                wait,
                timeout_ms,
            } => self.wait_next(client, kind, wait, Duration::from_millis(*timeout_ms)),
            Step::WaitResult {
                wait,
                matcher,
                expect_error,
            } => {
                self.wait_result(wait, matcher.as_ref(), expect_error.as_ref())
                    .await
            }
            Step::RegisterHandler { client, name } => {
                let test_client = self.test_client(client)?;
                let handler = recording_handler(&test_client.recorder, name, false);
                test_client.handle()?.register_handler(name, handler);
                Ok(())
            }
            Step::RemoveHandler { client, name } => {
                if self.handle(client)?.remove_handler(name) {
                    Ok(())
                } else {
                    Err(format!("{client} had no handler {name} to remove"))
                }
            }
            Step::RegisterReceiver {
                client,
                name: op,
                class,
            } => {
                let test_client = self
                    .clients
                    .get_mut(client)
                    .ok_or_else(|| format!("no client named {client}"))?;
                let receiver = test_client.receivers.build(class)?;
                test_client.handle()?.register_named_receiver(op, receiver);
                Ok(())
            }
            Step::UnregisterReceiver { client, name: op } => {
                if self.handle(client)?.unregister_receiver(op) {
                    Ok(())
                } else {
                    Err(format!("{client} had no receiver for {op} to remove"))
                }
            }
            Step::AddListener { client, name } => {
                let test_client = self
                    .clients
                    .get_mut(client)
                    .ok_or_else(|| format!("no client named {client}"))?;
                let next = test_client.listener_counts.entry(name.clone()).or_default();
                let index = *next;
                *next += 1;
                let listener = recording_listener(&test_client.recorder, name, index);
                let id = test_client.handle()?.add_listener(name, listener);
                test_client.listeners.insert((name.clone(), index), id);
                Ok(())
            }
            Step::RemoveAllRegistrations { client } => {
                self.handle(client)?.remove_all_registrations();
                Ok(())
            }
            Step::AssertGaps {
                client,
                kind,
                matcher,
                min_ms,
                max_ms,
            } => self.assert_gaps(client, kind, matcher.as_ref(), *min_ms, *max_ms),
        }
    }

    /// Starts the SDK's `wait_for_next_*` now (so it is registered before the next step) and
    /// keeps its outcome, as fields, for `wait_result`.
    fn wait_next(
        &mut self,
        client: &str,
        kind: &str,
        wait: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let handle = self.handle(client)?;
        let task = match kind {
            "message" => {
                let next = handle.wait_for_next_message(timeout);
                tokio::spawn(async move { next.await.map(|m| message_fields(&m)) })
            }
            "command" => {
                let next = handle.wait_for_next_command(timeout);
                tokio::spawn(async move {
                    next.await.map(|command| {
                        let mut fields = command_fields(&command);
                        fields.insert("kind".into(), json!(command_kind(&command)));
                        fields
                    })
                })
            }
            "heartbeat" => {
                let next = handle.wait_for_next_heartbeat(timeout);
                tokio::spawn(async move { next.await.map(|h| heartbeat_fields(&h)) })
            }
            other => return Err(format!("wait_next cannot wait for {other}")),
        };
        self.waits
            .insert(wait.to_owned(), (timeout, task))
            .map_or(Ok(()), |_| {
                Err(format!("the wait {wait} was started twice"))
            })
    }

    async fn wait_result(
        &mut self,
        wait: &str,
        matcher: Option<&Matcher>,
        expect_error: Option<&Map<String, Value>>,
    ) -> Result<(), String> {
        let (timeout, task) = self
            .waits
            .remove(wait)
            .ok_or_else(|| format!("no running wait named {wait}"))?;
        // The SDK's own timeout ends the wait; the extra time only guards against a hang.
        let outcome = tokio::time::timeout(timeout + DEFAULT_TIMEOUT, task)
            .await
            .map_err(|_| {
                format!(
                    "the wait {wait} did not end within its {} ms timeout (+5 s)",
                    timeout.as_millis()
                )
            })?
            .map_err(|e| format!("the wait {wait} failed: {e}"))?;
        match (outcome, expect_error) {
            (Ok(fields), None) => {
                let fields = Value::Object(fields);
                let matcher = self.matcher(matcher)?;
                if matches(&fields, &matcher)? {
                    Ok(())
                } else {
                    Err(format!(
                        "the wait {wait} ended with {fields}, which does not match {}",
                        Value::Object(matcher)
                    ))
                }
            }
            (result, expected) => self.check_outcome(wait, result.map(drop), expected),
        }
    }

    fn assert_gaps(
        &self,
        client: &str,
        kind: &str,
        matcher: Option<&Matcher>,
        min_ms: u64,
        max_ms: u64,
    ) -> Result<(), String> {
        let matcher = self.matcher(matcher)?;
        let times = self.test_client(client)?.recorder.with(|events| {
            Self::filter(events, kind, &matcher)
                .map(|item| item.map(|(_, event)| event.at))
                .collect::<Result<Vec<_>, _>>()
        })?;
        if times.len() < 2 {
            return Err(format!(
                "{client}: {} {kind} events match {}, at least 2 are needed to measure a gap",
                times.len(),
                Value::Object(matcher)
            ));
        }
        let gaps: Vec<u128> = times
            .windows(2)
            .map(|pair| pair[1].duration_since(pair[0]).as_millis())
            .collect();
        if gaps
            .iter()
            .all(|gap| (u128::from(min_ms)..=u128::from(max_ms)).contains(gap))
        {
            Ok(())
        } else {
            Err(format!(
                "{client}: the gaps between {kind} events are {gaps:?} ms, expected each within {min_ms}..={max_ms} ms"
            ))
        }
    }

    fn create_client(&mut self, spec: &ClientSpec) -> Result<(), String> {
        if spec.with_credentials.is_some() {
            return Err("withCredentials is a browser-only option".into());
        }
        let base_url = match &spec.base_url {
            Some(url) => self.text(url)?,
            None => self.base_url.clone(),
        };
        let client = TestClient::new(spec, &base_url)?;
        self.clients.insert(spec.id.clone(), client);
        Ok(())
    }

    /// Compares an outcome with an optional expected error.
    fn check_outcome(
        &self,
        client: &str,
        result: Result<(), servicestack_events::Error>,
        expected: Option<&Map<String, Value>>,
    ) -> Result<(), String> {
        match (result, expected) {
            (Ok(()), None) => Ok(()),
            (Ok(()), Some(expected)) => Err(format!(
                "{client}: succeeded, but an error matching {} was expected",
                Value::Object(expected.clone())
            )),
            (Err(error), None) => Err(format!("{client}: failed: {error}")),
            (Err(error), Some(expected)) => {
                let fields = Value::Object(error_fields(&error));
                if matches(&fields, &self.matcher(Some(expected))?)? {
                    Ok(())
                } else {
                    Err(format!(
                        "{client}: the error {fields} does not match {}",
                        Value::Object(expected.clone())
                    ))
                }
            }
        }
    }

    /// POSTs a test service: through the `from` client's service client when it still exists
    /// (as the upstream helpers do), otherwise through the test's own HTTP client.
    async fn post_service(
        &self,
        from: Option<&str>,
        path: &str,
        body: &Value,
    ) -> Result<(), String> {
        let handle = from.and_then(|name| self.handle(name).ok());
        match handle {
            Some(handle) => handle
                .service_client()
                .post::<_, Value>(path, body)
                .await
                .map(drop)
                .map_err(|e| format!("POST {path} {body} failed: {e}")),
            None => self
                .http
                .post_ok(&format!("{}{path}", self.base_url), body)
                .await
                .map(drop),
        }
    }

    fn frame_bytes(
        &self,
        text: Option<&str>,
        base64: Option<&str>,
        parts: Option<&[FramePart]>,
    ) -> Result<Vec<u8>, String> {
        let one = |text: Option<&str>, base64: Option<&str>| -> Result<Vec<u8>, String> {
            match (text, base64) {
                (Some(text), None) => Ok(self.text(text)?.into_bytes()),
                (None, Some(encoded)) => decode_base64(encoded),
                _ => Err("a frame part needs exactly one of text and base64".into()),
            }
        };
        match parts {
            None => one(text, base64),
            Some(parts) => {
                let mut bytes = Vec::new();
                for part in parts {
                    let piece = one(part.text.as_deref(), part.base64.as_deref())?;
                    for _ in 0..part.repeat.unwrap_or(1) {
                        bytes.extend_from_slice(&piece);
                    }
                }
                Ok(bytes)
            }
        }
    }

    async fn restart_server(&mut self) -> Result<(), String> {
        let server = match self.server.take() {
            Some(server::Host::Single(server)) => server,
            Some(cluster @ server::Host::Cluster(_)) => {
                self.server = Some(cluster);
                return Err("restart_server is not supported on the cluster profile".into());
            }
            None => return Err("the server is not running".to_owned()),
        };
        let addr = server.addr();
        tokio::time::timeout(Duration::from_secs(10), server.shutdown())
            .await
            .map_err(|_| "the server did not shut down within 10 s".to_owned())?;
        let config = server::config(self.scenario.server);
        // The port was just released; give the OS a few tries to hand it back.
        let mut last_error = String::new();
        for _ in 0..50 {
            match TestServer::start_at(addr, config.clone()).await {
                Ok(server) => {
                    self.server = Some(server::Host::Single(server));
                    return Ok(());
                }
                Err(e) => {
                    last_error = e.to_string();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(format!(
            "the server could not start again on {addr}: {last_error}"
        ))
    }

    fn filter<'a>(
        events: &'a [Event],
        kind: &'a str,
        matcher: &'a Matcher,
    ) -> impl Iterator<Item = Result<(usize, &'a Event), String>> + 'a {
        events
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.kind == kind)
            .filter_map(move |(i, e)| match matches(&e.fields, matcher) {
                Ok(true) => Some(Ok((i, e))),
                Ok(false) => None,
                Err(reason) => Some(Err(reason)),
            })
    }

    async fn expect(
        &mut self,
        client: &str,
        kind: &str,
        matcher: Option<&Matcher>,
        timeout: Duration,
    ) -> Result<(), String> {
        let matcher = self.matcher(matcher)?;
        let key = (client.to_owned(), kind.to_owned());
        let after = self.cursors.get(&key).copied();
        let recorder = self.test_client(client)?.recorder.clone();
        let found = recorder
            .wait_for(timeout, |events| {
                Self::filter(events, kind, &matcher)
                    .find(|item| match item {
                        Ok((index, _)) => after.is_none_or(|a| *index > a),
                        Err(_) => true,
                    })
                    .map(|item| item.map(|(index, _)| index))
            })
            .await;
        match found {
            Some(Ok(index)) => {
                self.cursors.insert(key, index);
                Ok(())
            }
            Some(Err(reason)) => Err(reason),
            None => Err(format!(
                "{client}: no {kind} event matching {} arrived {}within {} ms",
                Value::Object(matcher),
                after.map_or(String::new(), |a| format!("after event #{a} ")),
                timeout.as_millis()
            )),
        }
    }

    async fn expect_count(
        &self,
        client: &str,
        kind: &str,
        count: usize,
        matcher: Option<&Matcher>,
        timeout: Option<Duration>,
    ) -> Result<(), String> {
        let matcher = self.matcher(matcher)?;
        let recorder = self.test_client(client)?.recorder.clone();
        let counting = |events: &[Event]| -> Result<usize, String> {
            Self::filter(events, kind, &matcher).try_fold(0, |n, item| item.map(|_| n + 1))
        };
        if let Some(timeout) = timeout {
            recorder
                .wait_for(timeout, |events| match counting(events) {
                    Ok(n) if n < count => None,
                    other => Some(other),
                })
                .await;
        }
        let actual = recorder.with(counting)?;
        if actual == count {
            Ok(())
        } else {
            Err(format!(
                "{client}: {actual} {kind} events match {}, expected exactly {count}{}",
                Value::Object(matcher),
                timeout.map_or(String::new(), |t| format!(
                    " (waited up to {} ms)",
                    t.as_millis()
                ))
            ))
        }
    }

    async fn expect_subscribers(
        &self,
        client: &str,
        channels: Option<&[String]>,
        count: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            last = match channels {
                // Through the client, with its credentials: on a server limited to signed-in
                // users the list is not public. A dropped client asks with a plain call.
                Some(channels) => match self.handle(client) {
                    Ok(handle) => {
                        let channels: Vec<String> = channels
                            .iter()
                            .map(|c| self.text(c))
                            .collect::<Result<_, _>>()?;
                        handle
                            .get_subscribers(&channels)
                            .await
                            .map(|list| list.len())
                            .map_err(|e| {
                                format!("{client}: get_subscribers({channels:?}) failed: {e}")
                            })
                    }
                    Err(_) => {
                        let channels: Vec<String> = channels
                            .iter()
                            .map(|c| self.text(c).map(|c| encode_segment(&c)))
                            .collect::<Result<_, _>>()?;
                        let url = format!(
                            "{}/event-subscribers?channels={}",
                            self.base_url,
                            channels.join(",")
                        );
                        let reply = self.http.get(&url).await?;
                        match reply.json() {
                            Value::Array(list) => Ok(list.len()),
                            _ => Err(format!(
                                "GET {url} answered {}: {}",
                                reply.status, reply.body
                            )),
                        }
                    }
                },
                None => self
                    .handle(client)?
                    .get_channel_subscribers()
                    .await
                    .map(|list| list.len())
                    .map_err(|e| format!("{client}: get_channel_subscribers failed: {e}")),
            };
            if last == Ok(count) || Instant::now() >= deadline {
                break;
            }
            // The server state changes asynchronously (unregisters, expiries): poll it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match last {
            Ok(n) if n == count => Ok(()),
            Ok(n) => Err(format!(
                "{client}: the server lists {n} subscribers of {}, expected {count} (waited {} ms)",
                channels.map_or_else(|| format!("{client}'s channels"), |c| format!("{c:?}")),
                timeout.as_millis()
            )),
            Err(e) => Err(e),
        }
    }

    async fn concurrent(&self, times: usize, step: &Step) -> Result<(), String> {
        let name = match step {
            Step::Start { client }
            | Step::Stop { client }
            | Step::Restart { client }
            | Step::Pause { client }
            | Step::Resume { client } => client,
            other => return Err(format!("{} cannot run concurrently", other.op())),
        };
        let handle = self.handle(name)?;
        let barrier = Arc::new(std::sync::Barrier::new(times));
        let runtime = tokio::runtime::Handle::current();
        let threads: Vec<_> = (0..times)
            .map(|_| {
                let handle = handle.clone();
                let barrier = barrier.clone();
                let runtime = runtime.clone();
                let step = step.clone();
                std::thread::spawn(move || -> Result<(), String> {
                    barrier.wait();
                    match step {
                        Step::Start { .. } => handle.start().map_err(|e| e.to_string()),
                        Step::Restart { .. } => handle.restart().map_err(|e| e.to_string()),
                        Step::Resume { .. } => handle.resume().map_err(|e| e.to_string()),
                        Step::Pause { .. } => {
                            handle.pause();
                            Ok(())
                        }
                        _ => {
                            let stopped = handle.stop();
                            runtime.block_on(async {
                                tokio::time::timeout(Duration::from_secs(10), stopped)
                                    .await
                                    .map_err(|_| "stop() did not finish within 10 s".to_owned())
                            })
                        }
                    }
                })
            })
            .collect();
        let joined = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|_| Err("a thread panicked".into())))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| format!("joining the threads failed: {e}"))?;
        let errors: Vec<String> = joined.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{name}: {} of {times} calls failed: {errors:?}",
                errors.len()
            ))
        }
    }
}
