//! Certificates built byte by byte for what OpenSSL 3.0 cannot issue:
//! post-quantum algorithms, unusual string types, unknown OIDs, duplicate
//! or malformed extensions, odd dates.
//!
//! The oracle for algorithm names is the standards' OID assignments, typed
//! here from NIST CSOR / RFC 9881 (ML-DSA), RFC 9909 (SLH-DSA), CSOR (ML-KEM)
//! and draft-ietf-lamps-pq-composite-sigs (composite ML-DSA). Signatures
//! are dummy bytes: the summary does not verify them.

use cipherlens_parsers::x509::{CertificateError, CertificateSummary, summarize_certificate};

// ---- a minimal DER writer ----------------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).expect("short form"));
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | u8::try_from(be.len() - skip).expect("few bytes"));
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

fn set(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &items.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|arc| arc.parse().expect("numeric arc"))
        .collect();
    let mut body = Vec::new();
    let first_two_arcs = arcs[0] * 40 + arcs[1];
    for arc in std::iter::once(first_two_arcs).chain(arcs[2..].iter().copied()) {
        let mut groups = vec![u8::try_from(arc & 0x7f).expect("7 bits")];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | u8::try_from(rest & 0x7f).expect("7 bits"));
            rest >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    tlv(0x06, &body)
}

fn utf8(text: &str) -> Vec<u8> {
    tlv(0x0c, text.as_bytes())
}

fn printable(text: &str) -> Vec<u8> {
    tlv(0x13, text.as_bytes())
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}

fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

fn attribute(type_oid: &str, value: Vec<u8>) -> Vec<u8> {
    seq(&[oid(type_oid), value])
}

/// One single-valued RDN per attribute, in the order given.
fn name(attributes: Vec<Vec<u8>>) -> Vec<u8> {
    seq(&attributes
        .into_iter()
        .map(|a| set(&[a]))
        .collect::<Vec<_>>())
}

fn extension(extension_oid: &str, value: Vec<u8>) -> Vec<u8> {
    seq(&[oid(extension_oid), octet_string(&value)])
}

fn algorithm(algorithm_oid: &str) -> Vec<u8> {
    seq(&[oid(algorithm_oid)])
}

struct Draft {
    version: Option<u8>,
    serial: Vec<u8>,
    signature_oid: String,
    issuer: Vec<u8>,
    not_before: Vec<u8>,
    not_after: Vec<u8>,
    subject: Vec<u8>,
    spki: Vec<u8>,
    extensions: Vec<Vec<u8>>,
}

const ML_DSA_65: &str = "2.16.840.1.101.3.4.3.18";

impl Draft {
    fn new() -> Self {
        let subject = name(vec![
            attribute("2.5.4.6", printable("DE")),
            attribute("2.5.4.3", utf8("pq.example")),
        ]);
        Draft {
            version: Some(2),
            serial: vec![0x01, 0x02],
            signature_oid: ML_DSA_65.to_owned(),
            issuer: subject.clone(),
            not_before: tlv(0x17, b"250101000000Z"),
            not_after: tlv(0x17, b"260101000000Z"),
            subject,
            spki: spki(ML_DSA_65, &[0x42; 1952]),
            extensions: Vec::new(),
        }
    }

    fn der(&self) -> Vec<u8> {
        let mut tbs = Vec::new();
        if let Some(version) = self.version {
            tbs.push(tlv(0xa0, &tlv(0x02, &[version])));
        }
        tbs.push(tlv(0x02, &self.serial));
        tbs.push(algorithm(&self.signature_oid));
        tbs.push(self.issuer.clone());
        tbs.push(seq(&[self.not_before.clone(), self.not_after.clone()]));
        tbs.push(self.subject.clone());
        tbs.push(self.spki.clone());
        if !self.extensions.is_empty() {
            tbs.push(tlv(0xa3, &seq(&self.extensions)));
        }
        seq(&[
            seq(&tbs),
            algorithm(&self.signature_oid),
            bit_string(&[0x5a; 64]),
        ])
    }

    fn summary(&self) -> CertificateSummary {
        summarize_certificate(&self.der()).expect("hand-made certificate parses")
    }
}

fn spki(key_oid: &str, key: &[u8]) -> Vec<u8> {
    seq(&[algorithm(key_oid), bit_string(key)])
}

// ---- post-quantum algorithm names ---------------------------------------------

