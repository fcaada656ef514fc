//! Fuzz body `inventory_json_line`: the input as one line of session
//! records read by the inventory (`Batch::ingest_json`), twice into one
//! batch and once into another that is then combined with it.
//!
//! Why: `cipherlens inventory ingest` reads JSON lines from files, stdin
//! and NATS subjects that anyone able to publish there controls; the
//! reader borrows from the line and reads certificates only when new, so
//! odd strings, escapes and missing fields must give an error, not a panic.

use cipherlens_inventory::{Batch, Position};

/// Ingests `data` as a JSON line.
pub fn run(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let mut batch = Batch::new("fuzz");
    let mut other = Batch::new("fuzz");
    for sequence in 1..=2 {
        let position = Position {
            source: "fuzz",
            sequence,
        };
        let _ = batch.ingest_json(line, &[], Some(position));
    }
    let _ = other.ingest_json(line, &[], None);
    let _ = batch.absorb(other);
}
