//! Small helpers: poison-tolerant locks, random ids, clocks.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks a mutex, ignoring poisoning (a panicking holder never leaves our data inconsistent in
/// a way that matters more than staying up).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read-locks an `RwLock`, ignoring poisoning.
pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

/// Write-locks an `RwLock`, ignoring poisoning.
pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters of `[A-Za-z0-9]` from the OS's cryptographic random source.
///
/// ServiceStack base64-encodes 15 random bytes and retries until no `+` or `/` remains, which
/// gives the same alphabet; rejection sampling here keeps the distribution uniform.
pub(crate) fn random_id(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if getrandom::fill(&mut buf).is_err() {
            // Extremely unlikely; fall back to a time-seeded mix rather than panicking.
            let seed = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
            }
        }
        for &b in &buf {
            // 248 = 4 * 62: reject the tail to avoid modulo bias.
            if b < 248 && out.len() < len {
                out.push(ALPHANUMERIC[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Serialises string pairs as a flat JSON object of strings, in the given order, like
/// ServiceStack's `EventSubscription.SerializeDictionary`.
pub(crate) fn string_map_json<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(k));
        out.push(':');
        out.push_str(&json_string(v));
    }
    out.push('}');
    out
}

/// A JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The short name of a Rust type: `my_crate::dto::CustomType` -> `CustomType`,
/// `Vec<my::Item>` -> `Vec`.
pub(crate) fn short_type_name(full: &str) -> &str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::")
        .next()
        .unwrap_or(base)
        .trim_start_matches('&')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_alphanumeric() {
        for _ in 0..100 {
            let id = random_id(20);
            assert_eq!(id.len(), 20);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_ne!(random_id(20), random_id(20));
    }

    #[test]
    fn type_names() {
        assert_eq!(short_type_name("a::b::CustomType"), "CustomType");
        assert_eq!(short_type_name("alloc::vec::Vec<a::B>"), "Vec");
        assert_eq!(short_type_name("&str"), "str");
    }

    #[test]
    fn string_maps() {
        assert_eq!(
            string_map_json([("a", "1"), ("b\"", "x\ny")]),
            r#"{"a":"1","b\"":"x\ny"}"#
        );
    }
}
