//! The rules: stable ids, their severity levels and default severities.
//!
//! A rule whose condition has grades (a negotiated SSL 3.0 is worse than an
//! offered TLS 1.1) has one named *level* per grade, each with its own
//! default severity; the policy file can override one level or all of them.
//! Ids and level names are part of the policy file format and of the alert
//! records, so they never change meaning.

use std::fmt;
use std::str::FromStr;

use cipherlens_record::alert::Severity;

/// A rule's stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum RuleId {
    #[default]
    VersionObsolete,
    CipherInsecure,
    KexNoForwardSecrecy,
    CipherCbc,
    KexWeakGroup,
    KexQuantumVulnerable,
    KeyWeak,
    SignatureWeak,
    Expired,
    NotYetValid,
    Expiring,
    ValidityTooLong,
    SelfSigned,
    Untrusted,
    SniMismatch,
    SniMissing,
    FingerprintDenied,
    FingerprintUnlisted,
    AlertFatal,
}

/// One grade of a rule with its default severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Name in the policy file (`severities = { <name> = "..." }`).
    pub name: &'static str,
    pub default_severity: Severity,
}

const fn level(name: &'static str, default_severity: Severity) -> Level {
    Level {
        name,
        default_severity,
    }
}

use Severity::{Critical, High, Info, Low, Medium};

/// Rules with a single grade use this one level.
const SINGLE_HIGH: &[Level] = &[level("default", High)];
const SINGLE_MEDIUM: &[Level] = &[level("default", Medium)];
const SINGLE_LOW: &[Level] = &[level("default", Low)];
const VERSION_LEVELS: &[Level] = &[
    level("ssl2", Critical),
    level("ssl3", Critical),
    level("tls1.0", High),
    level("tls1.1", High),
    level("offered", Low),
];
const CIPHER_LEVELS: &[Level] = &[
    level("null", Critical),
    level("export", Critical),
    level("anonymous", Critical),
    level("rc4", High),
    level("des", High),
    level("rc2", High),
    level("3des", Medium),
    level("idea", Medium),
    level("seed", Medium),
];
const CBC_LEVELS: &[Level] = &[level("cbc", Low), level("sha1-mac", Medium)];
const GROUP_LEVELS: &[Level] = &[level("ffdh", High), level("ec", High)];
const QUANTUM_LEVELS: &[Level] = &[level("classical", Info), level("refused", Low)];
const SIGNATURE_LEVELS: &[Level] = &[
    level("md2", Critical),
    level("md4", Critical),
    level("md5", Critical),
    level("sha1", Medium),
];

impl RuleId {
    pub const COUNT: usize = 19;

    /// Every rule, in evaluation order.
    pub const ALL: [RuleId; RuleId::COUNT] = [
        RuleId::VersionObsolete,
        RuleId::CipherInsecure,
        RuleId::KexNoForwardSecrecy,
        RuleId::CipherCbc,
        RuleId::KexWeakGroup,
        RuleId::KexQuantumVulnerable,
        RuleId::KeyWeak,
        RuleId::SignatureWeak,
        RuleId::Expired,
        RuleId::NotYetValid,
        RuleId::Expiring,
        RuleId::ValidityTooLong,
        RuleId::SelfSigned,
        RuleId::Untrusted,
        RuleId::SniMismatch,
        RuleId::SniMissing,
        RuleId::FingerprintDenied,
        RuleId::FingerprintUnlisted,
        RuleId::AlertFatal,
    ];

