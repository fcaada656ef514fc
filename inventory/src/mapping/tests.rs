use super::*;

fn names(algorithms: &[Algorithm]) -> Vec<&str> {
    algorithms.iter().map(|a| a.name.as_str()).collect()
}

// The structure of CycloneDX bom-examples CBOM/Protocol (key exchange,
// authentication, cipher, hash of TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
// and RFC 5246/8446's suite naming.
#[test]
fn suites_split_into_exchange_authentication_cipher_and_mac() {
    let cases: [(&str, &[&str]); 9] = [
        (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            &["ECDHE", "RSA", "AES-256-GCM", "TLS12-PRF-SHA-384"],
        ),
        (
            "TLS_AES_128_GCM_SHA256",
            &["AES-128-GCM", "TLS13-PRF-SHA-256"],
        ),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            &["ChaCha20-Poly1305", "TLS13-PRF-SHA-256"],
        ),
        (
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            &["RSA-PKCS1-1.5", "AES-128-CBC", "HMAC-SHA-1"],
        ),
        (
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
            &["FFDHE", "RSA", "AES-128-CBC", "HMAC-SHA-1"],
        ),
        (
            "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
            &["FFDHE", "AES-128-GCM", "TLS12-PRF-SHA-256"],
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
            &["ECDHE", "ECDSA", "AES-128-CCM-8", "TLS12-PRF-SHA-256"],
        ),
        (
            "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
            &["RSA-PKCS1-1.5", "RC4-40", "HMAC-MD5"],
        ),
        (
            "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
            &["FFDHE", "DSA", "3DES-168-CBC", "HMAC-SHA-1"],
        ),
    ];
    for (suite, expected) in cases {
        assert_eq!(names(&cipher_suite(suite)), expected, "{suite}");
    }
    assert!(cipher_suite("TLS_EMPTY_RENEGOTIATION_INFO_SCSV").is_empty());
    assert!(cipher_suite("unknown(0xeeee)").is_empty());
}

#[test]
fn groups_name_their_curve_prime_or_kem() {
    let p256 = group("secp256r1");
    assert_eq!(
        (p256.name.as_str(), p256.curve.as_deref()),
        ("ECDHE-P-256", Some("nist/P-256"))
    );
    let hybrid = group("X25519MLKEM768");
    assert_eq!((hybrid.primitive, hybrid.quantum), (Primitive::Kem, 3));
    assert_eq!(group("MLKEM1024").name, "ML-KEM-1024");
    let named = group("ffdhe2048");
    assert_eq!(
        (named.name.as_str(), named.classical),
        ("FFDHE-ffdhe2048", Some(112))
    );
    let custom = group("dh_prime_1024");
    assert_eq!(
        (custom.name.as_str(), custom.classical),
        ("FFDHE-1024", Some(80))
    );
    assert_eq!(group("GREASE").primitive, Primitive::Unknown);
}

#[test]
fn certificate_signatures_name_their_hash() {
    let sha256 = certificate_signature("sha256WithRSAEncryption", "1.2.840.113549.1.1.11");
    assert_eq!(sha256.name, "RSA-PKCS1-1.5-SHA-256");
    assert_eq!(sha256.parts, ["SHA-256"]);
    assert_eq!(sha256.oid.as_deref(), Some("1.2.840.113549.1.1.11"));
    assert_eq!((sha256.classical, sha256.quantum), (Some(128), 0));
    assert_eq!(
        certificate_signature("sha1WithRSAEncryption", "x").classical,
        Some(63)
    );
    assert_eq!(
        certificate_signature("md5WithRSAEncryption", "x").classical,
        Some(0)
    );
    assert_eq!(
        certificate_signature("ecdsa-with-SHA384", "x").name,
        "ECDSA-SHA-384"
    );
    assert_eq!(certificate_signature("ML-DSA-65", "x").quantum, 3);
    let composite = certificate_signature("MLDSA65-ECDSA-P256-SHA512", "x");
    assert_eq!(
        (composite.quantum, composite.parts.as_slice()),
        (3, &["ML-DSA-65".to_owned()][..])
    );
    let odd = certificate_signature("1.2.3.4", "1.2.3.4");
    assert_eq!((odd.primitive, odd.quantum), (Primitive::Unknown, 0));
}

#[test]
fn public_keys_carry_their_size() {
    let rsa = public_key("RSA", Some(1024), None);
    assert_eq!((rsa.name.as_str(), rsa.classical), ("RSA-1024", Some(80)));
    let ec = public_key("EC", Some(256), Some("secp256r1"));
    assert_eq!(
        (ec.name.as_str(), ec.curve.as_deref()),
        ("ECDSA-P-256", Some("nist/P-256"))
    );
    assert_eq!(public_key("Ed25519", None, None).classical, Some(128));
    assert_eq!(
        public_key("ML-KEM-768", None, None).primitive,
        Primitive::Kem
    );
}
