//! Rules on the certificates of a session (RFC 5280, CA/Browser Forum
//! Baseline Requirements).
//!
//! - Chain rules (`x509.key.weak`, `x509.signature.weak`, `x509.expired`,
//!   `x509.not-yet-valid`) look at the server's chain and, for mutual TLS,
//!   the client's, up to 64 certificates each.
//! - Leaf rules (`x509.expiring`, `x509.validity.too-long`,
//!   `x509.self-signed`) look at the server's first certificate.
//! - A *root* is a self-issued certificate (RFC 5280 6.1: subject equals
//!   issuer; here also the authority key identifier equals the subject key
//!   identifier when both are present). Its own signature is not relied
//!   on, so `x509.signature.weak` skips it, and validity rules skip it
//!   unless it is the leaf.
//! - Times compare with the session's start; validity is inclusive of
//!   notBefore and notAfter (RFC 5280 4.1.2.5).

mod write_up;

use std::sync::Arc;

use cipherlens_record::alert::Severity;
use cipherlens_record::certificate::CertificateSummary;

use super::evidence::Chain;
use super::{Detail, Session, worst_level};
use crate::policy::Policy;
use crate::rules::RuleId;
use crate::time::{SECONDS_PER_DAY, Timestamp};

pub(crate) use write_up::describe;

const MAX_CHAIN: usize = 64;

fn chain<'r>(session: &Session<'r>, which: Chain) -> &'r [Arc<CertificateSummary>] {
    let tls = &session.record.cipherlens.tls;
    let certificates = match which {
        Chain::Server => &tls.server_certificates,
        Chain::Client => &tls.client_certificates,
    };
    &certificates[..certificates.len().min(MAX_CHAIN)]
}

/// RFC 5280 self-issued, with consistent key identifiers.
pub(crate) fn is_self_issued(certificate: &CertificateSummary) -> bool {
    certificate.subject == certificate.issuer
        && match (
            &certificate.authority_key_identifier,
            &certificate.subject_key_identifier,
        ) {
            (Some(authority), Some(subject)) => authority == subject,
            _ => true,
        }
}

/// Bits of the certificates of both chains for which `test` holds.
fn scan(session: &Session<'_>, mut test: impl FnMut(usize, &CertificateSummary) -> bool) -> Detail {
    let mut detail = Detail::default();
    for (index, certificate) in chain(session, Chain::Server).iter().enumerate() {
        if test(index, certificate) {
            detail.server |= 1 << index;
        }
    }
    for (index, certificate) in chain(session, Chain::Client).iter().enumerate() {
        if test(index, certificate) {
            detail.client |= 1 << index;
        }
    }
    detail
}

fn fired(detail: Detail) -> bool {
    detail.server != 0 || detail.client != 0
}

fn single(policy: &Policy, rule: RuleId, detail: Detail) -> Option<(u8, Severity, Detail)> {
    fired(detail).then(|| (0, policy.severity(rule, 0), detail))
}

/// Minimum bits for a key algorithm, if the rule grades it.
fn minimum_bits(policy: &Policy, algorithm: &str) -> Option<u32> {
    let thresholds = policy.thresholds();
    match algorithm {
        "RSA" | "RSA-PSS" => Some(thresholds.rsa_min_bits),
        "DSA" => Some(thresholds.dsa_min_bits),
        "DH" => Some(thresholds.dh_min_bits),
        "EC" => Some(thresholds.ec_min_bits),
        _ => None,
    }
}

fn key_is_weak(policy: &Policy, certificate: &CertificateSummary) -> bool {
    let key = &certificate.public_key;
    match (minimum_bits(policy, &key.algorithm), key.bits) {
        (Some(minimum), Some(bits)) => bits < minimum,
        _ => false,
    }
}

pub(crate) fn key_weak(policy: &Policy, session: &Session<'_>) -> Option<(u8, Severity, Detail)> {
    single(
        policy,
        RuleId::KeyWeak,
        scan(session, |_, c| key_is_weak(policy, c)),
    )
}

