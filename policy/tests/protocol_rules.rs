//! The `tls.version`, `tls.cipher` and `tls.kex` rules on real records with
//! the negotiated version, suite or group changed. Code points and names
//! are from the IANA TLS registries; what each one is comes from the RFC
//! that defines it, not from this crate.

mod common;

use cipherlens_policy::{Policy, RuleId};
use cipherlens_record::alert::Severity::{self, *};
use common::*;

fn version_severity(code: u16) -> Option<Severity> {
    let mut record = tls12();
    set_version(&mut record, code);
    severity_of(&Policy::default(), &record, RuleId::VersionObsolete)
}

#[test]
fn obsolete_versions_negotiated() {
    assert_eq!(version_severity(0x0002), Some(Critical)); // SSL 2.0, RFC 6176
    assert_eq!(version_severity(0x0300), Some(Critical)); // SSL 3.0, RFC 7568
    assert_eq!(version_severity(0x0301), Some(High)); // TLS 1.0, RFC 8996
    assert_eq!(version_severity(0x0302), Some(High)); // TLS 1.1, RFC 8996
    assert_eq!(version_severity(0x0303), None);
    assert_eq!(version_severity(0x0304), None);
}

#[test]
fn obsolete_version_only_offered() {
    // No ServerHello seen: the client's highest offer decides, as [low].
    let mut record = tls12();
    record.cipherlens.tls.version = None;
    record.tls.protocol.version = None;
    let hello = record.cipherlens.tls.client_hello.as_mut().unwrap();
    hello.highest_offered_version = named(0x0302, "TLS 1.1");
    let policy = Policy::default();
    assert_eq!(
        severity_of(&policy, &record, RuleId::VersionObsolete),
        Some(Low)
    );
    let finding = policy
        .findings(&record)
        .into_iter()
        .find(|f| f.rule == "tls.version.obsolete")
        .unwrap();
    assert!(
        finding
            .evidence
            .contains_key("cipherlens.tls.client_hello.highest_offered_version.name")
    );

    let hello = record.cipherlens.tls.client_hello.as_mut().unwrap();
    hello.highest_offered_version = named(0x0303, "TLS 1.2");
    assert_eq!(severity_of(&policy, &record, RuleId::VersionObsolete), None);
}

#[test]
fn real_tls10_session_is_obsolete() {
    let record = session("tls10-openssl.pcap");
    let policy = Policy::default();
    assert_eq!(
        severity_of(&policy, &record, RuleId::VersionObsolete),
        Some(High)
    );
    let finding = &policy.findings(&record)[0];
    assert_eq!(finding.rule, "tls.version.obsolete");
    assert_eq!(
        finding.evidence["cipherlens.tls.version.name"],
        cipherlens_record::alert::EvidenceValue::Text("TLS 1.0".into())
    );
}

fn with_suite(code: u16, name: &'static str) -> cipherlens_record::SessionRecord {
    let mut record = tls12();
    set_cipher(&mut record, code, name);
    record
}

