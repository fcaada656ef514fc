//! Ingest of real session records: counts agree with the records (read here
//! as plain JSON, not through this crate), positions make a second ingest
//! of the same lines count nothing, and a conflicting writer is refused.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use cipherlens_inventory::{Error, Ingested, Inventory, Position, SCHEMA_VERSION};
use cipherlens_record::alert::{EvidenceValue, Finding, Severity};
use common::{ALL, count, dump, ingest_file, lines, records, values};
use serde_json::Value;

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_str)
}

/// (node, transport, address, port, sni) of a record, as the JSON says.
fn endpoint_of(record: &Value, default_node: &str) -> (String, String, String, i64, String) {
    (
        text(record, &["host", "name"])
            .unwrap_or(default_node)
            .to_owned(),
        text(record, &["network", "transport"]).unwrap().to_owned(),
        text(record, &["server", "address"]).unwrap().to_owned(),
        record["server"]["port"].as_i64().unwrap(),
        text(record, &["tls", "client", "server_name"])
            .unwrap_or("")
            .to_owned(),
    )
}

#[test]
fn the_same_lines_ingested_twice_with_positions_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let total = lines("live-node-a.jsonl").len();
    ingest_file(
        &mut inventory,
        "live-node-a.jsonl",
        "unused",
        Some("file:a"),
    );
    let once = dump(&path);
    assert_eq!(inventory.position("file:a").unwrap(), Some(total as u64));

    let mut batch = inventory.batch("unused").unwrap();
    for (line, record) in records("live-node-a.jsonl").iter().enumerate() {
        let position = Position {
            source: "file:a",
            sequence: line as u64 + 1,
        };
        assert_eq!(
            batch.ingest(record, &[], Some(position)).unwrap(),
            Ingested::AlreadyApplied
        );
    }
    let committed = inventory.commit(batch).unwrap();
    assert_eq!(
        (committed.records, committed.already_applied),
        (0, total as u64)
    );
    assert_eq!(dump(&path), once, "a second ingest changed the inventory");
    assert_eq!(
        count(&path, "SELECT sum(sessions) FROM endpoints"),
        total as i64
    );
}

#[test]
fn a_restart_resumes_after_the_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let resumed = dir.path().join("resumed.db");
    let whole = dir.path().join("whole.db");
    let records = records("replay-corpus.jsonl");
    let half = records.len() / 2;
    {
        let mut inventory = Inventory::open(&resumed).unwrap();
        let mut batch = inventory.batch("n").unwrap();
        for (line, record) in records[..half].iter().enumerate() {
            let position = Position {
                source: "jetstream:S:c",
                sequence: line as u64 + 1,
            };
            batch.ingest(record, &[], Some(position)).unwrap();
        }
        inventory.commit(batch).unwrap();
        // Records batched but never committed (the consumer died).
        let mut lost = inventory.batch("n").unwrap();
        for (line, record) in records[half..].iter().enumerate() {
            let position = Position {
                source: "jetstream:S:c",
                sequence: (half + line) as u64 + 1,
            };
            lost.ingest(record, &[], Some(position)).unwrap();
        }
        drop(lost);
    }
    // The restarted consumer is redelivered everything from the start.
    let mut inventory = Inventory::open(&resumed).unwrap();
    assert_eq!(
        inventory.position("jetstream:S:c").unwrap(),
        Some(half as u64)
    );
    let mut batch = inventory.batch("n").unwrap();
    let mut applied = 0;
    for (line, record) in records.iter().enumerate() {
        let position = Position {
            source: "jetstream:S:c",
            sequence: line as u64 + 1,
        };
        if batch.ingest(record, &[], Some(position)).unwrap() == Ingested::Applied {
            applied += 1;
        }
    }
    inventory.commit(batch).unwrap();
    assert_eq!(applied, records.len() - half);

    let mut reference = Inventory::open(&whole).unwrap();
    ingest_file(&mut reference, "replay-corpus.jsonl", "n", None);
    let without_positions = |rows: Vec<String>| -> Vec<String> {
        rows.into_iter()
            .filter(|row| !row.starts_with("ingest_positions:"))
            .collect()
    };
    assert_eq!(
        without_positions(dump(&resumed)),
        without_positions(dump(&whole))
    );
}

