//! The one credential refresh on 401/403 (`authorized_http.rs`), against the scripted transport
//! on tokio's paused clock: the transport only reports the refusal, the core refreshes once and
//! retries once, for the stream open and for every request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::Credentials;
use crate::error::Error;
use crate::fake_transport::{FakeTransport, Opening, Request, connect_frame, fed_stream};
use crate::{CloseReason, ConnectionState, ServerEventsClient};

const OPEN: &str = "/event-stream";
const HEARTBEAT: &str = "/event-heartbeat";

/// A provider that hands out `old` until asked to refresh, then `new`; or fails the refresh.
#[derive(Clone)]
struct Provider {
    token: Arc<Mutex<&'static str>>,
    refreshes: Arc<AtomicUsize>,
    refresh_fails: bool,
}

impl Provider {
    fn new() -> Self {
        Provider {
            token: Arc::new(Mutex::new("old")),
            refreshes: Arc::default(),
            refresh_fails: false,
        }
    }

    fn failing_refresh() -> Self {
        Provider {
            refresh_fails: true,
            ..Provider::new()
        }
    }

    fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }

    fn client_on(&self, fake: &Arc<FakeTransport>) -> ServerEventsClient {
        let provider = self.clone();
        ServerEventsClient::builder("http://h")
            .channels(["home"])
            .credentials_fn(move |refresh| {
                let provider = provider.clone();
                async move {
                    if refresh {
                        provider.refreshes.fetch_add(1, Ordering::SeqCst);
                        if provider.refresh_fails {
                            return Err("the identity server is down".to_owned());
                        }
                        *provider.token.lock().unwrap() = "new";
                    }
                    Ok(Credentials::bearer(*provider.token.lock().unwrap()))
                }
            })
            .build_with(fake.clone())
            .unwrap()
    }
}

fn refused(status: u16, url: &str) -> Error {
    Error::Unauthorized {
        status,
        url: url.to_owned(),
    }
}

fn bearers(requests: &[Request]) -> Vec<Option<&str>> {
    requests
        .iter()
        .map(|request| request.bearer.as_deref())
        .collect()
}

fn requests_to(fake: &FakeTransport, part: &str) -> Vec<Request> {
    fake.requests()
        .into_iter()
        .filter(|request| request.url.contains(part))
        .collect()
}

