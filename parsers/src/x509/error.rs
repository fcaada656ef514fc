//! Why a certificate could not be summarized.
//!
//! Certificates reach us from the wire, so every failure is an ordinary value
//! a caller can log next to the flow, never a panic. The messages name the
//! part of the certificate that was wrong so an operator can tell a truncated
//! capture from a malformed or unusual certificate.

/// Why [`summarize_certificate`](super::summarize_certificate) rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Zero bytes were given.
    #[error("certificate is empty (0 bytes)")]
    Empty,

    /// The DER ends before the certificate does (a cut-off capture or record).
    #[error("certificate DER is truncated: it ends before the encoded certificate does")]
    Truncated,

    /// The bytes are not a DER X.509 certificate.
    #[error("certificate DER is malformed: {reason}")]
    Malformed {
        /// The underlying parser's description of what was wrong.
        reason: String,
    },

    /// A whole certificate was read but bytes were left over.
    #[error("{trailing_bytes} unexpected bytes follow the certificate")]
    TrailingData {
        /// How many bytes followed the certificate.
        trailing_bytes: usize,
    },

    /// The version field is outside v1..v3.
    #[error("certificate version field {raw_version} is not v1, v2 or v3")]
    UnsupportedVersion {
        /// The encoded value (0 means v1).
        raw_version: u32,
    },

    /// An extension the summary reports could not be decoded.
    #[error("certificate extension {name} ({oid}) is malformed")]
    MalformedExtension {
        /// Short name of the extension, such as `subjectAltName`.
        name: &'static str,
        /// Its dotted OID.
        oid: &'static str,
    },

    /// An extension the summary reports occurs more than once (RFC 5280 4.2).
    #[error("certificate extension {name} ({oid}) occurs more than once")]
    DuplicateExtension {
        /// Short name of the extension, such as `subjectAltName`.
        name: &'static str,
        /// Its dotted OID.
        oid: &'static str,
    },

    /// The subject public key cannot be decoded for its declared algorithm.
    #[error("certificate {algorithm} public key is malformed")]
    MalformedPublicKey {
        /// The algorithm the SubjectPublicKeyInfo declares.
        algorithm: String,
    },
}
