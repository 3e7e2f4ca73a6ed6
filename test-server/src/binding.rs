//! Case-insensitive request DTO binding from JSON, form and query parameters.
//!
//! ServiceStack binds a request DTO from the body (JSON or form), then overlays query-string
//! values, then path variables; property names match case-insensitively. [`Params`] reproduces
//! that: each key keeps the values of its highest-precedence source.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::respond::{ApiError, RemoteAddr};
use crate::routes::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Body = 0,
    Query = 1,
    Path = 2,
}

/// Bound request parameters, keyed by lower-cased name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    map: HashMap<String, (Source, Vec<Value>)>,
}

fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Splits a typed `string[]` value: a JSON array (`["A","B"]`), a JSV list (`[A,B]`) or a
/// comma-separated list (`A,B`, no trimming, empty entries kept). An empty string is `[]`.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    let trimmed = s.trim();
    if trimmed.starts_with('[') && trimmed.ends_with(']') {
        if let Ok(items) = serde_json::from_str::<Vec<Value>>(trimmed) {
            return items.iter().filter_map(stringify).collect();
        }
        let inner = &trimmed[1..trimmed.len() - 1];
        if inner.is_empty() {
            return Vec::new();
        }
        return inner.split(',').map(str::to_string).collect();
    }
    s.split(',').map(str::to_string).collect()
}

impl Params {
    fn add(&mut self, source: Source, key: &str, value: Value) {
        let key = key.to_ascii_lowercase();
        match self.map.get_mut(&key) {
            Some((existing, values)) if *existing == source => values.push(value),
            Some((existing, _)) if *existing > source => {}
            _ => {
                self.map.insert(key, (source, vec![value]));
            }
        }
    }

    fn add_pairs(&mut self, source: Source, pairs: Vec<(String, String)>) {
        for (k, v) in pairs {
            self.add(source, &k, Value::String(v));
        }
    }

    fn add_object(&mut self, obj: Map<String, Value>) {
        for (k, v) in obj {
            self.add(Source::Body, &k, v);
        }
    }

    /// Whether the key is present at all (even as null).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(&key.to_ascii_lowercase())
    }

    /// A scalar value; the last non-null value of the winning source, stringified.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        let (_, values) = self.map.get(&key.to_ascii_lowercase())?;
        values.iter().rev().find_map(stringify)
    }

    /// The last non-null raw JSON value of the winning source (query and form values are
    /// strings).
    pub(crate) fn value(&self, key: &str) -> Option<&Value> {
        let (_, values) = self.map.get(&key.to_ascii_lowercase())?;
        values.iter().rev().find(|v| !v.is_null())
    }

    /// A typed `string[]`: every value of the winning source, each split by [`split_list`].
    /// `None` when the key is absent or only null.
    pub(crate) fn list(&self, key: &str) -> Option<Vec<String>> {
        let (_, values) = self.map.get(&key.to_ascii_lowercase())?;
        let mut out = Vec::new();
        let mut any = false;
        for v in values {
            match v {
                Value::Null => {}
                Value::Array(items) => {
                    any = true;
                    out.extend(items.iter().filter_map(stringify));
                }
                Value::String(s) => {
                    any = true;
                    out.extend(split_list(s));
                }
                other => {
                    any = true;
                    out.extend(stringify(other));
                }
            }
        }
        any.then_some(out)
    }

    /// A nested object (`customType`), from a JSON object or a JSON string value; keys are
    /// lower-cased. `Ok(None)` when absent or null.
    pub(crate) fn object(&self, key: &str) -> Result<Option<HashMap<String, Value>>, ApiError> {
        let Some((_, values)) = self.map.get(&key.to_ascii_lowercase()) else {
            return Ok(None);
        };
        let Some(value) = values.iter().rev().find(|v| !v.is_null()) else {
            return Ok(None);
        };
        let obj = match value {
            Value::Object(m) => m.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => m,
                Ok(Value::Null) => return Ok(None),
                _ => {
                    return Err(ApiError::bad_request(
                        "SerializationException",
                        format!("'{key}' must be a JSON object"),
                    ));
                }
            },
            _ => {
                return Err(ApiError::bad_request(
                    "SerializationException",
                    format!("'{key}' must be a JSON object"),
                ));
            }
        };
        Ok(Some(
            obj.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ))
    }
}

/// Parses a query string into decoded pairs (`+` is a space, as in form encoding).
pub(crate) fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

