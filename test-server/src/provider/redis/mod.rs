//! `RedisServerEvents`: subscriptions shared by every node on one Redis.
//!
//! Each node keeps its own streams in the local registry (ServiceStack's `Local`). Redis holds
//! the cluster-wide index (ServiceStack's keys: `sse:id:{id}`, `sse:ids`, `sse:channel:{ch}`,
//! `sse:userid:{u}`, `sse:username:{n}`, `sse:session:{s}`, `sse:seq:anonUser`) and carries
//! every notification on the one pub/sub topic `sse:topic`, which every node applies to its
//! own streams. Lookups (heartbeat, unregister, update, subscriber lists) go to Redis, so any
//! node answers for a subscription held by any node.
//!
//! Commands and publishes made on behalf of the local registry go through one queue worker, in
//! call order, so a record is stored before the joins that announce it. The listener
//! ([`listener`]) owns the pub/sub connection, reconnects with backoff and re-indexes this
//! node's subscriptions when Redis comes back; the sweeper removes subscriptions whose node
//! stopped pulsing them (zombies). New subscriptions and channels added on this node pass a
//! barrier ([`barrier`]) so they get only what was published after them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};

use super::local::update_local;
use super::{BoxFuture, Provider, ProviderError, Pulsed, SubRef};
use crate::registry::{ClusterLink, Shared, Subscription, Target};
use crate::util::{lock, unix_ms};

mod barrier;
mod listener;
mod record;
pub(crate) mod topic;

use barrier::Barriers;
use record::{Record, ticks};

/// The pub/sub channel every node subscribes to.
pub(crate) const TOPIC: &str = "sse:topic";
/// How long one Redis command may take before the request gets a 503.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn id_key(id: &str) -> String {
    format!("sse:id:{id}")
}
pub(crate) const IDS_KEY: &str = "sse:ids";
pub(crate) fn channel_key(ch: &str) -> String {
    format!("sse:channel:{ch}")
}
pub(crate) fn user_id_key(u: &str) -> String {
    format!("sse:userid:{u}")
}
pub(crate) fn user_name_key(u: &str) -> String {
    format!("sse:username:{u}")
}
pub(crate) fn session_key(s: &str) -> String {
    format!("sse:session:{s}")
}

/// `ZADD sse:ids` and `PUBLISH pulse.id.X` only while `sse:id:X` exists, atomically
/// (ServiceStack reads, then writes, and so revives zombies).
const PULSE_SCRIPT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
  redis.call('PUBLISH', KEYS[3], ARGV[3])
  return 1
end
return 0
"#;

/// Work queued by the (synchronous) local registry, done in order by the worker.
enum Op {
    Publish(String),
    /// Publish this barrier token on the node's private channel (see [`barrier`]).
    Barrier(u64),
    Store(Record, Option<oneshot::Sender<Result<(), ProviderError>>>),
    Rewrite(Record),
    Remove(Record),
    Flush(oneshot::Sender<()>),
}

fn err(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError(format!("Redis {what} failed: {e}"))
}

async fn timed<T>(
    what: &str,
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ProviderError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(what, e)),
        Err(_) => Err(err(what, "no answer in time")),
    }
}

/// Redis's clock (read with `TIME` on every subscribe) plus local elapsed time, so every node
/// scores on about the same clock.
struct Clock {
    base_ms: u64,
    at: Instant,
}

/// A registration the stream's response waits for.
struct PendingRegistration {
    /// The record is stored (every node can find the subscription).
    stored: oneshot::Receiver<Result<(), ProviderError>>,
    /// Its barrier token.
    token: u64,
    /// The listener read the barrier token (topic notifications reach it from now on).
    admitted: oneshot::Receiver<()>,
}

/// The Redis provider of one node.
pub(crate) struct RedisProvider {
    shared: Weak<Shared>,
    client: redis::Client,
    conn: ConnectionManager,
    ops: mpsc::UnboundedSender<Op>,
    pending_stores: Mutex<HashMap<String, PendingRegistration>>,
    barriers: Arc<Barriers>,
    clock: Mutex<Clock>,
    /// True while the listener is subscribed to the topic.
    subscribed: AtomicBool,
    /// Set by `halt` (a crash on purpose): nothing more is queued for Redis.
    halted: AtomicBool,
    pulse: redis::Script,
}

