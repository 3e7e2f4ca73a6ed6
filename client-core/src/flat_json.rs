//! The JSON the client reads and writes for itself: ServiceStack's flat objects (`cmd.onConnect`,
//! join, leave, update, the subscriber list) and its own small request bodies. Both targets use
//! this instead of serde_json for them, so the npm package's module links no serde_json at all
//! (message bodies reach JavaScript as text and are parsed there by `JSON.parse`); native typed
//! decoding (`parse_json`) stays serde-based.

use std::collections::BTreeMap;

/// How deeply nested a value inside a flat object may be (deeper input is refused, never a
/// stack overflow).
const MAX_DEPTH: usize = 128;

/// Reads a JSON object as a string map: strings unescaped, numbers and booleans as their JSON
/// text, nulls skipped (a later null removes an earlier value of the same key, as the last of
/// duplicate keys wins), nested arrays and objects kept as their JSON text.
pub(crate) fn string_map(json: &str) -> Result<BTreeMap<String, String>, String> {
    let mut parser = Parser::new(json);
    let map = parser.object_map()?;
    parser.end()?;
    Ok(map)
}

/// Reads a JSON array of objects as string maps (see [`string_map`]).
pub(crate) fn string_maps(json: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    let mut parser = Parser::new(json);
    parser.expect(b'[')?;
    let mut maps = Vec::new();
    parser.skip_whitespace();
    if !parser.eat(b']') {
        loop {
            maps.push(parser.object_map()?);
            parser.skip_whitespace();
            if parser.eat(b']') {
                break;
            }
            parser.expect(b',')?;
        }
    }
    parser.end()?;
    Ok(maps)
}

/// Appends `text` to `out` as a JSON string literal.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a JSON object of strings and string lists, in the order given.
#[derive(Default)]
pub(crate) struct ObjectWriter {
    text: String,
}

impl ObjectWriter {
    fn key(&mut self, key: &str) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        push_string(&mut self.text, key);
        self.text.push(':');
    }

    /// Adds `"key":"value"`.
    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_string(&mut self.text, value);
        self
    }

    /// Adds `"key":["a","b"]`.
    pub(crate) fn strings(mut self, key: &str, values: &[String]) -> Self {
        self.key(key);
        self.text.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            push_string(&mut self.text, value);
        }
        self.text.push(']');
        self
    }

    /// The object's text.
    pub(crate) fn finish(mut self) -> String {
        if self.text.is_empty() {
            self.text.push('{');
        }
        self.text.push('}');
        self.text
    }
}

