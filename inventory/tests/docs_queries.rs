//! The `sqlite3` queries in `docs/inventory.md` run on an inventory of real
//! sessions and answer what they say they answer; where the `sqlite3`
//! command is installed (Debian's is 3.40), they run through it too.

mod common;

use std::process::Command;

use cipherlens_inventory::Inventory;
use cipherlens_record::alert::{Finding, Severity};
use common::{ALL, records};

fn queries() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/inventory.md");
    let text = std::fs::read_to_string(path).expect("docs/inventory.md");
    text.split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

fn rows(connection: &rusqlite::Connection, sql: &str) -> Vec<Vec<String>> {
    let mut statement = connection
        .prepare(sql)
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    let width = statement.column_count();
    statement
        .query_map([], |row| {
            (0..width)
                .map(|index| {
                    row.get::<_, rusqlite::types::Value>(index)
                        .map(|value| match value {
                            rusqlite::types::Value::Text(text) => text,
                            rusqlite::types::Value::Integer(number) => number.to_string(),
                            rusqlite::types::Value::Null => String::new(),
                            other => format!("{other:?}"),
                        })
                })
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn the_documented_queries_answer_their_questions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let mut batch = inventory.batch("replay-node").unwrap();
    for name in ALL {
        for record in records(name) {
            let findings: Vec<Finding> = (record.server.port == 44403)
                .then(|| Finding {
                    rule: "tls.version.obsolete".into(),
                    severity: Severity::High,
                    message: "TLS 1.0 negotiated".into(),
                    evidence: Default::default(),
                })
                .into_iter()
                .collect();
            batch.ingest(&record, &findings, None).unwrap();
        }
    }
    inventory.commit(batch).unwrap();
    drop(inventory);

    let queries = queries();
    assert_eq!(queries.len(), 7, "the documented queries");
    let connection = rusqlite::Connection::open(&path).unwrap();
    let results: Vec<Vec<Vec<String>>> = queries.iter().map(|sql| rows(&connection, sql)).collect();

    // TLS 1.0: the live TLS 1.0 server on both nodes and the replay fixture.
    let old: Vec<&str> = results[0].iter().map(|row| row[2].as_str()).collect();
    for sni in ["legacy.inventory.test", "tls10.fixtures.test"] {
        assert!(old.contains(&sni), "{sni} not in {old:?}");
    }
    assert!(
        results[0]
            .iter()
            .all(|row| matches!(row[7].as_str(), "TLS 1.0" | "TLS 1.1" | "SSL 3.0"))
    );
    // No hybrid key exchange: not the X25519MLKEM768 server, but the one that refused it.
    let classical: Vec<&str> = results[1].iter().map(|row| row[2].as_str()).collect();
    assert!(!classical.contains(&"pq.inventory.test"));
    assert!(classical.contains(&"modern.inventory.test"));
    // Refused: the OpenSSL 3.0 server the rustls client offered ML-KEM to
    // (and a corpus server), never the one that accepted it.
    let refused: Vec<&str> = results[2].iter().map(|row| row[2].as_str()).collect();
    assert!(refused.contains(&"modern.inventory.test"), "{refused:?}");
    assert!(!refused.contains(&"pq.inventory.test"));
    // Expiring soonest: sorted by not_after.
    let expiries: Vec<&str> = results[3].iter().map(|row| row[0].as_str()).collect();
    assert!(!expiries.is_empty() && expiries.is_sorted());
    // Weak keys: the 1024-bit RSA key signed with SHA-1.
    assert!(
        results[4]
            .iter()
            .any(|row| row[1].contains("legacy.inventory.test") && row[3] == "1024")
    );
    // Findings: the one given, worst first.
    assert!(
        results[6]
            .iter()
            .any(|row| row[3] == "high" && row[4] == "tls.version.obsolete")
    );

    // The same through the sqlite3 command, where there is one.
    if Command::new("sqlite3").arg("-version").output().is_ok() {
        for sql in &queries {
            let output = Command::new("sqlite3")
                .arg("-readonly")
                .arg(&path)
                .arg(sql)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "sqlite3 refused {sql}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