impl RedisProvider {
    /// Connects (the command connection must answer) and starts the worker, the listener and
    /// the sweeper. Every task ends with the server.
    pub(crate) async fn connect(
        shared: &Arc<Shared>,
        url: &str,
    ) -> Result<Arc<RedisProvider>, ProviderError> {
        let client = redis::Client::open(url)
            .map_err(|e| ProviderError(format!("invalid Redis URL ({:?})", e.kind())))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = timed("connect", client.get_connection_manager_with_config(config)).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let provider = Arc::new(RedisProvider {
            shared: Arc::downgrade(shared),
            client,
            conn,
            ops: tx,
            pending_stores: Mutex::new(HashMap::new()),
            barriers: Arc::new(Barriers::new()),
            clock: Mutex::new(Clock {
                base_ms: unix_ms(),
                at: Instant::now(),
            }),
            subscribed: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            pulse: redis::Script::new(PULSE_SCRIPT),
        });
        provider.sync_clock().await?;
        let link: Arc<dyn ClusterLink> = provider.clone();
        shared.set_cluster(link);
        tokio::spawn(worker(provider.conn.clone(), rx, provider.barriers.clone()));
        let ready = listener::start(provider.clone(), shared.cancel.clone());
        // Serve only once subscribed, so nothing published to this node's streams is missed.
        let _ = tokio::time::timeout(COMMAND_TIMEOUT, ready).await;
        tokio::spawn(listener::sweeper(
            provider.clone(),
            shared.cancel.clone(),
            shared.config.housekeeping_interval,
        ));
        Ok(provider)
    }

    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.upgrade()
    }

    fn now_ms(&self) -> u64 {
        let c = lock(&self.clock);
        c.base_ms
            .saturating_add(u64::try_from(c.at.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads Redis `TIME`.
    async fn sync_clock(&self) -> Result<(), ProviderError> {
        let mut conn = self.conn.clone();
        let (secs, micros): (u64, u64) =
            timed("TIME", redis::cmd("TIME").query_async(&mut conn)).await?;
        *lock(&self.clock) = Clock {
            base_ms: secs * 1000 + micros / 1000,
            at: Instant::now(),
        };
        Ok(())
    }

    fn queue(&self, op: Op) {
        if self.halted.load(Ordering::Acquire) {
            // A crashed node (`halt`) writes nothing more: what it leaves behind is the sweep's.
            match op {
                Op::Flush(done) => {
                    let _ = done.send(());
                }
                // Never published: its registration fails now instead of at its timeout.
                Op::Barrier(token) => self.barriers.cancel(token),
                _ => {}
            }
            return;
        }
        // The worker lives as long as any provider handle; a send fails only after shutdown.
        let _ = self.ops.send(op);
    }

    fn store_record(&self, sub: &Arc<Subscription>) -> Record {
        Record::of(sub)
    }

    /// Re-indexes every local subscription (after Redis came back, possibly empty).
    fn reindex(&self) {
        if let Some(shared) = self.shared() {
            for sub in shared.local_subscriptions() {
                self.queue(Op::Store(self.store_record(&sub), None));
            }
        }
    }

    async fn records(&self, ids: &[String]) -> Result<Vec<Record>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| id_key(id)).collect();
        let mut conn = self.conn.clone();
        let values: Vec<Option<Vec<u8>>> = timed("MGET", conn.mget(&keys)).await?;
        Ok(keys
            .iter()
            .zip(values)
            .filter_map(|(k, v)| v.and_then(|json| Record::parse(k, &json)))
            .collect())
    }

    /// Removes a subscription's record and index entries; true when this call deleted the
    /// record (so exactly one remover announces the leave).
    async fn remove(conn: &mut ConnectionManager, r: &Record) -> redis::RedisResult<bool> {
        let id = &r.subscription_id;
        let mut pipe = redis::pipe();
        pipe.atomic().del(id_key(id)).zrem(IDS_KEY, id).ignore();
        if let Some(u) = &r.user_id {
            pipe.srem(user_id_key(u), id).ignore();
        }
        for ch in &r.channels {
            pipe.srem(channel_key(ch), id).ignore();
        }
        if let Some(n) = &r.user_name {
            pipe.srem(user_name_key(n), id).ignore();
        }
        if let Some(s) = &r.session_id {
            pipe.srem(session_key(s), id).ignore();
        }
        let (deleted,): (u64,) = pipe.query_async(conn).await?;
        Ok(deleted > 0)
    }
}

