//! Sessions and bearer tokens for the credentials auth provider of the test AppHost.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use http::HeaderMap;

use crate::util::{lock, random_id};

/// The only accepted user name.
pub(crate) const USER_NAME: &str = "user";
/// The only accepted password.
pub(crate) const PASSWORD: &str = "pass";

/// A server-side session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user_name: String,
}

#[derive(Default)]
struct AuthInner {
    /// Authenticated sessions by session id.
    sessions: HashMap<String, Session>,
    /// Valid bearer tokens -> session id.
    tokens: HashMap<String, String>,
    /// Tokens invalidated by `expire_tokens`.
    expired: HashSet<String>,
}

/// Sessions created by `Authenticate` and the bearer tokens issued with them.
#[derive(Default)]
pub(crate) struct AuthStore {
    inner: Mutex<AuthInner>,
}

/// What a request's credentials amount to.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// No (valid) authenticated session; the session id presented, if any.
    Anonymous { session_id: Option<String> },
    /// An authenticated session.
    Authenticated {
        session_id: String,
        session: Session,
    },
    /// A bearer token was presented but is unknown or expired.
    Invalid { message: &'static str },
}

impl Credentials {
    pub(crate) fn session_id(&self) -> Option<&str> {
        match self {
            Credentials::Anonymous { session_id } => session_id.as_deref(),
            Credentials::Authenticated { session_id, .. } => Some(session_id),
            Credentials::Invalid { .. } => None,
        }
    }
}

/// Every `name=value` cookie pair of the request.
pub(crate) fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn cookie<'a>(jar: &'a [(String, String)], name: &str) -> Option<&'a str> {
    jar.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The bearer token of the request: `Authorization: Bearer`, then `ss-tok` query, then cookie.
fn bearer_token<'a>(
    headers: &'a HeaderMap,
    query_token: Option<&'a str>,
    jar: &'a [(String, String)],
) -> Option<&'a str> {
    if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let auth = auth.trim();
        if let Some(prefix) = auth.get(..7)
            && prefix.eq_ignore_ascii_case("bearer ")
        {
            return auth.get(7..).map(str::trim).filter(|t| !t.is_empty());
        }
    }
    query_token
        .filter(|t| !t.is_empty())
        .or_else(|| cookie(jar, "ss-tok"))
}

/// The session id the request presents (`GetSessionId`): `ss-pid` when `ss-opt=perm`,
/// otherwise `ss-id`.
pub(crate) fn session_id_of(jar: &[(String, String)]) -> Option<String> {
    let permanent = cookie(jar, "ss-opt") == Some("perm");
    let id = if permanent {
        cookie(jar, "ss-pid").or_else(|| cookie(jar, "ss-id"))
    } else {
        cookie(jar, "ss-id").or_else(|| cookie(jar, "ss-pid"))
    };
    id.filter(|s| s.len() <= 128).map(str::to_string)
}

impl AuthStore {
    /// Resolves the request's credentials.
    pub(crate) fn resolve(&self, headers: &HeaderMap, query_token: Option<&str>) -> Credentials {
        let jar = cookies(headers);
        let inner = lock(&self.inner);
        if let Some(token) = bearer_token(headers, query_token, &jar) {
            if inner.expired.contains(token) {
                return Credentials::Invalid {
                    message: "Token has expired",
                };
            }
            return match inner.tokens.get(token) {
                Some(session_id) => match inner.sessions.get(session_id) {
                    Some(session) => Credentials::Authenticated {
                        session_id: session_id.clone(),
                        session: session.clone(),
                    },
                    None => Credentials::Invalid {
                        message: "Invalid BearerToken",
                    },
                },
                None => Credentials::Invalid {
                    message: "Invalid BearerToken",
                },
            };
        }
        let session_id = session_id_of(&jar);
        if let Some(id) = &session_id
            && let Some(session) = inner.sessions.get(id)
        {
            return Credentials::Authenticated {
                session_id: id.clone(),
                session: session.clone(),
            };
        }
        Credentials::Anonymous { session_id }
    }

    /// Authenticates `session_id` as `user_name` and issues a bearer token for it.
    pub(crate) fn authenticate(&self, session_id: &str, user_name: &str) -> String {
        let token = random_id(40);
        let mut inner = lock(&self.inner);
        inner.sessions.insert(
            session_id.to_string(),
            Session {
                user_name: user_name.to_string(),
            },
        );
        inner.tokens.insert(token.clone(), session_id.to_string());
        token
    }

    /// Ends the session (`/auth/logout`).
    pub(crate) fn logout(&self, session_id: &str) {
        let mut inner = lock(&self.inner);
        inner.sessions.remove(session_id);
        inner.tokens.retain(|_, s| s != session_id);
    }

    /// Invalidates every bearer token issued so far.
    pub(crate) fn expire_tokens(&self) {
        let mut inner = lock(&self.inner);
        let tokens: Vec<String> = inner.tokens.drain().map(|(t, _)| t).collect();
        inner.expired.extend(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn cookie_and_bearer_resolution() {
        let store = AuthStore::default();
        let token = store.authenticate("SID", "user");
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_static("a=b; ss-id=SID"),
        );
        assert!(matches!(
            store.resolve(&headers, None),
            Credentials::Authenticated { .. }
        ));
        let mut bearer = HeaderMap::new();
        bearer.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert!(matches!(
            store.resolve(&bearer, None),
            Credentials::Authenticated { .. }
        ));
        assert!(matches!(
            store.resolve(&HeaderMap::new(), Some(&token)),
            Credentials::Authenticated { .. }
        ));
        store.expire_tokens();
        assert!(matches!(
            store.resolve(&bearer, None),
            Credentials::Invalid {
                message: "Token has expired"
            }
        ));
        assert!(matches!(
            store.resolve(&HeaderMap::new(), Some("nope")),
            Credentials::Invalid { .. }
        ));
        // The cookie session survives token expiry.
        assert!(matches!(
            store.resolve(&headers, None),
            Credentials::Authenticated { .. }
        ));
        assert!(matches!(
            store.resolve(&HeaderMap::new(), None),
            Credentials::Anonymous { session_id: None }
        ));
    }
}
