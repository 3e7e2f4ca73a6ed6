//! Fault cases that need Rust-only facilities (restarting the server in-process, dropping a
//! client mid-connect, thousands of clients, publishing in-process). The portable fault cases
//! are scenarios in `scenarios/scenarios.json` (run by `tests/scenarios.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance_tests::client::TestClient;
use conformance_tests::scenario::{ClientSpec, Profile};
use conformance_tests::{server, wait};
use serde_json::Value;
use servicestack_events::ServerEventsClient;
use servicestack_events_server::TestServer;
use tokio::sync::watch;

fn spec(id: &str, channels: &[&str]) -> ClientSpec {
    ClientSpec {
        id: id.into(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        ..ClientSpec::default()
    }
}

/// Fails with the client's event log.
fn check(result: Result<(), String>, client: &TestClient) {
    if let Err(reason) = result {
        panic!("{reason}\n{}", client.recorder.describe(60));
    }
}

/// The server is killed and started again on the same port: the client reconnects by itself and
/// re-joins the channels it holds now (including one it subscribed to after connecting), and the
/// restarted server knows it with those channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_server_killed_and_restarted() {
    let config = server::config(Profile::Default);
    let first_server = TestServer::start(config.clone()).await.unwrap();
    let addr = first_server.addr();
    let c1 = TestClient::new(&spec("c1", &["home"]), first_server.base_url()).unwrap();
    let client = c1.handle().unwrap().clone();
    let first = client.connect().await.unwrap();
    client.subscribe_to_channels(["lobby"]).await.unwrap();
    assert_eq!(client.channels(), ["home", "lobby"]);

    // Killed: dropped without waiting for its connections.
    drop(first_server);
    let mut restarted = None;
    for _ in 0..250 {
        match TestServer::start_at(addr, config.clone()).await {
            Ok(server) => {
                restarted = Some(server);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let server = restarted.expect("the server starts again on the same port within 5 s");

    check(
        c1.recorder
            .wait_count("reconnect", 1, Duration::from_secs(10))
            .await
            .then_some(())
            .ok_or_else(|| "no reconnect after the server restart".to_owned()),
        &c1,
    );
    let info = client.connection_info().expect("connected again");
    assert_ne!(info.id, first.id);
    assert_eq!(
        info.channels,
        ["home", "lobby"],
        "the reconnect used the current channels"
    );
    let on_server = server
        .events()
        .get_subscription_info(&info.id)
        .expect("the restarted server knows the new subscription");
    assert_eq!(on_server.channels, ["home", "lobby"]);
    assert_eq!(
        server.events().get_subscriptions_details(&["lobby"]).len(),
        1
    );
    let reconnects = c1.recorder.of_kind("reconnect");
    assert_eq!(reconnects.len(), 1, "{}", c1.recorder.describe(60));
    assert_eq!(reconnects[0]["previousId"], Value::from(first.id.clone()));
    assert_eq!(reconnects[0]["id"], Value::from(info.id.clone()));

    // And it receives on the channel it joined after the first connect.
    server
        .events()
        .notify_channel("lobby", "cmd.announce", "back again")
        .unwrap();
    check(
        c1.recorder
            .wait_for(Duration::from_secs(5), |events| {
                events
                    .iter()
                    .any(|e| e.kind == "message" && e.fields["body"] == "back again")
                    .then_some(())
            })
            .await
            .ok_or_else(|| "the announcement on lobby did not arrive".to_owned()),
        &c1,
    );
    client.stop().await;
    assert_eq!(server.events().subscription_count(), 0);
    server.shutdown().await;
}

/// A client dropped while its stream is still connecting (headers received but no onConnect;
/// then: response headers still delayed) ends its task at once, closes the connection and leaves
/// nothing on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_client_dropped_while_connecting() {
    let server = server::start(Profile::Default).await.unwrap();

    // 1. The stream opened but stalls before cmd.onConnect.
    server.faults().stall_streams(1);
    let mut stalled = TestClient::new(&spec("stalled", &["home"]), server.base_url()).unwrap();
    stalled.handle().unwrap().start().unwrap();
    wait::until(Duration::from_secs(5), "the stalled stream is open", || {
        server.faults().snapshot().stall_streams_count == 0
            && server.events().stats().open_streams == 1
    })
    .await
    .unwrap();
    drop(stalled.client.take());
    check(
        stalled
            .recorder
            .wait_for(Duration::from_secs(5), |events| {
                events
                    .iter()
                    .any(|e| e.kind == "state" && e.fields["reason"] == "dropped")
                    .then_some(())
            })
            .await
            .ok_or_else(|| "the dropped client did not close".to_owned()),
        &stalled,
    );
    wait::until(
        Duration::from_secs(5),
        "the server sees the stalled stream closed",
        || server.events().stats().open_streams == 0,
    )
    .await
    .unwrap();

    // 2. The response headers are still delayed when the client is dropped.
    let delay = Duration::from_millis(2000);
    server.faults().delay_responses(delay);
    let dropped_at = std::time::Instant::now();
    let mut delayed = TestClient::new(&spec("delayed", &["home"]), server.base_url()).unwrap();
    delayed.handle().unwrap().start().unwrap();
    check(
        delayed
            .recorder
            .wait_for(Duration::from_secs(5), |events| {
                events
                    .iter()
                    .any(|e| e.kind == "state" && e.fields["state"] == "connecting")
                    .then_some(())
            })
            .await
            .ok_or_else(|| "the client never started connecting".to_owned()),
        &delayed,
    );
    drop(delayed.client.take());
    check(
        delayed
            .recorder
            .wait_for(Duration::from_secs(2), |events| {
                events
                    .iter()
                    .any(|e| e.kind == "state" && e.fields["reason"] == "dropped")
                    .then_some(())
            })
            .await
            .ok_or_else(|| {
                "the dropped client did not close while its request was pending".to_owned()
            }),
        &delayed,
    );
    assert!(
        dropped_at.elapsed() < delay,
        "the client closed only after the server answered ({:?})",
        dropped_at.elapsed()
    );
    // Once the delay is over, whatever the server did with the abandoned request must leave
    // neither a subscription nor an open stream behind.
    wait::until(
        Duration::from_secs(5),
        "the abandoned request leaves nothing behind",
        || {
            let stats = server.events().stats();
            dropped_at.elapsed() > delay + Duration::from_millis(100)
                && stats.subscription_count == 0
                && stats.open_streams == 0
        },
    )
    .await
    .unwrap();
    for client in [&stalled, &delayed] {
        let unexpected: Vec<Value> = client.recorder.of_kind("exception");
        assert!(unexpected.is_empty(), "{}: {unexpected:?}", client.name);
    }
    server.faults().clear();
    server.shutdown().await;
}

/// 1,000 clients connect and are dropped (the last handle goes away right after onConnect):
/// every subscription is unregistered in the background and the server ends with none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_connect_drop_cycles_leave_no_subscriptions() {
    const CYCLES: usize = 1000;
    const WORKERS: usize = 4;
    let server = server::start(Profile::SlowHeartbeat).await.unwrap();
    let base_url = server.base_url().to_owned();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let base_url = base_url.clone();
            tokio::spawn(async move {
                for cycle in 0..CYCLES / WORKERS {
                    // Building a client is CPU-bound (its TLS setup loads the system roots), so
                    // it runs on the blocking pool, away from the workers that serve the server.
                    let base_url = base_url.clone();
                    let client = tokio::task::spawn_blocking(move || {
                        ServerEventsClient::builder(base_url)
                            .channels(["cycle"])
                            .build()
                    })
                    .await
                    .unwrap()
                    .unwrap();
                    let info = client
                        .connect()
                        .await
                        .unwrap_or_else(|e| panic!("worker {worker}, cycle {cycle}: {e}"));
                    assert!(!info.id.is_empty());
                    drop(client);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let stats = server.events().stats();
    assert_eq!(stats.total_connections, CYCLES as u64, "{stats:?}");
    wait::until(
        Duration::from_secs(20),
        "every dropped client is unregistered",
        || {
            let stats = server.events().stats();
            stats.subscription_count == 0 && stats.open_streams == 0
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", server.events().stats()));
    server.shutdown().await;
}

#[derive(Default)]
struct Sequence {
    next: u64,
    received: u64,
    violations: Vec<String>,
    sentinels: u64,
}

/// 100,000 messages published through 10 forced reconnects (each one a frame cut in half by a
/// dropped connection): every message the client receives is dispatched exactly once and in
/// order, and none of the cut frames is dispatched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_100k_messages_through_10_reconnects() {
    const ROUNDS: u64 = 10;
    const PER_ROUND: u64 = 10_000;
    let mut config = server::config(Profile::SlowHeartbeat);
    config.subscriber_buffer_bytes = 64 << 20;
    let server = TestServer::start(config).await.unwrap();

    let sequence = Arc::new(Mutex::new(Sequence::default()));
    let (progress, mut progress_rx) = watch::channel(0u64);
    let progress = Arc::new(progress);
    let connects = Arc::new(AtomicU64::new(0));
    let reconnects = Arc::new(AtomicU64::new(0));
    let exceptions = Arc::new(Mutex::new(Vec::<String>::new()));
    let (connected, mut connected_rx) = watch::channel(0u64);

    let client = {
        let seq = sequence.clone();
        let progress = progress.clone();
        let seq2 = sequence.clone();
        let connects = connects.clone();
        let reconnects = reconnects.clone();
        let exceptions = exceptions.clone();
        ServerEventsClient::builder(server.base_url())
            .channels(["load"])
            .handler("seq", move |_client, message| {
                let mut s = seq.lock().unwrap();
                match message.json().parse::<u64>() {
                    Ok(n) if n == s.next => s.next += 1,
                    Ok(n) => {
                        let expected = s.next;
                        s.violations.push(format!("got {n}, expected {expected}"));
                        s.next = n + 1;
                    }
                    Err(e) => s
                        .violations
                        .push(format!("bad body {:?}: {e}", message.json())),
                }
                s.received += 1;
                progress.send_replace(s.received);
            })
            .handler("sentinel", move |_client, _message| {
                seq2.lock().unwrap().sentinels += 1
            })
            .on_connect(move |_info| {
                let n = connects.fetch_add(1, Ordering::SeqCst) + 1;
                connected.send_replace(n);
            })
            .on_reconnect(move |_info| {
                reconnects.fetch_add(1, Ordering::SeqCst);
            })
            .on_exception(move |error| {
                exceptions
                    .lock()
                    .unwrap()
                    .push(format!("{}: {error}", error.kind()));
            })
            .build()
            .unwrap()
    };
    client.connect().await.unwrap();

    let events = server.events();
    for round in 0..ROUNDS {
        for n in round * PER_ROUND..(round + 1) * PER_ROUND {
            events
                .notify_channel_json("load", "cmd.seq", &n.to_string())
                .unwrap();
        }
        let target = (round + 1) * PER_ROUND;
        let arrived = tokio::time::timeout(
            Duration::from_secs(60),
            progress_rx.wait_for(|n| *n >= target),
        )
        .await
        .map(|result| result.map(|_| ()));
        if arrived.is_err() {
            panic!(
                "round {round}: only {} of {target} messages arrived",
                *progress_rx.borrow()
            );
        }
        // Cut the next frame (the sentinel) half-way; the client must reconnect.
        let before = *connected_rx.borrow_and_update();
        server.faults().cut_streams_mid_frame(1);
        events
            .notify_channel_json("load", "cmd.sentinel", "\"this frame is cut\"")
            .unwrap();
        let reconnected = tokio::time::timeout(
            Duration::from_secs(10),
            connected_rx.wait_for(|n| *n > before),
        )
        .await
        .map(|result| result.map(|_| ()));
        assert!(
            reconnected.is_ok(),
            "round {round}: no reconnect after the cut"
        );
    }
    client.stop().await;
    server.shutdown().await;

    let s = sequence.lock().unwrap();
    assert!(
        s.violations.is_empty(),
        "out of order or duplicated: {:?}",
        &s.violations[..s.violations.len().min(20)]
    );
    assert_eq!(s.received, ROUNDS * PER_ROUND);
    assert_eq!(s.next, ROUNDS * PER_ROUND);
    assert_eq!(s.sentinels, 0, "a frame cut in half was dispatched");
    assert_eq!(connects.load(Ordering::SeqCst), ROUNDS + 1);
    assert_eq!(reconnects.load(Ordering::SeqCst), ROUNDS);
    let exceptions = exceptions.lock().unwrap();
    let unexpected: Vec<&String> = exceptions
        .iter()
        .filter(|e| !(e.starts_with("network:") || e.starts_with("streamEnded:")))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

/// A stream request refused with `Retry-After` (as a proxy or a busy server answers 503 or 429)
/// makes the reconnect wait at least that long, but never longer than the policy's `max_delay`;
/// then the client reconnects by itself. ServiceStack's clients ignore the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_retry_after_lengthens_the_reconnect_wait_up_to_the_cap() {
    use futures_util::StreamExt;
    use servicestack_events::{ConnectionState, Error, ReconnectPolicy};

    let server = server::start(Profile::Default).await.unwrap();
    let mut policy = ReconnectPolicy::default();
    policy.max_delay = Duration::from_millis(1500);
    let client = ServerEventsClient::builder(server.base_url())
        .channels(["home"])
        .reconnect_policy(policy)
        .build()
        .unwrap();
    let mut states = client.state_changes();
    client.connect().await.unwrap();

    // The wait the client announces after the refused request, and that it connects again.
    let mut refused_then_open = async |status: u16| -> (Duration, Option<Duration>) {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut announced = None;
            while let Some(state) = states.next().await {
                match state {
                    ConnectionState::Reconnecting {
                        delay,
                        cause: cause @ Error::Http { .. },
                        ..
                    } => {
                        assert_eq!(cause.status(), Some(status), "{cause}");
                        announced = Some((delay, cause.retry_after()));
                    }
                    ConnectionState::Open { .. } if announced.is_some() => break,
                    _ => {}
                }
            }
            announced.expect("a refused reconnect, then open again")
        })
        .await
        .expect("the client reconnects after the refused request")
    };

    server
        .faults()
        .fail_streams_with_retry_after(503, 1, Some(Duration::from_secs(1)));
    server.events().disconnect_all();
    let (delay, asked) = refused_then_open(503).await;
    assert_eq!(asked, Some(Duration::from_secs(1)));
    assert_eq!(delay, Duration::from_secs(1), "the cubic wait is shorter");

    server
        .faults()
        .fail_streams_with_retry_after(429, 1, Some(Duration::from_secs(120)));
    server.events().disconnect_all();
    let (delay, asked) = refused_then_open(429).await;
    assert_eq!(asked, Some(Duration::from_secs(120)));
    assert_eq!(delay, Duration::from_millis(1500), "capped at max_delay");

    client.stop().await;
    server.shutdown().await;
}
