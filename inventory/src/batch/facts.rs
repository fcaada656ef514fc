//! What the inventory takes from one session, borrowed from wherever the
//! session came from: a [`SessionRecord`] the sensor already has, or a
//! JSON line read by [`super::view`] without building one.

use std::sync::Arc;

use cipherlens_record::SessionRecord;
use cipherlens_record::attribution::{EndpointAttribution, Runtime};
use cipherlens_record::certificate::{CertificateSummary, SubjectAltNames};
use cipherlens_record::session::{Named, Protocol, Transport};

use super::rows::CertificateRow;
use super::view::CertificateView;

/// A code point and its IANA name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NamedFact<'a> {
    pub code: u16,
    pub name: &'a str,
}

impl<'a> From<&'a Named> for NamedFact<'a> {
    fn from(named: &'a Named) -> Self {
        NamedFact {
            code: named.code,
            name: &named.name,
        }
    }
}

/// Who owned one side's socket on the node.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Attribution<'a> {
    pub executable_name: Option<&'a str>,
    pub executable_path: Option<&'a str>,
    pub container_id: Option<&'a str>,
    pub runtime: Option<Runtime>,
    pub k8s_namespace: Option<&'a str>,
    /// Pod name, or its uid when the name is unknown.
    pub k8s_pod: Option<&'a str>,
    pub k8s_container: Option<&'a str>,
}

impl<'a> From<&'a EndpointAttribution> for Attribution<'a> {
    fn from(attribution: &'a EndpointAttribution) -> Self {
        let executable = attribution
            .process
            .as_ref()
            .and_then(|process| process.executable.as_ref());
        let k8s = attribution.k8s.as_ref();
        Attribution {
            executable_name: executable.and_then(|e| e.name.as_deref()),
            executable_path: executable.and_then(|e| e.path.as_deref()),
            container_id: attribution.container.as_ref().map(|c| c.id.as_str()),
            runtime: attribution.container.as_ref().and_then(|c| c.runtime),
            k8s_namespace: k8s
                .and_then(|k| k.namespace.as_ref())
                .map(|n| n.name.as_str()),
            k8s_pod: k8s.map(|k| k.pod.name.as_deref().unwrap_or(&k.pod.uid)),
            k8s_container: k8s
                .and_then(|k| k.container.as_ref())
                .map(|n| n.name.as_str()),
        }
    }
}

/// A certificate of a chain: from a record, or borrowed from its JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CertificateFact<'a> {
    Summary(&'a CertificateSummary),
    View(&'a CertificateView<'a>),
}

impl CertificateFact<'_> {
    pub fn fingerprint(&self) -> &str {
        match self {
            CertificateFact::Summary(summary) => &summary.fingerprint_sha256,
            CertificateFact::View(view) => view.fingerprint(),
        }
    }

    /// The columns the inventory stores (read when first seen in a batch).
    pub fn row(&self) -> Result<CertificateRow, serde_json::Error> {
        match self {
            CertificateFact::Summary(summary) => Ok(CertificateRow {
                fingerprint_sha1: summary.fingerprint_sha1.clone(),
                serial_number: summary.serial_number.clone(),
                subject: summary.subject.clone(),
                subject_common_name: summary.subject_common_name.clone(),
                issuer: summary.issuer.clone(),
                not_before: summary.not_before.clone(),
                not_after: summary.not_after.clone(),
                key_algorithm: summary.public_key.algorithm.clone(),
                key_bits: summary.public_key.bits,
                key_curve: summary.public_key.curve.clone(),
                subject_key_identifier: summary.subject_key_identifier.clone(),
                signature_algorithm: summary.signature_algorithm.clone(),
                signature_algorithm_oid: summary.signature_algorithm_oid.clone(),
                self_signed: summary.self_signed,
                ca: summary
                    .basic_constraints
                    .is_some_and(|constraints| constraints.ca),
                subject_alt_names: alt_names_json(summary.subject_alt_names.as_ref())?,
            }),
            CertificateFact::View(view) => view.row(),
        }
    }
}

