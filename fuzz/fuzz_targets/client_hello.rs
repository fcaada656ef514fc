//! libFuzzer entry for `client_hello`; the body is in `bodies/client_hello.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/client_hello.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
