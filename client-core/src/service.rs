//! Calls to the host's services (ServiceStack DTOs as JSON), sharing the event client's cookies
//! and credentials, so authenticating here authenticates the stream too.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Secret;
use crate::client::Shared;
use crate::error::Error;
use crate::flat_json::ObjectWriter;
use crate::json;
use crate::transport::{Body, Method};

/// A JSON service client for the same host as its [`ServerEventsClient`](crate::ServerEventsClient).
///
/// A `path` starting with `/` is appended to the base URL, an absolute URL is used as it is, and a
/// bare name is a ServiceStack DTO reached at `/api/{name}`.
///
/// ```no_run
/// # async fn demo(client: servicestack_events::ServerEventsClient) -> Result<(), servicestack_events::Error> {
/// #[derive(serde::Serialize)]
/// #[serde(rename_all = "camelCase")]
/// struct PostChatToChannel<'a> { from: &'a str, channel: &'a str, message: &'a str, selector: &'a str }
///
/// let from = client.subscription_id().unwrap_or_default();
/// let reply: serde_json::Value = client
///     .service_client()
///     .post("PostChatToChannel", &PostChatToChannel { from: &from, channel: "home", message: "hi", selector: "cmd.chat" })
///     .await?;
/// # let _ = reply; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServiceClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field(
                "base_url",
                &crate::error::redact_url(&self.shared.config.base_url),
            )
            .finish()
    }
}

impl ServiceClient {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        ServiceClient { shared }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with('/') || path.starts_with("http://") || path.starts_with("https://") {
            self.shared.url_for(path)
        } else {
            self.shared.url_for(&format!("/api/{path}"))
        }
    }

    /// POSTs `request` as JSON and reads the JSON response into `T` (case-insensitively; an
    /// empty response reads as `null`, so use `()` or `Option` for void services).
    pub async fn post<Req, T>(&self, path: &str, request: &Req) -> Result<T, Error>
    where
        Req: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = serde_json::to_string(request).map_err(|e| Error::InvalidArgument {
            reason: format!("the request cannot be serialized: {e}"),
        })?;
        let text = self
            .shared
            .transport
            .call(Method::Post, &self.url(path), Body::Json(body))
            .await?;
        json::from_str_case_insensitive(&text)
    }

    /// GETs `path` and reads the JSON response into `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let text = self
            .shared
            .transport
            .call(Method::Get, &self.url(path), Body::Empty)
            .await?;
        json::from_str_case_insensitive(&text)
    }

    /// POSTs `json` (a JSON document the caller serialized) and returns the response body as
    /// text, for callers with JSON of their own (the browser package hands it to `JSON.parse`).
    pub async fn post_json_text(&self, path: &str, json: String) -> Result<String, Error> {
        self.shared
            .transport
            .call(Method::Post, &self.url(path), Body::Json(json))
            .await
    }

    /// GETs `path` and returns the response body as text (see
    /// [`post_json_text`](Self::post_json_text)).
    pub async fn get_text(&self, path: &str) -> Result<String, Error> {
        self.shared
            .transport
            .call(Method::Get, &self.url(path), Body::Empty)
            .await
    }

    /// Signs in with ServiceStack's credentials provider; returns the `AuthenticateResponse`.
    pub async fn authenticate(
        &self,
        user_name: &str,
        password: impl Into<Secret>,
    ) -> Result<BTreeMap<String, serde_json::Value>, Error> {
        let text = self.authenticate_text(user_name, password).await?;
        json::from_str_case_insensitive(&text)
    }

    /// Signs in like [`authenticate`](Self::authenticate); returns the `AuthenticateResponse`
    /// as JSON text.
    pub async fn authenticate_text(
        &self,
        user_name: &str,
        password: impl Into<Secret>,
    ) -> Result<String, Error> {
        let password = password.into();
        let body = ObjectWriter::default()
            .string("provider", "credentials")
            .string("userName", user_name)
            .string("password", password.expose())
            .finish();
        self.post_json_text("/auth/credentials", body).await
    }
}
