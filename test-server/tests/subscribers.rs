//! `/event-subscribers` (read) and `/event-subscribers/{id}` (update), plus the `/api` forms.

mod common;

use common::*;
use serde_json::{Value, json};

async fn subscribers(url: String) -> Vec<serde_json::Map<String, Value>> {
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    resp.json().await.unwrap()
}

fn user_ids(list: &[serde_json::Map<String, Value>]) -> Vec<String> {
    list.iter().map(|m| s(&m["userId"]).to_string()).collect()
}

#[tokio::test]
async fn read_by_channel_dedups_in_channel_order() {
    let server = server().await;
    let (_a, a) = Sse::connect(&server, "channels=A").await; // -1
    let (_b, b) = Sse::connect(&server, "channels=B").await; // -2
    let (_ab, ab) = Sse::connect(&server, "channels=A,B").await; // -3
    let base = server.base_url();
    let uid = |m: &serde_json::Map<String, Value>| s(&m["userId"]).to_string();

    let only_a = subscribers(format!("{base}/event-subscribers?channels=A")).await;
    assert_eq!(user_ids(&only_a), [uid(&a), uid(&ab)]);
    let meta = &only_a[0];
    assert_eq!(meta.len(), 6, "Meta only, no id: {meta:?}");
    assert_eq!(meta["channels"], "A");
    assert!(meta.values().all(Value::is_string));

    let both = subscribers(format!("{base}/event-subscribers?channels=B,A")).await;
    assert_eq!(user_ids(&both), [uid(&b), uid(&ab), uid(&a)]);
    // .NET client: percent-encoded comma on the /api route.
    let api = subscribers(format!("{base}/api/GetEventSubscribers?channels=A%2CB")).await;
    assert_eq!(user_ids(&api), [uid(&a), uid(&ab), uid(&b)]);
    // Java client: a JSON array, PascalCase key.
    let java = subscribers(format!(
        "{base}/json/reply/GetEventSubscribers?Channels=%5B%22A%22%2C%22B%22%5D"
    ))
    .await;
    assert_eq!(user_ids(&java), [uid(&a), uid(&ab), uid(&b)]);
    // Several values and the legacy raw `channel`.
    let multi = subscribers(format!("{base}/event-subscribers?channel=B&channels=A")).await;
    assert_eq!(user_ids(&multi), [uid(&b), uid(&ab), uid(&a)]);
    let repeated = subscribers(format!("{base}/event-subscribers?channels=B&channels=A")).await;
    assert_eq!(repeated.len(), 3);
    // JSON body.
    let resp: Vec<Value> = client()
        .post(format!("{base}/api/GetEventSubscribers"))
        .json(&json!({"channels": ["B"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp.len(), 2);

    // No channels: everyone. Unknown channel: [].
    assert_eq!(
        subscribers(format!("{base}/event-subscribers")).await.len(),
        3
    );
    assert!(
        subscribers(format!("{base}/event-subscribers?channels=Z"))
            .await
            .is_empty()
    );
    assert_eq!(server.events().all_subscriptions_details().len(), 3);
    assert_eq!(server.events().get_subscriptions_details(&["B"]).len(), 2);
}

/// Two subscriptions: `me` on A,B and `other` on B,C; joins consumed.
async fn two(
    server: &servicestack_events_server::TestServer,
) -> (Sse, serde_json::Map<String, Value>, Sse) {
    let (mut me, me_args) = Sse::connect(server, "channels=A,B").await;
    me.frame().await;
    me.frame().await;
    let (mut other, _) = Sse::connect(server, "channels=B,C").await;
    other.frame().await;
    other.frame().await;
    assert_eq!(me.frame().await.selector(), "B@cmd.onJoin");
    (me, me_args, other)
}

#[tokio::test]
async fn subscribe_sends_on_update_to_old_and_new_channels() {
    let server = server().await;
    let (mut me, args, mut other) = two(&server).await;
    let resp = client()
        .post(s(&args["updateSubscriberUrl"]))
        .json(&json!({"subscribeChannels": ["C", "D"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The four updates were written before the response: ids 5..=8 are taken.
    let info = server
        .events()
        .get_subscription_info(s(&args["id"]))
        .unwrap();
    assert_eq!(info.last_event_id, 8);
    assert_eq!(resp.text().await.unwrap(), "{}");

    // Already written when the response came back.
    let mut mine = Vec::new();
    for _ in 0..4 {
        mine.push(me.try_frame(QUIET).await.expect("update written before {}"));
    }
    let sel: Vec<&str> = mine.iter().map(|f| f.selector()).collect();
    assert_eq!(
        sel,
        [
            "A@cmd.onUpdate",
            "B@cmd.onUpdate",
            "C@cmd.onUpdate",
            "D@cmd.onUpdate"
        ]
    );
    assert_eq!(mine[0].get("channels"), "A,B,C,D");
    // `other` shares B and C.
    assert_eq!(other.frame().await.selector(), "B@cmd.onUpdate");
    assert_eq!(other.frame().await.selector(), "C@cmd.onUpdate");
    assert!(other.try_frame(QUIET).await.is_none());
    let info = server
        .events()
        .get_subscription_info(s(&args["id"]))
        .unwrap();
    assert_eq!(info.channels, ["A", "B", "C", "D"]);
    assert_eq!(info.meta["channels"], "A,B,C,D");
}

#[tokio::test]
async fn unsubscribe_sends_on_update_not_on_leave() {
    let server = server().await;
    let (mut me, args, mut other) = two(&server).await;
    // Form body with a comma list, PascalCase keys.
    let resp = client()
        .post(s(&args["updateSubscriberUrl"]))
        .form(&[("UnsubscribeChannels", "B")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // onUpdate goes to the old channels A and B; `me` has already left B, so it sees only the
    // A update and the remaining member of B sees the B one.
    let a = me.frame().await;
    assert_eq!(a.selector(), "A@cmd.onUpdate");
    assert_eq!(a.get("channels"), "A");
    let seen = other.frame().await;
    assert_eq!(seen.selector(), "B@cmd.onUpdate");
    assert_eq!(seen.get("channels"), "A");
    assert!(other.try_frame(QUIET).await.is_none(), "no onLeave");
    // B no longer reaches it.
    server.events().notify_channel("B", "cmd.b", "x").unwrap();
    assert_eq!(other.frame().await.selector(), "B@cmd.b");
    assert!(me.try_frame(QUIET).await.is_none());
}

#[tokio::test]
async fn unsubscribe_then_subscribe_in_one_request() {
    let server = server().await;
    let (mut me, args, mut other) = two(&server).await;
    // Query-string binding, camelCase, on the /api route with the id in the query.
    let resp = client()
        .post(format!(
            "{}/api/UpdateEventSubscriber?id={}&unsubscribeChannels=A&subscribeChannels=X",
            server.base_url(),
            s(&args["id"])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Unsubscribe first: onUpdate to the old channels A,B, but `me` already left A and nobody
    // else is in A, so only the B update arrives. Then subscribe: onUpdate to B and X.
    let frames = [me.frame().await, me.frame().await, me.frame().await];
    let got: Vec<(&str, String)> = frames
        .iter()
        .map(|f| (f.selector(), f.get("channels")))
        .collect();
    assert_eq!(
        got,
        [
            ("B@cmd.onUpdate", "B".to_string()),
            ("B@cmd.onUpdate", "B,X".to_string()),
            ("X@cmd.onUpdate", "B,X".to_string()),
        ]
    );
    assert!(me.try_frame(QUIET).await.is_none());
    let info = server
        .events()
        .get_subscription_info(s(&args["id"]))
        .unwrap();
    assert_eq!(info.channels, ["B", "X"]);
    assert_eq!(other.frame().await.get("channels"), "B");
    assert_eq!(other.frame().await.get("channels"), "B,X");
}

#[tokio::test]
async fn update_via_json_reply_with_pascal_case_java_body() {
    let server = server().await;
    let (mut me, args, _other) = two(&server).await;
    let resp = client()
        .post(format!(
            "{}/json/reply/UpdateEventSubscriber",
            server.base_url()
        ))
        .json(
            &json!({"Id": s(&args["id"]), "SubscribeChannels": ["E"], "UnsubscribeChannels": null}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "{}");
    let sels: Vec<String> = [me.frame().await, me.frame().await, me.frame().await]
        .iter()
        .map(|f| f.selector().to_string())
        .collect();
    assert_eq!(sels, ["A@cmd.onUpdate", "B@cmd.onUpdate", "E@cmd.onUpdate"]);
}

#[tokio::test]
async fn empty_update_sends_nothing_and_unknown_is_404() {
    let server = server().await;
    let (mut me, args, _other) = two(&server).await;
    let resp = client()
        .post(s(&args["updateSubscriberUrl"]))
        .json(&json!({"subscribeChannels": [], "unsubscribeChannels": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(me.try_frame(QUIET).await.is_none());

    let resp = client()
        .post(format!("{}/event-subscribers/nope", server.base_url()))
        .json(&json!({"subscribeChannels": ["X"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["responseStatus"]["message"],
        "Subscription 'nope' does not exist"
    );

    let resp = client()
        .post(s(&args["updateSubscriberUrl"]))
        .json(&json!({"subscribeChannels": ["ok", "bad@channel"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        me.try_frame(QUIET).await.is_none(),
        "a rejected update changes nothing"
    );
    let info = server
        .events()
        .get_subscription_info(s(&args["id"]))
        .unwrap();
    assert_eq!(info.channels, ["A", "B"]);
}

#[tokio::test]
async fn library_channel_updates() {
    let server = server().await;
    let (mut me, args, _other) = two(&server).await;
    let id = s(&args["id"]);
    assert!(server.events().subscribe_to_channels(id, &["Q"]));
    assert_eq!(me.frame().await.selector(), "A@cmd.onUpdate");
    assert!(!server.events().subscribe_to_channels("nope", &["Q"]));
    assert!(
        server
            .events()
            .unsubscribe_from_channels(id, &["A", "B", "Q"])
    );
    let info = server.events().get_subscription_info(id).unwrap();
    assert!(info.channels.is_empty(), "zero channels, not even *");
}
