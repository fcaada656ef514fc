//! libFuzzer entry for `encrypted_handshake`; the body is in
//! `bodies/encrypted_handshake.rs`, shared with the corpus replay test.
#![no_main]

#[path = "bodies/encrypted_handshake.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
