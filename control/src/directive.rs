//! Directives: what operators ask a running sensor over NATS.
//!
//! Requests arrive on `<prefix>.directive.<node>` (one node) or
//! `<prefix>.directive.all` (every node) as JSON objects; a reply goes to
//! the request's reply subject. Unknown directives, unknown fields and
//! out-of-range values are refused with a clear error, and a refused
//! directive changes nothing.
//!
//! ```json
//! {"directive": "status"}
//! {"directive": "interfaces", "include": ["eth*", "lxc*"], "exclude": ["lo"]}
//! {"directive": "sampling", "rate": 0.25}
//! {"directive": "plaintext", "enabled": true, "scope": {"k8s_namespace": "payments"}}
//! ```
//!
//! Replies: `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.

use serde::{Deserialize, Serialize};

/// Largest directive accepted, in bytes.
pub const MAX_DIRECTIVE: usize = 64 * 1024;
/// Globs per include/exclude list at most.
pub const MAX_GLOBS: usize = 256;
/// Longest interface glob, in bytes (an interface name has at most 15).
pub const MAX_GLOB_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "directive", rename_all = "snake_case", deny_unknown_fields)]
pub enum Directive {
    /// Versions, attached interfaces, counters.
    Status {},
    /// Reads the policy file again (alerts on); a file that does not load
    /// is refused with its error and the policy in use stays.
    Policy {},
    /// Replaces the interface include/exclude globs (empty include: all).
    Interfaces {
        #[serde(default)]
        include: Vec<String>,
        #[serde(default)]
        exclude: Vec<String>,
    },
    /// Fraction of sessions recorded, 0 to 1, chosen by flow (both
    /// directions and every node agree on which flows).
    Sampling { rate: f64 },
    /// Plaintext capture (uprobes) on or off for a scope.
    Plaintext {
        enabled: bool,
        scope: PlaintextScope,
    },
}

/// Whose plaintext: exactly one selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PlaintextScope {
    Pid(u32),
    ContainerId(String),
    K8sNamespace(String),
    K8sPod(String),
    /// Every process on the node.
    Node(bool),
}

/// Which glob list of an `interfaces` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobList {
    Include,
    Exclude,
}

impl std::fmt::Display for GlobList {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Include => "include",
            Self::Exclude => "exclude",
        })
    }
}

/// Why a directive was refused. The Display text is the reply's `error`.
#[derive(Debug, thiserror::Error)]
pub enum DirectiveError {
    #[error("directive of {0} bytes exceeds the {MAX_DIRECTIVE}-byte limit")]
    TooLarge(usize),
    /// Not JSON, or JSON that is no directive (unknown directive or field,
    /// wrong type, missing field).
    #[error("not a valid directive: {0}")]
    Invalid(#[source] serde_json::Error),
    #[error("not a valid directive: sampling rate {0} is outside 0..=1")]
    SamplingRate(f64),
    #[error(
        "not a valid directive: interface glob {list}[{index}] must be 1 to {MAX_GLOB_LEN} printable characters"
    )]
    InterfaceGlob { list: GlobList, index: usize },
    #[error("not a valid directive: at most {MAX_GLOBS} interface globs")]
    TooManyGlobs,
}

impl DirectiveError {
    /// A label for counters and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Invalid(error) if error.is_data() => "not_a_directive",
            Self::Invalid(_) => "not_json",
            Self::SamplingRate(_) => "sampling_rate",
            Self::InterfaceGlob { .. } => "interface_glob",
            Self::TooManyGlobs => "too_many_globs",
        }
    }
}

/// Parses and checks one directive.
pub fn parse_directive(payload: &[u8]) -> Result<Directive, DirectiveError> {
    if payload.len() > MAX_DIRECTIVE {
        return Err(DirectiveError::TooLarge(payload.len()));
    }
    let directive: Directive = serde_json::from_slice(payload).map_err(DirectiveError::Invalid)?;
    match &directive {
        Directive::Sampling { rate } if !(0.0..=1.0).contains(rate) => {
            Err(DirectiveError::SamplingRate(*rate))
        }
        Directive::Interfaces { include, exclude } => {
            let lists = [(GlobList::Include, include), (GlobList::Exclude, exclude)];
            for (list, globs) in lists {
                if let Some(index) = globs.iter().position(|glob| !valid_glob(glob)) {
                    return Err(DirectiveError::InterfaceGlob { list, index });
                }
            }
            if include.len() + exclude.len() > MAX_GLOBS {
                return Err(DirectiveError::TooManyGlobs);
            }
            Ok(directive)
        }
        _ => Ok(directive),
    }
}

