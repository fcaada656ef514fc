//! The inventory's exports, each a pure function of a [`crate::Snapshot`]
//! writing to any `Write`:
//! - [`cyclonedx`]: a CycloneDX 1.6 CBOM;
//! - [`json`]: the inventory as nested JSON;
//! - [`csv`]: one row per counted value, for spreadsheets;
//! - [`table`]: a report for a person at a terminal.

pub mod csv;
pub mod cyclonedx;
pub mod json;
pub mod table;
