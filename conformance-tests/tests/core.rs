//! client-core capabilities beyond the upstream suites that need Rust-only facilities (a
//! credentials provider closure, a raw TCP listener, a URL rewriter). The portable capability
//! cases are `core_*` scenarios in `scenarios/scenarios.json`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance_tests::client::TestClient;
use conformance_tests::http::Http;
use conformance_tests::scenario::{ClientSpec, Profile};
use conformance_tests::{server, wait};
use serde_json::{Value, json};
use servicestack_events::{Credentials, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn spec(id: &str, channels: &[&str]) -> ClientSpec {
    ClientSpec {
        id: id.into(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        ..ClientSpec::default()
    }
}

async fn wait_event(
    client: &TestClient,
    what: &str,
    timeout: Duration,
    predicate: impl Fn(&str, &Value) -> bool,
) {
    let found = client
        .recorder
        .wait_for(timeout, |events| {
            events
                .iter()
                .any(|e| predicate(e.kind, &e.fields))
                .then_some(())
        })
        .await;
    if found.is_none() {
        panic!(
            "{}: timed out after {timeout:?} waiting for {what}\n{}",
            client.name,
            client.recorder.describe(60)
        );
    }
}

/// Signs in as `user`/`pass` with a separate HTTP client; returns the bearer token.
async fn login(http: &Http, base_url: &str) -> Result<String, String> {
    let reply = http
        .post_ok(
            &format!("{base_url}/auth/credentials"),
            &json!({"provider": "credentials", "userName": "user", "password": "pass"}),
        )
        .await?;
    reply.json()["bearerToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no bearerToken in {}", reply.body))
}

/// A credentials provider is asked again (once per refused request, with `refresh = true`) when
/// a request is refused with 401: a fresh token lets the reconnect succeed. When the refreshed token is refused too,
/// the client reports Unauthorized once and closes: no retry loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_credentials_provider_refreshes_once_then_stops_unauthorized() {
    let server = server::start(Profile::Auth).await.unwrap();
    let base_url = server.base_url().to_owned();
    let http = Http::new();
    let token = Arc::new(Mutex::new(login(&http, &base_url).await.unwrap()));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let fresh_on_refresh = Arc::new(AtomicBool::new(true));

    let provider = {
        let (token, refreshes, fresh, http, base_url) = (
            token.clone(),
            refreshes.clone(),
            fresh_on_refresh.clone(),
            http.clone(),
            base_url.clone(),
        );
        move |refresh: bool| {
            let (token, refreshes, fresh, http, base_url) = (
                token.clone(),
                refreshes.clone(),
                fresh.clone(),
                http.clone(),
                base_url.clone(),
            );
            async move {
                if refresh {
                    refreshes.fetch_add(1, Ordering::SeqCst);
                    if fresh.load(Ordering::SeqCst) {
                        let new_token = login(&http, &base_url).await?;
                        // Asked again: a refresh begun in step 1 (the background unregister's)
                        // may end after step 2 began, and must not bring a valid token into it.
                        if fresh.load(Ordering::SeqCst) {
                            *token.lock().unwrap() = new_token;
                        }
                    }
                }
                let current = token.lock().unwrap().clone();
                Ok(Credentials::bearer(current))
            }
        }
    };
    // No heartbeats during the test: one falling between a token's expiry and the disconnect
    // would be one more refused request, and one more refresh to count.
    let c1_spec = ClientSpec {
        heartbeat_ms: Some(60_000),
        ..spec("c1", &["home"])
    };
    let c1 = TestClient::with_builder(&c1_spec, &base_url, |b| b.credentials_fn(provider)).unwrap();
    let client = c1.handle().unwrap().clone();
    let info = client.connect().await.unwrap();
    assert!(
        info.is_authenticated,
        "the bearer token authenticates the stream"
    );
    assert_eq!(refreshes.load(Ordering::SeqCst), 0);

    // 1. The token expires; the next stream request gets 401, the provider refreshes, the
    //    reconnect succeeds.
    http.post_ok(&format!("{base_url}/test/expire-tokens"), &json!({}))
        .await
        .unwrap();
    http.post_ok(&format!("{base_url}/test/disconnect-all"), &json!({}))
        .await
        .unwrap();
    wait_event(
        &c1,
        "the reconnect with a refreshed token",
        Duration::from_secs(5),
        |kind, _| kind == "reconnect",
    )
    .await;
    // One refresh per refused request: the stream request, and possibly the background
    // unregister of the lost subscription, which carried the same expired token.
    let refreshed = refreshes.load(Ordering::SeqCst);
    assert!((1..=2).contains(&refreshed), "{refreshed} refreshes");
    assert!(client.connection_info().unwrap().is_authenticated);
    assert!(
        c1.recorder
            .of_kind("exception")
            .iter()
            .all(|e| e["kind"] != "unauthorized"),
        "{}",
        c1.recorder.describe(60)
    );

    // 2. The token expires again and the provider cannot get a new one: Unauthorized, closed.
    fresh_on_refresh.store(false, Ordering::SeqCst);
    let requests_before = server.events().stats().stream_requests;
    let refreshes_before = refreshes.load(Ordering::SeqCst);
    http.post_ok(&format!("{base_url}/test/expire-tokens"), &json!({}))
        .await
        .unwrap();
    http.post_ok(&format!("{base_url}/test/disconnect-all"), &json!({}))
        .await
        .unwrap();
    wait_event(
        &c1,
        "closed/unauthorized",
        Duration::from_secs(5),
        |kind, fields| kind == "state" && fields["reason"] == "unauthorized",
    )
    .await;
    let unauthorized: Vec<Value> = c1
        .recorder
        .of_kind("exception")
        .into_iter()
        .filter(|e| e["kind"] == "unauthorized")
        .collect();
    assert_eq!(unauthorized.len(), 1, "{unauthorized:?}");
    assert_eq!(unauthorized[0]["status"], 401);
    assert_eq!(
        server.events().stats().stream_requests - requests_before,
        2,
        "one stream request and one retry with the refreshed credentials, nothing more"
    );
    // One refresh for the stream request, at most one for the unregister of the subscription
    // lost here, and at most one for step 1's, whose refused answer may come this late.
    let refreshed = refreshes.load(Ordering::SeqCst) - refreshes_before;
    assert!((1..=3).contains(&refreshed), "{refreshed} refreshes");
    assert!(matches!(
        client.state(),
        servicestack_events::ConnectionState::Closed {
            reason: servicestack_events::CloseReason::Unauthorized(Error::Unauthorized {
                status: 401,
                ..
            })
        }
    ));
    server.shutdown().await;
}

