//! What a run measures: the full plan for the report, the quick one for CI.

use std::time::Duration;

/// Counts and durations of one `sdk-bench run`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    /// Repetitions of every measurement (the report shows medians).
    pub runs: usize,
    /// B1: time box of the single counted pass (cases too slow for criterion get only that).
    pub b1_budget: Duration,
    /// B1: rounds of back-to-back timing of client-core and each peer, for the ratios.
    pub b1_pair_rounds: usize,
    /// B1: each timing in a round repeats passes for at least this long.
    pub b1_pair_min: Duration,
    /// B2: messages per throughput run.
    pub throughput_count: u64,
    /// B2 backlog mode: messages queued while the receiver stalls, then drained.
    pub backlog_count: u64,
    /// B2 backlog mode: how long the receiver stops reading after the first message.
    pub backlog_stall: Duration,
    /// B2: JSON body length of every chat message.
    pub body_len: usize,
    /// B2: messages the publisher may have in flight beyond the last acknowledgement.
    pub window: u64,
    /// B2: publish rates for the latency runs (events/s).
    pub rates: Vec<f64>,
    /// B2: measured seconds per latency run, after the warm-up.
    pub latency_secs: f64,
    /// B2: warm-up seconds per latency run (not recorded).
    pub latency_warmup_secs: f64,
    /// B3: connects per run.
    pub connects: usize,
    /// B3: idle client counts.
    pub idle_clients: Vec<usize>,
    /// B3: idle window in seconds.
    pub idle_secs: f64,
    /// B3: heartbeat interval the server advertises (ms).
    pub heartbeat_ms: u64,
    /// B3: subscribers for the server's memory per subscriber.
    pub server_subscribers: usize,
    /// B5: SDK clients subscribed to the channel (split evenly across the nodes).
    pub b5_subscribers: usize,
    /// B5: messages per fan-out throughput run (each subscriber receives every one).
    pub b5_count: u64,
    /// B5: publish rate of the latency runs (messages/s; each is delivered to every subscriber).
    pub b5_rate: f64,
    /// B5: measured seconds per latency run, after `latency_warmup_secs`.
    pub b5_latency_secs: f64,
    /// B5: idle subscribers for a node's memory per subscriber.
    pub b5_memory_subscribers: usize,
}

impl Plan {
    /// The plan for the report.
    pub fn full() -> Plan {
        Plan {
            quick: false,
            runs: 5,
            b1_budget: Duration::from_secs(30),
            b1_pair_rounds: 11,
            b1_pair_min: Duration::from_millis(20),
            throughput_count: 1_000_000,
            backlog_count: 200_000,
            backlog_stall: Duration::from_secs(2),
            body_len: 120,
            window: 32_768,
            rates: vec![1_000.0, 10_000.0],
            latency_secs: 10.0,
            latency_warmup_secs: 1.0,
            connects: 1_000,
            idle_clients: vec![1, 100, 1_000],
            idle_secs: 20.0,
            heartbeat_ms: 10_000,
            server_subscribers: 10_000,
            b5_subscribers: 8,
            b5_count: 30_000,
            b5_rate: 1_000.0,
            b5_latency_secs: 5.0,
            b5_memory_subscribers: 2_000,
        }
    }

    /// The CI smoke run: every section, small counts, one run each.
    pub fn quick() -> Plan {
        Plan {
            quick: true,
            runs: 1,
            b1_budget: Duration::from_secs(2),
            b1_pair_rounds: 3,
            b1_pair_min: Duration::from_millis(2),
            throughput_count: 20_000,
            backlog_count: 10_000,
            backlog_stall: Duration::from_millis(500),
            window: 8_192,
            latency_secs: 1.0,
            latency_warmup_secs: 0.2,
            connects: 20,
            idle_clients: vec![1, 10, 50],
            idle_secs: 1.5,
            heartbeat_ms: 500,
            server_subscribers: 300,
            b5_subscribers: 4,
            b5_count: 2_000,
            b5_latency_secs: 1.0,
            b5_memory_subscribers: 200,
            ..Plan::full()
        }
    }
}
