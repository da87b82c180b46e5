//! cargo fuzz target: `localplane::fuzzing::awsjson_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| localplane::fuzzing::awsjson_body(data));
