//! The `x509.*` rules on a real TLS 1.2 record carrying real certificate
//! summaries (`fixtures/certs`), with the one field a rule looks at moved
//! to each side of its boundary. Dates are worked out by hand from the
//! definitions: RFC 5280 4.1.2.5 (validity inclusive of both ends), CA/B
//! Forum Baseline Requirements 6.3.2 (validity period in 86,400-second
//! days, 398 days for certificates issued from 2020-09-01).

mod common;

use cipherlens_policy::{Policy, RuleId, TrustAnchor};
use cipherlens_record::SessionRecord;
use cipherlens_record::alert::EvidenceValue;
use cipherlens_record::alert::Severity::{self, *};
use cipherlens_record::certificate::CertificateSummary;
use common::*;

/// The session time used with `chain`: inside every fixture validity.
const SESSION: &str = "2025-09-01T10:00:00.000000Z";

fn leaf() -> CertificateSummary {
    certificate("leaf-ec-p256")
}

fn intermediate() -> CertificateSummary {
    certificate("intermediate-ec-p384")
}

/// tls12-openssl with `chain`, SNI `ec.example` (the leaf's SAN) and `SESSION`.
fn record_with(chain: Vec<CertificateSummary>) -> SessionRecord {
    let mut record = tls12();
    set_server_chain(&mut record, chain);
    set_sni(&mut record, Some("ec.example"));
    set_time(&mut record, SESSION);
    record
}

fn severity(record: &SessionRecord, rule: RuleId) -> Option<Severity> {
    severity_of(&Policy::default(), record, rule)
}

#[test]
fn the_base_chain_fires_nothing() {
    assert_eq!(
        fired(
            &Policy::default(),
            &record_with(vec![leaf(), intermediate()])
        ),
        vec![]
    );
}

fn with_key(algorithm: &str, bits: u32) -> SessionRecord {
    let mut weak = leaf();
    weak.public_key.algorithm = algorithm.to_owned();
    weak.public_key.bits = Some(bits);
    record_with(vec![weak, intermediate()])
}

#[test]
fn key_sizes_at_the_boundaries() {
    assert_eq!(
        severity(&with_key("RSA", 1024), RuleId::KeyWeak),
        Some(High)
    );
    assert_eq!(
        severity(&with_key("RSA", 2047), RuleId::KeyWeak),
        Some(High)
    );
    assert_eq!(severity(&with_key("RSA", 2048), RuleId::KeyWeak), None);
    assert_eq!(
        severity(&with_key("RSA-PSS", 2047), RuleId::KeyWeak),
        Some(High)
    );
    assert_eq!(
        severity(&with_key("DSA", 1024), RuleId::KeyWeak),
        Some(High)
    );
    assert_eq!(severity(&with_key("DSA", 2048), RuleId::KeyWeak), None);
    assert_eq!(severity(&with_key("EC", 192), RuleId::KeyWeak), Some(High));
    assert_eq!(severity(&with_key("EC", 223), RuleId::KeyWeak), Some(High));
    assert_eq!(severity(&with_key("EC", 224), RuleId::KeyWeak), None);
    // EdDSA keys have no size threshold.
    assert_eq!(severity(&with_key("Ed25519", 128), RuleId::KeyWeak), None);
}

#[test]
fn weak_key_anywhere_in_either_chain() {
    let mut weak_intermediate = intermediate();
    weak_intermediate.public_key.algorithm = "RSA".into();
    weak_intermediate.public_key.bits = Some(1024);
    let record = record_with(vec![leaf(), weak_intermediate]);
    let finding = Policy::default().findings(&record).remove(0);
    assert_eq!(finding.rule, "x509.key.weak");
    assert_eq!(
        finding.evidence["cipherlens.tls.server_certificates[1].public_key.bits"],
        EvidenceValue::Integer(1024)
    );
    assert!(!finding.evidence.keys().any(|key| key.contains("[0]")));

    let mut client = record_with(vec![leaf(), intermediate()]);
    let mut client_leaf = certificate("leaf-rsa2048");
    client_leaf.public_key.bits = Some(1024);
    client.cipherlens.tls.client_certificates = vec![std::sync::Arc::new(client_leaf)];
    let finding = Policy::default().findings(&client).remove(0);
    assert!(
        finding
            .evidence
            .contains_key("cipherlens.tls.client_certificates[0].public_key.bits")
    );

    // A real self-signed RSA-1024 server (ja4-cl-handshake).
    assert_eq!(
        severity(&session("ja4-cl-handshake/input.pcap"), RuleId::KeyWeak),
        Some(High)
    );
}

