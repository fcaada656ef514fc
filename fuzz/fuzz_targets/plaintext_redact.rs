//! libFuzzer entry for `plaintext_redact`; the body is in
//! `bodies/plaintext_redact.rs`, shared with the corpus replay test.
#![no_main]

#[path = "bodies/plaintext_redact.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
