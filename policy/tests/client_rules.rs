//! `tls.sni.*`, `tls.fingerprint.*` and `tls.alert.fatal` on real records.
//! Name matching follows RFC 6125 6.4 (examples from 6.4.3); alerts are
//! RFC 8446 6 codes.

mod common;

use cipherlens_policy::{Policy, RuleId};
use cipherlens_record::SessionRecord;
use cipherlens_record::alert::EvidenceValue;
use cipherlens_record::alert::Severity::*;
use cipherlens_record::certificate::{CertificateSummary, SubjectAltNames};
use cipherlens_record::session::{AlertLevel, AlertRecord, AlertSender};
use common::*;

fn leaf_with_names(dns: &[&str], common_name: Option<&str>) -> CertificateSummary {
    let mut leaf = certificate("leaf-ec-p256");
    leaf.subject_alt_names = if dns.is_empty() {
        None
    } else {
        Some(SubjectAltNames {
            dns: dns.iter().map(|name| (*name).to_owned()).collect(),
            ..SubjectAltNames::default()
        })
    };
    leaf.subject_common_name = common_name.map(str::to_owned);
    leaf
}

fn mismatch(dns: &[&str], common_name: Option<&str>, sni: &str) -> bool {
    let mut record = tls12();
    set_server_chain(&mut record, vec![leaf_with_names(dns, common_name)]);
    set_sni(&mut record, Some(sni));
    severity_of(&Policy::default(), &record, RuleId::SniMismatch).is_some()
}

#[test]
fn sni_against_the_leaf_names() {
    assert!(!mismatch(&["ec.example"], Some("ec.example"), "ec.example"));
    assert!(!mismatch(&["ec.example"], None, "EC.Example"));
    assert!(mismatch(&["ec.example"], None, "www.ec.example"));
    // Wildcards: one whole left-most label.
    assert!(!mismatch(&["*.example.com"], None, "foo.example.com"));
    assert!(mismatch(&["*.example.com"], None, "example.com"));
    assert!(mismatch(&["*.example.com"], None, "bar.foo.example.com"));
    assert!(mismatch(&["f*.example.com"], None, "foo.example.com"));
    // The common name counts only without DNS names (RFC 6125 6.4.4).
    assert!(!mismatch(&[], Some("legacy.example"), "legacy.example"));
    assert!(mismatch(
        &["other.example"],
        Some("legacy.example"),
        "legacy.example"
    ));
    assert!(mismatch(&[], None, "anything.example"));
}

#[test]
fn sni_mismatch_evidence_and_real_sessions() {
    let mut record = tls12();
    set_server_chain(&mut record, vec![leaf_with_names(&["ec.example"], None)]);
    set_sni(&mut record, Some("bank.example"));
    let finding = Policy::default()
        .findings(&record)
        .into_iter()
        .find(|f| f.rule == "tls.sni.mismatch")
        .unwrap();
    assert_eq!(finding.severity, High);
    assert_eq!(
        finding.evidence["tls.client.server_name"],
        EvidenceValue::Text("bank.example".into())
    );
    assert_eq!(
        finding.evidence["cipherlens.tls.server_certificates[0].subject_alt_names.dns"],
        EvidenceValue::List(vec!["ec.example".into()])
    );
    // Real sessions whose names match: an exact SAN (the fixture leaf), a
    // wildcard SAN (raw.githubusercontent.com under *.githubusercontent.com),
    // and a common name without SANs (tls-pre-1970).
    for input in [
        "tls12-openssl.pcap",
        "bug-2646-01/input.pcap",
        "tls-pre-1970/input.pcap",
    ] {
        assert_eq!(
            severity_of(&Policy::default(), &session(input), RuleId::SniMismatch),
            None,
            "{input}"
        );
    }
    // Real mismatch: SNI "dogfish", a leaf with CN "tls" and no SANs.
    assert_eq!(
        severity_of(
            &Policy::default(),
            &session("ja4-cl-handshake/input.pcap"),
            RuleId::SniMismatch
        ),
        Some(High)
    );
}

