//! The `sse:topic` subscriber of one node (ServiceStack's `RedisPubSubServer`), and the
//! cluster sweep.
//!
//! The listener owns a dedicated pub/sub connection. When it drops (Redis stopped or
//! restarted) or stays silent for [`SILENCE_LIMIT`] although [`CTRL_PULSE_EVERY`] keeps it
//! fed (a half-open connection), it reconnects with backoff, then re-reads Redis's clock and
//! re-indexes this node's subscriptions (a restarted Redis may have lost them all), then sweeps.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use redis::AsyncCommands as _;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::record::{Record, ticks};
use super::topic::{self, Kind, TopicMessage};
use super::{IDS_KEY, Op, RedisProvider, TOPIC, id_key, timed};
use crate::registry::{Shared, Target};

/// How often this node publishes `CTRL:PULSE` (ServiceStack's `HeartbeatInterval`).
const CTRL_PULSE_EVERY: Duration = Duration::from_secs(10);
/// No message at all for this long: the connection is presumed dead (`HeartbeatTimeout`).
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// Reconnect backoff: doubles from the first value up to the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// Starts the listener; the returned receiver fires once it first subscribed.
pub(super) fn start(
    provider: Arc<RedisProvider>,
    cancel: CancellationToken,
) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(listen(provider, cancel, tx));
    rx
}

async fn listen(
    provider: Arc<RedisProvider>,
    cancel: CancellationToken,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut backoff = BACKOFF_FIRST;
    let mut first = true;
    loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            c = timed("SUBSCRIBE", async {
                let mut pubsub = provider.client.get_async_pubsub().await?;
                // One connection for both, so barrier tokens are read in order with the topic.
                pubsub.subscribe(&[TOPIC, provider.barriers.channel()]).await?;
                Ok(pubsub)
            }) => c,
        };
        let pubsub = match connected {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("{e}; retrying in {backoff:?}");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_CAP);
                continue;
            }
        };
        backoff = BACKOFF_FIRST;
        if let Err(e) = provider.sync_clock().await {
            tracing::warn!("{e}");
        }
        if !first {
            tracing::info!("resubscribed to {TOPIC}; re-indexing this node's subscriptions");
            provider.reindex();
        }
        first = false;
        provider.subscribed.store(true, Ordering::Release);
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        let mut messages = pubsub.into_on_message();
        let mut ctrl = tokio::time::interval(CTRL_PULSE_EVERY);
        ctrl.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ctrl.tick() => provider.queue(Op::Publish("CTRL:PULSE".into())),
                msg = tokio::time::timeout(SILENCE_LIMIT, messages.next()) => match msg {
                    Ok(Some(msg)) => {
                        let Some(shared) = provider.shared() else { return };
                        // A test's pause (`Faults::pause_cluster_topic`): the message waits.
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = shared.faults.cluster_topic_open() => {}
                        }
                        if msg.get_channel_name() == provider.barriers.channel() {
                            provider.barriers.passed(msg.get_payload_bytes());
                            continue;
                        }
                        match std::str::from_utf8(msg.get_payload_bytes()) {
                            Ok(text) => apply(&shared, text),
                            Err(_) => tracing::warn!("{TOPIC}: a message that is not UTF-8, ignored"),
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("lost the {TOPIC} subscription; reconnecting");
                        break;
                    }
                    Err(_) => {
                        tracing::warn!("no {TOPIC} traffic for {SILENCE_LIMIT:?}; reconnecting");
                        break;
                    }
                }
            }
        }
        provider.subscribed.store(false, Ordering::Release);
        // Tokens in flight may be lost with the connection.
        provider.barriers.fail_all();
    }
}

/// Applies one topic message to this node's streams.
pub(super) fn apply(shared: &Shared, text: &str) {
    let msg = match topic::parse(text) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("{e}: {:?}", text.chars().take(120).collect::<String>());
            return;
        }
    };
    match msg {
        TopicMessage::Control => {}
        TopicMessage::Notify {
            kind,
            who,
            selector,
            filter,
            body,
        } => {
            let target = match kind {
                Kind::All => Target::All,
                Kind::Channel => Target::Channel(&who),
                Kind::Subscription => Target::Subscription(&who),
                Kind::UserId => Target::UserId(&who),
                Kind::UserName => Target::UserName(&who),
                Kind::Session => Target::Session(&who),
            };
            shared.deliver(target, &selector, &Bytes::from(body), filter.as_deref());
        }
        TopicMessage::Unregister(id) => {
            if let Some(sub) = shared.get(&id) {
                shared.unregister_sub(&sub);
            }
        }
        TopicMessage::Pulse(id) => {
            // The echo leaves at once (ServiceStack defers it to the next request).
            shared.pulse(&id);
        }
        TopicMessage::Subscribe(id, channels) => {
            if let Some(sub) = shared.get(&id) {
                shared.subscribe_to_channels_from_topic(&sub, &channels);
            }
        }
        TopicMessage::Unsubscribe(id, channels) => {
            if let Some(sub) = shared.get(&id) {
                shared.unsubscribe_from_channels(&sub, &channels);
            }
        }
    }
}

/// Sweeps the cluster every housekeeping interval (ServiceStack sweeps only when its pub/sub
/// loop restarts, so a dead node's subscriptions stay until then).
pub(super) async fn sweeper(
    provider: Arc<RedisProvider>,
    cancel: CancellationToken,
    every: Duration,
) {
    let mut interval = tokio::time::interval(every.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        if !provider.subscribed.load(Ordering::Acquire) {
            continue;
        }
        match sweep(&provider).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("swept {n} subscription(s) of nodes that stopped pulsing"),
            Err(e) => tracing::warn!("cluster sweep: {e}"),
        }
    }
}

/// Removes every subscription whose score is older than the idle timeout plus one
/// housekeeping interval (its owner, if alive, would have expired it by then), announcing the
/// leave once (whoever deletes the record announces it). Returns how many were removed.
pub(super) async fn sweep(provider: &RedisProvider) -> Result<usize, super::ProviderError> {
    let Some(shared) = provider.shared() else {
        return Ok(0);
    };
    let grace = shared.config.idle_timeout + shared.config.housekeeping_interval;
    let cutoff_ms = provider
        .now_ms()
        .saturating_sub(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX));
    let mut conn = provider.conn.clone();
    let stale: Vec<String> = timed(
        "ZRANGEBYSCORE",
        conn.zrangebyscore(IDS_KEY, "-inf", ticks(cutoff_ms)),
    )
    .await?;
    let stale: Vec<String> = stale
        .into_iter()
        .filter(|id| shared.get(id).is_none())
        .collect();
    let mut removed = 0;
    for id in stale {
        let key = id_key(&id);
        let json: Option<Vec<u8>> = timed("GET", conn.get(&key)).await?;
        let Some(record) = json.and_then(|j| Record::parse(&key, &j)) else {
            // A score without a record (ServiceStack leaks these for good).
            timed("ZREM", conn.zrem::<_, _, ()>(IDS_KEY, &id)).await?;
            removed += 1;
            continue;
        };
        if !timed("cleanup", RedisProvider::remove(&mut conn, &record)).await? {
            continue;
        }
        removed += 1;
        // In case its owner is alive after all, then the leave its owner would have sent.
        provider.queue(Op::Publish(topic::control("unregister", &id, None)));
        if shared.config.notify_channel_of_subscriptions {
            let meta = record.meta_json();
            for ch in &record.channels {
                if let Some(text) = topic::notify(Target::Channel(ch), "cmd.onLeave", &meta, None) {
                    provider.queue(Op::Publish(text));
                }
            }
        }
    }
    Ok(removed)
}
