//! How long to wait before reconnecting.

use std::time::Duration;

/// The reconnect policy: whether to reconnect after a failure and how long to wait first.
///
/// The default copies ServiceStack's C# and Java clients: no wait after the first failure, then a
/// random wait in `[n³, (n+1)³]` milliseconds after the n-th consecutive failure, capped at 60 s.
/// Unlike them, the failure count resets only after a connection stayed healthy for
/// [`healthy_after`](Self::healthy_after), so a server that accepts and immediately drops
/// connections cannot cause a tight reconnect loop.
///
/// ```
/// use std::time::Duration;
/// use servicestack_events::ReconnectPolicy;
///
/// let policy = ReconnectPolicy::default();
/// assert_eq!(policy.delay_for(1), Some(Duration::ZERO));
/// let third = policy.delay_for(3).unwrap();
/// assert!(third >= Duration::from_millis(27) && third <= Duration::from_millis(64));
/// assert_eq!(policy.delay_for(50), Some(Duration::from_secs(60)));
/// assert_eq!(ReconnectPolicy::never().delay_for(1), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectPolicy {
    schedule: Schedule,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// How long a connection must stay open before the failure count resets.
    pub healthy_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Schedule {
    Cubic,
    Exponential { initial: Duration },
    Fixed(Duration),
    Never,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            schedule: Schedule::Cubic,
            max_delay: Duration::from_secs(60),
            healthy_after: Duration::from_secs(5),
        }
    }
}

impl ReconnectPolicy {
    /// ServiceStack's cubic schedule (the default).
    pub fn servicestack() -> Self {
        Self::default()
    }

    /// Doubling waits from `initial` with full jitter (a random wait up to the doubled value).
    pub fn exponential(initial: Duration, max_delay: Duration) -> Self {
        ReconnectPolicy {
            schedule: Schedule::Exponential { initial },
            max_delay,
            ..Self::default()
        }
    }

    /// The same wait after every failure.
    pub fn fixed(delay: Duration) -> Self {
        ReconnectPolicy {
            schedule: Schedule::Fixed(delay),
            max_delay: delay,
            ..Self::default()
        }
    }

    /// Never reconnect: the first failure closes the client.
    pub fn never() -> Self {
        ReconnectPolicy {
            schedule: Schedule::Never,
            ..Self::default()
        }
    }

    /// Sets how long a connection must stay open before the failure count resets.
    pub fn with_healthy_after(mut self, healthy_after: Duration) -> Self {
        self.healthy_after = healthy_after;
        self
    }

    /// The wait before the next attempt after `consecutive_failures` failures in a row,
    /// or `None` when the policy gives up.
    pub fn delay_for(&self, consecutive_failures: u32) -> Option<Duration> {
        let n = u64::from(consecutive_failures);
        let cap = u64::try_from(self.max_delay.as_millis()).unwrap_or(u64::MAX);
        let millis = match &self.schedule {
            Schedule::Never => return None,
            Schedule::Fixed(delay) => return Some(*delay),
            Schedule::Cubic if n <= 1 => 0,
            Schedule::Cubic => {
                let low = n.saturating_pow(3);
                let high = (n + 1).saturating_pow(3);
                if low >= cap {
                    cap
                } else {
                    fastrand::u64(low..=high).min(cap)
                }
            }
            Schedule::Exponential { .. } if n == 0 => 0,
            Schedule::Exponential { initial } => {
                let initial = u64::try_from(initial.as_millis()).unwrap_or(u64::MAX);
                let ceiling = initial.saturating_mul(1u64 << (n - 1).min(32)).min(cap);
                fastrand::u64(0..=ceiling)
            }
        };
        Some(Duration::from_millis(millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_schedule_matches_the_csharp_table() {
        let policy = ReconnectPolicy::default();
        for (n, low, high) in [
            (2, 8, 27),
            (3, 27, 64),
            (4, 64, 125),
            (10, 1000, 1331),
            (20, 8000, 9261),
            (38, 54872, 59319),
        ] {
            for _ in 0..200 {
                let ms = policy.delay_for(n).unwrap().as_millis() as u64;
                assert!((low..=high).contains(&ms), "n={n}: {ms}");
            }
        }
        for _ in 0..200 {
            let ms = policy.delay_for(39).unwrap().as_millis() as u64;
            assert!((59319..=60000).contains(&ms), "n=39: {ms}");
        }
        assert_eq!(policy.delay_for(0), Some(Duration::ZERO));
        assert_eq!(policy.delay_for(u32::MAX), Some(Duration::from_secs(60)));
    }

    #[test]
    fn jitter_spreads_waits() {
        let policy = ReconnectPolicy::default();
        let waits: std::collections::HashSet<_> = (0..50).map(|_| policy.delay_for(10)).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }

    #[test]
    fn exponential_and_fixed() {
        let policy =
            ReconnectPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1));
        for n in 1..40 {
            assert!(policy.delay_for(n).unwrap() <= Duration::from_secs(1));
        }
        assert!(policy.delay_for(2).unwrap() <= Duration::from_millis(200));
        assert_eq!(
            ReconnectPolicy::fixed(Duration::from_millis(5)).delay_for(9),
            Some(Duration::from_millis(5))
        );
    }
}
