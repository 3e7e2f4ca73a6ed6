//! The test AppHost's services: chat, raw, object, reset.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn chat_to_channel_every_binding() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "").await;
    sse.frame().await; // *@cmd.onJoin
    let from = s(&args["id"]).to_string();
    let base = server.base_url();

    // JSON on the feature route, `*` percent-encoded as the C# client does.
    let resp = client()
        .post(format!("{base}/channels/%2A/chat"))
        .json(&json!({"from": from, "message": "hello", "channel": "*", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let msg: Value = resp.json().await.unwrap();
    assert_eq!(
        msg,
        json!({"id": 1, "fromUserId": "-1", "fromName": "user1", "message": "hello", "private": false})
    );
    let frame = sse.frame().await;
    assert_eq!(
        frame.raw,
        "id: 3\ndata: *@cmd.chat {\"id\":1,\"fromUserId\":\"-1\",\"fromName\":\"user1\",\"message\":\"hello\",\"private\":false}\n\n"
    );

    // Form body, PascalCase.
    let resp = client()
        .post(format!("{base}/channels/*/chat"))
        .form(&[
            ("From", from.as_str()),
            ("Message", "form"),
            ("Selector", "cmd.chat"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sse.frame().await.json()["message"], "form");

    // Query string, GET.
    let resp = client()
        .get(format!(
            "{base}/channels/*/chat?from={from}&message=q&selector=cmd.chat"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sse.frame().await.json()["message"], "q");

    // /api and /json/reply with the channel in the body.
    for route in ["api", "json/reply"] {
        let resp = client()
            .post(format!("{base}/{route}/PostChatToChannel"))
            .json(&json!({"From": from, "Message": route, "Channel": "*", "Selector": "cmd.chat"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let f = sse.frame().await;
        assert_eq!(f.selector(), "*@cmd.chat");
        assert_eq!(f.json()["message"], route);
    }
    // Ids are a server-wide sequence.
    let resp: Value = client()
        .post(format!("{base}/channels/*/chat"))
        .json(&json!({"from": from, "message": "n", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["id"], 6);
}

#[tokio::test]
async fn chat_from_unknown_subscription_is_404() {
    let server = server().await;
    let resp = client()
        .post(format!("{}/channels/A/chat", server.base_url()))
        .json(&json!({"from": "ghost", "message": "x", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["responseStatus"]["message"],
        "Subscription ghost does not exist"
    );
}

#[tokio::test]
async fn private_chat_goes_to_the_user_and_a_copy_to_the_sender() {
    let server = server().await;
    let (mut alice, a) = Sse::connect(&server, "channels=A").await;
    alice.frame().await;
    let (mut bob, b) = Sse::connect(&server, "channels=B").await;
    bob.frame().await;
    let resp: Value = client()
        .post(format!("{}/channels/A/chat", server.base_url()))
        .json(&json!({"from": s(&a["id"]), "toUserId": s(&b["userId"]), "message": "psst", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["private"], true);
    assert_eq!(resp["message"], "@user2: psst");

    let to_bob = bob.frame().await;
    assert_eq!(to_bob.selector(), "cmd.chat", "no channel prefix");
    assert_eq!(to_bob.json()["message"], "psst");
    assert_eq!(to_bob.json()["private"], true);
    let copy = alice.frame().await;
    assert_eq!(copy.selector(), "cmd.chat");
    assert_eq!(copy.json()["message"], "@user2: psst");
}

#[tokio::test]
async fn raw_messages_are_json_quoted_and_null_is_empty() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "").await;
    sse.frame().await;
    let from = s(&args["id"]).to_string();
    let post = |body: Value| {
        client()
            .post(format!("{}/channels/*/raw", server.base_url()))
            .json(&body)
            .send()
    };
    let resp = post(json!({"from": from, "message": "msg1", "selector": "cmd.announce"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        sse.frame().await.raw,
        "id: 3\ndata: *@cmd.announce \"msg1\"\n\n"
    );

    post(json!({"from": from, "message": null, "selector": "cmd.toggle$#channels"}))
        .await
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 4\ndata: *@cmd.toggle$#channels \n\n"
    );

    post(json!({"from": from, "message": "url(http://bit.ly/1yIJOBH)", "selector": "css.background-image$#top"}))
        .await
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 5\ndata: *@css.background-image$#top \"url(http://bit.ly/1yIJOBH)\"\n\n"
    );

    // To a user id: no prefix.
    post(json!({"from": from, "toUserId": s(&args["userId"]), "message": "arg", "selector": "trigger.customEvent"}))
        .await
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 6\ndata: trigger.customEvent \"arg\"\n\n"
    );

    let resp = post(json!({"from": "ghost", "message": "x", "selector": "cmd.x"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client()
        .post(format!("{}/api/PostRawToChannel", server.base_url()))
        .json(&json!({"from": from, "channel": "*", "message": "api", "selector": "cmd.api"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(sse.frame().await.raw, "id: 7\ndata: *@cmd.api \"api\"\n\n");
}

#[tokio::test]
async fn objects_use_default_selectors_and_need_no_from() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "").await;
    sse.frame().await;
    let url = format!("{}/channels/*/object", server.base_url());
    let resp = client()
        .post(&url)
        .json(&json!({"customType": {"Id": 1, "Name": "Foo"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        sse.frame().await.raw,
        "id: 3\ndata: *@cmd.CustomType {\"id\":1,\"name\":\"Foo\"}\n\n"
    );
    client()
        .post(&url)
        .json(&json!({"setterType": {"id": 2, "name": "Bar"}, "customType": {"id": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 4\ndata: *@cmd.CustomType {\"id\":3}\n\n"
    );
    assert_eq!(
        sse.frame().await.raw,
        "id: 5\ndata: *@cmd.SetterType {\"id\":2,\"name\":\"Bar\"}\n\n"
    );
    client()
        .post(&url)
        .json(&json!({"customType": {"id": 4, "name": "Qux"}, "selector": "test.quxSetter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 6\ndata: *@test.quxSetter {\"id\":4,\"name\":\"Qux\"}\n\n"
    );
    // To a user id, via /api.
    client()
        .post(format!("{}/api/PostObjectToChannel", server.base_url()))
        .json(&json!({"toUserId": s(&args["userId"]), "customType": {"id": 5}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 7\ndata: cmd.CustomType {\"id\":5}\n\n"
    );
    let resp = client()
        .post(&url)
        .json(&json!({"customType": {"id": "not a number"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn reset_forgets_without_closing_or_notifying() {
    let server = server().await;
    let (mut a, a_args) = Sse::connect(&server, "channels=A").await;
    a.frame().await;
    let (mut b, b_args) = Sse::connect(&server, "channels=A").await;
    b.frame().await;
    a.frame().await;

    for route in [
        "reset-serverevents",
        "api/ResetServerEvents",
        "json/reply/ResetServerEvents",
    ] {
        let resp = client()
            .post(format!("{}/{route}", server.base_url()))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{route}");
    }
    assert_eq!(server.events().subscription_count(), 0);
    // Streams stay open and silent; the heartbeat is now 404.
    assert_eq!(heartbeat(s(&a_args["heartbeatUrl"])).await, 404);
    server.events().notify_channel("A", "cmd.x", "x").unwrap();
    server.events().notify_all("cmd.x", "x");
    assert!(a.try_frame(QUIET).await.is_none());
    // Closing a forgotten stream notifies nobody.
    drop(b);
    let (mut c, _) = Sse::connect(&server, "channels=A").await;
    assert_eq!(c.frame().await.selector(), "A@cmd.onJoin");
    assert!(c.try_frame(QUIET).await.is_none());
    assert!(a.try_frame(QUIET).await.is_none());
    let _ = b_args;
}

#[tokio::test]
async fn private_messages_to_a_user_with_no_subscription_are_refused() {
    let server = server().await;
    let base = server.base_url();
    let (mut alice, a) = Sse::connect(&server, "channels=A").await;
    alice.frame().await; // A@cmd.onJoin
    let from = s(&a["id"]).to_string();
    for (route, selector) in [("chat", "cmd.chat"), ("raw", "cmd.announce")] {
        let resp = client()
            .post(format!("{base}/channels/A/{route}"))
            .json(&json!({"from": from, "toUserId": "-99", "message": "anyone?", "selector": selector}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{route} to an unknown user");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["responseStatus"]["message"], "User -99 is not connected",
            "{route}"
        );
    }
    // Nothing was sent: not even the sender's copy (the marker is the next frame).
    let resp = client()
        .post(format!("{base}/channels/A/chat"))
        .json(&json!({"from": from, "message": "marker", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(alice.frame().await.json()["message"], "marker");
}

#[tokio::test]
async fn private_raw_selector_reaches_only_that_user() {
    let server = server().await;
    let base = server.base_url();
    let (mut alice, a) = Sse::connect(&server, "channels=A").await;
    alice.frame().await;
    let (mut bob, b) = Sse::connect(&server, "channels=A").await;
    bob.frame().await;
    alice.frame().await; // bob's join
    let resp = client()
        .post(format!("{base}/channels/A/raw"))
        .json(&json!({"from": s(&a["id"]), "toUserId": s(&b["userId"]), "message": "http://x/v.webm", "selector": "tv.watch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let to_bob = bob.frame().await;
    assert_eq!(to_bob.selector(), "tv.watch");
    assert_eq!(to_bob.json(), json!("http://x/v.webm"));
    // Alice gets no copy of a raw message: the marker is her next frame.
    let resp = client()
        .post(format!("{base}/channels/A/raw"))
        .json(&json!({"from": s(&a["id"]), "message": "marker", "selector": "cmd.announce"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(alice.frame().await.json(), json!("marker"));
}
