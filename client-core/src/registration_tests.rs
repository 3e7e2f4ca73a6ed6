//! Run-time registrations against the scripted transport: lifecycle listeners added and removed
//! while the client runs, one process-wide id per registration, removal without the name, and
//! a listener's error reported to every `on_exception`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fake_transport::{FakeTransport, Opening, connect_frame, fed_stream};
use crate::{Error, LifecycleListener, ServerEventMessage, ServerEventsClient};

const WAIT: Duration = Duration::from_secs(5);

type Log = Arc<Mutex<Vec<String>>>;

/// Records messages and errors; fails every message when `fail` is set.
struct Recording {
    log: Log,
    name: &'static str,
    fail: bool,
}

impl LifecycleListener for Recording {
    fn on_message(&self, message: &ServerEventMessage) -> Result<(), Error> {
        if self.fail {
            return Err(Error::CallbackFailed {
                callback: "onMessage".into(),
                detail: "boom".into(),
            });
        }
        let line = format!("{} {}", self.name, message.selector().unwrap_or_default());
        self.log.lock().unwrap().push(line);
        Ok(())
    }

    fn on_exception(&self, error: &Error) -> Result<(), Error> {
        let line = format!("{} exception {error}", self.name);
        self.log.lock().unwrap().push(line);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn lifecycle_listeners_come_and_go_at_run_time_by_id() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let log: Log = Arc::default();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .build_with(fake.clone())
        .unwrap();
    feed.send(&connect_frame("s1", 600_000, 600_000));
    client.connect().await.unwrap();

    let failing = client.add_lifecycle_listener(Recording {
        log: log.clone(),
        name: "failing",
        fail: true,
    });
    let recording = client.add_lifecycle_listener(Recording {
        log: log.clone(),
        name: "recording",
        fail: false,
    });
    let next = client.wait_for_next_message(WAIT);
    feed.send("data: cmd.first {}\n\n");
    next.await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "failing exception listener onMessage threw: boom",
            "recording exception listener onMessage threw: boom",
            "recording cmd.first",
        ]
    );

    assert!(client.remove(failing));
    assert!(!client.remove(failing), "an id is removed once");
    log.lock().unwrap().clear();
    let next = client.wait_for_next_message(WAIT);
    feed.send("data: cmd.second {}\n\n");
    next.await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["recording cmd.second"]);

    assert!(client.remove(recording));
    log.lock().unwrap().clear();
    let next = client.wait_for_next_message(WAIT);
    feed.send("data: cmd.marker {}\n\n");
    next.await.unwrap();
    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
    client.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_registration_is_removed_by_its_id_alone() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let log: Log = Arc::default();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .build_with(fake.clone())
        .unwrap();
    let other = ServerEventsClient::new("http://h", ["home"]).unwrap();
    let push = |what: &'static str| {
        let log = log.clone();
        move |_: &ServerEventsClient, _: &ServerEventMessage| log.lock().unwrap().push(what.into())
    };
    let handler = client.register_handler("chat", push("handler"));
    let first = client.add_listener("poke", push("first listener"));
    let second = client.add_listener("poke", push("second listener"));
    let lifecycle = client.add_lifecycle_listener(Recording {
        log: log.clone(),
        name: "lifecycle",
        fail: false,
    });
    let other_handler = other.register_handler("chat", push("other"));
    let ids: HashSet<_> = [handler, first, second, lifecycle, other_handler]
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 5, "ids are unique across kinds and clients");
    assert!(!client.remove(other_handler), "another client's id");

    feed.send(&connect_frame("s1", 600_000, 600_000));
    client.connect().await.unwrap();
    assert!(client.remove(handler));
    assert!(client.remove(first));
    assert!(client.remove(lifecycle));
    assert!(client.has_listeners("poke"));
    let next = client.wait_for_next_message(WAIT);
    feed.send("data: cmd.chat {}\n\n");
    next.await.unwrap();
    let next = client.wait_for_next_message(WAIT);
    feed.send("data: trigger.poke {}\n\n");
    next.await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["second listener"]);
    client.stop().await;
}