/// NIST CSOR sigAlgs arc 2.16.840.1.101.3.4.3 (RFC 9881, RFC 9909).
const PURE_PQ_SIGNATURES: &[(&str, &str)] = &[
    ("2.16.840.1.101.3.4.3.17", "ML-DSA-44"),
    ("2.16.840.1.101.3.4.3.18", "ML-DSA-65"),
    ("2.16.840.1.101.3.4.3.19", "ML-DSA-87"),
    ("2.16.840.1.101.3.4.3.20", "SLH-DSA-SHA2-128s"),
    ("2.16.840.1.101.3.4.3.21", "SLH-DSA-SHA2-128f"),
    ("2.16.840.1.101.3.4.3.22", "SLH-DSA-SHA2-192s"),
    ("2.16.840.1.101.3.4.3.23", "SLH-DSA-SHA2-192f"),
    ("2.16.840.1.101.3.4.3.24", "SLH-DSA-SHA2-256s"),
    ("2.16.840.1.101.3.4.3.25", "SLH-DSA-SHA2-256f"),
    ("2.16.840.1.101.3.4.3.26", "SLH-DSA-SHAKE-128s"),
    ("2.16.840.1.101.3.4.3.27", "SLH-DSA-SHAKE-128f"),
    ("2.16.840.1.101.3.4.3.28", "SLH-DSA-SHAKE-192s"),
    ("2.16.840.1.101.3.4.3.29", "SLH-DSA-SHAKE-192f"),
    ("2.16.840.1.101.3.4.3.30", "SLH-DSA-SHAKE-256s"),
    ("2.16.840.1.101.3.4.3.31", "SLH-DSA-SHAKE-256f"),
];

/// draft-ietf-lamps-pq-composite-sigs, IANA PKIX algorithms arc.
const COMPOSITE_ML_DSA: &[(&str, &str)] = &[
    ("1.3.6.1.5.5.7.6.37", "MLDSA44-RSA2048-PSS-SHA256"),
    ("1.3.6.1.5.5.7.6.40", "MLDSA44-ECDSA-P256-SHA256"),
    ("1.3.6.1.5.5.7.6.45", "MLDSA65-ECDSA-P256-SHA512"),
    ("1.3.6.1.5.5.7.6.48", "MLDSA65-Ed25519-SHA512"),
    ("1.3.6.1.5.5.7.6.49", "MLDSA87-ECDSA-P384-SHA512"),
    ("1.3.6.1.5.5.7.6.54", "MLDSA87-ECDSA-P521-SHA512"),
];

#[test]
fn x509_pure_pq_and_composite_algorithms_are_named_for_key_and_signature() {
    for (algorithm_oid, expected) in PURE_PQ_SIGNATURES.iter().chain(COMPOSITE_ML_DSA) {
        let mut draft = Draft::new();
        draft.signature_oid = (*algorithm_oid).to_owned();
        draft.spki = spki(algorithm_oid, &[0x11; 64]);
        let summary = draft.summary();
        assert_eq!(summary.signature_algorithm, *expected, "{algorithm_oid}");
        assert_eq!(summary.signature_algorithm_oid, *algorithm_oid);
        assert_eq!(summary.public_key.algorithm, *expected, "{algorithm_oid}");
        assert_eq!(summary.public_key.bits, None);
        assert_eq!(summary.public_key.curve, None);
    }
}

#[test]
fn x509_ml_kem_keys_are_named_by_parameter_set() {
    for (key_oid, expected) in [
        ("2.16.840.1.101.3.4.4.1", "ML-KEM-512"),
        ("2.16.840.1.101.3.4.4.2", "ML-KEM-768"),
        ("2.16.840.1.101.3.4.4.3", "ML-KEM-1024"),
    ] {
        let mut draft = Draft::new();
        draft.spki = spki(key_oid, &[0x22; 1184]);
        let summary = draft.summary();
        assert_eq!(summary.public_key.algorithm, expected);
        assert_eq!(summary.signature_algorithm, "ML-DSA-65");
    }
}

#[test]
fn x509_unknown_algorithms_are_reported_by_oid() {
    let mut draft = Draft::new();
    draft.signature_oid = "1.3.6.1.4.1.99999.7".to_owned();
    draft.spki = spki("1.3.6.1.4.1.99999.8", &[1, 2, 3]);
    let summary = draft.summary();
    assert_eq!(summary.signature_algorithm, "1.3.6.1.4.1.99999.7");
    assert_eq!(summary.signature_algorithm_oid, "1.3.6.1.4.1.99999.7");
    assert_eq!(summary.public_key.algorithm, "1.3.6.1.4.1.99999.8");
}

// ---- EC curve parameters -------------------------------------------------------

