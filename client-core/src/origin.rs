//! Credentials stay with their origin: which URLs may receive the client's credentials, what a
//! server-given URL on another origin becomes, and how redirects to another origin are handled.
//!
//! The configured origin is the base URL's (`scheme://host:port`); the user may allow more
//! (`allowed_origins`). A URL the server hands out (`heartbeatUrl`, `unRegisterUrl`,
//! `updateSubscriberUrl`) on any other origin is moved onto the configured origin with the same
//! path and query, which also repairs servers that report their internal address behind a
//! proxy. Requests to a URL outside the allowed origins never carry credentials, and a redirect
//! to another origin is followed without them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(target_arch = "wasm32"))]
use url::Url;

use crate::error::Error;
use crate::message::ServerEventConnect;
use crate::platform_url::PlatformUrl;
use crate::redact::redact_url;

/// How many redirects one request follows, in all.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const MAX_REDIRECTS: usize = 10;

/// The origins that may receive credentials.
#[derive(Debug, Clone)]
pub(crate) struct OriginPolicy {
    base: PlatformUrl,
    /// The allowed origins, serialized (`scheme://host[:port]`).
    allowed: Vec<String>,
    /// A foreign URL was reported already: the operator needs to see it once, not on every
    /// reconnect.
    reported: Arc<AtomicBool>,
}

/// What to use for a server-given URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The URL to use, or `None` when it could not be used at all.
    pub(crate) url: Option<String>,
    /// What to report through `on_exception`, once.
    pub(crate) report: Option<Error>,
}

impl OriginPolicy {
    /// `base_url` is the normalized base URL; `allowed` are the extra origins the user allows.
    pub(crate) fn new(base_url: &str, allowed: &[String]) -> Result<Self, Error> {
        let base = PlatformUrl::parse(base_url).map_err(|reason| Error::InvalidUrl {
            url: redact_url(base_url),
            reason,
        })?;
        let mut origins = vec![base.origin()];
        for entry in allowed {
            let parsed = PlatformUrl::parse(entry.trim())
                .ok()
                .filter(PlatformUrl::is_http);
            match parsed {
                Some(url) => origins.push(url.origin()),
                None => {
                    return Err(Error::InvalidArgument {
                        reason: format!(
                            "allowed origin '{}' is not an http(s) origin",
                            redact_url(entry)
                        ),
                    });
                }
            }
        }
        Ok(OriginPolicy {
            base,
            allowed: origins,
            reported: Arc::default(),
        })
    }

    /// The configured origin, e.g. `http://127.0.0.1:5000`.
    pub(crate) fn origin(&self) -> String {
        self.base.origin()
    }

    /// Whether requests to `url` may carry credentials.
    pub(crate) fn allows(&self, url: &str) -> bool {
        PlatformUrl::parse(url).is_ok_and(|url| self.allows_url(&url))
    }

    fn allows_url(&self, url: &PlatformUrl) -> bool {
        // Only http(s) origins are comparable: every other URL's origin serializes as "null".
        url.is_http() && self.allowed.contains(&url.origin())
    }

    /// The URL to use for the server-given `field` (e.g. `heartbeatUrl`).
    pub(crate) fn resolve(&self, field: &str, given: &str) -> Resolved {
        let parsed = match self.base.join(given) {
            Ok(url) if url.is_http() => url,
            Ok(_) | Err(_) => {
                return Resolved {
                    url: None,
                    report: Some(Error::InvalidUrl {
                        url: redact_url(given),
                        reason: format!("the server's {field} is not an http(s) URL; not used"),
                    }),
                };
            }
        };
        if self.allows_url(&parsed) {
            return Resolved {
                url: Some(parsed.as_str().to_owned()),
                report: None,
            };
        }
        // The configured origin with the given path and query: the base URL's user-info is the
        // user's own to send, never part of a URL handed around, and the fragment goes.
        let mut rebased = self.origin();
        rebased.push_str(parsed.path());
        if let Some(query) = parsed.query() {
            rebased.push('?');
            rebased.push_str(query);
        }
        Resolved {
            report: Some(Error::ForeignUrl {
                field: field.to_owned(),
                url: redact_url(given),
                origin: self.origin(),
                used_url: redact_url(&rebased),
            }),
            url: Some(rebased),
        }
    }
}

impl OriginPolicy {
    /// `info` with its server-given URLs resolved by [`resolve`](Self::resolve); the first
    /// problem goes to `report`, once per client.
    pub(crate) fn checked_connect(
        &self,
        info: &ServerEventConnect,
        report: impl FnOnce(&Error),
    ) -> ServerEventConnect {
        let mut checked = info.clone();
        let mut first_problem = None;
        for (field, url) in [
            ("heartbeatUrl", &mut checked.heartbeat_url),
            ("unRegisterUrl", &mut checked.unregister_url),
            ("updateSubscriberUrl", &mut checked.update_subscriber_url),
        ] {
            if let Some(given) = url.take() {
                let resolved = self.resolve(field, &given);
                *url = resolved.url;
                first_problem = first_problem.or(resolved.report);
            }
        }
        if let Some(problem) = first_problem
            && !self.reported.swap(true, Ordering::Relaxed)
        {
            report(&problem);
        }
        checked
    }
}

/// Whether two URLs share an origin.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Where a redirect response points, when it is one.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn redirect_target(from: &Url, status: u16, location: Option<&str>) -> Option<Url> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    from.join(location?.trim()).ok()
}

