//! The URL seam: the little the client asks of URL parsing (parse, join, scheme, host, origin,
//! path and query). Native builds use the `url` crate; wasm32 builds the platform's own `URL`
//! (browsers, Node), which keeps `url` and its IDNA tables out of the npm package's module.
//! Both follow the WHATWG URL standard, so the two agree on every http(s) URL.

/// A parsed absolute URL.
#[derive(Debug, Clone)]
pub(crate) struct PlatformUrl {
    #[cfg(not(target_arch = "wasm32"))]
    inner: url::Url,
    /// The serialization (`href`); the platform object is not kept, so the value is `Send`.
    #[cfg(target_arch = "wasm32")]
    href: String,
    #[cfg(target_arch = "wasm32")]
    scheme: String,
    #[cfg(target_arch = "wasm32")]
    host: String,
    #[cfg(target_arch = "wasm32")]
    origin: String,
    #[cfg(target_arch = "wasm32")]
    path: String,
    #[cfg(target_arch = "wasm32")]
    query: Option<String>,
    #[cfg(target_arch = "wasm32")]
    username: String,
    #[cfg(target_arch = "wasm32")]
    password: String,
}

#[cfg(not(target_arch = "wasm32"))]
impl PlatformUrl {
    /// Parses an absolute URL; `Err` says why it is not one.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        url::Url::parse(text)
            .map(|inner| PlatformUrl { inner })
            .map_err(|e| e.to_string())
    }

    /// `reference` resolved against this URL (as a browser resolves a link).
    pub(crate) fn join(&self, reference: &str) -> Result<Self, String> {
        self.inner
            .join(reference)
            .map(|inner| PlatformUrl { inner })
            .map_err(|e| e.to_string())
    }

    /// The scheme, without the colon (`http`).
    pub(crate) fn scheme(&self) -> &str {
        self.inner.scheme()
    }

    /// The host (empty when there is none).
    pub(crate) fn host(&self) -> &str {
        self.inner.host_str().unwrap_or("")
    }

    /// `scheme://host[:port]` (`null` for URLs without one, such as `data:`).
    pub(crate) fn origin(&self) -> String {
        self.inner.origin().ascii_serialization()
    }

    /// The path, starting with `/` for http(s) URLs.
    pub(crate) fn path(&self) -> &str {
        self.inner.path()
    }

    /// The query, without the `?`.
    pub(crate) fn query(&self) -> Option<&str> {
        self.inner.query()
    }

    /// The whole URL.
    pub(crate) fn as_str(&self) -> &str {
        self.inner.as_str()
    }

    /// The user name of the user-info, percent-encoded as written (empty when there is none).
    pub(crate) fn username(&self) -> &str {
        self.inner.username()
    }

    /// The password of the user-info, percent-encoded as written.
    pub(crate) fn password(&self) -> Option<&str> {
        self.inner.password()
    }

    /// The whole URL without its user-info.
    pub(crate) fn without_user_info(&self) -> String {
        let mut bare = self.inner.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        bare.into()
    }
}

#[cfg(target_arch = "wasm32")]
impl PlatformUrl {
    fn read(url: &web_sys::Url) -> Self {
        let search = url.search();
        let href = url.href();
        // `search` is empty both without a query and with an empty one; `href` tells them apart.
        let query = match search.strip_prefix('?') {
            Some(query) => Some(query.to_owned()),
            None if href.split('#').next().is_some_and(|h| h.contains('?')) => Some(String::new()),
            None => None,
        };
        PlatformUrl {
            scheme: url.protocol().trim_end_matches(':').to_owned(),
            host: url.hostname(),
            origin: url.origin(),
            path: url.pathname(),
            query,
            href,
            username: url.username(),
            password: url.password(),
        }
    }

    /// Parses an absolute URL; `Err` says why it is not one.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        web_sys::Url::new(text)
            .map(|url| Self::read(&url))
            .map_err(|_| "not an absolute URL".to_owned())
    }

    /// `reference` resolved against this URL (as a browser resolves a link).
    pub(crate) fn join(&self, reference: &str) -> Result<Self, String> {
        web_sys::Url::new_with_base(reference, &self.href)
            .map(|url| Self::read(&url))
            .map_err(|_| "not a URL".to_owned())
    }

    /// The scheme, without the colon (`http`).
    pub(crate) fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host (empty when there is none).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// `scheme://host[:port]` (`null` for URLs without one, such as `data:`).
    pub(crate) fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The path, starting with `/` for http(s) URLs.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The query, without the `?`.
    pub(crate) fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The whole URL.
    pub(crate) fn as_str(&self) -> &str {
        &self.href
    }

    /// The user name of the user-info, percent-encoded as written (empty when there is none).
    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// The password of the user-info, percent-encoded as written.
    pub(crate) fn password(&self) -> Option<&str> {
        (!self.password.is_empty()).then_some(self.password.as_str())
    }

    /// The whole URL without its user-info.
    pub(crate) fn without_user_info(&self) -> String {
        match web_sys::Url::new(&self.href) {
            Ok(bare) => {
                bare.set_username("");
                bare.set_password("");
                bare.href()
            }
            Err(_) => self.href.clone(),
        }
    }
}

impl PlatformUrl {
    /// Whether the URL is http or https with a host (the only URLs the client sends to).
    pub(crate) fn is_http(&self) -> bool {
        matches!(self.scheme(), "http" | "https") && !self.host().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::PlatformUrl;

    #[test]
    fn reads_the_parts_the_client_uses() {
        let url = PlatformUrl::parse("https://User:pw@Example.COM:8443/a/b?x=1#f").unwrap();
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host(), "example.com");
        assert_eq!(url.origin(), "https://example.com:8443");
        assert_eq!(url.path(), "/a/b");
        assert_eq!(url.query(), Some("x=1"));
        assert!(url.is_http());
        let default_port = PlatformUrl::parse("http://h:80/").unwrap();
        assert_eq!(default_port.origin(), "http://h");
        assert_eq!(default_port.as_str(), "http://h/");
        assert!(PlatformUrl::parse("not a url").is_err());
        assert!(!PlatformUrl::parse("data:text/plain,x").unwrap().is_http());
    }

    #[test]
    fn joins_like_a_browser() {
        let base = PlatformUrl::parse("http://h:5000/app/x?y=1").unwrap();
        assert_eq!(
            base.join("/hb?id=2").unwrap().as_str(),
            "http://h:5000/hb?id=2"
        );
        assert_eq!(base.join("z").unwrap().as_str(), "http://h:5000/app/z");
        assert_eq!(base.join("http://o/p").unwrap().as_str(), "http://o/p");
        assert_eq!(base.join("/p").unwrap().query(), None);
    }
}
