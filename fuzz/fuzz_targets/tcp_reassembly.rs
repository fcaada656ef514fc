//! libFuzzer entry for `tcp_reassembly`; the body is in `bodies/tcp_reassembly.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/tcp_reassembly.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
