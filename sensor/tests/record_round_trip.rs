//! Every record `cipherlens replay` prints for the fixture captures and the
//! third-party corpus deserializes into `cipherlens_record::SessionRecord`
//! (or `CnFlowRecord`) and serializes back to the very same bytes, and
//! validates against the published schema: the record crate is what a
//! consumer can rely on.

mod common;

use std::process::Command;

use cipherlens_integration::schema::{assert_valid_cnflow_record, assert_valid_session_record};
use cipherlens_record::SessionRecord;
use cipherlens_record::cnflow::CnFlowRecord;
use common::{captures_under, corpus_root, repo_root};

#[test]
fn every_replayed_record_round_trips_through_the_record_types() {
    let mut captures = captures_under(&repo_root().join("fixtures/pcaps"));
    captures.extend(captures_under(&corpus_root()));
    assert!(captures.len() > 20, "captures found: {}", captures.len());
    let output = Command::new(env!("CARGO_BIN_EXE_cipherlens"))
        .arg("replay")
        .args(&captures)
        .output()
        .expect("run cipherlens replay");
    // Some corpus captures are truncated on purpose: replay then exits 1
    // after printing every session it saw; the records are what matters.
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 records");
    let mut checked = 0;
    let mut flows = 0;
    for line in stdout.lines() {
        if line.contains("\"schema\":\"cipherlens.cnflow/v1\"") {
            let record: CnFlowRecord =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
            let again = serde_json::to_string(&record).expect("serialize");
            assert_eq!(again, line, "flow record does not round-trip");
            assert_valid_cnflow_record(&serde_json::from_str(line).expect("JSON"));
            flows += 1;
            continue;
        }
        let record: SessionRecord =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
        let again = serde_json::to_string(&record).expect("serialize");
        assert_eq!(again, line, "record does not round-trip");
        assert_valid_session_record(&serde_json::from_str(line).expect("JSON"));
        checked += 1;
    }
    assert!(
        flows >= checked,
        "{flows} flow records for {checked} sessions"
    );
    assert!(checked >= 60, "only {checked} records");
}
