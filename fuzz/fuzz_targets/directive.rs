//! libFuzzer entry for `directive`; the body is in `bodies/directive.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/directive.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
