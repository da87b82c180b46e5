//! cargo fuzz target: `localplane::fuzzing::dns_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| localplane::fuzzing::dns_query(data));
