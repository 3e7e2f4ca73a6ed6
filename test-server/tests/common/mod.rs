//! Helpers shared by the integration tests: an SSE frame reader over a real HTTP response,
//! raw-socket requests, and polling with a deadline.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};
use servicestack_events_server::{ServerConfig, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod redis_server;

/// Generous upper bound for anything that should happen "now"; only reached on failure.
pub const T: Duration = Duration::from_secs(5);
/// How long a negative check ("nothing arrives") listens.
pub const QUIET: Duration = Duration::from_millis(300);

/// reqwest is built without a default rustls provider; it needs one even for plain http.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A shared client (building one costs ~50 ms in debug builds). No idle pooling, so no
/// connection outlives the runtime of the test that opened it.
pub fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            install_crypto();
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client")
        })
        .clone()
}

pub async fn server() -> TestServer {
    TestServer::start(ServerConfig::for_tests())
        .await
        .expect("server starts")
}

pub async fn server_with(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let mut config = ServerConfig::for_tests();
    f(&mut config);
    TestServer::start(config).await.expect("server starts")
}

/// One SSE event as written by the server.
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: Option<u64>,
    pub data: String,
    /// The exact bytes of the frame including the terminating blank line.
    pub raw: String,
}

impl Frame {
    /// The selector including any `channel@` prefix.
    pub fn selector(&self) -> &str {
        self.data
            .split_once(' ')
            .map(|(s, _)| s)
            .unwrap_or(&self.data)
    }

    /// Everything after the first space.
    pub fn body(&self) -> &str {
        self.data.split_once(' ').map(|(_, b)| b).unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.body())
            .unwrap_or_else(|e| panic!("frame body is not JSON ({e}): {:?}", self.raw))
    }

    pub fn map(&self) -> Map<String, Value> {
        match self.json() {
            Value::Object(m) => m,
            other => panic!("frame body is not an object: {other}"),
        }
    }

    /// The value of a string key of the body.
    pub fn get(&self, key: &str) -> String {
        self.map()
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string {key} in {:?}", self.raw))
            .to_string()
    }
}

/// Reads an event stream frame by frame.
pub struct Sse {
    pub resp: reqwest::Response,
    buf: Vec<u8>,
    /// Blank lines seen between frames (liveness probes, padding).
    pub blank_lines: usize,
    ended: bool,
}

pub fn stream_url(server: &TestServer, query: &str) -> String {
    if query.is_empty() {
        format!("{}/event-stream", server.base_url())
    } else {
        format!("{}/event-stream?{query}", server.base_url())
    }
}

impl Sse {
    /// Sends the request and asserts a 200 `text/event-stream` response.
    pub async fn send(req: reqwest::RequestBuilder) -> Sse {
        let resp = tokio::time::timeout(T, req.send())
            .await
            .expect("stream headers in time")
            .expect("stream request");
        assert_eq!(resp.status(), 200, "stream status");
        assert_eq!(
            resp.headers()["content-type"],
            "text/event-stream",
            "stream content type"
        );
        Sse {
            resp,
            buf: Vec::new(),
            blank_lines: 0,
            ended: false,
        }
    }

    pub async fn open(server: &TestServer, query: &str) -> Sse {
        Sse::send(client().get(stream_url(server, query))).await
    }

    /// Reads this stream's `cmd.onConnect`; returns the stream and the connect args.
    pub async fn connect_frame(mut self) -> (Sse, Map<String, Value>) {
        let frame = self.frame().await;
        assert_eq!(
            frame.selector(),
            "cmd.onConnect",
            "first frame: {:?}",
            frame.raw
        );
        let args = frame.map();
        (self, args)
    }

    /// Opens a stream and reads its `cmd.onConnect`; returns the connect args.
    pub async fn connect(server: &TestServer, query: &str) -> (Sse, Map<String, Value>) {
        let mut sse = Sse::open(server, query).await;
        let frame = sse.frame().await;
        assert_eq!(
            frame.selector(),
            "cmd.onConnect",
            "first frame: {:?}",
            frame.raw
        );
        assert_eq!(frame.id, Some(1));
        let args = frame.map();
        (sse, args)
    }

