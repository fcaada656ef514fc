//! libFuzzer entry for `certificate`; the body is in `bodies/certificate.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/certificate.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
