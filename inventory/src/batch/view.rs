//! Reading a session record's JSON line for the inventory alone.
//!
//! A full [`cipherlens_record::SessionRecord`] allocates every name,
//! extension and certificate field; the inventory needs a few dozen values,
//! and a certificate only the first time a batch sees it. These types
//! borrow what they keep from the line and let serde skip the rest, which
//! makes ingest of JSON lines about 1.4 times faster than parsing each
//! record first (`benches/ingest.rs`). Field names and nesting are the
//! record's (`schema/session-record.v1.json`); a test checks both readings
//! agree on every real record.

use std::borrow::Cow;

use cipherlens_record::attribution::Runtime;
use cipherlens_record::certificate::{BasicConstraints, SubjectAltNames};
use cipherlens_record::session::{Protocol, SessionSchema, Transport};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::facts::{Attribution, CertificateFact, Facts, HelloFacts, NamedFact, alt_names_json};
use super::rows::CertificateRow;

type Text<'a> = Cow<'a, str>;

#[derive(Deserialize)]
pub(crate) struct RecordView<'a> {
    #[allow(dead_code, reason = "read to refuse other record kinds")]
    schema: SessionSchema,
    #[serde(borrow)]
    event: EventView<'a>,
    network: NetworkView,
    #[serde(borrow)]
    client: EndpointView<'a>,
    #[serde(borrow)]
    server: EndpointView<'a>,
    #[serde(borrow, default)]
    host: Option<HostView<'a>>,
    #[serde(borrow)]
    tls: TlsView<'a>,
    #[serde(borrow)]
    cipherlens: CipherlensView<'a>,
}

#[derive(Deserialize)]
struct EventView<'a> {
    #[serde(borrow)]
    start: Text<'a>,
}

#[derive(Deserialize)]
struct NetworkView {
    transport: Transport,
    protocol: Protocol,
}

#[derive(Deserialize)]
struct HostView<'a> {
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize)]
struct EndpointView<'a> {
    #[serde(borrow)]
    address: Text<'a>,
    port: u16,
    #[serde(borrow, default)]
    process: Option<ProcessView<'a>>,
    #[serde(borrow, default)]
    container: Option<ContainerView<'a>>,
    #[serde(borrow, default)]
    k8s: Option<K8sView<'a>>,
}

#[derive(Deserialize)]
struct ProcessView<'a> {
    #[serde(borrow, default)]
    executable: Option<ExecutableView<'a>>,
}

#[derive(Deserialize)]
struct ExecutableView<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    path: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ContainerView<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(default)]
    runtime: Option<Runtime>,
}

#[derive(Deserialize)]
struct K8sView<'a> {
    #[serde(borrow)]
    pod: PodView<'a>,
    #[serde(borrow, default)]
    namespace: Option<NameView<'a>>,
    #[serde(borrow, default)]
    container: Option<NameView<'a>>,
}

#[derive(Deserialize)]
struct PodView<'a> {
    #[serde(borrow)]
    uid: Text<'a>,
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct NameView<'a> {
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize)]
struct TlsView<'a> {
    #[serde(borrow, default)]
    next_protocol: Option<Text<'a>>,
    resumed: bool,
    established: bool,
    #[serde(borrow)]
    client: TlsClientView<'a>,
    #[serde(borrow)]
    server: TlsServerView<'a>,
}

#[derive(Deserialize)]
struct TlsClientView<'a> {
    #[serde(borrow, default)]
    server_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    ja3: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct TlsServerView<'a> {
    #[serde(borrow, default)]
    ja3s: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct CipherlensView<'a> {
    #[serde(borrow)]
    tls: DetailView<'a>,
}

