//! Start, shutdown, restart on the same port, drop, and the standalone binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use servicestack_events_server::{ServerConfig, TestServer};

#[tokio::test]
async fn shutdown_closes_streams_frees_the_port_and_restart_works() {
    let server = server().await;
    let addr = server.addr();
    assert_eq!(server.base_url(), format!("http://{addr}"));
    assert!(!server.base_url().ends_with('/'));
    let (mut a, _) = Sse::connect(&server, "channels=A").await;
    a.frame().await;
    let (mut b, _) = Sse::connect(&server, "channels=A").await;
    b.frame().await;
    a.frame().await;
    // A stalled stream is closed too.
    server.faults().stall_streams(1);
    let mut stalled = Sse::open(&server, "").await;

    tokio::time::timeout(T, server.shutdown())
        .await
        .expect("shutdown completes");
    assert!(a.end().await.is_ok(), "streams end");
    assert!(b.end().await.is_ok());
    assert!(stalled.end().await.is_ok());
    // No leaves were sent on the way out.
    // The port is free: nothing listens.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    // Restart on the same port: a fresh registry.
    let again = TestServer::start_at(addr, ServerConfig::for_tests())
        .await
        .expect("rebinds the same port");
    assert_eq!(again.addr(), addr);
    let (_c, args) = Sse::connect(&again, "channels=A").await;
    assert_eq!(s(&args["userId"]), "-1");
    assert!(s(&args["heartbeatUrl"]).starts_with(&format!("http://{addr}/")));
    again.shutdown().await;
}

#[tokio::test]
async fn dropping_the_server_shuts_it_down() {
    let server = server().await;
    let addr = server.addr();
    let (mut sse, _) = Sse::connect(&server, "").await;
    drop(server);
    assert!(sse.end().await.is_ok());
    wait_until("the listener to close", || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_err()
    })
    .await;
}

#[tokio::test]
async fn shutdown_with_an_idle_keep_alive_connection_and_a_pending_delay() {
    let server = server().await;
    install_crypto();
    let c = reqwest::Client::builder().build().unwrap();
    let resp = c
        .get(format!("{}/event-subscribers", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.faults().delay_responses(Duration::from_secs(60));
    let mut delayed = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut delayed,
        b"GET /event-subscribers HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .unwrap();
    wait_until("the request to reach the delay", || {
        server.faults().snapshot().requests_held_by_delay == 1
    })
    .await;
    tokio::time::timeout(T, server.shutdown())
        .await
        .expect("shutdown does not wait for the 60 s delay");
    let mut answer = String::new();
    tokio::time::timeout(
        T,
        tokio::io::AsyncReadExt::read_to_string(&mut delayed, &mut answer),
    )
    .await
    .expect("the held request is answered")
    .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "the held request is told the server is shutting down: {answer:?}"
    );
    drop((c, delayed));
}

/// Starts the binary with `args` and returns it with the base URL from its first line.
fn spawn_binary(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_servicestack-events-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn test-server");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim()
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

#[test]
fn binary_prints_its_address_serves_and_stops_on_sigterm() {
    let (mut child, url) = spawn_binary(&[
        "--port",
        "0",
        "--heartbeat-ms",
        "250",
        "--no-notify",
        "--auth-required",
    ]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // --auth-required
        let resp = client()
            .get(format!("{url}/event-stream"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let stats: serde_json::Value = client()
            .get(format!("{url}/test/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats["subscriptionCount"], 0);
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + T;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful exit: {status:?}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("test-server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn binary_starts_from_a_scenario_profile_and_flags_override_it() {
    let (mut auth, url) = spawn_binary(&["--profile", "auth"]);
    let status = client()
        .get(format!("{url}/event-stream"))
        .send()
        .await
        .unwrap()
        .status();
    let _ = auth.kill();
    let _ = auth.wait();
    assert_eq!(
        status, 401,
        "the auth profile limits streams to signed-in users"
    );

    let (mut slow, url) = spawn_binary(&["--profile", "slow_heartbeat", "--heartbeat-ms", "700"]);
    let mut stream = client()
        .get(format!("{url}/event-stream?channels=p"))
        .send()
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.windows(2).any(|w| w == b"\n\n") {
        let chunk = tokio::time::timeout(T, stream.chunk())
            .await
            .expect("the onConnect frame in time")
            .unwrap()
            .expect("the stream stays open");
        head.extend_from_slice(&chunk);
    }
    let _ = slow.kill();
    let _ = slow.wait();
    let frame = String::from_utf8_lossy(&head);
    assert!(
        frame.contains(r#""heartbeatIntervalMs":"700""#),
        "the flag overrides the profile's 10 s: {frame}"
    );
}

#[test]
fn binary_rejects_an_unknown_profile() {
    let out = Command::new(env!("CARGO_BIN_EXE_servicestack-events-server"))
        .args(["--profile", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("slow_heartbeat"));
}

#[test]
fn binary_rejects_bad_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_servicestack-events-server"))
        .args(["--port", "not-a-port"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn static_dir_is_served_at_the_root() {
    let dir = std::env::temp_dir().join(format!("test-server-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(dir.join("pkg/app.wasm"), b"\0asm").unwrap();
    let server = server_with(|c| c.static_dir = Some(dir.clone())).await;
    let base = server.base_url();

    let index = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(index.text().await.unwrap(), "<h1>demo</h1>");
    let wasm = client()
        .get(format!("{base}/pkg/app.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.bytes().await.unwrap().as_ref(), b"\0asm");
    for path in ["/missing.js", "/%2e%2e/etc/passwd", "/pkg/../../etc/passwd"] {
        let resp = raw_http(
            server.addr(),
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 404"), "{path}: {resp}");
    }
    // Feature routes still win.
    let (_sse, _) = Sse::connect(&server, "").await;
    let _ = std::fs::remove_dir_all(&dir);
}
