//! A policy ready to evaluate: the file's settings resolved against the
//! defaults, lists in hash sets, globs compiled, so that evaluating a
//! session looks things up and never parses or allocates for settings.
//! A `Policy` is immutable once built; the sensor swaps in a new one on
//! reload and keeps the old one when the new file is refused.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cipherlens_record::alert::Severity;

use crate::error::{Location, PolicyError, Problem};
use crate::exceptions::{Exception, Exceptions};
use crate::file::PolicyFile;
use crate::rules::RuleId;
use crate::time::Timestamp;
use crate::trust::{TrustAnchor, TrustAnchors};

/// Most levels any rule has.
pub(crate) const MAX_LEVELS: usize = 9;

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Bit per [`RuleId`].
    pub(crate) enabled: u32,
    pub(crate) severities: [[Severity; MAX_LEVELS]; RuleId::COUNT],
    pub(crate) thresholds: Thresholds,
    /// (issued on or after, maximum lifetime in days), by date.
    pub(crate) validity_limits: Vec<(Timestamp, u32)>,
    pub(crate) fingerprints: Fingerprints,
    pub(crate) trust: TrustAnchors,
    ca_bundle: Option<PathBuf>,
    pub(crate) exceptions: Exceptions,
    dedup_window: Duration,
}

/// Sizes and periods the rules compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `x509.expiring`: leaf expires within this many days.
    pub expiring_days: u32,
    /// `x509.key.weak`: smallest acceptable RSA modulus.
    pub rsa_min_bits: u32,
    /// `x509.key.weak`: smallest acceptable DSA prime.
    pub dsa_min_bits: u32,
    /// `x509.key.weak`: smallest acceptable EC key (curve size).
    pub ec_min_bits: u32,
    /// `tls.kex.weak-group`: smallest acceptable finite-field DH prime
    /// (also for DH keys in certificates, `x509.key.weak`).
    pub dh_min_bits: u32,
    /// `tls.kex.weak-group`: smallest acceptable elliptic-curve group.
    pub ec_group_min_bits: u32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Fingerprints {
    pub deny_ja3: HashSet<String>,
    pub deny_ja4: HashSet<String>,
    pub deny_ja3s: HashSet<String>,
    pub allow_ja3: HashSet<String>,
    pub allow_ja4: HashSet<String>,
}

impl Fingerprints {
    pub fn has_deny_list(&self) -> bool {
        !(self.deny_ja3.is_empty() && self.deny_ja4.is_empty() && self.deny_ja3s.is_empty())
    }

    pub fn has_allow_list(&self) -> bool {
        !(self.allow_ja3.is_empty() && self.allow_ja4.is_empty())
    }
}

/// The CA/Browser Forum Baseline Requirements limit: 398 days for
/// certificates issued on or after 2020-09-01.
const DEFAULT_VALIDITY_LIMIT: (i64, u32) = (1_598_918_400, 398);

impl Default for Policy {
    /// The built-in policy: every rule on with its default severity,
    /// `x509.untrusted` inactive until trust anchors are added.
    fn default() -> Self {
        Policy::compile(PolicyFile::default(), "<default>", "")
            .expect("the built-in policy is valid")
    }
}

