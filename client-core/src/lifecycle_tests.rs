//! The connection lifecycle against the scripted transport, on tokio's paused clock: what the
//! client does after each kind of failure and when, without a server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;

use crate::error::Error;
use crate::fake_transport::{FakeTransport, Opening, connect_frame, fed_stream};
use crate::rt::Clock;
use crate::{ConnectionState, ServerEventsClient};

fn client_on(fake: &Arc<FakeTransport>) -> ServerEventsClient {
    ServerEventsClient::builder("http://h")
        .channels(["home"])
        .build_with(fake.clone())
        .unwrap()
}

fn not_found(url: &str) -> Error {
    Error::Http {
        status: 404,
        url: url.to_owned(),
        body: String::new(),
        retry_after: None,
    }
}

const OPEN: &str = "/event-stream";
const HEARTBEAT: &str = "/event-heartbeat";
const UNREGISTER: &str = "/event-unregister";

#[tokio::test(start_paused = true)]
async fn a_retry_field_is_capped_by_the_policy() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let client = client_on(&fake);
    feed.send(&connect_frame("s1", 600_000, 600_000));
    feed.send("retry: 3600000\n\n");
    client.connect().await.unwrap();
    let ended = Clock::now();
    drop(feed);
    let opens = fake.wait_for(OPEN, 2).await;
    // The default policy waits nothing after a first failure; `retry:` lengthens that to the
    // policy's 60 s cap, not to the hour it asked for.
    assert_eq!(opens[1].at - ended, Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_404_reconnects_at_once_despite_retry_and_unregisters_the_lost_subscription() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let (second_feed, second) = fed_stream();
    fake.push(Opening::Stream(second));
    second_feed.send(&connect_frame("s2", 600_000, 600_000));
    let held = Arc::new(Mutex::new(Some(feed.clone())));
    let server_side = held.clone();
    fake.respond(move |request| {
        if request.url.contains(HEARTBEAT) {
            // The server forgot the subscription and closes its stream.
            server_side.lock().unwrap().take();
            return Err(not_found(&request.url));
        }
        Ok(String::new())
    });
    let client = client_on(&fake);
    feed.send(&connect_frame("s1", 1_000, 600_000));
    feed.send("retry: 5000\n\n");
    drop(feed);
    client.connect().await.unwrap();
    let heartbeats = fake.wait_for(HEARTBEAT, 1).await;
    let opens = fake.wait_for(OPEN, 2).await;
    assert_eq!(
        opens[1].at, heartbeats[0].at,
        "no wait after a heartbeat 404"
    );
    let unregisters = fake.wait_for(UNREGISTER, 1).await;
    assert!(unregisters[0].url.ends_with("id=s1"), "{unregisters:?}");
}

#[tokio::test(start_paused = true)]
async fn frames_still_unread_at_a_heartbeat_404_are_delivered_before_the_reconnect() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let held = Arc::new(Mutex::new(Some(feed.clone())));
    let server_side = held.clone();
    fake.respond(move |request| {
        if request.url.contains(HEARTBEAT) {
            // A busy server: frames it wrote before dropping the subscription arrive just after
            // the heartbeat's 404, then the stream ends.
            if let Some(feed) = server_side.lock().unwrap().take() {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    feed.send("data: cmd.late 1\n\n");
                    feed.send("data: cmd.late 2\n\n");
                });
            }
            return Err(not_found(&request.url));
        }
        Ok(String::new())
    });
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .handler("late", move |_, message| {
            seen.lock().unwrap().push(message.json().to_owned())
        })
        .build_with(fake.clone())
        .unwrap();
    feed.send(&connect_frame("s1", 1_000, 600_000));
    drop(feed);
    client.connect().await.unwrap();
    let heartbeats = fake.wait_for(HEARTBEAT, 1).await;
    let opens = fake.wait_for(OPEN, 2).await;
    assert_eq!(*received.lock().unwrap(), ["1", "2"]);
    assert_eq!(
        opens[1].at - heartbeats[0].at,
        Duration::from_millis(20),
        "the reconnect follows the end of the stream"
    );
}

