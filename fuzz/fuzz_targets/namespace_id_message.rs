//! libFuzzer entry for `namespace_id_message`; the body is in `bodies/namespace_id_message.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/namespace_id_message.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
