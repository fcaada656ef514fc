//! Names for the algorithm OIDs a crypto inventory has to recognise.
//!
//! The point of the inventory is to find what still needs migrating, so the
//! tables cover the classical algorithms seen in TLS and the post-quantum
//! ones that replace them. Keys are dotted OIDs (what x509-parser gives us
//! as text); an OID missing here is reported as itself, never dropped.
//!
//! Sources:
//! - classical signatures: RFC 3279, RFC 4055, RFC 5758, RFC 8410, and the
//!   NIST CSOR `sigAlgs` arc 2.16.840.1.101.3.4.3 for DSA/SHA-2, SHA-3;
//! - ML-DSA (sigAlgs 17..19, HashML-DSA 32..34): NIST CSOR, RFC 9881;
//! - SLH-DSA (sigAlgs 20..31, HashSLH-DSA 35..46): NIST CSOR, RFC 9909;
//! - ML-KEM (kems arc 2.16.840.1.101.3.4.4, 1..3): NIST CSOR;
//! - composite ML-DSA (1.3.6.1.5.5.7.6.37..54, IANA's PKIX algorithm arc):
//!   draft-ietf-lamps-pq-composite-sigs. Still a draft: earlier drafts used
//!   other (prototype) OIDs, which are deliberately not listed.

/// Signature algorithm name for a dotted OID.
pub(crate) fn signature_algorithm_name(oid: &str) -> Option<&'static str> {
    classical_signature_name(oid)
        .or_else(|| post_quantum_signature_name(oid))
        .or_else(|| composite_ml_dsa_name(oid))
}

/// Subject public key algorithm name for a dotted OID.
///
/// The post-quantum signature OIDs name both the key and the signature
/// (RFC 9881, RFC 9909, composite drafts), so they are shared.
pub(crate) fn public_key_algorithm_name(oid: &str) -> Option<&'static str> {
    classical_public_key_name(oid)
        .or_else(|| pure_post_quantum_signature_name(oid))
        .or_else(|| composite_ml_dsa_name(oid))
}

fn classical_public_key_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.10045.2.1" => "EC",
        "1.3.132.1.12" => "ECDH",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10046.2.1" => "DH",
        "2.16.840.1.101.3.4.4.1" => "ML-KEM-512",
        "2.16.840.1.101.3.4.4.2" => "ML-KEM-768",
        "2.16.840.1.101.3.4.4.3" => "ML-KEM-1024",
        _ => return None,
    })
}

/// A named elliptic curve: its TLS group style name and its size in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NamedCurve {
    pub(crate) name: &'static str,
    pub(crate) bits: u32,
}

/// Named curve for the dotted OID of an EC key's `namedCurve` parameter.
pub(crate) fn named_curve(oid: &str) -> Option<NamedCurve> {
    let (name, bits) = match oid {
        "1.2.840.10045.3.1.1" => ("secp192r1", 192),
        "1.3.132.0.33" => ("secp224r1", 224),
        "1.2.840.10045.3.1.7" => ("secp256r1", 256),
        "1.3.132.0.34" => ("secp384r1", 384),
        "1.3.132.0.35" => ("secp521r1", 521),
        "1.3.132.0.10" => ("secp256k1", 256),
        "1.3.36.3.3.2.8.1.1.7" => ("brainpoolP256r1", 256),
        "1.3.36.3.3.2.8.1.1.11" => ("brainpoolP384r1", 384),
        "1.3.36.3.3.2.8.1.1.13" => ("brainpoolP512r1", 512),
        "1.2.156.10197.1.301" => ("curveSM2", 256),
        _ => return None,
    };
    Some(NamedCurve { name, bits })
}

/// extKeyUsage purpose name for a dotted OID (RFC 5280 4.2.1.12 and the
/// few vendor purposes still seen on TLS server certificates).
pub(crate) fn extended_key_usage_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.29.37.0" => "anyExtendedKeyUsage",
        "1.3.6.1.5.5.7.3.1" => "serverAuth",
        "1.3.6.1.5.5.7.3.2" => "clientAuth",
        "1.3.6.1.5.5.7.3.3" => "codeSigning",
        "1.3.6.1.5.5.7.3.4" => "emailProtection",
        "1.3.6.1.5.5.7.3.5" => "ipsecEndSystem",
        "1.3.6.1.5.5.7.3.6" => "ipsecTunnel",
        "1.3.6.1.5.5.7.3.7" => "ipsecUser",
        "1.3.6.1.5.5.7.3.8" => "timeStamping",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        "1.3.6.1.5.5.7.3.17" => "ipsecIKE",
        "1.3.6.1.4.1.311.10.3.3" => "msSGC",
        "2.16.840.1.113730.4.1" => "nsSGC",
        _ => return None,
    })
}