#[derive(Deserialize)]
struct NamedView<'a> {
    code: u16,
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize)]
struct DetailView<'a> {
    #[serde(borrow, default)]
    version: Option<NamedView<'a>>,
    #[serde(borrow, default)]
    cipher: Option<NamedView<'a>>,
    #[serde(borrow, default)]
    key_exchange_group: Option<NamedView<'a>>,
    post_quantum_key_exchange: bool,
    #[serde(borrow, default)]
    client_hello: Option<HelloView<'a>>,
    #[serde(borrow, default)]
    fingerprints: Option<FingerprintsView<'a>>,
    #[serde(borrow)]
    server_certificates: Vec<CertificateView<'a>>,
    #[serde(borrow)]
    client_certificates: Vec<CertificateView<'a>>,
    #[serde(default)]
    dh_prime_bits: Option<u32>,
}

#[derive(Deserialize)]
struct HelloView<'a> {
    #[serde(borrow)]
    version: NamedView<'a>,
    #[serde(borrow)]
    supported_versions: Vec<NamedView<'a>>,
    #[serde(borrow)]
    cipher_suites: Vec<NamedView<'a>>,
    #[serde(borrow)]
    supported_groups: Vec<NamedView<'a>>,
    #[serde(borrow)]
    key_share_groups: Vec<NamedView<'a>>,
    #[serde(borrow)]
    signature_algorithms: Vec<NamedView<'a>>,
    #[serde(borrow)]
    alpn: Vec<Text<'a>>,
    offers_post_quantum: bool,
}

#[derive(Deserialize)]
struct FingerprintsView<'a> {
    #[serde(borrow, default)]
    ja4: Option<Text<'a>>,
}

/// What the inventory keeps of a certificate, borrowed from the line.
#[derive(Debug, Deserialize)]
pub(crate) struct CertificateView<'a> {
    #[serde(borrow)]
    serial_number: Text<'a>,
    #[serde(borrow)]
    subject: Text<'a>,
    #[serde(borrow, default)]
    subject_common_name: Option<Text<'a>>,
    #[serde(borrow)]
    issuer: Text<'a>,
    #[serde(borrow)]
    not_before: Text<'a>,
    #[serde(borrow)]
    not_after: Text<'a>,
    /// Read into its type only when the certificate is new to a batch.
    #[serde(borrow, default)]
    subject_alt_names: Option<&'a RawValue>,
    #[serde(borrow)]
    public_key: KeyView<'a>,
    #[serde(borrow)]
    signature_algorithm: Text<'a>,
    #[serde(borrow)]
    signature_algorithm_oid: Text<'a>,
    #[serde(borrow)]
    fingerprint_sha256: Text<'a>,
    #[serde(borrow)]
    fingerprint_sha1: Text<'a>,
    #[serde(default)]
    basic_constraints: Option<BasicConstraints>,
    #[serde(borrow, default)]
    subject_key_identifier: Option<Text<'a>>,
    self_signed: bool,
}

#[derive(Debug, Deserialize)]
struct KeyView<'a> {
    #[serde(borrow)]
    algorithm: Text<'a>,
    #[serde(default)]
    bits: Option<u32>,
    #[serde(borrow, default)]
    curve: Option<Text<'a>>,
}

impl CertificateView<'_> {
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint_sha256
    }

    pub fn row(&self) -> Result<CertificateRow, serde_json::Error> {
        let alt_names: Option<SubjectAltNames> = self
            .subject_alt_names
            .map(|raw| serde_json::from_str(raw.get()))
            .transpose()?;
        Ok(CertificateRow {
            fingerprint_sha1: self.fingerprint_sha1.clone().into_owned(),
            serial_number: self.serial_number.clone().into_owned(),
            subject: self.subject.clone().into_owned(),
            subject_common_name: self.subject_common_name.clone().map(Cow::into_owned),
            issuer: self.issuer.clone().into_owned(),
            not_before: self.not_before.clone().into_owned(),
            not_after: self.not_after.clone().into_owned(),
            key_algorithm: self.public_key.algorithm.clone().into_owned(),
            key_bits: self.public_key.bits,
            key_curve: self.public_key.curve.clone().map(Cow::into_owned),
            subject_key_identifier: self.subject_key_identifier.clone().map(Cow::into_owned),
            signature_algorithm: self.signature_algorithm.clone().into_owned(),
            signature_algorithm_oid: self.signature_algorithm_oid.clone().into_owned(),
            self_signed: self.self_signed,
            ca: self
                .basic_constraints
                .is_some_and(|constraints| constraints.ca),
            subject_alt_names: alt_names_json(alt_names.as_ref())?,
        })
    }
}

