//! Merging node databases: the merge of two nodes equals one inventory that
//! ingested both, merging the same database again changes nothing, and the
//! order of merges does not matter.

mod common;

use cipherlens_inventory::{Error, Inventory};
use common::{dump, ingest_file};

fn node_database(
    dir: &std::path::Path,
    name: &str,
    files: &[&str],
    node: &str,
) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut inventory = Inventory::open(&path).unwrap();
    for file in files {
        ingest_file(&mut inventory, file, node, None);
    }
    path
}

fn without_positions(rows: Vec<String>) -> Vec<String> {
    rows.into_iter()
        .filter(|row| !row.starts_with("ingest_positions:"))
        .collect()
}

#[test]
fn merging_node_databases_is_idempotent_and_order_free() {
    let dir = tempfile::tempdir().unwrap();
    // Two live nodes, and a replay inventory counted under its own node.
    let a = node_database(dir.path(), "a.db", &["live-node-a.jsonl"], "unused");
    let b = node_database(dir.path(), "b.db", &["live-node-b.jsonl"], "unused");
    let c = node_database(
        dir.path(),
        "c.db",
        &["replay-fixtures.jsonl", "replay-corpus.jsonl"],
        "replay-host",
    );

    let fleet = dir.path().join("fleet.db");
    let mut inventory = Inventory::open(&fleet).unwrap();
    for source in [&a, &b, &c] {
        let merged = inventory.merge_from(source).unwrap();
        assert!(merged.rows > 0);
    }
    let once = dump(&fleet);
    for source in [&a, &b, &c, &a] {
        inventory.merge_from(source).unwrap();
    }
    assert_eq!(
        dump(&fleet),
        once,
        "merging the same databases again changed the fleet view"
    );

    let reversed = dir.path().join("reversed.db");
    let mut other = Inventory::open(&reversed).unwrap();
    for source in [&c, &b, &a] {
        other.merge_from(source).unwrap();
    }
    assert_eq!(
        dump(&reversed),
        once,
        "the order of merges changed the result"
    );

    // The same as one inventory that saw every record itself.
    let direct = dir.path().join("direct.db");
    let mut direct_inventory = Inventory::open(&direct).unwrap();
    ingest_file(&mut direct_inventory, "live-node-a.jsonl", "unused", None);
    ingest_file(&mut direct_inventory, "live-node-b.jsonl", "unused", None);
    ingest_file(
        &mut direct_inventory,
        "replay-fixtures.jsonl",
        "replay-host",
        None,
    );
    ingest_file(
        &mut direct_inventory,
        "replay-corpus.jsonl",
        "replay-host",
        None,
    );
    assert_eq!(without_positions(dump(&direct)), without_positions(once));
}

#[test]
fn a_merged_node_that_grew_replaces_its_older_counts() {
    let dir = tempfile::tempdir().unwrap();
    let a = node_database(dir.path(), "a.db", &["live-node-a.jsonl"], "unused");
    let fleet = dir.path().join("fleet.db");
    let mut inventory = Inventory::open(&fleet).unwrap();
    inventory.merge_from(&a).unwrap();
    // The node goes on counting; the next merge brings the new totals.
    let mut node = Inventory::open(&a).unwrap();
    ingest_file(&mut node, "live-node-a.jsonl", "unused", None);
    drop(node);
    inventory.merge_from(&a).unwrap();
    assert_eq!(dump(&fleet), dump(&a));
    let sessions = common::count(&fleet, "SELECT sum(sessions) FROM endpoints");
    assert_eq!(
        sessions,
        2 * common::lines("live-node-a.jsonl").len() as i64
    );
}

#[test]
fn merging_refuses_itself_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    let mut inventory = Inventory::open(&path).unwrap();
    let error = inventory.merge_from(&path).unwrap_err();
    assert!(matches!(error, Error::MergeIntoSelf { .. }), "{error}");
    let error = inventory
        .merge_from(dir.path().join("absent.db"))
        .unwrap_err();
    assert!(matches!(error, Error::MissingSource { .. }), "{error}");
    assert!(!dir.path().join("absent.db").exists());
}