#[tokio::test(start_paused = true)]
async fn a_drain_after_a_heartbeat_404_ends_when_the_stream_goes_quiet() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    fake.respond(|request| {
        if request.url.contains(HEARTBEAT) {
            return Err(not_found(&request.url));
        }
        Ok(String::new())
    });
    let client = client_on(&fake);
    feed.send(&connect_frame("s1", 1_000, 600_000));
    client.connect().await.unwrap();
    let heartbeats = fake.wait_for(HEARTBEAT, 1).await;
    let opens = fake.wait_for(OPEN, 2).await;
    // The stream stays open (`feed` is alive) and silent, as after a server reset.
    assert_eq!(
        opens[1].at - heartbeats[0].at,
        crate::supervisor::timers::DRAIN_QUIET
    );
    drop(feed);
}

#[tokio::test(start_paused = true)]
async fn a_drain_after_a_heartbeat_404_is_bounded() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    fake.respond(|request| {
        if request.url.contains(HEARTBEAT) {
            return Err(not_found(&request.url));
        }
        Ok(String::new())
    });
    let client = client_on(&fake);
    feed.send(&connect_frame("s1", 1_000, 600_000));
    client.connect().await.unwrap();
    // A stream that never stops talking does not keep the client from reconnecting.
    let chatter = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            feed.send("data: cmd.chat {}\n\n");
        }
    });
    let heartbeats = fake.wait_for(HEARTBEAT, 1).await;
    let opens = fake.wait_for(OPEN, 2).await;
    assert_eq!(
        opens[1].at - heartbeats[0].at,
        crate::supervisor::timers::DRAIN_LIMIT
    );
    chatter.abort();
}

/// A busy stream must not starve the heartbeat timer: a server that sees no heartbeat drops the
/// subscriber. Real time here, because the stream has to stay ready while time passes; the check
/// is an order (the heartbeat leaves before the backlog is read), not a duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_leave_on_time_while_a_backlog_is_read() {
    const BACKLOG: usize = 2_000;
    let fake = FakeTransport::new();
    let read = Arc::new(AtomicUsize::new(0));
    let counted = read.clone();
    // Every chunk is ready at once and takes 1 ms to produce: at least 2 s of backlog.
    let backlog = futures_util::stream::iter(0..BACKLOG).map(move |i| {
        std::thread::sleep(Duration::from_millis(1));
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(bytes::Bytes::from(format!("data: cmd.chat {i}\n\n")))
    });
    let connect = bytes::Bytes::from(connect_frame("s1", 100, 600_000));
    let stream = futures_util::stream::iter([Ok(connect)])
        .chain(backlog)
        .chain(futures_util::stream::pending());
    fake.push(Opening::Stream(Box::pin(stream)));
    let read_at_heartbeat = Arc::new(Mutex::new(None));
    let recorded = read_at_heartbeat.clone();
    let progress = read.clone();
    fake.respond(move |request| {
        if request.url.contains(HEARTBEAT) {
            recorded
                .lock()
                .unwrap()
                .get_or_insert(progress.load(Ordering::SeqCst));
        }
        Ok(String::new())
    });
    let client = client_on(&fake);
    client.connect().await.unwrap();
    fake.wait_for(HEARTBEAT, 1).await;
    let read_then = read_at_heartbeat.lock().unwrap().unwrap();
    assert!(
        read_then < BACKLOG,
        "the first heartbeat waited for the whole backlog ({read_then} chunks)"
    );
    client.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_stream_times_out_and_reconnects() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let client = client_on(&fake);
    feed.send(&connect_frame("s1", 600_000, 3_000));
    client.connect().await.unwrap();
    let connected = Clock::now();
    let mut states = client.state_changes();
    let opens = fake.wait_for(OPEN, 2).await;
    assert_eq!(opens[1].at - connected, Duration::from_secs(3));
    let mut saw_idle_timeout = false;
    while let Some(state) = states.next().await {
        if let ConnectionState::Reconnecting { cause, .. } = &state {
            saw_idle_timeout = matches!(cause, Error::IdleTimeout { .. });
            break;
        }
    }
    assert!(saw_idle_timeout);
    drop(feed);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_up_to_the_policy_cap() {
    let fake = FakeTransport::new();
    fake.push(Opening::Fail(Error::Http {
        status: 503,
        url: "http://h/event-stream".into(),
        body: String::new(),
        retry_after: Some(Duration::from_secs(3600)),
    }));
    let client = client_on(&fake);
    client.start().unwrap();
    let opens = fake.wait_for(OPEN, 2).await;
    assert_eq!(opens[1].at - opens[0].at, Duration::from_secs(60));
}

