//! A crypto inventory built from cipherlens session records: which protocol
//! versions, cipher suites, key-exchange groups, signature algorithms,
//! certificates and policy findings each server endpoint and each client
//! workload uses, kept in SQLite so it survives restarts, merges across
//! nodes, and exports as a CycloneDX 1.6 CBOM, JSON, CSV or a report.
//!
//! - [`Batch`]: records folded into rows in memory (pure);
//! - [`Inventory`]: the database ([`Inventory::open`] migrates it,
//!   [`Inventory::commit`] writes a batch with its stream positions,
//!   [`Inventory::merge_from`] merges another node's database,
//!   [`Inventory::snapshot`] reads it all back);
//! - [`export`]: CycloneDX 1.6 CBOM, JSON, CSV and a terminal report,
//!   from a [`Snapshot`];
//! - [`algorithms`]: what the CBOM says about each algorithm (primitive,
//!   security levels), from the specifications; [`mapping`]: which
//!   algorithms a cipher suite, group, signature or key name stands for.
//!
//! The schema is documented in `docs/inventory.md`.
#![forbid(unsafe_code)]

pub mod algorithms;
mod batch;
mod error;
pub mod export;
mod keys;
mod kinds;
pub mod mapping;
mod merge;
mod schema;
mod snapshot;
mod store;
pub mod time;

pub use batch::{Batch, Ingested, Position};
pub use error::Error;
pub use keys::{EndpointKey, WorkloadKey, id_hex};
pub use kinds::{OfferKind, Side, UsageKind};
pub use merge::Merged;
pub use schema::SCHEMA_VERSION;
pub use snapshot::Snapshot;
pub use store::{Committed, Inventory};
