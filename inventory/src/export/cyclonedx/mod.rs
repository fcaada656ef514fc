//! The inventory as a CycloneDX 1.6 CBOM (JSON).
//!
//! - a protocol asset per negotiated version and transport, with the
//!   cipher suites negotiated in it (IANA name, one-byte identifiers, the
//!   algorithms each names) and the key-exchange groups;
//! - an algorithm asset per algorithm those name, and per certificate
//!   signature and key algorithm, each with its primitive, parameter set,
//!   curve, classical and NIST quantum security levels (0 for classical);
//! - a certificate asset per certificate, with its signature algorithm and
//!   public key (a related-crypto-material asset with its size);
//! - an application component per workload, depending on everything its
//!   sessions used; each crypto asset's `evidence.occurrences` name the
//!   node, client workload and server endpoint that used it.
//!
//! TLS groups, signature schemes, serials, SANs, SNI and JA3/JA4 are 1.7
//! fields or have none: they go in `properties` under `cipherlens:`.

mod model;
mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use crate::algorithms::{self, Algorithm, Primitive};
use crate::error::Error;
use crate::kinds::{OfferKind, Side, UsageKind};
use crate::mapping;
use crate::snapshot::{Certificate, Connection, Endpoint, Seen, Snapshot, Workload};
use model::{
    AlgorithmProperties, CertificateProperties, CipherSuite, Component, CryptoProperties,
    Dependency, Evidence, Header, Lifecycle, Metadata, Occurrence, Property, ProtocolProperties,
    RelatedMaterialProperties, Tool, Tools,
};
use names::{ProtocolName, algorithm_ref, certificate_ref, key_ref, occurrence, workload_ref};

/// What a CBOM export needs besides the inventory.
#[derive(Debug, Clone)]
pub struct Options {
    /// `metadata.timestamp`, RFC 3339.
    pub timestamp: String,
    /// `serialNumber` (`urn:uuid:...`), see [`random_serial_number`].
    pub serial_number: Option<String>,
    /// The version of cipherlens that made the BOM.
    pub tool_version: String,
    /// Indented JSON (larger, for people) instead of one line.
    pub pretty: bool,
}

/// A random version 4 UUID as a BOM serial number.
pub fn random_serial_number() -> Result<String, Error> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Writes the CBOM of `snapshot`. Components are written as they are made,
/// so memory holds the inventory and the asset index, not the whole BOM.
pub fn write(snapshot: &Snapshot, options: &Options, out: impl Write) -> Result<(), Error> {
    let builder = build(snapshot);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let written = stream(snapshot, options, &builder, &mut out)
        .and_then(|()| out.flush().map_err(serde_json::Error::io));
    written.map_err(|source| {
        if source.is_io() {
            Error::Write {
                format: "cyclonedx",
                source: source.into(),
            }
        } else {
            Error::Json {
                what: "the CycloneDX BOM",
                source,
            }
        }
    })
}

/// Writes JSON array elements, comma-separated.
struct Elements<'w, W: Write> {
    out: &'w mut W,
    pretty: bool,
    first: bool,
}

impl<W: Write> Elements<'_, W> {
    fn push(&mut self, item: &impl serde::Serialize) -> Result<(), serde_json::Error> {
        let separator: &[u8] = match (self.first, self.pretty) {
            (true, false) => b"",
            (true, true) => b"\n",
            (false, false) => b",",
            (false, true) => b",\n",
        };
        self.first = false;
        self.out
            .write_all(separator)
            .map_err(serde_json::Error::io)?;
        if self.pretty {
            serde_json::to_writer_pretty(&mut *self.out, item)
        } else {
            serde_json::to_writer(&mut *self.out, item)
        }
    }
}

fn stream(
    snapshot: &Snapshot,
    options: &Options,
    builder: &Builder<'_>,
    out: &mut impl Write,
) -> Result<(), serde_json::Error> {
    let header = serde_json::to_vec(&header(snapshot, options))?;
    // The header object, left open for the two lists.
    out.write_all(&header[..header.len() - 1])
        .and_then(|()| out.write_all(b",\"components\":["))
        .map_err(serde_json::Error::io)?;
    let mut components = Elements {
        out,
        pretty: options.pretty,
        first: true,
    };
    let dependencies = components_of(snapshot, builder, |component| components.push(&component))?;
    out.write_all(b"],\"dependencies\":[")
        .map_err(serde_json::Error::io)?;
    let mut elements = Elements {
        out,
        pretty: options.pretty,
        first: true,
    };
    for dependency in &dependencies {
        elements.push(dependency)?;
    }
    out.write_all(b"]}\n").map_err(serde_json::Error::io)
}