/// Level of `x509.signature.weak` (md2, md4, md5, sha1) for a signature
/// algorithm. OIDs from RFC 3279 2.2, RFC 8017 A.2.4, RFC 5758 and the OIW
/// registry; the name is a fallback for producers that give no OID.
fn weak_signature_level(certificate: &CertificateSummary) -> Option<usize> {
    let by_oid = match certificate.signature_algorithm_oid.as_str() {
        "1.2.840.113549.1.1.2" | "1.3.14.3.2.24" => Some(0), // md2WithRSAEncryption
        "1.2.840.113549.1.1.3" => Some(1),                   // md4WithRSAEncryption
        "1.2.840.113549.1.1.4" | "1.3.14.3.2.3" | "1.3.14.3.2.25" => Some(2), // md5WithRSA
        "1.2.840.113549.1.1.5"   // sha1WithRSAEncryption
        | "1.3.14.3.2.29"        // OIW sha1WithRSASignature
        | "1.2.840.10040.4.3"    // dsa-with-sha1
        | "1.3.14.3.2.27"        // OIW dsaWithSHA1
        | "1.2.840.10045.4.1" => Some(3), // ecdsa-with-SHA1
        _ => None,
    };
    by_oid.or_else(|| {
        let name = certificate.signature_algorithm.to_ascii_lowercase();
        if name.contains("md2") {
            Some(0)
        } else if name.contains("md4") {
            Some(1)
        } else if name.contains("md5") {
            Some(2)
        } else if name.contains("sha1") || name.contains("sha-1") {
            Some(3)
        } else {
            None
        }
    })
}

pub(crate) fn signature_weak(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let mut levels = 0u32;
    let detail = scan(session, |_, certificate| {
        if is_self_issued(certificate) {
            return false;
        }
        match weak_signature_level(certificate) {
            Some(level) => {
                levels |= 1 << level;
                true
            }
            None => false,
        }
    });
    if !fired(detail) {
        return None;
    }
    let (level, severity) = worst_level(
        policy,
        RuleId::SignatureWeak,
        (0..4).filter(|level| levels & (1 << level) != 0),
    )?;
    Some((level, severity, detail))
}

/// Leaf, or a certificate that is not a root.
fn validity_applies(index: usize, certificate: &CertificateSummary) -> bool {
    index == 0 || !is_self_issued(certificate)
}

fn parse(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).ok()
}

pub(crate) fn expired(policy: &Policy, session: &Session<'_>) -> Option<(u8, Severity, Detail)> {
    let now = session.time()?;
    let detail = scan(session, |index, certificate| {
        validity_applies(index, certificate)
            && parse(&certificate.not_after).is_some_and(|end| now > end)
    });
    single(policy, RuleId::Expired, detail)
}

pub(crate) fn not_yet_valid(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let now = session.time()?;
    let detail = scan(session, |index, certificate| {
        validity_applies(index, certificate)
            && parse(&certificate.not_before).is_some_and(|start| now < start)
    });
    single(policy, RuleId::NotYetValid, detail)
}

fn leaf<'r>(session: &Session<'r>) -> Option<&'r CertificateSummary> {
    session
        .record
        .cipherlens
        .tls
        .server_certificates
        .first()
        .map(|c| &**c)
}

const LEAF: Detail = Detail {
    server: 1,
    client: 0,
    flags: 0,
};

pub(crate) fn expiring(policy: &Policy, session: &Session<'_>) -> Option<(u8, Severity, Detail)> {
    let leaf = leaf(session)?;
    let now = session.time()?;
    let end = parse(&leaf.not_after)?;
    let horizon = now.saturating_add(std::time::Duration::from_secs(
        u64::from(policy.thresholds().expiring_days) * SECONDS_PER_DAY as u64,
    ));
    (now <= end && end <= horizon).then(|| (0, policy.severity(RuleId::Expiring, 0), LEAF))
}

/// Seconds of a validity period: notBefore through notAfter inclusive
/// (RFC 5280 4.1.2.5), so one second more than their difference.
fn validity_period_seconds(start: Timestamp, end: Timestamp) -> i64 {
    end.seconds_since(start).saturating_add(1)
}

pub(crate) fn validity_too_long(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let leaf = leaf(session)?;
    let start = parse(&leaf.not_before)?;
    let end = parse(&leaf.not_after)?;
    let limit_days = policy.validity_limit(start)?;
    (validity_period_seconds(start, end) > i64::from(limit_days) * SECONDS_PER_DAY).then(|| {
        let detail = Detail {
            flags: limit_days,
            ..LEAF
        };
        (0, policy.severity(RuleId::ValidityTooLong, 0), detail)
    })
}

pub(crate) fn self_signed(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    is_self_issued(leaf(session)?).then(|| (0, policy.severity(RuleId::SelfSigned, 0), LEAF))
}

pub(crate) fn untrusted(policy: &Policy, session: &Session<'_>) -> Option<(u8, Severity, Detail)> {
    let unanchored = policy.trust.check(chain(session, Chain::Server)).err()?;
    let detail = Detail {
        server: 1 << unanchored.last,
        ..Detail::default()
    };
    Some((0, policy.severity(RuleId::Untrusted, 0), detail))
}
