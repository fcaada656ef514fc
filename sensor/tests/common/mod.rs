//! Shared helpers for the sensor's tests: replay a capture into JSON
//! records (validated against the published schema by the integration
//! crate's one compiler), and ask tshark.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cipherlens_integration::schema::assert_valid_session_record;
use cipherlens_sensor::build::{BuildCaches, session_record};
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::replay::replay_file;
use serde_json::Value;

/// Repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sensor has a parent")
        .to_path_buf()
}

/// The shared third-party corpus (../shared/corpus beside the checkout).
pub fn corpus_root() -> PathBuf {
    let root = repo_root().join("../shared/corpus");
    assert!(
        root.is_dir(),
        "third-party corpus not found at {}",
        root.display()
    );
    root
}

/// Replays `pcap` and returns its records as JSON, each validated.
pub fn replay_records(pcap: &Path) -> Vec<Value> {
    replay_records_with(pcap, PipelineConfig::default())
}

/// [`replay_records`] with a pipeline configuration.
pub fn replay_records_with(pcap: &Path, config: PipelineConfig) -> Vec<Value> {
    let mut records = Vec::new();
    let mut certificates = BuildCaches::default();
    let result = replay_file(pcap, config, |finished| {
        let record = session_record(&finished, &mut certificates);
        records.push(serde_json::to_value(&record).expect("record serializes"));
    });
    if let Err(error) = result {
        // Truncated third-party captures still yield their sessions.
        eprintln!("note: {error}");
    }
    for record in &records {
        assert_valid_session_record(record);
    }
    records
}

/// Value at a dotted path (`tls.client.server_name`), array indexes allowed (`alpn.0`).
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |current, key| match key.parse::<usize>() {
            Ok(index) if current.is_array() => current.get(index),
            _ => current.get(key),
        })
}

/// String at a dotted path.
pub fn str_at<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// Runs tshark with `args` and returns stdout; panics if tshark is missing
/// (the conformance oracle must exist for these tests to mean anything).
pub fn tshark(args: &[&str]) -> String {
    let output = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("tshark is required (run scripts/setup.sh): {error}"));
    assert!(
        output.status.success() || !output.stdout.is_empty(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every capture file under `dir`, sorted.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
