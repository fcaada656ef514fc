//! Certificate fingerprints.
//!
//! Inventories and TLS logs (Suricata, Zeek, browsers) identify a
//! certificate by the hash of its whole DER encoding; SHA-256 is the
//! current convention and SHA-1 is kept because older logs only have it.

use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};

/// Lowercase hex SHA-256 of the DER bytes.
pub(crate) fn fingerprint_sha256(der: &[u8]) -> String {
    hex::encode(digest(&SHA256, der))
}

/// Lowercase hex SHA-1 of the DER bytes (identification only, not security).
pub(crate) fn fingerprint_sha1(der: &[u8]) -> String {
    hex::encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_abc_match_fips_180_examples() {
        assert_eq!(
            fingerprint_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            fingerprint_sha1(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