#[test]
fn x509_ec_curve_unknown_or_explicit_gives_no_guessed_size() {
    let ec_point = [&[0x04u8][..], &[0x33; 64]].concat();
    let mut draft = Draft::new();
    draft.spki = seq(&[
        seq(&[oid("1.2.840.10045.2.1"), oid("1.3.132.0.10")]),
        bit_string(&ec_point),
    ]);
    let secp256k1 = draft.summary().public_key;
    assert_eq!(
        (secp256k1.bits, secp256k1.curve.as_deref()),
        (Some(256), Some("secp256k1"))
    );

    draft.spki = seq(&[
        seq(&[oid("1.2.840.10045.2.1"), oid("1.2.3.4.5")]),
        bit_string(&ec_point),
    ]);
    let unknown = draft.summary().public_key;
    assert_eq!(
        (unknown.bits, unknown.curve.as_deref()),
        (None, Some("1.2.3.4.5"))
    );

    draft.spki = seq(&[
        seq(&[oid("1.2.840.10045.2.1"), seq(&[tlv(0x02, &[1])])]),
        bit_string(&ec_point),
    ]);
    let explicit = draft.summary().public_key;
    assert_eq!(
        (explicit.algorithm.as_str(), explicit.bits, explicit.curve),
        ("EC", None, None)
    );
}

#[test]
fn x509_malformed_rsa_key_is_an_error() {
    let mut draft = Draft::new();
    draft.spki = seq(&[
        seq(&[oid("1.2.840.113549.1.1.1"), tlv(0x05, &[])]),
        bit_string(&[0xde, 0xad]),
    ]);
    assert_eq!(
        summarize_certificate(&draft.der()).unwrap_err(),
        CertificateError::MalformedPublicKey {
            algorithm: "RSA".to_owned()
        }
    );
}

// ---- names ---------------------------------------------------------------------

#[test]
fn x509_names_in_bmp_teletex_and_universal_strings_are_decoded() {
    let mut draft = Draft::new();
    draft.subject = name(vec![
        attribute("2.5.4.10", tlv(0x1e, &[0x00, b'Z', 0x00, 0xfc, 0x00, b'r'])),
        attribute("2.5.4.7", tlv(0x14, &[b'K', 0xf6, b'l', b'n'])),
        attribute("2.5.4.3", tlv(0x1c, &[0, 0, 0, b'x', 0, 1, 0xf6, 0x00])),
    ]);
    let summary = draft.summary();
    assert_eq!(
        summary.subject_rdns,
        ["O=Z\u{fc}r", "L=K\u{f6}ln", "CN=x\u{1f600}"]
    );
    assert_eq!(summary.subject, "CN=x\u{1f600},L=K\u{f6}ln,O=Z\u{fc}r");
    assert_eq!(summary.subject_common_name.as_deref(), Some("x\u{1f600}"));
}

#[test]
fn x509_unknown_attribute_types_use_dotted_oid_and_hex_value() {
    let mut draft = Draft::new();
    draft.subject = name(vec![
        attribute("1.2.3.4", utf8("x")),
        attribute("2.5.4.45", bit_string(&[0xab])),
    ]);
    let summary = draft.summary();
    // RFC 4514 2.4: dotted types and non-string values take the #hex form.
    assert_eq!(
        summary.subject,
        "x500UniqueIdentifier=#030200AB,1.2.3.4=#0C0178"
    );
    assert_eq!(
        summary.subject_rdns,
        ["1.2.3.4=x", "x500UniqueIdentifier=#030200AB"]
    );
    assert_eq!(summary.subject_common_name, None);
}

#[test]
fn x509_empty_subject_and_last_common_name_wins() {
    let mut draft = Draft::new();
    draft.subject = seq(&[]);
    let summary = draft.summary();
    assert_eq!(summary.subject, "");
    assert!(summary.subject_rdns.is_empty());
    assert!(!summary.self_signed, "empty subject differs from issuer");

    draft.subject = name(vec![
        attribute("2.5.4.3", utf8("first")),
        attribute("2.5.4.3", utf8("last")),
    ]);
    assert_eq!(draft.summary().subject_common_name.as_deref(), Some("last"));
}

#[test]
fn x509_multi_valued_rdn_is_plus_joined() {
    let mut draft = Draft::new();
    draft.subject = seq(&[
        set(&[attribute("2.5.4.6", printable("US"))]),
        set(&[
            attribute("2.5.4.3", utf8("a,b")),
            attribute("0.9.2342.19200300.100.1.1", utf8("u1")),
        ]),
    ]);
    let summary = draft.summary();
    assert_eq!(summary.subject_rdns, ["C=US", "CN=a,b+UID=u1"]);
    assert_eq!(summary.subject, "UID=u1+CN=a\\,b,C=US");
}

// ---- extensions ----------------------------------------------------------------

