//! Progress acknowledgements from a receiver to the publisher: UDP datagrams on loopback.
//!
//! The publisher keeps at most a window of messages in flight, so the server's slow-reader limit
//! never drops the subscriber and its buffer stays small. A datagram is `run: u32` + `count: u64`
//! (little endian); counts are cumulative, so a lost datagram is covered by the next one.

use std::net::UdpSocket;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often (in messages) receivers acknowledge.
pub const ACK_EVERY: u64 = 1024;

/// Sends acknowledgements for one run.
#[derive(Debug)]
pub struct AckSender {
    socket: UdpSocket,
    run: u32,
}

impl AckSender {
    /// A sender to the publisher's `port` on 127.0.0.1.
    pub fn new(port: u16, run: u32) -> std::io::Result<AckSender> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.connect(("127.0.0.1", port))?;
        Ok(AckSender { socket, run })
    }

    /// Reports `count` messages handled so far (sent every [`ACK_EVERY`] and at `total`).
    pub fn progress(&self, count: u64, total: u64) {
        if count.is_multiple_of(ACK_EVERY) || count == total {
            self.send(count);
        }
    }

    /// Reports `count` now.
    pub fn send(&self, count: u64) {
        let mut datagram = [0u8; 12];
        datagram[..4].copy_from_slice(&self.run.to_le_bytes());
        datagram[4..].copy_from_slice(&count.to_le_bytes());
        let _ = self.socket.send(&datagram);
    }
}

/// The publisher's side: the highest count acknowledged for the current run.
#[derive(Debug, Clone)]
pub struct AckReceiver {
    state: Arc<(Mutex<(u32, u64)>, Condvar)>,
    port: u16,
}

impl AckReceiver {
    /// Binds 127.0.0.1:0 and listens on a background thread.
    pub fn start() -> std::io::Result<AckReceiver> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let port = socket.local_addr()?.port();
        let state = Arc::new((Mutex::new((0u32, 0u64)), Condvar::new()));
        let shared = state.clone();
        std::thread::Builder::new()
            .name("ack-receiver".into())
            .spawn(move || {
                let mut datagram = [0u8; 12];
                while let Ok(len) = socket.recv(&mut datagram) {
                    if len != 12 {
                        continue;
                    }
                    let run = u32::from_le_bytes(datagram[..4].try_into().unwrap_or_default());
                    let count = u64::from_le_bytes(datagram[4..].try_into().unwrap_or_default());
                    let (lock, changed) = &*shared;
                    let mut current = lock.lock().unwrap_or_else(|p| p.into_inner());
                    if current.0 == run && count > current.1 {
                        current.1 = count;
                        changed.notify_all();
                    }
                }
            })?;
        Ok(AckReceiver { state, port })
    }

    /// The UDP port receivers send to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts counting for `run` from zero.
    pub fn begin(&self, run: u32) {
        let mut current = self.state.0.lock().unwrap_or_else(|p| p.into_inner());
        *current = (run, 0);
    }

    /// The count acknowledged so far in the current run.
    pub fn acked(&self) -> u64 {
        self.state.0.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Waits until at least `count` are acknowledged; `false` if nothing moved for `stall`.
    pub fn wait_for(&self, count: u64, stall: Duration) -> bool {
        let (lock, changed) = &*self.state;
        let mut current = lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut last_progress = (current.1, Instant::now());
        while current.1 < count {
            if current.1 != last_progress.0 {
                last_progress = (current.1, Instant::now());
            } else if last_progress.1.elapsed() >= stall {
                return false;
            }
            current = changed
                .wait_timeout(current, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}
