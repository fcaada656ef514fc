//! The `inventory_json_line` fuzz seeds (and any crash the fuzzer found)
//! replayed through the fuzz target's body, so plain `cargo test` runs them
//! without nightly or libFuzzer (see fuzz/README.md).

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[path = "../../fuzz/fuzz_targets/bodies/inventory_json_line.rs"]
mod inventory_json_line;

#[test]
fn inventory_json_line_corpus_does_not_panic() {
    corpus_replay::replay("inventory_json_line", inventory_json_line::run);
}
