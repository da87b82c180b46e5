//! cargo fuzz target: `localplane::fuzzing::cbor_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| localplane::fuzzing::cbor_body(data));
