//! A sans-IO Server-Sent Events decoder: bytes in, events out, no network.
//!
//! It implements the parsing rules of the HTML standard's `text/event-stream` format:
//! LF, CRLF and CR line endings (also split across chunks), a leading byte-order mark,
//! comments, unknown fields, multi-line `data:` joined with `\n`, `id:` persisting across
//! events (ignored when it holds NUL) and reported by [`SseDecoder::last_event_id`] only once its
//! event ended, `retry:` digits (a value too large to hold is ignored), and blocks without data
//! that update the id but dispatch nothing. Any chunking of the same bytes gives the same events
//! and errors (a property test here, and the `decoder_chunking` fuzz target in `fuzz/`).
//!
//! Two properties matter for a long-lived stream:
//! - **Linear time.** A line split across many chunks is appended, never re-scanned from its
//!   start; line ends are found with `memchr`.
//! - **Bounded memory.** An event bigger than [`SseDecoder::max_event_size`] is skipped with a
//!   [`SseError::EventTooLarge`] and its bytes are not kept; decoding resumes at the next event.
//!
//! Decoded events borrow the decoder's buffers, so the decoder allocates nothing per event once
//! its buffers have grown to the working size. An event whose single `data:` line arrives whole
//! in one chunk is not even copied: it borrows the chunk.
//!
//! ```
//! use servicestack_events::sse::{SseDecoder, SseEvent};
//!
//! let mut decoder = SseDecoder::new();
//! let mut seen = Vec::new();
//! for chunk in [&b"id: 1\ndata: cmd.chat {\"m\""[..], b":1}\n\n"] {
//!     decoder.feed(chunk, |event| seen.push(event.map(|e| (e.id.to_owned(), e.data.to_owned()))));
//! }
//! assert_eq!(seen, vec![Ok(("1".to_owned(), "cmd.chat {\"m\":1}".to_owned()))]);
//! ```

use std::fmt;

use line_end::LineEnds;

mod line_end;

/// The default cap on one event's size: 8 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 8 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One decoded event. It borrows the decoder (or the fed chunk) and lives until the callback
/// returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The last event id seen on this stream (it persists across events), or `""`.
    pub id: &'a str,
    /// The `event:` type of this event, or `"message"`.
    pub event: &'a str,
    /// The `data:` lines joined with `\n`.
    pub data: &'a str,
}

/// The comment a server writes before it closes the stream of a reader that fell too far
/// behind (the reference server's `: slow consumer: more than N bytes behind, closing`).
const SLOW_CONSUMER_NOTE: &[u8] = b": slow consumer:";

/// The server announced that it is closing this stream because the reader fell too far behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowConsumer {
    /// How many bytes the server lets a reader fall behind, when the note says.
    pub limit_bytes: Option<u64>,
}

impl SlowConsumer {
    /// The note in a comment line (`: slow consumer: more than N bytes behind, closing`).
    fn from_comment(line: &[u8]) -> Option<Self> {
        let rest = line.strip_prefix(SLOW_CONSUMER_NOTE)?;
        let text = String::from_utf8_lossy(rest);
        // Word by word rather than searching for "more than " (a substring searcher is
        // sizeable in the wasm module).
        let words: Vec<&str> = text.split(' ').collect();
        let limit_bytes = words.windows(3).find_map(|window| match window {
            ["more", "than", digits] => digits.parse().ok(),
            _ => None,
        });
        Some(SlowConsumer { limit_bytes })
    }
}

/// A problem with one event. The decoder has already skipped it and carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// The event exceeded the size limit; its bytes were discarded.
    EventTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The event's data was not valid UTF-8.
    InvalidUtf8 {
        /// The id in force for the skipped event.
        id: String,
    },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => write!(f, "event larger than {limit} bytes"),
            SseError::InvalidUtf8 { id } => write!(f, "event '{id}' is not valid UTF-8"),
        }
    }
}

impl std::error::Error for SseError {}

/// Whether a `Content-Type` header value is `text/event-stream` (parameters such as
/// `charset` allowed, case-insensitive).
pub(crate) fn is_event_stream(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("text/event-stream")
}

/// UTF-8 validation of every event's data: SIMD on native targets, the standard library's on
/// wasm32, where the module's size matters more.
#[inline]
fn utf8(bytes: &[u8]) -> Option<&str> {
    #[cfg(not(target_arch = "wasm32"))]
    return simdutf8::basic::from_utf8(bytes).ok();
    #[cfg(target_arch = "wasm32")]
    return std::str::from_utf8(bytes).ok();
}

