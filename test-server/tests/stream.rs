//! `GET /event-stream`: headers, the onConnect payload, identities, channels, joins, framing.

mod common;

use common::*;
use serde_json::Value;
use servicestack_events_server::ServerPaths;

#[tokio::test]
async fn stream_headers_and_exact_connect_frame() {
    let server = server().await;
    let mut sse = Sse::open(&server, "channels=A").await;
    let h = sse.resp.headers().clone();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(
        h.get_all("vary").iter().any(|v| v == "Accept"),
        "Vary: Accept in {h:?}"
    );
    assert!(
        h["x-powered-by"]
            .to_str()
            .unwrap()
            .starts_with("ServiceStack/")
    );

    let frame = sse.frame().await;
    // Exactly: id line, one data line, blank line; LF only.
    assert!(
        frame.raw.starts_with("id: 1\ndata: cmd.onConnect {"),
        "{:?}",
        frame.raw
    );
    assert!(frame.raw.ends_with("}\n\n"));
    assert_eq!(frame.raw.matches('\n').count(), 3);
    assert!(!frame.raw.contains('\r') && !frame.raw.contains("event:"));

    let args = frame.map();
    let id = s(&args["id"]).to_string();
    assert_eq!(id.len(), 20);
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    let base = server.base_url();
    assert_eq!(
        s(&args["heartbeatUrl"]),
        format!("{base}/event-heartbeat?id={id}")
    );
    assert_eq!(
        s(&args["unRegisterUrl"]),
        format!("{base}/event-unregister?id={id}")
    );
    assert_eq!(
        s(&args["updateSubscriberUrl"]),
        format!("{base}/event-subscribers/{id}")
    );
    assert_eq!(s(&args["heartbeatIntervalMs"]), "200");
    assert_eq!(s(&args["idleTimeoutMs"]), "30000");
    assert_eq!(s(&args["userId"]), "-1");
    assert_eq!(s(&args["displayName"]), "user1");
    assert_eq!(s(&args["isAuthenticated"]), "false");
    assert_eq!(s(&args["channels"]), "A");
    assert!(s(&args["profileUrl"]).starts_with("data:image/svg+xml,"));
    let created: u64 = s(&args["createdAt"]).parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now - created < 60_000, "createdAt is epoch ms");
    // Every value is a JSON string; exactly these keys.
    assert!(args.values().all(Value::is_string));
    let mut keys: Vec<&str> = args.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "channels",
            "createdAt",
            "displayName",
            "heartbeatIntervalMs",
            "heartbeatUrl",
            "id",
            "idleTimeoutMs",
            "isAuthenticated",
            "profileUrl",
            "unRegisterUrl",
            "updateSubscriberUrl",
            "userId"
        ]
    );

    // Its own join follows, with the Meta only.
    let join = sse.frame().await;
    assert_eq!(join.id, Some(2));
    assert_eq!(join.selector(), "A@cmd.onJoin");
    let meta = join.map();
    assert_eq!(meta.len(), 6);
    for key in [
        "userId",
        "isAuthenticated",
        "displayName",
        "channels",
        "createdAt",
        "profileUrl",
    ] {
        assert_eq!(meta[key], args[key], "{key}");
    }
}

#[tokio::test]
async fn urls_follow_host_header_and_forwarded_proto() {
    let server = server().await;
    let req = client()
        .get(stream_url(&server, ""))
        .header("host", "example.test:8080")
        .header("x-forwarded-proto", "https");
    let mut sse = Sse::send(req).await;
    let args = sse.frame().await.map();
    let id = s(&args["id"]);
    assert_eq!(
        s(&args["heartbeatUrl"]),
        format!("https://example.test:8080/event-heartbeat?id={id}")
    );
    assert_eq!(
        s(&args["updateSubscriberUrl"]),
        format!("https://example.test:8080/event-subscribers/{id}")
    );
}

#[tokio::test]
async fn anonymous_identity_counts_every_connection() {
    let server = server().await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let (_sse, args) = Sse::connect(&server, "").await;
        assert_eq!(s(&args["userId"]), format!("-{n}"));
        assert_eq!(s(&args["displayName"]), format!("user{n}"));
        ids.push(s(&args["id"]).to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "subscription ids are unique");
    // Reset does not reset the counter.
    server.events().reset();
    let (_sse, args) = Sse::connect(&server, "").await;
    assert_eq!(s(&args["userId"]), "-4");
}

