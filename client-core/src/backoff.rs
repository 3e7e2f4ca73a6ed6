//! How long to wait before reconnecting.

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    /// The policy a serialized name stands for: `"servicestack"` or `"never"`; `None` for
    /// any other name. With [`from_millis`](Self::from_millis), the one reading of the
    /// serialized forms that serde and every binding share.
    ///
    /// ```
    /// use servicestack_events::ReconnectPolicy;
    ///
    /// assert_eq!(ReconnectPolicy::from_name("never"), Some(ReconnectPolicy::never()));
    /// assert_eq!(ReconnectPolicy::from_name("sometimes"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "servicestack" => Some(ReconnectPolicy::servicestack()),
            "never" => Some(ReconnectPolicy::never()),
            _ => None,
        }
    }

    /// The policy of the object form: `delayMs` alone is a fixed wait; `initialMs` (with an
    /// optional `maxMs`, else the default longest wait) an exponential one; any other
    /// combination is `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicestack_events::ReconnectPolicy;
    ///
    /// assert_eq!(
    ///     ReconnectPolicy::from_millis(Some(250), None, None),
    ///     Some(ReconnectPolicy::fixed(Duration::from_millis(250)))
    /// );
    /// assert_eq!(ReconnectPolicy::from_millis(Some(250), Some(100), None), None);
    /// ```
    pub fn from_millis(
        delay_ms: Option<u64>,
        initial_ms: Option<u64>,
        max_ms: Option<u64>,
    ) -> Option<Self> {
        match (delay_ms, initial_ms) {
            (Some(delay), None) => Some(ReconnectPolicy::fixed(Duration::from_millis(delay))),
            (None, Some(initial)) => Some(ReconnectPolicy::exponential(
                Duration::from_millis(initial),
                max_ms.map_or(ReconnectPolicy::default().max_delay, Duration::from_millis),
            )),
            _ => None,
        }
    }

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

/// What the serialized form of a [`ReconnectPolicy`] may be.
const RECONNECT_FORMS: &str =
    r#""servicestack", "never", {"delayMs": n} or {"initialMs": n, "maxMs": m}"#;

/// `"servicestack"`, `"never"`, `{"delayMs": n}` (fixed) or `{"initialMs": n, "maxMs": m}`
/// (exponential). [`healthy_after`](ReconnectPolicy::healthy_after) is not part of it.
impl Serialize for ReconnectPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let millis = |d: &Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match &self.schedule {
            Schedule::Cubic => s.serialize_str("servicestack"),
            Schedule::Never => s.serialize_str("never"),
            Schedule::Fixed(delay) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("delayMs", &millis(delay))?;
                map.end()
            }
            Schedule::Exponential { initial } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("initialMs", &millis(initial))?;
                map.serialize_entry("maxMs", &millis(&self.max_delay))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ReconnectPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PolicyVisitor)
    }
}

struct PolicyVisitor;

impl<'de> Visitor<'de> for PolicyVisitor {
    type Value = ReconnectPolicy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(RECONNECT_FORMS)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<ReconnectPolicy, E> {
        ReconnectPolicy::from_name(name)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(name), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReconnectPolicy, A::Error> {
        let (mut delay, mut initial, mut max) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "delayMs" => &mut delay,
                "initialMs" => &mut initial,
                "maxMs" => &mut max,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value::<u64>()?);
        }
        ReconnectPolicy::from_millis(delay, initial, max)
            .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Map, &self))
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

    #[test]
    fn serialized_forms_round_trip() {
        for (text, policy) in [
            (r#""servicestack""#, ReconnectPolicy::servicestack()),
            (r#""never""#, ReconnectPolicy::never()),
            (
                r#"{"delayMs":250}"#,
                ReconnectPolicy::fixed(Duration::from_millis(250)),
            ),
            (
                r#"{"initialMs":100,"maxMs":2000}"#,
                ReconnectPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2)),
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<ReconnectPolicy>(text).unwrap(),
                policy
            );
            assert_eq!(serde_json::to_string(&policy).unwrap(), text);
        }
        let no_max: ReconnectPolicy = serde_json::from_str(r#"{"initialMs":100}"#).unwrap();
        assert_eq!(no_max.max_delay, Duration::from_secs(60));
        for bad in [
            r#""sometimes""#,
            r#"{}"#,
            r#"{"delayMs":1,"initialMs":2}"#,
            "5",
        ] {
            let error = serde_json::from_str::<ReconnectPolicy>(bad).unwrap_err();
            assert!(error.to_string().contains("delayMs"), "{bad}: {error}");
        }
    }
}