/// Sessions of one connection that used an asset.
#[derive(Debug, Clone, Copy)]
struct Use<'s> {
    first: &'s str,
    last: &'s str,
    sessions: u64,
}

type Uses<'s> = BTreeMap<i64, Use<'s>>;

fn note_use<'s>(uses: &mut Uses<'s>, connection: i64, seen: &'s Seen) {
    uses.entry(connection)
        .and_modify(|used| {
            used.sessions += seen.sessions;
            used.first = used.first.min(&seen.first_seen);
            used.last = used.last.max(&seen.last_seen);
        })
        .or_insert(Use {
            first: &seen.first_seen,
            last: &seen.last_seen,
            sessions: seen.sessions,
        });
}

struct ProtocolAsset<'s> {
    name: ProtocolName,
    suites: BTreeMap<(Option<u16>, String), Vec<String>>,
    groups: BTreeMap<String, String>,
    uses: Uses<'s>,
}

struct KeyAsset<'s> {
    algorithm_ref: String,
    name: String,
    size: Option<u32>,
    id: Option<String>,
    uses: Uses<'s>,
}

struct CertificateAsset<'s> {
    certificate: &'s Certificate,
    signature_ref: String,
    key_ref: String,
    names: BTreeSet<&'s str>,
    uses: Uses<'s>,
}

