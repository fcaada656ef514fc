//! The policy file as written: TOML read with serde, every table with
//! `deny_unknown_fields`, every value checked while it is read so that an
//! error carries the position of the offending key or value. The format is
//! documented in the crate docs; [`crate::Policy`] compiles this into the
//! form evaluation uses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cipherlens_record::alert::Severity;
use serde::Deserialize;
use toml::Spanned;

use crate::exceptions::ServerPattern;
use crate::glob::Glob;
use crate::rules::RuleId;
use crate::time::Timestamp;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    /// Format version; only 1 exists.
    #[serde(default, rename = "version")]
    pub _version: Option<FormatVersion>,
    #[serde(default)]
    pub rules: BTreeMap<RuleKey, RuleSettings>,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Replaces the default table when present.
    #[serde(default)]
    pub validity_limits: Option<Vec<Spanned<ValidityLimit>>>,
    #[serde(default)]
    pub fingerprints: FingerprintLists,
    #[serde(default)]
    pub trust: Trust,
    #[serde(default)]
    pub exceptions: Vec<Spanned<ExceptionEntry>>,
    #[serde(default)]
    pub alerts: Alerts,
}

/// `version = 1`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
pub(crate) struct FormatVersion;

impl TryFrom<i64> for FormatVersion {
    type Error = &'static str;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(FormatVersion),
            _ => Err("this cipherlens reads policy format version 1 only"),
        }
    }
}

/// A rule id as a key of `[rules]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct RuleKey(pub RuleId);

impl TryFrom<String> for RuleKey {
    type Error = crate::rules::UnknownRule;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map(RuleKey)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSettings {
    pub enabled: Option<bool>,
    /// Severity of every level.
    pub severity: Option<Severity>,
    /// Severity per level, applied after `severity`.
    pub severities: Option<Spanned<BTreeMap<String, Severity>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Thresholds {
    pub expiring_days: Days,
    pub rsa_min_bits: Bits,
    pub dsa_min_bits: Bits,
    pub ec_min_bits: Bits,
    pub dh_min_bits: Bits,
    pub ec_group_min_bits: Bits,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            expiring_days: Days(30),
            rsa_min_bits: Bits(2048),
            dsa_min_bits: Bits(2048),
            ec_min_bits: Bits(224),
            dh_min_bits: Bits(2048),
            ec_group_min_bits: Bits(224),
        }
    }
}

/// A key or group size: 1 to 65536 bits.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
pub(crate) struct Bits(pub u32);

impl TryFrom<i64> for Bits {
    type Error = &'static str;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u32::try_from(value) {
            Ok(bits @ 1..=65536) => Ok(Bits(bits)),
            _ => Err("a size in bits must be between 1 and 65536"),
        }
    }
}

/// A number of days: 0 to 36500.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
pub(crate) struct Days(pub u32);

impl TryFrom<i64> for Days {
    type Error = &'static str;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u32::try_from(value) {
            Ok(days @ 0..=36500) => Ok(Days(days)),
            _ => Err("a number of days must be between 0 and 36500"),
        }
    }
}

/// One row of the certificate lifetime table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidityLimit {
    /// Applies to certificates whose notBefore is on or after this date.
    pub issued_from: IssueDate,
    pub max_days: PositiveDays,
}

/// A TOML local date (`2026-03-15`), as midnight UTC.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "toml::value::Datetime")]
pub(crate) struct IssueDate(pub Timestamp);