#[test]
fn a_second_writer_of_the_same_source_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let records = records("live-node-b.jsonl");
    let mut first = inventory.batch("n").unwrap();
    let mut second = inventory.batch("n").unwrap();
    let position = Position {
        source: "s",
        sequence: 1,
    };
    first.ingest(&records[0], &[], Some(position)).unwrap();
    second.ingest(&records[1], &[], Some(position)).unwrap();
    inventory.commit(first).unwrap();
    let before = dump(&path);
    let error = inventory.commit(second).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::PositionConflict {
                stored: Some(1),
                expected: None,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.reason(), "position_conflict");
    assert_eq!(dump(&path), before);
}

#[test]
fn a_record_with_an_unreadable_time_is_refused_but_its_position_is_used_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut inventory = Inventory::open(dir.path().join("i.db")).unwrap();
    let mut record = records("live-node-b.jsonl").remove(0);
    record.event.start = "yesterday".to_owned();
    let mut batch = inventory.batch("n").unwrap();
    let position = Position {
        source: "s",
        sequence: 7,
    };
    let error = batch.ingest(&record, &[], Some(position)).unwrap_err();
    assert_eq!(error.reason(), "bad_time");
    assert_eq!(batch.applied(), 0);
    inventory.commit(batch).unwrap();
    assert_eq!(inventory.position("s").unwrap(), Some(7));
    assert_eq!(count(inventory.path(), "SELECT count(*) FROM endpoints"), 0);
}

#[test]
fn aggregates_agree_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let mut expected_sessions: BTreeMap<_, i64> = BTreeMap::new();
    let mut expected_versions: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut expected_fingerprints = BTreeSet::new();
    let mut expected_executables = BTreeSet::new();
    for name in ALL {
        ingest_file(&mut inventory, name, "replay-node", None);
        for record in values(name) {
            let endpoint = endpoint_of(&record, "replay-node");
            *expected_sessions.entry(endpoint.clone()).or_default() += 1;
            if let Some(version) = text(&record, &["cipherlens", "tls", "version", "name"]) {
                *expected_versions
                    .entry((endpoint.0.clone(), version.to_owned()))
                    .or_default() += 1;
            }
            for side in ["server_certificates", "client_certificates"] {
                for certificate in record["cipherlens"]["tls"][side].as_array().unwrap() {
                    expected_fingerprints.insert(
                        certificate["fingerprint_sha256"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    );
                }
            }
            for side in ["client", "server"] {
                if let Some(name) = text(&record, &[side, "process", "executable", "name"]) {
                    expected_executables.insert((endpoint.0.clone(), name.to_owned()));
                }
            }
        }
    }
    let connection = rusqlite::Connection::open(&path).unwrap();
    let sessions: BTreeMap<_, i64> = connection
        .prepare("SELECT node, transport, address, port, sni, sessions FROM endpoints")
        .unwrap()
        .query_map([], |row| {
            Ok((
                (
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ),
                row.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sessions, expected_sessions);
    let versions: BTreeMap<(String, String), i64> = connection
        .prepare(
            "SELECT e.node, u.value, sum(u.sessions) FROM endpoint_usage u \
             JOIN endpoints e USING (endpoint_id) WHERE u.kind = 'version' GROUP BY e.node, u.value",
        )
        .unwrap()
        .query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, expected_versions);
    let fingerprints: BTreeSet<String> = connection
        .prepare("SELECT fingerprint_sha256 FROM certificates")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(fingerprints, expected_fingerprints);
    let executables: BTreeSet<(String, String)> = connection
        .prepare("SELECT node, executable FROM workloads WHERE executable != ''")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(executables, expected_executables);
    // Live records name their node; replay records take the one given.
    let nodes: BTreeSet<String> = sessions.keys().map(|key| key.0.clone()).collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["node-a".into(), "node-b".into(), "replay-node".into()])
    );
}

