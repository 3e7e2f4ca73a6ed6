//! Every request the client makes (the stream open, heartbeats, unregister, subscription updates,
//! subscriber lists and service calls) goes through [`AuthorizedHttp`], above the transport seam:
//! it decides which credentials a URL gets and, when the server refuses them (401/403), asks the
//! credentials provider once for fresh ones and retries once. Living here rather than in each
//! transport, the rule is the same on every target, and the transports only do I/O.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{BoxFuture, Credentials, SharedProvider};
use crate::error::{Error, redact_url};
use crate::http_client::{EventBytes, HttpClient};
use crate::origin::OriginPolicy;
use crate::transport::{Body, Method};

/// The transport with the client's credentials and their refresh rule.
pub(crate) struct AuthorizedHttp {
    transport: Arc<dyn HttpClient>,
    /// The bearer token and headers from the options (and the base URL's user-info).
    static_credentials: Credentials,
    /// Asked before every request to an allowed origin, with `refresh = true` after a refusal.
    provider: Option<SharedProvider>,
    /// The origins that may receive credentials.
    origins: OriginPolicy,
}

impl AuthorizedHttp {
    pub(crate) fn new(
        transport: Arc<dyn HttpClient>,
        static_credentials: Credentials,
        provider: Option<SharedProvider>,
        origins: OriginPolicy,
    ) -> Self {
        AuthorizedHttp {
            transport,
            static_credentials,
            provider,
            origins,
        }
    }

    /// Opens the event stream at `url`; resolves once the response headers arrived.
    pub(crate) async fn open_stream(&self, url: &str) -> Result<EventBytes, Error> {
        self.with_one_refresh(url, |credentials| {
            self.transport.open_stream(url, credentials)
        })
        .await
    }

    /// Sends a request and reads the whole response body as text.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Body,
    ) -> Result<String, Error> {
        self.with_one_refresh(url, |credentials| {
            self.transport.call(method, url, body.clone(), credentials)
        })
        .await
    }

    /// How long the stream may take to deliver `cmd.onConnect` once opened.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.transport.connect_timeout()
    }

    /// Sends with the current credentials; when they are refused and a provider can refresh
    /// them, sends once more with refreshed ones. A second refusal is final (no loop): the
    /// caller gets [`Error::Unauthorized`]. A provider that fails is reported as
    /// [`Error::Credentials`].
    async fn with_one_refresh<'a, T>(
        &'a self,
        url: &'a str,
        send: impl Fn(Credentials) -> BoxFuture<'a, Result<T, Error>>,
    ) -> Result<T, Error> {
        // Another origin gets no credentials, so there is nothing to refresh either. One loop
        // with one send (rather than a send per case) keeps one copy of the request's state
        // machine per response type.
        let allowed = self.origins.allows(url);
        let mut refresh = false;
        loop {
            let credentials = if allowed {
                self.credentials(refresh).await?
            } else {
                Credentials::default()
            };
            match send(credentials).await {
                Err(Error::Unauthorized { status, .. })
                    if allowed && !refresh && self.provider.is_some() =>
                {
                    tracing::debug!(url = %redact_url(url), status, "refreshing credentials");
                    refresh = true;
                }
                result => return result,
            }
        }
    }

    /// The static credentials followed by the provider's (asked with `refresh`).
    async fn credentials(&self, refresh: bool) -> Result<Credentials, Error> {
        match &self.provider {
            None => Ok(self.static_credentials.clone()),
            Some(provider) => {
                let provided = provider
                    .credentials(refresh)
                    .await
                    .map_err(Error::Credentials)?;
                Ok(self.static_credentials.merged(&provided))
            }
        }
    }
}