/// The stored JSON of subjectAltName lists: `{}` without any.
pub(crate) fn alt_names_json(names: Option<&SubjectAltNames>) -> Result<String, serde_json::Error> {
    match names {
        Some(names) => serde_json::to_string(names),
        None => Ok("{}".to_owned()),
    }
}

/// What the client offered in its ClientHello.
#[derive(Debug, Clone, Default)]
pub(crate) struct HelloFacts<'a> {
    pub offers_post_quantum: bool,
    /// supported_versions, or the legacy version when there is none.
    pub versions: Vec<NamedFact<'a>>,
    pub cipher_suites: Vec<NamedFact<'a>>,
    pub groups: Vec<NamedFact<'a>>,
    pub key_shares: Vec<NamedFact<'a>>,
    pub signature_algorithms: Vec<NamedFact<'a>>,
    pub alpn: Vec<&'a str>,
}

/// One session, as far as the inventory is concerned.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// `host.name`: the node (live capture).
    pub host: Option<&'a str>,
    /// `event.start`.
    pub start: &'a str,
    pub transport: Transport,
    pub protocol: Protocol,
    pub server_address: &'a str,
    pub server_port: u16,
    pub client: Attribution<'a>,
    pub server: Attribution<'a>,
    pub sni: Option<&'a str>,
    pub established: bool,
    pub resumed: bool,
    pub post_quantum: bool,
    pub version: Option<NamedFact<'a>>,
    pub cipher: Option<NamedFact<'a>>,
    pub group: Option<NamedFact<'a>>,
    pub dh_prime_bits: Option<u32>,
    pub alpn: Option<&'a str>,
    pub ja3: Option<&'a str>,
    pub ja4: Option<&'a str>,
    pub ja3s: Option<&'a str>,
    pub hello: Option<HelloFacts<'a>>,
    pub server_chain: Vec<CertificateFact<'a>>,
    pub client_chain: Vec<CertificateFact<'a>>,
}

fn list(items: &[Named]) -> Vec<NamedFact<'_>> {
    items.iter().map(NamedFact::from).collect()
}

impl<'a> From<&'a SessionRecord> for Facts<'a> {
    fn from(record: &'a SessionRecord) -> Self {
        let detail = &record.cipherlens.tls;
        let hello = detail.client_hello.as_ref().map(|hello| HelloFacts {
            offers_post_quantum: hello.offers_post_quantum,
            versions: if hello.supported_versions.is_empty() {
                vec![NamedFact::from(&hello.version)]
            } else {
                list(&hello.supported_versions)
            },
            cipher_suites: list(&hello.cipher_suites),
            groups: list(&hello.supported_groups),
            key_shares: list(&hello.key_share_groups),
            signature_algorithms: list(&hello.signature_algorithms),
            alpn: hello.alpn.iter().map(String::as_str).collect(),
        });
        let chain = |certificates: &'a [Arc<CertificateSummary>]| {
            certificates
                .iter()
                .map(|certificate| CertificateFact::Summary(certificate))
                .collect()
        };
        Facts {
            host: record.host.as_ref().map(|host| host.name.as_str()),
            start: &record.event.start,
            transport: record.network.transport,
            protocol: record.network.protocol,
            server_address: &record.server.address,
            server_port: record.server.port,
            client: Attribution::from(&*record.client.attribution),
            server: Attribution::from(&*record.server.attribution),
            sni: record.tls.client.server_name.as_deref(),
            established: record.tls.established,
            resumed: record.tls.resumed,
            post_quantum: detail.post_quantum_key_exchange,
            version: detail.version.as_ref().map(NamedFact::from),
            cipher: detail.cipher.as_ref().map(NamedFact::from),
            group: detail.key_exchange_group.as_ref().map(NamedFact::from),
            dh_prime_bits: detail.dh_prime_bits,
            alpn: record.tls.next_protocol.as_deref(),
            ja3: record.tls.client.ja3.as_deref(),
            ja4: detail.fingerprints.as_ref().and_then(|f| f.ja4.as_deref()),
            ja3s: record.tls.server.ja3s.as_deref(),
            hello,
            server_chain: chain(&detail.server_certificates),
            client_chain: chain(&detail.client_certificates),
        }
    }
}
