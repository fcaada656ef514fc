//! What differs between the QUIC versions whose Initials can be decrypted.
//!
//! QUIC v2 (RFC 9369) is v1 (RFC 9000/9001) with a new version number, a new
//! Initial salt, new HKDF labels and shuffled long-header packet type bits.
//! The IETF drafts 23 to 34, Meta's mvfst versions and Google's TLS-based
//! T050/T051 are v1 with other salts (published in the drafts, in mvfst's
//! `getQuicVersionSalt` and in Wireshark's and nDPI's QUIC dissectors);
//! T050/T051 also frame their CRYPTO data the Google way. Keeping those
//! per-version facts in one table means the packet parser and the key
//! schedule never compare version numbers themselves.

use super::error::QuicError;

/// QUIC version 1 (RFC 9000).
pub const QUIC_V1: u32 = 0x0000_0001;

/// QUIC version 2 (RFC 9369 section 3.1).
pub const QUIC_V2: u32 = 0x6b33_43cf;

/// The version number of Version Negotiation packets (RFC 9000 section 17.2.1).
pub const VERSION_NEGOTIATION: u32 = 0;

/// Google QUIC T050 and T051: TLS 1.3 handshakes in IETF-style long headers.
pub const GOOGLE_T050: u32 = 0x5430_3530;
pub const GOOGLE_T051: u32 = 0x5430_3531;

/// How the decrypted payload of an Initial lays out its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameLayout {
    /// RFC 9000 section 19 (v1, v2, the drafts, mvfst).
    Ietf,
    /// Google QUIC's frames (T050/T051): CRYPTO is type 0x08.
    Google,
}

/// Per-version constants needed to derive Initial keys and read Initials.
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
    /// How the Initials' frames are laid out.
    pub(crate) frames: FrameLayout,
}

const fn v1_labels(salt: [u8; 20], frames: FrameLayout) -> InitialSecrets {
    InitialSecrets {
        salt,
        key_label: b"quic key",
        iv_label: b"quic iv",
        hp_label: b"quic hp",
        frames,
    }
}

/// RFC 9001 section 5.2 (also draft-ietf-quic-tls-33 and -34).
const V1_SECRETS: InitialSecrets = v1_labels(
    [
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c,
        0xad, 0xcc, 0xbb, 0x7f, 0x0a,
    ],
    FrameLayout::Ietf,
);

/// RFC 9369 sections 3.3.1 and 3.3.2.
const V2_SECRETS: InitialSecrets = InitialSecrets {
    salt: [
        0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d,
        0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
    ],
    key_label: b"quicv2 key",
    iv_label: b"quicv2 iv",
    hp_label: b"quicv2 hp",
    frames: FrameLayout::Ietf,
};

/// draft-ietf-quic-tls-22 section 5.2 (mvfst's first version).
const DRAFT_22_SECRETS: InitialSecrets = v1_labels(
    [
        0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e,
        0xbd, 0x7a, 0x02, 0x64, 0x4a,
    ],
    FrameLayout::Ietf,
);

/// draft-ietf-quic-tls-23 to -28 section 5.2.
const DRAFT_23_SECRETS: InitialSecrets = v1_labels(
    [
        0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63,
        0x65, 0xbe, 0xf9, 0xf5, 0x02,
    ],
    FrameLayout::Ietf,
);

/// draft-ietf-quic-tls-29 to -32 section 5.2.
const DRAFT_29_SECRETS: InitialSecrets = v1_labels(
    [
        0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11,
        0xe0, 0x43, 0x90, 0xa8, 0x99,
    ],
    FrameLayout::Ietf,
);

/// Google T050.
const T050_SECRETS: InitialSecrets = v1_labels(
    [
        0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36,
        0x7c, 0x60, 0x48, 0x83, 0x10,
    ],
    FrameLayout::Google,
);

/// Google T051.
const T051_SECRETS: InitialSecrets = v1_labels(
    [
        0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8,
        0xcc, 0xda, 0x6e, 0x03, 0x3d,
    ],
    FrameLayout::Google,
);

