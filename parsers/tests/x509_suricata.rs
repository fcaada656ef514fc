//! A real-world certificate checked against a second independent oracle:
//! Suricata's own expectations.
//!
//! `fixtures/certs/github-2017.der` comes from the TLS 1.2 Certificate
//! message in suricata-verify's `bug-2646-01/input.pcap`; the values below
//! are copied from that test's `test.yaml` (Suricata's `tls` event).

use std::fs;
use std::path::{Path, PathBuf};

use cipherlens_parsers::x509::{summarize_certificate, summarize_chain};

const SURICATA_SUBJECT: &str =
    "C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com";
const SURICATA_ISSUER: &str =
    "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert SHA2 High Assurance Server CA";
const SURICATA_SERIAL: &str = "08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66";
const SURICATA_SHA1_FINGERPRINT: &str =
    "cc:aa:48:48:66:46:0e:91:53:2c:9c:7c:23:2a:b1:74:4d:29:9d:33";
const SURICATA_NOT_BEFORE: &str = "2017-03-23T00:00:00";
const SURICATA_NOT_AFTER: &str = "2020-05-13T12:00:00";

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/certs")
        .join(name);
    fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn x509_github_leaf_matches_suricata_tls_event() {
    let summary = summarize_certificate(&fixture("github-2017.der")).expect("parses");

    assert_eq!(summary.subject_rdns.join(", "), SURICATA_SUBJECT);
    assert_eq!(summary.issuer_rdns.join(", "), SURICATA_ISSUER);
    assert_eq!(summary.serial_number, SURICATA_SERIAL.replace(':', ""));
    assert_eq!(
        summary.fingerprint_sha1,
        SURICATA_SHA1_FINGERPRINT.replace(':', "")
    );
    assert_eq!(summary.not_before, format!("{SURICATA_NOT_BEFORE}Z"));
    assert_eq!(summary.not_after, format!("{SURICATA_NOT_AFTER}Z"));
    assert_eq!(
        summary.subject_common_name.as_deref(),
        Some("www.github.com")
    );
}

#[test]
fn x509_github_chain_keeps_sent_order_and_links_leaf_to_issuer() {
    let leaf = fixture("github-2017.der");
    let issuer = fixture("github-2017-issuer.der");
    let results = summarize_chain(&[&leaf, &issuer]);
    assert_eq!(results.len(), 2);
    let (Ok(leaf), Ok(issuer)) = (&results[0], &results[1]) else {
        panic!("both certificates parse: {results:?}");
    };
    assert_eq!(leaf.subject_common_name.as_deref(), Some("www.github.com"));
    assert_eq!(leaf.issuer, issuer.subject);
    assert_eq!(leaf.authority_key_identifier, issuer.subject_key_identifier);
    assert_eq!(issuer.basic_constraints.map(|bc| bc.ca), Some(true));
    assert!(!leaf.self_signed && !issuer.self_signed);

    let reversed = summarize_chain(&[
        &fixture("github-2017-issuer.der"),
        &fixture("github-2017.der"),
    ]);
    assert_eq!(
        reversed[0]
            .as_ref()
            .ok()
            .and_then(|s| s.subject_common_name.as_deref()),
        Some("DigiCert SHA2 High Assurance Server CA")
    );
}