    /// The stable id, as in policy files and alert records.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleId::VersionObsolete => "tls.version.obsolete",
            RuleId::CipherInsecure => "tls.cipher.insecure",
            RuleId::KexNoForwardSecrecy => "tls.kex.no-forward-secrecy",
            RuleId::CipherCbc => "tls.cipher.cbc",
            RuleId::KexWeakGroup => "tls.kex.weak-group",
            RuleId::KexQuantumVulnerable => "tls.kex.quantum-vulnerable",
            RuleId::KeyWeak => "x509.key.weak",
            RuleId::SignatureWeak => "x509.signature.weak",
            RuleId::Expired => "x509.expired",
            RuleId::NotYetValid => "x509.not-yet-valid",
            RuleId::Expiring => "x509.expiring",
            RuleId::ValidityTooLong => "x509.validity.too-long",
            RuleId::SelfSigned => "x509.self-signed",
            RuleId::Untrusted => "x509.untrusted",
            RuleId::SniMismatch => "tls.sni.mismatch",
            RuleId::SniMissing => "tls.sni.missing",
            RuleId::FingerprintDenied => "tls.fingerprint.denied",
            RuleId::FingerprintUnlisted => "tls.fingerprint.unlisted",
            RuleId::AlertFatal => "tls.alert.fatal",
        }
    }

    /// The rule's grades, each with its default severity. Index 0 is the
    /// single level of a rule without grades.
    pub const fn levels(self) -> &'static [Level] {
        match self {
            RuleId::VersionObsolete => VERSION_LEVELS,
            RuleId::CipherInsecure => CIPHER_LEVELS,
            RuleId::CipherCbc => CBC_LEVELS,
            RuleId::KexWeakGroup => GROUP_LEVELS,
            RuleId::KexQuantumVulnerable => QUANTUM_LEVELS,
            RuleId::SignatureWeak => SIGNATURE_LEVELS,
            RuleId::Expiring | RuleId::FingerprintUnlisted => SINGLE_MEDIUM,
            RuleId::ValidityTooLong | RuleId::SniMissing | RuleId::AlertFatal => SINGLE_LOW,
            RuleId::KexNoForwardSecrecy
            | RuleId::KeyWeak
            | RuleId::Expired
            | RuleId::NotYetValid
            | RuleId::SelfSigned
            | RuleId::Untrusted
            | RuleId::SniMismatch
            | RuleId::FingerprintDenied => SINGLE_HIGH,
        }
    }

    /// The index of the level called `name`.
    pub fn level_index(self, name: &str) -> Option<usize> {
        self.levels().iter().position(|level| level.name == name)
    }

    /// Bit of this rule in a rule set.
    pub(crate) const fn bit(self) -> u32 {
        1 << self as u8
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a rule id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule {0:?}, expected one of {list}", list = known_rules())]
pub struct UnknownRule(pub String);

fn known_rules() -> String {
    let ids: Vec<&str> = RuleId::ALL.iter().map(|rule| rule.as_str()).collect();
    ids.join(", ")
}

impl FromStr for RuleId {
    type Err = UnknownRule;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .into_iter()
            .find(|rule| rule.as_str() == text)
            .ok_or_else(|| UnknownRule(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_rule_once_in_discriminant_order() {
        for (index, rule) in RuleId::ALL.into_iter().enumerate() {
            assert_eq!(rule as usize, index);
            assert_eq!(rule.as_str().parse::<RuleId>(), Ok(rule));
            assert!(!rule.levels().is_empty());
        }
        assert!("tls.version".parse::<RuleId>().is_err());
    }

    /// The severities of the rule table, written out independently.
    #[test]
    fn default_severities_are_the_tables() {
        let expected: &[(&str, &[(&str, Severity)])] = &[
            (
                "tls.version.obsolete",
                &[
                    ("ssl2", Critical),
                    ("ssl3", Critical),
                    ("tls1.0", High),
                    ("tls1.1", High),
                    ("offered", Low),
                ],
            ),
            (
                "tls.cipher.insecure",
                &[
                    ("null", Critical),
                    ("export", Critical),
                    ("anonymous", Critical),
                    ("rc4", High),
                    ("des", High),
                    ("rc2", High),
                    ("3des", Medium),
                    ("idea", Medium),
                    ("seed", Medium),
                ],
            ),
            ("tls.kex.no-forward-secrecy", &[("default", High)]),
            ("tls.cipher.cbc", &[("cbc", Low), ("sha1-mac", Medium)]),
            ("tls.kex.weak-group", &[("ffdh", High), ("ec", High)]),
            (
                "tls.kex.quantum-vulnerable",
                &[("classical", Info), ("refused", Low)],
            ),
            ("x509.key.weak", &[("default", High)]),
            (
                "x509.signature.weak",
                &[
                    ("md2", Critical),
                    ("md4", Critical),
                    ("md5", Critical),
                    ("sha1", Medium),
                ],
            ),
            ("x509.expired", &[("default", High)]),
            ("x509.not-yet-valid", &[("default", High)]),
            ("x509.expiring", &[("default", Medium)]),
            ("x509.validity.too-long", &[("default", Low)]),
            ("x509.self-signed", &[("default", High)]),
            ("x509.untrusted", &[("default", High)]),
            ("tls.sni.mismatch", &[("default", High)]),
            ("tls.sni.missing", &[("default", Low)]),
            ("tls.fingerprint.denied", &[("default", High)]),
            ("tls.fingerprint.unlisted", &[("default", Medium)]),
            ("tls.alert.fatal", &[("default", Low)]),
        ];
        assert_eq!(expected.len(), RuleId::COUNT);
        for (id, levels) in expected {
            let rule: RuleId = id.parse().unwrap();
            let actual: Vec<(&str, Severity)> = rule
                .levels()
                .iter()
                .map(|level| (level.name, level.default_severity))
                .collect();
            assert_eq!(&actual, levels, "{id}");
        }
    }
}
