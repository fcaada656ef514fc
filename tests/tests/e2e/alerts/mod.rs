//! Policy alerts from real sessions: servers and clients made to have each
//! condition of the default rules ([`conditions`], [`default_rules`]), deduplication, reloads
//! and refused policy files ([`dedup`]). Expectations come from tshark on a
//! parallel capture and openssl's reading of the certificates the servers
//! were given ([`wire`], [`expected`]), and `cipherlens replay` of the
//! capture must raise the alerts the live sensor raised.

mod conditions;
mod dedup;
mod default_rules;
mod expected;
mod wire;

use std::path::Path;
use std::process::Command;

use cipherlens_integration::{schema, sensor_binary};
use serde_json::Value;

/// Writes a policy file into `dir`.
fn write_policy(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("policy file");
    path
}

/// `cipherlens replay --policy POLICY PCAP`: its records in order, each
/// checked against its schema.
fn replay(pcap: &Path, policy: &Path) -> Vec<Value> {
    let output = Command::new(sensor_binary())
        .arg("replay")
        .arg("--no-cnflow")
        .arg("--policy")
        .arg(policy)
        .arg(pcap)
        .output()
        .expect("replay");
    assert!(
        output.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("record is JSON"))
        .collect();
    for record in &records {
        match record["schema"].as_str() {
            Some("cipherlens.alert/v1") => schema::assert_valid_alert_record(record),
            _ => schema::assert_valid_session_record(record),
        }
    }
    records
}

/// The alerts of a record stream, checked for their place in it: each
/// names a session record that came before it, by Community ID and start,
/// and that session is the latest it stands for (`session.start` is
/// `event.last_seen`). An alert published on its session (not a summary
/// of held-back repeats) comes right after that session's record, only
/// other alerts between them; `published_on_session` says which alerts
/// must be such.
fn alerts_in_order(records: &[Value], published_on_session: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut sessions_so_far: Vec<&Value> = Vec::new();
    let mut alerts = Vec::new();
    for record in records {
        if record["schema"] != "cipherlens.alert/v1" {
            sessions_so_far.push(record);
            continue;
        }
        let named = |session: &&Value| {
            session["network"]["community_id"] == record["session"]["community_id"]
                && session["event"]["start"] == record["session"]["start"]
        };
        assert!(
            sessions_so_far.iter().any(named),
            "alert before (or without) its session record: {record}"
        );
        if published_on_session(record) {
            let last = sessions_so_far.last().expect("a session before");
            assert!(
                named(last),
                "alert not right after its session record: {record}\nlast session: {last}"
            );
        }
        let event = &record["event"];
        assert_eq!(event["last_seen"], record["session"]["start"], "{record}");
        let (first, last) = (
            event["first_seen"].as_str().expect("first_seen"),
            event["last_seen"].as_str().expect("last_seen"),
        );
        assert!(
            cipherlens_integration::x509::unix_seconds(first)
                <= cipherlens_integration::x509::unix_seconds(last),
            "{record}"
        );
        alerts.push(record.clone());
    }
    alerts
}