#[test]
fn sni_missing() {
    let policy = Policy::default();
    let mut record = tls12();
    set_sni(&mut record, None);
    assert_eq!(severity_of(&policy, &record, RuleId::SniMissing), Some(Low));
    assert_eq!(severity_of(&policy, &tls12(), RuleId::SniMissing), None);
    // No ClientHello seen: nothing to judge.
    record.cipherlens.tls.client_hello = None;
    assert_eq!(severity_of(&policy, &record, RuleId::SniMissing), None);
    // Real: the ja4-tls capture's client sent no SNI.
    assert_eq!(
        severity_of(
            &policy,
            &session("tests/ja4-tls/input.pcap"),
            RuleId::SniMissing
        ),
        Some(Low)
    );
}

fn ja3(record: &SessionRecord) -> String {
    record
        .cipherlens
        .tls
        .fingerprints
        .as_ref()
        .unwrap()
        .ja3
        .clone()
        .unwrap()
}

fn ja4(record: &SessionRecord) -> String {
    record
        .cipherlens
        .tls
        .fingerprints
        .as_ref()
        .unwrap()
        .ja4
        .clone()
        .unwrap()
}

#[test]
fn fingerprint_deny_lists() {
    let record = tls12();
    assert!(!Policy::default().is_active(RuleId::FingerprintDenied));
    let deny_ja3 = Policy::from_toml(
        &format!(
            "[fingerprints]\ndeny_ja3 = [\"{}\"]\n",
            ja3(&record).to_uppercase()
        ),
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&deny_ja3, &record, RuleId::FingerprintDenied),
        Some(High)
    );
    let finding = deny_ja3
        .findings(&record)
        .into_iter()
        .find(|f| f.rule == "tls.fingerprint.denied")
        .unwrap();
    assert_eq!(
        finding.evidence["cipherlens.tls.fingerprints.ja3"],
        EvidenceValue::Text(ja3(&record))
    );

    let deny_ja4 = Policy::from_toml(
        &format!("[fingerprints]\ndeny_ja4 = [\"{}\"]\n", ja4(&record)),
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&deny_ja4, &record, RuleId::FingerprintDenied),
        Some(High)
    );
    let other = Policy::from_toml(
        "[fingerprints]\ndeny_ja3 = [\"00000000000000000000000000000000\"]\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&other, &record, RuleId::FingerprintDenied),
        None
    );
}

#[test]
fn fingerprint_allow_lists() {
    let record = tls12();
    let listed = Policy::from_toml(
        &format!("[fingerprints]\nallow_ja4 = [\"{}\"]\n", ja4(&record)),
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&listed, &record, RuleId::FingerprintUnlisted),
        None
    );
    let unlisted = Policy::from_toml(
        "[fingerprints]\nallow_ja4 = [\"t13d1516h2_000000000000_000000000000\"]\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&unlisted, &record, RuleId::FingerprintUnlisted),
        Some(Medium)
    );
    // An allow list for JA3 only says nothing about JA4 and vice versa.
    let ja3_only = Policy::from_toml(
        &format!("[fingerprints]\nallow_ja3 = [\"{}\"]\n", ja3(&record)),
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&ja3_only, &record, RuleId::FingerprintUnlisted),
        None
    );
}

fn with_alert(level: Option<AlertLevel>, encrypted: bool) -> SessionRecord {
    let mut record = tls12();
    record.cipherlens.tls.alerts.push(AlertRecord {
        from: AlertSender::Server,
        level,
        description: level.map(|_| named(40, "handshake_failure")),
        encrypted,
    });
    record
}

#[test]
fn fatal_alerts_in_clear() {
    let policy = Policy::default();
    let fatal = with_alert(Some(AlertLevel::Fatal), false);
    assert_eq!(severity_of(&policy, &fatal, RuleId::AlertFatal), Some(Low));
    let finding = policy
        .findings(&fatal)
        .into_iter()
        .find(|f| f.rule == "tls.alert.fatal")
        .unwrap();
    assert_eq!(
        finding.evidence["cipherlens.tls.alerts[0].description.name"],
        EvidenceValue::Text("handshake_failure".into())
    );
    assert_eq!(
        finding.evidence["cipherlens.tls.alerts[0].from"],
        EvidenceValue::Text("server".into())
    );
    assert_eq!(
        severity_of(
            &policy,
            &with_alert(Some(AlertLevel::Warning), false),
            RuleId::AlertFatal
        ),
        None
    );
    assert_eq!(
        severity_of(&policy, &with_alert(None, true), RuleId::AlertFatal),
        None
    );
}
