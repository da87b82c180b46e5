//! cargo fuzz target: `localplane::fuzzing::rest_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| localplane::fuzzing::rest_request(data));
