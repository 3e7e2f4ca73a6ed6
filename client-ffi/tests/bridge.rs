//! The exported object driven the way Kotlin and Swift drive it: futures polled by an executor
//! that is not tokio (here a minimal thread-parking one), callbacks arriving on the library's own
//! threads, and dropping the object standing in for Kotlin `close()` / Swift `deinit`.

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use client_ffi::{
    ClientOptions, ConnectionState, MessageHandler, ReconnectInfo, ServerEventCommand,
    ServerEventConnect, ServerEventMessage, ServerEventsClient, ServerEventsError,
    ServerEventsListener,
};
use test_server::{ServerConfig, TestServer};

/// Polls a future on the calling thread, outside any tokio context (as JNA/Swift threads are).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// The reference server on its own runtime, as the tests' separate process would be.
struct Server {
    runtime: tokio::runtime::Runtime,
    server: Option<TestServer>,
}

impl Server {
    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the server");
        let config = ServerConfig {
            heartbeat_interval: Duration::from_millis(200),
            ..ServerConfig::default()
        };
        let server = runtime
            .block_on(TestServer::start(config))
            .expect("the server starts");
        Server {
            runtime,
            server: Some(server),
        }
    }

    fn base_url(&self) -> String {
        self.server
            .as_ref()
            .map(|s| s.base_url().to_owned())
            .unwrap_or_default()
    }

    fn subscriptions(&self) -> usize {
        self.server
            .as_ref()
            .map_or(0, |s| s.events().stats().subscription_count)
    }

    /// Waits up to 5 s for the server to list `count` subscriptions.
    fn await_subscriptions(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.subscriptions() != count {
            assert!(
                Instant::now() < deadline,
                "{} subscriptions, expected {count}",
                self.subscriptions()
            );
            std::thread::yield_now();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Sends every callback as text to the test thread.
struct Forward(Mutex<mpsc::Sender<String>>);

impl Forward {
    fn send(&self, text: String) -> Result<(), ServerEventsError> {
        let _ = self.0.lock().unwrap().send(text);
        Ok(())
    }
}

impl ServerEventsListener for Forward {
    fn on_connect(&self, info: ServerEventConnect) -> Result<(), ServerEventsError> {
        self.send(format!("connect {}", info.id))
    }
    fn on_message(&self, message: ServerEventMessage) -> Result<(), ServerEventsError> {
        self.send(format!("message {}", message.selector.unwrap_or_default()))
    }
    fn on_command(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
        Ok(())
    }
    fn on_join(&self, command: ServerEventCommand) -> Result<(), ServerEventsError> {
        self.send(format!("join {}", command.channel.unwrap_or_default()))
    }
    fn on_leave(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
        Ok(())
    }
    fn on_update(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
        Ok(())
    }
    fn on_heartbeat(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
        Ok(())
    }
    fn on_reconnect(&self, _: ReconnectInfo) -> Result<(), ServerEventsError> {
        Ok(())
    }
    fn on_exception(&self, error: ServerEventsError) -> Result<(), ServerEventsError> {
        self.send(format!("exception {}", error.kind()))
    }
}

struct Failing;

impl MessageHandler for Failing {
    fn handle(&self, _: ServerEventMessage) -> Result<(), ServerEventsError> {
        Err(ServerEventsError::ListenerFailed {
            callback: "callback".into(),
            detail: "thrown by the test".into(),
        })
    }
}

fn next(events: &mpsc::Receiver<String>, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no event starting with {wanted:?} within 10 s"));
        if event.starts_with(wanted) {
            return event;
        }
    }
}

#[test]
fn a_foreign_executor_connects_receives_and_dropping_unregisters() {
    let server = Server::start();
    let options = ClientOptions {
        channels: vec!["home".into()],
        ..ClientOptions::default()
    };
    let client =
        ServerEventsClient::new(server.base_url(), options, None).expect("the client builds");
    let (sender, events) = mpsc::channel();
    client.add_event_listener(Arc::new(Forward(Mutex::new(sender))));
    client.register_handler("boom".into(), Arc::new(Failing));

    let info = block_on(client.connect()).expect("connects");
    assert_eq!(next(&events, "connect"), format!("connect {}", info.id));
    assert_eq!(next(&events, "join"), "join home");
    assert!(matches!(client.state(), ConnectionState::Open { .. }));

    let request = format!(
        r#"{{"from":"{}","channel":"home","selector":"cmd.boom","message":"x"}}"#,
        info.id
    );
    block_on(client.post_json("/channels/home/raw".into(), request)).expect("posts");
    assert_eq!(next(&events, "exception"), "exception handlerFailed");
    assert_eq!(next(&events, "message"), "message cmd.boom");

    let not_json = block_on(client.post_json("/x".into(), "{".into()));
    assert!(
        matches!(not_json, Err(ServerEventsError::InvalidArgument { .. })),
        "{not_json:?}"
    );

    assert_eq!(server.subscriptions(), 1);
    drop(client);
    server.await_subscriptions(0);
}

#[test]
fn stop_waits_for_the_unregister_and_a_restart_reconnects() {
    let server = Server::start();
    let client = ServerEventsClient::new(server.base_url(), ClientOptions::default(), None)
        .expect("the client builds");
    let first = block_on(client.connect()).expect("connects");
    block_on(client.stop());
    assert_eq!(server.subscriptions(), 0);
    client.restart().expect("restarts");
    // connect() on a client that is (re)connecting waits for its next cmd.onConnect.
    let second = block_on(client.connect()).expect("reconnects");
    assert_ne!(first.id, second.id);
    block_on(client.dispose());
    assert!(matches!(client.start(), Err(ServerEventsError::Disposed)));
}
