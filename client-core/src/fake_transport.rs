//! A scripted transport for unit tests of the connection lifecycle, used with tokio's paused
//! clock: each stream open takes the next scripted [`Opening`], every request is logged with the
//! clock time it was sent and the bearer token it carried, and a responder decides each
//! request's answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::auth::{BoxFuture, Credentials};
use crate::error::Error;
use crate::http_client::{EventBytes, HttpClient};
use crate::rt::Clock;
use crate::transport::{Body, Method};

/// What the next stream open does.
pub(crate) enum Opening {
    /// Answers with this stream.
    Stream(EventBytes),
    /// Fails with this error.
    Fail(Error),
    /// Never answers (a server that accepts the connection and stays silent).
    Hang,
}

/// One request the client sent (stream opens included, as `GET`).
#[derive(Debug, Clone)]
pub(crate) struct Request {
    #[allow(dead_code)] // Shown in assertion messages.
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) at: Clock,
    /// The bearer token the request carried.
    pub(crate) bearer: Option<String>,
}

impl Request {
    fn new(method: Method, url: &str, credentials: &Credentials) -> Self {
        Request {
            method,
            url: url.to_owned(),
            at: Clock::now(),
            bearer: credentials
                .bearer_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
        }
    }
}

type Responder = Box<dyn FnMut(&Request) -> Result<String, Error> + Send>;

pub(crate) struct FakeTransport {
    openings: Mutex<VecDeque<Opening>>,
    responder: Mutex<Responder>,
    log: watch::Sender<Vec<Request>>,
    connect_timeout: Duration,
}

impl FakeTransport {
    /// A transport that answers every request with an empty 200 and hangs on unscripted opens.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(FakeTransport {
            openings: Mutex::new(VecDeque::new()),
            responder: Mutex::new(Box::new(|_| Ok(String::new()))),
            log: watch::Sender::new(Vec::new()),
            connect_timeout: Duration::from_secs(10),
        })
    }

    /// Scripts the next stream open.
    pub(crate) fn push(&self, opening: Opening) {
        self.openings.lock().unwrap().push_back(opening);
    }

    /// Decides the answers of requests from now on.
    pub(crate) fn respond(
        &self,
        responder: impl FnMut(&Request) -> Result<String, Error> + Send + 'static,
    ) {
        *self.responder.lock().unwrap() = Box::new(responder);
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.log.borrow().clone()
    }

    /// Waits (up to an hour of clock time) until the requests whose URL contains `part` number
    /// `count`, and returns them.
    pub(crate) async fn wait_for(&self, part: &str, count: usize) -> Vec<Request> {
        self.wait_within(Duration::from_secs(3600), part, count)
            .await
    }

    /// [`wait_for`](Self::wait_for) with a chosen limit.
    pub(crate) async fn wait_within(
        &self,
        limit: Duration,
        part: &str,
        count: usize,
    ) -> Vec<Request> {
        let mut log = self.log.subscribe();
        let matching = |log: &[Request]| {
            log.iter()
                .filter(|request| request.url.contains(part))
                .cloned()
                .collect::<Vec<_>>()
        };
        let waited =
            tokio::time::timeout(limit, log.wait_for(|log| matching(log).len() >= count)).await;
        assert!(
            waited.is_ok(),
            "no {count} requests to {part}: {:?}",
            self.requests()
        );
        matching(&self.requests())
    }
}

impl HttpClient for FakeTransport {
    fn open_stream<'a>(
        &'a self,
        url: &'a str,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<EventBytes, Error>> {
        let request = Request::new(Method::Get, url, &credentials);
        self.log.send_modify(|log| log.push(request));
        let next = self.openings.lock().unwrap().pop_front();
        Box::pin(async move {
            match next {
                Some(Opening::Stream(stream)) => Ok(stream),
                Some(Opening::Fail(error)) => Err(error),
                Some(Opening::Hang) | None => std::future::pending().await,
            }
        })
    }

    fn call<'a>(
        &'a self,
        method: Method,
        url: &'a str,
        _body: Body,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<String, Error>> {
        let request = Request::new(method, url, &credentials);
        // Answered before it is logged, so a test woken by the log sees what the responder did.
        let answer = (self.responder.lock().unwrap())(&request);
        self.log.send_modify(|log| log.push(request));
        Box::pin(async move { answer })
    }

    fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}

/// The writing end of a scripted event stream; dropping it ends the stream.
#[derive(Clone)]
pub(crate) struct Feed(mpsc::UnboundedSender<Result<Bytes, Error>>);

impl Feed {
    /// Writes raw SSE text to the stream.
    pub(crate) fn send(&self, text: &str) {
        let _ = self
            .0
            .unbounded_send(Ok(Bytes::copy_from_slice(text.as_bytes())));
    }

    /// Whether the client let go of the stream.
    pub(crate) fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A stream the test writes to through the returned [`Feed`].
pub(crate) fn fed_stream() -> (Feed, EventBytes) {
    let (sender, receiver) = mpsc::unbounded();
    (Feed(sender), receiver.boxed())
}

/// The `cmd.onConnect` frame of subscription `id`, with heartbeat and unregister URLs.
pub(crate) fn connect_frame(id: &str, heartbeat_ms: u64, idle_ms: u64) -> String {
    format!(
        "data: cmd.onConnect {{\"id\":\"{id}\",\"userId\":\"-1\",\"displayName\":\"user1\",\
         \"channels\":\"home\",\"heartbeatUrl\":\"http://h/event-heartbeat?id={id}\",\
         \"unRegisterUrl\":\"http://h/event-unregister?id={id}\",\
         \"heartbeatIntervalMs\":\"{heartbeat_ms}\",\"idleTimeoutMs\":\"{idle_ms}\"}}\n\n"
    )
}
