//! `sdk-bench client --mode fanout`: B5's subscribers. `--n` SDK clients in this one process,
//! client i connected to the i-th of the comma-separated `--url`s (round robin, so two nodes
//! get half each), all on the chat channel. Each handler decodes the typed message and records
//! its publish→handler latency after `--warmup`; the process reports the delivered count, the
//! time from the first to the last delivery over all clients, and the latency percentiles over
//! every client's samples.
//!
//! Acknowledgements carry the slowest client's count, so the publisher's window bounds every
//! subscriber's backlog.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, stream};
use serde_json::json;
use servicestack_events::{ServerEventMessage, ServerEventsClient};
use tokio::sync::Notify;

use super::ack::{ACK_EVERY, AckSender};
use super::client::latency_result;
use super::emit;
use crate::args::LoadArgs;
use sdk_benches::chat::{CHANNEL, ChatMessage};
use sdk_benches::sys;

/// What all the clients of the process have received.
struct Fanout {
    total_per_client: u64,
    warmup: u64,
    /// Messages handled by each client.
    counts: Vec<u64>,
    /// Clients that have received all their messages.
    finished: usize,
    errors: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    latencies_ns: Vec<u64>,
    ack: AckSender,
}

impl Fanout {
    fn on_message(&mut self, client: usize, received_ns: u64, message: &ServerEventMessage) {
        // The typed decode every application does; the struct is used, so it is not elided.
        let chat = match message.parse_json::<ChatMessage>() {
            Ok(chat) => chat,
            Err(_) => {
                self.errors += 1;
                return;
            }
        };
        std::hint::black_box(&chat);
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.counts[client] += 1;
        let count = self.counts[client];
        if count > self.warmup && chat.sent_ns > 0 {
            self.latencies_ns
                .push(received_ns.saturating_sub(chat.sent_ns));
        }
        if count.is_multiple_of(ACK_EVERY) || count == self.total_per_client {
            let slowest = self.counts.iter().copied().min().unwrap_or(0);
            self.ack.send(slowest);
        }
        if count == self.total_per_client {
            self.finished += 1;
            if self.finished == self.counts.len() {
                self.last = Some(now);
            }
        }
    }
}

/// Runs the fanout mode.
pub async fn run(args: &LoadArgs) -> Result<(), String> {
    sys::raise_nofile_limit();
    let urls: Vec<&str> = args
        .url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err("--url names no server".into());
    }
    let n = args.n()?;
    if n == 0 {
        return Err("--n must be at least 1".into());
    }
    let total = args.count()?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let (ack_port, run) = args.ack()?;
    let ack = AckSender::new(ack_port, run).map_err(|e| format!("ack socket: {e}"))?;
    let state = Arc::new(Mutex::new(Fanout {
        total_per_client: total,
        warmup: args.warmup,
        counts: vec![0; n],
        finished: 0,
        errors: 0,
        first: None,
        last: None,
        latencies_ns: Vec::with_capacity((total.saturating_sub(args.warmup) as usize) * n),
        ack,
    }));
    let done = Arc::new(Notify::new());
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let state = state.clone();
        let done = done.clone();
        let client = ServerEventsClient::builder(urls[i % urls.len()])
            .channels([CHANNEL])
            .handler("chat", move |_client, message| {
                let received_ns = sys::monotonic_ns();
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                state.on_message(i, received_ns, message);
                if state.last.is_some() {
                    done.notify_one();
                }
            })
            .build()
            .map_err(|e| e.to_string())?;
        clients.push(client);
    }
    let connected: Vec<Result<(), String>> = stream::iter(&clients)
        .map(|client| async move {
            client
                .connect()
                .await
                .map(|_| ())
                .map_err(|e| format!("connect: {e}"))
        })
        .buffer_unordered(16)
        .collect()
        .await;
    connected.into_iter().collect::<Result<Vec<()>, String>>()?;
    emit(&json!({ "ready": true, "clients": n }));
    let finished = tokio::time::timeout(timeout, done.notified()).await.is_ok();
    stream::iter(clients)
        .for_each_concurrent(16, |client| async move { client.stop().await })
        .await;
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if !finished {
        return Err(format!(
            "received {:?} of {} messages per client in {timeout:?}",
            state.counts, state.total_per_client
        ));
    }
    let (Some(first), Some(last)) = (state.first, state.last) else {
        return Err("no messages".into());
    };
    let delivered: u64 = state.counts.iter().sum();
    let errors = state.errors;
    let mut result = latency_result(&mut state.latencies_ns, errors);
    result["delivered"] = json!(delivered);
    result["secs"] = json!((last - first).as_secs_f64());
    emit(&result);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;

    use super::*;
    use sdk_benches::chat::chat_json;

    fn chat(id: u64) -> ServerEventMessage {
        let data = format!("{CHANNEL}@cmd.chat {}", chat_json(id, 1, 120));
        ServerEventMessage::parse(id, data).unwrap()
    }

    /// The acknowledged count (little-endian u64 after the run id) of the next datagram.
    fn next_ack(socket: &UdpSocket) -> u64 {
        let mut datagram = [0u8; 12];
        let len = socket.recv(&mut datagram).expect("an acknowledgement");
        assert_eq!(len, 12);
        assert_eq!(u32::from_le_bytes(datagram[..4].try_into().unwrap()), 7);
        u64::from_le_bytes(datagram[4..].try_into().unwrap())
    }

    #[test]
    fn acknowledges_the_slowest_client_and_finishes_when_every_client_has_all() {
        let publisher = UdpSocket::bind("127.0.0.1:0").unwrap();
        publisher
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let port = publisher.local_addr().unwrap().port();
        let mut fanout = Fanout {
            total_per_client: 3,
            warmup: 1,
            counts: vec![0; 2],
            finished: 0,
            errors: 0,
            first: None,
            last: None,
            latencies_ns: Vec::new(),
            ack: AckSender::new(port, 7).unwrap(),
        };
        for id in 1..=3 {
            fanout.on_message(0, 10, &chat(id));
        }
        // Client 0 is done, client 1 has nothing: the window must not move.
        assert_eq!(next_ack(&publisher), 0);
        assert!(fanout.last.is_none(), "one client is still waiting");
        for id in 1..=3 {
            fanout.on_message(1, 10, &chat(id));
        }
        assert_eq!(next_ack(&publisher), 3);
        assert!(fanout.last.is_some());
        assert_eq!(fanout.counts, vec![3, 3]);
        // Two timed deliveries per client after the one warm-up message, 10 - 1 ns each.
        assert_eq!(fanout.latencies_ns, vec![9; 4]);
        assert_eq!(fanout.errors, 0);
    }
}
