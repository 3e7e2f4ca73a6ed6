//! Issue 18: nothing secret in output. A full session (sign-in, connect, messages, heartbeats, a
//! failed service call, a failed reconnect, foreign URLs, stop) runs with every kind of secret
//! (a password in the URL, a bearer token, a secret header, a provider's header and query value,
//! the `ss-id` session cookie) while a TRACE subscriber captures every span and log line, the
//! `log` facade's too (where the cookie-store dependency writes). None of the secrets may appear
//! there, nor in any Debug or Display of the client, its errors and its states.
//!
//! Alone in its test binary: it installs the global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance_tests::scenario::Profile;
use conformance_tests::server;
use futures_util::StreamExt;
use servicestack_events::{Credentials, ServerEventsClient};
use servicestack_events_server::TestServer;

const URL_PASSWORD: &str = "url-password-4c1d";
const HEADER: &str = "header-secret-91c2";
const PROVIDED: &str = "provided-secret-5d0e";
const QUERY: &str = "query-secret-2b8c";
const WAIT: Duration = Duration::from_secs(10);

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reference server on a runtime of its own whose threads log nowhere: the capture is the
/// client's (the server logs the requests it gets, secrets included, as servers do).
fn quiet_server() -> TestServer {
    std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .on_thread_start(|| {
                let quiet =
                    tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
                // Kept for the thread's life.
                std::mem::forget(quiet);
            })
            .build()
            .unwrap();
        let server = runtime
            .block_on(async {
                tokio::spawn(TestServer::start(server::config(Profile::Default))).await
            })
            .unwrap()
            .unwrap();
        // The server's tasks live on this runtime for the rest of the test.
        Box::leak(Box::new(runtime));
        server
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_shows_no_secret_at_any_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let server = quiet_server();
    let signed_in = ServerEventsClient::new(server.base_url(), ["home"]).unwrap();
    let bearer = signed_in.authenticate("user", "pass").await.unwrap()["bearerToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // A password in the URL never shows, by a client that never connects (user-info becomes
    // Basic credentials, which cannot be combined with the bearer token the session uses).
    let with_password = ServerEventsClient::builder(server.base_url().replacen(
        "http://",
        &format!("http://alice:{URL_PASSWORD}@"),
        1,
    ))
    .build()
    .unwrap();
    let base = server.base_url().to_string();
    let mut shown: Vec<String> = vec![format!("{with_password:?}")];
    let exceptions = Arc::new(Mutex::new(Vec::new()));
    let recorded = exceptions.clone();
    let client = ServerEventsClient::builder(&base)
        .channels(["home"])
        .bearer_token(bearer.as_str())
        .header("X-Secret", HEADER)
        .credentials_fn(|_refresh| async {
            Ok(Credentials::default()
                .with_header("X-Provided", PROVIDED)
                .with_query("api-key", QUERY))
        })
        .on_exception(move |error| recorded.lock().unwrap().push(error.clone()))
        .build()
        .unwrap();
    let mut states = client.state_changes();
    // Signing in on this client sets its `ss-id` cookie, which then rides on every request.
    let session = client.authenticate("user", "pass").await.unwrap();
    let session_id = session["sessionId"].as_str().unwrap().to_owned();

    server.faults().foreign_connect_urls(None, 1);
    let info = client.connect().await.unwrap();
    shown.push(format!("{info:?}"));
    server
        .events()
        .notify_channel("home", "cmd.chat", &"hello")
        .unwrap();
    shown.push(format!("{:?}", client.wait_for_next_message(WAIT).await));
    client.wait_for_next_heartbeat(WAIT).await.unwrap();
    let failed_call = client
        .service_client()
        .get::<serde_json::Value>("/no-such-service")
        .await
        .unwrap_err();
    shown.push(format!("{failed_call} {failed_call:?}"));
    server.faults().fail_streams(500, 1);
    server.events().disconnect_all();
    client.wait_for_next_connect(WAIT).await.unwrap();
    shown.push(format!("{client:?} {:?}", client.service_client()));
    // Disposed: the state stream ends.
    client.dispose().await;
    while let Some(state) = states.next().await {
        shown.push(format!("{state:?}"));
    }
    for error in exceptions.lock().unwrap().iter() {
        shown.push(format!("{error} {error:?}"));
    }
    let invalid =
        ServerEventsClient::new(format!("http://bob:{URL_PASSWORD}@"), ["A"]).unwrap_err();
    shown.push(format!("{invalid} {invalid:?}"));

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let kinds: Vec<&str> = exceptions
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.kind())
        .collect();
    assert!(
        kinds.contains(&"foreignUrl") && kinds.contains(&"http"),
        "the session went through the error paths: {kinds:?}"
    );
    assert!(
        log.contains("TRACE") && shown[0].contains("base_url") && !shown[0].contains("alice"),
        "the capture works and the client's Debug shows its URL without the user-info"
    );
    for secret in [URL_PASSWORD, &bearer, HEADER, PROVIDED, QUERY, &session_id] {
        for line in log.lines().chain(shown.iter().map(String::as_str)) {
            assert!(!line.contains(secret), "{secret} shown in: {line}");
        }
    }
}
