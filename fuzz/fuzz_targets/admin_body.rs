//! cargo fuzz target: `localplane::fuzzing::admin_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| localplane::fuzzing::admin_body(data));
