//! Handshake parsers for cipherlens.
//!
//! Everything here takes bytes that came off the wire (or out of a capture
//! file), so everything is bounded, returns a typed error instead of
//! panicking, and never trusts a length field: see the fuzz targets under
//! `fuzz/` and the corpus replay in `tests/fuzz_corpus.rs`.
//!
//! - [`tls`]: record and handshake reassembly per direction, ClientHello,
//!   ServerHello, Certificate, ServerKeyExchange, Alert, IANA names.
//! - [`fingerprint`]: JA3/JA3S, JA4 (BSD-3) and, behind the `ja4plus`
//!   feature, JA4S/JA4X (FoxIO License 1.1).
//! - [`x509`]: certificate summaries for inventory.
//! - [`quic`]: QUIC v1/v2 Initial decryption and CRYPTO reassembly.
#![forbid(unsafe_code)]

pub mod fingerprint;
pub mod quic;
pub mod redact;
pub mod tls;
pub mod x509;
