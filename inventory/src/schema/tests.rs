use std::path::Path;

use cipherlens_record::SessionRecord;
use cipherlens_record::alert::{Finding, Severity};

use super::*;
use crate::Inventory;

fn records() -> Vec<SessionRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/live-node-a.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Tables as of version 1.
const V1_TABLES: [&str; 7] = [
    "workloads",
    "endpoints",
    "connections",
    "connection_usage",
    "workload_offers",
    "certificates",
    "connection_certificates",
];

fn rows(connection: &Connection, table: &str) -> Vec<String> {
    let mut statement = connection
        .prepare(&format!("SELECT * FROM {table}"))
        .unwrap();
    let width = statement.column_count();
    let mut rows: Vec<String> = statement
        .query_map([], |row| {
            (0..width)
                .map(|index| {
                    row.get::<_, rusqlite::types::Value>(index)
                        .map(|value| format!("{value:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|values| values.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

#[test]
fn an_empty_file_is_created_at_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = Inventory::open(dir.path().join("new.db")).unwrap();
    assert_eq!(inventory.schema_version().unwrap(), SCHEMA_VERSION);
    let applied: Vec<i64> = inventory
        .connection
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(applied, [1, 2]);
}

#[test]
fn a_version_1_inventory_with_rows_is_migrated_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    // Real rows, written by the current code...
    let reference_path = dir.path().join("reference.db");
    let mut reference = Inventory::open(&reference_path).unwrap();
    let mut batch = reference.batch("n").unwrap();
    for record in records() {
        batch.ingest(&record, &[], None).unwrap();
    }
    reference.commit(batch).unwrap();
    // ...copied into a database that stopped at version 1.
    let old_path = dir.path().join("old.db");
    {
        let old = Inventory::open_at(&old_path, 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        old.connection
            .execute(
                "ATTACH DATABASE ?1 AS reference",
                [reference_path.to_str().unwrap()],
            )
            .unwrap();
        for table in V1_TABLES {
            old.connection
                .execute(
                    &format!("INSERT INTO {table} SELECT * FROM reference.{table}"),
                    [],
                )
                .unwrap();
        }
        let findings: i64 = old
            .connection
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'findings'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(findings, 0, "version 1 has no findings table");
    }

    let mut migrated = Inventory::open(&old_path).unwrap();
    assert_eq!(migrated.schema_version().unwrap(), SCHEMA_VERSION);
    for table in V1_TABLES {
        assert_eq!(
            rows(&migrated.connection, table),
            rows(&reference.connection, table),
            "{table} changed in the migration"
        );
    }
    // And it takes findings now.
    let record = &records()[0];
    let finding = Finding {
        rule: "tls.kex.quantum-vulnerable".into(),
        severity: Severity::Info,
        message: "no hybrid group".into(),
        evidence: Default::default(),
    };
    let mut batch = migrated.batch("n").unwrap();
    batch.ingest(record, &[finding], None).unwrap();
    migrated.commit(batch).unwrap();
    assert_eq!(rows(&migrated.connection, "findings").len(), 1);
}

#[test]
fn a_newer_inventory_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Inventory::open(&path).unwrap());
    {
        let connection = Connection::open(&path).unwrap();
        connection
            .execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (7, 'from the future', '2031-01-01T00:00:00.000000Z')",
                [],
            )
            .unwrap();
    }
    let error = Inventory::open(&path).unwrap_err();
    assert!(
        matches!(
            error,
            Error::SchemaTooNew {
                found: 7,
                supported: SCHEMA_VERSION,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("version 7") && message.contains("newer"),
        "{message}"
    );
    let connection = Connection::open(&path).unwrap();
    let version: i64 = connection
        .query_row("SELECT max(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(version, 7);
}

#[test]
fn a_database_that_is_not_an_inventory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    let error = Inventory::open(&path).unwrap_err();
    assert!(matches!(error, Error::NotAnInventory { .. }), "{error}");
    let count: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'schema_migrations'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(count, 0);
}

/// Every table with asset rows is in [`TABLES`], with every column, so
/// both ingest and merge write all of them.
#[test]
fn tables_list_every_column_of_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = Inventory::open(dir.path().join("i.db")).unwrap();
    let tables: Vec<String> = inventory
        .connection
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN \
             ('schema_migrations', 'ingest_positions', 'severities') ORDER BY name",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut listed: Vec<&str> = TABLES.iter().map(|table| table.name).collect();
    listed.sort_unstable();
    assert_eq!(tables, listed);
    for table in TABLES {
        let columns: Vec<String> = inventory
            .connection
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{}')",
                table.name
            ))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let spec: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        assert_eq!(columns, spec, "{}", table.name);
        let keys: Vec<String> = inventory
            .connection
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{}') WHERE pk > 0 ORDER BY pk",
                table.name
            ))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let spec_keys: Vec<&str> = table
            .columns
            .iter()
            .filter(|(_, combine)| *combine == Combine::Key)
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(keys, spec_keys, "primary key of {}", table.name);
    }
}
