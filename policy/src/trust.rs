//! `x509.untrusted`: does the server's chain lead to a configured trust
//! anchor?
//!
//! Session records carry certificate summaries, not DER, so no signature
//! can be checked here. What can be checked honestly is the chain's
//! structure: starting at the leaf, follow issuer name to subject name (and
//! authorityKeyIdentifier to subjectKeyIdentifier where both are present)
//! through the certificates the server sent, until a certificate is a
//! trust anchor (by SHA-256 fingerprint or subject key identifier) or is
//! issued by one (its authority key identifier, or its issuer name when it
//! has no authority key identifier, names an anchor). This catches a server
//! whose chain ends at a CA the operator does not trust, an unknown private
//! CA, a missing intermediate and a self-signed leaf; it does not catch a
//! forged chain that copies the right names and key identifiers, which only
//! a signature check (with the DER) can.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cipherlens_record::certificate::CertificateSummary;

/// A trusted CA, as the program that reads a CA bundle summarises it (for
/// example with `cipherlens_parsers::x509::summarize_certificate`). Hex is
/// lowercase without separators, as in session records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustAnchor {
    /// SHA-256 of the anchor's DER.
    pub sha256: Option<String>,
    /// The anchor's subject, RFC 4514 as records write it.
    pub subject: Option<String>,
    /// The anchor's subjectKeyIdentifier.
    pub key_id: Option<String>,
}

/// The trust anchors of a policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustAnchors {
    sha256: HashSet<String>,
    /// Key id to the anchor's subject, when known.
    key_ids: HashMap<String, Option<String>>,
    /// Subjects, for certificates without an authority key identifier.
    subjects: HashSet<String>,
}

/// Where the walk from the leaf stopped without reaching an anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unanchored {
    /// Index in the chain of the last certificate reached.
    pub last: usize,
}

impl TrustAnchors {
    pub fn is_empty(&self) -> bool {
        self.sha256.is_empty() && self.key_ids.is_empty() && self.subjects.is_empty()
    }

    pub fn add(&mut self, anchor: TrustAnchor) {
        let TrustAnchor {
            sha256,
            subject,
            key_id,
        } = anchor;
        if let Some(sha256) = sha256 {
            self.sha256.insert(sha256.to_ascii_lowercase());
        }
        if let Some(key_id) = key_id {
            self.key_ids
                .insert(key_id.to_ascii_lowercase(), subject.clone());
        }
        if let Some(subject) = subject {
            self.subjects.insert(subject);
        }
    }

    fn is_anchor(&self, certificate: &CertificateSummary) -> bool {
        self.sha256.contains(&certificate.fingerprint_sha256)
            || certificate
                .subject_key_identifier
                .as_ref()
                .is_some_and(|key_id| self.key_ids.contains_key(key_id))
    }

    fn issued_by_anchor(&self, certificate: &CertificateSummary) -> bool {
        match &certificate.authority_key_identifier {
            Some(key_id) => self.key_ids.get(key_id).is_some_and(|subject| {
                subject
                    .as_ref()
                    .is_none_or(|subject| *subject == certificate.issuer)
            }),
            None => self.subjects.contains(&certificate.issuer),
        }
    }

    /// Walks `chain` from its leaf; `Ok` when it reaches an anchor. An empty
    /// chain (TLS 1.3, resumption) is `Ok`: there is nothing to judge.
    pub fn check(&self, chain: &[Arc<CertificateSummary>]) -> Result<(), Unanchored> {
        let Some(leaf) = chain.first() else {
            return Ok(());
        };
        let mut current = (0, leaf);
        for _ in 0..chain.len() {
            let (index, certificate) = current;
            if self.is_anchor(certificate) || self.issued_by_anchor(certificate) {
                return Ok(());
            }
            if certificate.subject == certificate.issuer {
                return Err(Unanchored { last: index });
            }
            let issuer = chain.iter().enumerate().find(|(other, candidate)| {
                *other != index
                    && candidate.subject == certificate.issuer
                    && match (
                        &certificate.authority_key_identifier,
                        &candidate.subject_key_identifier,
                    ) {
                        (Some(authority), Some(subject)) => authority == subject,
                        _ => true,
                    }
            });
            match issuer {
                Some(next) => current = next,
                None => return Err(Unanchored { last: index }),
            }
        }
        Err(Unanchored { last: current.0 })
    }
}
