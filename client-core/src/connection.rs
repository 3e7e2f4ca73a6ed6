//! The connection task: one per running client. It owns the event stream, the heartbeat and idle
//! timers (their rules are `supervisor::timers`) and the reconnect loop, and reports every
//! transition to the lifecycle.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::auth::BoxFuture;
use crate::authorized_http::AuthorizedHttp;
use crate::client::{Shared, WeakClient};
use crate::error::{Error, redact_url};
use crate::http_client::EventBytes;
use crate::message::{Incoming, ServerEventConnect, ServerEventMessage};
use crate::rt::{self, Clock as Instant};
use crate::sse::{SseDecoder, SseError};
use crate::state::{CloseReason, ConnectionState, ReconnectInfo};
use crate::supervisor::timers::{Arm, FOREVER, HeartbeatDue, Limits, Silence, Watch};
use crate::supervisor::{Control, Decision, Desired};
use crate::transport::{Body, Method};
use crate::watch;

pub(crate) async fn run(shared: Arc<Shared>, client: WeakClient) {
    // The span names the server in every event the task logs. The wasm build compiles tracing
    // out (nothing subscribes in a browser), where the span would be dead weight in the module.
    #[cfg(not(target_arch = "wasm32"))]
    let span =
        tracing::info_span!("server_events", base_url = %redact_url(&shared.config.base_url));
    let control = shared.lifecycle.control();
    let seen_generation = control.borrow().restart_generation;
    let task = Task {
        decoder: SseDecoder::with_max_event_size(shared.config.max_event_size),
        seen_generation,
        shared,
        client,
        control,
        failures: 0,
        lost: None,
        connected_at: None,
    };
    #[cfg(not(target_arch = "wasm32"))]
    tracing::Instrument::instrument(task.run(), span).await;
    #[cfg(target_arch = "wasm32")]
    task.run().await;
}

/// Why one connection ended.
enum Ended {
    /// Stop, pause or restart was requested.
    Control,
    /// The connection failed.
    Failed(Error),
    /// The server forgot the subscription (reported when it was learnt, before the drain).
    Gone(Error),
}

/// A subscription the client lost and has not replaced yet.
struct Lost {
    subscription_id: Option<String>,
    cause: Option<Error>,
    at: Instant,
    attempts: u32,
}

/// What the stream told us in `cmd.onConnect`.
struct Live {
    subscription_id: String,
    heartbeat_url: Option<String>,
    limits: Limits,
}

/// What woke the reading loop (see `Task::read`).
enum Woke {
    Control,
    HeartbeatAnswered(Result<(), Error>),
    HeartbeatTimer,
    SilenceTimer,
    Chunk(Option<Result<Bytes, Error>>),
}

struct Task {
    shared: Arc<Shared>,
    client: WeakClient,
    control: watch::Receiver<Control>,
    seen_generation: u64,
    decoder: SseDecoder,
    failures: u32,
    lost: Option<Lost>,
    connected_at: Option<Instant>,
}

impl Task {
    async fn run(mut self) {
        loop {
            let control = self.control.borrow_and_update().clone();
            if control.restart_generation != self.seen_generation {
                self.seen_generation = control.restart_generation;
                self.failures = 0;
            }
            match control.desired {
                Desired::Stop(reason) => {
                    if self.finish(reason).await {
                        return;
                    }
                    continue;
                }
                Desired::Pause => {
                    self.release_subscription(None).await;
                    self.shared
                        .lifecycle
                        .set_state(ConnectionState::Paused, &self.shared.dispatcher);
                    let _ = self.control.changed().await;
                    continue;
                }
                Desired::Run => {}
            }
            match self.connect_and_read().await {
                Ended::Control => {
                    let control = self.control.borrow().clone();
                    if control.desired == Desired::Run {
                        // A restart: drop this subscription and connect again at once.
                        self.abandon_subscription(None);
                    }
                }
                Ended::Failed(error) => self.on_failure(error, true).await,
                Ended::Gone(error) => self.on_failure(error, false).await,
            }
        }
    }

    /// Whether the latest control change needs the current connection to end.
    fn control_requires_action(&self) -> bool {
        let control = self.control.borrow();
        control.desired != Desired::Run || control.restart_generation != self.seen_generation
    }

