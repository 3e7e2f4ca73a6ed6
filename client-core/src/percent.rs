//! Percent-encoding of channel names in query strings and percent-decoding of URL user-info.
//! Written out here rather than taken from the percent-encoding crate, whose 768-byte lookup
//! table and `Display`-based encoder are a sizeable part of the small wasm module.

/// Upper-case hexadecimal digits, as RFC 3986 recommends for percent-encoding.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `text` with every byte other than ASCII letters, digits and `-._~` (RFC 3986's unreserved
/// characters) written as `%XX`.
pub(crate) fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
    encoded
}

/// `text` with every `%XX` (two hexadecimal digits) decoded to its byte; a `%` not followed by
/// two hexadecimal digits stays as it is. `None` when the decoded bytes are not UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let mut rest = text.as_bytes();
    let mut decoded = Vec::with_capacity(rest.len());
    while let Some((&byte, tail)) = rest.split_first() {
        let escaped = match tail {
            [high, low, after @ ..] if byte == b'%' => hex_value(*high)
                .zip(hex_value(*low))
                .map(|(high, low)| (high << 4 | low, after)),
            _ => None,
        };
        match escaped {
            Some((value, after)) => {
                decoded.push(value);
                rest = after;
            }
            None => {
                decoded.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_but_unreserved_characters() {
        assert_eq!(encode_component("Az09-._~"), "Az09-._~");
        assert_eq!(encode_component("a b,c@d/é%"), "a%20b%2Cc%40d%2F%C3%A9%25");
        assert_eq!(encode_component(""), "");
    }

    #[test]
    fn decodes_escapes_and_keeps_malformed_ones() {
        assert_eq!(decode("p%40ss%3a%C3%A9").as_deref(), Some("p@ss:é"));
        assert_eq!(decode("100%").as_deref(), Some("100%"));
        assert_eq!(decode("%4").as_deref(), Some("%4"));
        assert_eq!(decode("%zz%2").as_deref(), Some("%zz%2"));
        assert_eq!(decode("%FF"), None, "not UTF-8");
    }

    #[test]
    fn decoding_undoes_encoding() {
        for text in ["", "plain", "a b,c@d/é%", "%41", "\u{1F600}"] {
            assert_eq!(decode(&encode_component(text)).as_deref(), Some(text));
        }
    }
}