fn named<'a>(view: &'a NamedView<'a>) -> NamedFact<'a> {
    NamedFact {
        code: view.code,
        name: &view.name,
    }
}

fn names<'a>(views: &'a [NamedView<'a>]) -> Vec<NamedFact<'a>> {
    views.iter().map(named).collect()
}

fn attribution<'a>(view: &'a EndpointView<'a>) -> Attribution<'a> {
    let executable = view.process.as_ref().and_then(|p| p.executable.as_ref());
    let k8s = view.k8s.as_ref();
    Attribution {
        executable_name: executable.and_then(|e| e.name.as_deref()),
        executable_path: executable.and_then(|e| e.path.as_deref()),
        container_id: view.container.as_ref().map(|c| &*c.id),
        runtime: view.container.as_ref().and_then(|c| c.runtime),
        k8s_namespace: k8s.and_then(|k| k.namespace.as_ref()).map(|n| &*n.name),
        k8s_pod: k8s.map(|k| k.pod.name.as_deref().unwrap_or(&k.pod.uid)),
        k8s_container: k8s.and_then(|k| k.container.as_ref()).map(|n| &*n.name),
    }
}

/// A session record read from a JSON line.
pub(crate) struct ParsedView<'a> {
    record: RecordView<'a>,
}

impl<'a> ParsedView<'a> {
    pub fn parse(line: &'a str) -> Result<ParsedView<'a>, serde_json::Error> {
        Ok(ParsedView {
            record: serde_json::from_str(line)?,
        })
    }

    pub fn facts(&self) -> Facts<'_> {
        fn certificates<'b>(views: &'b [CertificateView<'b>]) -> Vec<CertificateFact<'b>> {
            views.iter().map(CertificateFact::View).collect()
        }
        let record = &self.record;
        let detail = &record.cipherlens.tls;
        let hello = detail.client_hello.as_ref().map(|hello| HelloFacts {
            offers_post_quantum: hello.offers_post_quantum,
            versions: if hello.supported_versions.is_empty() {
                vec![named(&hello.version)]
            } else {
                names(&hello.supported_versions)
            },
            cipher_suites: names(&hello.cipher_suites),
            groups: names(&hello.supported_groups),
            key_shares: names(&hello.key_share_groups),
            signature_algorithms: names(&hello.signature_algorithms),
            alpn: hello.alpn.iter().map(|alpn| &**alpn).collect(),
        });
        Facts {
            host: record.host.as_ref().map(|host| &*host.name),
            start: &record.event.start,
            transport: record.network.transport,
            protocol: record.network.protocol,
            server_address: &record.server.address,
            server_port: record.server.port,
            client: attribution(&record.client),
            server: attribution(&record.server),
            sni: record.tls.client.server_name.as_deref(),
            established: record.tls.established,
            resumed: record.tls.resumed,
            post_quantum: detail.post_quantum_key_exchange,
            version: detail.version.as_ref().map(named),
            cipher: detail.cipher.as_ref().map(named),
            group: detail.key_exchange_group.as_ref().map(named),
            dh_prime_bits: detail.dh_prime_bits,
            alpn: record.tls.next_protocol.as_deref(),
            ja3: record.tls.client.ja3.as_deref(),
            ja4: detail.fingerprints.as_ref().and_then(|f| f.ja4.as_deref()),
            ja3s: record.tls.server.ja3s.as_deref(),
            hello,
            server_chain: certificates(&detail.server_certificates),
            client_chain: certificates(&detail.client_certificates),
        }
    }
}
