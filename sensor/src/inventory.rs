//! The writer's inventory step (`--inventory-db FILE`): every session
//! record, with the policy's findings about it, folded into the node's
//! crypto inventory (`cipherlens-inventory`, SQLite) as the sensor runs.
//!
//! Records are folded in memory and committed in one transaction every
//! [`COMMIT_RECORDS`] records or [`COMMIT_EVERY`], and at exit, so the
//! database costs a few writes a second, not one per session. Live records
//! carry no stream position (nothing is read twice from the kernel).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cipherlens_inventory::{Batch, Error as InventoryError, Inventory};
use cipherlens_policy::Policy;
use cipherlens_record::session::SessionRecord;

use crate::alerts::PolicyHandle;

/// Records per transaction at most.
pub const COMMIT_RECORDS: usize = 5_000;
/// Longest a folded record waits for its transaction.
pub const COMMIT_EVERY: Duration = Duration::from_secs(2);

/// Where the findings come from: the policy in use when alerts are on (so
/// a reload applies here too), else the built-in one.
enum Findings {
    Shared(Arc<PolicyHandle>),
    Builtin(Box<Policy>),
}

pub struct InventoryStage {
    inventory: Inventory,
    node: String,
    batch: Batch,
    pending: usize,
    since: Instant,
    findings: Findings,
}

impl InventoryStage {
    /// Opens (creates, migrates) the database; records without `host`
    /// (replay) count under `node`.
    pub fn open(
        path: &Path,
        node: &str,
        policy: Option<Arc<PolicyHandle>>,
    ) -> Result<Self, InventoryError> {
        let inventory = Inventory::open(path)?;
        let batch = inventory.batch(node)?;
        Ok(InventoryStage {
            inventory,
            node: node.to_string(),
            batch,
            pending: 0,
            since: Instant::now(),
            findings: match policy {
                Some(handle) => Findings::Shared(handle),
                None => Findings::Builtin(Box::default()),
            },
        })
    }

    /// Folds one session record in; commits when the batch is due.
    pub fn add(&mut self, record: &SessionRecord) -> Result<(), InventoryError> {
        let findings = match &self.findings {
            Findings::Shared(handle) => handle.current().1.findings(record),
            Findings::Builtin(policy) => policy.findings(record),
        };
        match self.batch.ingest(record, &findings, None) {
            Ok(_) => {}
            // A record the inventory cannot place (its time does not parse)
            // is left out of it; the session record itself is published.
            Err(error @ InventoryError::BadTime { .. }) => {
                tracing::warn!(reason = error.reason(), %error, "session not in the inventory");
            }
            Err(error) => return Err(error),
        }
        self.pending += 1;
        if self.pending >= COMMIT_RECORDS || self.since.elapsed() >= COMMIT_EVERY {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits what is folded.
    pub fn commit(&mut self) -> Result<(), InventoryError> {
        if self.pending == 0 {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, self.inventory.batch(&self.node)?);
        self.inventory.commit(batch)?;
        self.pending = 0;
        self.since = Instant::now();
        Ok(())
    }
}
