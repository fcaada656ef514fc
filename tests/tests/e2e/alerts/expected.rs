//! The alerts each condition must raise, with the evidence computed from
//! what tshark read on the wire and what openssl reads in the certificate
//! the server was given; severities are the default policy's (the issue's
//! table, docs/policy.md).

use std::collections::BTreeMap;

use cipherlens_integration::CertificateFacts;
use serde_json::{Map, Value, json};

use super::conditions::Condition;
use super::wire::{Wire, alert_name, group_name, is_post_quantum_group, version_name};

/// Rule id -> (severity, evidence). An `event.start` of null stands for
/// the session's start, which the alert names too (`session.start`).
pub type Expected = BTreeMap<&'static str, (&'static str, Value)>;

/// Evidence that names a field of the server's leaf.
fn leaf(field: &str) -> String {
    format!("cipherlens.tls.server_certificates[0].{field}")
}

fn object(pairs: Vec<(String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<_, _>>())
}

fn merged(parts: &[Value]) -> Value {
    let mut all = Map::new();
    for part in parts {
        all.extend(part.as_object().expect("evidence object").clone());
    }
    Value::Object(all)
}

fn negotiated_version(wire: &Wire) -> Value {
    let code = wire.version.expect("a ServerHello");
    json!({
        "cipherlens.tls.version.name": version_name(code),
        "cipherlens.tls.version.code": code,
    })
}

fn negotiated_suite(wire: &Wire, suites: &BTreeMap<u16, String>) -> Value {
    let code = wire.cipher.expect("a ServerHello");
    let name = suites
        .get(&code)
        .unwrap_or_else(|| panic!("openssl has no name for suite {code:#06x}"));
    json!({ "tls.cipher": name, "cipherlens.tls.cipher.code": code })
}

fn key_share_group(wire: &Wire) -> Value {
    let code = wire
        .key_share_group
        .expect("a key share in the ServerHello");
    json!({
        "cipherlens.tls.key_exchange_group.name": group_name(code),
        "cipherlens.tls.key_exchange_group.code": code,
    })
}

