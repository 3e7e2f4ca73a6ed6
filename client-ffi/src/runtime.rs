//! The process-wide tokio runtime every client runs on.
//!
//! Kotlin and Swift poll the futures of async calls on their own threads, outside any tokio
//! context, while reqwest needs a tokio reactor. So every client is built inside this runtime
//! (the core then spawns its connection task here) and every call that does I/O is spawned here
//! and awaited through its `JoinHandle`, which works from any executor.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::error::ServerEventsError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The shared runtime, built on first use (two worker threads: plenty for a phone, and the
/// connection tasks are mostly idle).
pub(crate) fn runtime() -> Result<&'static Runtime, ServerEventsError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("server-events")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the tokio runtime: {e}"))
        })
        .as_ref()
        .map_err(|detail| ServerEventsError::Internal {
            detail: detail.clone(),
        })
}

/// Runs `future` on the shared runtime and waits for it from whatever executor polls the result.
///
/// If the caller stops waiting (a cancelled Kotlin coroutine drops the future), the work still
/// runs to its end on the runtime; only its result is discarded.
pub(crate) async fn on_runtime<F, T>(future: F) -> Result<T, ServerEventsError>
where
    F: Future<Output = Result<T, ServerEventsError>> + Send + 'static,
    T: Send + 'static,
{
    let handle = runtime()?.spawn(future);
    match handle.await {
        Ok(result) => result,
        Err(error) if error.is_panic() => Err(ServerEventsError::Internal {
            detail: format!("the call panicked: {}", panic_text(error.into_panic())),
        }),
        Err(_) => Err(ServerEventsError::Stopped),
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    // Polls on the test's own thread with no tokio context, as Kotlin's and Swift's pollers do.
    use futures_executor::block_on;

    use super::*;

    #[test]
    fn work_runs_on_the_runtime_from_a_foreign_executor() {
        let in_runtime = block_on(on_runtime(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Ok(tokio::runtime::Handle::try_current().is_ok())
        }));
        assert_eq!(in_runtime, Ok(true));
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let result: Result<(), _> = block_on(on_runtime(async { panic!("bad") }));
        assert_eq!(
            result,
            Err(ServerEventsError::Internal {
                detail: "the call panicked: bad".into()
            })
        );
    }
}