fn san(entries: &[Vec<u8>]) -> Vec<u8> {
    extension("2.5.29.17", seq(entries))
}

#[test]
fn x509_duplicate_reported_extension_is_an_error() {
    let mut draft = Draft::new();
    let dns = tlv(0x82, b"a.example");
    draft.extensions = vec![san(std::slice::from_ref(&dns)), san(&[dns])];
    assert_eq!(
        summarize_certificate(&draft.der()).unwrap_err(),
        CertificateError::DuplicateExtension {
            name: "subjectAltName",
            oid: "2.5.29.17"
        }
    );
}

#[test]
fn x509_malformed_reported_extension_is_an_error() {
    let mut draft = Draft::new();
    draft.extensions = vec![extension("2.5.29.19", vec![0x04, 0x00])];
    assert_eq!(
        summarize_certificate(&draft.der()).unwrap_err(),
        CertificateError::MalformedExtension {
            name: "basicConstraints",
            oid: "2.5.29.19"
        }
    );
}

#[test]
fn x509_unreported_san_kinds_are_skipped_and_odd_ip_lengths_kept_as_hex() {
    let mut draft = Draft::new();
    let directory_name = tlv(0xa4, &name(vec![attribute("2.5.4.3", utf8("dir"))]));
    draft.extensions = vec![san(&[
        directory_name.clone(),
        tlv(0x87, &[10, 0, 0, 0, 255, 0, 0, 0]),
        tlv(0x81, b"a@b.example"),
    ])];
    let summary = draft.summary();
    let names = summary.subject_alt_names.expect("reported SANs");
    assert_eq!(names.ip, ["0a000000ff000000"]);
    assert_eq!(names.email, ["a@b.example"]);
    assert!(names.dns.is_empty() && names.uri.is_empty());

    draft.extensions = vec![san(&[directory_name])];
    assert_eq!(draft.summary().subject_alt_names, None);
}

#[test]
fn x509_key_identifier_mismatch_is_not_self_signed() {
    let ski = |id: &[u8]| extension("2.5.29.14", octet_string(id));
    let aki = |id: &[u8]| extension("2.5.29.35", seq(&[tlv(0x80, id)]));
    let mut draft = Draft::new();
    draft.extensions = vec![ski(&[1, 2, 3]), aki(&[1, 2, 3])];
    let matching = draft.summary();
    assert!(matching.self_signed);
    assert_eq!(matching.subject_key_identifier.as_deref(), Some("010203"));

    draft.extensions = vec![ski(&[1, 2, 3]), aki(&[9, 9, 9])];
    let mismatched = draft.summary();
    assert!(!mismatched.self_signed);
    assert_eq!(
        mismatched.authority_key_identifier.as_deref(),
        Some("090909")
    );
}

// ---- versions, serials, dates, JSON shape ----------------------------------------

#[test]
fn x509_version_two_and_serial_zero() {
    let mut draft = Draft::new();
    draft.version = Some(1);
    draft.serial = vec![0x00];
    let summary = draft.summary();
    assert_eq!(summary.version, 2);
    assert_eq!(summary.serial_number, "00");
}

#[test]
fn x509_dates_across_utc_time_and_generalized_time() {
    let mut draft = Draft::new();
    draft.not_before = tlv(0x17, b"500101000000Z");
    draft.not_after = tlv(0x18, b"20500101000000Z");
    let summary = draft.summary();
    assert_eq!(summary.not_before, "1950-01-01T00:00:00Z");
    assert_eq!(summary.not_after, "2050-01-01T00:00:00Z");
    assert_eq!(summary.validity_days, 36525);

    draft.not_before = tlv(0x17, b"260101000000Z");
    draft.not_after = tlv(0x17, b"250101000000Z");
    assert_eq!(draft.summary().validity_days, -365);
}

#[test]
fn x509_json_leaves_out_absent_fields_and_empty_san_lists() {
    let mut draft = Draft::new();
    draft.extensions = vec![san(&[tlv(0x82, b"json.example")])];
    let json = serde_json::to_value(draft.summary()).expect("serializes");
    let object = json.as_object().expect("object");
    for absent in [
        "basic_constraints",
        "key_usage",
        "extended_key_usage",
        "subject_key_identifier",
        "authority_key_identifier",
    ] {
        assert!(!object.contains_key(absent), "{absent} should be left out");
    }
    assert_eq!(
        json["subject_alt_names"],
        serde_json::json!({"dns": ["json.example"]})
    );
    assert_eq!(
        json["public_key"],
        serde_json::json!({"algorithm": "ML-DSA-65"})
    );
    assert_eq!(json["version"], 3);
}