/// `RegisterAsync`'s `MULTI`: the record, its score and every index set.
async fn store(conn: &mut ConnectionManager, r: &Record, score: f64) -> redis::RedisResult<()> {
    let id = &r.subscription_id;
    let mut pipe = redis::pipe();
    pipe.atomic()
        .zadd(IDS_KEY, id, score)
        .ignore()
        .set(id_key(id), r.to_json())
        .ignore();
    if let Some(u) = &r.user_id {
        pipe.sadd(user_id_key(u), id).ignore();
    }
    for ch in &r.channels {
        pipe.sadd(channel_key(ch), id).ignore();
    }
    if let Some(n) = &r.user_name {
        pipe.sadd(user_name_key(n), id).ignore();
    }
    if let Some(s) = &r.session_id {
        pipe.sadd(session_key(s), id).ignore();
    }
    pipe.query_async(conn).await
}

/// Does the queued work in order. Failures are logged (Redis pub/sub is at most once; the
/// listener re-indexes when Redis returns) and reported to a waiting registration.
async fn worker(
    mut conn: ConnectionManager,
    mut rx: mpsc::UnboundedReceiver<Op>,
    barriers: Arc<Barriers>,
) {
    while let Some(op) = rx.recv().await {
        match op {
            Op::Barrier(token) => {
                let res = timed(
                    "PUBLISH",
                    conn.publish::<_, _, ()>(barriers.channel(), token.to_string()),
                )
                .await;
                if let Err(e) = res {
                    tracing::warn!("subscription barrier not published: {e}");
                    // It will not come back: fail its registration, release its channels.
                    barriers.lost(token);
                }
            }
            Op::Publish(text) => {
                if let Err(e) = timed("PUBLISH", conn.publish::<_, _, ()>(TOPIC, &text)).await {
                    tracing::warn!("notification lost: {e}");
                }
            }
            Op::Store(r, reply) => {
                let score = ticks(unix_ms());
                let res = timed("register", store(&mut conn, &r, score)).await;
                if let Err(e) = &res {
                    tracing::warn!("subscription {} not indexed: {e}", r.subscription_id);
                }
                if let Some(reply) = reply {
                    let _ = reply.send(res);
                }
            }
            Op::Rewrite(r) => {
                // Drop the old channel sets first: the stored record says which they were.
                let old: Result<Option<Vec<u8>>, _> =
                    timed("GET", conn.get(id_key(&r.subscription_id))).await;
                let res = async {
                    if let Ok(Some(json)) = &old
                        && let Some(old) = Record::parse(&id_key(&r.subscription_id), json)
                    {
                        let gone: Vec<&String> = old
                            .channels
                            .iter()
                            .filter(|c| !r.channels.contains(c))
                            .collect();
                        if !gone.is_empty() {
                            let mut pipe = redis::pipe();
                            for ch in gone {
                                pipe.srem(channel_key(ch), &r.subscription_id).ignore();
                            }
                            timed("SREM", pipe.query_async::<()>(&mut conn)).await?;
                        }
                    }
                    timed("update", store(&mut conn, &r, ticks(unix_ms()))).await
                }
                .await;
                if let Err(e) = res {
                    tracing::warn!("subscription {} not re-indexed: {e}", r.subscription_id);
                }
            }
            Op::Remove(r) => {
                if let Err(e) = timed("cleanup", RedisProvider::remove(&mut conn, &r)).await {
                    tracing::warn!(
                        "subscription {} left in Redis (the sweep removes it): {e}",
                        r.subscription_id
                    );
                }
            }
            Op::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Waits (bounded) until a registration's record is stored and its barrier has been read.
async fn registration(pending: PendingRegistration) -> Result<(), ProviderError> {
    let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT * 2;
    match tokio::time::timeout_at(deadline, pending.stored).await {
        Ok(Ok(res)) => res?,
        Ok(Err(_)) => return Err(ProviderError("the Redis worker stopped".into())),
        Err(_) => return Err(err("register", "no answer in time")),
    }
    // Stored; now wait until the listener has read the barrier (it was published before the
    // record, so it is usually read already).
    match tokio::time::timeout_at(deadline, pending.admitted).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(ProviderError(
            "this node lost its Redis subscription while the stream was being registered; retry"
                .into(),
        )),
        Err(_) => Err(ProviderError(
            "this node's Redis listener did not catch up in time to register the stream; retry"
                .into(),
        )),
    }
}

impl ClusterLink for RedisProvider {
    fn publish(&self, target: Target<'_>, selector: &str, body: &Bytes, filter: Option<&str>) {
        match topic::notify(target, selector, body, filter) {
            Some(text) => self.queue(Op::Publish(text)),
            None => tracing::warn!(
                "notification {selector} to {target:?} not published: the name cannot be carried by sse:topic (empty, or a space or line break)"
            ),
        }
    }

    fn registered(&self, sub: &Arc<Subscription>) {
        // The barrier goes first, so the record and the joins are published after it: its
        // own joins reach the new subscription, what was published before does not.
        let (token, admitted) = self.barriers.open(sub);
        let (tx, stored) = oneshot::channel();
        lock(&self.pending_stores).insert(
            sub.id.clone(),
            PendingRegistration {
                stored,
                token,
                admitted,
            },
        );
        self.queue(Op::Barrier(token));
        self.queue(Op::Store(self.store_record(sub), Some(tx)));
    }

    fn channels_added(&self, sub: &Arc<Subscription>, channels: &[String]) {
        let token = self.barriers.open_channels(sub, channels);
        self.queue(Op::Barrier(token));
    }

    fn changed(&self, sub: &Arc<Subscription>) {
        self.queue(Op::Rewrite(self.store_record(sub)));
    }

    fn removed(&self, sub: &Arc<Subscription>) {
        if let Some(pending) = lock(&self.pending_stores).remove(&sub.id) {
            self.barriers.cancel(pending.token);
        }
        self.queue(Op::Remove(self.store_record(sub)));
    }
}

impl Provider for RedisProvider {
    fn next_anon(&self) -> BoxFuture<'_, Result<u64, ProviderError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            timed("INCR", conn.incr("sse:seq:anonUser", 1u64)).await
        })
    }

    fn stored(&self, sub: Arc<Subscription>) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let pending = lock(&self.pending_stores).remove(&sub.id);
            let Some(pending) = pending else {
                // Already removed again (its stream ended at once): nothing to wait for.
                return Ok(());
            };
            let token = pending.token;
            let res = registration(pending).await;
            if res.is_err() {
                // The route drops the stream: its token, if it ever comes, admits nothing.
                self.barriers.cancel(token);
            }
            res
        })
    }

    fn find<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SubRef>, ProviderError>> {
        Box::pin(async move {
            if let Some(local) = self.shared().and_then(|s| s.get(id)) {
                return Ok(Some(SubRef::of_local(&local)));
            }
            if id.is_empty() || id.contains([' ', '\r', '\n']) {
                return Ok(None);
            }
            let key = id_key(id);
            let mut conn = self.conn.clone();
            let json: Option<Vec<u8>> = timed("GET", conn.get(&key)).await?;
            Ok(json
                .and_then(|j| Record::parse(&key, &j))
                .map(|r| r.to_ref()))
        })
    }

    fn pulse<'a>(&'a self, sub: &'a SubRef) -> BoxFuture<'a, Result<Pulsed, ProviderError>> {
        Box::pin(async move {
            let score = ticks(self.now_ms());
            let mut conn = self.conn.clone();
            if let Some(shared) = self.shared()
                && sub.local.is_some()
            {
                let Some((local, target)) = shared.pulse(&sub.id) else {
                    return Ok(Pulsed::NotFound);
                };
                // The stream is here; a Redis outage must not fail its heartbeats.
                if let Err(e) =
                    timed("ZADD", conn.zadd::<_, _, _, ()>(IDS_KEY, &sub.id, score)).await
                {
                    tracing::warn!("pulse of {} not recorded: {e}", sub.id);
                }
                return Ok(Pulsed::Local(local, target));
            }
            let pulsed: u8 = timed(
                "pulse",
                self.pulse
                    .key(id_key(&sub.id))
                    .key(IDS_KEY)
                    .key(TOPIC)
                    .arg(score)
                    .arg(&sub.id)
                    .arg(topic::control("pulse", &sub.id, None))
                    .invoke_async(&mut conn),
            )
            .await?;
            Ok(if pulsed == 1 {
                Pulsed::Remote
            } else {
                Pulsed::NotFound
            })
        })
    }

    fn unregister<'a>(&'a self, sub: &'a SubRef) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            if let (Some(local), Some(shared)) = (&sub.local, self.shared()) {
                return Ok(shared.unregister_sub(local));
            }
            let mut conn = self.conn.clone();
            let text = topic::control("unregister", &sub.id, None);
            timed("PUBLISH", conn.publish::<_, _, ()>(TOPIC, text)).await?;
            Ok(true)
        })
    }

    fn update<'a>(
        &'a self,
        sub: &'a SubRef,
        unsubscribe: &'a [String],
        subscribe: &'a [String],
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            if let (Some(local), Some(shared)) = (&sub.local, self.shared()) {
                let updated = update_local(&shared, local, unsubscribe, subscribe);
                // Answer once the change's barrier is published: whatever the caller publishes
                // next (through any node) comes after it, so it reaches the added channels.
                let (tx, rx) = oneshot::channel();
                self.queue(Op::Flush(tx));
                if tokio::time::timeout(COMMAND_TIMEOUT * 2, rx).await.is_err() {
                    tracing::warn!("the Redis worker is slow; a channel change is answered early");
                }
                return Ok(updated);
            }
            let mut pipe = redis::pipe();
            if !unsubscribe.is_empty() {
                pipe.publish(
                    TOPIC,
                    topic::control("unsubscribe", &sub.id, Some(unsubscribe)),
                )
                .ignore();
            }
            if !subscribe.is_empty() {
                pipe.publish(TOPIC, topic::control("subscribe", &sub.id, Some(subscribe)))
                    .ignore();
            }
            let mut conn = self.conn.clone();
            timed("PUBLISH", pipe.query_async::<()>(&mut conn)).await?;
            Ok(true)
        })
    }

    fn details<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Bytes>, ProviderError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            // Everyone: the members of `sse:ids` (ServiceStack scans the whole database).
            let groups: Vec<Vec<String>> = if channels.is_empty() {
                vec![timed("ZRANGE", conn.zrange(IDS_KEY, 0, -1)).await?]
            } else {
                let mut groups = Vec::new();
                for ch in channels {
                    groups.push(timed("SMEMBERS", conn.smembers(channel_key(ch))).await?);
                }
                groups
            };
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for ids in groups {
                let ids: Vec<String> = ids.into_iter().filter(|i| !seen.contains(i)).collect();
                let mut records = self.records(&ids).await?;
                records.sort_by(|a, b| {
                    (a.created_ms(), &a.subscription_id).cmp(&(b.created_ms(), &b.subscription_id))
                });
                for r in records {
                    if seen.insert(r.subscription_id.clone()) {
                        out.push(r.meta_json());
                    }
                }
            }
            Ok(out)
        })
    }

    fn by_user_id<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SubRef>, ProviderError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let ids: Vec<String> = timed("SMEMBERS", conn.smembers(user_id_key(user_id))).await?;
            let mut records = self.records(&ids).await?;
            records.sort_by_key(|r| r.created_ms());
            Ok(records.iter().map(Record::to_ref).collect())
        })
    }

    fn ready(&self) -> Result<(), ProviderError> {
        if self.subscribed.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ProviderError(
                "Redis is unreachable; this node is reconnecting".into(),
            ))
        }
    }

    fn halt(&self) {
        self.halted.store(true, Ordering::Release);
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // `Dispose()`: drop this node's records, then wait for the queue to drain.
            if let Some(shared) = self.shared() {
                for sub in shared.local_subscriptions() {
                    self.queue(Op::Remove(self.store_record(&sub)));
                }
            }
            let (tx, rx) = oneshot::channel();
            self.queue(Op::Flush(tx));
            let _ = tokio::time::timeout(COMMAND_TIMEOUT, rx).await;
        })
    }
}
