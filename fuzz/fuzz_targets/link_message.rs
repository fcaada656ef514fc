//! libFuzzer entry for `link_message`; the body is in `bodies/link_message.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/link_message.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
