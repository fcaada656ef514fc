//! Merging node inventories into one.
//!
//! Rows are keyed by (node, asset) and a node's counts only grow, so a row
//! from another database combines with ours by keeping the larger count,
//! the earlier first and the later last time ([`crate::schema::Combine`]).
//! That makes a merge idempotent (merging the same database again changes
//! nothing) and the order of merges irrelevant. It assumes what the fleet
//! setup guarantees: each node's rows are counted by one writer (the node
//! itself, or one consumer of its subject), never split between two.

use std::path::Path;

use crate::error::{Error, SqliteContext};
use crate::schema::{SCHEMA_VERSION, Source, TABLES, upsert_sql};
use crate::store::Inventory;

/// The schema name the source database is attached under.
const ATTACHED: &str = "merge_source";

/// What [`Inventory::merge_from`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Rows read from the source and combined into this inventory.
    pub rows: u64,
}

impl Inventory {
    /// Merges another inventory database into this one, in one transaction.
    ///
    /// The source is opened as an inventory first, so one written by an
    /// older cipherlens is migrated in place (and one from a newer cipherlens
    /// refused). Stream positions are not merged: they belong to the
    /// consumer that wrote them.
    pub fn merge_from(&mut self, source: impl AsRef<Path>) -> Result<Merged, Error> {
        let source = source.as_ref();
        let canonical = source.canonicalize().map_err(|_| Error::MissingSource {
            path: source.to_path_buf(),
        })?;
        if self.path.canonicalize().is_ok_and(|own| own == canonical) {
            return Err(Error::MergeIntoSelf {
                path: source.to_path_buf(),
            });
        }
        drop(Inventory::open(source)?);

        let path = self.path.clone();
        self.connection
            .execute(
                "ATTACH DATABASE ?1 AS merge_source",
                [source.to_string_lossy()],
            )
            .context(source, "attach for merging")?;
        let result = self.merge_attached(source);
        let detached = self
            .connection
            .execute("DETACH DATABASE merge_source", [])
            .context(&path, "detach a merged database");
        let merged = result?;
        detached?;
        Ok(merged)
    }

    fn merge_attached(&mut self, source: &Path) -> Result<Merged, Error> {
        let version: i64 = self
            .connection
            .query_row(
                &format!("SELECT max(version) FROM {ATTACHED}.schema_migrations"),
                [],
                |row| row.get(0),
            )
            .context(source, "read the schema version")?;
        if version != SCHEMA_VERSION {
            // Opening it just migrated it: only a concurrent writer of a
            // newer version could get here.
            return Err(Error::SchemaTooNew {
                path: source.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .context(&path, "begin a merge")?;
        let mut rows = 0u64;
        for table in TABLES {
            let changed = transaction
                .execute(&upsert_sql(table, Source::Attached(ATTACHED)), [])
                .context(&path, "merge rows")?;
            rows += changed as u64;
        }
        transaction.commit().context(&path, "commit a merge")?;
        Ok(Merged { rows })
    }
}
