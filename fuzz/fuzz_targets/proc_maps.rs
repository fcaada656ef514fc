//! libFuzzer entry for `proc_maps`; the body is in `bodies/proc_maps.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/proc_maps.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