/// The docs suggest `start()` as the fallback after a failed `connect()`; it must never be lost
/// to the ending task (it used to be, in about half of the tries; 300 tries fail it reliably).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_right_after_a_failed_connect_is_never_lost() {
    for attempt in 0..300 {
        let fake = FakeTransport::new();
        fake.push(Opening::Fail(Error::Network {
            url: "http://h/event-stream".into(),
            message: "connection refused".into(),
        }));
        let (feed, stream) = fed_stream();
        feed.send(&connect_frame("s1", 600_000, 600_000));
        fake.push(Opening::Stream(stream));
        let client = client_on(&fake);
        assert!(client.connect().await.is_err());
        client.start().unwrap();
        // Not a connect waiter: a stop (the bug) ends it, but so could the start's own task
        // before the waiter is registered. The second stream open is the proof.
        fake.wait_within(Duration::from_secs(10), OPEN, 2).await;
        assert!(
            !matches!(client.state(), ConnectionState::Closed { .. }),
            "try {attempt}: {:?}",
            client.state()
        );
        drop(feed);
        client.stop().await;
    }
}

/// Waits (on the paused clock) until the client's state matches.
async fn state_becomes(client: &ServerEventsClient, wanted: impl Fn(&ConnectionState) -> bool) {
    let mut states = client.state_changes();
    let found = tokio::time::timeout(Duration::from_secs(3600), async {
        while let Some(state) = states.next().await {
            if wanted(&state) {
                return;
            }
        }
        panic!("the state stream ended");
    })
    .await;
    assert!(found.is_ok(), "state now: {:?}", client.state());
}

#[tokio::test(start_paused = true)]
async fn restart_while_connecting_opens_a_new_stream() {
    let fake = FakeTransport::new();
    fake.push(Opening::Hang);
    let (feed, stream) = fed_stream();
    feed.send(&connect_frame("s1", 600_000, 600_000));
    fake.push(Opening::Stream(stream));
    let client = client_on(&fake);
    client.start().unwrap();
    fake.wait_for(OPEN, 1).await;
    client.restart().unwrap();
    fake.wait_for(OPEN, 2).await;
    assert_eq!(client.connect().await.unwrap().id, "s1");
    client.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_during_connect_fails_the_connect_and_closes() {
    let fake = FakeTransport::new();
    fake.push(Opening::Hang);
    let client = client_on(&fake);
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    fake.wait_for(OPEN, 1).await;
    client.stop().await;
    assert_eq!(connecting.await.unwrap(), Err(Error::Stopped));
    assert_eq!(
        client.state(),
        ConnectionState::Closed {
            reason: crate::CloseReason::Stopped
        }
    );
    // Nothing reconnects behind the caller's back.
    let requests = fake.requests().len();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(fake.requests().len(), requests);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_handle_while_connecting_ends_the_connection() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let client = client_on(&fake);
    client.start().unwrap();
    fake.wait_for(OPEN, 1).await;
    drop(client);
    let released = tokio::time::timeout(Duration::from_secs(3600), async {
        while !feed.is_closed() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(released.is_ok(), "the stream was kept open");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());
}

#[tokio::test(start_paused = true)]
async fn pause_unregisters_and_resume_reconnects_with_a_reconnect_notice() {
    let fake = FakeTransport::new();
    let (first_feed, first) = fed_stream();
    first_feed.send(&connect_frame("s1", 600_000, 600_000));
    fake.push(Opening::Stream(first));
    let (second_feed, second) = fed_stream();
    second_feed.send(&connect_frame("s2", 600_000, 600_000));
    fake.push(Opening::Stream(second));
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = notices.clone();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .on_reconnect(move |info| seen.lock().unwrap().push(info.clone()))
        .build_with(fake.clone())
        .unwrap();
    client.connect().await.unwrap();
    client.pause();
    state_becomes(&client, |state| *state == ConnectionState::Paused).await;
    let unregisters = fake.wait_for(UNREGISTER, 1).await;
    assert!(unregisters[0].url.ends_with("id=s1"));
    // Paused means no connection attempts, however long.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(fake.wait_for(OPEN, 1).await.len(), 1);
    client.resume().unwrap();
    state_becomes(&client, |state| {
        matches!(state, ConnectionState::Open { .. })
    })
    .await;
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].previous_subscription_id.as_deref(), Some("s1"));
    assert_eq!(notices[0].subscription_id, "s2");
    assert_eq!(notices[0].cause, None);
    drop((first_feed, second_feed));
}

