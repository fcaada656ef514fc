//! The default policy over every real session in `testdata/sessions.jsonl`
//! (the fixture captures and the conformance corpus), against findings
//! worked out by hand from each record's fields (version, suite, group,
//! certificates and their dates, SNI) and the rule table, and a modern
//! TLS 1.3 session that must fire nothing.

mod common;

use std::sync::Arc;

use cipherlens_policy::{Policy, RuleId};
use cipherlens_record::alert::Severity::{self, *};
use common::*;

use RuleId::*;

/// (capture the record came from, findings), in file order.
const EXPECTED: &[(&str, &[(RuleId, Severity)])] = &[
    // Fixture captures (2026-11-21). The fixture CA issues 10-year leaves.
    ("curl-h2-alpn.pcap", &[(KexQuantumVulnerable, Info)]),
    ("node-tls.pcap", &[(KexQuantumVulnerable, Info)]),
    ("python-ssl.pcap", &[(KexQuantumVulnerable, Info)]),
    ("quic-aioquic.pcap", &[(KexQuantumVulnerable, Info)]),
    (
        "tls10-openssl.pcap",
        &[(VersionObsolete, High), (ValidityTooLong, Low)],
    ),
    ("tls12-bigchain.pcap", &[(ValidityTooLong, Low)]),
    ("tls12-openssl.pcap", &[(ValidityTooLong, Low)]),
    ("tls12-resume-sessionid.pcap", &[(ValidityTooLong, Low)]),
    ("tls12-resume-sessionid.pcap", &[]), // resumed: no certificate
    ("tls12-resume-ticket.pcap", &[(ValidityTooLong, Low)]),
    ("tls12-resume-ticket.pcap", &[]),
    ("tls13-ipv6.pcap", &[(KexQuantumVulnerable, Info)]),
    ("tls13-openssl.pcap", &[(KexQuantumVulnerable, Info)]),
    // Conformance corpus.
    ("ssl-chrome.pcap", &[]),
    ("ssl-curl.pcap", &[]),
    ("bug-2430/backwards.pcap", &[(CipherCbc, Low)]), // AES_128_CBC_SHA256 in TLS 1.2
    ("bug-2646-01/input.pcap", &[]),
    ("bug-2646-02/input.pcap", &[]),
    ("bug-4702-02/tsecr.pcap", &[(KexQuantumVulnerable, Info)]),
    // No ServerHello; the client offers at most TLS 1.0, without SNI.
    (
        "TLSv1-Extracted-MaliciousC2.pcap",
        &[(VersionObsolete, Low), (SniMissing, Low)],
    ),
    ("bug-5758/input.pcap", &[(KexQuantumVulnerable, Info)]),
    ("bug-7264-tcp-3whs-ack-data-tls-01/input.pcap", &[]),
    (
        "community-id-ipv4/input.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    (
        "community-id-ipv6/input.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    (
        "community-id-ipv6/input.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    // Self-signed RSA-1024 leaf "CN=tls" for SNI "dogfish".
    (
        "ja4-cl-handshake/input.pcap",
        &[(KeyWeak, High), (SelfSigned, High), (SniMismatch, High)],
    ),
    // QUIC Initials only: nothing negotiated is known.
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-quic/input.pcap", &[]),
    ("ja4-rules/input.pcap", &[(KexQuantumVulnerable, Info)]),
    ("ja4-rules/input.pcap", &[(KexQuantumVulnerable, Info)]),
    (
        "ja4-sv-handshake/input.pcap",
        &[(KeyWeak, High), (SelfSigned, High), (SniMismatch, High)],
    ),
    ("ja4-tls-quic/input.pcap", &[(KexQuantumVulnerable, Info)]),
    ("ja4-tls-quic/input.pcap", &[(KexQuantumVulnerable, Info)]),
    // Self-signed SHA-1 leaf (a root: its signature is not judged), no SNI.
    (
        "tests/ja4-tls/input.pcap",
        &[(SelfSigned, High), (SniMissing, Low)],
    ),
    // TLS_RSA_WITH_AES_128_CBC_SHA, self-signed RSA-1024, no SNI.
    (
        "ldap-starttls/input.pcap",
        &[
            (KexNoForwardSecrecy, High),
            (CipherCbc, Medium),
            (KeyWeak, High),
            (SelfSigned, High),
            (SniMissing, Low),
        ],
    ),
    // DHE with a 1024-bit prime, self-signed leaf, no SNI.
    (
        "pgsql-upgrade-tls/input.pcap",
        &[(KexWeakGroup, High), (SelfSigned, High), (SniMissing, Low)],
    ),
    // TLS 1.0, DHE-1024, RSA-1024 leaf signed with MD5, no SNI.
    (
        "sslv2-tls-upgrade-01/ssl-v2-s1.pcap",
        &[
            (VersionObsolete, High),
            (KexWeakGroup, High),
            (KeyWeak, High),
            (SignatureWeak, Critical),
            (SniMissing, Low),
        ],
    ),
    (
        "tcp-fastopen-10-syn-data-ignore/input.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    (
        "tlpw-tcp-tfo-data-on-syn-nack.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    ("tls-alpn-log-detect-02/input.pcap", &[]),
    (
        "tls-duplicate-hello/input.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    // TLS 1.0, DHE-1024, a 90-day leaf that expired in 2023, seen in 2024.
    (
        "tls-altname-zero/input.pcap",
        &[
            (VersionObsolete, High),
            (KexWeakGroup, High),
            (Expired, High),
            (SniMissing, Low),
        ],
    ),
    (
        "tls-cert-issuer/tls.pcap",
        &[(SelfSigned, High), (SniMissing, Low)],
    ),
    (
        "tls-cert-issuer/tls.pcap",
        &[(SelfSigned, High), (SniMissing, Low)],
    ),
    (
        "tls-cert-issuer/tls.pcap",
        &[(SelfSigned, High), (SniMissing, Low)],
    ),
    (
        "tls-cert-issuer/tls.pcap",
        &[(SelfSigned, High), (SniMissing, Low)],
    ),
    ("tls-cert-issuer/tls.pcap", &[(SniMissing, Low)]), // resumed
    ("tls-certs-alert/input.pcap", &[]),
    ("tls-client-hello-frag-01/dump_mtu300.pcap", &[]),
    // Chrome offered X25519MLKEM768, the server chose x25519.
    (
        "tls-fin-close-data-01/debug-s13.pcap",
        &[(KexQuantumVulnerable, Low)],
    ),
    (
        "tls-glupteba-mb/input.pcap",
        &[
            (VersionObsolete, High),
            (KexWeakGroup, High),
            (Expired, High),
            (SniMissing, Low),
        ],
    ),
    (
        "tls-glupteba/input.pcap",
        &[
            (VersionObsolete, High),
            (KexWeakGroup, High),
            (Expired, High),
            (SniMissing, Low),
        ],
    ),
    // TLS 1.0 with TLS_RSA_WITH_RC4_128_SHA.
    (
        "tls-pre-1970/input.pcap",
        &[
            (VersionObsolete, High),
            (CipherInsecure, High),
            (KexNoForwardSecrecy, High),
        ],
    ),
    (
        "tls-random/input.pcap",
        &[(SelfSigned, High), (SniMissing, Low)],
    ),
    // Leaf expires 2018-05-14T20:55:27Z, 28 days after the session.
    ("tls-store-02/tls-client-auth.pcap", &[(Expiring, Medium)]),
    ("tls13-draft14/tls13_draft14.pcap", &[]), // no group recorded
    ("tls13-draft18/tls13_draft18.pcap", &[(SniMissing, Low)]),
    ("tls13-draft19/tls13_draft19.pcap", &[]),
    ("tls13-draft19/tls13_draft19.pcap", &[]),
    ("tls13-draft19/tls13_draft19.pcap", &[]),
    ("tls13-draft22/tls13_draft22.pcap", &[]),
    (
        "tls13-draft23/tls13_draft23.pcap",
        &[(KexQuantumVulnerable, Info), (SniMissing, Low)],
    ),
    (
        "tls13-draft28/tls13_draft28.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
    (
        "tls13-draft28/tls13_draft28.pcap",
        &[(KexQuantumVulnerable, Info)],
    ),
];

#[test]
fn every_real_session_fires_what_its_fields_call_for() {
    let records = sessions();
    assert_eq!(
        records.len(),
        EXPECTED.len(),
        "testdata changed: update EXPECTED"
    );
    let policy = Policy::default();
    let mut wrong = Vec::new();
    for (record, (input, expected)) in records.iter().zip(EXPECTED) {
        let path = record
            .cipherlens
            .session
            .input
            .as_deref()
            .unwrap_or_default();
        assert!(path.ends_with(input), "{path} is not {input}");
        let actual = fired(&policy, record);
        if actual != *expected {
            wrong.push(format!(
                "{path} {}: fired {actual:?}, expected {expected:?}",
                record.event.start
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_hit_writes_up_with_evidence() {
    let policy = Policy::default();
    for record in sessions() {
        for hit in &policy.evaluate(&record) {
            let finding = policy.finding(hit, &record);
            assert_eq!(finding.rule, hit.rule().as_str());
            assert!(
                !finding.message.is_empty() && !finding.message.contains('\n'),
                "{}",
                finding.message
            );
            let sni_missing = hit.rule() == SniMissing;
            assert!(
                !finding.evidence.is_empty() || sni_missing,
                "{} has no evidence",
                finding.rule
            );
        }
    }
}

/// TLS 1.3 with X25519MLKEM768 offered and chosen, a CA-signed P-256 leaf
/// valid at the session's time whose SAN is the SNI, its intermediate.
#[test]
fn a_modern_session_fires_nothing() {
    let mut record = tls13();
    let hello = record.cipherlens.tls.client_hello.as_mut().unwrap();
    hello
        .supported_groups
        .insert(0, named(0x11EC, "X25519MLKEM768"));
    hello
        .key_share_groups
        .insert(0, named(0x11EC, "X25519MLKEM768"));
    record.cipherlens.tls.key_exchange_group = Some(named(0x11EC, "X25519MLKEM768"));
    record.cipherlens.tls.post_quantum_key_exchange = true;
    let leaf = certificate("leaf-ec-p256");
    assert_eq!(leaf.public_key.curve.as_deref(), Some("secp256r1"));
    let intermediate = certificate("intermediate-ec-p384");
    assert_eq!(leaf.issuer, intermediate.subject);
    record.cipherlens.tls.server_certificates = vec![Arc::new(leaf), Arc::new(intermediate)];
    set_sni(&mut record, Some("ec.example"));
    set_time(&mut record, "2025-09-01T10:00:00.000000Z");
    assert_eq!(fired(&Policy::default(), &record), vec![]);
    // The same session with the classical group it had fires only that.
    record.cipherlens.tls.key_exchange_group = Some(named(24, "secp384r1"));
    assert_eq!(
        fired(&Policy::default(), &record),
        vec![(KexQuantumVulnerable, Low)]
    );
}
