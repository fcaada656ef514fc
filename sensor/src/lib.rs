//! The cipherlens sensor: capture sources, the session pipeline, records.
//!
//! - [`pipeline`]: decoded packets -> per-flow TLS/QUIC sessions -> records.
//! - [`record`]: the published JSON layout and how it is built.
//! - [`replay`]: capture files into the pipeline.
//! - [`live`]: the kernel programs as a capture source.
//! - [`output`]: JSON lines to stdout or a file, and the record writer thread.
//! - [`publish`]: the [`publish::Sink`] trait; NATS.
//! - [`flow`]: flow identity shared by every record about a flow.
//! - [`attribution`]: process, container, pod and host of a session.
//! - [`cnflow`]: CNFlow flow records from the kernel's per-flow counters.
//! - [`directive`]: operator requests over NATS on their way to the live
//!   loop, and per-flow sampling (options, the configuration file and the
//!   directives themselves are in `cipherlens-control`).
#![forbid(unsafe_code)]

pub mod attribution;
pub mod cnflow;
pub mod directive;
pub mod flow;
pub mod live;
pub mod output;
pub mod pipeline;
pub mod publish;
pub mod record;
pub mod replay;
pub mod time;
