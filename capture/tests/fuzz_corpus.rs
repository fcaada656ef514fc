//! The fuzz seed corpora (and any crash the fuzzer found) replayed through
//! the capture fuzz targets' bodies, so that plain `cargo test` catches a
//! regression on a known-hard input without nightly or libFuzzer.
//!
//! The bodies are included from `fuzz/fuzz_targets/bodies/` rather than
//! copied: the fuzzer and this test run the same code (see fuzz/README.md).

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[path = "../../fuzz/fuzz_targets/bodies/kernel_event.rs"]
mod kernel_event;
#[path = "../../fuzz/fuzz_targets/bodies/link_message.rs"]
mod link_message;
#[path = "../../fuzz/fuzz_targets/bodies/namespace_id_message.rs"]
mod namespace_id_message;
#[path = "../../fuzz/fuzz_targets/bodies/pcap_reader.rs"]
mod pcap_reader;
#[path = "../../fuzz/fuzz_targets/bodies/tcp_metrics_frame.rs"]
mod tcp_metrics_frame;
#[path = "../../fuzz/fuzz_targets/bodies/tcp_reassembly.rs"]
mod tcp_reassembly;

#[test]
fn pcap_reader_corpus_does_not_panic() {
    corpus_replay::replay("pcap_reader", pcap_reader::run);
}

#[test]
fn tcp_reassembly_corpus_does_not_panic() {
    corpus_replay::replay("tcp_reassembly", tcp_reassembly::run);
}

#[test]
fn kernel_event_corpus_does_not_panic() {
    corpus_replay::replay("kernel_event", kernel_event::run);
}

#[test]
fn link_message_corpus_does_not_panic() {
    corpus_replay::replay("link_message", link_message::run);
}

#[test]
fn namespace_id_message_corpus_does_not_panic() {
    corpus_replay::replay("namespace_id_message", namespace_id_message::run);
}

#[test]
fn tcp_metrics_frame_corpus_does_not_panic() {
    corpus_replay::replay("tcp_metrics_frame", tcp_metrics_frame::run);
}
