//! Rules on what the client asked for and how the handshake ended: server
//! name (RFC 6066 SNI against the leaf, RFC 6125 matching), JA3/JA4
//! deny and allow lists, fatal alerts in clear.

use cipherlens_record::alert::Severity;
use cipherlens_record::certificate::CertificateSummary;
use cipherlens_record::session::AlertLevel;

use super::evidence::{Chain, Evidence, indexes};
use super::{Detail, Hit, Session};
use crate::hostname::{dns_name_matches, ip_matches};
use crate::policy::Policy;
use crate::rules::RuleId;

fn server_name<'r>(session: &Session<'r>) -> Option<&'r str> {
    let record = session.record;
    record.tls.client.server_name.as_deref().or_else(|| {
        record
            .cipherlens
            .tls
            .client_hello
            .as_ref()
            .and_then(|hello| hello.server_name.as_deref())
    })
}

/// The identifiers RFC 6125 6.4 compares: the dNSName entries (and
/// iPAddress entries for an IP literal) when the certificate has a DNS or
/// URI subjectAltName, else the subject's common name (6.4.4).
fn leaf_covers(leaf: &CertificateSummary, name: &str) -> bool {
    match &leaf.subject_alt_names {
        Some(sans) if !sans.dns.is_empty() || !sans.uri.is_empty() => {
            sans.dns
                .iter()
                .any(|pattern| dns_name_matches(pattern, name))
                || ip_matches(name, &sans.ip)
        }
        Some(sans) if ip_matches(name, &sans.ip) => true,
        _ => leaf
            .subject_common_name
            .as_deref()
            .is_some_and(|common_name| dns_name_matches(common_name, name)),
    }
}

pub(crate) fn sni_mismatch(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let name = server_name(session)?;
    let leaf = session.record.cipherlens.tls.server_certificates.first()?;
    (!leaf_covers(leaf, name)).then(|| {
        (
            0,
            policy.severity(RuleId::SniMismatch, 0),
            Detail::default(),
        )
    })
}

pub(crate) fn sni_missing(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    session.record.cipherlens.tls.client_hello.as_ref()?;
    server_name(session)
        .is_none()
        .then(|| (0, policy.severity(RuleId::SniMissing, 0), Detail::default()))
}

const JA3: u32 = 1;
const JA4: u32 = 2;
const SECOND_JA3: u32 = 4;
const SECOND_JA4: u32 = 8;
const JA3S: u32 = 16;

