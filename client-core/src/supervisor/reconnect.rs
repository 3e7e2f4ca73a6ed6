//! What to do after a connection failed: wait and reconnect, or close.

use std::time::Duration;

use crate::backoff::ReconnectPolicy;
use crate::error::Error;
use crate::state::CloseReason;

/// Everything the reconnect decision depends on.
#[derive(Debug)]
pub(crate) struct Failure<'a> {
    pub(crate) error: &'a Error,
    /// Consecutive failures before this one.
    pub(crate) failures: u32,
    /// How long the connection that just ended was open (`None` if it never opened).
    pub(crate) healthy_for: Option<Duration>,
    /// Whether this was the first connect of a client started by `connect()`, which reports a
    /// failure to its caller instead of retrying.
    pub(crate) first_connect: bool,
    /// The stream's last `retry:` field.
    pub(crate) retry_field: Option<Duration>,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Reconnect after `delay`; `failures` is the new consecutive-failure count.
    Wait { delay: Duration, failures: u32 },
    /// Stop reconnecting.
    Close(CloseReason),
}

/// The reconnect decision. Only the policy's jitter makes it vary between calls.
pub(crate) fn decide(policy: &ReconnectPolicy, failure: Failure<'_>) -> Decision {
    let error = failure.error;
    if error.is_unauthorized() {
        return Decision::Close(CloseReason::Unauthorized(error.clone()));
    }
    if failure.first_connect {
        return Decision::Close(CloseReason::ConnectFailed(error.clone()));
    }
    // A connection that stayed up long enough proves the server works: start the count afresh.
    let healthy = failure
        .healthy_for
        .is_some_and(|open| open >= policy.healthy_after);
    let failures = if healthy { 1 } else { failure.failures + 1 };
    if let Error::SubscriptionGone { .. } = error {
        // The server forgot the subscription: a new one is needed now, whatever `retry:` said.
        return Decision::Wait {
            delay: Duration::ZERO,
            failures,
        };
    }
    let Some(delay) = policy.delay_for(failures) else {
        return Decision::Close(CloseReason::GaveUp(error.clone()));
    };
    // The stream's `retry:` field and a `Retry-After` header (from a proxy or a busy server)
    // lengthen the wait up to the policy's cap; neither shortens it.
    let cap = policy.max_delay;
    let retry_field = failure.retry_field.unwrap_or_default().min(cap);
    let retry_after = error.retry_after().unwrap_or_default().min(cap);
    Decision::Wait {
        delay: delay.max(retry_field).max(retry_after),
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn network() -> Error {
        Error::Network {
            url: "http://h".into(),
            message: "refused".into(),
        }
    }

    fn http(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Http {
            status,
            url: "http://h".into(),
            body: String::new(),
            retry_after,
        }
    }

    fn gone() -> Error {
        Error::SubscriptionGone {
            subscription_id: "s".into(),
        }
    }

    fn unauthorized() -> Error {
        Error::Unauthorized {
            status: 401,
            url: "http://h".into(),
        }
    }

    fn wait(secs: u64, failures: u32) -> Decision {
        Decision::Wait {
            delay: S(secs),
            failures,
        }
    }

    #[test]
    fn the_decision_table() {
        let fixed = ReconnectPolicy::fixed(S(5));
        let mut capped = ReconnectPolicy::fixed(S(5));
        capped.max_delay = S(60);
        let cubic = ReconnectPolicy::default();
        let never = ReconnectPolicy::never();
        type Row<'a> = (
            &'a str,
            &'a ReconnectPolicy,
            Error,
            u32,
            Option<Duration>,
            bool,
            Option<Duration>,
            Decision,
        );
        #[rustfmt::skip]
        let table: Vec<Row<'_>> = vec![
            // name, policy, error, failures before, healthy for, first connect, retry:, expected
            ("first failure, cubic: at once", &cubic, network(), 0, None, false, None, wait(0, 1)),
            ("fixed policy", &fixed, network(), 3, None, false, None, wait(5, 4)),
            ("cubic at the cap", &cubic, network(), 60, None, false, None, wait(60, 61)),
            ("a healthy connection resets the count", &cubic, network(), 60, Some(S(5)), false, None, wait(0, 1)),
            ("a short connection keeps the count", &cubic, network(), 60, Some(S(4)), false, None, wait(60, 61)),
            ("retry: lengthens the wait", &capped, network(), 0, None, false, Some(S(30)), wait(30, 1)),
            ("retry: is capped", &capped, network(), 0, None, false, Some(S(3600)), wait(60, 1)),
            ("retry: never shortens", &capped, network(), 0, None, false, Some(S(1)), wait(5, 1)),
            ("Retry-After lengthens the wait", &capped, http(503, Some(S(20))), 0, None, false, None, wait(20, 1)),
            ("Retry-After is capped", &capped, http(503, Some(S(3600))), 0, None, false, None, wait(60, 1)),
            ("a heartbeat 404 reconnects at once despite retry:", &capped, gone(), 2, None, false, Some(S(30)), wait(0, 3)),
            ("a heartbeat 404 reconnects even under never()", &never, gone(), 0, None, false, None, wait(0, 1)),
            ("never() gives up", &never, network(), 0, None, false, None, Decision::Close(CloseReason::GaveUp(network()))),
            ("a failed first connect() closes", &cubic, network(), 0, None, true, None, Decision::Close(CloseReason::ConnectFailed(network()))),
            ("refused credentials close", &cubic, unauthorized(), 0, None, false, None, Decision::Close(CloseReason::Unauthorized(unauthorized()))),
            ("refused credentials close a first connect as unauthorized", &cubic, unauthorized(), 0, None, true, None, Decision::Close(CloseReason::Unauthorized(unauthorized()))),
        ];
        for (name, policy, error, failures, healthy_for, first_connect, retry_field, expected) in
            table
        {
            let decision = decide(
                policy,
                Failure {
                    error: &error,
                    failures,
                    healthy_for,
                    first_connect,
                    retry_field,
                },
            );
            assert_eq!(decision, expected, "{name}");
        }
    }
}
