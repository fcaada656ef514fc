//! NATS subjects, hierarchical as DESIGN.md lays them out:
//!
//! | subject | what |
//! | --- | --- |
//! | `<prefix>.tls.session.<node>` | TLS session records |
//! | `<prefix>.quic.session.<node>` | QUIC session records |
//! | `<prefix>.stats.<node>` | stats records (`cipherlens.stats/v1`) |
//! | `<prefix>.cnflow.<node>` | CNFlow flow records (`cipherlens.cnflow/v1`) |
//! | `<prefix>.tls.alert.<severity>.<node>` | policy alerts (`cipherlens.alert/v1`) |
//! | `<prefix>.tls.plaintext.<node>` | plaintext of TLS library calls (`cipherlens.plaintext/v1`; off unless asked for) |
//! | `<prefix>.directive.<node>` | directives to this node (request/reply) |
//! | `<prefix>.directive.all` | directives to every node |
//!
//! `<prefix>` defaults to `cipherlens`; `<node>` is the host name with
//! every character NATS gives a meaning (`.`, `*`, `>`, white space) made
//! `_`, so one node is always one token. Subscribers use wildcards:
//! `cipherlens.*.session.>` for all sessions of all nodes.

use cipherlens_record::RecordKind;
use cipherlens_record::alert::Severity;

/// The subjects of one sensor.
#[derive(Debug, Clone)]
pub struct Subjects {
    tls_session: String,
    quic_session: String,
    stats: String,
    cnflow: String,
    plaintext: String,
    /// Alerts, by severity (`Severity::ALL` order).
    alerts: [String; 5],
    /// Directives to this node, and to every node.
    pub directive: String,
    pub directive_all: String,
}

impl Subjects {
    pub fn new(prefix: &str, node: &str) -> Self {
        let node = node_token(node);
        Self {
            tls_session: format!("{prefix}.tls.session.{node}"),
            quic_session: format!("{prefix}.quic.session.{node}"),
            stats: format!("{prefix}.stats.{node}"),
            cnflow: format!("{prefix}.cnflow.{node}"),
            plaintext: format!("{prefix}.tls.plaintext.{node}"),
            alerts: Severity::ALL
                .map(|severity| format!("{prefix}.tls.alert.{}.{node}", severity.as_str())),
            directive: format!("{prefix}.directive.{node}"),
            directive_all: format!("{prefix}.directive.all"),
        }
    }

    pub fn of(&self, kind: RecordKind) -> &str {
        match kind {
            RecordKind::TlsSession => &self.tls_session,
            RecordKind::QuicSession => &self.quic_session,
            RecordKind::Stats => &self.stats,
            RecordKind::CnFlow => &self.cnflow,
            RecordKind::Alert(severity) => &self.alerts[severity as usize],
            RecordKind::Plaintext => &self.plaintext,
        }
    }
}

/// A node name as one subject token.
pub fn node_token(node: &str) -> String {
    let token: String = node
        .chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if token.is_empty() {
        "unknown".to_string()
    } else {
        token
    }
}

/// A subject prefix NATS would not take as tokens.
#[derive(Debug, thiserror::Error)]
#[error("invalid NATS subject prefix {0:?}: dot-separated tokens, no wildcards or spaces")]
pub struct InvalidPrefix(pub String);

/// Checks a configured prefix: dot-separated non-empty tokens without
/// wildcards or white space.
pub fn validate_prefix(prefix: &str) -> Result<(), InvalidPrefix> {
    let valid = !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && !token
                    .chars()
                    .any(|c| c == '*' || c == '>' || c.is_whitespace() || c.is_control())
        });
    if valid {
        Ok(())
    } else {
        Err(InvalidPrefix(prefix.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_tokens() {
        let subjects = Subjects::new("cipherlens", "node-1.eu-west.internal");
        assert_eq!(
            subjects.of(RecordKind::TlsSession),
            "cipherlens.tls.session.node-1_eu-west_internal"
        );
        assert_eq!(
            subjects.of(RecordKind::QuicSession),
            "cipherlens.quic.session.node-1_eu-west_internal"
        );
        assert_eq!(
            subjects.of(RecordKind::Stats),
            "cipherlens.stats.node-1_eu-west_internal"
        );
        assert_eq!(
            subjects.of(RecordKind::Plaintext),
            "cipherlens.tls.plaintext.node-1_eu-west_internal"
        );
        // The layout: <prefix>.tls.alert.<severity>.<node>.
        assert_eq!(
            subjects.of(RecordKind::Alert(Severity::High)),
            "cipherlens.tls.alert.high.node-1_eu-west_internal"
        );
        assert_eq!(
            subjects.of(RecordKind::Alert(Severity::Info)),
            "cipherlens.tls.alert.info.node-1_eu-west_internal"
        );
        assert_eq!(node_token("a *b>\tc"), "a__b__c");
        assert_eq!(node_token(""), "unknown");
        assert!(validate_prefix("acme.security.cipherlens").is_ok());
        for bad in ["", "a..b", "a.*", "a.>", "has space", ".lead", "trail."] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
