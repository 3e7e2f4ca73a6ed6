//! The native client's cookie jar: RFC 6265 storage by the `cookie_store` crate (the one
//! reqwest's own jar uses), filled without going through its logging path, which writes whole
//! `Set-Cookie` headers, session ids included, to the `log` facade at DEBUG.

use std::sync::{Mutex, MutexGuard};

use reqwest::header::HeaderValue;

/// A cookie jar that never logs cookie values.
#[derive(Default)]
pub(crate) struct QuietCookieJar {
    store: Mutex<cookie_store::CookieStore>,
}

impl QuietCookieJar {
    fn store(&self) -> MutexGuard<'_, cookie_store::CookieStore> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl reqwest::cookie::CookieStore for QuietCookieJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url) {
        let mut store = self.store();
        for header in headers {
            let Ok(text) = header.to_str() else { continue };
            if let Ok(cookie) = cookie::Cookie::parse(text.to_owned()) {
                // A cookie the store refuses (wrong domain, expired) is simply not kept.
                let _ = store.insert_raw(&cookie, url);
            }
        }
    }

    fn cookies(&self, url: &url::Url) -> Option<HeaderValue> {
        let pairs: Vec<String> = self
            .store()
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        HeaderValue::from_str(&pairs.join("; ")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::cookie::CookieStore;

    #[test]
    fn cookies_go_back_to_their_host_only() {
        let jar = QuietCookieJar::default();
        let url = url::Url::parse("http://127.0.0.1:5000/auth").unwrap();
        let set = HeaderValue::from_static("ss-id=abc; Path=/; HttpOnly");
        jar.set_cookies(&mut std::iter::once(&set), &url);
        let back = url::Url::parse("http://127.0.0.1:5000/event-stream").unwrap();
        assert_eq!(jar.cookies(&back).unwrap(), "ss-id=abc");
        let other = url::Url::parse("http://127.0.0.2:5000/event-stream").unwrap();
        assert_eq!(jar.cookies(&other), None);
    }
}
