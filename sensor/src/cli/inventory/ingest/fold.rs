//! Reading a round of records and folding them into one batch on every
//! core.
//!
//! Reading a record's JSON and evaluating the policy on it cost far more
//! than counting it, so a round is cut into contiguous parts, one per
//! thread; each thread folds its part into a batch of its own, and the
//! batches are combined in order (`Batch::absorb`) and committed once. The
//! positions stay exact: each part covers its own range of the source.

use std::collections::BTreeMap;

use cipherlens_inventory::{Batch, Error as InventoryError, Inventory, Position};
use cipherlens_policy::Policy;
use std::sync::Mutex;

use super::decode::Memo;

/// A part smaller than this is not worth a thread.
const MIN_PART: usize = 256;

/// One record of a round: its bytes and, for a positioned source, its
/// sequence (line number, stream sequence).
pub(super) struct Item<'a> {
    pub sequence: Option<u64>,
    pub payload: &'a [u8],
}

/// What a round held besides the session records it counted.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub other_records: u64,
    pub refused: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn refuse(&mut self, reason: &'static str) {
        *self.refused.entry(reason).or_default() += 1;
    }

    fn absorb(&mut self, other: Tally) {
        self.other_records += other.other_records;
        for (reason, count) in other.refused {
            *self.refused.entry(reason).or_default() += count;
        }
    }
}

/// Reads and folds rounds of records with one policy, for one node.
pub(super) struct Folder<'a> {
    policy: &'a Policy,
    node: &'a str,
    /// One per thread, kept from round to round.
    memos: Vec<Mutex<Memo>>,
}

impl<'a> Folder<'a> {
    pub fn new(policy: &'a Policy, node: &'a str, threads: usize) -> Self {
        Folder {
            policy,
            node,
            memos: (0..threads.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    /// Folds `items` (in source order) into one batch that starts from the
    /// inventory's stored positions.
    pub fn fold(
        &self,
        inventory: &Inventory,
        source: Option<&str>,
        items: &[Item<'_>],
    ) -> Result<(Batch, Tally), InventoryError> {
        let threads = self.memos.len().min(items.len() / MIN_PART).max(1);
        if threads == 1 {
            return self.fold_part(&self.memos[0], inventory.batch(self.node)?, source, items);
        }
        let part_len = items.len().div_ceil(threads);
        let batches = (0..threads)
            .map(|_| inventory.batch(self.node))
            .collect::<Result<Vec<_>, _>>()?;
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(part_len)
                .zip(batches)
                .zip(&self.memos)
                .map(|((part, batch), memo)| {
                    scope.spawn(move || self.fold_part(memo, batch, source, part))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut results = results.into_iter();
        let Some(first) = results.next() else {
            return Ok((inventory.batch(self.node)?, Tally::default()));
        };
        let (mut all, mut all_tally) = first?;
        for result in results {
            let (batch, tally) = result?;
            all.absorb(batch)?;
            all_tally.absorb(tally);
        }
        Ok((all, all_tally))
    }

    fn fold_part(
        &self,
        memo: &Mutex<Memo>,
        mut batch: Batch,
        source: Option<&str>,
        items: &[Item<'_>],
    ) -> Result<(Batch, Tally), InventoryError> {
        let mut tally = Tally::default();
        // Each thread has its own memo; a panic elsewhere cannot leave it
        // half-updated in a way that matters (it only caches).
        let mut memo = memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for item in items {
            let position = source
                .zip(item.sequence)
                .map(|(source, sequence)| Position { source, sequence });
            // Checking the whole text once is much cheaper than serde_json
            // checking every string of it (`from_slice`).
            let decoded = std::str::from_utf8(item.payload)
                .ok()
                .and_then(|text| memo.decode(text));
            let Some(decoded) = decoded else {
                if other_kind(item.payload) {
                    tally.other_records += 1;
                } else {
                    tally.refuse("not_a_session_record");
                }
                // Not read again after a restart.
                if let Some(position) = position {
                    batch.advance(position)?;
                }
                continue;
            };
            let findings = self.policy.findings(&decoded.record);
            let ingested = batch.ingest(&decoded.record, &findings, position);
            memo.finish(decoded);
            match ingested {
                Ok(_) => {}
                Err(error @ InventoryError::BadTime { .. }) => {
                    tracing::warn!(%error, sequence = ?item.sequence, "record refused");
                    tally.refuse(error.reason());
                }
                Err(error) => return Err(error),
            }
        }
        Ok((batch, tally))
    }
}

/// Whether `json` is a cipherlens record of another kind (CNFlow, alert,
/// stats) rather than a broken session record.
fn other_kind(json: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Schema<'a> {
        #[serde(borrow)]
        schema: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Schema<'_>>(json).is_ok_and(|record| {
        record.schema.starts_with("cipherlens.") && record.schema != "cipherlens.session/v1"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding on four threads gives the database one thread gives.
    #[test]
    fn parts_on_threads_add_up_to_one_fold() {
        let mut payloads: Vec<String> =
            super::super::test_lines(&["live-node-a.jsonl", "replay-corpus.jsonl"])
                .into_iter()
                .cycle()
                .take(3_000)
                .collect();
        payloads[17] = "{\"schema\":\"cipherlens.cnflow/v1\"}".to_string();
        payloads[2_500] = "not json".to_string();
        let items: Vec<Item<'_>> = payloads
            .iter()
            .enumerate()
            .map(|(index, line)| Item {
                sequence: Some(index as u64 + 1),
                payload: line.as_bytes(),
            })
            .collect();
        let policy = Policy::default();
        let dir = tempfile::tempdir().unwrap();
        let mut exports = Vec::new();
        for threads in [1, 4] {
            let mut inventory = Inventory::open(dir.path().join(format!("{threads}.db"))).unwrap();
            let folder = Folder::new(&policy, "n", threads);
            let (batch, tally) = folder.fold(&inventory, Some("file:x"), &items).unwrap();
            assert_eq!(tally.other_records, 1);
            assert_eq!(tally.refused.get("not_a_session_record"), Some(&1));
            let committed = inventory.commit(batch).unwrap();
            assert_eq!(committed.records, 2_998);
            let mut json = Vec::new();
            cipherlens_inventory::export::json::write(
                &inventory.snapshot().unwrap(),
                "2026-01-01T00:00:00Z",
                &mut json,
            )
            .unwrap();
            exports.push(json);
            // The whole round is positioned: folding it again counts nothing.
            let (again, _) = folder.fold(&inventory, Some("file:x"), &items).unwrap();
            assert_eq!(inventory.commit(again).unwrap().records, 0);
        }
        assert!(exports[0] == exports[1], "one thread and four disagree");
    }
}
