//! Builds the published records (`cipherlens-record`) from what the
//! pipeline and the kernel found. Runs on the record writer thread.
//!
//! - [`session`]: a finished TLS/QUIC session -> `SessionRecord`
//!   (fingerprints, IANA names, certificate summaries).
//! - [`cnflow`]: one flow's kernel counters -> `CnFlowRecord`.
//! - [`certificate_cache`]: certificate summaries cached by DER.

pub mod certificate_cache;
pub mod cnflow;
pub mod session;

pub use certificate_cache::CertificateCache;
pub use cnflow::cnflow_record;
pub use session::{build_session_record, session_record};
