//! Evaluating a session record: which rules fire ([`Hit`]s), and what a
//! person reads about each ([`Finding`]).
//!
//! Evaluation runs on every session, so it is split in two. `evaluate`
//! only decides: it returns the hits in a fixed-size array (no allocation)
//! with the rule, severity and a few bits of detail (which certificates,
//! which weaknesses). `finding` then writes the message and the evidence
//! map for a hit, which allocates, and is meant for the hits that will be
//! published (after deduplication). Both read the same record, and the
//! detail bits say exactly what `evaluate` saw, so the two agree.

mod certificates;
mod client;
mod evidence;
mod protocol;

use std::cell::OnceCell;

use cipherlens_record::SessionRecord;
use cipherlens_record::alert::{Finding, Severity};

use crate::policy::Policy;
use crate::rules::RuleId;
use crate::suites::{self, Suite};
use crate::time::Timestamp;

/// A rule that fired on a session, before it is written up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    rule: RuleId,
    severity: Severity,
    level: u8,
    pub(crate) detail: Detail,
}

/// Rule-specific facts `finding` needs to write up a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Detail {
    /// Bit per server certificate index (certificate rules), or per alert
    /// index (`tls.alert.fatal`); the first 64.
    pub server: u64,
    /// Bit per client certificate index; the first 64.
    pub client: u64,
    /// Rule-specific flags or a number.
    pub flags: u32,
}

impl Hit {
    pub fn rule(&self) -> RuleId {
        self.rule
    }

    /// The severity the policy gives the level that fired.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// Which of the rule's [levels](RuleId::levels) decided the severity.
    pub fn level(&self) -> usize {
        usize::from(self.level)
    }

    const EMPTY: Hit = Hit {
        rule: RuleId::VersionObsolete,
        severity: Severity::Info,
        level: 0,
        detail: Detail {
            server: 0,
            client: 0,
            flags: 0,
        },
    };
}

/// The hits of one session, at most one per rule, in rule order.
#[derive(Debug, Clone)]
pub struct Hits {
    items: [Hit; RuleId::COUNT],
    len: usize,
}

impl Hits {
    fn new() -> Self {
        Hits {
            items: [Hit::EMPTY; RuleId::COUNT],
            len: 0,
        }
    }