/// `url` without the query parameters named in `names` (query credentials a redirect's
/// `Location` may echo back).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn without_query_keys(url: &Url, names: &[&str]) -> Url {
    if names.is_empty() || url.query().is_none() {
        return url.clone();
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !names.contains(&name.as_ref()))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut stripped = url.clone();
    if kept.is_empty() {
        stripped.set_query(None);
    } else {
        stripped.query_pairs_mut().clear().extend_pairs(kept);
    }
    stripped
}

/// reqwest's redirect policy: same-origin redirects are followed (up to [`MAX_REDIRECTS`]); a
/// redirect to another origin stops, so the transport can follow it without credentials
/// (reqwest would keep custom headers on it).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        match attempt.previous().last() {
            Some(previous) if !same_origin(previous, attempt.url()) => attempt.stop(),
            _ => attempt.follow(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> OriginPolicy {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        OriginPolicy::new("http://127.0.0.1:5000/app", &allowed).unwrap()
    }

    #[test]
    fn same_origin_urls_are_used_as_given() {
        let resolved = policy(&[]).resolve("heartbeatUrl", "http://127.0.0.1:5000/hb?id=1");
        assert_eq!(
            resolved.url.as_deref(),
            Some("http://127.0.0.1:5000/hb?id=1")
        );
        assert_eq!(resolved.report, None);
    }

    #[test]
    fn foreign_urls_are_rebased_and_reported() {
        let resolved = policy(&[]).resolve("heartbeatUrl", "http://127.0.0.2:5000/hb?id=1#x");
        assert_eq!(
            resolved.url.as_deref(),
            Some("http://127.0.0.1:5000/hb?id=1")
        );
        let Some(Error::ForeignUrl {
            field,
            url,
            origin,
            used_url,
        }) = resolved.report
        else {
            panic!("{:?}", resolved.report)
        };
        assert_eq!(field, "heartbeatUrl");
        assert_eq!(url, "http://127.0.0.2:5000/hb?id=1#x");
        assert_eq!(origin, "http://127.0.0.1:5000");
        assert_eq!(used_url, "http://127.0.0.1:5000/hb?id=1");
        // Another port or scheme is another origin too.
        for other in ["http://127.0.0.1:5001/hb", "https://127.0.0.1:5000/hb"] {
            assert!(policy(&[]).resolve("f", other).report.is_some(), "{other}");
        }
    }

    #[test]
    fn allowed_origins_keep_their_urls() {
        let policy = policy(&["http://127.0.0.2:5000"]);
        let resolved = policy.resolve("unRegisterUrl", "http://127.0.0.2:5000/u?id=1");
        assert_eq!(
            resolved.url.as_deref(),
            Some("http://127.0.0.2:5000/u?id=1")
        );
        assert_eq!(resolved.report, None);
        assert!(policy.allows("http://127.0.0.2:5000/x"));
        assert!(!policy.allows("http://127.0.0.3:5000/x"));
        assert!(!policy.allows("not a url"));
    }

    #[test]
    fn relative_and_unusable_urls() {
        let resolved = policy(&[]).resolve("heartbeatUrl", "/hb?id=2");
        assert_eq!(
            resolved.url.as_deref(),
            Some("http://127.0.0.1:5000/hb?id=2")
        );
        let unusable = policy(&[]).resolve("heartbeatUrl", "javascript:alert(1)");
        assert_eq!(unusable.url, None);
        assert!(matches!(unusable.report, Some(Error::InvalidUrl { .. })));
    }

    #[test]
    fn connect_urls_are_checked_and_reported_once() {
        let policy = policy(&[]);
        let frame = r#"cmd.onConnect {"id":"s1","heartbeatUrl":"http://127.0.0.2:5000/hb?id=1","unRegisterUrl":"http://127.0.0.1:5000/un?id=1"}"#;
        let message = crate::message::ServerEventMessage::parse(1, frame.to_owned()).unwrap();
        let info = ServerEventConnect::from_message(message).unwrap();
        let mut reports = Vec::new();
        let checked = policy.checked_connect(&info, |e| reports.push(e.kind()));
        assert_eq!(
            checked.heartbeat_url.as_deref(),
            Some("http://127.0.0.1:5000/hb?id=1")
        );
        assert_eq!(checked.unregister_url, info.unregister_url);
        let again = policy.checked_connect(&info, |e| reports.push(e.kind()));
        assert_eq!(again, checked);
        assert_eq!(reports, vec!["foreignUrl"], "reported once per client");
    }

    #[test]
    fn bad_allowed_origins_are_refused() {
        for bad in ["127.0.0.2", "ftp://h", ""] {
            assert!(
                OriginPolicy::new("http://h", &[bad.to_owned()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn query_credentials_are_stripped() {
        let url = Url::parse("http://b/s?channels=A&ss-tok=T&x=1").unwrap();
        assert_eq!(
            without_query_keys(&url, &["ss-tok"]).as_str(),
            "http://b/s?channels=A&x=1"
        );
        let only = Url::parse("http://b/s?ss-tok=T").unwrap();
        assert_eq!(
            without_query_keys(&only, &["ss-tok"]).as_str(),
            "http://b/s"
        );
    }

    #[test]
    fn redirect_targets() {
        let from = Url::parse("http://a/x").unwrap();
        assert_eq!(
            redirect_target(&from, 302, Some("http://b/y")).map(String::from),
            Some("http://b/y".to_owned())
        );
        assert_eq!(
            redirect_target(&from, 307, Some("/z")).map(String::from),
            Some("http://a/z".to_owned())
        );
        assert_eq!(redirect_target(&from, 200, Some("/z")), None);
        assert_eq!(redirect_target(&from, 302, None), None);
    }
}