/// An hour of clock time: long enough for any retry or reconnect to have happened.
async fn an_hour_later() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_stream_open_refreshes_once_and_the_retry_connects() {
    for status in [401, 403] {
        let fake = FakeTransport::new();
        fake.push(Opening::Fail(refused(status, "http://h/event-stream")));
        let (feed, stream) = fed_stream();
        feed.send(&connect_frame("s1", 600_000, 600_000));
        fake.push(Opening::Stream(stream));
        let provider = Provider::new();
        let client = provider.client_on(&fake);

        let info = client.connect().await.unwrap();

        assert_eq!(info.id, "s1");
        let opens = requests_to(&fake, OPEN);
        assert_eq!(bearers(&opens), [Some("old"), Some("new")], "{status}");
        assert_eq!(opens[0].at, opens[1].at, "the retry follows at once");
        assert_eq!(provider.refreshes(), 1);
        client.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_refused_again_after_the_refresh_closes_without_a_loop() {
    for status in [401, 403] {
        let fake = FakeTransport::new();
        fake.push(Opening::Fail(refused(status, "http://h/event-stream")));
        fake.push(Opening::Fail(refused(status, "http://h/event-stream")));
        let provider = Provider::new();
        let client = provider.client_on(&fake);

        let connected = tokio::time::timeout(Duration::from_secs(60), client.connect()).await;

        let expected = refused(status, "http://h/event-stream");
        assert_eq!(connected, Ok(Err(expected.clone())), "{status}");
        an_hour_later().await;
        assert_eq!(requests_to(&fake, OPEN).len(), 2, "exactly one retry");
        assert_eq!(provider.refreshes(), 1);
        assert_eq!(
            client.state(),
            ConnectionState::Closed {
                reason: CloseReason::Unauthorized(expected)
            }
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_is_reported_and_nothing_is_retried() {
    let fake = FakeTransport::new();
    fake.push(Opening::Fail(refused(401, "http://h/event-stream")));
    let provider = Provider::failing_refresh();
    let client = provider.client_on(&fake);

    let connected = client.connect().await;

    assert_eq!(
        connected,
        Err(Error::Credentials("the identity server is down".into()))
    );
    an_hour_later().await;
    assert_eq!(requests_to(&fake, OPEN).len(), 1);
    assert_eq!(provider.refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_heartbeat_refreshes_once_and_the_connection_stays_up() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    feed.send(&connect_frame("s1", 1_000, 600_000));
    fake.push(Opening::Stream(stream));
    fake.respond(|request| match request.bearer.as_deref() {
        Some("new") => Ok(String::new()),
        _ => Err(refused(401, &request.url)),
    });
    let provider = Provider::new();
    let client = provider.client_on(&fake);
    client.connect().await.unwrap();

    let heartbeats = fake.wait_for(HEARTBEAT, 3).await;

    assert_eq!(
        bearers(&heartbeats),
        [Some("old"), Some("new"), Some("new")]
    );
    assert_eq!(
        heartbeats[0].at, heartbeats[1].at,
        "the retry follows at once"
    );
    assert_eq!(provider.refreshes(), 1);
    assert_eq!(
        client.state(),
        ConnectionState::Open {
            subscription_id: "s1".into()
        }
    );
    client.stop().await;
    drop(feed);
}

#[tokio::test(start_paused = true)]
async fn a_refused_service_call_refreshes_once_then_the_second_refusal_is_final() {
    let fake = FakeTransport::new();
    let refuse_all = Arc::new(Mutex::new(false));
    let refusing = refuse_all.clone();
    fake.respond(move |request| {
        if *refusing.lock().unwrap() || request.bearer.as_deref() == Some("old") {
            Err(refused(403, &request.url))
        } else {
            Ok("{\"ok\":true}".into())
        }
    });
    let provider = Provider::new();
    let client = provider.client_on(&fake);
    let service = client.service_client();

    assert_eq!(service.get_text("/first").await.unwrap(), "{\"ok\":true}");
    assert_eq!(
        bearers(&requests_to(&fake, "/first")),
        [Some("old"), Some("new")]
    );
    assert_eq!(provider.refreshes(), 1);

    *refuse_all.lock().unwrap() = true;
    assert_eq!(
        service.get_text("/second").await,
        Err(refused(403, "http://h/second"))
    );
    assert_eq!(
        bearers(&requests_to(&fake, "/second")),
        [Some("new"), Some("new")],
        "exactly one retry"
    );
    assert_eq!(provider.refreshes(), 2);
}

#[tokio::test(start_paused = true)]
async fn without_a_provider_a_refusal_is_final_at_once() {
    let fake = FakeTransport::new();
    fake.respond(|request| Err(refused(401, &request.url)));
    let client = ServerEventsClient::builder("http://h")
        .bearer_token("static")
        .build_with(fake.clone())
        .unwrap();

    let answer = client.service_client().get_text("/x").await;

    assert_eq!(answer, Err(refused(401, "http://h/x")));
    assert_eq!(bearers(&fake.requests()), [Some("static")]);
}

#[tokio::test(start_paused = true)]
async fn another_origin_gets_no_credentials_and_no_refresh() {
    let fake = FakeTransport::new();
    fake.respond(|request| Err(refused(401, &request.url)));
    let provider = Provider::new();
    let client = provider.client_on(&fake);

    let answer = client.service_client().get_text("http://other/x").await;

    assert_eq!(answer, Err(refused(401, "http://other/x")));
    assert_eq!(bearers(&fake.requests()), [None]);
    assert_eq!(provider.refreshes(), 0);
}
