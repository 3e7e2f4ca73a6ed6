//! The fuzz targets' bodies on stable: the issue-18 example and a deterministic sweep of
//! SSE-like inputs, so a regression fails `cargo test` without a fuzzing run.

use servicestack_events_fuzz::decoder_chunking;

/// The input of issue 18: with limit 18, cut after byte 1, it used to give an extra event.
#[test]
fn the_bom_after_an_overflowing_first_line() {
    let mut data = vec![17, 1, 1, 0];
    data.extend_from_slice("xxx:xxxxxxxx:xxx:xx\r\u{feff}\rdata\r\r".as_bytes());
    decoder_chunking(&data);
}

/// SSE-like tokens in pseudo-random order, limits and cuts (xorshift: the same every run).
#[test]
fn a_deterministic_sweep() {
    const TOKENS: [&[u8]; 14] = [
        b"data",
        b"data:",
        b"id:",
        b"retry:",
        b":",
        b" ",
        b"x",
        b"7",
        b"\r",
        b"\n",
        b"\r\n",
        "\u{feff}".as_bytes(),
        b"\xff",
        b"99999999999999999999999",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let cuts = (next() % 16) as usize;
        let mut data = vec![next() as u8, cuts as u8];
        for _ in 0..cuts {
            data.extend_from_slice(&(next() as u16).to_le_bytes());
        }
        for _ in 0..(next() % 40) {
            data.extend_from_slice(TOKENS[(next() % TOKENS.len() as u64) as usize]);
        }
        decoder_chunking(&data);
    }
}