    /// Reads more bytes; false at the end of the body. Panics after `T`.
    async fn fill(&mut self) -> Result<bool, reqwest::Error> {
        if self.ended {
            return Ok(false);
        }
        match tokio::time::timeout(T, self.resp.chunk()).await {
            Err(_) => panic!(
                "no data within {T:?}; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(Ok(Some(chunk))) => {
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            Ok(Ok(None)) => {
                self.ended = true;
                Ok(false)
            }
            Ok(Err(e)) => {
                self.ended = true;
                Err(e)
            }
        }
    }

    fn take_frame(&mut self) -> Option<Frame> {
        while self.buf.first() == Some(&b'\n') {
            self.buf.remove(0);
            self.blank_lines += 1;
        }
        let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
        let raw = String::from_utf8(raw).expect("frames are UTF-8");
        let mut id = None;
        let mut data = None;
        for line in raw[..raw.len() - 2].split('\n') {
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.parse().expect("numeric id"));
            } else if let Some(v) = line.strip_prefix("data: ") {
                assert!(data.is_none(), "more than one data line: {raw:?}");
                data = Some(v.to_string());
            } else {
                panic!("unexpected line {line:?} in frame {raw:?}");
            }
        }
        Some(Frame {
            id,
            data: data.unwrap_or_default(),
            raw,
        })
    }

    /// The next frame; panics if none arrives within `T` or the stream ends.
    pub async fn frame(&mut self) -> Frame {
        loop {
            if let Some(f) = self.take_frame() {
                return f;
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => panic!(
                    "stream ended; buffered {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Err(e) => panic!("stream failed: {e}"),
            }
        }
    }

    /// The next frame whose selector is not a heartbeat.
    pub async fn frame_skipping_heartbeats(&mut self) -> Frame {
        loop {
            let f = self.frame().await;
            if f.selector() != "cmd.onHeartbeat" {
                return f;
            }
        }
    }

    /// Waits for a frame with this selector, returning it and the frames skipped before it.
    pub async fn until(&mut self, selector: &str) -> (Frame, Vec<Frame>) {
        let mut skipped = Vec::new();
        loop {
            let f = self.frame().await;
            if f.selector() == selector {
                return (f, skipped);
            }
            skipped.push(f);
        }
    }

    /// A frame if one arrives within `within`; `None` otherwise (for "nothing arrives").
    pub async fn try_frame(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, self.frame()).await.ok()
    }

    /// Reads until at least `n` raw bytes are buffered, and returns (and consumes) them.
    pub async fn raw_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => panic!("stream ended after {} bytes", self.buf.len()),
                Err(e) => panic!("stream failed: {e}"),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Everything until the body ends: `Ok(rest)` for a clean end, `Err(rest)` when the
    /// connection failed. Panics if it does not end within `T`.
    pub async fn end(&mut self) -> Result<Vec<u8>, Vec<u8>> {
        loop {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return Ok(std::mem::take(&mut self.buf)),
                Err(_) => return Err(std::mem::take(&mut self.buf)),
            }
        }
    }

    /// Whatever is buffered but not yet parsed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}

/// Sends a raw HTTP/1.1 request and returns the whole response text (the server must close
/// or the request must carry `Connection: close`).
pub async fn raw_http(addr: SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(T, stream.read_to_end(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Polls `cond` until true; panics after `T`.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Heartbeats `url` (POST) and returns the status.
pub async fn heartbeat(url: &str) -> reqwest::StatusCode {
    client()
        .post(url)
        .header("content-type", "text/plain")
        .send()
        .await
        .expect("heartbeat request")
        .status()
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Signs in with the test credentials (`user` / `pass`) and returns the whole response.
pub async fn login(base: &str) -> Value {
    let resp = client()
        .post(format!("{base}/auth/credentials"))
        .json(&serde_json::json!({"userName": "user", "password": "pass"}))
        .send()
        .await
        .expect("login request");
    assert_eq!(resp.status(), 200, "login status");
    resp.json().await.expect("login body")
}

/// Signs in and returns the bearer token.
pub async fn login_token(base: &str) -> String {
    s(&login(base).await["bearerToken"]).to_string()
}

/// Opens a stream with `Authorization: Bearer <token>` and reads its `cmd.onConnect`.
pub async fn bearer_stream(
    server: &TestServer,
    query: &str,
    token: &str,
) -> (Sse, Map<String, Value>) {
    let mut sse = Sse::send(client().get(stream_url(server, query)).bearer_auth(token)).await;
    let frame = sse.frame().await;
    assert_eq!(
        frame.selector(),
        "cmd.onConnect",
        "first frame: {:?}",
        frame.raw
    );
    (sse, frame.map())
}
