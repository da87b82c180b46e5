//! cargo fuzz target: `localplane::fuzzing::sigv4_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| localplane::fuzzing::sigv4_header(data));
