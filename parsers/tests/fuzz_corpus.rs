//! The fuzz seed corpora (and any crash the fuzzer found) replayed through
//! the parser fuzz targets' bodies, so that plain `cargo test` catches a
//! regression on a known-hard input without nightly or libFuzzer.
//!
//! The bodies are included from `fuzz/fuzz_targets/bodies/` rather than
//! copied: the fuzzer and this test run the same code (see fuzz/README.md).

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[path = "../../fuzz/fuzz_targets/bodies/certificate.rs"]
mod certificate;
#[path = "../../fuzz/fuzz_targets/bodies/client_hello.rs"]
mod client_hello;
#[path = "../../fuzz/fuzz_targets/bodies/encrypted_handshake.rs"]
mod encrypted_handshake;
#[path = "../../fuzz/fuzz_targets/bodies/plaintext_redact.rs"]
mod plaintext_redact;
#[path = "../../fuzz/fuzz_targets/bodies/quic_initial.rs"]
mod quic_initial;
#[path = "../../fuzz/fuzz_targets/bodies/server_hello.rs"]
mod server_hello;
#[path = "../../fuzz/fuzz_targets/bodies/tls_record_stream.rs"]
mod tls_record_stream;

#[test]
fn plaintext_redact_corpus_does_not_panic() {
    corpus_replay::replay("plaintext_redact", plaintext_redact::run);
}

#[test]
fn tls_record_stream_corpus_does_not_panic() {
    corpus_replay::replay("tls_record_stream", tls_record_stream::run);
}

#[test]
fn client_hello_corpus_does_not_panic() {
    corpus_replay::replay("client_hello", client_hello::run);
}

#[test]
fn server_hello_corpus_does_not_panic() {
    corpus_replay::replay("server_hello", server_hello::run);
}

#[test]
fn certificate_corpus_does_not_panic() {
    corpus_replay::replay("certificate", certificate::run);
}

#[test]
fn quic_initial_corpus_does_not_panic() {
    corpus_replay::replay("quic_initial", quic_initial::run);
}

#[test]
fn encrypted_handshake_corpus_does_not_panic() {
    corpus_replay::replay("encrypted_handshake", encrypted_handshake::run);
}
