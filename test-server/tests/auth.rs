//! LimitToAuthenticatedUsers, the credentials provider, session cookies, bearer tokens.

mod common;

use common::*;
use serde_json::{Value, json};

/// A client that sends the session cookies with every request.
struct Jar(String);

impl Jar {
    fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        client().get(url).header("cookie", &self.0)
    }
    fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        client().post(url).header("cookie", &self.0)
    }
}

async fn limited() -> servicestack_events_server::TestServer {
    server_with(|c| c.limit_to_authenticated_users = true).await
}

#[tokio::test]
async fn anonymous_stream_is_401_before_any_stream_header() {
    let server = limited().await;
    let resp = client().get(stream_url(&server, "")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "credentials realm=\"/auth/credentials\""
    );
    assert_ne!(resp.headers()["content-type"], "text/event-stream");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["responseStatus"]["errorCode"], "Unauthorized");
    assert_eq!(server.events().subscription_count(), 0);
}

#[tokio::test]
async fn wrong_credentials_are_401() {
    let server = limited().await;
    for body in [
        json!({"userName": "user", "password": "nope"}),
        json!({"userName": "admin", "password": "pass"}),
        json!({}),
    ] {
        let resp = client()
            .post(format!("{}/auth/credentials", server.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{body}");
    }
    let resp = client()
        .post(format!("{}/auth/github", server.base_url()))
        .json(&json!({"userName": "user", "password": "pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn cookie_session_authenticates_stream_heartbeat_update_and_unregister() {
    let server = limited().await;
    let resp = client()
        .post(format!("{}/auth/credentials", server.base_url()))
        .form(&[("UserName", "user"), ("Password", "pass")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    for name in ["ss-id=", "ss-pid=", "ss-opt=temp"] {
        let c = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        assert!(c.contains("Path=/") && c.contains("HttpOnly"), "{c}");
    }
    // What a browser would send back.
    let cookie_header = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");
    let jar = Jar(cookie_header);
    let auth: Value = resp.json().await.unwrap();
    assert_eq!(auth["userName"], "user");
    assert!(auth["sessionId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(auth["bearerToken"].as_str().is_some_and(|s| !s.is_empty()));

    let mut sse = Sse::send(jar.get(stream_url(&server, "channels=A"))).await;
    let args = sse.frame().await.map();
    assert_eq!(s(&args["isAuthenticated"]), "true");
    assert_eq!(s(&args["userId"]), "-1");
    assert_eq!(s(&args["displayName"]), "user1");
    let info = server
        .events()
        .get_subscription_info(s(&args["id"]))
        .unwrap();
    assert_eq!(info.session_id.as_deref(), auth["sessionId"].as_str());
    assert!(info.is_authenticated);
    sse.frame().await;

    // NotifySession reaches it.
    server.events().notify_session(
        info.session_id.as_deref().unwrap(),
        "cmd.session",
        "s",
        None,
    );
    assert_eq!(sse.frame().await.selector(), "cmd.session");

    let hb = jar.post(s(&args["heartbeatUrl"])).send().await.unwrap();
    assert_eq!(hb.status(), 200);
    assert_eq!(sse.frame().await.selector(), "cmd.onHeartbeat");
    let up = jar
        .post(s(&args["updateSubscriberUrl"]))
        .json(&json!({"subscribeChannels": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let un = jar.post(s(&args["unRegisterUrl"])).send().await.unwrap();
    assert_eq!(un.status(), 200);

    // GET /auth reports the session; logout ends it.
    let me: Value = jar
        .get(format!("{}/auth", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "user");
    let out = jar
        .post(format!("{}/auth/logout", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let resp = jar.get(stream_url(&server, "")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn bearer_header_and_ss_tok_query_authenticate() {
    let server = limited().await;
    let auth = login(server.base_url()).await;
    let token = auth["bearerToken"].as_str().unwrap().to_string();

    let (_sse, args) = bearer_stream(&server, "", &token).await;
    assert_eq!(s(&args["isAuthenticated"]), "true");

    let mut sse2 = Sse::open(&server, &format!("channels=Q&ss-tok={token}")).await;
    let args2 = sse2.frame().await.map();
    assert_eq!(s(&args2["isAuthenticated"]), "true");
    assert_eq!(s(&args2["channels"]), "Q");

    // /api/Authenticate with a JSON body works too.
    let resp = client()
        .post(format!("{}/api/Authenticate", server.base_url()))
        .json(&json!({"provider": "credentials", "UserName": "user", "Password": "pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn expired_tokens_get_401_everywhere() {
    let server = limited().await;
    let token = login_token(server.base_url()).await;
    let (_sse, args) = bearer_stream(&server, "", &token).await;

    let resp = client()
        .post(format!("{}/test/expire-tokens", server.base_url()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());

    let stream = client()
        .get(stream_url(&server, ""))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 401);
    let body: Value = stream.json().await.unwrap();
    assert_eq!(body["responseStatus"]["message"], "Token has expired");
    let tok = client()
        .get(stream_url(&server, &format!("ss-tok={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(tok.status(), 401);

    let hb = client()
        .post(s(&args["heartbeatUrl"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 401);
    let up = client()
        .post(s(&args["updateSubscriberUrl"]))
        .bearer_auth(&token)
        .json(&json!({"subscribeChannels": ["X"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 401);
    let un = client()
        .post(s(&args["unRegisterUrl"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(un.status(), 401);
    assert_eq!(
        server.events().subscription_count(),
        1,
        "401s change nothing"
    );

    // A fresh login gives a working token again. It is a new session, so the subscription of
    // the old one is not its to pulse (403); its own new stream's heartbeats work.
    let fresh = login_token(server.base_url()).await;
    let (_sse, fresh_args) = bearer_stream(&server, "", &fresh).await;
    let hb = client()
        .post(s(&args["heartbeatUrl"]))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 403);
    let hb = client()
        .post(s(&fresh_args["heartbeatUrl"]))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 200);
}

#[tokio::test]
async fn without_the_limit_bad_tokens_still_fail_heartbeats_but_streams_are_anonymous() {
    let server = server().await;
    let token = login_token(server.base_url()).await;
    server.events().expire_tokens();
    let (_sse, args) = bearer_stream(&server, "", &token).await;
    assert_eq!(s(&args["isAuthenticated"]), "false");
    let hb = client()
        .post(s(&args["heartbeatUrl"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 401);
    let hb = client()
        .post(s(&args["heartbeatUrl"]))
        .bearer_auth("never-issued")
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 401);
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 200);
}

#[tokio::test]
async fn a_signed_in_subscription_is_acted_on_only_by_its_own_session() {
    // ServiceStack checks only the caller's address, so anybody on the same machine (or behind
    // the same proxy) who learns a subscription id can pulse, move, unregister or speak for it.
    let server = limited().await;
    let owner = login_token(server.base_url()).await;
    let other = login_token(server.base_url()).await;
    assert_ne!(owner, other);
    let mut sse = Sse::send(
        client()
            .get(stream_url(&server, "channels=home"))
            .bearer_auth(&owner),
    )
    .await;
    let args = sse.frame().await.map();
    let id = s(&args["id"]).to_string();
    assert_eq!(sse.frame().await.selector(), "home@cmd.onJoin");
    let base = server.base_url().to_string();
    let chat_as_it =
        json!({"from": id, "channel": "home", "selector": "cmd.chat", "message": "forged"});

    for who in [None, Some(other.as_str())] {
        let with = |req: reqwest::RequestBuilder| match who {
            Some(token) => req.bearer_auth(token),
            None => req,
        };
        let hb = with(client().post(s(&args["heartbeatUrl"])))
            .send()
            .await
            .unwrap();
        assert_eq!(hb.status(), 403, "heartbeat by {who:?}");
        let up = with(client().post(s(&args["updateSubscriberUrl"])))
            .json(&json!({"subscribeChannels": "B"}))
            .send()
            .await
            .unwrap();
        assert_eq!(up.status(), 403, "update by {who:?}");
        let chat = with(client().post(format!("{base}/channels/home/chat")))
            .json(&chat_as_it)
            .send()
            .await
            .unwrap();
        assert_eq!(chat.status(), 403, "chat as it by {who:?}");
        let raw = with(client().post(format!("{base}/channels/home/raw")))
            .json(&chat_as_it)
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 403, "raw post as it by {who:?}");
        let un = with(client().post(s(&args["unRegisterUrl"])))
            .send()
            .await
            .unwrap();
        assert_eq!(un.status(), 403, "unregister by {who:?}");
    }
    let info = server
        .events()
        .get_subscription_info(&id)
        .expect("still subscribed");
    assert_eq!(info.channels, ["home"]);

    // Its own session still can; the first frame after all of the above is the owner's own
    // heartbeat, so none of the refused requests wrote anything.
    let hb = client()
        .post(s(&args["heartbeatUrl"]))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 200);
    assert_eq!(sse.frame().await.selector(), "cmd.onHeartbeat");
    let chat = client()
        .post(format!("{base}/channels/home/chat"))
        .bearer_auth(&owner)
        .json(&json!({"from": id, "channel": "home", "selector": "cmd.chat", "message": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    let frame = sse.frame().await;
    assert_eq!(frame.selector(), "home@cmd.chat");
    assert_eq!(frame.json()["message"], "mine");
    let un = client()
        .post(s(&args["unRegisterUrl"]))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(un.status(), 200);
}

#[tokio::test]
async fn subscriber_lists_follow_the_stream_rule() {
    let server = limited().await;
    let token = login_token(server.base_url()).await;
    let mut sse = Sse::send(
        client()
            .get(stream_url(&server, "channels=home"))
            .bearer_auth(&token),
    )
    .await;
    sse.frame().await;
    for path in [
        "/event-subscribers",
        "/event-subscribers?channels=home",
        "/api/GetEventSubscribers?channels=home",
        "/json/reply/GetEventSubscribers",
    ] {
        let url = format!("{}{path}", server.base_url());
        let anonymous = client().get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "anonymous {path}");
        let signed_in: Value = client()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            signed_in.as_array().map(Vec::len),
            Some(1),
            "{path}: {signed_in}"
        );
    }
    // Without the limit the list stays public, as in ServiceStack.
    let open = common::server().await;
    let (_sse, _) = Sse::connect(&open, "channels=home").await;
    let list: Value = client()
        .get(format!("{}/event-subscribers", open.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}