#[test]
fn hybrid_key_exchange_is_counted_per_endpoint_and_client() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    ingest_file(&mut inventory, "live-node-a.jsonl", "n", None);
    let records = values("live-node-a.jsonl");
    let hybrid = records
        .iter()
        .filter(|r| r["cipherlens"]["tls"]["post_quantum_key_exchange"] == Value::Bool(true))
        .count() as i64;
    let offered = records
        .iter()
        .filter(|r| {
            r["cipherlens"]["tls"]["client_hello"]["offers_post_quantum"] == Value::Bool(true)
        })
        .count() as i64;
    assert!(
        hybrid > 0 && offered > hybrid,
        "the records cover both cases"
    );
    assert_eq!(
        count(&path, "SELECT sum(pq_sessions) FROM endpoints"),
        hybrid
    );
    assert_eq!(
        count(&path, "SELECT sum(pq_offered_sessions) FROM connections"),
        offered
    );
    assert_eq!(
        count(
            &path,
            "SELECT sum(sessions) FROM endpoint_usage WHERE kind = 'group' AND value = 'X25519MLKEM768'"
        ),
        hybrid
    );
}

#[test]
fn findings_are_counted_per_client_and_endpoint_with_the_latest_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let records = records("live-node-a.jsonl");
    let legacy = records
        .iter()
        .find(|r| r.server.port == 44403)
        .expect("the TLS 1.0 session");
    let finding = |version: &str| Finding {
        rule: "tls.version.obsolete".into(),
        severity: Severity::High,
        message: format!("TLS {version} negotiated"),
        evidence: BTreeMap::from([(
            "tls.protocol.version".to_owned(),
            EvidenceValue::Text(version.to_owned()),
        )]),
    };
    let mut batch = inventory.batch("n").unwrap();
    batch.ingest(legacy, &[finding("1.0")], None).unwrap();
    let mut later = legacy.clone();
    later.event.start = "2030-01-01T00:00:00Z".into();
    batch.ingest(&later, &[finding("1.0 again")], None).unwrap();
    inventory.commit(batch).unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    let (rule, severity, sessions, message, evidence): (String, String, i64, String, String) =
        connection
            .query_row(
                "SELECT rule, severity, sessions, message, evidence FROM findings",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .unwrap();
    assert_eq!(
        (rule.as_str(), severity.as_str(), sessions),
        ("tls.version.obsolete", "high", 2)
    );
    assert_eq!(message, "TLS 1.0 again negotiated");
    let evidence: Value = serde_json::from_str(&evidence).unwrap();
    assert_eq!(evidence["tls.protocol.version"], "1.0 again");
}

#[test]
fn the_database_is_wal_strict_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let inventory = Inventory::open(&path).unwrap();
    assert_eq!(inventory.schema_version().unwrap(), SCHEMA_VERSION);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let loose: Vec<String> = connection
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND strict = 0 AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(loose.is_empty(), "tables that are not STRICT: {loose:?}");
    assert_eq!(
        count(&path, "SELECT max(version) FROM schema_migrations"),
        2
    );
}

#[test]
fn json_lines_read_directly_give_the_same_inventory_as_records() {
    let dir = tempfile::tempdir().unwrap();
    let from_records = dir.path().join("records.db");
    let from_json = dir.path().join("json.db");
    let mut records_inventory = Inventory::open(&from_records).unwrap();
    let mut json_inventory = Inventory::open(&from_json).unwrap();
    for name in ALL {
        ingest_file(&mut records_inventory, name, "replay-node", None);
        let mut batch = json_inventory.batch("replay-node").unwrap();
        for line in lines(name) {
            assert_eq!(
                batch.ingest_json(&line, &[], None).unwrap(),
                Ingested::Applied
            );
        }
        json_inventory.commit(batch).unwrap();
    }
    assert_eq!(dump(&from_json), dump(&from_records));
}

