//! `/event-heartbeat`: 404/403/200, the onHeartbeat frame, idle expiry.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::*;

#[tokio::test]
async fn unknown_id_is_404_with_status_text_for_get_and_post() {
    let server = server().await;
    let url = format!("{}/event-heartbeat?id=nope", server.base_url());
    let get = client().get(&url).send().await.unwrap();
    assert_eq!(get.status(), 404);
    assert_eq!(
        get.text().await.unwrap(),
        "Subscription 'nope' does not exist"
    );
    let post = client().post(&url).send().await.unwrap();
    assert_eq!(post.status(), 404);

    // The status text (StatusDescription) carries the message too.
    let resp = raw_http(
        server.addr(),
        "POST /event-heartbeat?id=nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        resp.starts_with("HTTP/1.1 404 Subscription 'nope' does not exist\r\n"),
        "{resp}"
    );
    let missing = client()
        .post(format!("{}/event-heartbeat", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn heartbeat_writes_on_heartbeat_before_answering_200() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "channels=A").await;
    sse.frame().await; // join
    let url = s(&args["heartbeatUrl"]).to_string();

    for (n, method) in [(3u64, "POST"), (4, "GET")] {
        let req = if method == "POST" {
            client().post(&url).header("content-type", "text/plain")
        } else {
            client().get(&url)
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // Written before the 200: the server had already assigned its id.
        let info = server
            .events()
            .get_subscription_info(s(&args["id"]))
            .unwrap();
        assert_eq!(info.last_event_id, n);
        assert!(resp.headers().get("content-type").is_none());
        assert_eq!(resp.bytes().await.unwrap().len(), 0);
        // Written before the 200: already on the wire, no further publish needed.
        let frame = sse
            .try_frame(Duration::from_millis(500))
            .await
            .expect("onHeartbeat written before the response");
        assert_eq!(frame.id, Some(n));
        assert_eq!(frame.selector(), "cmd.onHeartbeat", "no channel prefix");
        let meta = frame.map();
        assert_eq!(meta.len(), 6);
        assert_eq!(meta["userId"], args["userId"]);
        assert_eq!(meta["channels"], "A");
    }
    assert_eq!(server.events().stats().heartbeats, 2);
}

#[tokio::test]
async fn heartbeat_from_another_address_is_403() {
    let server = server().await;
    let (_sse, args) = Sse::connect(&server, "").await;
    let other = {
        install_crypto();
        reqwest::Client::builder()
    }
    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
    .build()
    .unwrap();
    let resp = other.post(s(&args["heartbeatUrl"])).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.text().await.unwrap(), "Invalid User Address");
    // Unregister and update from there are forbidden too, with ServiceStack's message.
    let id = s(&args["id"]);
    let resp = other.post(s(&args["unRegisterUrl"])).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["responseStatus"]["message"],
        format!("Access to Subscription '{id}' is forbidden")
    );
    let resp = other
        .post(s(&args["updateSubscriberUrl"]))
        .json(&serde_json::json!({"subscribeChannels": ["X"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(server.events().subscription_count(), 1);
}

#[tokio::test]
async fn address_validation_can_be_switched_off() {
    let server = server_with(|c| c.validate_user_address = false).await;
    let (_sse, args) = Sse::connect(&server, "").await;
    let other = {
        install_crypto();
        reqwest::Client::builder()
    }
    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
    .build()
    .unwrap();
    let resp = other.post(s(&args["heartbeatUrl"])).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn idle_subscriptions_expire_with_on_leave() {
    let server = server_with(|c| {
        c.idle_timeout = Duration::from_millis(400);
        c.housekeeping_interval = Duration::from_millis(50);
    })
    .await;
    let (mut idle, idle_args) = Sse::connect(&server, "channels=A").await;
    idle.frame().await;
    let (mut live, live_args) = Sse::connect(&server, "channels=A").await;
    live.frame().await;
    let live_hb = s(&live_args["heartbeatUrl"]).to_string();

    // Keep `live` alive with heartbeats while waiting for the idle one's leave.
    let leave = loop {
        assert_eq!(heartbeat(&live_hb).await, 200);
        let f = live.frame().await;
        if f.selector() == "A@cmd.onLeave" {
            break f;
        }
        assert_eq!(f.selector(), "cmd.onHeartbeat");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(leave.get("userId"), s(&idle_args["userId"]));
    // The expired stream is ended and its heartbeat is now 404.
    assert!(idle.end().await.is_ok(), "expired stream ends cleanly");
    assert_eq!(heartbeat(s(&idle_args["heartbeatUrl"])).await, 404);
    assert_eq!(server.events().subscription_count(), 1);
    assert!(server.events().stats().expired_subscriptions >= 1);
}

#[tokio::test]
async fn publishing_lazily_expires_idle_subscriptions() {
    // Housekeeping far away: only the lazy check on publish can expire it.
    let server = server_with(|c| {
        c.idle_timeout = Duration::from_millis(200);
        c.housekeeping_interval = Duration::from_secs(3600);
    })
    .await;
    let (mut idle, idle_args) = Sse::connect(&server, "channels=A").await;
    idle.frame().await;
    let idle_id = s(&idle_args["id"]).to_string();
    // Let the idle timeout pass (a duration, not a race).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.events().get_subscription_info(&idle_id).is_some());
    server.events().notify_channel("A", "cmd.x", "x").unwrap();
    assert!(server.events().get_subscription_info(&idle_id).is_none());
    assert!(idle.end().await.is_ok());
}