impl Policy {
    /// Reads and compiles a policy file; the only I/O in this crate.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            file: path.to_owned(),
            source,
        })?;
        Policy::from_toml(&text, &path.display().to_string())
    }

    /// Compiles policy file text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Policy, PolicyError> {
        let parsed: PolicyFile = toml::from_str(text).map_err(|error| PolicyError::Invalid {
            location: Location::at(file, text, error.span().map(|span| span.start)),
            problem: Problem::Syntax(error.message().to_owned()),
        })?;
        Policy::compile(parsed, file, text)
    }

    fn compile(parsed: PolicyFile, file: &str, text: &str) -> Result<Policy, PolicyError> {
        let invalid = |offset: usize, problem: Problem| PolicyError::Invalid {
            location: Location::at(file, text, Some(offset)),
            problem,
        };

        let mut enabled = 0u32;
        let mut severities = [[Severity::Info; MAX_LEVELS]; RuleId::COUNT];
        for rule in RuleId::ALL {
            enabled |= rule.bit();
            for (index, level) in rule.levels().iter().enumerate() {
                severities[rule as usize][index] = level.default_severity;
            }
        }
        for (key, settings) in parsed.rules {
            let rule = key.0;
            if settings.enabled == Some(false) {
                enabled &= !rule.bit();
            }
            let row = &mut severities[rule as usize];
            if let Some(severity) = settings.severity {
                row[..rule.levels().len()].fill(severity);
            }
            if let Some(per_level) = settings.severities {
                let span = per_level.span();
                if rule.levels().len() == 1 {
                    return Err(invalid(span.start, Problem::NoLevels { rule }));
                }
                for (name, severity) in per_level.into_inner() {
                    let Some(index) = rule.level_index(&name) else {
                        let known: Vec<&str> = rule.levels().iter().map(|l| l.name).collect();
                        return Err(invalid(
                            span.start,
                            Problem::UnknownLevel {
                                rule,
                                level: name,
                                known: known.join(", "),
                            },
                        ));
                    };
                    row[index] = severity;
                }
            }
        }

        let validity_limits = match parsed.validity_limits {
            None => vec![(
                Timestamp::from_unix_seconds(DEFAULT_VALIDITY_LIMIT.0),
                DEFAULT_VALIDITY_LIMIT.1,
            )],
            Some(rows) => {
                let mut limits: Vec<(Timestamp, u32)> = Vec::with_capacity(rows.len());
                for row in rows {
                    let span = row.span();
                    let row = row.into_inner();
                    let from = row.issued_from.0;
                    if limits.iter().any(|(other, _)| *other == from) {
                        return Err(invalid(span.start, Problem::DuplicateValidityLimit));
                    }
                    limits.push((from, row.max_days.0));
                }
                limits.sort();
                limits
            }
        };

        let lists = parsed.fingerprints;
        let fingerprints = Fingerprints {
            deny_ja3: lists.deny_ja3.into_iter().map(|hash| hash.0).collect(),
            deny_ja4: lists.deny_ja4.into_iter().map(|hash| hash.0).collect(),
            deny_ja3s: lists.deny_ja3s.into_iter().map(|hash| hash.0).collect(),
            allow_ja3: lists.allow_ja3.into_iter().map(|hash| hash.0).collect(),
            allow_ja4: lists.allow_ja4.into_iter().map(|hash| hash.0).collect(),
        };

        let mut trust = TrustAnchors::default();
        for sha256 in parsed.trust.anchor_sha256 {
            trust.add(TrustAnchor {
                sha256: Some(sha256.0),
                ..TrustAnchor::default()
            });
        }
        for key_id in parsed.trust.anchor_key_ids {
            trust.add(TrustAnchor {
                key_id: Some(key_id.0),
                ..TrustAnchor::default()
            });
        }

        let mut exceptions = Exceptions::default();
        for entry in parsed.exceptions {
            let span = entry.span();
            let entry = entry.into_inner();
            if entry.sni.is_empty() && entry.servers.is_empty() && entry.namespaces.is_empty() {
                return Err(invalid(span.start, Problem::ExceptionWithoutMatch));
            }
            let rules = match entry.rules {
                None => u32::MAX,
                Some(rules) => rules.iter().fold(0, |bits, rule| bits | rule.0.bit()),
            };
            exceptions.list.push(Exception {
                rules,
                sni: entry.sni.into_iter().map(|glob| glob.0).collect(),
                servers: entry.servers.into_iter().map(|server| server.0).collect(),
                namespaces: entry
                    .namespaces
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
            });
        }

        let t = parsed.thresholds;
        Ok(Policy {
            enabled,
            severities,
            thresholds: Thresholds {
                expiring_days: t.expiring_days.0,
                rsa_min_bits: t.rsa_min_bits.0,
                dsa_min_bits: t.dsa_min_bits.0,
                ec_min_bits: t.ec_min_bits.0,
                dh_min_bits: t.dh_min_bits.0,
                ec_group_min_bits: t.ec_group_min_bits.0,
            },
            validity_limits,
            fingerprints,
            trust,
            ca_bundle: parsed.trust.ca_bundle,
            exceptions,
            dedup_window: Duration::from_secs(u64::from(parsed.alerts.dedup_window_seconds)),
        })
    }

    /// Adds trust anchors (for example every certificate of the bundle
    /// [`Policy::ca_bundle`] names); `x509.untrusted` is active once there
    /// is at least one.
    pub fn with_trust_anchors(mut self, anchors: impl IntoIterator<Item = TrustAnchor>) -> Self {
        for anchor in anchors {
            self.trust.add(anchor);
        }
        self
    }

    /// The CA bundle the file names (`[trust] ca_bundle`), for the caller
    /// to read and pass to [`Policy::with_trust_anchors`].
    pub fn ca_bundle(&self) -> Option<&Path> {
        self.ca_bundle.as_deref()
    }

    /// True when the rule is on and can fire (`x509.untrusted` needs trust
    /// anchors; `tls.fingerprint.*` need their lists).
    pub fn is_active(&self, rule: RuleId) -> bool {
        self.enabled & rule.bit() != 0
            && match rule {
                RuleId::Untrusted => !self.trust.is_empty(),
                RuleId::FingerprintDenied => self.fingerprints.has_deny_list(),
                RuleId::FingerprintUnlisted => self.fingerprints.has_allow_list(),
                _ => true,
            }
    }

    /// The severity the policy gives a level of a rule (`level` indexes
    /// [`RuleId::levels`]).
    pub fn severity(&self, rule: RuleId, level: usize) -> Severity {
        self.severities[rule as usize][level.min(rule.levels().len() - 1)]
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The longest lifetime (days) allowed for a certificate issued at
    /// `not_before`, if the table has a row for that date.
    pub fn validity_limit(&self, not_before: Timestamp) -> Option<u32> {
        self.validity_limits
            .iter()
            .rev()
            .find(|(from, _)| *from <= not_before)
            .map(|(_, days)| *days)
    }

    /// The deduplication window (`[alerts] dedup_window_seconds`, default 10 minutes).
    pub fn dedup_window(&self) -> Duration {
        self.dedup_window
    }
}
