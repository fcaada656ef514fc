//! The fuzz seed corpora (and any crash the fuzzer found) replayed through
//! the configuration file and directive fuzz targets' bodies, so that plain
//! `cargo test` catches a regression on a known-hard input without nightly
//! or libFuzzer.
//!
//! The bodies are included from `fuzz/fuzz_targets/bodies/` rather than
//! copied: the fuzzer and this test run the same code (see fuzz/README.md).

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[path = "../../fuzz/fuzz_targets/bodies/config_file.rs"]
mod config_file;
#[path = "../../fuzz/fuzz_targets/bodies/directive.rs"]
mod directive;

use std::path::Path;

#[test]
fn config_file_corpus_does_not_panic() {
    corpus_replay::replay("config_file", config_file::run);
}

#[test]
fn directive_corpus_does_not_panic() {
    corpus_replay::replay("directive", directive::run);
}

fn seed(target: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The lines of the first fenced `language` block in a module's docs.
fn documented_block(source: &str, language: &str) -> Vec<String> {
    source
        .lines()
        .skip_while(|line| *line != format!("//! ```{language}"))
        .skip(1)
        .take_while(|line| !line.starts_with("//! ```"))
        .map(|line| {
            line.trim_start_matches("//!")
                .trim_start_matches(' ')
                .to_string()
        })
        .collect()
}

/// The seeds are the real examples, not stale copies of them.
#[test]
fn the_seeds_hold_the_documented_examples() {
    let config = documented_block(include_str!("../src/config/mod.rs"), "toml");
    assert_eq!(seed("config_file", "documented"), config.join("\n") + "\n");
    let configmap = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/cipherlens.yaml"),
    )
    .expect("the plain manifests");
    let shipped = seed("config_file", "configmap");
    assert!(shipped.starts_with("[capture]"), "{shipped}");
    for line in shipped.lines().filter(|line| !line.is_empty()) {
        assert!(
            configmap.contains(&format!("    {line}\n")),
            "{line:?} is not in the ConfigMap"
        );
    }
    let directives = documented_block(include_str!("../src/directive.rs"), "json");
    assert_eq!(directives.len(), 4);
    for (name, example) in ["status", "interfaces", "sampling", "plaintext"]
        .iter()
        .zip(&directives)
    {
        assert_eq!(&seed("directive", name), example, "{name}");
    }
}
