//! libFuzzer entry for `tls_record_stream`; the body is in `bodies/tls_record_stream.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/tls_record_stream.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