impl TryFrom<toml::value::Datetime> for IssueDate {
    type Error = &'static str;
    fn try_from(value: toml::value::Datetime) -> Result<Self, Self::Error> {
        const SHAPE: &str = "expected a date such as 2026-03-15 (no time, no quotes)";
        match (value.date, value.time, value.offset) {
            (Some(date), None, None) => Timestamp::from_date(
                i64::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
            .map(IssueDate)
            .map_err(|_| SHAPE),
            _ => Err(SHAPE),
        }
    }
}

/// A number of days from 1 to 36500.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
pub(crate) struct PositiveDays(pub u32);

impl TryFrom<i64> for PositiveDays {
    type Error = &'static str;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u32::try_from(value) {
            Ok(days @ 1..=36500) => Ok(PositiveDays(days)),
            _ => Err("a maximum lifetime must be between 1 and 36500 days"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FingerprintLists {
    #[serde(default)]
    pub deny_ja3: Vec<Ja3>,
    #[serde(default)]
    pub deny_ja4: Vec<Ja4>,
    #[serde(default)]
    pub deny_ja3s: Vec<Ja3>,
    #[serde(default)]
    pub allow_ja3: Vec<Ja3>,
    #[serde(default)]
    pub allow_ja4: Vec<Ja4>,
}

/// A JA3 or JA3S hash: 32 hex digits, kept lowercase.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Ja3(pub String);

impl TryFrom<String> for Ja3 {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            Ok(Ja3(text.to_ascii_lowercase()))
        } else {
            Err("a JA3 hash is 32 hex digits")
        }
    }
}

/// A JA4 fingerprint (`t13d1516h2_8daaf6152771_e5627efa2ab1`), lowercase.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Ja4(pub String);

impl TryFrom<String> for Ja4 {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let lower = text.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('_').collect();
        let hex12 = |part: &str| part.len() == 12 && part.bytes().all(|b| b.is_ascii_hexdigit());
        let valid = matches!(parts.as_slice(), [a, b, c]
            if a.len() == 10 && a.bytes().all(|b| b.is_ascii_alphanumeric()) && hex12(b) && hex12(c));
        if valid {
            Ok(Ja4(lower))
        } else {
            Err("a JA4 fingerprint looks like t13d1516h2_8daaf6152771_e5627efa2ab1")
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Trust {
    /// PEM bundle of trusted CAs; read by the program that loads the policy
    /// (see `Policy::ca_bundle`), not by this crate.
    pub ca_bundle: Option<PathBuf>,
    #[serde(default)]
    pub anchor_sha256: Vec<HexString<32>>,
    #[serde(default)]
    pub anchor_key_ids: Vec<HexString<0>>,
}

/// Hex digits, lowercase, `:` separators allowed; `N` bytes long (any
/// length from 1 to 64 bytes when `N` is 0).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct HexString<const N: usize>(pub String);

impl<const N: usize> TryFrom<String> for HexString<N> {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let digits: String = text
            .chars()
            .filter(|&c| c != ':')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let bytes = digits.len() / 2;
        let length_ok = if N == 0 {
            (1..=64).contains(&bytes)
        } else {
            bytes == N
        };
        if digits.len().is_multiple_of(2)
            && length_ok
            && digits.bytes().all(|b| b.is_ascii_hexdigit())
        {
            Ok(HexString(digits))
        } else if N == 32 {
            Err("a SHA-256 fingerprint is 64 hex digits (':' separators allowed)")
        } else {
            Err("a key identifier is 2 to 128 hex digits (':' separators allowed)")
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExceptionEntry {
    /// Rules it exempts; every rule when absent.
    pub rules: Option<Vec<RuleKey>>,
    #[serde(default)]
    pub sni: Vec<SniGlob>,
    #[serde(default)]
    pub servers: Vec<ServerEndpoint>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Free text for the people who read the file.
    #[serde(default, rename = "reason")]
    pub _reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct SniGlob(pub Glob);

impl TryFrom<String> for SniGlob {
    type Error = crate::glob::GlobError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Glob::new(&text).map(SniGlob)
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct ServerEndpoint(pub ServerPattern);

impl TryFrom<String> for ServerEndpoint {
    type Error = crate::exceptions::ServerPatternError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map(ServerEndpoint)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Alerts {
    /// Deduplication window in seconds; 0 publishes every finding.
    pub dedup_window_seconds: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            dedup_window_seconds: 600,
        }
    }
}