struct Builder<'s> {
    endpoints: HashMap<i64, &'s Endpoint>,
    workloads: HashMap<i64, &'s Workload>,
    connections: HashMap<i64, &'s Connection>,
    protocols: BTreeMap<String, ProtocolAsset<'s>>,
    algorithms: BTreeMap<String, (Algorithm, Uses<'s>)>,
    certificates: BTreeMap<String, CertificateAsset<'s>>,
    keys: BTreeMap<String, KeyAsset<'s>>,
    /// What each workload's sessions used, by reference.
    uses_of: BTreeMap<i64, BTreeSet<String>>,
    properties_of: BTreeMap<i64, BTreeSet<(&'static str, String)>>,
}

impl<'s> Builder<'s> {
    /// The client workload, and the serving one when it is on a node.
    fn owners(&self, connection: &Connection) -> impl Iterator<Item = i64> + use<> {
        let server = self
            .endpoints
            .get(&connection.endpoint_id)
            .and_then(|endpoint| endpoint.server_workload_id);
        std::iter::once(connection.workload_id).chain(server)
    }

    fn used_by(&mut self, connection: &Connection, bom_ref: &str) {
        for owner in self.owners(connection) {
            self.uses_of
                .entry(owner)
                .or_default()
                .insert(bom_ref.to_owned());
        }
    }

    /// Adds an algorithm and the ones it is built from; returns its reference.
    fn algorithm(
        &mut self,
        algorithm: Algorithm,
        connection: &Connection,
        seen: &'s Seen,
    ) -> String {
        let bom_ref = algorithm_ref(&algorithm);
        for part in &algorithm.parts {
            let part = algorithms::lookup(part).unwrap_or_else(|| algorithms::unknown(part));
            self.algorithm(part, connection, seen);
        }
        let entry = self
            .algorithms
            .entry(bom_ref.clone())
            .or_insert_with(|| (algorithm, Uses::new()));
        note_use(&mut entry.1, connection.id, seen);
        self.used_by(connection, &bom_ref);
        bom_ref
    }

    fn protocol(&mut self, record_name: &str, endpoint: &Endpoint) -> &mut ProtocolAsset<'s> {
        let name = ProtocolName {
            record_name: record_name.to_owned(),
            transport: endpoint.key.transport.clone(),
        };
        self.protocols
            .entry(name.bom_ref())
            .or_insert_with(|| ProtocolAsset {
                name,
                suites: BTreeMap::new(),
                groups: BTreeMap::new(),
                uses: Uses::new(),
            })
    }

    fn add_usage(&mut self, usage: &'s crate::snapshot::Usage) {
        let Some(connection) = self.connections.get(&usage.connection_id).copied() else {
            return;
        };
        let Some(endpoint) = self.endpoints.get(&connection.endpoint_id).copied() else {
            return;
        };
        match usage.kind {
            UsageKind::Version => {
                let protocol = self.protocol(&usage.value, endpoint);
                note_use(&mut protocol.uses, connection.id, &usage.seen);
                let bom_ref = protocol.name.bom_ref();
                self.used_by(connection, &bom_ref);
            }
            UsageKind::CipherSuite => {
                let refs: Vec<String> = mapping::cipher_suite(&usage.value)
                    .into_iter()
                    .map(|algorithm| self.algorithm(algorithm, connection, &usage.seen))
                    .collect();
                let protocol = self.protocol(&usage.protocol_version, endpoint);
                protocol
                    .suites
                    .insert((usage.code, usage.value.clone()), refs);
            }
            UsageKind::Group => {
                let bom_ref = self.algorithm(mapping::group(&usage.value), connection, &usage.seen);
                let protocol = self.protocol(&usage.protocol_version, endpoint);
                protocol.groups.insert(usage.value.clone(), bom_ref);
            }
            UsageKind::Alpn | UsageKind::Ja3 | UsageKind::Ja4 => {
                let name = match usage.kind {
                    UsageKind::Alpn => "tls.alpn",
                    UsageKind::Ja3 => "tls.ja3",
                    _ => "tls.ja4",
                };
                self.properties_of
                    .entry(connection.workload_id)
                    .or_default()
                    .insert((name, usage.value.clone()));
            }
            UsageKind::Ja3s => {
                if let Some(server) = endpoint.server_workload_id {
                    self.properties_of
                        .entry(server)
                        .or_default()
                        .insert(("tls.ja3s", usage.value.clone()));
                }
            }
        }
    }

    fn add_chain_entry(
        &mut self,
        entry: &'s crate::snapshot::ChainEntry,
        certificate: &'s Certificate,
    ) {
        let Some(connection) = self.connections.get(&entry.connection_id).copied() else {
            return;
        };
        let Some(endpoint) = self.endpoints.get(&connection.endpoint_id).copied() else {
            return;
        };
        let signature = mapping::certificate_signature(
            &certificate.signature_algorithm,
            &certificate.signature_algorithm_oid,
        );
        let signature_ref = self.algorithm(signature, connection, &entry.seen);
        let key_algorithm = mapping::public_key(
            &certificate.key_algorithm,
            certificate.key_bits,
            certificate.key_curve.as_deref(),
        );
        let key_algorithm_ref = self.algorithm(key_algorithm.clone(), connection, &entry.seen);
        let key_id = certificate
            .subject_key_identifier
            .as_deref()
            .unwrap_or(&certificate.fingerprint_sha256);
        let key = key_ref(&key_algorithm, key_id);
        let key_asset = self.keys.entry(key.clone()).or_insert_with(|| KeyAsset {
            algorithm_ref: key_algorithm_ref,
            name: format!("{} public key", key_algorithm.name),
            size: certificate.key_bits,
            id: certificate.subject_key_identifier.clone(),
            uses: Uses::new(),
        });
        note_use(&mut key_asset.uses, connection.id, &entry.seen);
        let bom_ref = certificate_ref(certificate);
        let asset = self
            .certificates
            .entry(bom_ref.clone())
            .or_insert_with(|| CertificateAsset {
                certificate,
                signature_ref,
                key_ref: key,
                names: BTreeSet::new(),
                uses: Uses::new(),
            });
        note_use(&mut asset.uses, connection.id, &entry.seen);
        if entry.side == Side::Server && !endpoint.key.sni.is_empty() {
            asset.names.insert(&endpoint.key.sni);
        }
        self.used_by(connection, &bom_ref);
    }

    fn occurrences(&self, uses: &Uses<'_>) -> Option<Evidence> {
        let mut occurrences: Vec<Occurrence> = uses
            .iter()
            .filter_map(|(connection, used)| {
                let connection = self.connections.get(connection)?;
                let endpoint = self.endpoints.get(&connection.endpoint_id)?;
                let workload = self.workloads.get(&connection.workload_id)?;
                let sessions = used.sessions.min(connection.seen.sessions);
                Some(occurrence(
                    endpoint, workload, sessions, used.first, used.last,
                ))
            })
            .collect();
        occurrences.sort_by(|a, b| a.location.cmp(&b.location));
        (!occurrences.is_empty()).then_some(Evidence { occurrences })
    }
}

