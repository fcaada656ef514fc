//! The JSON, CSV and table exports of real sessions: totals agree with the
//! records, CSV reads back with an RFC 4180 reader, and text from the
//! network cannot turn into a spreadsheet formula or a terminal escape.

mod common;

use std::collections::BTreeSet;

use cipherlens_inventory::export::{csv, json, table};
use cipherlens_inventory::time::Timestamp;
use cipherlens_inventory::{Inventory, Snapshot};
use cipherlens_record::alert::{Finding, Severity};
use common::{ingest_file, records, values};
use serde_json::Value;

fn snapshot_of(dir: &std::path::Path, files: &[&str]) -> Snapshot {
    let mut inventory = Inventory::open(dir.join("i.db")).unwrap();
    for file in files {
        ingest_file(&mut inventory, file, "replay-node", None);
    }
    inventory.snapshot().unwrap()
}

/// RFC 4180 fields, written here rather than borrowed from the exporter.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(character) = chars.next() {
        match (quoted, character) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, other) => field.push(other),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, other) => field.push(other),
        }
    }
    rows
}

#[test]
fn json_totals_agree_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let files = ["live-node-a.jsonl", "replay-corpus.jsonl"];
    let snapshot = snapshot_of(dir.path(), &files);
    let mut out = Vec::new();
    json::write(&snapshot, "2026-11-29T12:00:00Z", &mut out).unwrap();
    let document: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(document["schema"], json::SCHEMA);
    let records: Vec<Value> = files.iter().flat_map(|f| values(f)).collect();
    assert_eq!(document["sessions"], records.len());
    let mut endpoint_sessions = 0;
    for endpoint in document["endpoints"].as_array().unwrap() {
        let clients: u64 = endpoint["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sessions"].as_u64().unwrap())
            .sum();
        assert_eq!(Some(clients), endpoint["sessions"].as_u64());
        endpoint_sessions += clients;
    }
    assert_eq!(endpoint_sessions as usize, records.len());
    let exported: BTreeSet<&str> = document["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["fingerprint_sha256"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| {
            let tls = &r["cipherlens"]["tls"];
            let server = tls["server_certificates"].as_array().unwrap();
            let client = tls["client_certificates"].as_array().unwrap();
            server.iter().chain(client)
        })
        .map(|c| c["fingerprint_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(exported, expected);
}

#[test]
fn csv_reads_back_and_defuses_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let mut inventory = Inventory::open(dir.path().join("i.db")).unwrap();
    let mut batch = inventory.batch("n").unwrap();
    for record in records("live-node-a.jsonl") {
        batch.ingest(&record, &[], None).unwrap();
    }
    let mut crafted = records("live-node-b.jsonl").remove(0);
    crafted.tls.client.server_name = Some("=HYPERLINK(\"http://x\",\"a, b\")".into());
    batch.ingest(&crafted, &[], None).unwrap();
    inventory.commit(batch).unwrap();
    let mut out = Vec::new();
    csv::write(&inventory.snapshot().unwrap(), &mut out).unwrap();
    let rows = read_csv(std::str::from_utf8(&out).unwrap());
    assert_eq!(rows[0], csv::COLUMNS);
    assert!(rows.iter().all(|row| row.len() == csv::COLUMNS.len()));
    let column = |name: &str| csv::COLUMNS.iter().position(|c| *c == name).unwrap();
    // Every session of the records is in the version rows.
    let versions: u64 = rows[1..]
        .iter()
        .filter(|row| row[0] == "used" && row[column("kind")] == "version")
        .map(|row| row[column("sessions")].parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        versions as usize,
        common::lines("live-node-a.jsonl").len() + 1
    );
    // Subjects with commas survive quoting.
    let subjects: BTreeSet<&str> = rows[1..]
        .iter()
        .filter(|row| row[0] == "certificate")
        .map(|row| row[column("subject")].as_str())
        .collect();
    assert!(subjects.contains("CN=legacy.inventory.test,O=Cipherlens Inventory Tests"));
    let sni = column("sni");
    assert!(
        rows[1..]
            .iter()
            .any(|row| row[sni] == "'=HYPERLINK(\"http://x\",\"a, b\")")
    );
    assert!(rows[1..].iter().all(|row| !row[sni].starts_with('=')));
}

#[test]
fn the_table_ranks_findings_shows_refusals_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut inventory = Inventory::open(dir.path().join("i.db")).unwrap();
    let mut batch = inventory.batch("n").unwrap();
    for record in records("live-node-a.jsonl") {
        let finding = |rule: &str, severity| Finding {
            rule: rule.into(),
            severity,
            message: String::new(),
            evidence: Default::default(),
        };
        let mut findings = Vec::new();
        if record.server.port == 44403 {
            findings.push(finding("tls.version.obsolete", Severity::High));
        }
        if record.server.port == 44406 {
            findings.push(finding("x509.self-signed", Severity::Medium));
        }
        batch.ingest(&record, &findings, None).unwrap();
    }
    let mut crafted = records("live-node-b.jsonl").remove(0);
    crafted.tls.client.server_name = Some("evil\u{1b}[2J\u{202e}name".into());
    let low = Finding {
        rule: "tls.sni.mismatch".into(),
        severity: Severity::Low,
        message: String::new(),
        evidence: Default::default(),
    };
    batch.ingest(&crafted, &[low], None).unwrap();
    inventory.commit(batch).unwrap();
    let options = table::Options {
        now: Timestamp::parse("2026-11-29T04:06:53Z").unwrap(),
        limit: 20,
    };
    let mut out = Vec::new();
    table::write(&inventory.snapshot().unwrap(), &options, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(text.contains("evil\\u{1b}[2J\\u{202e}name"));
    let lines: Vec<&str> = text.lines().collect();
    let section = |title: &str| lines.iter().position(|line| *line == title).unwrap();
    let findings = section("Endpoints by worst finding");
    assert!(
        lines[findings + 2].contains("legacy.inventory.test"),
        "{text}"
    );
    assert!(lines[findings + 2].trim_start().starts_with("high"));
    assert!(lines[findings + 3].contains("self.inventory.test"));
    // Sessions and endpoints with X25519MLKEM768, from the records.
    let mut records = values("live-node-a.jsonl");
    records.push(values("live-node-b.jsonl").remove(0));
    let hybrid = records
        .iter()
        .filter(|r| r["cipherlens"]["tls"]["key_exchange_group"]["name"] == "X25519MLKEM768")
        .count();
    assert!(text.contains(&format!(
        "sessions with a hybrid (post-quantum) key exchange: {hybrid} of {}",
        records.len()
    )));
    let refused = section(
        "  servers that refused it (the client offered one, the server chose a classical group):",
    );
    assert!(
        lines[refused + 2].contains("modern.inventory.test")
            && lines[refused + 2].ends_with("x25519")
    );
    // The certificate made to expire 10 days after the run comes first.
    let expiring = section("Certificates expiring soonest");
    let first = lines[expiring + 2];
    assert!(first.starts_with("  2026-12-09T04:06:53Z  10 "), "{first}");
    assert!(first.contains("CN=expiring.inventory.test"));
}
