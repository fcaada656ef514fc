//! libFuzzer entry for `tcp_metrics_frame`; the body is in `bodies/tcp_metrics_frame.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/tcp_metrics_frame.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
