//! `/event-unregister` and `UnRegisterEventSubscriber`: every verb and binding, onLeave,
//! stream closure, 404.

mod common;

use common::*;
use serde_json::Value;

/// Two members of A and B; returns (leaver, leaver args, stayer) with joins consumed.
async fn pair(
    server: &servicestack_events_server::TestServer,
) -> (Sse, serde_json::Map<String, Value>, Sse) {
    let (mut stayer, _) = Sse::connect(server, "channels=A,B").await;
    stayer.frame().await;
    stayer.frame().await;
    let (mut leaver, args) = Sse::connect(server, "channels=B,A").await;
    leaver.frame().await;
    leaver.frame().await;
    let j1 = stayer.frame().await;
    let j2 = stayer.frame().await;
    assert_eq!(
        (j1.selector(), j2.selector()),
        ("B@cmd.onJoin", "A@cmd.onJoin")
    );
    (leaver, args, stayer)
}

async fn assert_left(
    resp: reqwest::Response,
    leaver: &mut Sse,
    args: &serde_json::Map<String, Value>,
    stayer: &mut Sse,
) {
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let meta: serde_json::Map<String, Value> = resp.json().await.unwrap();
    assert_eq!(meta.len(), 6, "the Meta map: {meta:?}");
    assert_eq!(meta["userId"], args["userId"]);
    assert_eq!(meta["channels"], "B,A");
    assert!(!meta.contains_key("id"));

    // The stream has been closed.
    assert!(
        leaver.end().await.is_ok(),
        "unregistered stream ends cleanly"
    );
    // onLeave to the remaining members, once per channel, in the leaver's channel order.
    let l1 = stayer.frame().await;
    let l2 = stayer.frame().await;
    assert_eq!(l1.selector(), "B@cmd.onLeave");
    assert_eq!(l2.selector(), "A@cmd.onLeave");
    assert_eq!(l1.map(), meta);
    assert!(stayer.try_frame(QUIET).await.is_none());
}

#[tokio::test]
async fn unregister_by_get_query() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    let resp = client()
        .get(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_left(resp, &mut leaver, &args, &mut stayer).await;
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 404);
}

#[tokio::test]
async fn unregister_by_empty_post() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    let resp = client()
        .post(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_left(resp, &mut leaver, &args, &mut stayer).await;
}

#[tokio::test]
async fn unregister_by_form_body() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    let resp = client()
        .post(format!("{}/event-unregister", server.base_url()))
        .form(&[("Id", s(&args["id"]))])
        .send()
        .await
        .unwrap();
    assert_left(resp, &mut leaver, &args, &mut stayer).await;
}

#[tokio::test]
async fn unregister_by_json_body_on_api_route() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    let resp = client()
        .post(format!(
            "{}/api/UnRegisterEventSubscriber",
            server.base_url()
        ))
        .json(&serde_json::json!({"id": s(&args["id"])}))
        .send()
        .await
        .unwrap();
    assert_left(resp, &mut leaver, &args, &mut stayer).await;
}

#[tokio::test]
async fn unregister_by_delete_on_json_reply_route() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    let resp = client()
        .delete(format!(
            "{}/json/reply/UnRegisterEventSubscriber?id={}",
            server.base_url(),
            s(&args["id"])
        ))
        .send()
        .await
        .unwrap();
    assert_left(resp, &mut leaver, &args, &mut stayer).await;
}

#[tokio::test]
async fn unknown_id_is_404_with_service_stack_error() {
    let server = server().await;
    for url in [
        format!("{}/event-unregister?id=missing", server.base_url()),
        format!(
            "{}/api/UnRegisterEventSubscriber?id=missing",
            server.base_url()
        ),
    ] {
        let resp = client().post(url).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["responseStatus"]["errorCode"], "NotFound");
        assert_eq!(
            body["responseStatus"]["message"],
            "Subscription 'missing' does not exist"
        );
    }
    let resp = client()
        .post(format!("{}/event-unregister", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_second_unregister_is_404_and_leaves_are_not_repeated() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    let resp = client()
        .post(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_left(resp, &mut leaver, &args, &mut stayer).await;
    let again = client()
        .post(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert!(stayer.try_frame(QUIET).await.is_none());
}

#[tokio::test]
async fn dropping_the_connection_sends_one_leave() {
    let server = server().await;
    let (leaver, args, mut stayer) = pair(&server).await;
    drop(leaver);
    let l1 = stayer.frame().await;
    let l2 = stayer.frame().await;
    assert_eq!(l1.selector(), "B@cmd.onLeave");
    assert_eq!(l2.selector(), "A@cmd.onLeave");
    assert_eq!(l1.get("userId"), s(&args["userId"]));
    assert_eq!(server.events().subscription_count(), 1);
    assert!(stayer.try_frame(QUIET).await.is_none());
}

#[tokio::test]
async fn close_then_unregister_sends_exactly_one_leave() {
    // The TS client closes its EventSource first and then posts the unregister.
    let server = server().await;
    let (leaver, args, mut stayer) = pair(&server).await;
    drop(leaver);
    let resp = client()
        .post(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert!(resp.status() == 200 || resp.status() == 404);
    assert_eq!(stayer.frame().await.selector(), "B@cmd.onLeave");
    assert_eq!(stayer.frame().await.selector(), "A@cmd.onLeave");
    assert!(stayer.try_frame(QUIET).await.is_none());
}

#[tokio::test]
async fn library_unregister() {
    let server = server().await;
    let (mut leaver, args, mut stayer) = pair(&server).await;
    assert!(server.events().unregister(s(&args["id"])));
    assert!(!server.events().unregister(s(&args["id"])));
    assert!(leaver.end().await.is_ok());
    assert_eq!(stayer.frame().await.selector(), "B@cmd.onLeave");
}
