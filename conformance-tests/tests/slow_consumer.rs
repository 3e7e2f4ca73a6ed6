//! A client that reads too slowly, against the reference server: the server drops it with its
//! slow-consumer note, and the client reports that as `Error::SlowConsumer` (through
//! `on_exception` and as the reconnect's cause) rather than as a plain end of stream or a lost
//! subscription, then reconnects.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance_tests::scenario::Profile;
use conformance_tests::{server, wait};
use futures_util::StreamExt;
use servicestack_events::{ConnectionState, Error, ServerEventsClient};
use servicestack_events_server::{ServerConfig, TestServer};

const LIMIT: usize = 64 * 1024;
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_dropped_for_reading_too_slowly_says_so_and_reconnects() {
    let server = TestServer::start(ServerConfig {
        subscriber_buffer_bytes: LIMIT,
        ..server::config(Profile::Default)
    })
    .await
    .unwrap();
    // The `gate` handler blocks the client's reading until the test releases it.
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let gate = Mutex::new((entered_tx, release_rx));
    let errors: Arc<Mutex<Vec<Error>>> = Arc::default();
    let seen = errors.clone();
    let client = ServerEventsClient::builder(server.base_url())
        .channels(["slow"])
        .handler("gate", move |_, _| {
            let gate = gate.lock().unwrap();
            let _ = gate.0.send(());
            let _ = gate.1.recv_timeout(WAIT);
        })
        .on_exception(move |error| seen.lock().unwrap().push(error.clone()))
        .build()
        .unwrap();
    let first = client.connect().await.unwrap();
    let mut states = client.state_changes();
    let reconnected = client.wait_for_next_connect(WAIT);

    server
        .events()
        .notify_channel("slow", "cmd.gate", "1")
        .unwrap();
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(WAIT))
        .await
        .unwrap()
        .expect("the gate handler ran");
    // Publish until the server drops the blocked reader.
    let payload = "z".repeat(32 * 1024);
    let mut sent = 0;
    while server.events().get_subscription_info(&first.id).is_some() {
        assert!(sent < 20_000, "the slow reader was never dropped");
        server
            .events()
            .notify_channel("slow", "cmd.big", &payload)
            .unwrap();
        sent += 1;
        if sent % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    release_tx.send(()).unwrap();

    let cause = tokio::time::timeout(WAIT, async {
        while let Some(state) = states.next().await {
            if let ConnectionState::Reconnecting { cause, .. } = state {
                return Some(cause);
            }
        }
        None
    })
    .await
    .expect("the client noticed the drop");
    let slow = Error::SlowConsumer {
        limit_bytes: Some(LIMIT as u64),
    };
    assert_eq!(cause, Some(slow.clone()), "the reconnect names the cause");
    let second = reconnected.await.expect("the client reconnected");
    assert_ne!(second.id, first.id);
    wait::until(WAIT, "the slow-consumer error reaches on_exception", || {
        errors.lock().unwrap().contains(&slow)
    })
    .await
    .unwrap();
    client.stop().await;
    server.shutdown().await;
}