fn signed_with(name: &str, oid: &str) -> CertificateSummary {
    let mut certificate = leaf();
    certificate.signature_algorithm = name.to_owned();
    certificate.signature_algorithm_oid = oid.to_owned();
    certificate
}

#[test]
fn weak_signatures_on_non_root_certificates() {
    let cases: &[(&str, &str, Option<Severity>)] = &[
        (
            "md2WithRSAEncryption",
            "1.2.840.113549.1.1.2",
            Some(Critical),
        ),
        (
            "md4WithRSAEncryption",
            "1.2.840.113549.1.1.3",
            Some(Critical),
        ),
        (
            "md5WithRSAEncryption",
            "1.2.840.113549.1.1.4",
            Some(Critical),
        ),
        (
            "sha1WithRSAEncryption",
            "1.2.840.113549.1.1.5",
            Some(Medium),
        ),
        ("ecdsa-with-SHA1", "1.2.840.10045.4.1", Some(Medium)),
        ("dsa-with-sha1", "1.2.840.10040.4.3", Some(Medium)),
        ("sha256WithRSAEncryption", "1.2.840.113549.1.1.11", None),
        ("ecdsa-with-SHA256", "1.2.840.10045.4.3.2", None),
        ("ed25519", "1.3.101.112", None),
    ];
    for (name, oid, expected) in cases {
        let record = record_with(vec![signed_with(name, oid), intermediate()]);
        assert_eq!(
            severity(&record, RuleId::SignatureWeak),
            *expected,
            "{name}"
        );
    }
    // A SHA-1 self-signed root at the end of the chain is not judged.
    let mut root = certificate("root-ca-rsa4096");
    assert!(root.subject == root.issuer);
    root.signature_algorithm = "sha1WithRSAEncryption".into();
    root.signature_algorithm_oid = "1.2.840.113549.1.1.5".into();
    assert_eq!(
        severity(
            &record_with(vec![leaf(), intermediate(), root]),
            RuleId::SignatureWeak
        ),
        None
    );
    // Real: an MD5-signed leaf (sslv2-tls-upgrade, 2004).
    assert_eq!(
        severity(
            &session("sslv2-tls-upgrade-01/ssl-v2-s1.pcap"),
            RuleId::SignatureWeak
        ),
        Some(Critical)
    );
}

fn with_leaf_dates(not_before: &str, not_after: &str) -> SessionRecord {
    let mut dated = leaf();
    dated.not_before = not_before.to_owned();
    dated.not_after = not_after.to_owned();
    record_with(vec![dated, intermediate()])
}

