//! X.509 certificate summaries for crypto inventory.
//!
//! Auditors need to know, per certificate seen on the wire, who it names,
//! who issued it, how long it is valid, and which algorithms and key sizes
//! protect it, in a form that can be diffed and queried without ASN.1
//! tooling. [`summarize_certificate`] turns one DER certificate into a
//! [`CertificateSummary`]; [`summarize_chain`] does so for each certificate
//! of a TLS Certificate message, keeping the order the peer sent.
//!
//! Conventions (checked against `openssl x509` in `tests/x509_openssl.rs`):
//! - names: RFC 4514 strings equal to `openssl -nameopt RFC2253,-esc_msb`,
//!   plus the RDNs in DER order with unescaped values;
//! - times: RFC 3339 UTC (`2017-03-23T00:00:00Z`);
//! - fingerprints: lowercase hex over the whole DER;
//! - algorithms: RFC names (`sha256WithRSAEncryption`, `ecdsa-with-SHA384`,
//!   `rsassa-pss`, `ed25519`), NIST names for post-quantum ones (`ML-DSA-65`,
//!   `SLH-DSA-SHA2-128s`, `ML-KEM-768`), the dotted OID when unknown;
//! - `self_signed` means subject == issuer and, when both are present,
//!   authorityKeyIdentifier == subjectKeyIdentifier. The signature itself is
//!   not verified (x509-parser's `verify` feature is not enabled), so a
//!   forged certificate claiming to be self-signed is reported as such.
//!
//! Input is untrusted: malformed, truncated or trailing-garbage DER yields a
//! [`CertificateError`], never a panic.

mod algorithms;
mod attribute_value;
mod digests;
mod distinguished_name;
mod error;
mod extensions;
mod public_key;
mod summarize;
mod validity;

/// The summary types are the published record's (`cipherlens-record`), so
/// a certificate is summarized straight into what the sensor emits.
pub use cipherlens_record::certificate::{
    BasicConstraints, CertificateSummary, PublicKeySummary, SubjectAltNames,
};
pub use error::CertificateError;

/// Summarizes one DER-encoded certificate.
///
/// The input must be exactly one certificate: trailing bytes are an error.
pub fn summarize_certificate(der: &[u8]) -> Result<CertificateSummary, CertificateError> {
    summarize::summarize(der)
}

/// Summarizes each certificate of a chain, in the order given (for TLS, the
/// order the peer sent, leaf first). One bad certificate does not hide the
/// others: each entry has its own result.
pub fn summarize_chain(ders: &[&[u8]]) -> Vec<Result<CertificateSummary, CertificateError>> {
    ders.iter()
        .enumerate()
        .map(|(position, der)| {
            let summary = summarize_certificate(der);
            if let Err(error) = &summary {
                tracing::debug!(position, %error, "certificate in chain not summarized");
            }
            summary
        })
        .collect()
}
