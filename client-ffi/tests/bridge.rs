//! The exported object driven the way Kotlin and Swift drive it: futures polled by an executor
//! that is not tokio (here `futures_executor`'s thread-parking one), callbacks arriving on the library's own
//! threads, and dropping the object standing in for Kotlin `close()` / Swift `deinit`.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_executor::block_on;

use client_ffi::{
    ClientOptions, ConnectionState, MessageHandler, ReconnectInfo, ServerEventCommand,
    ServerEventConnect, ServerEventMessage, ServerEventsClient, ServerEventsError,
    ServerEventsListener, StreamUrlResolver,
};
use servicestack_events_server::{ServerConfig, TestServer};

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
        ServerEventsClient::new(server.base_url(), options, None, None).expect("the client builds");
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
    let client = ServerEventsClient::new(server.base_url(), ClientOptions::default(), None, None)
        .expect("the client builds");
    let first = block_on(client.connect()).expect("connects");
    block_on(client.stop());
    assert_eq!(server.subscriptions(), 0);
    // Like the C# and Java clients, restart() leaves a stopped client stopped ...
    client
        .restart()
        .expect("restart is allowed on a stopped client");
    assert!(matches!(client.state(), ConnectionState::Closed { .. }));
    // ... and connect() starts it again, even right after the old task ended.
    let second = block_on(client.connect()).expect("reconnects");
    assert_ne!(first.id, second.id);
    block_on(client.dispose());
    assert!(matches!(client.start(), Err(ServerEventsError::Disposed)));
}

/// A foreign `ResolveStreamUrl` that moves the subscription to another channel.
struct ToLobby;

impl StreamUrlResolver for ToLobby {
    fn resolve(&self, url: String) -> String {
        url.replace("channels=home", "channels=lobby")
    }
}

#[test]
fn a_foreign_stream_url_resolver_rewrites_the_url_that_is_opened() {
    let server = Server::start();
    let options = ClientOptions {
        channels: vec!["home".into()],
        ..ClientOptions::default()
    };
    let client = ServerEventsClient::new(server.base_url(), options, None, Some(Arc::new(ToLobby)))
        .expect("the client builds");
    assert!(client.event_stream_url().ends_with("?channels=lobby"));
    let info = block_on(client.connect()).expect("connects");
    assert_eq!(info.channels, ["lobby"], "the server saw the rewritten URL");
    block_on(client.dispose());
}
