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
const MAX_GLOBS: usize = 256;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "directive", rename_all = "snake_case", deny_unknown_fields)]
pub enum Directive {
    /// Versions, attached interfaces, counters.
    Status {},
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

/// Why a directive was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DirectiveError {
    #[error("directive of {0} bytes exceeds the {MAX_DIRECTIVE}-byte limit")]
    TooLarge(usize),
    #[error("not a valid directive: {0}")]
    Invalid(String),
}

/// Parses and checks one directive.
pub fn parse_directive(payload: &[u8]) -> Result<Directive, DirectiveError> {
    if payload.len() > MAX_DIRECTIVE {
        return Err(DirectiveError::TooLarge(payload.len()));
    }
    let directive: Directive = serde_json::from_slice(payload)
        .map_err(|error| DirectiveError::Invalid(error.to_string()))?;
    match &directive {
        Directive::Sampling { rate } if !(0.0..=1.0).contains(rate) => Err(
            DirectiveError::Invalid(format!("sampling rate {rate} is outside 0..=1")),
        ),
        Directive::Interfaces { include, exclude } => {
            for glob in include.iter().chain(exclude) {
                if glob.is_empty() || glob.len() > 64 || glob.chars().any(char::is_control) {
                    return Err(DirectiveError::Invalid(format!(
                        "interface glob {glob:?} must be 1 to 64 printable characters"
                    )));
                }
            }
            if include.len() + exclude.len() > MAX_GLOBS {
                return Err(DirectiveError::Invalid(format!(
                    "at most {MAX_GLOBS} interface globs"
                )));
            }
            Ok(directive)
        }
        _ => Ok(directive),
    }
}

/// A refusal as a reply.
pub fn error_reply(error: &impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({ "ok": false, "error": error.to_string() })
}

/// Whether a flow is in a sample of `rate`: a hash of its (direction-free)
/// identity against the rate, so a flow is either always in or always out.
pub fn sampled(flow_hash: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    // Top 53 bits as a fraction in [0, 1).
    let fraction = (flow_hash >> 11) as f64 / (1u64 << 53) as f64;
    fraction < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directive_parses() {
        assert_eq!(
            parse_directive(br#"{"directive":"status"}"#),
            Ok(Directive::Status {})
        );
        assert_eq!(
            parse_directive(br#"{"directive":"interfaces","include":["veth*"]}"#),
            Ok(Directive::Interfaces {
                include: vec!["veth*".into()],
                exclude: vec![]
            })
        );
        assert_eq!(
            parse_directive(br#"{"directive":"sampling","rate":0.5}"#),
            Ok(Directive::Sampling { rate: 0.5 })
        );
        assert_eq!(
            parse_directive(
                br#"{"directive":"plaintext","enabled":true,"scope":{"k8s_namespace":"pay"}}"#
            ),
            Ok(Directive::Plaintext {
                enabled: true,
                scope: PlaintextScope::K8sNamespace("pay".into())
            })
        );
    }

    #[test]
    fn bad_directives_are_refused_with_the_reason() {
        for (payload, needle) in [
            (&br#"{"directive":"reboot"}"#[..], "unknown variant"),
            (br#"{"directive":"status","extra":1}"#, "unknown field"),
            (br#"{"directive":"sampling","rate":1.5}"#, "outside 0..=1"),
            (br#"{"directive":"sampling","rate":"all"}"#, "invalid type"),
            (br#"{"directive":"interfaces","include":[""]}"#, "1 to 64"),
            (
                br#"{"directive":"plaintext","enabled":true,"scope":{"pid":1,"node":true}}"#,
                "map with a single key",
            ),
            (br#"not json"#, "expected"),
            (br#"{}"#, "missing field"),
        ] {
            let error = parse_directive(payload).expect_err("refused");
            assert!(
                error.to_string().contains(needle),
                "{error} lacks {needle:?}"
            );
        }
        let huge = vec![b' '; MAX_DIRECTIVE + 1];
        assert_eq!(
            parse_directive(&huge),
            Err(DirectiveError::TooLarge(MAX_DIRECTIVE + 1))
        );
    }

    #[test]
    fn sampling_keeps_about_the_rate_and_is_stable_per_flow() {
        let hashes: Vec<u64> = (0..100_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let kept = hashes.iter().filter(|h| sampled(**h, 0.25)).count();
        assert!((23_000..27_000).contains(&kept), "{kept}");
        assert!(hashes.iter().all(|h| sampled(*h, 1.0)));
        assert!(!hashes.iter().any(|h| sampled(*h, 0.0)));
        // Raising the rate only adds flows: one in at 0.25 stays in at 0.5.
        assert!(
            hashes
                .iter()
                .filter(|h| sampled(**h, 0.25))
                .all(|h| sampled(*h, 0.5))
        );
    }

    #[test]
    fn a_flow_hashes_alike_in_both_directions_and_on_every_node() {
        let mapped = |a: [u8; 4]| {
            let mut address = [0u8; 16];
            address[10..12].copy_from_slice(&[0xff, 0xff]);
            address[12..].copy_from_slice(&a);
            address
        };
        let (client, server) = (mapped([10, 0, 0, 1]), mapped([10, 0, 0, 2]));
        let outbound = cipherlens_common::FlowKey::new(6, client, 51000, server, 443);
        let inbound = cipherlens_common::FlowKey::new(6, server, 443, client, 51000);
        assert_eq!(flow_hash(&outbound), flow_hash(&inbound));
        // FNV-1a 64 over the key's bytes, then SplitMix64's finalizer,
        // computed independently (a few lines of Python from the two
        // algorithms' published constants): every node agrees on it.
        assert_eq!(flow_hash(&outbound), 0x2d03_9c7d_aefa_02a1);
    }
}

/// A stable 64-bit hash of a flow's direction-free identity (FNV-1a, then
/// the SplitMix64 finalizer to spread it): the same on every node and run.
pub fn flow_hash(key: &cipherlens_common::FlowKey) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = key
        .low_address
        .iter()
        .chain(&key.high_address)
        .copied()
        .chain(key.low_port.to_be_bytes())
        .chain(key.high_port.to_be_bytes())
        .chain([key.protocol]);
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// A parsed directive waiting for the live loop, and where its reply goes.
#[derive(Debug)]
pub struct DirectiveRequest {
    pub directive: Directive,
    pub respond: tokio::sync::oneshot::Sender<serde_json::Value>,
}
