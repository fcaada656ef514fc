//! BOM references and the names people read in a CBOM.
//!
//! A reference is `<kind>/<readable name>@<hash>`, the hash being one of
//! the asset's identity (for a certificate, its SHA-256 fingerprint): the
//! same asset gets the same reference in every BOM, from every node, on
//! every day, so BOMs diff and merge.

use crate::algorithms::Algorithm;
use crate::keys::{id_hex, id_of};
use crate::snapshot::{Certificate, Endpoint, Workload};

use super::model::Occurrence;

/// Lowercase letters, digits, `.` and `-`, at most 48 characters.
pub(super) fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len().min(48));
    for character in text.chars() {
        if slug.len() >= 48 {
            break;
        }
        let character = character.to_ascii_lowercase();
        if character.is_ascii_alphanumeric() || character == '.' {
            slug.push(character);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "unnamed".to_owned()
    } else {
        slug.to_owned()
    }
}

pub(super) fn algorithm_ref(algorithm: &Algorithm) -> String {
    let hash = id_of(
        "algorithm",
        &[
            algorithm.name.as_bytes(),
            algorithm.primitive.as_str().as_bytes(),
        ],
    );
    format!(
        "crypto/algorithm/{}@{}",
        slug(&algorithm.name),
        id_hex(hash)
    )
}

/// A protocol asset: one negotiated version over one transport.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ProtocolName {
    /// As records name it: `TLS 1.3`, `SSL 3.0`, `TLS 1.3 draft 28`.
    pub record_name: String,
    /// `tcp`, or `udp` for QUIC.
    pub transport: String,
}

impl ProtocolName {
    pub fn bom_ref(&self) -> String {
        let hash = id_of(
            "protocol",
            &[self.record_name.as_bytes(), self.transport.as_bytes()],
        );
        format!(
            "crypto/protocol/{}-{}@{}",
            slug(&self.record_name),
            self.transport,
            id_hex(hash)
        )
    }

    /// `protocolProperties.version`: `1.2`, `1.3`, `1.3-draft28`, `ssl3`.
    pub fn version(&self) -> String {
        let name = self.record_name.as_str();
        if let Some(version) = name.strip_prefix("TLS ") {
            return version.replace(" draft ", "-draft");
        }
        if let Some(version) = name.strip_prefix("SSL ") {
            return format!("ssl{}", version.trim_end_matches(".0"));
        }
        if name.is_empty() {
            return "unknown".to_owned();
        }
        name.to_owned()
    }

    /// The component's name: `TLSv1.2`, `SSLv3`, `TLSv1.3 over QUIC`.
    pub fn component_name(&self) -> String {
        let name = self.record_name.as_str();
        let base = if let Some(version) = name.strip_prefix("TLS ") {
            format!("TLSv{}", version.replace(" draft ", "-draft"))
        } else if let Some(version) = name.strip_prefix("SSL ") {
            format!("SSLv{}", version.trim_end_matches(".0"))
        } else if name.is_empty() {
            "TLS (version not seen)".to_owned()
        } else {
            name.to_owned()
        };
        if self.transport == "udp" {
            format!("{base} over QUIC")
        } else {
            base
        }
    }
}

pub(super) fn certificate_ref(certificate: &Certificate) -> String {
    let name = certificate
        .subject_common_name
        .as_deref()
        .unwrap_or(&certificate.subject);
    format!(
        "crypto/certificate/{}@sha256:{}",
        slug(name),
        certificate.fingerprint_sha256
    )
}

/// A public key: the key algorithm and what identifies the key (its
/// subject key identifier, or the certificate carrying it).
pub(super) fn key_ref(algorithm: &Algorithm, key_id: &str) -> String {
    let hash = id_of(
        "public-key",
        &[algorithm.name.as_bytes(), key_id.as_bytes()],
    );
    format!("crypto/key/{}@{}", slug(&algorithm.name), id_hex(hash))
}

pub(super) fn workload_ref(workload: &Workload) -> String {
    format!(
        "workload/{}/{}@{}",
        slug(&workload.key.node),
        slug(&workload.key.label()),
        id_hex(workload.id)
    )
}

/// `10.0.0.5:443/tcp (api.example.com)`.
pub(super) fn endpoint_name(endpoint: &Endpoint) -> String {
    let key = &endpoint.key;
    let address = if key.address.contains(':') {
        format!("[{}]:{}", key.address, key.port)
    } else {
        format!("{}:{}", key.address, key.port)
    };
    if key.sni.is_empty() {
        format!("{address}/{}", key.transport)
    } else {
        format!("{address}/{} ({})", key.transport, key.sni)
    }
}

/// Where an asset was used: the node, the client workload, the server
/// endpoint, and how often.
pub(super) fn occurrence(
    endpoint: &Endpoint,
    workload: &Workload,
    sessions: u64,
    first_seen: &str,
    last_seen: &str,
) -> Occurrence {
    Occurrence {
        location: format!(
            "node {}: {} -> {}",
            endpoint.key.node,
            workload.key.label(),
            endpoint_name(endpoint)
        ),
        additional_context: format!(
            "sessions {sessions}, first seen {first_seen}, last seen {last_seen}"
        ),
    }
}