#[test]
fn expired_and_not_yet_valid_at_the_session_time() {
    // Session at 2025-09-01T10:00:00Z.
    let expired = with_leaf_dates("2025-01-01T00:00:00Z", "2025-09-01T09:59:59Z");
    assert_eq!(severity(&expired, RuleId::Expired), Some(High));
    assert_eq!(severity(&expired, RuleId::Expiring), None);
    let last_second = with_leaf_dates("2025-01-01T00:00:00Z", "2025-09-01T10:00:00Z");
    assert_eq!(severity(&last_second, RuleId::Expired), None);

    let early = with_leaf_dates("2025-09-01T10:00:01Z", "2026-01-01T00:00:00Z");
    assert_eq!(severity(&early, RuleId::NotYetValid), Some(High));
    let first_second = with_leaf_dates("2025-09-01T10:00:00Z", "2026-01-01T00:00:00Z");
    assert_eq!(severity(&first_second, RuleId::NotYetValid), None);

    // An expired intermediate counts; an expired root does not.
    let mut old_intermediate = intermediate();
    old_intermediate.not_after = "2025-08-01T00:00:00Z".into();
    let record = record_with(vec![leaf(), old_intermediate]);
    let finding = Policy::default().findings(&record).remove(0);
    assert_eq!(finding.rule, "x509.expired");
    assert_eq!(
        finding.evidence["cipherlens.tls.server_certificates[1].not_after"],
        EvidenceValue::Text("2025-08-01T00:00:00Z".into())
    );
    let mut old_root = certificate("root-ca-rsa4096");
    old_root.not_after = "2025-08-01T00:00:00Z".into();
    assert_eq!(
        severity(
            &record_with(vec![leaf(), intermediate(), old_root]),
            RuleId::Expired
        ),
        None
    );

    // Real: the github.com leaf of 2017-2020 seen in 2018 is valid.
    assert_eq!(
        severity(&session("bug-2646-01/input.pcap"), RuleId::Expired),
        None
    );
}

#[test]
fn expiring_within_thirty_days() {
    // 30 days after 2025-09-01T10:00:00Z is 2025-10-01T10:00:00Z.
    let at_limit = with_leaf_dates("2025-01-01T00:00:00Z", "2025-10-01T10:00:00Z");
    assert_eq!(severity(&at_limit, RuleId::Expiring), Some(Medium));
    let just_after = with_leaf_dates("2025-01-01T00:00:00Z", "2025-10-01T10:00:01Z");
    assert_eq!(severity(&just_after, RuleId::Expiring), None);
    let tomorrow = with_leaf_dates("2025-01-01T00:00:00Z", "2025-09-02T00:00:00Z");
    assert_eq!(severity(&tomorrow, RuleId::Expiring), Some(Medium));
    let policy = Policy::from_toml("[thresholds]\nexpiring_days = 60\n", "t").unwrap();
    assert_eq!(
        severity_of(&policy, &just_after, RuleId::Expiring),
        Some(Medium)
    );
}

#[test]
fn validity_too_long_for_the_issue_date() {
    // Issued 2021-01-01T00:00:00Z; 398 days later is 2022-02-03T00:00:00Z
    // (`date -u -d '2021-01-01 +398 days'`). notAfter one second earlier:
    // the inclusive period is exactly 398 days.
    let ok = with_leaf_dates("2021-01-01T00:00:00Z", "2022-02-02T23:59:59Z");
    let one_second_over = with_leaf_dates("2021-01-01T00:00:00Z", "2022-02-03T00:00:00Z");
    let day_399 = with_leaf_dates("2021-01-01T00:00:00Z", "2022-02-03T23:59:59Z");
    let check = |record: &SessionRecord| {
        let mut record = record.clone();
        set_time(&mut record, "2021-06-01T00:00:00.000000Z");
        severity(&record, RuleId::ValidityTooLong)
    };
    assert_eq!(check(&ok), None);
    assert_eq!(check(&one_second_over), Some(Low));
    assert_eq!(check(&day_399), Some(Low));
    // Issued before 2020-09-01: no limit in the default table (825 days).
    assert_eq!(
        check(&with_leaf_dates(
            "2020-08-31T23:59:59Z",
            "2022-12-04T00:00:00Z"
        )),
        None
    );
    // From 2020-09-01T00:00:00Z on, the limit applies.
    assert_eq!(
        check(&with_leaf_dates(
            "2020-09-01T00:00:00Z",
            "2022-12-04T00:00:00Z"
        )),
        Some(Low)
    );

    // The CA/B Forum SC-081 table: 200 days from 2026-03-15.
    let policy = Policy::from_toml(
        "[[validity_limits]]\nissued_from = 2020-09-01\nmax_days = 398\n\
         [[validity_limits]]\nissued_from = 2026-03-15\nmax_days = 200\n",
        "t",
    )
    .unwrap();
    // 2026-04-01 + 200 days = 2026-10-18.
    let mut within = with_leaf_dates("2026-04-01T00:00:00Z", "2026-10-17T23:59:59Z");
    set_time(&mut within, "2026-05-01T00:00:00.000000Z");
    assert_eq!(severity_of(&policy, &within, RuleId::ValidityTooLong), None);
    let mut over = with_leaf_dates("2026-04-01T00:00:00Z", "2026-10-18T00:00:00Z");
    set_time(&mut over, "2026-05-01T00:00:00.000000Z");
    assert_eq!(
        severity_of(&policy, &over, RuleId::ValidityTooLong),
        Some(Low)
    );
    assert_eq!(
        severity_of(&Policy::default(), &over, RuleId::ValidityTooLong),
        None
    );
}

