//! Waiting on state that does not signal its changes (the server's registry), with a deadline.

use std::time::{Duration, Instant};

/// Polls `condition` every 20 ms until it holds; `Err` names `what` when `timeout` passes first.
pub async fn until(
    timeout: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out after {} ms waiting until {what}",
                timeout.as_millis()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
