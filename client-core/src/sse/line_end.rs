//! Finding the next line end (`\n` or `\r`) of a Server-Sent Events stream.
//!
//! `memchr::memchr2` picks its vector routine on every call (an indirect call through a
//! function pointer that rebuilds the needle vectors), which on a ~150-byte ServiceStack frame
//! line costs about as much as the scan itself. The decoder keeps one [`LineEnds`] for its
//! lifetime instead, so the choice and the vectors are made once per stream.

/// Inputs shorter than this are scanned byte by byte: a vector search's set-up costs more than
/// the scan itself on a few bytes, and small chunks are what a slow network delivers.
const SHORT_SCAN: usize = 16;

/// A line-end searcher built once per decoder.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineEnds {
    /// The AVX2 searcher, when this CPU has AVX2 (checked once, here).
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl LineEnds {
    /// Detects the CPU's best searcher.
    pub(super) fn new() -> Self {
        LineEnds {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\n', b'\r'),
        }
    }

    /// The position of the first `\n` or `\r` in `input`.
    #[inline]
    pub(super) fn find(&self, input: &[u8]) -> Option<usize> {
        if input.len() < SHORT_SCAN {
            return input.iter().position(|&b| b == b'\n' || b == b'\r');
        }
        if matches!(input[0], b'\n' | b'\r') {
            // The blank line that ends every event.
            return Some(0);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = &self.avx2 {
            return avx2.find(input);
        }
        memchr::memchr2(b'\n', b'\r', input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position of a line end, in short and long inputs, `\n` and `\r`, is found, and an
    /// input without one yields `None` (the vector path and the byte loop agree with a plain
    /// search).
    #[test]
    fn finds_the_first_line_end_at_every_position_and_length() {
        let ends = LineEnds::new();
        for len in 0..200 {
            let plain = vec![b'x'; len];
            assert_eq!(ends.find(&plain), None, "len {len}");
            for at in 0..len {
                for terminator in [b'\n', b'\r'] {
                    let mut input = plain.clone();
                    input[at] = terminator;
                    if at + 1 < len {
                        // A later line end of the other kind must not win.
                        input[len - 1] = b'\n' ^ b'\r' ^ terminator;
                    }
                    assert_eq!(ends.find(&input), Some(at), "len {len} at {at}");
                }
            }
        }
    }
}
