//! The bodies of the fuzz targets, as plain functions: libFuzzer calls them from
//! `fuzz_targets/`, and `tests/seeds.rs` runs them on stable.

use servicestack_events::sse::{SseDecoder, SseError};

/// What a decoder produced: every event (id, type, data) or error, then the last event id and
/// the retry value.
type Outcome = (
    Vec<Result<(String, String, String), SseError>>,
    String,
    Option<u64>,
);

fn decode(input: &[u8], cuts: &[usize], max_event_size: usize) -> Outcome {
    let mut decoder = SseDecoder::with_max_event_size(max_event_size);
    let mut events = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        decoder.feed(&input[start..end], |event| {
            events.push(event.map(|e| (e.id.to_owned(), e.event.to_owned(), e.data.to_owned())))
        });
        start = end;
    }
    (
        events,
        decoder.last_event_id().to_owned(),
        decoder.retry_ms(),
    )
}

/// Any chunking of any input decodes to the same events, errors, last event id and retry value
/// as the whole input, and nothing panics.
///
/// `data` is read as: one byte for the size limit (1 to 64, small so that overflows happen),
/// one byte for the number of cuts (0 to 15), two bytes per cut position, then the stream.
/// Panics when a chunking changes the result.
pub fn decoder_chunking(data: &[u8]) {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut_count, rest)) = rest.split_first() else {
        return;
    };
    let cut_bytes = usize::from(cut_count % 16) * 2;
    if rest.len() < cut_bytes {
        return;
    }
    let (cut_data, input) = rest.split_at(cut_bytes);
    let mut cuts: Vec<usize> = cut_data
        .chunks_exact(2)
        .map(|pair| usize::from(u16::from_le_bytes([pair[0], pair[1]])) % (input.len() + 1))
        .collect();
    cuts.sort_unstable();
    let max_event_size = 1 + usize::from(limit % 64);
    let whole = decode(input, &[], max_event_size);
    let chunked = decode(input, &cuts, max_event_size);
    assert_eq!(whole, chunked, "cuts {cuts:?} changed the result");
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        whole,
        decode(input, &bytewise, max_event_size),
        "byte by byte"
    );
}