/// Whether Initial packets of `version` can be decrypted here.
pub fn is_supported_version(version: u32) -> bool {
    initial_secrets(version).is_ok()
}

/// The Initial key constants for `version`, or `UnsupportedVersion`.
pub(crate) fn initial_secrets(version: u32) -> Result<&'static InitialSecrets, QuicError> {
    match version {
        QUIC_V1 => Ok(&V1_SECRETS),
        QUIC_V2 => Ok(&V2_SECRETS),
        // draft-23 ..= draft-28
        0xff00_0017..=0xff00_001c => Ok(&DRAFT_23_SECRETS),
        // draft-29 ..= draft-32
        0xff00_001d..=0xff00_0020 => Ok(&DRAFT_29_SECRETS),
        // draft-33, draft-34
        0xff00_0021 | 0xff00_0022 => Ok(&V1_SECRETS),
        // mvfst: its draft-22-based first version; its v1 alias; the rest
        // (0xfaceb002, the experimental and alias versions) use draft-23's.
        0xface_b001 => Ok(&DRAFT_22_SECRETS),
        0xface_b003 => Ok(&V1_SECRETS),
        0xface_b002 | 0xface_b00e | 0xface_b010..=0xface_b013 => Ok(&DRAFT_23_SECRETS),
        GOOGLE_T050 => Ok(&T050_SECRETS),
        GOOGLE_T051 => Ok(&T051_SECRETS),
        other => Err(QuicError::UnsupportedVersion(other)),
    }
}

/// Whether `version` is reserved to force Version Negotiation (RFC 9000
/// section 15: 0x?a?a?a?a).
pub fn is_greased_version(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// How a version lays out the two long-header type bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeBitLayout {
    /// RFC 9000 section 17.2: Initial 0, 0-RTT 1, Handshake 2, Retry 3.
    V1,
    /// RFC 9369 section 3.2: Retry 0, Initial 1, 0-RTT 2, Handshake 3.
    V2,
}

/// The type-bit layout of `version`, if known. Every version with a known
/// salt but v2 uses v1's layout, as do the drafts from 29 on whose salts
/// are known too.
pub(crate) fn type_bit_layout(version: u32) -> Option<TypeBitLayout> {
    match version {
        QUIC_V2 => Some(TypeBitLayout::V2),
        _ if is_supported_version(version) => Some(TypeBitLayout::V1),
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

/// A short name of a version for records and logs: `v1`, `v2`,
/// `draft-29`, `mvfst-0xfaceb002`, `T051`; `None` for versions not read.
pub fn version_name(version: u32) -> Option<String> {
    if !is_supported_version(version) {
        return None;
    }
    Some(match version {
        QUIC_V1 => "v1".to_owned(),
        QUIC_V2 => "v2".to_owned(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", version & 0xff),
        GOOGLE_T050 => "T050".to_owned(),
        GOOGLE_T051 => "T051".to_owned(),
        other => format!("mvfst-{other:#010x}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_use_the_salt_their_draft_published() {
        for draft in 23..=34u32 {
            let secrets = initial_secrets(0xff00_0000 | draft).expect("draft");
            let expected = match draft {
                23..=28 => DRAFT_23_SECRETS.salt,
                29..=32 => DRAFT_29_SECRETS.salt,
                _ => V1_SECRETS.salt,
            };
            assert_eq!(secrets.salt, expected, "draft-{draft}");
            assert_eq!(
                type_bit_layout(0xff00_0000 | draft),
                Some(TypeBitLayout::V1)
            );
        }
        assert!(!is_supported_version(0xff00_0016));
        assert_eq!(version_name(0xff00_001d).as_deref(), Some("draft-29"));
    }

    #[test]
    fn greased_versions_are_recognised() {
        assert!(is_greased_version(0x1a2a_3a4a));
        assert!(is_greased_version(0x0a0a_0a0a));
        assert!(!is_greased_version(QUIC_V1));
        assert!(!is_supported_version(0x1a2a_3a4a));
    }
}
