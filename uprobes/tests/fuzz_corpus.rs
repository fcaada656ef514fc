//! The `elf_image` and `proc_maps` fuzz seeds (and any crash the fuzzer
//! found) replayed through the fuzz targets' bodies, so plain `cargo test`
//! runs them without nightly or libFuzzer (see fuzz/README.md).

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[path = "../../fuzz/fuzz_targets/bodies/elf_image.rs"]
mod elf_image;

#[path = "../../fuzz/fuzz_targets/bodies/proc_maps.rs"]
mod proc_maps;

#[test]
fn elf_image_corpus_does_not_panic() {
    corpus_replay::replay("elf_image", elf_image::run);
}

#[test]
fn proc_maps_corpus_does_not_panic() {
    corpus_replay::replay("proc_maps", proc_maps::run);
}