fn classical_signature_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.3" => "md4WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.3.14.3.2.29" => "sha1WithRSA",
        "1.2.840.113549.1.1.10" => "rsassa-pss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.15" => "sha512-224WithRSAEncryption",
        "1.2.840.113549.1.1.16" => "sha512-256WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "2.16.840.1.101.3.4.3.1" => "dsa-with-sha224",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-sha256",
        "2.16.840.1.101.3.4.3.3" => "dsa-with-sha384",
        "2.16.840.1.101.3.4.3.4" => "dsa-with-sha512",
        "2.16.840.1.101.3.4.3.5" => "dsa-with-sha3-224",
        "2.16.840.1.101.3.4.3.6" => "dsa-with-sha3-256",
        "2.16.840.1.101.3.4.3.7" => "dsa-with-sha3-384",
        "2.16.840.1.101.3.4.3.8" => "dsa-with-sha3-512",
        "2.16.840.1.101.3.4.3.9" => "ecdsa-with-SHA3-224",
        "2.16.840.1.101.3.4.3.10" => "ecdsa-with-SHA3-256",
        "2.16.840.1.101.3.4.3.11" => "ecdsa-with-SHA3-384",
        "2.16.840.1.101.3.4.3.12" => "ecdsa-with-SHA3-512",
        "2.16.840.1.101.3.4.3.13" => "rsassa-pkcs1-v1_5-with-sha3-224",
        "2.16.840.1.101.3.4.3.14" => "rsassa-pkcs1-v1_5-with-sha3-256",
        "2.16.840.1.101.3.4.3.15" => "rsassa-pkcs1-v1_5-with-sha3-384",
        "2.16.840.1.101.3.4.3.16" => "rsassa-pkcs1-v1_5-with-sha3-512",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        "1.2.156.10197.1.501" => "SM2-with-SM3",
        _ => return None,
    })
}

/// ML-DSA and SLH-DSA "pure" parameter sets: the OIDs certificates use for
/// both keys and signatures.
fn pure_post_quantum_signature_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        "2.16.840.1.101.3.4.3.20" => "SLH-DSA-SHA2-128s",
        "2.16.840.1.101.3.4.3.21" => "SLH-DSA-SHA2-128f",
        "2.16.840.1.101.3.4.3.22" => "SLH-DSA-SHA2-192s",
        "2.16.840.1.101.3.4.3.23" => "SLH-DSA-SHA2-192f",
        "2.16.840.1.101.3.4.3.24" => "SLH-DSA-SHA2-256s",
        "2.16.840.1.101.3.4.3.25" => "SLH-DSA-SHA2-256f",
        "2.16.840.1.101.3.4.3.26" => "SLH-DSA-SHAKE-128s",
        "2.16.840.1.101.3.4.3.27" => "SLH-DSA-SHAKE-128f",
        "2.16.840.1.101.3.4.3.28" => "SLH-DSA-SHAKE-192s",
        "2.16.840.1.101.3.4.3.29" => "SLH-DSA-SHAKE-192f",
        "2.16.840.1.101.3.4.3.30" => "SLH-DSA-SHAKE-256s",
        "2.16.840.1.101.3.4.3.31" => "SLH-DSA-SHAKE-256f",
        _ => return None,
    })
}

/// Pure and pre-hash ML-DSA / SLH-DSA signature OIDs.
fn post_quantum_signature_name(oid: &str) -> Option<&'static str> {
    pure_post_quantum_signature_name(oid).or_else(|| pre_hash_post_quantum_signature_name(oid))
}

/// HashML-DSA and HashSLH-DSA: signatures over a pre-computed digest. RFC
/// 9881 and RFC 9909 do not use them in certificates, but a sensor may still
/// meet them.
fn pre_hash_post_quantum_signature_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.16.840.1.101.3.4.3.32" => "HashML-DSA-44-with-SHA512",
        "2.16.840.1.101.3.4.3.33" => "HashML-DSA-65-with-SHA512",
        "2.16.840.1.101.3.4.3.34" => "HashML-DSA-87-with-SHA512",
        "2.16.840.1.101.3.4.3.35" => "HashSLH-DSA-SHA2-128s-with-SHA256",
        "2.16.840.1.101.3.4.3.36" => "HashSLH-DSA-SHA2-128f-with-SHA256",
        "2.16.840.1.101.3.4.3.37" => "HashSLH-DSA-SHA2-192s-with-SHA512",
        "2.16.840.1.101.3.4.3.38" => "HashSLH-DSA-SHA2-192f-with-SHA512",
        "2.16.840.1.101.3.4.3.39" => "HashSLH-DSA-SHA2-256s-with-SHA512",
        "2.16.840.1.101.3.4.3.40" => "HashSLH-DSA-SHA2-256f-with-SHA512",
        "2.16.840.1.101.3.4.3.41" => "HashSLH-DSA-SHAKE-128s-with-SHAKE128",
        "2.16.840.1.101.3.4.3.42" => "HashSLH-DSA-SHAKE-128f-with-SHAKE128",
        "2.16.840.1.101.3.4.3.43" => "HashSLH-DSA-SHAKE-192s-with-SHAKE256",
        "2.16.840.1.101.3.4.3.44" => "HashSLH-DSA-SHAKE-192f-with-SHAKE256",
        "2.16.840.1.101.3.4.3.45" => "HashSLH-DSA-SHAKE-256s-with-SHAKE256",
        "2.16.840.1.101.3.4.3.46" => "HashSLH-DSA-SHAKE-256f-with-SHAKE256",
        _ => return None,
    })
}

