//! Plain HTTP calls made by the test itself (not through the client under test).

use std::time::Duration;

use serde_json::Value;

/// A status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl Reply {
    /// The body as JSON (`null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A small HTTP client for test actions.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    /// A client with a 10 s request timeout and no cookies.
    pub fn new() -> Self {
        // reqwest is built without a default crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("the test HTTP client builds"),
        }
    }

    /// Sends `method url` with an optional JSON body.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|e| format!("bad method {method}: {e}"))?;
        let mut request = self.client.request(method.clone(), url);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {url} failed: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{method} {url}: reading the body failed: {e}"))?;
        Ok(Reply { status, body })
    }

    /// Sends raw bytes.
    pub async fn post_bytes(&self, url: &str, bytes: Vec<u8>) -> Result<Reply, String> {
        let response = self
            .client
            .post(url)
            .header("Content-Type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(|e| format!("POST {url} failed: {e}"))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(Reply { status, body })
    }

    /// `GET`.
    pub async fn get(&self, url: &str) -> Result<Reply, String> {
        self.send("GET", url, None).await
    }

    /// `POST` with a JSON body; fails unless the answer is 2xx.
    pub async fn post_ok(&self, url: &str, body: &Value) -> Result<Reply, String> {
        let reply = self.send("POST", url, Some(body)).await?;
        if reply.ok() {
            Ok(reply)
        } else {
            Err(format!(
                "POST {url} answered {}: {}",
                reply.status, reply.body
            ))
        }
    }
}

/// Percent-encodes one path segment (`*` → `%2A`, as ServiceStack's clients send it).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes standard base64 (with or without padding).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return Err(format!("invalid base64 character {:?}", c as char)),
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_segments() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("/w==").unwrap(), [0xff]);
        assert_eq!(encode_segment("*"), "%2A");
        assert_eq!(encode_segment("a b"), "a%20b");
    }
}