/// The core refreshes credentials once on 401/403 (`credential_refresh_tests.rs`); what reaches the
/// lifecycle is then final: the client closes instead of looping, also on a later reconnect.
#[tokio::test(start_paused = true)]
async fn refused_credentials_close_the_client_without_a_retry_loop() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    feed.send(&connect_frame("s1", 600_000, 600_000));
    fake.push(Opening::Stream(stream));
    let refused = Error::Unauthorized {
        status: 403,
        url: "http://h/event-stream".into(),
    };
    fake.push(Opening::Fail(refused.clone()));
    let client = client_on(&fake);
    client.connect().await.unwrap();
    drop(feed);
    state_becomes(&client, |state| {
        matches!(state, ConnectionState::Closed { .. })
    })
    .await;
    assert_eq!(
        client.state(),
        ConnectionState::Closed {
            reason: crate::CloseReason::Unauthorized(refused)
        }
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(fake.wait_for(OPEN, 2).await.len(), 2, "no third attempt");
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_close_is_reported_as_such_and_reconnects() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let (second_feed, second) = fed_stream();
    fake.push(Opening::Stream(second));
    second_feed.send(&connect_frame("s2", 600_000, 600_000));
    let errors: Arc<Mutex<Vec<Error>>> = Arc::default();
    let seen = errors.clone();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .on_exception(move |error| seen.lock().unwrap().push(error.clone()))
        .build_with(fake.clone())
        .unwrap();
    feed.send(&connect_frame("s1", 600_000, 600_000));
    client.connect().await.unwrap();
    let mut states = client.state_changes();
    let reconnected = client.wait_for_next_connect(Duration::from_secs(5));
    feed.send("data: cmd.chat 1\n\n: slow consumer: more than 65536 bytes behind, closing\n\n");
    drop(feed);
    let slow = Error::SlowConsumer {
        limit_bytes: Some(65536),
    };
    let mut cause = None;
    while let Some(state) = states.next().await {
        if let ConnectionState::Reconnecting { cause: why, .. } = state {
            cause = Some(why);
            break;
        }
    }
    assert_eq!(cause, Some(slow.clone()), "the reconnect names the cause");
    assert_eq!(reconnected.await.unwrap().id, "s2");
    assert_eq!(*errors.lock().unwrap(), std::slice::from_ref(&slow));
    assert_eq!(slow.kind(), "slowConsumer");
    assert_eq!(
        slow.to_string(),
        "the server closed the stream because the client read too slowly (more than 65536 bytes behind)"
    );
    client.stop().await;
}
