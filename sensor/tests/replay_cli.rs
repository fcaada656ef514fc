//! The `cipherlens replay` command as a user runs it: records on stdout that
//! validate, and clear errors for files that are cut short or not captures.

mod common;

use std::process::Command;

use cipherlens_integration::schema::assert_valid_session_record;
use common::corpus_root;
use serde_json::Value;

fn replay(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cipherlens"))
        .arg("replay")
        .args(args)
        .output()
        .expect("run cipherlens");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The session records of replay's output (it prints CNFlow records too).
fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("one JSON object per line"))
        .filter(|record| record["schema"] == "cipherlens.session/v1")
        .collect()
}

#[test]
fn truncated_capture_keeps_sessions_and_says_how_far_it_got() {
    let source = corpus_root().join("suricata-verify/tests/bug-2646-01/input.pcap");
    let bytes = std::fs::read(&source).expect("corpus pcap");
    let directory =
        std::env::temp_dir().join(format!("cipherlens-truncated-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let cut = directory.join("cut.pcap");
    // Cut inside the last record: every earlier frame is complete.
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write cut copy");

    let (whole_status, whole_stdout, _) = replay(&[source.to_str().expect("path")]);
    let (status, stdout, stderr) = replay(&[cut.to_str().expect("path"), "--stats"]);
    std::fs::remove_dir_all(&directory).ok();

    assert_eq!(whole_status, 0);
    assert_eq!(status, 1, "a truncated file must fail; stderr: {stderr}");
    assert!(
        stderr.contains("frames") && stderr.contains("bytes"),
        "error must say how far it got: {stderr}"
    );
    let whole = records(&whole_stdout);
    let partial = records(&stdout);
    assert!(
        !partial.is_empty(),
        "sessions before the cut are still reported"
    );
    assert_eq!(partial.len(), whole.len());
    for record in &partial {
        assert_valid_session_record(record);
    }
}

#[test]
fn a_file_that_is_not_a_capture_is_a_clear_error() {
    let directory = std::env::temp_dir().join(format!("cipherlens-notpcap-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let text = directory.join("notes.txt");
    std::fs::write(&text, "this is not a capture file\n").expect("write");
    let (status, stdout, stderr) = replay(&[text.to_str().expect("path")]);
    let (missing_status, _, missing_stderr) =
        replay(&[directory.join("absent.pcap").to_str().expect("path")]);
    std::fs::remove_dir_all(&directory).ok();
    assert_eq!(status, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("notes.txt"),
        "the error names the file: {stderr}"
    );
    assert_eq!(missing_status, 1);
    assert!(missing_stderr.contains("absent.pcap"), "{missing_stderr}");
}