/// The stream request asks for `text/event-stream` with `Accept-Encoding: identity` (so no proxy
/// or server compresses and buffers the stream) and `Cache-Control: no-cache`, checked on the
/// wire with a raw TCP listener that plays the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_stream_request_asks_for_identity_encoding() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (head_tx, head_rx) = tokio::sync::oneshot::channel::<String>();
    let fake = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending its headers");
            head.extend_from_slice(&buf[..n]);
        }
        let _ = head_tx.send(String::from_utf8_lossy(&head).into_owned());
        let connect = json!({
            "id": "fakeSubscriptionId01", "userId": "-1", "displayName": "user1", "channels": "A",
            "isAuthenticated": "false", "heartbeatIntervalMs": "10000", "idleTimeoutMs": "30000",
        });
        let body = format!("id: 1\ndata: cmd.onConnect {connect}\n\n");
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{body}"
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        // Hold the stream open until the client goes away.
        let _ = socket.read(&mut buf).await;
    });
    let c1 = TestClient::new(&spec("c1", &["A"]), &format!("http://{addr}")).unwrap();
    let client = c1.handle().unwrap().clone();
    let info = tokio::time::timeout(Duration::from_secs(5), client.connect())
        .await
        .expect("connect finishes")
        .expect("the fake server's onConnect is accepted");
    assert_eq!(info.id, "fakeSubscriptionId01");
    let head = head_rx.await.unwrap();
    let lines: Vec<String> = head.lines().map(str::to_ascii_lowercase).collect();
    assert!(
        lines[0].starts_with("get /event-stream?channels=a http/1.1"),
        "{head}"
    );
    for header in [
        "accept-encoding: identity",
        "accept: text/event-stream",
        "cache-control: no-cache",
    ] {
        assert!(
            lines.iter().any(|l| l == header),
            "missing {header:?} in\n{head}"
        );
    }
    client.stop().await;
    drop(c1);
    let _ = tokio::time::timeout(Duration::from_secs(5), fake).await;
}

/// `resolve_stream_url` rewrites the URL of every stream request, the first and the reconnects:
/// here it adds a channel, which the server's subscriptions show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_resolve_stream_url_is_used_for_every_connect() {
    let server = server::start(Profile::Default).await.unwrap();
    let rewrites = Arc::new(AtomicUsize::new(0));
    let counter = rewrites.clone();
    let c1 = TestClient::with_builder(&spec("c1", &["A"]), server.base_url(), |b| {
        b.resolve_stream_url(move |url| {
            counter.fetch_add(1, Ordering::SeqCst);
            url.replace("channels=A", "channels=A,Rewritten")
        })
    })
    .unwrap();
    let client = c1.handle().unwrap().clone();
    assert!(client.event_stream_url().ends_with("?channels=A,Rewritten"));
    let first = client.connect().await.unwrap();
    assert_eq!(first.channels, ["A", "Rewritten"]);
    assert_eq!(
        server
            .events()
            .get_subscription_info(&first.id)
            .unwrap()
            .channels,
        ["A", "Rewritten"]
    );
    let before = rewrites.load(Ordering::SeqCst);
    server.events().disconnect_all();
    wait_event(&c1, "the reconnect", Duration::from_secs(5), |kind, _| {
        kind == "reconnect"
    })
    .await;
    let second = client.connection_info().unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        second.channels,
        ["A", "Rewritten"],
        "the reconnect was rewritten too"
    );
    assert!(rewrites.load(Ordering::SeqCst) > before);
    wait::until(
        Duration::from_secs(5),
        "one subscription on Rewritten",
        || {
            server
                .events()
                .get_subscriptions_details(&["Rewritten"])
                .len()
                == 1
        },
    )
    .await
    .unwrap();
    client.stop().await;
    server.shutdown().await;
}

