#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| servicestack_events_fuzz::decoder_chunking(data));
