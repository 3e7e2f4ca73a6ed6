//! Scale-out through Redis: two nodes sharing one real redis-server (started per test on a
//! free loopback port) behave as one server: notifications, subscriber lists, heartbeats,
//! unregister and channel updates cross nodes, ownership holds across nodes, a Redis restart
//! is survived, and subscriptions of dead nodes are swept.

mod common;

use std::time::Duration;

use common::redis_server::RedisServer;
use common::*;
use redis::AsyncCommands as _;
use serde_json::Value;
use servicestack_events_server::{ServerConfig, TestServer};

async fn node(redis: &RedisServer, f: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let mut config = ServerConfig::for_tests();
    config.redis_url = Some(redis.url());
    f(&mut config);
    TestServer::start(config).await.expect("node starts")
}

async fn pair(redis: &RedisServer) -> (TestServer, TestServer) {
    (node(redis, |_| {}).await, node(redis, |_| {}).await)
}

async fn subscribers(server: &TestServer, query: &str) -> (reqwest::StatusCode, Vec<Value>) {
    let resp = client()
        .get(format!("{}/event-subscribers?{query}", server.base_url()))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let list = if status == 200 {
        resp.json().await.unwrap()
    } else {
        Vec::new()
    };
    (status, list)
}

fn ids(list: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = list
        .iter()
        .map(|m| m["userId"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

/// Polls an async condition until it holds; panics after `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn notifications_published_on_one_node_reach_streams_on_the_other() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let (mut on_a, args) = Sse::connect(&a, "channels=home").await;
    let _join = on_a.until("home@cmd.onJoin").await;
    let id = s(&args["id"]).to_string();
    let user_id = s(&args["userId"]).to_string();

    // A second stream, on B, is announced to A's member of the channel.
    let (mut on_b, b_args) = Sse::send(
        client()
            .get(stream_url(&b, "channels=home"))
            .header("cookie", "ss-id=sess1"),
    )
    .await
    .connect_frame()
    .await;
    let (join, _) = on_a.until("home@cmd.onJoin").await;
    assert_eq!(join.get("userId"), s(&b_args["userId"]));

    b.events()
        .notify_channel("home", "cmd.chat", "to the channel")
        .unwrap();
    let (f, _) = on_a.until("home@cmd.chat").await;
    assert_eq!(f.body(), "\"to the channel\"");
    b.events()
        .notify_subscription(&id, "cmd.direct", "to the subscription", None);
    let (f, _) = on_a.until("cmd.direct").await;
    assert_eq!(f.body(), "\"to the subscription\"");
    b.events()
        .notify_user_id(&user_id, "cmd.user", "to the user id", None);
    let (f, _) = on_a.until("cmd.user").await;
    assert_eq!(f.body(), "\"to the user id\"");
    // And back: from A to the session of B's stream (its ss-id cookie).
    a.events()
        .notify_session("sess1", "cmd.session", "to the session", None);
    let (f, _) = on_b.until("cmd.session").await;
    assert_eq!(f.body(), "\"to the session\"");
    // A chat posted on B, sent as A's subscription, reaches both nodes' members.
    let resp = client()
        .post(format!("{}/channels/home/chat", b.base_url()))
        .json(&serde_json::json!({"from": id, "message": "hello", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (f, _) = on_a.until("home@cmd.chat").await;
    assert_eq!(f.get("message"), "hello");
    let (f, _) = on_b.until("home@cmd.chat").await;
    assert_eq!(f.get("fromUserId"), user_id);
}

#[tokio::test]
async fn subscriber_lists_span_nodes() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let (_s1, one) = Sse::connect(&a, "channels=home").await;
    let (_s2, two) = Sse::connect(&b, "channels=home,news").await;
    let (_s3, three) = Sse::connect(&b, "channels=other").await;
    let mut home = vec![s(&one["userId"]).to_string(), s(&two["userId"]).to_string()];
    home.sort();
    for node in [&a, &b] {
        let (status, list) = subscribers(node, "channels=home").await;
        assert_eq!(status, 200);
        assert_eq!(ids(&list), home);
        let (_, list) = subscribers(node, "channels=home,news").await;
        assert_eq!(ids(&list), home, "de-duplicated across channels");
        let (_, all) = subscribers(node, "").await;
        assert_eq!(all.len(), 3);
        assert!(ids(&all).contains(&s(&three["userId"]).to_string()));
    }
}

#[tokio::test]
async fn heartbeat_update_and_unregister_work_through_the_other_node() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let (mut sse, args) = Sse::connect(&a, "channels=home").await;
    let id = s(&args["id"]).to_string();

    assert_eq!(
        heartbeat(&format!("{}/event-heartbeat?id={id}", b.base_url())).await,
        200
    );
    sse.until("cmd.onHeartbeat").await;

    let resp = client()
        .post(format!("{}/event-subscribers/{id}", b.base_url()))
        .json(&serde_json::json!({"subscribeChannels": ["news"], "unsubscribeChannels": ["home"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (update, _) = sse.until("news@cmd.onUpdate").await;
    assert_eq!(update.get("channels"), "news");
    eventually(
        "the record to follow the update",
        Duration::from_secs(5),
        || async {
            let (_, news) = subscribers(&b, "channels=news").await;
            let (_, home) = subscribers(&b, "channels=home").await;
            news.len() == 1 && home.is_empty()
        },
    )
    .await;

    let resp = client()
        .post(format!("{}/event-unregister?id={id}", b.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(sse.end().await.is_ok(), "the stream on A ends cleanly");
    eventually("the record to go", Duration::from_secs(5), || async {
        heartbeat(&format!("{}/event-heartbeat?id={id}", b.base_url())).await == 404
    })
    .await;
    let (_, all) = subscribers(&a, "").await;
    assert!(all.is_empty(), "nothing left: {all:?}");
    let mut conn = redis.conn().await;
    let keys: Vec<String> = conn.keys("sse:*").await.unwrap();
    assert_eq!(keys, ["sse:seq:anonUser"], "only the sequence survives");
}

#[tokio::test]
async fn a_signed_in_subscription_is_refused_to_others_on_every_node() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let token = login_token(a.base_url()).await;
    let (mut sse, args) = bearer_stream(&a, "channels=home", &token).await;
    let id = s(&args["id"]).to_string();
    assert_eq!(
        heartbeat(&format!("{}/event-heartbeat?id={id}", b.base_url())).await,
        403,
        "anonymous heartbeat through B"
    );
    for url in [
        format!("{}/event-unregister?id={id}", b.base_url()),
        format!(
            "{}/event-subscribers/{id}?subscribeChannels=x",
            b.base_url()
        ),
        format!(
            "{}/channels/home/chat?from={id}&message=hi&selector=cmd.chat",
            b.base_url()
        ),
    ] {
        let status = client().post(&url).send().await.unwrap().status();
        assert_eq!(status, 403, "{url}");
    }
    // Still subscribed, to its original channel only: a marker from B arrives, nothing else.
    b.events().notify_channel("home", "cmd.marker", &1).unwrap();
    let (_, before) = sse.until("home@cmd.marker").await;
    assert!(
        before
            .iter()
            .all(|f| !f.selector().contains("onUpdate") && !f.selector().contains("chat")),
        "{before:?}"
    );
    // The owner itself, through A where its token is known, may.
    let status = client()
        .post(format!("{}/event-heartbeat?id={id}", a.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn delivery_resumes_after_redis_restarts() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let (mut sse, args) = Sse::connect(&a, "channels=home").await;
    let id = s(&args["id"]).to_string();

    redis.kill();
    // Redis is needed for lookups of other nodes' subscriptions: a clear 503, not a hang.
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), subscribers(&b, ""))
        .await
        .expect("an answer while Redis is down");
    assert_eq!(status, 503);
    // The stream on A stays open, and its own node still answers its heartbeats.
    assert_eq!(
        heartbeat(&format!("{}/event-heartbeat?id={id}", a.base_url())).await,
        200
    );
    sse.until("cmd.onHeartbeat").await;

    redis.restart().await;
    // The restarted Redis is empty; A re-indexes its subscription once resubscribed, and
    // notifications from B reach A again.
    eventually(
        "A's subscription to be re-indexed",
        Duration::from_secs(15),
        || async {
            let (status, list) = subscribers(&b, "channels=home").await;
            status == 200 && list.len() == 1
        },
    )
    .await;
    // Publish a numbered probe until one arrives (messages published before B resubscribed
    // are lost, as with ServiceStack: pub/sub is at most once).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no probe from B reached A"
        );
        n += 1;
        let _ = b.events().notify_channel("home", "cmd.probe", &n);
        if let Some(f) = sse.try_frame(Duration::from_millis(200)).await
            && f.selector() == "home@cmd.probe"
        {
            break;
        }
    }
    assert_eq!(
        heartbeat(&format!("{}/event-heartbeat?id={id}", b.base_url())).await,
        200
    );
}

#[tokio::test]
async fn subscriptions_of_a_dead_node_are_swept_with_a_leave() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let a = node(&redis, |c| {
        c.idle_timeout = Duration::from_secs(3);
        c.housekeeping_interval = Duration::from_millis(100);
    })
    .await;
    let (mut sse, _) = Sse::connect(&a, "channels=home").await;
    sse.until("home@cmd.onJoin").await;

    // A subscription of a node that died (as a ServiceStack node writes it), last pulsed an
    // hour ago, and a score whose record is gone.
    let mut conn = redis.conn().await;
    let zombie = r#"{"CreatedAt":"\/Date(1700000000000)\/","Channels":["home"],"UserId":"-99","DisplayName":"user99","SubscriptionId":"zombieZombieZombie01","UserAddress":"127.0.0.1","IsAuthenticated":false,"Meta":{"userId":"-99","displayName":"user99","channels":"home"}}"#;
    let hour_ago = 621_355_968_000_000_000.0
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as f64
            - 3_600_000.0)
            * 10_000.0;
    let _: () = redis::pipe()
        .atomic()
        .set("sse:id:zombieZombieZombie01", zombie)
        .zadd("sse:ids", "zombieZombieZombie01", hour_ago)
        .sadd("sse:channel:home", "zombieZombieZombie01")
        .sadd("sse:userid:-99", "zombieZombieZombie01")
        .zadd("sse:ids", "orphanOrphanOrphan01", hour_ago)
        .query_async(&mut conn)
        .await
        .unwrap();

    let (leave, _) = sse.until("home@cmd.onLeave").await;
    assert_eq!(leave.get("userId"), "-99");
    let exists: bool = conn.exists("sse:id:zombieZombieZombie01").await.unwrap();
    assert!(!exists);
    let members: Vec<String> = conn.zrange("sse:ids", 0, -1).await.unwrap();
    assert_eq!(
        members.len(),
        1,
        "only the live subscription is left: {members:?}"
    );
    let home: Vec<String> = conn.smembers("sse:channel:home").await.unwrap();
    assert_eq!(home.len(), 1);
    let user: bool = conn.exists("sse:userid:-99").await.unwrap();
    assert!(!user);
}

#[tokio::test]
async fn a_node_with_an_unreachable_redis_fails_to_start_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ServerConfig::for_tests();
    config.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    let err = tokio::time::timeout(Duration::from_secs(10), TestServer::start(config))
        .await
        .expect("no hang")
        .expect_err("no Redis, no node");
    assert!(err.to_string().contains("Redis"), "{err}");
    let mut config = ServerConfig::for_tests();
    config.redis_url = Some("not a url".into());
    let err = TestServer::start(config).await.expect_err("bad URL");
    assert!(err.to_string().contains("invalid Redis URL"), "{err}");
}

#[tokio::test]
async fn a_round_robin_front_spreads_one_client_over_both_nodes() {
    if RedisServer::start().await.is_none() {
        return;
    }
    let cluster = servicestack_events_server::TestCluster::start(ServerConfig::for_tests(), 2)
        .await
        .expect("cluster starts");
    let base = cluster.base_url().to_string();
    // Two streams through the front: one lands on each node (connection round robin).
    let first = Sse::send(client().get(format!("{base}/event-stream?channels=home")));
    let (mut one, one_args) = first.await.connect_frame().await;
    let (mut two, two_args) = Sse::send(client().get(format!("{base}/event-stream?channels=home")))
        .await
        .connect_frame()
        .await;
    assert!(
        s(&one_args["heartbeatUrl"]).starts_with(&base),
        "URLs name the front"
    );
    let held: Vec<usize> = cluster
        .nodes()
        .iter()
        .map(|n| n.events().subscription_count())
        .collect();
    assert_eq!(held, [1, 1], "one stream per node");
    // Heartbeats, whichever node they reach, echo on the stream's node.
    for _ in 0..2 {
        assert_eq!(heartbeat(s(&one_args["heartbeatUrl"])).await, 200);
        one.until("cmd.onHeartbeat").await;
    }
    // A chat through the front reaches both.
    let resp = client()
        .post(format!("{base}/channels/home/chat"))
        .json(&serde_json::json!({"from": s(&two_args["id"]), "message": "hi", "selector": "cmd.chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    one.until("home@cmd.chat").await;
    two.until("home@cmd.chat").await;
    // Shutting the cluster down ends both streams cleanly.
    cluster.shutdown().await;
    assert!(one.end().await.is_ok(), "stream one ends cleanly");
    let end = two.end().await;
    assert!(end.is_ok(), "stream two ends cleanly: {end:?}");
}

/// Starts the binary with `args`; returns it and the URL it printed.
fn spawn_binary(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_servicestack-events-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn test-server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim()
        .to_string();
    (child, url)
}

#[tokio::test]
async fn binaries_started_with_the_same_redis_flag_share_subscriptions() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let (mut a, a_url) = spawn_binary(&["--profile", "default", "--redis", &url]);
    let (mut b, b_url) = spawn_binary(&["--redis", &url]);
    let mut sse = Sse::send(client().get(format!("{a_url}/event-stream?channels=home"))).await;
    let connect = sse.frame().await;
    assert_eq!(connect.selector(), "cmd.onConnect");
    let list: Vec<Value> = client()
        .get(format!("{b_url}/event-subscribers?channels=home"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "B lists A's subscriber");
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
}

#[tokio::test]
async fn malformed_topic_messages_are_ignored_and_dotted_names_route_whole() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let (mut sse, _) = Sse::connect(&a, "channels=floor.1").await;
    sse.until("floor.1@cmd.onJoin").await;
    let (mut other, _) = Sse::connect(&a, "channels=floor").await;
    other.until("floor@cmd.onJoin").await;
    let mut conn = redis.conn().await;
    for junk in [
        b"notify.channel".to_vec(),
        b"notify.nobody.x cmd.y 1".to_vec(),
        b"subscribe.id.X [1]".to_vec(),
        b"pulse.id.".to_vec(),
        vec![0xff, 0xfe, b' ', b'x'],
        b"CTRL:PULSE".to_vec(),
    ] {
        let _: () = conn.publish("sse:topic", junk).await.unwrap();
    }
    // Still delivering, and `floor.1` is not truncated to `floor` (ServiceStack's defect).
    b.events()
        .notify_channel("floor.1", "cmd.marker", "dotted")
        .unwrap();
    let (f, skipped) = sse.until("floor.1@cmd.marker").await;
    assert_eq!(f.body(), "\"dotted\"");
    assert!(skipped.is_empty(), "nothing else arrived: {skipped:?}");
    b.events()
        .notify_channel("floor", "cmd.marker", "plain")
        .unwrap();
    let (f, skipped) = other.until("floor@cmd.marker").await;
    assert_eq!(
        f.body(),
        "\"plain\"",
        "the dotted message did not reach floor"
    );
    assert!(skipped.is_empty(), "{skipped:?}");
}

#[tokio::test]
async fn a_killed_node_leaves_no_zombie_and_its_channel_hears_the_leave() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let url = redis.url();
    let flags = ["--idle-timeout-ms", "1500", "--housekeeping-ms", "100"];
    let (mut doomed, doomed_url) = spawn_binary(&[&["--redis", url.as_str()][..], &flags].concat());
    let (mut survivor, survivor_url) =
        spawn_binary(&[&["--redis", url.as_str()][..], &flags].concat());
    let (mut member, member_args) =
        Sse::send(client().get(format!("{survivor_url}/event-stream?channels=home")))
            .await
            .connect_frame()
            .await;
    let (_victim, victim_args) =
        Sse::send(client().get(format!("{doomed_url}/event-stream?channels=home")))
            .await
            .connect_frame()
            .await;
    let victim_user = s(&victim_args["userId"]).to_string();
    let (join, _) = member.until("home@cmd.onJoin").await;
    assert_eq!(join.get("userId"), s(&member_args["userId"]));
    let (join, _) = member.until("home@cmd.onJoin").await;
    assert_eq!(join.get("userId"), victim_user);

    // SIGKILL: no cleanup at all, like a crash.
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    // The member keeps heartbeating; the survivor's sweep removes the dead node's
    // subscription and announces its leave.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let leave = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no leave for the dead node's stream"
        );
        assert_eq!(heartbeat(s(&member_args["heartbeatUrl"])).await, 200);
        if let Some(f) = member.try_frame(Duration::from_millis(200)).await
            && f.selector() == "home@cmd.onLeave"
        {
            break f;
        }
    };
    assert_eq!(leave.get("userId"), victim_user);
    let mut conn = redis.conn().await;
    let victim_key = format!("sse:id:{}", s(&victim_args["id"]));
    let exists: bool = conn.exists(&victim_key).await.unwrap();
    assert!(!exists, "the dead node's record is gone");
    let members: Vec<String> = conn.smembers("sse:channel:home").await.unwrap();
    assert_eq!(members, [s(&member_args["id"]).to_string()]);
    let _ = survivor.kill();
    let _ = survivor.wait();
}

#[tokio::test]
async fn crash_node_cuts_the_holder_without_a_goodbye_and_only_for_the_subscriptions_caller() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    // A single server has no nodes to crash.
    let single = server().await;
    let resp = client()
        .post(format!("{}/test/crash-node?id=x", single.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client()
        .post(format!("{}/test/notify", single.base_url()))
        .json(&serde_json::json!({"target": "all", "selector": "cmd.x", "elsewhere": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "'elsewhere' needs a cluster");

    let mut config = ServerConfig::cluster_node();
    config.redis_url = Some(redis.url());
    let cluster = servicestack_events_server::TestCluster::start(config, 2)
        .await
        .expect("cluster starts");
    let (doomed, survivor) = (cluster.node(0), cluster.node(1));
    let (mut member, member_args) = Sse::connect(survivor, "channels=home").await;
    // The victim never heartbeats: its last pulse is its registration, after this instant.
    let victim_opened = tokio::time::Instant::now();
    let (mut victim, victim_args) = Sse::connect(doomed, "channels=home").await;
    let victim_id = s(&victim_args["id"]).to_string();
    let victim_user = s(&victim_args["userId"]).to_string();
    member.until("home@cmd.onJoin").await;
    let (join, _) = member.until("home@cmd.onJoin").await;
    assert_eq!(join.get("userId"), victim_user);

    // The nodes share one session store: signed in through one, streaming on the other.
    let token = login_token(survivor.base_url()).await;
    let (_signed_in, signed_in_args) = bearer_stream(doomed, "channels=other", &token).await;
    assert_eq!(signed_in_args["isAuthenticated"], "true");
    let crash = |base: &str, id: &str| client().post(format!("{base}/test/crash-node?id={id}"));
    // Only the subscription's own caller may crash its node: not an anonymous one...
    let resp = crash(survivor.base_url(), s(&signed_in_args["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // ... not for an unknown subscription ...
    let resp = crash(survivor.base_url(), "unknown").send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // ... and not with an invalid token.
    let resp = crash(survivor.base_url(), &victim_id)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        doomed.events().subscription_count(),
        2,
        "nothing crashed yet"
    );

    // Asked through the node that does not hold it.
    let resp = crash(survivor.base_url(), &victim_id).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["node"], 0);
    assert!(
        tokio::net::TcpStream::connect(doomed.addr()).await.is_err(),
        "the crashed node no longer listens"
    );
    assert!(victim.end().await.is_err(), "the stream is cut, not ended");
    // Nothing was unregistered: the record stays until the survivor's sweep.
    let mut conn = redis.conn().await;
    let key = format!("sse:id:{victim_id}");
    let exists: bool = conn.exists(&key).await.unwrap();
    assert!(exists, "a crash unregisters nothing");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let leave = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no leave for the crashed node's stream"
        );
        assert_eq!(heartbeat(s(&member_args["heartbeatUrl"])).await, 200);
        if let Some(f) = member.try_frame(Duration::from_millis(200)).await
            && f.selector() == "home@cmd.onLeave"
        {
            break f;
        }
    };
    assert_eq!(leave.get("userId"), victim_user);
    // The leave is the sweep's (after the idle timeout), not a goodbye from the dying node.
    let idle = ServerConfig::cluster_node().idle_timeout;
    assert!(
        victim_opened.elapsed() >= idle - Duration::from_millis(100),
        "the leave came {:?} after the victim's last pulse, before the idle timeout {idle:?}",
        victim_opened.elapsed()
    );
    let exists: bool = conn.exists(&key).await.unwrap();
    assert!(!exists, "the sweep removed the record");

    // The front moves on: streams through it land on the survivor.
    for _ in 0..2 {
        let (_sse, args) = Sse::send(client().get(format!("{}/event-stream", cluster.base_url())))
            .await
            .connect_frame()
            .await;
        assert!(s(&args["id"]).len() > 1);
    }
    cluster.shutdown().await;
}

/// The joins in `frames` (any channel), as `(selector, userId)`.
fn joins(frames: &[Frame]) -> Vec<(String, String)> {
    frames
        .iter()
        .filter(|f| f.selector().ends_with("@cmd.onJoin"))
        .map(|f| (f.selector().to_string(), f.get("userId")))
        .collect()
}

#[tokio::test]
async fn a_new_subscription_gets_no_notification_published_before_it_existed() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    // A lags behind the topic: what it reads from Redis waits until resumed.
    a.faults().pause_cluster_topic();
    let (mut on_b, b_args) = Sse::connect(&b, "channels=B").await;
    let (join, _) = on_b.until("B@cmd.onJoin").await;
    // B read its own join back from Redis: Redis has published it, A has not applied it.
    assert_eq!(join.get("userId"), s(&b_args["userId"]));

    // A subscription to A,B opens on A while that join still waits in A's listener.
    let opening = tokio::spawn(Sse::send(client().get(stream_url(&a, "channels=A,B"))));
    wait_until("the new subscription to be registered on A", || {
        a.events().subscription_count() == 1
    })
    .await;
    a.faults().resume_cluster_topic();
    let (mut on_ab, ab_args) = opening.await.unwrap().connect_frame().await;
    let own = s(&ab_args["userId"]).to_string();

    // Its own joins arrive (published after it was created)...
    let mut frames = Vec::new();
    while joins(&frames)
        .iter()
        .filter(|(_, user)| *user == own)
        .count()
        < 2
    {
        frames.push(on_ab.frame_skipping_heartbeats().await);
    }
    // ...and nothing older: B's join, had A written it, would come before this marker.
    b.events()
        .notify_channel("B", "cmd.marker", "after the joins")
        .unwrap();
    let (_, skipped) = on_ab.until("B@cmd.marker").await;
    frames.extend(skipped);
    let mut seen = joins(&frames);
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("A@cmd.onJoin".to_string(), own.clone()),
            ("B@cmd.onJoin".to_string(), own.clone()),
        ],
        "only its own joins"
    );
    // B's member hears the new subscription's join as usual.
    let (join, _) = on_b.until("B@cmd.onJoin").await;
    assert_eq!(join.get("userId"), own);
}

#[tokio::test]
async fn a_node_whose_listener_cannot_catch_up_refuses_a_new_stream_with_503() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let a = node(&redis, |_| {}).await;
    // The new subscription's barrier never comes back while A reads nothing.
    a.faults().pause_cluster_topic();
    let resp = tokio::time::timeout(
        Duration::from_secs(15),
        client().get(stream_url(&a, "channels=home")).send(),
    )
    .await
    .expect("an answer, not a hang")
    .unwrap();
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.unwrap();
    assert!(body.contains("did not catch up"), "{body}");
    assert_eq!(a.events().subscription_count(), 0, "the stream is dropped");
    // Caught up, A registers streams again.
    a.faults().resume_cluster_topic();
    let (mut sse, args) = Sse::connect(&a, "channels=home").await;
    let (join, _) = sse.until("home@cmd.onJoin").await;
    assert_eq!(join.get("userId"), s(&args["userId"]));
}