/// What `condition` raises on the session tshark read as `wire`, whose
/// server sent the certificate openssl read as `certificate`.
pub fn alerts(
    condition: Condition,
    wire: &Wire,
    certificate: Option<&CertificateFacts>,
    suites: &BTreeMap<u16, String>,
) -> Expected {
    let cert = || certificate.expect("the certificate the server was given");
    let mut expected = Expected::new();
    match condition {
        Condition::Clean | Condition::Modern => {}
        Condition::WeakKey => {
            let facts = cert();
            expected.insert(
                "x509.key.weak",
                (
                    "high",
                    object(vec![
                        (leaf("public_key.algorithm"), json!(facts.key_algorithm)),
                        (leaf("public_key.bits"), json!(facts.key_bits)),
                    ]),
                ),
            );
        }
        Condition::Sha1Signature => {
            let oid = wire
                .certificate_algorithms
                .first()
                .expect("the leaf's signature algorithm on the wire");
            expected.insert(
                "x509.signature.weak",
                (
                    "medium",
                    object(vec![
                        (
                            leaf("signature_algorithm"),
                            json!(cert().signature_algorithm),
                        ),
                        (leaf("signature_algorithm_oid"), json!(oid)),
                    ]),
                ),
            );
        }
        Condition::Expired => {
            let evidence = object(vec![
                (leaf("not_after"), json!(cert().not_after)),
                ("event.start".into(), Value::Null),
            ]);
            expected.insert("x509.expired", ("high", evidence));
        }
        Condition::NotYetValid => {
            let evidence = object(vec![
                (leaf("not_before"), json!(cert().not_before)),
                ("event.start".into(), Value::Null),
            ]);
            expected.insert("x509.not-yet-valid", ("high", evidence));
        }
        Condition::Expiring => {
            let evidence = object(vec![
                (leaf("not_after"), json!(cert().not_after)),
                ("event.start".into(), Value::Null),
            ]);
            expected.insert("x509.expiring", ("medium", evidence));
        }
        Condition::TooLong => {
            let facts = cert();
            let evidence = object(vec![
                (leaf("not_before"), json!(facts.not_before)),
                (leaf("not_after"), json!(facts.not_after)),
                (leaf("validity_days"), json!(facts.validity_days())),
            ]);
            expected.insert("x509.validity.too-long", ("low", evidence));
        }
        Condition::SelfSigned => {
            let facts = cert();
            let evidence = object(vec![
                (leaf("subject"), json!(facts.subject)),
                (leaf("issuer"), json!(facts.issuer)),
            ]);
            expected.insert("x509.self-signed", ("high", evidence));
            expected.insert("x509.untrusted", ("high", untrusted(facts)));
        }
        Condition::Untrusted => {
            expected.insert("x509.untrusted", ("high", untrusted(cert())));
        }
        Condition::NameMismatch => {
            let evidence = object(vec![
                ("tls.client.server_name".into(), json!(wire.sni)),
                (leaf("subject_alt_names.dns"), json!(wire.dns_names)),
            ]);
            expected.insert("tls.sni.mismatch", ("high", evidence));
        }
        Condition::Anonymous => {
            expected.insert(
                "tls.cipher.insecure",
                ("critical", negotiated_suite(wire, suites)),
            );
        }
        Condition::RsaCbc => {
            let suite = negotiated_suite(wire, suites);
            expected.insert("tls.kex.no-forward-secrecy", ("high", suite.clone()));
            let encrypt_then_mac = wire.server_extensions.contains(&22);
            let evidence = merged(&[
                negotiated_version(wire),
                suite,
                json!({ "cipherlens.tls.server_hello.encrypt_then_mac": encrypt_then_mac }),
            ]);
            expected.insert("tls.cipher.cbc", ("medium", evidence));
        }
        Condition::Tls10 => {
            expected.insert("tls.version.obsolete", ("high", negotiated_version(wire)));
        }
        Condition::Dh1024 => {
            let bits = wire.dh_prime_bits.expect("a DH prime on the wire");
            let evidence = json!({ "cipherlens.tls.dh_prime_bits": bits });
            expected.insert("tls.kex.weak-group", ("high", evidence));
        }
        Condition::NoSni => {
            let evidence = json!({
                "server.address": wire.server_address,
                "server.port": wire.server_port,
            });
            expected.insert("tls.sni.missing", ("low", evidence));
        }
        Condition::DeniedJa3 => {
            let evidence = json!({ "cipherlens.tls.fingerprints.ja3": wire.ja3 });
            expected.insert("tls.fingerprint.denied", ("high", evidence));
        }
        Condition::Tls13Classical => {
            let evidence = merged(&[negotiated_version(wire), key_share_group(wire)]);
            expected.insert("tls.kex.quantum-vulnerable", ("info", evidence));
        }
        Condition::PqRefused => {
            let offered: Vec<&str> = wire
                .supported_groups
                .iter()
                .copied()
                .filter(|code| is_post_quantum_group(*code))
                .map(group_name)
                .collect();
            let evidence = merged(&[
                negotiated_version(wire),
                key_share_group(wire),
                json!({ "cipherlens.tls.client_hello.supported_groups": offered }),
            ]);
            expected.insert("tls.kex.quantum-vulnerable", ("low", evidence));
        }
        Condition::OfferedTls10 => {
            let highest = wire.highest_offered();
            let evidence = json!({
                "cipherlens.tls.client_hello.highest_offered_version.name": version_name(highest),
                "cipherlens.tls.client_hello.highest_offered_version.code": highest,
            });
            expected.insert("tls.version.obsolete", ("low", evidence));
            let mut fatal = Vec::new();
            for (index, (from_server, level, description)) in wire.alerts.iter().enumerate() {
                if *level == 2 {
                    let from = if *from_server { "server" } else { "client" };
                    fatal.push((format!("cipherlens.tls.alerts[{index}].from"), json!(from)));
                    fatal.push((
                        format!("cipherlens.tls.alerts[{index}].description.name"),
                        json!(alert_name(*description)),
                    ));
                }
            }
            assert!(!fatal.is_empty(), "no fatal alert on the wire: {wire:?}");
            expected.insert("tls.alert.fatal", ("low", object(fatal)));
        }
    }
    expected
}

/// `x509.untrusted` on a leaf sent alone: its issuer and the key id it
/// names, neither of them a trust anchor.
fn untrusted(facts: &CertificateFacts) -> Value {
    let mut evidence = vec![(leaf("issuer"), json!(facts.issuer))];
    if let Some(key_id) = &facts.authority_key_id {
        evidence.push((leaf("authority_key_identifier"), json!(key_id)));
    }
    object(evidence)
}
