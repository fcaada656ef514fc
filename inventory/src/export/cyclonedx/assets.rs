//! Which assets the sessions used, and where: the index the CBOM is
//! written from. Every protocol version, algorithm, certificate and public
//! key gets one entry, keyed by its BOM reference, with the connections
//! (node, client workload, server endpoint) whose sessions used it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::algorithms::{self, Algorithm};
use crate::kinds::{OfferKind, Side, UsageKind};
use crate::mapping;
use crate::snapshot::{
    Certificate, ChainEntry, Connection, Endpoint, Seen, Snapshot, Usage, Workload,
};

use super::model::{Evidence, Occurrence};
use super::names::{ProtocolName, algorithm_ref, certificate_ref, key_ref, occurrence};

/// Sessions of one connection that used an asset.
#[derive(Debug, Clone, Copy)]
pub(super) struct Use<'s> {
    pub(super) first: &'s str,
    pub(super) last: &'s str,
    pub(super) sessions: u64,
}

pub(super) type Uses<'s> = BTreeMap<i64, Use<'s>>;

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

pub(super) struct ProtocolAsset<'s> {
    pub(super) name: ProtocolName,
    pub(super) suites: BTreeMap<(Option<u16>, String), Vec<String>>,
    pub(super) groups: BTreeMap<String, String>,
    pub(super) uses: Uses<'s>,
}

pub(super) struct KeyAsset<'s> {
    pub(super) algorithm_ref: String,
    pub(super) name: String,
    pub(super) size: Option<u32>,
    pub(super) id: Option<String>,
    pub(super) uses: Uses<'s>,
}

pub(super) struct CertificateAsset<'s> {
    pub(super) certificate: &'s Certificate,
    pub(super) signature_ref: String,
    pub(super) key_ref: String,
    pub(super) names: BTreeSet<&'s str>,
    pub(super) uses: Uses<'s>,
}

pub(super) struct Builder<'s> {
    pub(super) endpoints: HashMap<i64, &'s Endpoint>,
    pub(super) workloads: HashMap<i64, &'s Workload>,
    pub(super) connections: HashMap<i64, &'s Connection>,
    pub(super) protocols: BTreeMap<String, ProtocolAsset<'s>>,
    pub(super) algorithms: BTreeMap<String, (Algorithm, Uses<'s>)>,
    pub(super) certificates: BTreeMap<String, CertificateAsset<'s>>,
    pub(super) keys: BTreeMap<String, KeyAsset<'s>>,
    /// What each workload's sessions used, by reference.
    pub(super) uses_of: BTreeMap<i64, BTreeSet<String>>,
    pub(super) properties_of: BTreeMap<i64, BTreeSet<(&'static str, String)>>,
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

    fn add_usage(&mut self, usage: &'s Usage) {
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

    fn add_chain_entry(&mut self, entry: &'s ChainEntry, certificate: &'s Certificate) {
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

    pub(super) fn occurrences(&self, uses: &Uses<'_>) -> Option<Evidence> {
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

pub(super) fn build(snapshot: &Snapshot) -> Builder<'_> {
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
