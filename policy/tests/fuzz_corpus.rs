//! The `policy_file` fuzz seeds (and any crash the fuzzer found) replayed
//! through the fuzz target's body, so plain `cargo test` catches a panic
//! on a known-hard policy file without nightly or libFuzzer.
//!
//! The body is included from `fuzz/fuzz_targets/bodies/` rather than
//! copied: the fuzzer and this test run the same code (see fuzz/README.md).

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[path = "../../fuzz/fuzz_targets/bodies/policy_file.rs"]
mod policy_file;

#[test]
fn policy_file_corpus_does_not_panic() {
    corpus_replay::replay("policy_file", policy_file::run);
}