#[tokio::test]
async fn channel_parameters() {
    let server = server().await;
    let cases = [
        ("", "*"),
        ("channels=", "*"),
        ("channels=&channel=", "*"),
        ("channels=A,B&t=123", "A,B"),
        ("channel=A", "A"),
        ("channel=L&channels=A,B", "L,A,B"),
        ("channels=A,,B", "A,,B"),
        ("channels=%20A", " A"),
        ("channels=A%2CB", "A,B"),
    ];
    for (query, expected) in cases {
        let (_sse, args) = Sse::connect(&server, query).await;
        assert_eq!(s(&args["channels"]), expected, "query {query:?}");
    }
}

#[tokio::test]
async fn joins_go_channel_by_channel_to_every_member_including_the_joiner() {
    let server = server().await;
    let (mut a, a_args) = Sse::connect(&server, "channels=A").await;
    assert_eq!(a.frame().await.selector(), "A@cmd.onJoin");
    let (mut abc, abc_args) = Sse::connect(&server, "channels=A,B,C").await;

    let mut joins = Vec::new();
    for _ in 0..3 {
        joins.push(abc.frame().await);
    }
    let selectors: Vec<&str> = joins.iter().map(|f| f.selector()).collect();
    assert_eq!(selectors, ["A@cmd.onJoin", "B@cmd.onJoin", "C@cmd.onJoin"]);
    let ids: Vec<Option<u64>> = joins.iter().map(|f| f.id).collect();
    assert_eq!(ids, [Some(2), Some(3), Some(4)]);
    for j in &joins {
        assert_eq!(j.get("userId"), s(&abc_args["userId"]));
        assert_eq!(j.get("channels"), "A,B,C");
    }

    // The member of A sees only the A join, with its own next id.
    let seen = a.frame().await;
    assert_eq!(seen.id, Some(3));
    assert_eq!(seen.selector(), "A@cmd.onJoin");
    assert_eq!(seen.get("displayName"), s(&abc_args["displayName"]));
    assert!(a.try_frame(QUIET).await.is_none(), "no B or C join for A");
    let _ = a_args;
}

#[tokio::test]
async fn notify_frames_are_exact() {
    let server = server().await;
    let (mut sse, args) = Sse::connect(&server, "channels=A,B").await;
    let id = s(&args["id"]).to_string();
    sse.frame().await;
    sse.frame().await;
    let ev = server.events();

    ev.notify_channel("A", "cmd.announce", "hello").unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 4\ndata: A@cmd.announce \"hello\"\n\n"
    );

    // Null bodies leave exactly one trailing space.
    ev.notify_channel("B", "cmd.toggle$#channels", &()).unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 5\ndata: B@cmd.toggle$#channels \n\n"
    );

    ev.notify_all("cmd.all", &serde_json::json!({"a": 1}));
    assert_eq!(sse.frame().await.raw, "id: 6\ndata: cmd.all {\"a\":1}\n\n");

    ev.notify_subscription(&id, "cmd.one", &Option::<u8>::None, None);
    assert_eq!(sse.frame().await.raw, "id: 7\ndata: cmd.one \n\n");

    ev.notify_subscription_json(&id, "cmd.json", "{\"x\":true}", Some("B"));
    assert_eq!(
        sse.frame().await.raw,
        "id: 8\ndata: cmd.json {\"x\":true}\n\n"
    );

    // The channel filter excludes subscriptions outside the channel.
    ev.notify_subscription(&id, "cmd.filtered", "x", Some("Z"));
    ev.notify_user_id("-1", "cmd.user", "u", None);
    assert_eq!(sse.frame().await.raw, "id: 9\ndata: cmd.user \"u\"\n\n");

    #[derive(serde::Serialize)]
    struct CustomType {
        id: i32,
        name: &'static str,
    }
    ev.notify_channel_typed("A", &CustomType { id: 1, name: "Foo" })
        .unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 10\ndata: A@cmd.CustomType {\"id\":1,\"name\":\"Foo\"}\n\n"
    );

    // `*` is not a wildcard.
    ev.notify_channel("*", "cmd.star", "x").unwrap();
    ev.notify_channel_json("A", "cmd.raw", "not json").unwrap();
    assert_eq!(
        sse.frame().await.raw,
        "id: 11\ndata: A@cmd.raw not json\n\n"
    );

    assert!(ev.notify_channel("A@B", "cmd.x", "x").is_err());
    assert!(ev.notify_channel("A", "cmd@x", "x").is_err());
    assert!(ev.notify_channel_json("A@", "cmd.x", "x").is_err());
    assert!(sse.try_frame(QUIET).await.is_none());
}

