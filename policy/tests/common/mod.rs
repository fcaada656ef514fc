//! Shared by the policy tests: real session records (`testdata/
//! sessions.jsonl`, `cipherlens replay` output of the fixture captures and
//! the conformance corpus) and real certificate summaries
//! (`fixtures/certs/*.expected.json`, written from `openssl x509` output),
//! changed field by field into the cases a rule must or must not fire on.
#![allow(dead_code)]

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use cipherlens_policy::{Policy, RuleId};
use cipherlens_record::SessionRecord;
use cipherlens_record::alert::Severity;
use cipherlens_record::certificate::CertificateSummary;
use cipherlens_record::session::Named;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every session of `testdata/sessions.jsonl`, in file order.
pub fn sessions() -> Vec<SessionRecord> {
    let path = manifest_dir().join("testdata/sessions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a session record"))
        .collect()
}

/// The first session read from a capture whose path ends with `input`.
pub fn session(input: &str) -> SessionRecord {
    sessions()
        .into_iter()
        .find(|record| {
            record
                .cipherlens
                .session
                .input
                .as_deref()
                .is_some_and(|path| path.ends_with(input))
        })
        .unwrap_or_else(|| panic!("no session from {input}"))
}

/// A TLS 1.2 session with one ECDSA leaf (`fixtures/pcaps/tls12-openssl.pcap`).
pub fn tls12() -> SessionRecord {
    session("tls12-openssl.pcap")
}

/// A TLS 1.3 session (`fixtures/pcaps/tls13-openssl.pcap`, group secp384r1).
pub fn tls13() -> SessionRecord {
    session("tls13-openssl.pcap")
}

/// `fixtures/certs/<name>.expected.json`.
pub fn certificate(name: &str) -> CertificateSummary {
    let path = manifest_dir().join(format!("../fixtures/certs/{name}.expected.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a certificate summary")
}

pub fn named(code: u16, name: &'static str) -> Named {
    Named {
        code,
        name: Cow::Borrowed(name),
    }
}

/// Sets the negotiated version (both fields that carry it).
pub fn set_version(record: &mut SessionRecord, code: u16) {
    use cipherlens_record::session::ProtocolName;
    let (name, protocol, short) = match code {
        0x0002 => ("SSL 2.0", ProtocolName::Ssl, "2.0"),
        0x0300 => ("SSL 3.0", ProtocolName::Ssl, "3.0"),
        0x0301 => ("TLS 1.0", ProtocolName::Tls, "1.0"),
        0x0302 => ("TLS 1.1", ProtocolName::Tls, "1.1"),
        0x0303 => ("TLS 1.2", ProtocolName::Tls, "1.2"),
        0x0304 => ("TLS 1.3", ProtocolName::Tls, "1.3"),
        _ => panic!("no such version in the tests"),
    };
    record.cipherlens.tls.version = Some(named(code, name));
    record.tls.protocol.name = protocol;
    record.tls.protocol.version = Some(Cow::Borrowed(short));
}

/// Sets the negotiated cipher suite (both fields that carry it).
pub fn set_cipher(record: &mut SessionRecord, code: u16, name: &'static str) {
    record.cipherlens.tls.cipher = Some(named(code, name));
    record.tls.cipher = Some(Cow::Borrowed(name));
}

/// Sets the session's time.
pub fn set_time(record: &mut SessionRecord, start: &str) {
    record.event.start = start.to_owned();
    record.event.end = start.to_owned();
}

pub fn set_server_chain(record: &mut SessionRecord, chain: Vec<CertificateSummary>) {
    record.cipherlens.tls.server_certificates = chain.into_iter().map(Arc::new).collect();
}

pub fn set_sni(record: &mut SessionRecord, name: Option<&str>) {
    record.tls.client.server_name = name.map(str::to_owned);
    if let Some(hello) = &mut record.cipherlens.tls.client_hello {
        hello.server_name = name.map(str::to_owned);
    }
}

/// (rule id, severity) of every hit, in rule order.
pub fn fired(policy: &Policy, record: &SessionRecord) -> Vec<(RuleId, Severity)> {
    policy
        .evaluate(record)
        .iter()
        .map(|hit| (hit.rule(), hit.severity()))
        .collect()
}

/// The severity `rule` fired with, if it fired.
pub fn severity_of(policy: &Policy, record: &SessionRecord, rule: RuleId) -> Option<Severity> {
    policy.evaluate(record).get(rule).map(|hit| hit.severity())
}
