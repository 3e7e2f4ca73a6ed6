//! Issue 18, end to end against the reference server: credentials stay with their origin, a
//! page that is not an event stream is refused, `messages()` is bounded. Foreign origins are
//! recorders bound to 127.0.0.2 (loopback, another origin than the server's 127.0.0.1).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance_tests::scenario::Profile;
use conformance_tests::server;
use futures_util::{FutureExt, StreamExt};
use servicestack_events::{
    ConnectionState, Credentials, Error, ReconnectPolicy, ServerEventsClient,
};
use servicestack_events_server::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

const HEADER: &str = "header-secret-91c2";
const PROVIDED: &str = "provided-secret-5d0e";
const QUERY: &str = "query-secret-2b8c";
const WAIT: Duration = Duration::from_secs(10);

/// A foreign origin that records the head of every request it gets and answers `answer`.
struct Recorder {
    origin: String,
    heads: watch::Receiver<Vec<String>>,
}

impl Recorder {
    async fn start(answer: &'static str) -> Recorder {
        let listener = TcpListener::bind("127.0.0.2:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (sender, heads) = watch::channel(Vec::new());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                sender.send_modify(|heads| heads.push(text));
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Recorder { origin, heads }
    }

    /// Waits until `count` requests arrived; their heads.
    async fn wait_for(&mut self, count: usize) -> Vec<String> {
        tokio::time::timeout(WAIT, self.heads.wait_for(|heads| heads.len() >= count))
            .await
            .unwrap_or_else(|_| panic!("{count} requests at the recorder within {WAIT:?}"))
            .unwrap()
            .clone()
    }

    fn heads(&self) -> Vec<String> {
        self.heads.borrow().clone()
    }
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const UNAVAILABLE: &str =
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

fn no_secrets_in(head: &str, bearer: &str) {
    for secret in [bearer, HEADER, PROVIDED, QUERY] {
        assert!(
            !head.contains(secret),
            "{secret} reached another origin:\n{head}"
        );
    }
}

type Exceptions = Arc<Mutex<Vec<Error>>>;

/// A bearer token the server accepts (from signing in), so heartbeats are not refused.
async fn valid_bearer(base_url: &str) -> String {
    let client = ServerEventsClient::new(base_url, ["home"]).unwrap();
    let response = client.authenticate("user", "pass").await.unwrap();
    response["bearerToken"].as_str().unwrap().to_owned()
}

/// A client carrying every kind of credential, recording its exceptions.
fn client_with_credentials(
    base_url: &str,
    bearer: &str,
    configure: impl FnOnce(servicestack_events::ClientBuilder) -> servicestack_events::ClientBuilder,
) -> (ServerEventsClient, Exceptions) {
    let exceptions: Exceptions = Arc::default();
    let recorded = exceptions.clone();
    let builder = ServerEventsClient::builder(base_url)
        .channels(["home"])
        .bearer_token(bearer)
        .header("X-Secret", HEADER)
        .credentials_fn(|_refresh| async {
            Ok(Credentials::default()
                .with_header("X-Provided", PROVIDED)
                .with_query("api-key", QUERY))
        })
        .on_exception(move |error| recorded.lock().unwrap().push(error.clone()));
    (configure(builder).build().unwrap(), exceptions)
}

fn kinds(exceptions: &Exceptions) -> Vec<&'static str> {
    exceptions.lock().unwrap().iter().map(Error::kind).collect()
}

/// A stream announcing its heartbeat, unregister and update URLs on another origin: by default
/// they are moved onto the configured origin (heartbeats answered, the unregister done there),
/// the move is reported once, and the foreign origin gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_connect_urls_are_rebased_and_get_no_credentials() {
    let server = TestServer::start(server::config(Profile::Default))
        .await
        .unwrap();
    let bearer = valid_bearer(server.base_url()).await;
    let recorder = Recorder::start(OK).await;
    server
        .faults()
        .foreign_connect_urls(Some(&recorder.origin), 2);
    let (client, exceptions) = client_with_credentials(server.base_url(), &bearer, |b| b);
    let info = client.connect().await.unwrap();
    let origin = server.base_url().trim_end_matches('/');
    for url in [
        &info.heartbeat_url,
        &info.unregister_url,
        &info.update_subscriber_url,
    ] {
        let url = url.as_deref().unwrap();
        assert!(url.starts_with(origin), "{url} is on {origin}");
    }
    // Heartbeats answered by the server itself: they went home.
    if let Err(e) = client.wait_for_next_heartbeat(WAIT).await {
        panic!("{e}: {:?} {:?}", exceptions.lock().unwrap(), client.state());
    }
    client.wait_for_next_heartbeat(WAIT).await.unwrap();
    client.subscribe_to_channels(["lobby"]).await.unwrap();
    // A second connection with foreign URLs is not reported again.
    // The wait is registered before the restart, so a fast reconnect cannot slip past it.
    let next_connect = client.wait_for_next_connect(WAIT);
    client.restart().unwrap();
    let second = next_connect.await.unwrap();
    assert_ne!(second.id, info.id);
    if let Err(e) = client.wait_for_next_heartbeat(WAIT).await {
        panic!("{e}: {:?} {:?}", exceptions.lock().unwrap(), client.state());
    }
    client.stop().await;
    assert_eq!(
        server.events().subscription_count(),
        0,
        "unregistered at home"
    );
    let reported = exceptions.lock().unwrap().clone();
    assert_eq!(kinds(&exceptions), ["foreignUrl"], "{reported:?}");
    let text = reported[0].to_string();
    assert!(
        text.contains(&recorder.origin) && text.contains(origin),
        "{text}"
    );
    assert_eq!(
        recorder.heads(),
        Vec::<String>::new(),
        "nothing went abroad"
    );
}