#[test]
fn what_is_not_a_session_record_is_refused_and_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let line = lines("live-node-a.jsonl").remove(3);
    let mut value: Value = serde_json::from_str(&line).unwrap();
    assert!(
        !value["cipherlens"]["tls"]["server_certificates"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    value["cipherlens"]["tls"]["server_certificates"][0]
        .as_object_mut()
        .unwrap()
        .remove("not_after");
    let broken_certificate = value.to_string();
    let stats = r#"{"schema":"cipherlens.stats/v1","counters":{}}"#;
    let mut batch = inventory.batch("n").unwrap();
    for (sequence, bad) in [stats, "{", "", &broken_certificate[..]].iter().enumerate() {
        let position = Position {
            source: "s",
            sequence: sequence as u64 + 1,
        };
        let error = batch.ingest_json(bad, &[], Some(position)).unwrap_err();
        assert_eq!(error.reason(), "bad_record", "{bad}");
    }
    assert_eq!(batch.applied(), 0);
    inventory.commit(batch).unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM endpoints"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM certificates"), 0);
    assert_eq!(inventory.position("s").unwrap(), Some(4));
}

#[test]
fn batches_folded_apart_and_combined_equal_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.db");
    let split = dir.path().join("split.db");
    let lines: Vec<String> = ALL.iter().flat_map(|name| lines(name)).collect();
    let mut one_inventory = Inventory::open(&one).unwrap();
    let mut batch = one_inventory.batch("replay-node").unwrap();
    for (index, line) in lines.iter().enumerate() {
        let position = Position {
            source: "s",
            sequence: index as u64 + 1,
        };
        batch.ingest_json(line, &[], Some(position)).unwrap();
    }
    one_inventory.commit(batch).unwrap();

    let mut split_inventory = Inventory::open(&split).unwrap();
    let mut parts: Vec<_> = (0..3)
        .map(|_| split_inventory.batch("replay-node").unwrap())
        .collect();
    let chunk = lines.len().div_ceil(3);
    std::thread::scope(|scope| {
        for (part, (batch, lines)) in parts.iter_mut().zip(lines.chunks(chunk)).enumerate() {
            scope.spawn(move || {
                for (offset, line) in lines.iter().enumerate() {
                    let sequence = (part * chunk + offset) as u64 + 1;
                    batch
                        .ingest_json(
                            line,
                            &[],
                            Some(Position {
                                source: "s",
                                sequence,
                            }),
                        )
                        .unwrap();
                }
            });
        }
    });
    let mut combined = parts.remove(0);
    for part in parts {
        combined.absorb(part).unwrap();
    }
    assert_eq!(combined.applied(), lines.len() as u64);
    split_inventory.commit(combined).unwrap();
    assert_eq!(dump(&split), dump(&one));
}

/// A value a hello offers twice (a cipher suite, an ALPN protocol) counts
/// once for the session, and the other values are still counted.
#[test]
fn a_value_offered_twice_in_one_hello_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let mut record = values("live-node-a.jsonl").remove(0);
    let hello = &mut record["cipherlens"]["tls"]["client_hello"];
    let suites = hello["cipher_suites"].as_array_mut().unwrap();
    let suite_count = suites.len() as i64;
    let first_suite = suites[0].clone();
    suites.push(first_suite.clone());
    let alpn = hello["alpn"].as_array_mut().unwrap();
    let alpn_count = alpn.len() as i64;
    let first_alpn = alpn[0].clone();
    alpn.push(first_alpn.clone());
    let record: cipherlens_record::SessionRecord = serde_json::from_value(record).unwrap();
    let mut batch = inventory.batch("n").unwrap();
    batch.ingest(&record, &[], None).unwrap();
    inventory.commit(batch).unwrap();
    let sessions = |kind: &str, value: &str| {
        count(
            &path,
            &format!(
                "SELECT sessions FROM workload_offers WHERE kind = '{kind}' AND value = '{value}'"
            ),
        )
    };
    assert_eq!(
        sessions("cipher_suite", first_suite["name"].as_str().unwrap()),
        1
    );
    assert_eq!(sessions("alpn", first_alpn.as_str().unwrap()), 1);
    let rows = |kind: &str| {
        count(
            &path,
            &format!("SELECT count(*) FROM workload_offers WHERE kind = '{kind}'"),
        )
    };
    assert!(rows("cipher_suite") <= suite_count && rows("cipher_suite") >= 1);
    assert_eq!(rows("alpn"), alpn_count);
}
