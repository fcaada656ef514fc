//! Messages and evidence for the certificate rules' hits: the
//! certificates a hit names (by chain and index) and the fields the rule
//! looked at.

use cipherlens_record::alert::EvidenceValue;
use cipherlens_record::certificate::CertificateSummary;

use super::{chain, minimum_bits};
use crate::evaluate::evidence::{Chain, Evidence, indexes};
use crate::evaluate::{Detail, Hit, Session};
use crate::policy::Policy;
use crate::rules::RuleId;

/// Each certificate the detail names, with its chain and index.
fn named_certificates<'r>(
    session: &Session<'r>,
    detail: Detail,
) -> Vec<(Chain, usize, &'r CertificateSummary)> {
    let mut found = Vec::new();
    for (which, mask) in [
        (Chain::Server, detail.server),
        (Chain::Client, detail.client),
    ] {
        let certificates = chain(session, which);
        for index in indexes(mask) {
            if let Some(certificate) = certificates.get(index) {
                found.push((which, index, &**certificate));
            }
        }
    }
    found
}

fn text(value: &str) -> EvidenceValue {
    EvidenceValue::Text(value.to_owned())
}

fn describe_one(certificate: &CertificateSummary) -> String {
    certificate
        .subject_common_name
        .clone()
        .unwrap_or_else(|| certificate.subject.clone())
}

pub(crate) fn describe(policy: &Policy, hit: &Hit, session: &Session<'_>) -> (String, Evidence) {
    let mut evidence = Evidence::default();
    let certificates = named_certificates(session, hit.detail);
    let first = certificates.first().map(|(which, index, certificate)| {
        format!(
            "{} certificate {index} ({})",
            which.label(),
            describe_one(certificate)
        )
    });
    let first = first.unwrap_or_default();
    let more = match certificates.len() {
        0 | 1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    let now = session.time().map(|t| t.to_string()).unwrap_or_default();
    let message = match hit.rule {
        RuleId::KeyWeak => {
            for (which, index, c) in &certificates {
                evidence.certificate(
                    *which,
                    *index,
                    "public_key.algorithm",
                    text(&c.public_key.algorithm),
                );
                if let Some(bits) = c.public_key.bits {
                    evidence.certificate(
                        *which,
                        *index,
                        "public_key.bits",
                        EvidenceValue::Integer(i64::from(bits)),
                    );
                }
            }
            let (algorithm, bits) = certificates
                .first()
                .map(|(_, _, c)| {
                    (
                        c.public_key.algorithm.clone(),
                        c.public_key.bits.unwrap_or(0),
                    )
                })
                .unwrap_or_default();
            let minimum = minimum_bits(policy, &algorithm).unwrap_or(0);
            format!("{first}{more} has a {bits}-bit {algorithm} key, under {minimum} bits")
        }
        RuleId::SignatureWeak => {
            for (which, index, c) in &certificates {
                evidence.certificate(
                    *which,
                    *index,
                    "signature_algorithm",
                    text(&c.signature_algorithm),
                );
                evidence.certificate(
                    *which,
                    *index,
                    "signature_algorithm_oid",
                    text(&c.signature_algorithm_oid),
                );
            }
            let algorithm = certificates
                .first()
                .map(|(_, _, c)| c.signature_algorithm.clone())
                .unwrap_or_default();
            format!("{first}{more} is signed with {algorithm}, a broken hash")
        }
        RuleId::Expired => {
            evidence.text("event.start", now.clone());
            for (which, index, c) in &certificates {
                evidence.certificate(*which, *index, "not_after", text(&c.not_after));
            }
            let end = certificates
                .first()
                .map(|(_, _, c)| c.not_after.clone())
                .unwrap_or_default();
            format!("{first}{more} expired at {end}, before the session at {now}")
        }
        RuleId::NotYetValid => {
            evidence.text("event.start", now.clone());
            for (which, index, c) in &certificates {
                evidence.certificate(*which, *index, "not_before", text(&c.not_before));
            }
            let start = certificates
                .first()
                .map(|(_, _, c)| c.not_before.clone())
                .unwrap_or_default();
            format!("{first}{more} is valid only from {start}, after the session at {now}")
        }
        RuleId::Expiring => {
            evidence.text("event.start", now.clone());
            for (which, index, c) in &certificates {
                evidence.certificate(*which, *index, "not_after", text(&c.not_after));
            }
            let end = certificates
                .first()
                .map(|(_, _, c)| c.not_after.clone())
                .unwrap_or_default();
            format!(
                "{first} expires at {end}, within {} days of the session",
                policy.thresholds().expiring_days
            )
        }
        RuleId::ValidityTooLong => {
            for (which, index, c) in &certificates {
                evidence.certificate(*which, *index, "not_before", text(&c.not_before));
                evidence.certificate(*which, *index, "not_after", text(&c.not_after));
                evidence.certificate(
                    *which,
                    *index,
                    "validity_days",
                    EvidenceValue::Integer(c.validity_days),
                );
            }
            format!(
                "{first} is valid for longer than the {} days allowed for its issue date",
                hit.detail.flags
            )
        }
        RuleId::SelfSigned => {
            for (which, index, c) in &certificates {
                evidence.certificate(*which, *index, "subject", text(&c.subject));
                evidence.certificate(*which, *index, "issuer", text(&c.issuer));
            }
            format!("{first} is self-signed")
        }
        RuleId::Untrusted => {
            for (which, index, c) in &certificates {
                evidence.certificate(*which, *index, "issuer", text(&c.issuer));
                if let Some(key_id) = &c.authority_key_identifier {
                    evidence.certificate(*which, *index, "authority_key_identifier", text(key_id));
                }
            }
            let issuer = certificates
                .first()
                .map(|(_, _, c)| c.issuer.clone())
                .unwrap_or_default();
            format!(
                "server chain does not lead to a trusted CA: {first} is issued by {issuer}, not a trust anchor"
            )
        }
        other => format!("{other} fired"),
    };
    (message, evidence)
}
