//! URL user-info (`http://user:pass@host`): taken out of the base URL and sent as
//! `Authorization: Basic …` on every request to the configured origins (stream, heartbeats,
//! unregisters, subscriber updates, service calls), like the other credentials. Left in the
//! URL, reqwest would send it on the stream request only (and fetch refuses such URLs), so the
//! heartbeats of a server that ties a subscription to its session's identity would be refused.

use crate::auth::Secret;
use crate::error::Error;
use crate::redact::redact_url;

/// The base URL without its user-info, and the `Authorization` value the user-info stands for.
pub(crate) fn split(base_url: &str) -> Result<(String, Option<Secret>), Error> {
    let Ok(parsed) = crate::platform_url::PlatformUrl::parse(base_url) else {
        return Ok((base_url.to_owned(), None));
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return Ok((base_url.to_owned(), None));
    }
    let decode = |part: &str| {
        crate::percent::decode(part).ok_or_else(|| Error::InvalidUrl {
            url: redact_url(base_url),
            reason: "the user-info is not UTF-8".into(),
        })
    };
    let user = decode(parsed.username())?;
    let password = decode(parsed.password().unwrap_or_default())?;
    let text = parsed.without_user_info();
    let basic = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
    Ok((
        text.trim_end_matches('/').to_owned(),
        Some(Secret::new(basic)),
    ))
}

/// Standard base64 with padding (RFC 4648), for the Basic scheme.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), encoded, "{input}");
        }
    }

    #[test]
    fn user_info_becomes_a_basic_header_and_leaves_the_url() {
        let (url, basic) = split("http://alice:p%40ss%20w0rd@h:5000/api").unwrap();
        assert_eq!(url, "http://h:5000/api");
        // base64("alice:p@ss w0rd")
        assert_eq!(basic.unwrap().expose(), "Basic YWxpY2U6cEBzcyB3MHJk");
        let (url, basic) = split("http://bob@h").unwrap();
        assert_eq!(url, "http://h");
        assert_eq!(basic.unwrap().expose(), "Basic Ym9iOg==");
        assert_eq!(
            split("http://h/x").unwrap(),
            ("http://h/x".to_owned(), None)
        );
    }
}