fn valid_glob(glob: &str) -> bool {
    !glob.is_empty() && glob.len() <= MAX_GLOB_LEN && !glob.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_directive_parses() {
        let examples: Vec<&str> = include_str!("directive.rs")
            .lines()
            .skip_while(|line| !line.starts_with("//! ```json"))
            .skip(1)
            .take_while(|line| !line.starts_with("//! ```"))
            .map(|line| line.trim_start_matches("//! "))
            .collect();
        let parsed: Vec<Directive> = examples
            .iter()
            .map(|example| parse_directive(example.as_bytes()).expect(example))
            .collect();
        assert_eq!(
            parsed,
            [
                Directive::Status {},
                Directive::Interfaces {
                    include: vec!["eth*".into(), "lxc*".into()],
                    exclude: vec!["lo".into()]
                },
                Directive::Sampling { rate: 0.25 },
                Directive::Plaintext {
                    enabled: true,
                    scope: PlaintextScope::K8sNamespace("payments".into())
                },
            ]
        );
    }

    #[test]
    fn every_directive_parses() {
        assert_eq!(
            parse_directive(br#"{"directive":"interfaces","include":["veth*"]}"#).expect("ok"),
            Directive::Interfaces {
                include: vec!["veth*".into()],
                exclude: vec![]
            }
        );
        assert_eq!(
            parse_directive(br#"{"directive":"plaintext","enabled":false,"scope":{"pid":42}}"#)
                .expect("ok"),
            Directive::Plaintext {
                enabled: false,
                scope: PlaintextScope::Pid(42)
            }
        );
        for edge in ["0", "1", "0.0", "1.0"] {
            let text = format!(r#"{{"directive":"sampling","rate":{edge}}}"#);
            assert!(parse_directive(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn bad_directives_are_refused_with_the_reason() {
        let many = format!(
            r#"{{"directive":"interfaces","include":[{}]}}"#,
            vec![r#""e*""#; MAX_GLOBS + 1].join(",")
        );
        let long = format!(
            r#"{{"directive":"interfaces","exclude":["lo","{}"]}}"#,
            "x".repeat(MAX_GLOB_LEN + 1)
        );
        for (payload, reason, needle) in [
            (
                &br#"{"directive":"reboot"}"#[..],
                "not_a_directive",
                "unknown variant",
            ),
            (
                br#"{"directive":"status","extra":1}"#,
                "not_a_directive",
                "unknown field",
            ),
            (
                br#"{"directive":"sampling","rate":1.5}"#,
                "sampling_rate",
                "outside 0..=1",
            ),
            (
                br#"{"directive":"sampling","rate":-0.1}"#,
                "sampling_rate",
                "outside 0..=1",
            ),
            (
                br#"{"directive":"sampling","rate":"all"}"#,
                "not_a_directive",
                "invalid type",
            ),
            (
                br#"{"directive":"interfaces","include":[""]}"#,
                "interface_glob",
                "include[0]",
            ),
            (
                long.as_bytes(),
                "interface_glob",
                "exclude[1] must be 1 to 64",
            ),
            (
                br#"{"directive":"interfaces","include":["a\u0007"]}"#,
                "interface_glob",
                "include[0]",
            ),
            (many.as_bytes(), "too_many_globs", "at most 256"),
            (
                br#"{"directive":"plaintext","enabled":true,"scope":{"pid":1,"node":true}}"#,
                "not_a_directive",
                "a single key",
            ),
            (br#"not json"#, "not_json", "expected"),
            (br#"{"directive":"status""#, "not_json", "EOF"),
            (br#"{}"#, "not_a_directive", "missing field"),
        ] {
            let text = String::from_utf8_lossy(payload);
            let error = parse_directive(payload).expect_err(&text);
            assert_eq!(error.reason(), reason, "{text}: {error}");
            assert!(
                error.to_string().contains(needle),
                "{error} lacks {needle:?}"
            );
        }
        let huge = vec![b' '; MAX_DIRECTIVE + 1];
        let error = parse_directive(&huge).expect_err("too large");
        assert!(matches!(error, DirectiveError::TooLarge(n) if n == MAX_DIRECTIVE + 1));
        assert_eq!(error.reason(), "too_large");
    }
}