fn sessions_property(uses: &Uses<'_>) -> Property {
    Property::new(
        "sessions",
        uses.values()
            .map(|used| used.sessions)
            .sum::<u64>()
            .to_string(),
    )
}

/// CycloneDX `cryptoFunctions` for a primitive.
fn crypto_functions(primitive: Primitive) -> Vec<&'static str> {
    match primitive {
        Primitive::Ae | Primitive::BlockCipher | Primitive::StreamCipher | Primitive::Pke => {
            vec!["encrypt", "decrypt"]
        }
        Primitive::Hash => vec!["digest"],
        Primitive::Mac => vec!["tag"],
        Primitive::Kdf => vec!["keyderive"],
        Primitive::KeyAgree => vec!["keygen"],
        Primitive::Kem => vec!["keygen", "encapsulate", "decapsulate"],
        Primitive::Signature => vec!["sign", "verify"],
        Primitive::Other | Primitive::Unknown => Vec::new(),
    }
}

/// `["0xC0", "0x30"]`: a code point's two bytes, one string each.
fn identifiers(code: Option<u16>) -> Vec<String> {
    code.map(|code| {
        code.to_be_bytes()
            .iter()
            .map(|byte| format!("0x{byte:02X}"))
            .collect()
    })
    .unwrap_or_default()
}

fn build(snapshot: &Snapshot) -> Builder<'_> {
    let mut builder = Builder {
        endpoints: snapshot.endpoints.iter().map(|e| (e.id, e)).collect(),
        workloads: snapshot.workloads.iter().map(|w| (w.id, w)).collect(),
        connections: snapshot.connections.iter().map(|c| (c.id, c)).collect(),
        protocols: BTreeMap::new(),
        algorithms: BTreeMap::new(),
        certificates: BTreeMap::new(),
        keys: BTreeMap::new(),
        uses_of: BTreeMap::new(),
        properties_of: BTreeMap::new(),
    };
    for usage in &snapshot.usage {
        builder.add_usage(usage);
    }
    let certificates: HashMap<&str, &Certificate> = snapshot
        .certificates
        .iter()
        .map(|c| (c.fingerprint_sha256.as_str(), c))
        .collect();
    for entry in &snapshot.chains {
        if let Some(certificate) = certificates.get(entry.fingerprint_sha256.as_str()) {
            builder.add_chain_entry(entry, certificate);
        }
    }
    for offer in &snapshot.offers {
        let name = match offer.kind {
            OfferKind::Group => "tls.offered_group",
            OfferKind::SignatureAlgorithm => "tls.signature_scheme",
            _ => continue,
        };
        builder
            .properties_of
            .entry(offer.workload_id)
            .or_default()
            .insert((name, offer.value.clone()));
    }
    for connection in &snapshot.connections {
        if let Some(endpoint) = builder.endpoints.get(&connection.endpoint_id)
            && !endpoint.key.sni.is_empty()
        {
            let sni = endpoint.key.sni.clone();
            builder
                .properties_of
                .entry(connection.workload_id)
                .or_default()
                .insert(("tls.sni", sni));
        }
    }
    builder
}

