//! libFuzzer entry for `inventory_json_line`; the body is in `bodies/inventory_json_line.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/inventory_json_line.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