/// An explicitly allowed origin keeps the server's URL as given (with credentials: the user
/// allowed it), and nothing is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_keep_the_servers_urls() {
    let server = TestServer::start(server::config(Profile::Default))
        .await
        .unwrap();
    let bearer = valid_bearer(server.base_url()).await;
    let mut recorder = Recorder::start(OK).await;
    server
        .faults()
        .foreign_connect_urls(Some(&recorder.origin), 1);
    let allowed = recorder.origin.clone();
    let (client, exceptions) =
        client_with_credentials(server.base_url(), &bearer, |b| b.allowed_origins([allowed]));
    let info = client.connect().await.unwrap();
    assert!(
        info.heartbeat_url
            .as_deref()
            .unwrap()
            .starts_with(&recorder.origin)
    );
    let heads = recorder.wait_for(1).await;
    assert!(
        heads[0].starts_with("POST /event-heartbeat?id="),
        "{}",
        heads[0]
    );
    assert!(heads[0].contains(&bearer), "allowed: credentials go there");
    client.stop().await;
    assert_eq!(kinds(&exceptions), Vec::<&str>::new());
}

/// The stream is redirected to another origin: the redirect is followed without the bearer
/// token, the secret headers, the provider's headers or its query credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_redirect_carries_no_credentials() {
    let server = TestServer::start(server::config(Profile::Default))
        .await
        .unwrap();
    let bearer = valid_bearer(server.base_url()).await;
    let mut recorder = Recorder::start(UNAVAILABLE).await;
    server.faults().redirect_streams(&recorder.origin, 1);
    let (client, _exceptions) = client_with_credentials(server.base_url(), &bearer, |b| b);
    let error = client.connect().await.unwrap_err();
    assert_eq!(error.status(), Some(503), "{error}");
    let heads = recorder.wait_for(1).await;
    assert!(
        heads[0].starts_with("GET /event-stream?channels=home "),
        "{}",
        heads[0]
    );
    no_secrets_in(&heads[0], &bearer);
}

