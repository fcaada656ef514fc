//! libFuzzer entry for `quic_initial`; the body is in `bodies/quic_initial.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/quic_initial.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
