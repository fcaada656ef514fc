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

mod assets;
mod model;
mod names;

use std::collections::BTreeSet;
use std::io::Write;

use crate::algorithms::{self, Primitive};
use crate::error::Error;
use crate::snapshot::{Snapshot, Workload};
use assets::{Builder, CertificateAsset, Uses, build};
use model::{
    AlgorithmProperties, CertificateProperties, CipherSuite, Component, CryptoProperties,
    Dependency, Header, Lifecycle, Metadata, Property, ProtocolProperties,
    RelatedMaterialProperties, Tool, Tools,
};
use names::{algorithm_ref, workload_ref};

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
