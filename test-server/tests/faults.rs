//! Fault injection, through the library and through `/test/*`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

async fn set_faults(server: &servicestack_events_server::TestServer, body: Value) -> Value {
    let resp = client()
        .post(format!("{}/test/faults", server.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{body}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn fail_streams_answers_the_status_before_any_stream_header() {
    let server = server().await;
    server.faults().fail_streams(500, 2);
    for _ in 0..2 {
        let resp = client().get(stream_url(&server, "")).send().await.unwrap();
        assert_eq!(resp.status(), 500);
        assert_ne!(resp.headers()["content-type"], "text/event-stream");
    }
    let (_sse, _) = Sse::connect(&server, "").await;

    // Over HTTP, until cleared.
    let snapshot = set_faults(
        &server,
        json!({"failStreams": {"status": 503, "count": -1}}),
    )
    .await;
    assert_eq!(snapshot["failStreamsStatus"], 503);
    for _ in 0..3 {
        let resp = client().get(stream_url(&server, "")).send().await.unwrap();
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().get("retry-after").is_none());
    }

    // With a Retry-After header, as a proxy or a busy server sends.
    let snapshot = set_faults(
        &server,
        json!({"failStreams": {"status": 429, "count": 1, "retryAfter": 7}}),
    )
    .await;
    assert_eq!(snapshot["failStreamsRetryAfterSecs"], 7);
    let resp = client().get(stream_url(&server, "")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let refused = client()
        .post(format!("{}/test/faults", server.base_url()))
        .json(&json!({"failStreams": {"status": 503, "retryAfter": "soon"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let message = refused.text().await.unwrap();
    assert!(message.contains("retryAfter"), "{message}");

    set_faults(&server, json!({"clear": true})).await;
    let (_sse, args) = Sse::connect(&server, "").await;
    // Failed requests do not consume anonymous identities.
    assert_eq!(s(&args["userId"]), "-2");
    assert_eq!(server.events().stats().stream_requests, 8);
}

#[tokio::test]
async fn stalled_stream_flushes_headers_then_sends_nothing() {
    let server = server().await;
    server.faults().stall_streams(1);
    // The headers arrive on their own (send() resolves only once they are read).
    let mut stalled = Sse::open(&server, "channels=A").await;
    assert_eq!(stalled.resp.headers()["cache-control"], "no-cache");
    assert_eq!(stalled.resp.headers()["x-accel-buffering"], "no");
    assert!(stalled.try_frame(QUIET).await.is_none());
    assert!(stalled.buffered().is_empty());
    assert_eq!(server.events().subscription_count(), 0);
    assert_eq!(server.events().stats().open_streams, 1);

    // The next stream is normal, and the stalled one stays silent.
    let (_sse, _) = Sse::connect(&server, "channels=A").await;
    server.events().notify_channel("A", "cmd.x", "x").unwrap();
    assert!(stalled.try_frame(QUIET).await.is_none());

    // Over HTTP, with a bare count.
    set_faults(&server, json!({"stallStreams": 1})).await;
    let mut second = Sse::open(&server, "").await;
    assert!(second.try_frame(QUIET).await.is_none());

    // disconnect_all aborts stalled streams too.
    server.events().disconnect_all();
    assert!(stalled.end().await.is_err());
    assert!(second.end().await.is_err());
}

#[tokio::test]
async fn a_stalled_stream_dropped_by_its_client_is_released() {
    let server = server().await;
    server.faults().stall_streams(1);
    let stalled = Sse::open(&server, "").await;
    assert_eq!(server.events().stats().open_streams, 1);
    drop(stalled);
    wait_until("the server to notice the closed connection", || {
        server.events().stats().open_streams == 0
    })
    .await;
    assert_eq!(server.events().stats().total_connections, 0);
}

#[tokio::test]
async fn cut_mid_frame_truncates_closes_and_drops_with_on_leave() {
    let server = server().await;
    let (mut victim, victim_args) = Sse::connect(&server, "channels=X").await;
    victim.frame().await;
    let (mut other, _) = Sse::connect(&server, "channels=X").await;
    other.frame().await;
    victim.frame().await;

    server.faults().cut_streams_mid_frame(1);
    server
        .events()
        .notify_channel("X", "cmd.msg", "0123456789")
        .unwrap();
    let full = "id: 4\ndata: X@cmd.msg \"0123456789\"\n\n";
    let rest = victim.end().await.expect_err("the connection is aborted");
    assert_eq!(rest, &full.as_bytes()[..full.len() / 2]);

    // The other member got the whole frame, then the victim's leave.
    assert_eq!(
        other.frame().await.raw,
        "id: 3\ndata: X@cmd.msg \"0123456789\"\n\n"
    );
    let leave = other.frame().await;
    assert_eq!(leave.selector(), "X@cmd.onLeave");
    assert_eq!(leave.get("userId"), s(&victim_args["userId"]));
    assert_eq!(server.events().subscription_count(), 1);
    assert_eq!(server.faults().snapshot().cut_streams_mid_frame_count, 0);
}

#[tokio::test]
async fn cut_over_http_applies_to_the_next_frame_of_any_stream() {
    let server = server().await;
    set_faults(&server, json!({"cutStreamsMidFrame": {"count": 1}})).await;
    // The very next frame is this stream's onConnect.
    let mut sse = Sse::send(client().get(stream_url(&server, ""))).await;
    let rest = sse.end().await.expect_err("aborted");
    assert!(rest.starts_with(b"id: 1\ndata: cmd.onConnect {"));
    assert!(!rest.ends_with(b"\n\n"));
    wait_until("the cut subscription to be dropped", || {
        server.events().subscription_count() == 0
    })
    .await;
}

#[tokio::test]
async fn delay_responses_delays_everything_but_the_controls() {
    let server = server().await;
    let delay = Duration::from_millis(400);
    server.faults().delay_responses(delay);
    let started = Instant::now();
    let resp = client()
        .get(format!("{}/event-subscribers", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= delay);

    let started = Instant::now();
    let _sse = Sse::open(&server, "").await;
    assert!(started.elapsed() >= delay, "stream headers are delayed too");

    let started = Instant::now();
    let resp = client()
        .get(format!("{}/test/stats", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() < delay, "controls are never delayed");

    set_faults(&server, json!({"delayResponses": {"ms": 0}})).await;
    assert_eq!(server.faults().snapshot().delay_responses_ms, 0);
    set_faults(&server, json!({"delayResponsesMs": 50})).await;
    assert_eq!(server.faults().snapshot().delay_responses_ms, 50);
}

#[tokio::test]
async fn reject_heartbeats_then_recover() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "").await;
    sse.frame().await;
    server.faults().reject_heartbeats(503, 1);
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 503);
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 200);
    assert_eq!(sse.frame().await.selector(), "cmd.onHeartbeat");

    set_faults(
        &server,
        json!({"rejectHeartbeats": {"status": 500, "count": 2}}),
    )
    .await;
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 500);
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 500);
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 200);
}

#[tokio::test]
async fn bad_fault_requests_are_400() {
    let server = server().await;
    for body in [
        json!({"failStreams": {"status": 42}}),
        json!({"stallStreams": {"count": "many"}}),
        json!({"delayResponses": {"ms": -5}}),
    ] {
        let resp = client()
            .post(format!("{}/test/faults", server.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
    }
    let resp = client()
        .post(format!("{}/test/faults", server.base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn raw_writes_reach_the_stream_verbatim() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "").await;
    sse.frame().await;
    let id = s(&args["id"]);
    let garbage: &[u8] = b"data: no id\r\n\xff\xfe broken utf8\ndata: line two\n\n";
    let resp = client()
        .post(format!("{}/test/raw?id={id}", server.base_url()))
        .header("content-type", "application/json")
        .body(garbage.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(sse.raw_bytes(garbage.len()).await, garbage);

    assert!(server.events().publish_raw(id, b"x"));
    assert_eq!(sse.raw_bytes(1).await, b"x");
    assert!(!server.events().publish_raw("nope", b"x"));
    let resp = client()
        .post(format!("{}/test/raw?id=nope", server.base_url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn disconnect_all_over_http_sends_leaves_and_aborts_streams() {
    let server = server().await;
    let (mut a, _) = Sse::connect(&server, "channels=X").await;
    let (mut b, _) = Sse::connect(&server, "channels=X").await;
    let resp = client()
        .post(format!("{}/test/disconnect-all", server.base_url()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert!(a.end().await.is_err(), "aborted like a broken connection");
    assert!(b.end().await.is_err());
    assert_eq!(server.events().subscription_count(), 0);
    // New connections work.
    let (_c, args) = Sse::connect(&server, "channels=X").await;
    assert_eq!(s(&args["userId"]), "-3");
}

#[tokio::test]
async fn stats_over_http() {
    let server = server().await;
    let (_a, _) = Sse::connect(&server, "").await;
    let stats: Value = client()
        .get(format!("{}/test/stats", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["subscriptionCount"], 1);
    assert_eq!(stats["totalConnections"], 1);
    assert_eq!(stats["openStreams"], 1);
    assert!(stats["notificationsSent"].as_u64().unwrap() >= 2);
    assert_eq!(stats["faults"]["failStreamsCount"], 0);
}
