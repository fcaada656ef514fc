//! libFuzzer entry for `kernel_event`; the body is in `bodies/kernel_event.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/kernel_event.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
