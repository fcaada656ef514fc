//! Session records folded into inventory rows in memory, before one
//! transaction writes them.
//!
//! A busy node repeats the same few endpoints, workloads and algorithms, so
//! a batch of thousands of records collapses into a few hundred row updates;
//! that, not SQLite, is what makes ingest fast. A batch also carries the
//! stream positions its records came from: [`crate::Inventory::commit`]
//! stores them in the same transaction as the rows, so after a restart a
//! consumer skips what was already counted.

use std::collections::HashMap;

use cipherlens_record::SessionRecord;
use cipherlens_record::alert::Finding;

use crate::error::Error;
use crate::kinds::{OfferKind, Side, UsageKind};
use crate::time;

mod absorb;
pub(crate) mod facts;
mod fold;
mod rows;
mod view;

use facts::Facts;
use view::ParsedView;

pub(crate) use rows::{
    CertificateRow, ChainRow, ConnectionRow, EndpointRow, FindingRow, Seen, SessionCounts,
    ValueRow, WorkloadRow,
};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Counted values by value.
pub(crate) type ValueRows = Map<Box<str>, ValueRow>;

/// Where a record sits in the stream it came from: a JetStream stream
/// sequence, or a line number in a file. Sequences of one source only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    /// Names the stream, such as `jetstream:CIPHERLENS:inventory` or
    /// `file:/var/log/cipherlens/sessions.jsonl`.
    pub source: &'a str,
    pub sequence: u64,
}

/// What [`Batch::ingest`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Counted into the batch.
    Applied,
    /// Its position was already applied (by an earlier commit or earlier in
    /// this batch): not counted again.
    AlreadyApplied,
}

#[derive(Debug, Clone, Copy, Default)]
struct SourcePosition {
    /// Position stored in the database when the batch started (None: none).
    base: Option<u64>,
    /// Highest position applied in this batch.
    latest: Option<u64>,
}

/// Rows folded from session records, not yet written.
#[derive(Debug)]
pub struct Batch {
    node: String,
    positions: HashMap<String, SourcePosition>,
    applied: u64,
    already_applied: u64,
    pub(crate) endpoints: Map<i64, EndpointRow>,
    pub(crate) workloads: Map<i64, WorkloadRow>,
    pub(crate) connections: Map<i64, ConnectionRow>,
    /// By connection and kind, then negotiated version, then value.
    pub(crate) usage: Map<(i64, UsageKind), Map<Box<str>, ValueRows>>,
    pub(crate) offers: Map<(i64, OfferKind), Map<Box<str>, ValueRow>>,
    pub(crate) certificates: Map<Box<str>, CertificateRow>,
    pub(crate) chains: Map<(i64, Side), Map<Box<str>, ChainRow>>,
    pub(crate) findings: Map<i64, Vec<FindingRow>>,
}

impl Batch {
    /// An empty batch. Records without `host` (from `replay`) are counted
    /// under `node`.
    pub fn new(node: impl Into<String>) -> Batch {
        Batch {
            node: node.into(),
            positions: HashMap::new(),
            applied: 0,
            already_applied: 0,
            endpoints: Map::default(),
            workloads: Map::default(),
            connections: Map::default(),
            usage: Map::default(),
            offers: Map::default(),
            certificates: Map::default(),
            chains: Map::default(),
            findings: Map::default(),
        }
    }

    /// Starts from the positions an inventory has stored.
    pub(crate) fn with_positions(node: impl Into<String>, stored: HashMap<String, u64>) -> Batch {
        let mut batch = Batch::new(node);
        batch.positions = stored
            .into_iter()
            .map(|(source, sequence)| {
                let position = SourcePosition {
                    base: Some(sequence),
                    latest: None,
                };
                (source, position)
            })
            .collect();
        batch
    }

    /// Records counted into this batch.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Records skipped because their position was already applied.
    pub fn already_applied(&self) -> u64 {
        self.already_applied
    }

    /// True when committing would write no row and no position.
    pub fn is_empty(&self) -> bool {
        self.applied == 0 && self.positions.values().all(|p| p.latest.is_none())
    }

    /// Positions this batch moves forward: (source, where it started, where
    /// it ends).
    pub(crate) fn position_updates(&self) -> impl Iterator<Item = (&str, Option<u64>, u64)> {
        self.positions.iter().filter_map(|(source, position)| {
            position
                .latest
                .map(|latest| (source.as_str(), position.base, latest))
        })
    }

    /// Takes a position for a record. False when it was already applied.
    fn claim(&mut self, position: Position<'_>) -> Result<bool, Error> {
        if position.sequence > i64::MAX as u64 {
            return Err(Error::PositionTooLarge {
                source_name: position.source.to_owned(),
                sequence: position.sequence,
            });
        }
        let state = match self.positions.get_mut(position.source) {
            Some(state) => state,
            None => self
                .positions
                .entry(position.source.to_owned())
                .or_default(),
        };
        let high = state.latest.max(state.base);
        if high.is_some_and(|high| position.sequence <= high) {
            self.already_applied += 1;
            return Ok(false);
        }
        state.latest = Some(position.sequence);
        Ok(true)
    }

    /// Moves a source's position past a record that will not be ingested
    /// (one that could not be read), so a restart does not read it again.
    pub fn advance(&mut self, position: Position<'_>) -> Result<Ingested, Error> {
        Ok(if self.claim(position)? {
            Ingested::Applied
        } else {
            Ingested::AlreadyApplied
        })
    }

    /// Counts one session record and the policy findings about it.
    ///
    /// With a position, a record at or before the source's stored (or
    /// already batched) position is skipped. The position is taken even when
    /// the record is then refused with an error, so a bad record is not read
    /// again after a restart.
    pub fn ingest(
        &mut self,
        record: &SessionRecord,
        findings: &[Finding],
        position: Option<Position<'_>>,
    ) -> Result<Ingested, Error> {
        if let Some(position) = position
            && !self.claim(position)?
        {
            return Ok(Ingested::AlreadyApplied);
        }
        self.add(&Facts::from(record), findings)
    }

    /// [`Batch::ingest`] of a session record's JSON (one line of the
    /// sensor's output, or one NATS message), read without building a
    /// [`SessionRecord`] (ingest is about 1.4 times faster than parsing
    /// the record first, `benches/ingest.rs`), for a consumer that needs
    /// nothing else from the record. Anything that is not a
    /// `cipherlens.session/v1` record is refused ([`Error::BadRecord`]).
    pub fn ingest_json(
        &mut self,
        json: &str,
        findings: &[Finding],
        position: Option<Position<'_>>,
    ) -> Result<Ingested, Error> {
        if let Some(position) = position
            && !self.claim(position)?
        {
            return Ok(Ingested::AlreadyApplied);
        }
        let view = ParsedView::parse(json).map_err(|source| Error::BadRecord { source })?;
        self.add(&view.facts(), findings)
    }

    fn add(&mut self, facts: &Facts<'_>, findings: &[Finding]) -> Result<Ingested, Error> {
        let time = time::normalize(facts.start).ok_or_else(|| Error::BadTime {
            field: "event.start",
            value: facts.start.to_owned(),
        })?;
        self.add_session(facts, findings, &time)?;
        self.applied += 1;
        Ok(Ingested::Applied)
    }
}