    fn push(&mut self, hit: Hit) {
        self.items[self.len] = hit;
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[Hit] {
        &self.items[..self.len]
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Hit> {
        self.as_slice().iter()
    }

    /// The hit of `rule`, if it fired.
    pub fn get(&self, rule: RuleId) -> Option<&Hit> {
        self.iter().find(|hit| hit.rule == rule)
    }
}

impl<'a> IntoIterator for &'a Hits {
    type Item = &'a Hit;
    type IntoIter = std::slice::Iter<'a, Hit>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A record being evaluated, with what is worked out from it at most once.
pub(crate) struct Session<'r> {
    pub record: &'r SessionRecord,
    time: OnceCell<Option<Timestamp>>,
    suite: OnceCell<Option<(&'r str, Suite)>>,
}

impl<'r> Session<'r> {
    fn new(record: &'r SessionRecord) -> Self {
        Session {
            record,
            time: OnceCell::new(),
            suite: OnceCell::new(),
        }
    }

    /// The session's time (`event.start`), if it parses.
    pub fn time(&self) -> Option<Timestamp> {
        *self
            .time
            .get_or_init(|| Timestamp::parse_rfc3339(&self.record.event.start).ok())
    }

    /// The negotiated suite's IANA name and what it says, if it is one.
    pub fn suite(&self) -> Option<(&'r str, Suite)> {
        *self.suite.get_or_init(|| {
            let tls = self.record;
            let name: &'r str = match &tls.cipherlens.tls.cipher {
                Some(named) => &named.name,
                None => tls.tls.cipher.as_deref()?,
            };
            Some((name, suites::classify(name)?))
        })
    }
}

/// A rule check: the hit's level, severity and detail, if it fires.
pub(crate) type Check = fn(&Policy, &Session<'_>) -> Option<(u8, Severity, Detail)>;

fn check_of(rule: RuleId) -> Check {
    match rule {
        RuleId::VersionObsolete => protocol::version_obsolete,
        RuleId::CipherInsecure => protocol::cipher_insecure,
        RuleId::KexNoForwardSecrecy => protocol::no_forward_secrecy,
        RuleId::CipherCbc => protocol::cipher_cbc,
        RuleId::KexWeakGroup => protocol::weak_group,
        RuleId::KexQuantumVulnerable => protocol::quantum_vulnerable,
        RuleId::KeyWeak => certificates::key_weak,
        RuleId::SignatureWeak => certificates::signature_weak,
        RuleId::Expired => certificates::expired,
        RuleId::NotYetValid => certificates::not_yet_valid,
        RuleId::Expiring => certificates::expiring,
        RuleId::ValidityTooLong => certificates::validity_too_long,
        RuleId::SelfSigned => certificates::self_signed,
        RuleId::Untrusted => certificates::untrusted,
        RuleId::SniMismatch => client::sni_mismatch,
        RuleId::SniMissing => client::sni_missing,
        RuleId::FingerprintDenied => client::fingerprint_denied,
        RuleId::FingerprintUnlisted => client::fingerprint_unlisted,
        RuleId::AlertFatal => client::alert_fatal,
    }
}

impl Policy {
    /// The rules that fire on `record`, after exceptions. Does not allocate.
    pub fn evaluate(&self, record: &SessionRecord) -> Hits {
        let session = Session::new(record);
        let mut hits = Hits::new();
        for rule in RuleId::ALL {
            if !self.is_active(rule) {
                continue;
            }
            if let Some((level, severity, detail)) = check_of(rule)(self, &session) {
                hits.push(Hit {
                    rule,
                    severity,
                    level,
                    detail,
                });
            }
        }
        if !hits.is_empty() {
            let exempt = self.exceptions.exempt_rules(record);
            if exempt != 0 {
                let mut kept = Hits::new();
                for hit in hits.iter().filter(|hit| exempt & hit.rule.bit() == 0) {
                    kept.push(*hit);
                }
                hits = kept;
            }
        }
        hits
    }

    /// Writes up a hit of [`Policy::evaluate`] on the same `record`.
    pub fn finding(&self, hit: &Hit, record: &SessionRecord) -> Finding {
        let session = Session::new(record);
        let (message, evidence) = match hit.rule {
            RuleId::VersionObsolete
            | RuleId::CipherInsecure
            | RuleId::KexNoForwardSecrecy
            | RuleId::CipherCbc
            | RuleId::KexWeakGroup
            | RuleId::KexQuantumVulnerable => protocol::describe(self, hit, &session),
            RuleId::KeyWeak
            | RuleId::SignatureWeak
            | RuleId::Expired
            | RuleId::NotYetValid
            | RuleId::Expiring
            | RuleId::ValidityTooLong
            | RuleId::SelfSigned
            | RuleId::Untrusted => certificates::describe(self, hit, &session),
            RuleId::SniMismatch
            | RuleId::SniMissing
            | RuleId::FingerprintDenied
            | RuleId::FingerprintUnlisted
            | RuleId::AlertFatal => client::describe(self, hit, &session),
        };
        Finding {
            rule: hit.rule.as_str().to_owned(),
            severity: hit.severity,
            message,
            evidence: evidence.into_map(),
        }
    }

    /// Every finding on `record`, written up (convenience for tools that
    /// do not deduplicate).
    pub fn findings(&self, record: &SessionRecord) -> Vec<Finding> {
        self.evaluate(record)
            .iter()
            .map(|hit| self.finding(hit, record))
            .collect()
    }
}

/// The most severe of several fired levels of `rule`: (level, severity).
pub(crate) fn worst_level(
    policy: &Policy,
    rule: RuleId,
    levels: impl IntoIterator<Item = usize>,
) -> Option<(u8, Severity)> {
    let mut worst: Option<(u8, Severity)> = None;
    for level in levels {
        let severity = policy.severity(rule, level);
        if worst.is_none_or(|(_, current)| severity > current) {
            worst = Some((level as u8, severity));
        }
    }
    worst
}