/// The client and server fingerprints of the session, by flag:
/// (flag, record field, value).
fn fingerprints<'r>(session: &Session<'r>) -> [(u32, &'static str, Option<&'r str>); 5] {
    let record = session.record;
    let prints = record.cipherlens.tls.fingerprints.as_ref();
    let field = |get: fn(&'r cipherlens_record::session::Fingerprints) -> &'r Option<String>| {
        prints.and_then(|p| get(p).as_deref())
    };
    [
        (
            JA3,
            "cipherlens.tls.fingerprints.ja3",
            field(|p| &p.ja3).or(record.tls.client.ja3.as_deref()),
        ),
        (JA4, "cipherlens.tls.fingerprints.ja4", field(|p| &p.ja4)),
        (
            SECOND_JA3,
            "cipherlens.tls.fingerprints.second_ja3",
            field(|p| &p.second_ja3),
        ),
        (
            SECOND_JA4,
            "cipherlens.tls.fingerprints.second_ja4",
            field(|p| &p.second_ja4),
        ),
        (
            JA3S,
            "cipherlens.tls.fingerprints.ja3s",
            field(|p| &p.ja3s).or(record.tls.server.ja3s.as_deref()),
        ),
    ]
}

pub(crate) fn fingerprint_denied(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let lists = &policy.fingerprints;
    let mut flags = 0;
    for (flag, _, value) in fingerprints(session) {
        let Some(value) = value else { continue };
        let list = match flag {
            JA3 | SECOND_JA3 => &lists.deny_ja3,
            JA4 | SECOND_JA4 => &lists.deny_ja4,
            _ => &lists.deny_ja3s,
        };
        if list.contains(value) {
            flags |= flag;
        }
    }
    (flags != 0).then(|| {
        (
            0,
            policy.severity(RuleId::FingerprintDenied, 0),
            Detail {
                flags,
                ..Detail::default()
            },
        )
    })
}

pub(crate) fn fingerprint_unlisted(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let lists = &policy.fingerprints;
    let mut flags = 0;
    for (flag, _, value) in fingerprints(session) {
        let list = match flag {
            JA3 => &lists.allow_ja3,
            JA4 => &lists.allow_ja4,
            _ => continue,
        };
        if let Some(value) = value
            && !list.is_empty()
            && !list.contains(value)
        {
            flags |= flag;
        }
    }
    (flags != 0).then(|| {
        (
            0,
            policy.severity(RuleId::FingerprintUnlisted, 0),
            Detail {
                flags,
                ..Detail::default()
            },
        )
    })
}

pub(crate) fn alert_fatal(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let mut mask = 0u64;
    for (index, alert) in session
        .record
        .cipherlens
        .tls
        .alerts
        .iter()
        .take(64)
        .enumerate()
    {
        if alert.level == Some(AlertLevel::Fatal) && !alert.encrypted {
            mask |= 1 << index;
        }
    }
    (mask != 0).then(|| {
        (
            0,
            policy.severity(RuleId::AlertFatal, 0),
            Detail {
                server: mask,
                ..Detail::default()
            },
        )
    })
}

pub(crate) fn describe(_policy: &Policy, hit: &Hit, session: &Session<'_>) -> (String, Evidence) {
    let mut evidence = Evidence::default();
    let record = session.record;
    let message = match hit.rule {
        RuleId::SniMismatch => {
            let name = server_name(session).unwrap_or_default();
            evidence.text("tls.client.server_name", name);
            let mut names = String::new();
            if let Some(leaf) = record.cipherlens.tls.server_certificates.first() {
                match &leaf.subject_alt_names {
                    Some(sans)
                        if !sans.dns.is_empty() || !sans.uri.is_empty() || !sans.ip.is_empty() =>
                    {
                        let mut listed: Vec<String> = sans.dns.clone();
                        listed.extend(sans.ip.iter().cloned());
                        names = listed
                            .iter()
                            .take(5)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ");
                        if listed.len() > 5 {
                            names.push_str(&format!(" and {} more", listed.len() - 5));
                        }
                        evidence.certificate(
                            Chain::Server,
                            0,
                            "subject_alt_names.dns",
                            cipherlens_record::alert::EvidenceValue::List(sans.dns.clone()),
                        );
                        if !sans.ip.is_empty() {
                            evidence.certificate(
                                Chain::Server,
                                0,
                                "subject_alt_names.ip",
                                cipherlens_record::alert::EvidenceValue::List(sans.ip.clone()),
                            );
                        }
                    }
                    _ => {
                        names = leaf.subject_common_name.clone().unwrap_or_default();
                        evidence.certificate(
                            Chain::Server,
                            0,
                            "subject_common_name",
                            cipherlens_record::alert::EvidenceValue::Text(names.clone()),
                        );
                    }
                }
            }
            format!("server name {name} is not covered by the certificate's names ({names})")
        }
        RuleId::SniMissing => {
            evidence
                .text("server.address", record.server.address.clone())
                .integer("server.port", record.server.port);
            format!(
                "client sent no server name (SNI) to {}:{}",
                record.server.address, record.server.port
            )
        }
        RuleId::FingerprintDenied | RuleId::FingerprintUnlisted => {
            let mut listed = Vec::new();
            for (flag, field, value) in fingerprints(session) {
                if hit.detail.flags & flag != 0 {
                    let value = value.unwrap_or_default();
                    evidence.text(field, value);
                    listed.push(value);
                }
            }
            if hit.rule == RuleId::FingerprintDenied {
                format!("fingerprint on the deny list: {}", listed.join(", "))
            } else {
                format!(
                    "client fingerprint not on the allow list: {}",
                    listed.join(", ")
                )
            }
        }
        RuleId::AlertFatal => {
            let mut described = Vec::new();
            for index in indexes(hit.detail.server) {
                let Some(alert) = record.cipherlens.tls.alerts.get(index) else {
                    continue;
                };
                let from = match alert.from {
                    cipherlens_record::session::AlertSender::Client => "client",
                    cipherlens_record::session::AlertSender::Server => "server",
                    cipherlens_record::session::AlertSender::Unknown => "unknown",
                };
                evidence.text(format!("cipherlens.tls.alerts[{index}].from"), from);
                let name = alert
                    .description
                    .as_ref()
                    .map(|d| d.name.to_string())
                    .unwrap_or_default();
                if let Some(description) = &alert.description {
                    evidence.text(
                        format!("cipherlens.tls.alerts[{index}].description.name"),
                        &*description.name,
                    );
                }
                described.push(format!("{name} from {from}"));
            }
            format!("fatal TLS alert: {}", described.join(", "))
        }
        other => format!("{other} fired"),
    };
    (message, evidence)
}
