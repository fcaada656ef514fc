//! The cipherlens sensor: capture sources, the session pipeline, records.
//!
//! - [`pipeline`]: decoded packets -> per-flow TLS/QUIC sessions -> records.
//! - [`record`]: the published JSON layout and how it is built.
//! - [`replay`]: capture files into the pipeline.
//! - [`output`]: JSON lines to stdout or a file.
#![forbid(unsafe_code)]

pub mod output;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod time;