/// A value of a flat object.
enum Value<'a> {
    Null,
    String(String),
    /// A number, boolean, array or object, as its JSON text.
    Raw(&'a str),
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// The text from `start` to the cursor. The cursor and `start` only ever stop on ASCII
    /// bytes, so this is always a character boundary; `get` instead of indexing keeps the
    /// slicing panic (and its formatting) out of the wasm module.
    fn since(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// The text after the cursor.
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn new(text: &'a str) -> Self {
        Parser { text, pos: 0 }
    }

    fn error(&self, what: &str) -> String {
        format!("invalid JSON: {what} at byte {}", self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_whitespace();
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(match byte {
                b'{' => "expected an object",
                b'[' => "expected an array",
                b':' => "expected ':'",
                _ => "expected ',' or the end of the object or array",
            }))
        }
    }

    /// Only whitespace may follow the value.
    fn end(&mut self) -> Result<(), String> {
        self.skip_whitespace();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(self.error("trailing characters"))
        }
    }

    fn object_map(&mut self) -> Result<BTreeMap<String, String>, String> {
        self.expect(b'{')?;
        // The members in order, nulls as `None`; the map is built from the last member of each
        // key (a trailing null leaves the key out). Only inserting keeps the B-tree's removal
        // code out of the wasm module.
        let mut members = Vec::new();
        self.skip_whitespace();
        if !self.eat(b'}') {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a key"));
                }
                let key = self.string()?;
                self.expect(b':')?;
                let value = match self.value(1)? {
                    Value::Null => None,
                    Value::String(text) => Some(text),
                    Value::Raw(raw) => Some(raw.to_owned()),
                };
                members.push((key, value));
                self.skip_whitespace();
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        let mut map = BTreeMap::new();
        let mut nulls = Vec::new();
        for (key, value) in members.into_iter().rev() {
            if map.contains_key(&key) || nulls.contains(&key) {
                continue;
            }
            match value {
                Some(text) => {
                    map.insert(key, text);
                }
                None => nulls.push(key),
            }
        }
        Ok(map)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, String> {
        self.skip_whitespace();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => return self.string().map(Value::String),
            Some(b'n') => {
                self.literal("null")?;
                return Ok(Value::Null);
            }
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(b'[' | b'{') => self.nested(depth)?,
            _ => return Err(self.error("expected a value")),
        }
        Ok(Value::Raw(self.since(start)))
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        if self.rest().starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), String> {
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return Err(self.error("expected a digit"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.error("expected a digit"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit"));
            }
        }
        Ok(())
    }

    /// Checks an array or object without keeping it (its text is the value).
    fn nested(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let close = if self.eat(b'[') {
            b']'
        } else {
            self.pos += 1;
            b'}'
        };
        self.skip_whitespace();
        if self.eat(close) {
            return Ok(());
        }
        loop {
            if close == b'}' {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a key"));
                }
                self.string()?;
                self.expect(b':')?;
            }
            self.value(depth + 1)?;
            self.skip_whitespace();
            if self.eat(close) {
                return Ok(());
            }
            self.expect(b',')?;
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))
    }

    /// A string literal (the cursor is on its opening quote), unescaped.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run stops only at ASCII bytes, so it ends on a character boundary.
            out.push_str(self.since(run_start));
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek().ok_or_else(|| self.error("unfinished string"))?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&first) {
                                if !self.rest().starts_with("\\u") {
                                    return Err(self.error("unpaired surrogate"));
                                }
                                self.pos += 2;
                                let second = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&second) {
                                    return Err(self.error("unpaired surrogate"));
                                }
                                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                            } else {
                                first
                            };
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| self.error("unpaired surrogate"))?,
                            );
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unfinished string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_flat_objects_as_serde_json_did() {
        let json = r#" {"id":"s1", "n": -1.5e3, "ok": true, "gone": null, "no": false,
            "nested": {"a": [1, "x", {}]}, "list": [], "esc": "a\"b\\c\/d\n\u00e9\ud83d\ude00"} "#;
        assert_eq!(
            string_map(json).unwrap(),
            map(&[
                ("id", "s1"),
                ("n", "-1.5e3"),
                ("ok", "true"),
                ("no", "false"),
                ("nested", r#"{"a": [1, "x", {}]}"#),
                ("list", "[]"),
                ("esc", "a\"b\\c/d\né😀"),
            ])
        );
        assert_eq!(string_map("{}").unwrap(), map(&[]));
        assert_eq!(
            string_map(r#"{"a":"1","a":"2","b":"x","b":null}"#).unwrap(),
            map(&[("a", "2")]),
            "the last duplicate wins; a later null removes the key"
        );
        assert_eq!(string_map(r#"{"ü":"ß"}"#).unwrap(), map(&[("ü", "ß")]));
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{a:1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":"x}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{"b"}}"#,
            r#"{} x"#,
            r#"{"a":[}"#,
        ] {
            assert!(string_map(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        assert!(string_map(&deep).unwrap_err().contains("nested too deeply"));
    }

    #[test]
    fn reads_arrays_of_flat_objects() {
        assert_eq!(
            string_maps(r#"[{"a":"1"}, {"b":2}]"#).unwrap(),
            vec![map(&[("a", "1")]), map(&[("b", "2")])]
        );
        assert_eq!(string_maps(" [ ] ").unwrap(), vec![]);
        for bad in ["{}", "[1]", "[{},]", "[{}", "[{}] ]"] {
            assert!(string_maps(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_objects_that_parse_back() {
        let text = ObjectWriter::default()
            .string("id", "q\"\\\n\u{1}é")
            .strings("channels", &["a".into(), "b,c".into()])
            .strings("none", &[])
            .finish();
        assert_eq!(
            text,
            r#"{"id":"q\"\\\n\u0001é","channels":["a","b,c"],"none":[]}"#
        );
        let parsed = string_map(&text).unwrap();
        assert_eq!(parsed["id"], "q\"\\\n\u{1}é");
        assert_eq!(parsed["channels"], r#"["a","b,c"]"#);
        assert_eq!(ObjectWriter::default().finish(), "{}");
    }
}