    async fn connect_and_read(&mut self) -> Ended {
        let attempt = self.failures + 1;
        self.shared
            .lifecycle
            .attempt(attempt, &self.shared.dispatcher);
        if let Some(lost) = &mut self.lost {
            lost.attempts += 1;
        }
        let url = self.shared.event_stream_url();
        tracing::debug!(url = %redact_url(&url), attempt, "opening event stream");
        let mut control = self.control.clone();
        let stream = loop {
            // The control first: a stop or restart wins over a stream that opens at once. A
            // change that needs no action opens the stream afresh, as before.
            let mut opening = pin!(self.shared.transport.open_stream(&url));
            let opened = poll_fn(|cx| {
                if control.poll_changed(cx).is_ready() {
                    return Poll::Ready(None);
                }
                opening.as_mut().poll(cx).map(Some)
            })
            .await;
            match opened {
                None if self.control_requires_action() => return Ended::Control,
                None => {}
                Some(Ok(stream)) => break stream,
                Some(Err(error)) => return Ended::Failed(error),
            }
        };
        self.decoder.reset();
        self.read(stream).await
    }

    async fn read(&mut self, mut stream: EventBytes) -> Ended {
        let mut control = self.control.clone();
        let mut live: Option<Live> = None;
        let (mut watch, first) =
            Watch::opened(self.shared.transport.connect_timeout(), Instant::now());
        // Timers are armed when their deadline changes, not once per chunk: at high message
        // rates re-arming two timers for every chunk costs more than decoding it.
        let mut silence_timer = pin!(rt::sleep(FOREVER));
        let mut heartbeat_timer = pin!(rt::sleep(FOREVER));
        macro_rules! arm {
            ($arm:expr) => {{
                let arm: Arm = $arm;
                if let Some(after) = arm.heartbeat {
                    heartbeat_timer.set(rt::sleep(after));
                }
                if let Some(after) = arm.silence {
                    silence_timer.set(rt::sleep(after));
                }
            }};
        }
        arm!(first);
        let mut heartbeat: Option<BoxFuture<'static, Result<(), Error>>> = None;
        loop {
            // In this order: the control, the heartbeat request, the heartbeat timer (while
            // armed), the silence timer, and last the stream, so a stream that always has data
            // cannot starve the timers.
            let woke = poll_fn(|cx| {
                if control.poll_changed(cx).is_ready() {
                    return Poll::Ready(Woke::Control);
                }
                if let Some(request) = &mut heartbeat
                    && let Poll::Ready(result) = request.as_mut().poll(cx)
                {
                    return Poll::Ready(Woke::HeartbeatAnswered(result));
                }
                if watch.heartbeat_armed() && heartbeat_timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::HeartbeatTimer);
                }
                if silence_timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::SilenceTimer);
                }
                stream.poll_next_unpin(cx).map(Woke::Chunk)
            })
            .await;
            match woke {
                Woke::Control => {
                    if self.control_requires_action() {
                        return Ended::Control;
                    }
                }
                Woke::HeartbeatAnswered(result) => {
                    heartbeat = None;
                    match result {
                        Ok(()) => arm!(watch.heartbeat_answered()),
                        Err(error @ Error::SubscriptionGone { .. }) => {
                            // Frames the server wrote before it dropped the subscription (to a
                            // busy client) may still be unread: drain them first.
                            self.shared.dispatcher.report(&error);
                            arm!(watch.subscription_gone(error, Instant::now()));
                        }
                        Err(error) => return Ended::Failed(error),
                    }
                }
                Woke::HeartbeatTimer => match watch.heartbeat_timer() {
                    HeartbeatDue::DrainOver(error) => {
                        return self.stream_ended(Some(error), Error::StreamEnded);
                    }
                    HeartbeatDue::Send => {
                        if let Some(live) = &live
                            && let Some(url) = &live.heartbeat_url
                        {
                            heartbeat = Some(send_heartbeat(
                                self.shared.transport.clone(),
                                url.clone(),
                                live.subscription_id.clone(),
                            ));
                        }
                    }
                },
                Woke::SilenceTimer => match watch.silence_timer(Instant::now()) {
                    Silence::Rearm(after) => silence_timer.set(rt::sleep(after)),
                    Silence::DrainOver(error) => {
                        return self.stream_ended(Some(error), Error::StreamEnded);
                    }
                    Silence::Dead(error) => return Ended::Failed(error),
                },
                Woke::Chunk(chunk) => match chunk {
                    Some(Ok(bytes)) => {
                        watch.data(Instant::now());
                        if let Some(connected) = self.dispatch_chunk(&bytes) {
                            heartbeat = None;
                            arm!(watch.connected(connected.limits));
                            live = Some(connected);
                        }
                    }
                    Some(Err(error)) => return self.stream_ended(watch.take_gone(), error),
                    None => return self.stream_ended(watch.take_gone(), Error::StreamEnded),
                },
            }
        }
    }

    /// Why the stream ended: the server's slow-consumer note names the cause whatever the
    /// connection did next (an abort, an end, a heartbeat 404 before either); else a dropped
    /// subscription, else `error`.
    fn stream_ended(&self, gone: Option<Error>, error: Error) -> Ended {
        if let Some(note) = self.decoder.slow_consumer() {
            return Ended::Failed(Error::SlowConsumer {
                limit_bytes: note.limit_bytes,
            });
        }
        gone.map_or(Ended::Failed(error), Ended::Gone)
    }

    /// Decodes and dispatches one chunk; returns the new connection when it held `cmd.onConnect`.
    fn dispatch_chunk(&mut self, bytes: &[u8]) -> Option<Live> {
        // `None` once the last handle is gone: the task is stopping, but a subscription that
        // arrives now must still be recorded so that it gets unregistered.
        let client = self.client.upgrade();
        let Task {
            shared,
            decoder,
            lost,
            connected_at,
            ..
        } = self;
        let mut connected = None;
        decoder.feed(bytes, |event| {
            let event = match event {
                Ok(event) => event,
                Err(SseError::EventTooLarge { limit }) => {
                    shared.dispatcher.report(&Error::EventTooLarge { limit });
                    return;
                }
                Err(SseError::InvalidUtf8 { id }) => {
                    shared
                        .dispatcher
                        .report(&Error::InvalidUtf8 { event_id: id });
                    return;
                }
            };
            let event_id = event.id.parse().unwrap_or(0);
            let incoming = ServerEventMessage::parse(event_id, event.data.to_owned())
                .and_then(Incoming::classify);
            match incoming {
                Err(error) => shared.dispatcher.report(&error),
                Ok(Incoming::Connect(info)) => {
                    *connected_at = Some(Instant::now());
                    connected = Some(on_connected(shared, lost.take(), &info));
                }
                Ok(Incoming::Heartbeat(heartbeat)) => shared.dispatcher.heartbeat(&heartbeat),
                Ok(Incoming::Command(command)) => shared.dispatcher.command(&command),
                Ok(Incoming::Message(message)) => {
                    if let Some(client) = &client {
                        shared.dispatcher.message(client, &message);
                    }
                }
            }
        });
        connected
    }

    async fn on_failure(&mut self, error: Error, report: bool) {
        let healthy_for = self.connected_at.take().map(|opened| opened.elapsed());
        self.abandon_subscription(Some(error.clone()));
        match &error {
            // A server closing the stream is how ServiceStack ends a subscription; it is
            // visible in the state, not an exception.
            Error::StreamEnded => tracing::info!("the server closed the event stream"),
            other if report => self.shared.dispatcher.report(other),
            _ => {}
        }
        let retry_field = self.decoder.retry_ms().map(Duration::from_millis);
        let decision = self.shared.lifecycle.failed(
            &self.shared.config.reconnect,
            &error,
            self.failures,
            healthy_for,
            retry_field,
            &self.shared.dispatcher,
        );
        let Decision::Wait { delay, failures } = decision else {
            return;
        };
        self.failures = failures;
        tracing::info!(%error, attempt = self.failures, ?delay, "reconnecting");
        self.shared
            .lifecycle
            .reconnecting(failures, delay, error, &self.shared.dispatcher);
        let mut control = self.control.clone();
        let mut wait = pin!(rt::sleep(delay));
        // A control change (stop, restart, pause) ends the wait early.
        poll_fn(|cx| {
            if control.poll_changed(cx).is_ready() || wait.as_mut().poll(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Forgets the current subscription and unregisters it in the background, so a dead
    /// network cannot delay the reconnect.
    fn abandon_subscription(&mut self, cause: Option<Error>) {
        let previous = self.shared.lifecycle.take_connection();
        if let Some(info) = previous {
            self.remember_lost(&info, cause);
            let spawner = self.shared.lifecycle.spawner();
            if let (Some(url), Some(spawner)) = (info.unregister_url, spawner) {
                let transport = self.shared.transport.clone();
                spawner.spawn(async move { unregister(&transport, &url).await });
            }
        }
    }

    fn remember_lost(&mut self, info: &ServerEventConnect, cause: Option<Error>) {
        if self.lost.is_none() {
            self.lost = Some(Lost {
                subscription_id: Some(info.id.clone()),
                cause,
                at: Instant::now(),
                attempts: 0,
            });
        }
    }

    /// Forgets the current subscription and unregisters it, waiting for the server's answer.
    async fn release_subscription(&mut self, cause: Option<Error>) {
        let previous = self.shared.lifecycle.take_connection();
        if let Some(info) = &previous {
            self.remember_lost(info, cause);
            if let Some(url) = &info.unregister_url {
                unregister(&self.shared.transport, url).await;
            }
        }
    }

    /// Ends the task unless a start raced in; returns whether it ended.
    async fn finish(&mut self, reason: CloseReason) -> bool {
        self.release_subscription(None).await;
        self.lost = None;
        if !self
            .shared
            .lifecycle
            .finish(&reason, &self.shared.dispatcher)
        {
            return false;
        }
        if matches!(reason, CloseReason::Disposed | CloseReason::Dropped) {
            self.shared.dispatcher.close_observers();
        }
        tracing::info!("stopped");
        true
    }
}

/// Records a new connection, then runs the connect (and reconnect) callbacks, which can
/// therefore see it.
fn on_connected(shared: &Shared, lost: Option<Lost>, info: &ServerEventConnect) -> Live {
    // Credentials stay with their origin: server-given URLs elsewhere are moved or refused.
    let info = &shared
        .config
        .origin_policy
        .checked_connect(info, |problem| shared.dispatcher.report(problem));
    shared.lifecycle.connected(info, &shared.dispatcher);
    tracing::info!(subscription_id = %info.id, "connected");
    shared.dispatcher.connected(info);
    if let Some(lost) = lost {
        shared.dispatcher.reconnected(&ReconnectInfo {
            previous_subscription_id: lost.subscription_id,
            subscription_id: info.id.clone(),
            attempts: lost.attempts,
            cause: lost.cause,
            possible_gap: true,
            disconnected_for: lost.at.elapsed(),
        });
    }
    Live {
        subscription_id: info.id.clone(),
        heartbeat_url: info.heartbeat_url.clone(),
        limits: Limits {
            heartbeat_interval: shared
                .config
                .heartbeat_interval
                .unwrap_or(info.heartbeat_interval),
            idle_timeout: shared.config.idle_timeout.unwrap_or(info.idle_timeout),
            heartbeats: info.heartbeat_url.is_some(),
        },
    }
}

fn send_heartbeat(
    transport: Arc<AuthorizedHttp>,
    url: String,
    subscription_id: String,
) -> BoxFuture<'static, Result<(), Error>> {
    Box::pin(async move {
        match transport.call(Method::Post, &url, Body::Empty).await {
            Ok(_) => Ok(()),
            Err(Error::Http { status: 404, .. }) => {
                Err(Error::SubscriptionGone { subscription_id })
            }
            Err(error) => Err(error),
        }
    })
}

async fn unregister(transport: &AuthorizedHttp, url: &str) {
    match transport.call(Method::Post, url, Body::Empty).await {
        Ok(_) | Err(Error::Http { status: 404, .. }) => {}
        Err(error) => tracing::debug!(%error, "unregister failed"),
    }
}
