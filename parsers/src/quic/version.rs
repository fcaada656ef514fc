//! What differs between the QUIC versions this module can decrypt.
//!
//! QUIC v2 (RFC 9369) is v1 (RFC 9000/9001) with a new version number, a new
//! Initial salt, new HKDF labels and shuffled long-header packet type bits.
//! Keeping those per-version facts in one table means the packet parser and
//! the key schedule never compare version numbers themselves.

use super::error::QuicError;

/// QUIC version 1 (RFC 9000).
pub const QUIC_V1: u32 = 0x0000_0001;

/// QUIC version 2 (RFC 9369 section 3.1).
pub const QUIC_V2: u32 = 0x6b33_43cf;

/// The version number of Version Negotiation packets (RFC 9000 section 17.2.1).
pub const VERSION_NEGOTIATION: u32 = 0;

/// Per-version constants needed to derive Initial keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InitialSecrets {
    /// The salt for HKDF-Extract over the client's original DCID.
    pub(crate) salt: [u8; 20],
    /// HKDF-Expand-Label label for the AEAD key.
    pub(crate) key_label: &'static [u8],
    /// HKDF-Expand-Label label for the AEAD IV.
    pub(crate) iv_label: &'static [u8],
    /// HKDF-Expand-Label label for the header protection key.
    pub(crate) hp_label: &'static [u8],
}

/// RFC 9001 section 5.2.
const V1_SECRETS: InitialSecrets = InitialSecrets {
    salt: [
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c,
        0xad, 0xcc, 0xbb, 0x7f, 0x0a,
    ],
    key_label: b"quic key",
    iv_label: b"quic iv",
    hp_label: b"quic hp",
};

/// RFC 9369 sections 3.3.1 and 3.3.2.
const V2_SECRETS: InitialSecrets = InitialSecrets {
    salt: [
        0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d,
        0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
    ],
    key_label: b"quicv2 key",
    iv_label: b"quicv2 iv",
    hp_label: b"quicv2 hp",
};

/// Whether Initial packets of `version` can be decrypted here.
pub fn is_supported_version(version: u32) -> bool {
    initial_secrets(version).is_ok()
}

/// The Initial key constants for `version`, or `UnsupportedVersion`.
pub(crate) fn initial_secrets(version: u32) -> Result<&'static InitialSecrets, QuicError> {
    match version {
        QUIC_V1 => Ok(&V1_SECRETS),
        QUIC_V2 => Ok(&V2_SECRETS),
        other => Err(QuicError::UnsupportedVersion(other)),
    }
}

/// How a version lays out the two long-header type bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeBitLayout {
    /// RFC 9000 section 17.2: Initial 0, 0-RTT 1, Handshake 2, Retry 3.
    V1,
    /// RFC 9369 section 3.2: Retry 0, Initial 1, 0-RTT 2, Handshake 3.
    V2,
}

/// The type-bit layout of `version`, if known.
///
/// The IETF drafts 29 to 34 (0xff00001d..=0xff000022) already used the final
/// v1 layout, so their packets are classified even though their Initial salts
/// are not supported for decryption.
pub(crate) fn type_bit_layout(version: u32) -> Option<TypeBitLayout> {
    match version {
        QUIC_V1 | 0xff00_001d..=0xff00_0022 => Some(TypeBitLayout::V1),
        QUIC_V2 => Some(TypeBitLayout::V2),
        _ => None,
    }
}

/// The longest connection ID a version allows. v1 and v2 cap it at 20 bytes
/// (RFC 9000 section 17.2); the version-independent invariants (RFC 8999
/// section 5.1) only promise it fits its one-byte length.
pub(crate) fn max_connection_id_len(version: u32) -> usize {
    if type_bit_layout(version).is_some() {
        20
    } else {
        usize::from(u8::MAX)
    }
}