#[tokio::test]
async fn channels_added_on_a_node_get_no_notification_published_before_the_change() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = pair(&redis).await;
    let (mut on_a, a_args) = Sse::connect(&a, "channels=A").await;
    on_a.until("A@cmd.onJoin").await;
    let id = s(&a_args["id"]).to_string();
    let own = s(&a_args["userId"]).to_string();
    a.faults().pause_cluster_topic();
    let (mut on_b, _) = Sse::connect(&b, "channels=B").await;
    // B read its own join back from Redis: published, and waiting in A's listener.
    on_b.until("B@cmd.onJoin").await;
    // A's stream joins B through its own node meanwhile.
    let resp = client()
        .post(format!("{}/event-subscribers/{id}", a.base_url()))
        .json(&serde_json::json!({"subscribeChannels": ["B"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Published right after the answer, so it must reach A's stream on B; B's join, had A
    // written it, would come before it.
    b.events()
        .notify_channel("B", "cmd.marker", "after the change")
        .unwrap();
    a.faults().resume_cluster_topic();
    // The change's own update (published after it) arrives, then the marker.
    let (update, mut frames) = on_a.until("B@cmd.onUpdate").await;
    assert_eq!(update.get("userId"), own);
    let (_, skipped) = on_a.until("B@cmd.marker").await;
    frames.extend(skipped);
    assert_eq!(joins(&frames), Vec::new(), "no join from before the change");
    // B's member hears the update, and later joins on B reach A's stream.
    let (update, _) = on_b.until("B@cmd.onUpdate").await;
    assert_eq!(update.get("userId"), own);
    let (_third, third_args) = Sse::connect(&b, "channels=B").await;
    let (join, _) = on_a.until("B@cmd.onJoin").await;
    assert_eq!(join.get("userId"), s(&third_args["userId"]));
}