/// The values of a query key, case-insensitively, joined with `,` as ASP.NET's
/// `QueryString[name]` does for repeated keys. `None` when absent.
pub(crate) fn query_value(pairs: &[(String, String)], key: &str) -> Option<String> {
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Reads the whole body, answering 413 past `limit`.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::too_large(limit)),
        Err(e) => Err(ApiError::bad_request(
            "RequestBodyError",
            format!("Could not read the request body: {e}"),
        )),
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "SerializationException",
            "The JSON request body must be an object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "SerializationException",
            format!("Could not deserialize the JSON request body: {e}"),
        )),
    }
}

/// Binds the body according to its content type.
fn bind_body(params: &mut Params, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let ct = content_type(headers);
    let text = body.trim_ascii();
    if ct.starts_with("application/x-www-form-urlencoded") {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).map_err(|e| {
            ApiError::bad_request(
                "SerializationException",
                format!("Could not parse the form body: {e}"),
            )
        })?;
        params.add_pairs(Source::Body, pairs);
    } else if ct.contains("json") {
        if !text.is_empty() {
            params.add_object(parse_json_object(text)?);
        }
    } else if text.starts_with(b"{") {
        // No or another content type (e.g. text/plain from fetch without headers): accept a
        // JSON object body too.
        params.add_object(parse_json_object(text)?);
    }
    Ok(())
}

/// A bound request: its parts, parameters from body, query and path, and the caller's IP.
pub(crate) struct Req {
    pub(crate) parts: http::request::Parts,
    pub(crate) params: Params,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) remote: Option<IpAddr>,
}

impl Req {
    /// The `ss-tok` query value, if any.
    pub(crate) fn query_token(&self) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == "ss-tok")
            .map(|(_, v)| v.as_str())
    }
}

async fn path_params(
    parts: &mut http::request::Parts,
    state: &AppState,
) -> Result<Vec<(String, String)>, ApiError> {
    use axum::extract::rejection::PathRejection;
    match Path::<Vec<(String, String)>>::from_request_parts(parts, state).await {
        Ok(Path(p)) => Ok(p),
        Err(PathRejection::MissingPathParams(_)) => Ok(Vec::new()),
        Err(e) => Err(ApiError::bad_request("ArgumentException", e.body_text())),
    }
}

impl FromRequest<AppState> for Req {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let path = path_params(&mut parts, state).await?;
        let bytes = read_body(body, &parts.headers, state.shared.config.max_body_bytes).await?;
        let query = parse_query(parts.uri.query());
        let mut params = Params::default();
        bind_body(&mut params, &parts.headers, &bytes)?;
        params.add_pairs(Source::Query, query.clone());
        params.add_pairs(Source::Path, path);
        let remote = parts.extensions.get::<RemoteAddr>().map(|r| r.ip());
        Ok(Req {
            parts,
            params,
            query,
            remote,
        })
    }
}

/// A request whose body is taken as raw bytes (no binding), for `/test/raw`.
pub(crate) struct RawReq {
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl FromRequest<AppState> for RawReq {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = read_body(body, &parts.headers, state.shared.config.max_body_bytes).await?;
        Ok(RawReq {
            query: parse_query(parts.uri.query()),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(split_list("A,B"), vec!["A", "B"]);
        assert_eq!(split_list("A,,B"), vec!["A", "", "B"]);
        assert_eq!(split_list(r#"["A","B"]"#), vec!["A", "B"]);
        assert_eq!(split_list("[A,B]"), vec!["A", "B"]);
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(split_list(" A"), vec![" A"]);
    }

    #[test]
    fn precedence_and_case() {
        let mut p = Params::default();
        let mut obj = Map::new();
        obj.insert("Channel".into(), Value::String("body".into()));
        obj.insert("SubscribeChannels".into(), serde_json::json!(["X", "Y"]));
        obj.insert("n".into(), serde_json::json!(5));
        p.add_object(obj);
        assert_eq!(p.str("channel").as_deref(), Some("body"));
        p.add_pairs(Source::Query, vec![("CHANNEL".into(), "query".into())]);
        assert_eq!(p.str("channel").as_deref(), Some("query"));
        p.add_pairs(Source::Body, vec![("channel".into(), "late body".into())]);
        assert_eq!(p.str("channel").as_deref(), Some("query"));
        p.add_pairs(Source::Path, vec![("channel".into(), "path".into())]);
        assert_eq!(p.str("Channel").as_deref(), Some("path"));
        assert_eq!(p.list("subscribechannels").unwrap(), vec!["X", "Y"]);
        assert_eq!(p.str("N").as_deref(), Some("5"));
        assert!(p.list("missing").is_none());
    }

    #[test]
    fn repeated_query_keys_join() {
        let pairs = parse_query(Some("channels=A&Channels=B%2CC&t=1"));
        assert_eq!(query_value(&pairs, "channels").as_deref(), Some("A,B,C"));
        assert_eq!(query_value(&pairs, "channel"), None);
    }
}
