//! Shared by the integration tests: the real session records under
//! `tests/data` (written by `cipherlens live` and `cipherlens replay`, see
//! `tests/data/README.md`), and a dump of a database to compare two.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cipherlens_inventory::{Batch, Inventory, Position};
use cipherlens_record::SessionRecord;

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The lines of a JSON-lines file.
pub fn lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(data(name))
        .unwrap_or_else(|error| panic!("{name}: {error}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn records(name: &str) -> Vec<SessionRecord> {
    lines(name)
        .iter()
        .map(|line| serde_json::from_str(line).expect("a session record"))
        .collect()
}

/// The same lines as JSON values, read without this crate.
pub fn values(name: &str) -> Vec<serde_json::Value> {
    lines(name)
        .iter()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

/// Every file of real records.
pub const ALL: [&str; 4] = [
    "live-node-a.jsonl",
    "live-node-b.jsonl",
    "replay-fixtures.jsonl",
    "replay-corpus.jsonl",
];

/// Ingests a file's records (with their line numbers as positions under
/// `source`, if given) and commits.
pub fn ingest_file(inventory: &mut Inventory, name: &str, node: &str, source: Option<&str>) {
    let mut batch: Batch = inventory.batch(node).expect("batch");
    for (line, record) in records(name).iter().enumerate() {
        let position = source.map(|source| Position {
            source,
            sequence: line as u64 + 1,
        });
        batch.ingest(record, &[], position).expect("ingest");
    }
    inventory.commit(batch).expect("commit");
}

/// Every row of every table, as text, sorted: equal dumps mean equal
/// databases. Wall-clock columns (when a migration or position was written)
/// are left out.
pub fn dump(path: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).expect("open");
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut rows = Vec::new();
    for table in tables {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM {table}"))
            .unwrap();
        let columns: Vec<String> = statement
            .column_names()
            .map(|name| name.to_string())
            .collect();
        let mut query = statement.query([]).unwrap();
        while let Some(row) = query.next().unwrap() {
            let mut text = format!("{table}:");
            for (index, column) in columns.iter().enumerate() {
                if matches!(column.as_str(), "applied_at" | "updated_at") {
                    continue;
                }
                let value: rusqlite::types::Value = row.get(index).unwrap();
                text.push_str(&format!(" {column}={value:?}"));
            }
            rows.push(text);
        }
    }
    rows.sort();
    rows
}

/// A count from SQL.
pub fn count(inventory_path: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(inventory_path).expect("open");
    connection
        .query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}