/// Composite ML-DSA (draft-ietf-lamps-pq-composite-sigs), named like the
/// draft's identifiers without the `id-` prefix.
fn composite_ml_dsa_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.3.6.1.5.5.7.6.37" => "MLDSA44-RSA2048-PSS-SHA256",
        "1.3.6.1.5.5.7.6.38" => "MLDSA44-RSA2048-PKCS15-SHA256",
        "1.3.6.1.5.5.7.6.39" => "MLDSA44-Ed25519-SHA512",
        "1.3.6.1.5.5.7.6.40" => "MLDSA44-ECDSA-P256-SHA256",
        "1.3.6.1.5.5.7.6.41" => "MLDSA65-RSA3072-PSS-SHA512",
        "1.3.6.1.5.5.7.6.42" => "MLDSA65-RSA3072-PKCS15-SHA512",
        "1.3.6.1.5.5.7.6.43" => "MLDSA65-RSA4096-PSS-SHA512",
        "1.3.6.1.5.5.7.6.44" => "MLDSA65-RSA4096-PKCS15-SHA512",
        "1.3.6.1.5.5.7.6.45" => "MLDSA65-ECDSA-P256-SHA512",
        "1.3.6.1.5.5.7.6.46" => "MLDSA65-ECDSA-P384-SHA512",
        "1.3.6.1.5.5.7.6.47" => "MLDSA65-ECDSA-brainpoolP256r1-SHA512",
        "1.3.6.1.5.5.7.6.48" => "MLDSA65-Ed25519-SHA512",
        "1.3.6.1.5.5.7.6.49" => "MLDSA87-ECDSA-P384-SHA512",
        "1.3.6.1.5.5.7.6.50" => "MLDSA87-ECDSA-brainpoolP384r1-SHA512",
        "1.3.6.1.5.5.7.6.51" => "MLDSA87-Ed448-SHAKE256",
        "1.3.6.1.5.5.7.6.52" => "MLDSA87-RSA3072-PSS-SHA512",
        "1.3.6.1.5.5.7.6.53" => "MLDSA87-RSA4096-PSS-SHA512",
        "1.3.6.1.5.5.7.6.54" => "MLDSA87-ECDSA-P521-SHA512",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ml_dsa_parameter_sets_follow_csor_arcs_17_to_19() {
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.17"),
            Some("ML-DSA-44")
        );
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.18"),
            Some("ML-DSA-65")
        );
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.19"),
            Some("ML-DSA-87")
        );
        assert_eq!(
            public_key_algorithm_name("2.16.840.1.101.3.4.3.18"),
            Some("ML-DSA-65")
        );
    }

    #[test]
    fn slh_dsa_sha2_sets_come_before_shake_sets() {
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.20"),
            Some("SLH-DSA-SHA2-128s")
        );
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.25"),
            Some("SLH-DSA-SHA2-256f")
        );
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.26"),
            Some("SLH-DSA-SHAKE-128s")
        );
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.31"),
            Some("SLH-DSA-SHAKE-256f")
        );
    }

    #[test]
    fn pre_hash_variants_are_signatures_but_not_key_algorithms() {
        assert_eq!(
            signature_algorithm_name("2.16.840.1.101.3.4.3.33"),
            Some("HashML-DSA-65-with-SHA512")
        );
        assert_eq!(public_key_algorithm_name("2.16.840.1.101.3.4.3.33"), None);
    }

    #[test]
    fn ml_kem_is_a_key_algorithm_only() {
        assert_eq!(
            public_key_algorithm_name("2.16.840.1.101.3.4.4.2"),
            Some("ML-KEM-768")
        );
        assert_eq!(signature_algorithm_name("2.16.840.1.101.3.4.4.2"), None);
    }

    #[test]
    fn unknown_oids_have_no_name() {
        assert_eq!(signature_algorithm_name("1.2.3.4"), None);
        assert_eq!(public_key_algorithm_name("1.2.3.4"), None);
        assert_eq!(named_curve("1.2.3.4"), None);
    }

    #[test]
    fn p521_is_521_bits_not_its_66_byte_coordinate_size() {
        assert_eq!(
            named_curve("1.3.132.0.35"),
            Some(NamedCurve {
                name: "secp521r1",
                bits: 521
            })
        );
    }
}