#[test]
fn self_signed_leaf() {
    let record = record_with(vec![certificate("self-signed-ed25519")]);
    let mut record = record;
    set_sni(&mut record, None);
    assert_eq!(severity(&record, RuleId::SelfSigned), Some(High));
    assert_eq!(
        severity(
            &record_with(vec![leaf(), intermediate()]),
            RuleId::SelfSigned
        ),
        None
    );
    // Same names but another key issued it: not self-issued.
    let mut renamed = leaf();
    renamed.issuer = renamed.subject.clone();
    assert_ne!(
        renamed.subject_key_identifier,
        renamed.authority_key_identifier
    );
    assert_eq!(
        severity(&record_with(vec![renamed]), RuleId::SelfSigned),
        None
    );
    // Real self-signed servers.
    assert_eq!(
        severity(&session("ldap-starttls/input.pcap"), RuleId::SelfSigned),
        Some(High)
    );
    assert_eq!(
        severity(&session("bug-2646-01/input.pcap"), RuleId::SelfSigned),
        None
    );
}

#[test]
fn untrusted_needs_anchors() {
    let chain = vec![leaf(), intermediate()];
    let record = record_with(chain.clone());
    // Off without anchors.
    assert!(!Policy::default().is_active(RuleId::Untrusted));
    assert_eq!(severity(&record, RuleId::Untrusted), None);

    // The intermediate's issuer (its authority key id) is trusted.
    let issuer_key = chain[1].authority_key_identifier.clone().unwrap();
    let trusted = Policy::default().with_trust_anchors([TrustAnchor {
        key_id: Some(issuer_key),
        subject: Some(chain[1].issuer.clone()),
        sha256: None,
    }]);
    assert!(trusted.is_active(RuleId::Untrusted));
    assert_eq!(severity_of(&trusted, &record, RuleId::Untrusted), None);

    // The intermediate itself is trusted by fingerprint (a policy file key).
    let text = format!(
        "[trust]\nanchor_sha256 = [\"{}\"]\n",
        chain[1].fingerprint_sha256
    );
    let by_fingerprint = Policy::from_toml(&text, "t").unwrap();
    assert_eq!(
        severity_of(&by_fingerprint, &record, RuleId::Untrusted),
        None
    );

    // Another CA is trusted: the chain ends at an unknown issuer.
    let other = Policy::from_toml("[trust]\nanchor_key_ids = [\"00112233\"]\n", "t").unwrap();
    assert_eq!(severity_of(&other, &record, RuleId::Untrusted), Some(High));
    let finding = other
        .findings(&record)
        .into_iter()
        .find(|f| f.rule == "x509.untrusted")
        .unwrap();
    assert!(
        finding
            .evidence
            .contains_key("cipherlens.tls.server_certificates[1].issuer")
    );

    // The intermediate is missing: the leaf's issuer is not in the chain.
    let missing = record_with(vec![leaf()]);
    assert_eq!(
        severity_of(&trusted, &missing, RuleId::Untrusted),
        Some(High)
    );
    // A self-signed leaf is not a trusted anchor.
    let mut self_signed = record_with(vec![certificate("self-signed-ed25519")]);
    set_sni(&mut self_signed, None);
    assert_eq!(
        severity_of(&trusted, &self_signed, RuleId::Untrusted),
        Some(High)
    );
}