/// A `200 text/html` page with SSE-like lines is refused with an error naming its content
/// type; a started client waits as its reconnect policy says, then connects to the real stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_is_not_an_event_stream_is_refused() {
    let server = TestServer::start(server::config(Profile::Default))
        .await
        .unwrap();
    server.faults().html_streams(1);
    let client = ServerEventsClient::new(server.base_url(), ["home"]).unwrap();
    let error = client.connect().await.unwrap_err();
    assert_eq!(error.kind(), "unexpectedContentType", "{error}");
    assert!(error.to_string().contains("text/html"), "{error}");

    server.faults().html_streams(1);
    let delay = Duration::from_millis(300);
    let client = ServerEventsClient::builder(server.base_url())
        .channels(["home"])
        .reconnect_policy(ReconnectPolicy::fixed(delay))
        .build()
        .unwrap();
    let mut states = client.state_changes();
    let mut messages = client.messages();
    let connected = client.wait_for_next_connect(WAIT);
    client.start().unwrap();
    let reconnecting = tokio::time::timeout(WAIT, async {
        while let Some(state) = states.next().await {
            if let ConnectionState::Reconnecting { .. } = state {
                return state;
            }
        }
        panic!("the state stream ended")
    })
    .await
    .unwrap();
    let ConnectionState::Reconnecting {
        attempt,
        delay: waited,
        cause,
    } = reconnecting
    else {
        unreachable!()
    };
    assert_eq!((attempt, waited), (1, delay), "the policy's wait");
    assert_eq!(cause.kind(), "unexpectedContentType");
    let info = connected.await.unwrap();
    assert_ne!(info.id, "html-page");
    server
        .events()
        .notify_channel("home", "cmd.marker", &"after")
        .unwrap();
    let first = tokio::time::timeout(WAIT, messages.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.selector(),
        Some("cmd.marker"),
        "nothing from the page was dispatched"
    );
    client.stop().await;
}

/// A reader that does not keep up: the stream keeps the newest `message_buffer` messages, drops
/// the oldest and says so once through `on_exception`; callbacks still see every message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_stream_is_bounded_and_drops_the_oldest() {
    let server = TestServer::start(server::config(Profile::Default))
        .await
        .unwrap();
    let delivered = Arc::new(Mutex::new(0usize));
    let counted = delivered.clone();
    // The "gate" message's callback holds the dispatch (callbacks run before streams get a
    // message), so while it waits the stream holds exactly what came before the gate.
    let (entered, gate_entered) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = Mutex::new(released);
    let exceptions: Exceptions = Arc::default();
    let recorded = exceptions.clone();
    let client = ServerEventsClient::builder(server.base_url())
        .channels(["home"])
        .message_buffer(4)
        .on_message(move |message| {
            *counted.lock().unwrap() += 1;
            if message.json() == "\"gate\"" {
                let _ = entered.send(());
                let _ = released.lock().unwrap().recv_timeout(WAIT);
            }
        })
        .on_exception(move |error| recorded.lock().unwrap().push(error.clone()))
        .build()
        .unwrap();
    let mut messages = client.messages();
    client.connect().await.unwrap();
    for i in 0..10 {
        server
            .events()
            .notify_channel("home", "cmd.msg", &i)
            .unwrap();
    }
    for body in ["marker", "gate"] {
        server
            .events()
            .notify_channel("home", "cmd.msg", &body)
            .unwrap();
    }
    tokio::task::spawn_blocking(move || gate_entered.recv_timeout(WAIT))
        .await
        .unwrap()
        .expect("the gate message arrives");
    let mut kept = Vec::new();
    while let Some(Some(message)) = messages.next().now_or_never() {
        kept.push(message.json().to_owned());
    }
    release.send(()).unwrap();
    assert_eq!(kept, ["7", "8", "9", "\"marker\""]);
    assert_eq!(
        *delivered.lock().unwrap(),
        12,
        "callbacks see every message"
    );
    let reported = exceptions.lock().unwrap().clone();
    assert_eq!(reported, [Error::MessagesDropped { bound: 4 }]);
    client.stop().await;
}
