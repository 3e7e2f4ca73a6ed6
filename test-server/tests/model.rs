//! The rest of ServiceStack's model: hooks, custom Meta/ConnectArgs/ServerArgs, user names,
//! LimitRemoteControlToAuthenticatedUsers, chat history, GetNextSequence.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use http::StatusCode;
use serde_json::{Value, json};
use servicestack_events_server::{ServerConfig, ServerHooks};

#[tokio::test]
async fn custom_meta_reaches_connect_join_and_subscriber_lists_but_server_args_stay_home() {
    let server = server_with(|c| c.hooks = ServerConfig::custom_meta_hooks()).await;
    let (mut first, args) = Sse::connect(&server, "channels=home").await;
    assert_eq!(s(&args["team"]), "blue");
    assert_eq!(
        s(&args["motd"]),
        format!("welcome {}", s(&args["displayName"]))
    );
    assert!(!args.contains_key("secret"), "ServerArgs are never sent");
    let own_join = first.frame().await;
    assert_eq!(own_join.selector(), "home@cmd.onJoin");
    assert_eq!(own_join.get("team"), "blue");
    // onConnect arguments are not Meta: joins and lists do not carry them.
    assert!(!own_join.map().contains_key("motd"));

    let token = login_token(server.base_url()).await;
    let (_signed_in, signed_args) = bearer_stream(&server, "channels=home", &token).await;
    assert_eq!(s(&signed_args["team"]), "signed-in");
    let join = first.frame().await;
    assert_eq!(join.selector(), "home@cmd.onJoin");
    assert_eq!(join.get("team"), "signed-in");

    let list: Value = client()
        .get(format!(
            "{}/event-subscribers?channels=home",
            server.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let teams: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["team"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["blue", "signed-in"]);

    let info = server
        .events()
        .get_subscription_info(s(&args["id"]))
        .unwrap();
    assert_eq!(info.meta["team"], "blue");
    assert_eq!(info.server_args["secret"], "kept on the server");
    assert_eq!(info.connect_args["motd"], s(&args["motd"]));
    assert_eq!(info.connect_args["id"], s(&args["id"]));
    assert!(!info.is_closed);
}

#[tokio::test]
async fn hooks_run_in_connection_order_and_see_every_change() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = |tag: &'static str| {
        let log = log.clone();
        Arc::new(move |info: &servicestack_events_server::SubscriptionInfo| {
            log.lock()
                .unwrap()
                .push(format!("{tag} {}", info.channels.join(",")));
        })
    };
    let publish_log = log.clone();
    let server = server_with(|c| {
        c.hooks = ServerHooks {
            on_created: Some(Arc::new({
                let log = log.clone();
                move |sub| {
                    log.lock()
                        .unwrap()
                        .push(format!("created {}", sub.channels.join(",")))
                }
            })),
            on_connect: Some(Arc::new({
                let log = log.clone();
                move |_, args| {
                    log.lock().unwrap().push("connect".into());
                    args.remove("profileUrl");
                }
            })),
            on_subscribe: Some(record("subscribe")),
            on_update: Some(record("update")),
            on_unsubscribe: Some(record("unsubscribe")),
            on_publish: Some(Arc::new(move |_, selector, _| {
                publish_log
                    .lock()
                    .unwrap()
                    .push(format!("publish {selector}"));
            })),
            ..ServerHooks::default()
        }
    })
    .await;
    let (mut sse, args) = Sse::connect(&server, "channels=A").await;
    assert!(!args.contains_key("profileUrl"), "OnConnect removed it");
    sse.frame().await; // join
    let up = client()
        .post(s(&args["updateSubscriberUrl"]))
        .json(&json!({"subscribeChannels": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let un = client()
        .post(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(un.status(), 200);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "created A",
            "connect",
            "publish cmd.onConnect",
            "subscribe A",
            "publish A@cmd.onJoin",
            "update A,B",
            "publish A@cmd.onUpdate",
            "publish B@cmd.onUpdate",
            "unsubscribe A,B",
        ]
    );
}

#[tokio::test]
async fn on_init_and_on_heartbeat_init_can_refuse() {
    let server = server_with(|c| {
        c.hooks = ServerHooks {
            on_init: Some(Arc::new(|parts| {
                if parts.uri.query().is_some_and(|q| q.contains("blocked")) {
                    Err(StatusCode::FORBIDDEN)
                } else {
                    Ok(())
                }
            })),
            on_heartbeat_init: Some(Arc::new(|_| Err(StatusCode::TOO_MANY_REQUESTS))),
            ..ServerHooks::default()
        }
    })
    .await;
    let refused = client()
        .get(stream_url(&server, "channels=blocked"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(server.events().subscription_count(), 0);
    let (_sse, args) = Sse::connect(&server, "channels=ok").await;
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 429);
}

#[tokio::test]
async fn notify_user_name_reaches_signed_in_streams_only() {
    let server = server().await;
    let token = login_token(server.base_url()).await;
    let (mut signed_in, signed_args) = bearer_stream(&server, "channels=home", &token).await;
    signed_in.frame().await;
    let (mut anonymous, anon_args) = Sse::connect(&server, "channels=home").await;
    anonymous.frame().await; // own join
    signed_in.frame().await; // the anonymous join

    let info = server
        .events()
        .get_subscription_info(s(&signed_args["id"]))
        .unwrap();
    assert_eq!(info.user_name.as_deref(), Some("user"));
    server
        .events()
        .notify_user_name("user", "cmd.typed", "hello", None);
    server
        .events()
        .notify_user_name_json("user", "cmd.json", r#"{"a":1}"#, Some("home"));
    // Over HTTP, for legs that cannot call the library.
    let resp = client()
        .post(format!("{}/test/notify", server.base_url()))
        .json(&json!({"target": "userName", "to": "user", "selector": "cmd.http", "message": {"b": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(signed_in.frame().await.data, "cmd.typed \"hello\"");
    assert_eq!(signed_in.frame().await.data, "cmd.json {\"a\":1}");
    assert_eq!(signed_in.frame().await.data, "cmd.http {\"b\":2}");

    // The anonymous stream got none of them: its next frame is the marker.
    server
        .events()
        .notify_subscription(s(&anon_args["id"]), "cmd.marker", "m", None);
    assert_eq!(anonymous.frame().await.selector(), "cmd.marker");

    let bad = client()
        .post(format!("{}/test/notify", server.base_url()))
        .json(&json!({"target": "planet", "to": "x", "selector": "cmd.x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn remote_control_can_be_limited_to_signed_in_users() {
    let server = server_with(|c| c.limit_remote_control_to_authenticated_users = true).await;
    let (mut sse, args) = Sse::connect(&server, "channels=home").await;
    sse.frame().await;
    let raw = json!({"from": s(&args["id"]), "channel": "home", "selector": "css.background", "message": "red"});
    let url = format!("{}/channels/home/raw", server.base_url());
    let anonymous = client().post(&url).json(&raw).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    // Chats are not remote control.
    let chat = client()
        .post(format!("{}/channels/home/chat", server.base_url()))
        .json(&json!({"from": s(&args["id"]), "channel": "home", "selector": "cmd.chat", "message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    assert_eq!(sse.frame().await.selector(), "home@cmd.chat");

    // A signed-in user relays through its own subscription.
    let token = login_token(server.base_url()).await;
    let (_own, own_args) = bearer_stream(&server, "channels=home", &token).await;
    let signed_in = client()
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"from": s(&own_args["id"]), "channel": "home", "selector": "css.background", "message": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 204);
    assert_eq!(sse.frame().await.selector(), "home@cmd.onJoin");
    assert_eq!(sse.frame().await.data, "home@css.background \"red\"");
}

#[tokio::test]
async fn chat_history_is_kept_per_channel_and_bounded() {
    let server = server_with(|c| c.chat_history_size = 3).await;
    let (_a, a) = Sse::connect(&server, "channels=home,work").await;
    let post = |channel: &'static str, message: String| {
        let from = s(&a["id"]).to_string();
        let base = server.base_url().to_string();
        async move {
            let resp = client()
                .post(format!("{base}/channels/{channel}/chat"))
                .json(&json!({"from": from, "channel": channel, "selector": "cmd.chat", "message": message}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    for i in 1..=5 {
        post("home", format!("h{i}")).await;
    }
    post("work", "w1".into()).await;
    let history = |query: &'static str| {
        let base = server.base_url().to_string();
        async move {
            let v: Value = client()
                .get(format!("{base}/chathistory?{query}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["message"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(history("channels=home").await, ["h3", "h4", "h5"]);
    assert_eq!(
        history("channels=home,work").await,
        ["h3", "h4", "h5", "w1"]
    );
    assert_eq!(history("channels=home,work&afterId=4").await, ["h5", "w1"]);
    assert_eq!(history("channels=home,work&take=2").await, ["h5", "w1"]);
    let api: Value = client()
        .get(format!(
            "{}/api/GetChatHistory?channels=work",
            server.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["results"][0]["message"], "w1");
    let bad = client()
        .get(format!("{}/chathistory?afterId=x", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn sequences_and_pulse_times_are_public() {
    let server = server().await;
    assert_eq!(server.events().get_next_sequence("orders"), 1);
    assert_eq!(server.events().get_next_sequence("orders"), 2);
    let (_sse, args) = Sse::connect(&server, "").await;
    assert_eq!(s(&args["userId"]), "-1");
    // anonUser is the stream's own counter.
    assert_eq!(server.events().get_next_sequence("anonUser"), 2);
    let (_sse2, args2) = Sse::connect(&server, "").await;
    assert_eq!(s(&args2["userId"]), "-3");

    let id = s(&args["id"]);
    let before = server.events().get_subscription_info(id).unwrap();
    assert!(before.last_pulse_at_ms >= before.created_at_ms);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 200);
    let after = server.events().get_subscription_info(id).unwrap();
    assert!(
        after.last_pulse_at_ms >= before.last_pulse_at_ms + 20,
        "{} then {}",
        before.last_pulse_at_ms,
        after.last_pulse_at_ms
    );
}
