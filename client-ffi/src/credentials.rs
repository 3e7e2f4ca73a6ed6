//! Credentials supplied by Kotlin or Swift code (a `suspend`/`async` function), asked before
//! every request, for apps whose tokens expire.

use std::collections::HashMap;
use std::sync::Arc;

use servicestack_events as core;

use crate::error::ServerEventsError;

/// What to attach to a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct Credentials {
    /// Sent as `Authorization: Bearer …`.
    #[uniffi(default = None)]
    pub bearer_token: Option<String>,
    /// Extra headers.
    #[uniffi(default)]
    pub headers: HashMap<String, String>,
    /// Extra query parameters (for example ServiceStack's `ss-tok`).
    #[uniffi(default)]
    pub query: HashMap<String, String>,
}

impl From<Credentials> for core::Credentials {
    fn from(credentials: Credentials) -> Self {
        let mut headers: Vec<(String, String)> = credentials.headers.into_iter().collect();
        headers.sort();
        let mut query: Vec<(String, String)> = credentials.query.into_iter().collect();
        query.sort();
        core::Credentials {
            bearer_token: credentials.bearer_token.map(Into::into),
            headers: headers.into_iter().map(|(k, v)| (k, v.into())).collect(),
            query: query.into_iter().map(|(k, v)| (k, v.into())).collect(),
        }
    }
}

/// Supplies credentials before every stream connect, heartbeat, unregister, subscription change
/// and service call.
///
/// `refresh` is `false` normally. When the server answers 401 or 403, the client asks once more
/// with `refresh = true` and retries once; if that is refused too, the client reports
/// `Unauthorized` and (for the stream) stops instead of looping. What the provider throws is
/// reported as `CredentialsFailed`.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait CredentialsProvider: Send + Sync {
    /// The credentials to use now.
    async fn credentials(&self, refresh: bool) -> Result<Credentials, ServerEventsError>;
}

/// Adapts a foreign provider to the core's trait.
pub(crate) struct ForeignCredentials(pub(crate) Arc<dyn CredentialsProvider>);

impl core::CredentialsProvider for ForeignCredentials {
    fn credentials(&self, refresh: bool) -> core::BoxFuture<'_, Result<core::Credentials, String>> {
        Box::pin(async move {
            self.0
                .credentials(refresh)
                .await
                .map(Into::into)
                .map_err(|error| error.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_convert_in_a_stable_order() {
        let credentials = Credentials {
            bearer_token: Some("t".into()),
            headers: [
                ("B".to_owned(), "2".to_owned()),
                ("A".to_owned(), "1".to_owned()),
            ]
            .into(),
            query: [("ss-tok".to_owned(), "x".to_owned())].into(),
        };
        let core: core::Credentials = credentials.into();
        assert_eq!(core.bearer_token.unwrap().expose(), "t");
        let names: Vec<&str> = core.headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(core.query[0].1.expose(), "x");
    }
}
