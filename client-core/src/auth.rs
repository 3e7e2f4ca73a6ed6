//! Credentials: static tokens and headers, and an async provider asked before every request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::rt::{MaybeSend, MaybeSync};

/// A secret string (a token, a password, a header value). Its `Debug` and `Display` never show
/// the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// What to attach to a request: a bearer token, headers and query parameters (for example
/// ServiceStack's `ss-tok`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as `Authorization: Bearer …`.
    pub bearer_token: Option<Secret>,
    /// Extra headers.
    pub headers: Vec<(String, Secret)>,
    /// Extra query parameters.
    pub query: Vec<(String, Secret)>,
}

impl Credentials {
    /// Credentials carrying only a bearer token.
    pub fn bearer(token: impl Into<Secret>) -> Self {
        Credentials {
            bearer_token: Some(token.into()),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter.
    pub fn with_query(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// These credentials followed by `other`'s (a bearer token in `other` wins).
    pub(crate) fn merged(&self, other: &Credentials) -> Credentials {
        Credentials {
            bearer_token: other
                .bearer_token
                .clone()
                .or_else(|| self.bearer_token.clone()),
            headers: [self.headers.as_slice(), &other.headers].concat(),
            query: [self.query.as_slice(), &other.query].concat(),
        }
    }
}

/// A boxed future that is `Send` on native targets.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future that is `Send` on native targets.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Supplies credentials before every stream connect, heartbeat, unregister, update and service
/// call.
///
/// `refresh` is `false` normally. When the server answers 401 or 403, the client asks once more
/// with `refresh = true` and retries the request once; if that is refused too, the client reports
/// [`Error::Unauthorized`](crate::Error::Unauthorized) and (for the stream) stops instead of
/// looping.
pub trait CredentialsProvider: MaybeSend + MaybeSync + 'static {
    /// The credentials to use now; an `Err` is reported as
    /// [`Error::Credentials`](crate::Error::Credentials).
    fn credentials(&self, refresh: bool) -> BoxFuture<'_, Result<Credentials, String>>;
}

/// Adapts an async closure into a [`CredentialsProvider`].
pub(crate) struct ProviderFn<F>(pub(crate) F);

impl<F, Fut> CredentialsProvider for ProviderFn<F>
where
    F: Fn(bool) -> Fut + MaybeSend + MaybeSync + 'static,
    Fut: Future<Output = Result<Credentials, String>> + MaybeSend + 'static,
{
    fn credentials(&self, refresh: bool) -> BoxFuture<'_, Result<Credentials, String>> {
        Box::pin((self.0)(refresh))
    }
}

/// The provider as stored by the client.
pub(crate) type SharedProvider = Arc<dyn CredentialsProvider>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::bearer("tok-123").with_header("X-Key", "k-456");
        let shown = format!("{creds:?} {}", Secret::new("s"));
        assert!(
            !shown.contains("tok-123") && !shown.contains("k-456") && !shown.contains(" s"),
            "{shown}"
        );
    }

    #[test]
    fn merge_prefers_the_later_bearer() {
        let a = Credentials::bearer("a").with_query("q", "1");
        let b = Credentials::bearer("b").with_header("h", "2");
        let merged = a.merged(&b);
        assert_eq!(merged.bearer_token.unwrap().expose(), "b");
        assert_eq!(merged.headers.len() + merged.query.len(), 2);
        assert_eq!(
            Credentials::bearer("a")
                .merged(&Credentials::default())
                .bearer_token
                .unwrap()
                .expose(),
            "a"
        );
    }
}
