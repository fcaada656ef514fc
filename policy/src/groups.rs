//! Key-exchange groups by code point, from the IANA "TLS Supported Groups"
//! registry (RFC 8422, RFC 7919, RFC 8446, RFC 8734, RFC 9367, RFC 8998,
//! draft-ietf-tls-mlkem and draft-ietf-tls-ecdhe-mlkem for the ML-KEM
//! code points, draft-tls-westerbaan-xyber768d00 for the Kyber drafts).
//!
//! The code point, not the name, identifies a group: producers spell names
//! differently (`secp256r1`, `prime256v1`, `P-256`).

/// What a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// An elliptic curve; bits = size of the field.
    EllipticCurve,
    /// A finite-field Diffie-Hellman group (RFC 7919); bits = prime size.
    FiniteField,
    /// A post-quantum KEM alone (ML-KEM).
    PostQuantum,
    /// A hybrid of a classical group and a post-quantum KEM.
    Hybrid,
}

/// Kind and size of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub kind: GroupKind,
    /// Field or prime size in bits (for post-quantum and hybrid groups: the
    /// classical part's, 0 for ML-KEM alone).
    pub bits: u32,
}

impl Group {
    /// The group resists a quantum attacker on the key exchange (it has an
    /// ML-KEM or Kyber part).
    pub fn post_quantum(&self) -> bool {
        matches!(self.kind, GroupKind::PostQuantum | GroupKind::Hybrid)
    }
}

const fn ec(bits: u32) -> Option<Group> {
    Some(Group {
        kind: GroupKind::EllipticCurve,
        bits,
    })
}

/// The group registered at `code`, if it is one of a known size.
pub fn group(code: u16) -> Option<Group> {
    match code {
        1..=3 => ec(163),   // sect163k1, sect163r1, sect163r2
        4 | 5 => ec(193),   // sect193r1, sect193r2
        6 | 7 => ec(233),   // sect233k1, sect233r1
        8 => ec(239),       // sect239k1
        9 | 10 => ec(283),  // sect283k1, sect283r1
        11 | 12 => ec(409), // sect409k1, sect409r1
        13 | 14 => ec(571), // sect571k1, sect571r1
        15..=17 => ec(160), // secp160k1, secp160r1, secp160r2
        18 | 19 => ec(192), // secp192k1, secp192r1
        20 | 21 => ec(224), // secp224k1, secp224r1
        22 | 23 => ec(256), // secp256k1, secp256r1
        24 => ec(384),      // secp384r1
        25 => ec(521),      // secp521r1
        26 | 31 => ec(256), // brainpoolP256r1, brainpoolP256r1tls13
        27 | 32 => ec(384), // brainpoolP384r1, brainpoolP384r1tls13
        28 | 33 => ec(512), // brainpoolP512r1, brainpoolP512r1tls13
        29 => ec(255),      // x25519
        30 => ec(448),      // x448
        34..=37 => ec(256), // GC256A..GC256D
        38..=40 => ec(512), // GC512A..GC512C
        41 => ec(256),      // curveSM2
        256..=260 => Some(Group {
            kind: GroupKind::FiniteField,
            bits: [2048, 3072, 4096, 6144, 8192][usize::from(code - 256)],
        }), // ffdhe2048..ffdhe8192
        512..=514 => Some(Group {
            kind: GroupKind::PostQuantum,
            bits: 0,
        }), // MLKEM512, MLKEM768, MLKEM1024
        0x11EB => hybrid(256), // SecP256r1MLKEM768
        0x11EC => hybrid(255), // X25519MLKEM768
        0x11ED => hybrid(384), // SecP384r1MLKEM1024
        0x11EE => hybrid(256), // curveSM2MLKEM768
        0x6399 => hybrid(255), // X25519Kyber768Draft00 (obsolete draft)
        0x639A => hybrid(256), // SecP256r1Kyber768Draft00 (obsolete draft)
        _ => None,
    }
}

const fn hybrid(bits: u32) -> Option<Group> {
    Some(Group {
        kind: GroupKind::Hybrid,
        bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_entries() {
        assert_eq!(group(23), ec(256));
        assert_eq!(group(19), ec(192));
        assert_eq!(group(21), ec(224));
        assert_eq!(group(29), ec(255));
        assert_eq!(
            group(258).map(|g| (g.kind, g.bits)),
            Some((GroupKind::FiniteField, 4096))
        );
        assert!(group(0x11EC).unwrap().post_quantum());
        assert!(group(513).unwrap().post_quantum());
        assert!(!group(29).unwrap().post_quantum());
        // arbitrary_explicit_prime_curves: size unknown.
        assert_eq!(group(0xFF01), None);
        assert_eq!(group(0), None);
    }
}