/// Splits a line into field and value at its first colon, dropping one space after it.
#[inline]
fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    // The two fields ServiceStack sends are recognised without a search.
    let colon = if line.starts_with(b"data:") {
        Some(4)
    } else if line.starts_with(b"id:") {
        Some(2)
    } else {
        memchr::memchr(b':', line)
    };
    match colon {
        Some(colon) => {
            let value = &line[colon + 1..];
            (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
        }
        None => (line, &b""[..]),
    }
}

/// Hands one event with `data` to `on_event` (or the error if it is not UTF-8).
#[inline]
fn emit<F>(id: &str, event_type: &str, data: &[u8], on_event: &mut F)
where
    F: FnMut(Result<SseEvent<'_>, SseError>),
{
    match utf8(data) {
        Some(data) => on_event(Ok(SseEvent {
            id,
            event: if event_type.is_empty() {
                "message"
            } else {
                event_type
            },
            data,
        })),
        None => on_event(Err(SseError::InvalidUtf8 { id: id.to_owned() })),
    }
}

/// The incremental decoder. Feed it chunks as they arrive; it calls back once per event.
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The current line is too long and its remaining bytes are being dropped.
    partial_overflow: bool,
    /// The event's data so far, from `data_start` on.
    data: Vec<u8>,
    /// Where the data begins in `data`: past `data:` when a split line's buffer was adopted
    /// whole instead of copied.
    data_start: usize,
    has_data: bool,
    event_type: String,
    /// The standard's "last event ID string" (the id of the last event that ended, reported by
    /// [`last_event_id`](Self::last_event_id)) and, when `id_pending`, its "last event ID
    /// buffer" (an `id:` of the event in progress) in the other slot. An event's end then only
    /// flips `committed` instead of copying the id (every ServiceStack frame has a new id).
    ids: [String; 2],
    /// Which of `ids` holds the last event id.
    committed: usize,
    /// An `id:` arrived since the last event ended; it is in `ids[1 - committed]`.
    id_pending: bool,
    retry_ms: Option<u64>,
    max_event_size: usize,
    /// The current event went over the limit; skip its lines until the blank line.
    oversized: bool,
    /// The previous chunk ended in `\r`; a `\n` at the start of the next one belongs to it.
    skip_lf: bool,
    /// Still at the very start of the stream, where a byte-order mark may appear.
    at_start: bool,
    /// The server's slow-consumer note, once seen on this stream.
    slow_consumer: Option<SlowConsumer>,
    /// The line-end searcher, set up once.
    line_ends: LineEnds,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default maximum event size.
    pub fn new() -> Self {
        Self::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A decoder that skips events larger than `max_event_size` bytes (field names included).
    pub fn with_max_event_size(max_event_size: usize) -> Self {
        SseDecoder {
            partial: Vec::new(),
            partial_overflow: false,
            data: Vec::new(),
            data_start: 0,
            has_data: false,
            event_type: String::new(),
            ids: [String::new(), String::new()],
            committed: 0,
            id_pending: false,
            retry_ms: None,
            max_event_size: max_event_size.max(1),
            oversized: false,
            skip_lf: false,
            at_start: true,
            slow_consumer: None,
            line_ends: LineEnds::new(),
        }
    }

    /// The size limit for one event.
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// The id in force when the last event ended (`""` before any). An id of an event whose
    /// blank line has not arrived yet (for example one cut off by a broken connection) is not
    /// reported: that event was never delivered.
    pub fn last_event_id(&self) -> &str {
        &self.ids[self.committed]
    }

    /// Whether the server wrote its slow-consumer note (a comment saying it is closing the
    /// stream because this reader fell too far behind) on this stream.
    pub fn slow_consumer(&self) -> Option<SlowConsumer> {
        self.slow_consumer
    }

    /// The reconnection time the server asked for with `retry:`, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Decodes `chunk`, calling `on_event` for every event it completes (in order), or with an
    /// error for an event that had to be skipped.
    pub fn feed<F>(&mut self, chunk: &[u8], mut on_event: F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        let mut pos = 0;
        if self.skip_lf && !chunk.is_empty() {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                pos = 1;
            }
        }
        // The value of a `data:` line that lies whole in `chunk` and has not been copied yet: a
        // single-line event that ends in the same chunk is dispatched straight from it.
        let mut borrowed: Option<(usize, usize)> = None;
        while pos < chunk.len() {
            let input = &chunk[pos..];
            let Some(end) = self.line_ends.find(input) else {
                self.take_borrowed(chunk, &mut borrowed);
                self.keep_partial(input, &mut on_event);
                return;
            };
            let line = &input[..end];
            if !self.partial.is_empty() || self.partial_overflow {
                self.take_borrowed(chunk, &mut borrowed);
                self.finish_partial(line, &mut on_event);
            } else if let (true, Some((start, stop))) = (line.is_empty(), borrowed) {
                borrowed = None;
                self.commit_id();
                emit(
                    &self.ids[self.committed],
                    &self.event_type,
                    &chunk[start..stop],
                    &mut on_event,
                );
                self.event_type.clear();
            } else if borrowed.is_none() && self.can_borrow(line) {
                let skip = usize::from(line.get(5) == Some(&b' '));
                borrowed = Some((pos + 5 + skip, pos + end));
            } else {
                self.take_borrowed(chunk, &mut borrowed);
                if line.is_empty() {
                    // The blank line ending an event whose data was copied (its line was split
                    // across chunks): what `process_line` does with an empty line, without it.
                    self.at_start = false;
                    self.dispatch(&mut on_event);
                } else if let Some(value) = self.plain_id_value(line) {
                    self.set_last_event_id(value);
                } else {
                    self.process_line(line, &mut on_event);
                }
            }
            let terminator = input[end];
            pos += end + 1;
            if terminator == b'\r' {
                match chunk.get(pos) {
                    Some(b'\n') => pos += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
        }
        self.take_borrowed(chunk, &mut borrowed);
    }

    /// Whether `line` can be kept as a borrowed, not yet copied, `data:` line: it would be the
    /// event's only data so far and `process_line` would just copy its value.
    fn can_borrow(&self, line: &[u8]) -> bool {
        !self.has_data
            && !self.oversized
            && !self.at_start
            && line.len() <= self.max_event_size
            && line.starts_with(b"data:")
    }

    /// The value of an `id:` line that `process_line` would just hand to `set_last_event_id`
    /// (past the stream's start, the event not skipped, within the size limit). Every
    /// ServiceStack frame has one, so it skips `process_line`'s general field handling.
    #[inline]
    fn plain_id_value<'l>(&self, line: &'l [u8]) -> Option<&'l [u8]> {
        let value = line.strip_prefix(b"id:")?;
        if self.oversized || self.at_start || self.data_len() + line.len() > self.max_event_size {
            return None;
        }
        Some(value.strip_prefix(b" ").unwrap_or(value))
    }

    /// The length of the event's data so far (what the size limit counts, with the raw lines).
    fn data_len(&self) -> usize {
        self.data.len() - self.data_start
    }

    /// Whether a completed split line can become the event's data buffer as it is: it is the
    /// first `data:` line of an event in progress (so the data buffer is empty).
    fn can_adopt(&self, line: &[u8]) -> bool {
        !self.has_data && !self.oversized && !self.at_start && line.starts_with(b"data:")
    }

    /// Copies a borrowed `data:` value into the event, as `process_line` would have.
    fn take_borrowed(&mut self, chunk: &[u8], borrowed: &mut Option<(usize, usize)>) {
        if let Some((start, stop)) = borrowed.take() {
            self.data.extend_from_slice(&chunk[start..stop]);
            self.has_data = true;
        }
    }

    /// Forgets everything about the current stream, for reuse on a new connection.
    /// The size limit is kept.
    pub fn reset(&mut self) {
        *self = Self::with_max_event_size(self.max_event_size);
    }

    fn keep_partial<F>(&mut self, bytes: &[u8], on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        if self.partial_overflow {
            return;
        }
        if self.oversized {
            // The event is being skipped; only the coming line end matters.
            self.partial_overflow = true;
            self.partial.clear();
            return;
        }
        if self.at_start && self.is_bom_prefix(bytes) {
            // A line that is (so far) only the stream's BOM is empty once the BOM is dropped,
            // and an empty line is never too large.
            self.partial.extend_from_slice(bytes);
            return;
        }
        if self.data_len() + self.partial.len() + bytes.len() > self.max_event_size {
            self.partial_overflow = true;
            self.partial = Vec::new();
            self.mark_oversized(on_event);
            return;
        }
        self.partial.extend_from_slice(bytes);
    }

    fn finish_partial<F>(&mut self, tail: &[u8], on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        if self.partial_overflow {
            // The overlong line ends here; it was already reported and dropped. It was a line,
            // so the stream's start (where a BOM may appear) is behind us.
            self.partial_overflow = false;
            self.at_start = false;
            return;
        }
        if self.at_start && self.is_bom_prefix(tail) {
            // The line is (part of) the BOM and nothing else: at most three bytes.
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(tail);
            self.process_line(&line, on_event);
            line.clear();
            self.partial = line;
            return;
        }
        let mut line = std::mem::take(&mut self.partial);
        if self.data_len() + line.len() + tail.len() > self.max_event_size {
            self.at_start = false;
            if !self.oversized {
                self.mark_oversized(on_event);
            }
        } else {
            line.extend_from_slice(tail);
            if self.can_adopt(&line) {
                // The event's first `data:` line: its buffer becomes the data, uncopied.
                self.data_start = 5 + usize::from(line.get(5) == Some(&b' '));
                std::mem::swap(&mut self.data, &mut line);
                self.has_data = true;
            } else {
                self.process_line(&line, on_event);
            }
        }
        line.clear();
        self.partial = line;
    }

    /// Whether the partial line followed by `more` is a prefix of the BOM (or the whole BOM).
    fn is_bom_prefix(&self, more: &[u8]) -> bool {
        let held = self.partial.len();
        held + more.len() <= BOM.len()
            && BOM[..held] == self.partial[..]
            && BOM[held..].starts_with(more)
    }

    fn process_line<F>(&mut self, raw: &[u8], on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        let mut line = raw;
        if self.at_start {
            self.at_start = false;
            if let Some(rest) = line.strip_prefix(BOM) {
                line = rest;
            }
        }
        if line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        if self.oversized {
            return;
        }
        // The limit counts whole raw lines, so it does not depend on how lines were chunked.
        if self.data_len() + raw.len() > self.max_event_size {
            self.mark_oversized(on_event);
            return;
        }
        if line[0] == b':' {
            if let Some(note) = SlowConsumer::from_comment(line) {
                self.slow_consumer = Some(note);
            }
            return;
        }
        let (field, value) = split_field(line);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"id" => self.set_last_event_id(value),
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&String::from_utf8_lossy(value));
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // A value too large to represent is ignored like any invalid one: the
                // previous valid value stays.
                if let Some(ms) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }

    /// Takes a non-empty or empty `id:` value, unless it holds NUL (the standard ignores those).
    fn set_last_event_id(&mut self, value: &[u8]) {
        if value.contains(&0) {
            return;
        }
        let buffer = &mut self.ids[1 - self.committed];
        buffer.clear();
        // Ids are a few ASCII digits: pushed byte by byte (the ASCII test in the loop lets each
        // push skip UTF-8 encoding), which beats from_utf8's set-up on a few bytes.
        for &b in value {
            if !b.is_ascii() {
                buffer.clear();
                buffer.push_str(&String::from_utf8_lossy(value));
                break;
            }
            buffer.push(char::from(b));
        }
        self.id_pending = true;
    }

    fn mark_oversized<F>(&mut self, on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        if !self.oversized {
            self.oversized = true;
            on_event(Err(SseError::EventTooLarge {
                limit: self.max_event_size,
            }));
        }
        // Give the memory back: an attacker's oversized event must not stay resident.
        self.data = Vec::new();
        self.data_start = 0;
        self.has_data = false;
    }

    /// The event ended (its blank line arrived): its id becomes the last event id, whether
    /// or not it carried data (as the standard's dispatch step does).
    #[inline]
    fn commit_id(&mut self) {
        if self.id_pending {
            self.committed = 1 - self.committed;
            self.id_pending = false;
        }
    }

    fn dispatch<F>(&mut self, on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        self.commit_id();
        if self.oversized {
            self.oversized = false;
        } else if self.has_data {
            emit(
                &self.ids[self.committed],
                &self.event_type,
                &self.data[self.data_start..],
                on_event,
            );
        }
        self.data.clear();
        self.data_start = 0;
        self.has_data = false;
        self.event_type.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Decoded = Vec<Result<(String, String, String), SseError>>;

    fn decode_in_chunks(input: &[u8], chunk_size: usize, max: usize) -> Decoded {
        let mut decoder = SseDecoder::with_max_event_size(max);
        let mut out = Vec::new();
        for chunk in input.chunks(chunk_size.max(1)) {
            decoder.feed(chunk, |event| {
                out.push(event.map(|e| (e.id.to_owned(), e.event.to_owned(), e.data.to_owned())))
            });
        }
        out
    }

    fn ok(id: &str, event: &str, data: &str) -> Result<(String, String, String), SseError> {
        Ok((id.to_owned(), event.to_owned(), data.to_owned()))
    }

    #[test]
    fn servicestack_frames_in_every_chunking() {
        let input =
            b"id: 1\ndata: cmd.onConnect {\"id\":\"x\"}\n\nid: 2\ndata: A@cmd.onJoin {}\n\n";
        for size in 1..=input.len() {
            assert_eq!(
                decode_in_chunks(input, size, 1024),
                vec![
                    ok("1", "message", "cmd.onConnect {\"id\":\"x\"}"),
                    ok("2", "message", "A@cmd.onJoin {}")
                ],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn crlf_and_cr_line_endings_split_anywhere() {
        let input = b"id: 7\r\ndata: a\r\ndata: b\r\n\r\ndata: c\rdata: d\r\r";
        for size in 1..=input.len() {
            assert_eq!(
                decode_in_chunks(input, size, 1024),
                vec![ok("7", "message", "a\nb"), ok("7", "message", "c\nd")],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn comments_unknown_fields_bom_and_padding_are_ignored() {
        let input = b"\xEF\xBB\xBF: hello\nfoo: bar\n\n\n\nevent: custom\ndata\ndata:x\n\n";
        assert_eq!(
            decode_in_chunks(input, 3, 1024),
            vec![ok("", "custom", "\nx")]
        );
    }

    #[test]
    fn data_less_blocks_update_the_id_and_retry_but_dispatch_nothing() {
        let mut decoder = SseDecoder::new();
        let mut count = 0;
        decoder.feed(b"id: 9\nretry: 1500\n\nretry: x1\n\n", |_| count += 1);
        assert_eq!(count, 0);
        assert_eq!(decoder.last_event_id(), "9");
        assert_eq!(decoder.retry_ms(), Some(1500));
    }

    #[test]
    fn id_with_nul_is_ignored_and_ids_persist() {
        assert_eq!(
            decode_in_chunks(b"id: 1\ndata: a\n\nid: b\0d\ndata: b\n\n", 4, 1024),
            vec![ok("1", "message", "a"), ok("1", "message", "b")]
        );
    }

    #[test]
    fn oversized_events_are_reported_skipped_and_decoding_resumes() {
        let mut input = b"data: small\n\ndata: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend_from_slice(b"\ndata: more\n\ndata: after\n\n");
        for size in [1, 7, 64, 100_000] {
            assert_eq!(
                decode_in_chunks(&input, size, 100),
                vec![
                    ok("", "message", "small"),
                    Err(SseError::EventTooLarge { limit: 100 }),
                    ok("", "message", "after")
                ],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn many_data_lines_are_bounded_too() {
        let input = "data: 0123456789\n".repeat(50) + "\ndata: ok\n\n";
        assert_eq!(
            decode_in_chunks(input.as_bytes(), 13, 100),
            vec![
                Err(SseError::EventTooLarge { limit: 100 }),
                ok("", "message", "ok")
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_reported_and_skipped() {
        assert_eq!(
            decode_in_chunks(b"id: 3\ndata: \xff\xfe\n\ndata: fine\n\n", 2, 1024),
            vec![
                Err(SseError::InvalidUtf8 { id: "3".into() }),
                ok("3", "message", "fine")
            ]
        );
    }

    #[test]
    fn utf8_split_across_chunks_is_kept_whole() {
        let input = "data: héllo wörld €\n\n".as_bytes();
        for size in 1..input.len() {
            assert_eq!(
                decode_in_chunks(input, size, 1024),
                vec![ok("", "message", "héllo wörld €")]
            );
        }
    }

    #[test]
    fn empty_data_line_dispatches_an_empty_event() {
        assert_eq!(
            decode_in_chunks(b"data:\n\n", 1, 1024),
            vec![ok("", "message", "")]
        );
    }

    #[test]
    fn a_bom_after_an_overflowing_first_line_is_not_the_streams_bom() {
        // Issue 18: the first line overflows through the partial-line path; the start-of-stream
        // state must end with it, or a later BOM line ends the skipped event early.
        let input = "xxx:xxxxxxxx:xxx:xx\r\u{feff}\rdata\r\r".as_bytes();
        let whole = decode_in_chunks(input, input.len(), 18);
        assert_eq!(whole, vec![Err(SseError::EventTooLarge { limit: 18 })]);
        for size in 1..input.len() {
            assert_eq!(
                decode_in_chunks(input, size, 18),
                whole,
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn a_bom_only_first_line_is_empty_under_any_limit_and_chunking() {
        // Found by the fuzz target's sweep: with a limit below the BOM's three bytes, the
        // partial-line path took a BOM-only first line for an oversized one.
        let input = "\u{feff}\n\r\ndata:x\n\n".as_bytes();
        for max in 1..=8 {
            let whole = decode_in_chunks(input, input.len(), max);
            for size in 1..input.len() {
                assert_eq!(
                    decode_in_chunks(input, size, max),
                    whole,
                    "max {max} size {size}"
                );
            }
        }
        assert_eq!(decode_in_chunks(input, 1, 6), vec![ok("", "message", "x")]);
    }

    #[test]
    fn overflowing_retry_keeps_the_previous_value() {
        let mut decoder = SseDecoder::new();
        decoder.feed(b"retry: 1500\n\nretry: 99999999999999999999999\n\n", |_| {});
        assert_eq!(decoder.retry_ms(), Some(1500));
    }

    #[test]
    fn the_id_of_an_event_cut_off_before_its_end_is_not_reported() {
        let mut decoder = SseDecoder::new();
        let mut seen = Vec::new();
        decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: cut", |e| {
            seen.push(e.map(|e| e.id.to_owned()))
        });
        assert_eq!(seen, vec![Ok("1".to_owned())]);
        assert_eq!(decoder.last_event_id(), "1", "event 2 was never delivered");
        decoder.feed(b"\n\n", |e| seen.push(e.map(|e| e.id.to_owned())));
        assert_eq!(decoder.last_event_id(), "2");
        assert_eq!(seen, vec![Ok("1".to_owned()), Ok("2".to_owned())]);
    }

    #[test]
    fn ids_persist_the_last_one_of_an_event_wins_and_is_reported_when_it_ends() {
        // The decoder keeps the last event id and a newer pending one in two slots and flips
        // between them when an event ends: every step here reads the right slot.
        let input =
            b"id: 1\nid: 2\ndata: a\n\ndata: b\n\nid: 3\ndata: \xff\n\nid: 4\n\ndata: c\n\n";
        for size in 1..=input.len() {
            let mut decoder = SseDecoder::new();
            let mut seen = Vec::new();
            let mut last_ids = Vec::new();
            for chunk in input.chunks(size) {
                decoder.feed(chunk, |e| {
                    seen.push(e.map(|e| (e.id.to_owned(), e.data.to_owned())))
                });
                last_ids.push(decoder.last_event_id().to_owned());
            }
            assert_eq!(
                seen,
                vec![
                    Ok(("2".to_owned(), "a".to_owned())),
                    Ok(("2".to_owned(), "b".to_owned())),
                    Err(SseError::InvalidUtf8 { id: "3".into() }),
                    Ok(("4".to_owned(), "c".to_owned())),
                ],
                "chunk size {size}"
            );
            assert_eq!(decoder.last_event_id(), "4");
            // The last event id only moves forward through the ids of ended events.
            let rank = |id: &String| {
                ["", "2", "3", "4"]
                    .iter()
                    .position(|known| known == id)
                    .unwrap_or_else(|| panic!("chunk size {size}: unexpected id {id:?}"))
            };
            assert!(
                last_ids.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
                "chunk size {size}: {last_ids:?}"
            );
        }
        let mut decoder = SseDecoder::new();
        decoder.feed(b"id: 5\ndata: x\n\nid: 6\ndata: cut", |_| {});
        assert_eq!(decoder.last_event_id(), "5", "id 6's event has not ended");
        decoder.reset();
        assert_eq!(decoder.last_event_id(), "");
        let mut ids = Vec::new();
        decoder.feed(b"data: y\n\n", |e| ids.push(e.map(|e| e.id.to_owned())));
        assert_eq!(
            ids,
            vec![Ok(String::new())],
            "a reset forgets the pending id too"
        );
    }

    #[test]
    fn an_id_line_obeys_the_size_limit_the_skipped_event_and_the_streams_start() {
        // `id:` lines whole in a chunk take a shortcut past `process_line`; it must keep each
        // of the general path's rules, in every chunking (split lines take the general path).
        let cases: [(&[u8], usize, Decoded, &str); 4] = [
            // The id of an event being skipped for its size is ignored.
            (
                b"data: xxxxxxxx\nid: 5\n\ndata: a\n\n",
                10,
                vec![
                    Err(SseError::EventTooLarge { limit: 10 }),
                    ok("", "message", "a"),
                ],
                "",
            ),
            // An id line that takes the event over the limit skips the event, id included.
            (
                b"data: abcd\nid: 123456\n\ndata: b\n\n",
                12,
                vec![
                    Err(SseError::EventTooLarge { limit: 12 }),
                    ok("", "message", "b"),
                ],
                "",
            ),
            // A first line that is an id ends the stream's start: a later BOM is not dropped.
            (
                "id: 7\n\u{feff}data: x\n\ndata: y\n\n".as_bytes(),
                1024,
                vec![ok("7", "message", "y")],
                "7",
            ),
            // Non-ASCII ids are kept (lossily), ids with NUL ignored, one leading space dropped.
            (
                b"id:  \xc3\xa9\xff\ndata: c\n\nid: 9\x00\ndata: d\n\n",
                1024,
                vec![
                    ok(" \u{e9}\u{fffd}", "message", "c"),
                    ok(" \u{e9}\u{fffd}", "message", "d"),
                ],
                " \u{e9}\u{fffd}",
            ),
        ];
        for (input, max, expected, last_id) in cases {
            for size in 1..=input.len() {
                let mut decoder = SseDecoder::with_max_event_size(max);
                let mut out = Vec::new();
                for chunk in input.chunks(size) {
                    decoder.feed(chunk, |event| {
                        out.push(
                            event.map(|e| (e.id.to_owned(), e.event.to_owned(), e.data.to_owned())),
                        )
                    });
                }
                assert_eq!(out, expected, "{input:?} chunk size {size}");
                assert_eq!(
                    decoder.last_event_id(),
                    last_id,
                    "{input:?} chunk size {size}"
                );
            }
        }
    }

    #[test]
    fn a_blank_line_ends_the_streams_start_and_dispatches_a_split_event() {
        // Blank lines whole in a chunk take a shortcut past `process_line`: a blank first line
        // still ends the stream's start (a later BOM is kept, so that line is an unknown
        // field), and an event whose data line was split across chunks is still dispatched.
        let input = "\n\u{feff}data: x\n\ndata: split across chunks\n\n".as_bytes();
        for size in 1..=input.len() {
            assert_eq!(
                decode_in_chunks(input, size, 1024),
                vec![ok("", "message", "split across chunks")],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn the_slow_consumer_note_is_recognised_in_any_chunking() {
        let input =
            b"data: a\n\n: keep-alive\n: slow consumer: more than 100 bytes behind, closing\n\n";
        for size in 1..=input.len() {
            let mut decoder = SseDecoder::new();
            for chunk in input.chunks(size) {
                decoder.feed(chunk, |_| {});
            }
            assert_eq!(
                decoder.slow_consumer(),
                Some(SlowConsumer {
                    limit_bytes: Some(100)
                }),
                "chunk size {size}"
            );
            decoder.reset();
            assert_eq!(decoder.slow_consumer(), None, "a new stream starts clean");
        }
        let mut decoder = SseDecoder::new();
        decoder.feed(b": slow consumer: closing\n: slow\n", |_| {});
        assert_eq!(
            decoder.slow_consumer(),
            Some(SlowConsumer { limit_bytes: None }),
            "a note without a size still counts"
        );
        let mut other = SseDecoder::new();
        other.feed(b": hello\n: slow\ndata: slow consumer:\n\n", |_| {});
        assert_eq!(
            other.slow_consumer(),
            None,
            "other comments and data do not"
        );
    }

    #[test]
    fn event_stream_content_types() {
        for ok in [
            "text/event-stream",
            "Text/Event-Stream; charset=utf-8",
            " text/event-stream ",
        ] {
            assert!(is_event_stream(ok), "{ok}");
        }
        for bad in [
            "",
            "text/html",
            "text/event-streams",
            "application/json; text/event-stream",
        ] {
            assert!(!is_event_stream(bad), "{bad}");
        }
    }

    #[test]
    fn buffers_are_reused_after_reset() {
        let mut decoder = SseDecoder::with_max_event_size(10);
        decoder.feed(b"id: 1\ndata: partial", |_| {});
        decoder.reset();
        let mut seen = Vec::new();
        decoder.feed(b"data: x\n\n", |e| seen.push(e.map(|e| e.data.to_owned())));
        assert_eq!(seen, vec![Ok("x".to_owned())]);
        assert_eq!(decoder.last_event_id(), "");
        assert_eq!(decoder.max_event_size(), 10);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(input: &[u8], cuts: &[usize]) -> Vec<Result<(String, String), SseError>> {
        let mut decoder = SseDecoder::with_max_event_size(256);
        let mut out = Vec::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        points.push(input.len());
        for end in points {
            if end < start {
                continue;
            }
            decoder.feed(&input[start..end], |e| {
                out.push(e.map(|e| (e.id.to_owned(), e.data.to_owned())))
            });
            start = end;
        }
        out
    }

    type Outcome = (
        Vec<Result<(String, String, String), SseError>>,
        String,
        Option<u64>,
    );

    /// The events, errors, last event id and retry value of `input` fed in the pieces `cuts`
    /// makes.
    fn decode_with_state(input: &[u8], cuts: &[usize], max: usize) -> Outcome {
        let mut decoder = SseDecoder::with_max_event_size(max);
        let mut out = Vec::new();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        points.push(input.len());
        let mut start = 0;
        for end in points {
            decoder.feed(&input[start..end], |e| {
                out.push(e.map(|e| (e.id.to_owned(), e.event.to_owned(), e.data.to_owned())))
            });
            start = end;
        }
        (out, decoder.last_event_id().to_owned(), decoder.retry_ms())
    }

    proptest! {
        /// However the bytes are cut into chunks, the decoded events are the same,
        /// and arbitrary input never panics.
        #[test]
        fn chunking_never_changes_the_result(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), Just(0xffu8),
                    Just(b'd'), Just(b'a'), Just(b't'), Just(b'i'), Just(b'x')
                ].boxed().prop_union(any::<u8>().boxed()), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            let whole = decode_all(&input, &[]);
            let chunked = decode_all(&input, &cuts);
            prop_assert_eq!(whole, chunked);
        }

        /// Streams of real-looking lines (multi-line data, ids, comments, event types, every
        /// line ending, lines split anywhere) decode alike in any chunking.
        #[test]
        fn structured_lines_decode_alike_in_any_chunking(
            lines in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("data:"), Just("data: "), Just("id: "), Just(": "), Just("event: "),
                        Just(""), Just("retry: "), Just("\u{feff}data: "),
                    ],
                    "[a-z0-9 {}\":é]{0,90}",
                    prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
                ),
                1..40,
            ),
            cuts in proptest::collection::vec(any::<usize>(), 0..30),
        ) {
            let input: String = lines.iter().map(|(f, v, e)| format!("{f}{v}{e}")).collect();
            let whole = decode_all(input.as_bytes(), &[]);
            prop_assert_eq!(&whole, &decode_all(input.as_bytes(), &cuts));
            let bytewise: Vec<usize> = (0..input.len()).collect();
            prop_assert_eq!(&whole, &decode_all(input.as_bytes(), &bytewise));
        }

        /// Small size limits, BOMs and every line ending, in any chunking: events, errors, the
        /// last event id and the retry value are the same as for the whole input. (Issue 18: a
        /// first line overflowing through the partial-line path used to keep the start-of-stream
        /// state, so a later BOM line depended on the chunking.)
        #[test]
        fn any_chunking_yields_the_same_result_under_small_limits(
            tokens in proptest::collection::vec(
                prop_oneof![
                    Just("\u{feff}"), Just("data"), Just("data:"), Just("id:"), Just("retry:"),
                    Just(":"), Just(" "), Just("x"), Just("7"), Just("\r"), Just("\n"),
                    Just("\r\n"), Just("\u{ff}"),
                ],
                0..60,
            ),
            max in 1usize..40,
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            let input: String = tokens.concat();
            let input = input.as_bytes();
            let whole = decode_with_state(input, &[], max);
            prop_assert_eq!(&whole, &decode_with_state(input, &cuts, max));
            let bytewise: Vec<usize> = (0..input.len()).collect();
            prop_assert_eq!(&whole, &decode_with_state(input, &bytewise, max));
        }

        /// Well-formed frames always come back exactly.
        #[test]
        fn well_formed_frames_round_trip(
            frames in proptest::collection::vec(("[0-9]{1,6}", "[a-zA-Z0-9 .@${}\":,é€]{0,40}"), 1..20),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            let mut input = String::new();
            for (id, data) in &frames {
                input.push_str(&format!("id: {id}\ndata: {data}\n\n"));
            }
            let expected: Vec<_> = frames.iter().map(|(id, data)| Ok((id.clone(), data.clone()))).collect();
            prop_assert_eq!(decode_all(input.as_bytes(), &cuts), expected);
        }
    }
}
