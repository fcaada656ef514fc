//! A round of NATS messages being gathered for one transaction, the same
//! for a JetStream pull and a plain subscription: full at a record count
//! or a size, due [`FLUSH_AFTER`] after its first message, and, while
//! empty, the point at which an idle ingest exits.

use std::time::Duration;

use cipherlens_inventory::Inventory;
use tokio::time::Instant;

use super::fold::{Folder, Item};
use super::{FLUSH_AFTER, IngestReport, ROUND_BYTES};

/// A message whose payload is a record.
pub(super) trait Payload {
    fn payload(&self) -> &[u8];
}

impl Payload for async_nats::Message {
    fn payload(&self) -> &[u8] {
        &self.payload
    }
}

impl Payload for async_nats::jetstream::Message {
    fn payload(&self) -> &[u8] {
        &self.message.payload
    }
}

pub(super) struct Round<T> {
    /// Messages with their stream sequence (JetStream) or none.
    messages: Vec<(Option<u64>, T)>,
    bytes: usize,
    limit: usize,
    started: Instant,
    idle_since: Instant,
    idle_exit: Option<Duration>,
}

impl<T: Payload> Round<T> {
    /// A round of at most `limit` records; `idle_exit` ends an ingest that
    /// has had no record for that long.
    pub fn new(limit: usize, idle_exit: Option<Duration>) -> Self {
        Round {
            messages: Vec::with_capacity(limit),
            bytes: 0,
            limit,
            started: Instant::now(),
            idle_since: Instant::now(),
            idle_exit,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// When to stop waiting for the next message: the flush time of a
    /// round in progress, or the idle exit of an empty one (never without).
    pub fn deadline(&self) -> Option<Instant> {
        if self.is_empty() {
            self.idle_exit.map(|idle| self.idle_since + idle)
        } else {
            Some(self.started + FLUSH_AFTER)
        }
    }

    /// Adds a message; true when the round is full.
    pub fn push(&mut self, sequence: Option<u64>, message: T) -> bool {
        if self.is_empty() {
            self.started = Instant::now();
        }
        self.bytes += message.payload().len();
        self.messages.push((sequence, message));
        self.messages.len() >= self.limit || self.bytes >= ROUND_BYTES
    }

    pub fn last(&self) -> Option<&T> {
        self.messages.last().map(|(_, message)| message)
    }

    /// Folds the round on every core and commits it (`source` positions
    /// it, for JetStream). The client's connection keeps running on the
    /// runtime's worker meanwhile.
    pub fn fold_and_commit(
        &self,
        folder: &Folder<'_>,
        inventory: &mut Inventory,
        source: Option<&str>,
        report: &mut IngestReport,
    ) -> anyhow::Result<()> {
        let items: Vec<Item<'_>> = self
            .messages
            .iter()
            .map(|(sequence, message)| Item {
                sequence: *sequence,
                payload: message.payload(),
            })
            .collect();
        let folded = tokio::task::block_in_place(|| folder.fold(inventory, source, &items))?;
        tokio::task::block_in_place(|| report.commit(inventory, folded))
    }

    /// Empties the round once committed; the idle time starts again.
    pub fn clear(&mut self) {
        self.messages.clear();
        self.bytes = 0;
        self.idle_since = Instant::now();
    }
}