/// Makes every component, hands each to `emit`, and returns the
/// dependencies (written after the components).
fn components_of(
    snapshot: &Snapshot,
    builder: &Builder<'_>,
    mut emit: impl FnMut(Component) -> Result<(), serde_json::Error>,
) -> Result<Vec<Dependency>, serde_json::Error> {
    let mut dependencies = Vec::new();
    for (bom_ref, protocol) in &builder.protocols {
        let mut crypto = CryptoProperties::new("protocol");
        let mut depends: BTreeSet<String> = BTreeSet::new();
        let cipher_suites = protocol
            .suites
            .iter()
            .map(|((code, name), refs)| {
                depends.extend(refs.iter().cloned());
                CipherSuite {
                    name: name.clone(),
                    algorithms: refs.clone(),
                    identifiers: identifiers(*code),
                }
            })
            .collect();
        depends.extend(protocol.groups.values().cloned());
        crypto.protocol = Some(ProtocolProperties {
            kind: "tls",
            version: protocol.name.version(),
            cipher_suites,
            crypto_refs: protocol.groups.values().cloned().collect(),
        });
        let mut properties = vec![Property::new("transport", protocol.name.transport.clone())];
        properties.extend(
            protocol
                .groups
                .keys()
                .map(|group| Property::new("tls.group", group.clone())),
        );
        properties.push(sessions_property(&protocol.uses));
        emit(Component {
            kind: "cryptographic-asset",
            bom_ref: bom_ref.clone(),
            name: protocol.name.component_name(),
            version: Some(protocol.name.version()),
            description: None,
            crypto_properties: Some(crypto),
            properties,
            evidence: builder.occurrences(&protocol.uses),
        })?;
        dependencies.push(Dependency {
            bom_ref: bom_ref.clone(),
            depends_on: depends.into_iter().collect(),
        });
    }
    for (bom_ref, (algorithm, uses)) in &builder.algorithms {
        let mut crypto = CryptoProperties::new("algorithm");
        crypto.algorithm = Some(AlgorithmProperties {
            primitive: algorithm.primitive.as_str(),
            mode: algorithm.mode.map(|mode| mode.as_str()),
            parameter_set: algorithm.parameter_set.clone(),
            curve: algorithm.curve.clone(),
            crypto_functions: crypto_functions(algorithm.primitive),
            classical: algorithm.classical,
            quantum: algorithm.quantum,
        });
        crypto.oid = algorithm.oid.clone().filter(|oid| !oid.is_empty());
        emit(Component {
            kind: "cryptographic-asset",
            bom_ref: bom_ref.clone(),
            name: algorithm.name.clone(),
            version: None,
            description: None,
            crypto_properties: Some(crypto),
            properties: vec![sessions_property(uses)],
            evidence: builder.occurrences(uses),
        })?;
        let mut depends: Vec<String> = algorithm
            .parts
            .iter()
            .map(|part| {
                algorithm_ref(
                    &algorithms::lookup(part).unwrap_or_else(|| algorithms::unknown(part)),
                )
            })
            .collect();
        depends.sort();
        depends.dedup();
        dependencies.push(Dependency {
            bom_ref: bom_ref.clone(),
            depends_on: depends,
        });
    }
    for (bom_ref, asset) in &builder.certificates {
        emit(certificate_component(bom_ref, asset, builder))?;
        let mut depends = vec![asset.signature_ref.clone(), asset.key_ref.clone()];
        depends.sort();
        depends.dedup();
        dependencies.push(Dependency {
            bom_ref: bom_ref.clone(),
            depends_on: depends,
        });
    }
    for (bom_ref, key) in &builder.keys {
        let mut crypto = CryptoProperties::new("related-crypto-material");
        crypto.related_material = Some(RelatedMaterialProperties {
            kind: "public-key",
            id: key.id.clone(),
            algorithm: key.algorithm_ref.clone(),
            size: key.size,
            format: "X.509 SubjectPublicKeyInfo",
        });
        emit(Component {
            kind: "cryptographic-asset",
            bom_ref: bom_ref.clone(),
            name: key.name.clone(),
            version: None,
            description: None,
            crypto_properties: Some(crypto),
            properties: Vec::new(),
            evidence: builder.occurrences(&key.uses),
        })?;
        dependencies.push(Dependency {
            bom_ref: bom_ref.clone(),
            depends_on: vec![key.algorithm_ref.clone()],
        });
    }
    for workload in &snapshot.workloads {
        let bom_ref = workload_ref(workload);
        emit(workload_component(&bom_ref, workload, builder))?;
        dependencies.push(Dependency {
            bom_ref,
            depends_on: builder
                .uses_of
                .get(&workload.id)
                .map(|refs| refs.iter().cloned().collect())
                .unwrap_or_default(),
        });
    }
    Ok(dependencies)
}