/// Lifecycle calls are idempotent and safe inside a callback: a handler that stops its own
/// client ends the connection (and unregisters) without deadlocking; repeated starts open one
/// connection; a stopped client stays stopped until started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_lifecycle_calls_are_idempotent_and_safe_inside_handlers() {
    let server = server::start(Profile::Default).await.expect("server");
    let stopped_inside = Arc::new(AtomicBool::new(false));
    let flag = stopped_inside.clone();
    let client = servicestack_events::ServerEventsClient::builder(server.base_url())
        .channels(["lifecycle"])
        .handler("stopNow", move |client, _| {
            // The stop request is made at the call; the future only waits for it.
            drop(client.stop());
            drop(client.stop());
            flag.store(true, Ordering::SeqCst);
        })
        .build()
        .expect("client");
    let mut states = client.state_changes();
    let info = client.connect().await.expect("connect");
    client.start().expect("start is idempotent");
    client.start().expect("start is idempotent");
    assert_eq!(
        client.times_started(),
        1,
        "repeated starts open one connection"
    );
    assert_eq!(server.events().subscription_count(), 1);

    server
        .events()
        .notify_channel_json("lifecycle", "cmd.stopNow", "")
        .expect("notify");
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use futures_util::StreamExt;
        while let Some(state) = states.next().await {
            if matches!(state, servicestack_events::ConnectionState::Closed { .. }) {
                return true;
            }
        }
        false
    })
    .await
    .expect("the client closes after stopping itself");
    assert!(closed && stopped_inside.load(Ordering::SeqCst));
    assert!(
        server.events().get_subscription_info(&info.id).is_none(),
        "stopping from a handler unregistered the subscription"
    );
    // Stopping again, and restarting a stopped client, change nothing.
    tokio::time::timeout(Duration::from_secs(5), client.stop())
        .await
        .expect("a second stop returns at once");
    client
        .restart()
        .expect("restart on a stopped client is a no-op");
    assert_eq!(client.times_started(), 1);
    assert_eq!(server.events().subscription_count(), 0);
    // An explicit start brings it back.
    let again = client
        .connect()
        .await
        .expect("reconnect after an explicit start");
    assert_ne!(again.id, info.id);
    client.dispose().await;
    assert_eq!(client.start(), Err(Error::Disposed));
}

/// `connect()` called the moment `stop()` returns gets a new connection, never the `Stopped`
/// meant for the task that just ended (that task used to fail waiters registered after it had
/// already ended). Many back-to-back cycles, since the window is narrow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_connect_right_after_stop_gets_a_new_connection() {
    let server = server::start(Profile::Default).await.expect("server");
    let client = servicestack_events::ServerEventsClient::new(server.base_url(), ["cycles"])
        .expect("client");
    let mut previous = client.connect().await.expect("first connect").id;
    for cycle in 1..=25 {
        client.stop().await;
        let next = tokio::time::timeout(Duration::from_secs(10), client.connect())
            .await
            .unwrap_or_else(|_| panic!("cycle {cycle}: connect hangs"))
            .unwrap_or_else(|e| panic!("cycle {cycle}: connect after stop failed: {e}"));
        assert_ne!(next.id, previous, "cycle {cycle}: a new subscription");
        previous = next.id;
    }
    client.stop().await;
    assert_eq!(server.events().subscription_count(), 0);
    server.shutdown().await;
}

/// `wait_for_next_connect()` waits through failed reconnect attempts for the connection that
/// follows them, and a stop ends the wait with `Stopped`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_wait_for_next_connect_outlasts_failed_attempts() {
    let server = server::start(Profile::Default).await.expect("server");
    let client =
        servicestack_events::ServerEventsClient::new(server.base_url(), ["waits"]).expect("client");
    let first = client.connect().await.expect("first connect");

    server.faults().fail_streams(500, 2);
    let next = client.wait_for_next_connect(Duration::from_secs(10));
    server.events().disconnect_all();
    let next = next
        .await
        .expect("the connection after two refused attempts");
    assert_ne!(next.id, first.id);
    assert_eq!(
        server.faults().snapshot().fail_streams_count,
        0,
        "both refusals were seen"
    );

    let stopped = client.wait_for_next_connect(Duration::from_secs(10));
    client.stop().await;
    assert_eq!(stopped.await, Err(Error::Stopped));
    server.shutdown().await;
}
