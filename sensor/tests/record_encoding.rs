//! The record writer encodes session and CNFlow records with sonic-rs
//! (`writer::encode`); serde_json, the reference serializer of the serde
//! data model, is the oracle: on every session and flow of every fixture
//! and third-party capture, the two must write the same bytes.

mod common;

use std::path::Path;

use cipherlens_sensor::build::{BuildCaches, cnflow_record, session_record};
use cipherlens_sensor::cnflow::CnFlowConfig;
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::replay::{ReplayOptions, Replayed, replay_capture};
use cipherlens_sensor::writer::encode::encode_record;

use common::{captures_under, corpus_root, repo_root};

/// Records of `pcap` whose two encodings differ, as (serde_json, sonic-rs);
/// and how many records were compared.
fn differences(pcap: &Path) -> (Vec<(String, String)>, usize) {
    let mut certificates = BuildCaches::default();
    let mut different = Vec::new();
    let mut compared = 0;
    let mut compare = |reference: Vec<u8>, encoded: Vec<u8>| {
        compared += 1;
        if reference != encoded {
            different.push((
                String::from_utf8_lossy(&reference).into_owned(),
                String::from_utf8_lossy(&encoded).into_owned(),
            ));
        }
    };
    let options = ReplayOptions {
        flows: Some(CnFlowConfig::default()),
        ..ReplayOptions::default()
    };
    let _ = replay_capture(pcap, PipelineConfig::default(), options, |item| {
        let mut encoded = Vec::new();
        match item {
            Replayed::Session(finished) => {
                let record = session_record(&finished, &mut certificates);
                encode_record(&record, &mut encoded).expect("sonic-rs encodes");
                compare(
                    serde_json::to_vec(&record).expect("serde_json encodes"),
                    encoded,
                );
            }
            Replayed::Flow(facts) => {
                let record = cnflow_record(&facts, 0, None, 0);
                encode_record(&record, &mut encoded).expect("sonic-rs encodes");
                compare(
                    serde_json::to_vec(&record).expect("serde_json encodes"),
                    encoded,
                );
            }
        }
    });
    (different, compared)
}

#[test]
fn session_and_flow_records_encode_as_serde_json_encodes_them() {
    let mut captures = captures_under(&repo_root().join("fixtures"));
    captures.extend(captures_under(&corpus_root()));
    assert!(captures.len() > 50, "captures: {}", captures.len());
    let mut compared = 0;
    for pcap in &captures {
        let (different, count) = differences(pcap);
        compared += count;
        if let Some((reference, encoded)) = different.first() {
            panic!(
                "{}: {} of {count} records differ; first:\nserde_json: {reference}\nsonic-rs:   {encoded}",
                pcap.display(),
                different.len()
            );
        }
    }
    // Most captures hold a handshake and its flow: the comparison covers
    // more records than there are captures.
    assert!(
        compared > captures.len(),
        "records compared: {compared}, captures: {}",
        captures.len()
    );
}
