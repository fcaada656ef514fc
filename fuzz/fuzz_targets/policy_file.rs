//! libFuzzer entry for `policy_file`; the body is in `bodies/policy_file.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/policy_file.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