#[test]
fn insecure_suites_by_grade() {
    let policy = Policy::default();
    let cases: &[(u16, &str, Option<Severity>)] = &[
        (0x0002, "TLS_RSA_WITH_NULL_SHA", Some(Critical)),
        (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Some(Critical)),
        (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Some(Critical)),
        (0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Some(Critical)),
        (0x0005, "TLS_RSA_WITH_RC4_128_SHA", Some(High)),
        (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Some(High)),
        (0x0009, "TLS_RSA_WITH_DES_CBC_SHA", Some(High)),
        (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Some(Medium)),
        (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Some(Medium)),
        (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", Some(Medium)),
        (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", Some(Medium)),
        // Near misses: AES, Camellia, ARIA, ChaCha20 are not on the list.
        (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", None),
        (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", None),
        (0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", None),
        (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", None),
    ];
    for (code, name, expected) in cases {
        let record = with_suite(*code, name);
        assert_eq!(
            severity_of(&policy, &record, RuleId::CipherInsecure),
            *expected,
            "{name}"
        );
    }
    let finding = policy
        .findings(&with_suite(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"))
        .into_iter()
        .find(|f| f.rule == "tls.cipher.insecure")
        .unwrap();
    assert!(
        finding.message.contains("export") && finding.message.contains("RC4"),
        "{}",
        finding.message
    );
    assert_eq!(
        finding.evidence["tls.cipher"],
        cipherlens_record::alert::EvidenceValue::Text("TLS_RSA_EXPORT_WITH_RC4_40_MD5".into())
    );
}

#[test]
fn real_rc4_session() {
    // tls-pre-1970: TLS 1.0 with TLS_RSA_WITH_RC4_128_SHA.
    let record = session("tls-pre-1970/input.pcap");
    let rules: Vec<RuleId> = fired(&Policy::default(), &record)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert!(rules.contains(&RuleId::CipherInsecure));
    assert!(rules.contains(&RuleId::KexNoForwardSecrecy));
}

#[test]
fn forward_secrecy_by_key_exchange() {
    let policy = Policy::default();
    let cases: &[(u16, &str, bool)] = &[
        (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", true),
        (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", true),
        (0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", true), // RFC 4279 4: RSA-encrypted premaster
        (0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", true),
        (0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", true),
        (0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", true),
        (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false),
        (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false),
        (0x1301, "TLS_AES_128_GCM_SHA256", false),
    ];
    for (code, name, fires) in cases {
        let record = with_suite(*code, name);
        assert_eq!(
            severity_of(&policy, &record, RuleId::KexNoForwardSecrecy),
            fires.then_some(High),
            "{name}"
        );
    }
    assert_eq!(
        severity_of(
            &policy,
            &session("ldap-starttls/input.pcap"),
            RuleId::KexNoForwardSecrecy
        ),
        Some(High)
    );
}

#[test]
fn cbc_in_tls12() {
    let policy = Policy::default();
    let cbc_sha256 = with_suite(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256");
    assert_eq!(
        severity_of(&policy, &cbc_sha256, RuleId::CipherCbc),
        Some(Low)
    );
    let cbc_sha1 = with_suite(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
    assert_eq!(
        severity_of(&policy, &cbc_sha1, RuleId::CipherCbc),
        Some(Medium)
    );
    let gcm = with_suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    assert_eq!(severity_of(&policy, &gcm, RuleId::CipherCbc), None);
    // Only in TLS 1.2: in 1.0/1.1 every non-RC4 suite is CBC and the version
    // finding says it.
    let mut tls10 = cbc_sha1.clone();
    set_version(&mut tls10, 0x0301);
    assert_eq!(severity_of(&policy, &tls10, RuleId::CipherCbc), None);
    // A real TLS 1.2 CBC session (bug-2430: ECDHE_RSA AES_128_CBC_SHA256).
    assert_eq!(
        severity_of(
            &policy,
            &session("bug-2430/backwards.pcap"),
            RuleId::CipherCbc
        ),
        Some(Low)
    );
}

#[test]
fn weak_groups_at_their_boundaries() {
    let policy = Policy::default();
    let with_dh = |bits: u32| {
        let mut record = with_suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256");
        record.cipherlens.tls.key_exchange_group = None;
        record.tls.curve = None;
        record.cipherlens.tls.dh_prime_bits = Some(bits);
        severity_of(&policy, &record, RuleId::KexWeakGroup)
    };
    assert_eq!(with_dh(1024), Some(High));
    assert_eq!(with_dh(2047), Some(High));
    assert_eq!(with_dh(2048), None);

    let with_group = |code: u16, name: &'static str| {
        let mut record = tls12();
        record.cipherlens.tls.key_exchange_group = Some(named(code, name));
        severity_of(&policy, &record, RuleId::KexWeakGroup)
    };
    assert_eq!(with_group(19, "secp192r1"), Some(High));
    assert_eq!(with_group(1, "sect163k1"), Some(High));
    assert_eq!(with_group(16, "secp160r1"), Some(High));
    assert_eq!(with_group(21, "secp224r1"), None); // 224 is not under 224
    assert_eq!(with_group(23, "secp256r1"), None);
    assert_eq!(with_group(29, "x25519"), None);
    assert_eq!(with_group(256, "ffdhe2048"), None);
    // A real DHE-1024 session (PostgreSQL STARTTLS).
    let record = session("pgsql-upgrade-tls/input.pcap");
    assert_eq!(
        severity_of(&policy, &record, RuleId::KexWeakGroup),
        Some(High)
    );
    let finding = policy
        .findings(&record)
        .into_iter()
        .find(|f| f.rule == "tls.kex.weak-group")
        .unwrap();
    assert_eq!(
        finding.evidence["cipherlens.tls.dh_prime_bits"],
        cipherlens_record::alert::EvidenceValue::Integer(1024)
    );
}

#[test]
fn quantum_vulnerable_key_exchange() {
    let policy = Policy::default();
    // TLS 1.3, secp384r1, client offered no ML-KEM group.
    let record = tls13();
    assert_eq!(
        severity_of(&policy, &record, RuleId::KexQuantumVulnerable),
        Some(Info)
    );

    // Client offered X25519MLKEM768 (0x11EC), server chose x25519.
    let mut refused = tls13();
    record_offers_hybrid(&mut refused);
    refused.cipherlens.tls.key_exchange_group = Some(named(29, "x25519"));
    assert_eq!(
        severity_of(&policy, &refused, RuleId::KexQuantumVulnerable),
        Some(Low)
    );

    // Hybrid negotiated: nothing.
    let mut hybrid = refused.clone();
    hybrid.cipherlens.tls.key_exchange_group = Some(named(0x11EC, "X25519MLKEM768"));
    assert_eq!(
        severity_of(&policy, &hybrid, RuleId::KexQuantumVulnerable),
        None
    );
    let mut mlkem = refused.clone();
    mlkem.cipherlens.tls.key_exchange_group = Some(named(0x0201, "MLKEM768"));
    assert_eq!(
        severity_of(&policy, &mlkem, RuleId::KexQuantumVulnerable),
        None
    );

    // TLS 1.2 is out of scope (no ML-KEM groups are defined for it).
    assert_eq!(
        severity_of(&policy, &tls12(), RuleId::KexQuantumVulnerable),
        None
    );
    // QUIC (aioquic, secp256r1).
    assert_eq!(
        severity_of(
            &policy,
            &session("quic-aioquic.pcap"),
            RuleId::KexQuantumVulnerable
        ),
        Some(Info)
    );
    // A real client (tls-fin-close-data-01, Chrome 2025) offered X25519MLKEM768
    // and the server chose x25519.
    let real = session("tls-fin-close-data-01/debug-s13.pcap");
    assert_eq!(
        severity_of(&policy, &real, RuleId::KexQuantumVulnerable),
        Some(Low)
    );
    let finding = policy
        .findings(&real)
        .into_iter()
        .find(|f| f.rule == "tls.kex.quantum-vulnerable")
        .unwrap();
    assert_eq!(
        finding.evidence["cipherlens.tls.client_hello.supported_groups"],
        cipherlens_record::alert::EvidenceValue::List(vec!["X25519MLKEM768".into()])
    );
}

fn record_offers_hybrid(record: &mut cipherlens_record::SessionRecord) {
    let hello = record.cipherlens.tls.client_hello.as_mut().unwrap();
    hello
        .supported_groups
        .insert(0, named(0x11EC, "X25519MLKEM768"));
}
