//! The cipherlens sensor. Data flows forward through these modules:
//!
//! capture ([`replay`], [`live`]) -> [`pipeline`] (decode, reassemble,
//! parse; finished sessions) -> [`writer`] (on its own thread: [`build`]
//! the records, enrich them with [`attribution`], evaluate the policy into
//! [`alerts`], fold them into the [`inventory`] when asked, encode, then
//! [`publish`]).
//!
//! - [`flow`]: one flow key for the pipeline, the kernel maps and CNFlow;
//!   Community ID.
//! - [`cnflow`]: which kernel flow counters get a CNFlow record, and when.
//! - [`directive`]: operator requests on their way to the live loop, and
//!   per-flow sampling (options, the configuration file and the directives
//!   themselves are in `cipherlens-control`).
//!
//! The published record types are the `cipherlens-record` crate's.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod attribution;
pub mod build;
pub mod cnflow;
pub mod directive;
pub mod error_chain;
pub mod flow;
pub mod inventory;
pub mod live;
pub mod memory;
pub mod pipeline;
pub mod publish;
pub mod replay;
pub mod time;
pub mod writer;
