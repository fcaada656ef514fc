//! Builds the published records (`cipherlens-record`) from what the
//! pipeline and the kernel found. Runs on the record writer thread.
//!
//! - [`session`]: a finished TLS/QUIC session -> `SessionRecord`
//!   (fingerprints, IANA names, certificate summaries).
//! - [`cnflow`]: one flow's kernel counters -> `CnFlowRecord`.
//! - [`certificate_cache`]: certificate summaries cached by DER;
//!   [`fingerprint_cache`]: fingerprints cached by hello fields; both
//!   bounded by [`generations`].

pub mod certificate_cache;
pub mod cnflow;
pub mod fingerprint_cache;
pub mod generations;
pub mod session;

pub use certificate_cache::CertificateCache;
pub use cnflow::cnflow_record;
pub use fingerprint_cache::FingerprintCache;
pub use session::{build_session_record, session_record};

/// What building session records keeps from one record to the next.
#[derive(Debug, Default)]
pub struct BuildCaches {
    pub certificates: CertificateCache,
    pub fingerprints: FingerprintCache,
}

/// The attribution of an endpoint nothing is known about yet (remote, or
/// until the enrich step): one shared value rather than an allocation per
/// endpoint of every record.
pub fn unattributed() -> std::sync::Arc<cipherlens_record::attribution::EndpointAttribution> {
    static EMPTY: std::sync::LazyLock<
        std::sync::Arc<cipherlens_record::attribution::EndpointAttribution>,
    > = std::sync::LazyLock::new(Default::default);
    std::sync::Arc::clone(&EMPTY)
}
