//! A client's event log: every callback appends an event; tests wait on it with a deadline.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::watch;

/// One recorded event: its kind (`connect`, `message`, ...) and its fields (camelCase).
#[derive(Debug, Clone)]
pub struct Event {
    /// The kind, one of [`EVENT_KINDS`](crate::scenario::EVENT_KINDS).
    pub kind: &'static str,
    /// The fields, a JSON object.
    pub fields: Value,
    /// When it was recorded.
    pub at: Instant,
}

/// The event log of one client. Callbacks record from the client's task; tests read and wait.
pub struct Recorder {
    name: String,
    started: Instant,
    events: Mutex<Vec<Event>>,
    version: watch::Sender<usize>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("name", &self.name)
            .field("events", &self.lock().len())
            .finish()
    }
}

impl Recorder {
    /// An empty log for the client called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Recorder {
            name: name.into(),
            started: Instant::now(),
            events: Mutex::new(Vec::new()),
            version: watch::Sender::new(0),
        }
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Event>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an event and wakes the waiters.
    pub fn record(&self, kind: &'static str, fields: Map<String, Value>) {
        let len = {
            let mut events = self.lock();
            events.push(Event {
                kind,
                fields: Value::Object(fields),
                at: Instant::now(),
            });
            events.len()
        };
        self.version.send_replace(len);
    }

    /// A copy of the log.
    pub fn events(&self) -> Vec<Event> {
        self.lock().clone()
    }

    /// Runs `f` on the log now.
    pub fn with<T>(&self, f: impl FnOnce(&[Event]) -> T) -> T {
        f(&self.lock())
    }

    /// How many events of `kind` there are now.
    pub fn count(&self, kind: &str) -> usize {
        self.lock().iter().filter(|e| e.kind == kind).count()
    }

    /// The fields of every event of `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<Value> {
        self.lock()
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.fields.clone())
            .collect()
    }

    /// Calls `check` on the log each time it changes until it returns `Some` or `timeout` passes.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[Event]) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.version.subscribe();
        loop {
            // Subscribed before checking, so an event recorded after the check wakes us.
            changes.borrow_and_update();
            if let Some(found) = check(&self.lock()) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return check(&self.lock()),
            }
        }
    }

    /// Waits until there are at least `count` events of `kind`.
    pub async fn wait_count(&self, kind: &str, count: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |events| {
            (events.iter().filter(|e| e.kind == kind).count() >= count).then_some(())
        })
        .await
        .is_some()
    }

    /// The log as text for failure messages (the last `max` events, each cut to a line).
    pub fn describe(&self, max: usize) -> String {
        let events = self.lock();
        let mut text = format!("  events of {} ({}):\n", self.name, events.len());
        let skip = events.len().saturating_sub(max);
        if skip > 0 {
            let _ = writeln!(text, "    … {skip} earlier events");
        }
        for (index, event) in events.iter().enumerate().skip(skip) {
            let mut fields = event.fields.to_string();
            if fields.len() > 400 {
                let mut cut = 400;
                while !fields.is_char_boundary(cut) {
                    cut -= 1;
                }
                fields.truncate(cut);
                fields.push('…');
            }
            let ms = event.at.duration_since(self.started).as_millis();
            let _ = writeln!(text, "    #{index} +{ms}ms {} {fields}", event.kind);
        }
        text
    }
}
