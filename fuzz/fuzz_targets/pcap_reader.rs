//! libFuzzer entry for `pcap_reader`; the body is in `bodies/pcap_reader.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/pcap_reader.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
