//! The redis-server the reference server's cluster tests start (on a free loopback port, one
//! per test): Debian's `redis-server` package, installed like Chromium.

use std::path::PathBuf;

use crate::util::{Result, ensure_apt, has, output, strict};

/// Installs `redis-server` when missing. Under CI a failed install is an error; elsewhere the
/// cluster tests skip themselves.
pub fn setup() -> Result {
    if has("redis-server") {
        return Ok(());
    }
    match ensure_apt(&["redis-server"]) {
        Ok(()) if has("redis-server") => Ok(()),
        Ok(()) if strict() => Err("redis-server is still missing after installing it".into()),
        Err(error) if strict() => Err(format!("cannot install redis-server: {error}")),
        Ok(()) | Err(_) => {
            eprintln!(
                "warning: redis-server is not installed; the Redis cluster tests will be skipped"
            );
            Ok(())
        }
    }
}

/// The absolute path of redis-server, passed to the tests as `REDIS_SERVER`.
pub fn server_path() -> Option<PathBuf> {
    output("sh", &["-c", "command -v redis-server"])
        .ok()
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| !p.as_os_str().is_empty())
}