#[tokio::test]
async fn at_sign_in_stream_channel_is_rejected_before_any_stream_header() {
    let server = server().await;
    let resp = client()
        .get(stream_url(&server, "channels=A,B@C"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_ne!(resp.headers()["content-type"], "text/event-stream");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["responseStatus"]["errorCode"], "ArgumentException");
    assert_eq!(server.events().subscription_count(), 0);
}

#[tokio::test]
async fn disabled_paths_drop_their_urls() {
    let server = server_with(|c| {
        c.paths = ServerPaths {
            heartbeat: None,
            update_subscribers: None,
            ..ServerPaths::default()
        };
    })
    .await;
    let (_sse, args) = Sse::connect(&server, "").await;
    assert!(!args.contains_key("heartbeatUrl"));
    assert!(!args.contains_key("updateSubscriberUrl"));
    assert!(args.contains_key("unRegisterUrl"));
    let id = s(&args["id"]);
    let resp = client()
        .post(format!("{}/event-heartbeat?id={id}", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn custom_paths_are_served_and_advertised() {
    let server = server_with(|c| {
        c.paths = ServerPaths {
            stream: Some("/sse".into()),
            heartbeat: Some("/hb".into()),
            unregister: Some("/bye".into()),
            subscribers: Some("/subs".into()),
            update_subscribers: Some("/subs/{Id}/update".into()),
        };
    })
    .await;
    let mut sse = Sse::send(client().get(format!("{}/sse?channels=X", server.base_url()))).await;
    let args = sse.frame().await.map();
    let id = s(&args["id"]);
    let base = server.base_url();
    assert_eq!(s(&args["heartbeatUrl"]), format!("{base}/hb?id={id}"));
    assert_eq!(s(&args["unRegisterUrl"]), format!("{base}/bye?id={id}"));
    assert_eq!(
        s(&args["updateSubscriberUrl"]),
        format!("{base}/subs/{id}/update")
    );
    assert_eq!(heartbeat(s(&args["heartbeatUrl"])).await, 200);
    let resp = client()
        .post(s(&args["updateSubscriberUrl"]))
        .json(&serde_json::json!({"subscribeChannels": ["Y"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let subs: Vec<Value> = client()
        .get(format!("{base}/subs?channels=Y"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(subs.len(), 1);
    let resp = client()
        .get(s(&args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn conflicting_paths_fail_to_start_without_panicking() {
    let mut config = servicestack_events_server::ServerConfig::for_tests();
    config.paths.heartbeat = config.paths.stream.clone();
    let err = servicestack_events_server::TestServer::start(config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let mut config = servicestack_events_server::ServerConfig::for_tests();
    config.paths.stream = Some("no-slash".into());
    assert!(
        servicestack_events_server::TestServer::start(config)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn notify_off_writes_a_newline_probe_instead_of_joins() {
    let server = server_with(|c| c.notify_channel_of_subscriptions = false).await;
    let (mut a, _) = Sse::connect(&server, "channels=A").await;
    // Its own probe.
    assert_eq!(a.raw_bytes(1).await, b"\n");
    let (mut ab, ab_args) = Sse::connect(&server, "channels=A,B").await;
    // One probe per channel of the joiner, to every member of it (the joiner is in both).
    assert_eq!(ab.raw_bytes(2).await, b"\n\n");
    assert_eq!(a.raw_bytes(1).await, b"\n");

    // No leave or update either: an unregister is silent for the others.
    let resp = client()
        .post(s(&ab_args["unRegisterUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server
        .events()
        .notify_channel("A", "cmd.after", "x")
        .unwrap();
    let next = a.frame().await;
    assert_eq!(next.selector(), "A@cmd.after");
    assert_eq!(next.id, Some(2));
}

#[tokio::test]
async fn newlines_before_frame_pads_every_frame() {
    let server = server_with(|c| c.newlines_before_frame = 10).await;
    let mut sse = Sse::open(&server, "channels=A").await;
    let head = sse.raw_bytes(16).await;
    assert_eq!(&head, b"\n\n\n\n\n\n\n\n\n\nid: 1\n");
    let rest = sse.frame().await;
    assert!(rest.data.starts_with("cmd.onConnect {"));
    let join = sse.frame().await;
    assert_eq!(join.selector(), "A@cmd.onJoin");
    assert_eq!(sse.blank_lines, 10);
}
