//! Replays a fuzz target's corpus through its body under `cargo test`.
//!
//! Included with `#[path]` by `parsers/tests/fuzz_corpus.rs`,
//! `capture/tests/fuzz_corpus.rs` and `inventory/tests/fuzz_corpus.rs`, next
//! to the target bodies in `fuzz_targets/bodies/`, so that every
//! `cargo test` runs the seeds and any crash the fuzzer found
//! (`artifacts-found/<target>/`) through exactly the code the fuzzer runs,
//! without nightly or libFuzzer.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

/// The `fuzz/` directory, seen from the crate whose tests include this file.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Files directly in `directory`, sorted; `None` if it cannot be read.
fn files_in(directory: &Path) -> Option<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(directory)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    Some(files)
}

/// Runs `body` on every seed of `target` and every crash found for it.
///
/// Fails if the seed directory is missing or empty (a replay of nothing
/// proves nothing) and, after trying every file, names each file whose run
/// panicked.
pub fn replay(target: &str, body: fn(&[u8])) {
    let seed_dir = fuzz_dir().join("corpus").join(target);
    let seeds = files_in(&seed_dir)
        .unwrap_or_else(|| panic!("seed corpus {} is missing", seed_dir.display()));
    assert!(
        !seeds.is_empty(),
        "seed corpus {} is empty",
        seed_dir.display()
    );
    let crashes_found =
        files_in(&fuzz_dir().join("artifacts-found").join(target)).unwrap_or_default();

    let mut panicked = Vec::new();
    for file in seeds.iter().chain(&crashes_found) {
        let data = fs::read(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        if panic::catch_unwind(|| body(&data)).is_err() {
            panicked.push(file.display().to_string());
        }
    }
    assert!(
        panicked.is_empty(),
        "{target}: {} of {} inputs panicked (messages above): {panicked:#?}",
        panicked.len(),
        seeds.len() + crashes_found.len()
    );
}