fn header(snapshot: &Snapshot, options: &Options) -> Header {
    let mut properties: Vec<Property> = snapshot
        .nodes()
        .into_iter()
        .map(|node| Property::new("node", node))
        .collect();
    properties.push(Property::new("sessions", snapshot.sessions().to_string()));
    Header {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: options.serial_number.clone(),
        version: 1,
        metadata: Metadata {
            timestamp: options.timestamp.clone(),
            lifecycles: vec![Lifecycle {
                phase: "operations",
            }],
            tools: Tools {
                components: vec![Tool {
                    kind: "application",
                    name: "cipherlens",
                    version: options.tool_version.clone(),
                }],
            },
            properties,
        },
    }
}

fn certificate_component(
    bom_ref: &str,
    asset: &CertificateAsset<'_>,
    builder: &Builder<'_>,
) -> Component {
    let certificate = asset.certificate;
    let mut crypto = CryptoProperties::new("certificate");
    crypto.certificate = Some(CertificateProperties {
        subject: certificate.subject.clone(),
        issuer: certificate.issuer.clone(),
        not_before: certificate.not_before.clone(),
        not_after: certificate.not_after.clone(),
        signature_algorithm: asset.signature_ref.clone(),
        public_key: asset.key_ref.clone(),
        format: "X.509",
    });
    let mut properties = vec![
        Property::new("x509.serial_number", certificate.serial_number.clone()),
        Property::new(
            "x509.fingerprint.sha256",
            certificate.fingerprint_sha256.clone(),
        ),
        Property::new(
            "x509.fingerprint.sha1",
            certificate.fingerprint_sha1.clone(),
        ),
        Property::new("x509.self_signed", certificate.self_signed.to_string()),
        Property::new("x509.ca", certificate.ca.to_string()),
    ];
    let names = &certificate.subject_alt_names;
    for (kind, values) in [
        ("dns", &names.dns),
        ("ip", &names.ip),
        ("uri", &names.uri),
        ("email", &names.email),
    ] {
        properties.extend(
            values
                .iter()
                .map(|value| Property::new(&format!("x509.san.{kind}"), value.clone())),
        );
    }
    properties.extend(asset.names.iter().map(|sni| Property::new("tls.sni", *sni)));
    properties.push(sessions_property(&asset.uses));
    Component {
        kind: "cryptographic-asset",
        bom_ref: bom_ref.to_owned(),
        name: certificate
            .subject_common_name
            .clone()
            .unwrap_or_else(|| certificate.subject.clone()),
        version: None,
        description: None,
        crypto_properties: Some(crypto),
        properties,
        evidence: builder.occurrences(&asset.uses),
    }
}

fn workload_component(bom_ref: &str, workload: &Workload, builder: &Builder<'_>) -> Component {
    let key = &workload.key;
    let mut properties = vec![Property::new("node", key.node.clone())];
    let attributes = [
        ("process.executable.name", Some(&key.executable)),
        ("process.executable.path", workload.executable_path.as_ref()),
        ("container.id", Some(&key.container_id)),
        ("container.runtime", workload.container_runtime.as_ref()),
        ("k8s.namespace.name", Some(&key.k8s_namespace)),
        ("k8s.pod.name", Some(&key.k8s_pod)),
        ("k8s.container.name", Some(&key.k8s_container)),
        ("tls.client_fingerprint", Some(&key.tls_fingerprint)),
    ];
    for (name, value) in attributes {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            properties.push(Property::new(name, value.clone()));
        }
    }
    if let Some(extra) = builder.properties_of.get(&workload.id) {
        properties.extend(
            extra
                .iter()
                .map(|(name, value)| Property::new(name, value.clone())),
        );
    }
    properties.push(Property::new(
        "client_sessions",
        workload.client_sessions.to_string(),
    ));
    properties.push(Property::new(
        "server_sessions",
        workload.server_sessions.to_string(),
    ));
    Component {
        kind: "application",
        bom_ref: bom_ref.to_owned(),
        name: key.label(),
        version: None,
        description: Some(format!(
            "Workload on node {}, seen from {} to {}",
            key.node, workload.first_seen, workload.last_seen
        )),
        crypto_properties: None,
        properties,
        evidence: None,
    }
}
