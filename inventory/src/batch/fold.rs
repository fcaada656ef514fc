//! Folding one session record into a batch's rows.

use std::sync::Arc;

use cipherlens_record::SessionRecord;
use cipherlens_record::alert::Finding;
use cipherlens_record::attribution::EndpointAttribution;
use cipherlens_record::certificate::CertificateSummary;
use cipherlens_record::session::{Named, Transport};

use super::rows::{add_counts, add_value};
use super::{
    Batch, ChainRow, ConnectionRow, EndpointRow, FindingRow, Seen, SessionCounts, WorkloadRow,
};
use crate::error::Error;
use crate::keys::{EndpointKey, WorkloadKey, connection_id, runtime_name, workload_key};
use crate::kinds::{OfferKind, Side, UsageKind};

/// A value a session used, with its code point when it has one.
type UsedValue<'a> = Option<(&'a str, Option<u16>)>;

impl Batch {
    pub(super) fn add_session(
        &mut self,
        record: &SessionRecord,
        findings: &[Finding],
        time: &str,
    ) -> Result<(), Error> {
        let node = record
            .host
            .as_ref()
            .map(|host| host.name.as_str())
            .filter(|name| !name.is_empty())
            .unwrap_or(&self.node)
            .to_owned();
        let detail = &record.cipherlens.tls;
        let counts = SessionCounts {
            established: u64::from(record.tls.established),
            resumed: u64::from(record.tls.resumed),
            pq_offered: u64::from(
                detail
                    .client_hello
                    .as_ref()
                    .is_some_and(|hello| hello.offers_post_quantum),
            ),
            pq: u64::from(detail.post_quantum_key_exchange),
        };

        let (client_key, client_path) = workload_key(&node, &record.client.attribution)
            .unwrap_or_else(|| {
                let key = WorkloadKey {
                    node: node.clone(),
                    address: record.client.address.clone(),
                    ..WorkloadKey::default()
                };
                (key, String::new())
            });
        let client_id = client_key.id();
        let client = (client_key, client_path);
        self.add_workload(client_id, client, &record.client.attribution, time, |row| {
            row.client_sessions += 1;
            row.pq_offered += counts.pq_offered;
            row.pq += counts.pq;
        });
        let server_workload = workload_key(&node, &record.server.attribution).map(|server| {
            let id = server.0.id();
            self.add_workload(id, server, &record.server.attribution, time, |row| {
                row.server_sessions += 1;
            });
            id
        });

        let endpoint_key = EndpointKey {
            node,
            transport: match record.network.transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
            }
            .to_owned(),
            address: record.server.address.clone(),
            port: record.server.port,
            sni: record.tls.client.server_name.clone().unwrap_or_default(),
        };
        let endpoint_id = endpoint_key.id();
        let protocol = match record.network.protocol {
            cipherlens_record::session::Protocol::Tls => "tls",
            cipherlens_record::session::Protocol::Quic => "quic",
        };
        match self.endpoints.get_mut(&endpoint_id) {
            Some(row) => {
                row.seen.add(time);
                add_counts(&mut row.counts, &counts);
                if let Some(id) = server_workload
                    && row
                        .server_workload
                        .as_ref()
                        .is_none_or(|(_, seen)| time >= seen.as_str())
                {
                    row.server_workload = Some((id, time.to_owned()));
                }
            }
            None => {
                self.endpoints.insert(
                    endpoint_id,
                    EndpointRow {
                        key: endpoint_key,
                        protocol,
                        server_workload: server_workload.map(|id| (id, time.to_owned())),
                        seen: Seen::new(time),
                        counts: counts.clone(),
                    },
                );
            }
        }

        let connection = connection_id(endpoint_id, client_id);
        match self.connections.get_mut(&connection) {
            Some(row) => {
                row.seen.add(time);
                add_counts(&mut row.counts, &counts);
            }
            None => {
                self.connections.insert(
                    connection,
                    ConnectionRow {
                        endpoint_id,
                        workload_id: client_id,
                        seen: Seen::new(time),
                        counts,
                    },
                );
            }
        }

        self.add_usage(connection, record, time);
        self.add_offers(client_id, record, time);
        self.add_chain(connection, Side::Server, &detail.server_certificates, time);
        self.add_chain(connection, Side::Client, &detail.client_certificates, time);
        self.add_findings(connection, findings, time)
    }

    fn add_workload(
        &mut self,
        id: i64,
        (key, path): (WorkloadKey, String),
        attribution: &EndpointAttribution,
        time: &str,
        count: impl FnOnce(&mut WorkloadRow),
    ) {
        let runtime = attribution
            .container
            .as_ref()
            .and_then(|container| container.runtime)
            .map(runtime_name)
            .unwrap_or("");
        let row = self.workloads.entry(id).or_insert_with(|| WorkloadRow {
            key,
            executable_path: String::new(),
            container_runtime: String::new(),
            first: time.to_owned(),
            last: time.to_owned(),
            client_sessions: 0,
            server_sessions: 0,
            pq_offered: 0,
            pq: 0,
        });
        if time < row.first.as_str() {
            time.clone_into(&mut row.first);
        }
        let latest = time >= row.last.as_str();
        if latest {
            time.clone_into(&mut row.last);
        }
        // Attributes known only sometimes: the latest known value.
        if !runtime.is_empty() && (latest || row.container_runtime.is_empty()) {
            runtime.clone_into(&mut row.container_runtime);
        }
        if !path.is_empty() && (latest || row.executable_path.is_empty()) {
            row.executable_path = path;
        }
        count(row);
    }

    fn add_usage(&mut self, connection: i64, record: &SessionRecord, time: &str) {
        let detail = &record.cipherlens.tls;
        let dh_prime = detail.dh_prime_bits.map(|bits| format!("dh_prime_{bits}"));
        let group = detail
            .key_exchange_group
            .as_ref()
            .map(named)
            .or_else(|| dh_prime.as_deref().map(|name| (name, None)));
        let ja4 = detail.fingerprints.as_ref().and_then(|f| f.ja4.as_deref());
        let values: [(UsageKind, UsedValue<'_>); 7] = [
            (UsageKind::Version, detail.version.as_ref().map(named)),
            (UsageKind::CipherSuite, detail.cipher.as_ref().map(named)),
            (UsageKind::Group, group),
            (
                UsageKind::Alpn,
                record.tls.next_protocol.as_deref().map(|a| (a, None)),
            ),
            (
                UsageKind::Ja3,
                record.tls.client.ja3.as_deref().map(|f| (f, None)),
            ),
            (UsageKind::Ja4, ja4.map(|f| (f, None))),
            (
                UsageKind::Ja3s,
                record.tls.server.ja3s.as_deref().map(|f| (f, None)),
            ),
        ];
        let version = detail
            .version
            .as_ref()
            .map(|version| &*version.name)
            .unwrap_or("");
        for (kind, value) in values {
            let Some((value, code)) = value else { continue };
            let by_version = self.usage.entry((connection, kind)).or_default();
            let rows = match by_version.get_mut(version) {
                Some(rows) => rows,
                None => by_version.entry(version.into()).or_default(),
            };
            add_value(rows, value, code, time);
        }
    }

    fn add_offers(&mut self, workload: i64, record: &SessionRecord, time: &str) {
        let Some(hello) = &record.cipherlens.tls.client_hello else {
            return;
        };
        let versions: &[Named] = if hello.supported_versions.is_empty() {
            std::slice::from_ref(&hello.version)
        } else {
            &hello.supported_versions
        };
        let mut offered: Vec<(OfferKind, &str, Option<u16>)> = Vec::with_capacity(64);
        let lists: [(OfferKind, &[Named]); 5] = [
            (OfferKind::Version, versions),
            (OfferKind::CipherSuite, &hello.cipher_suites),
            (OfferKind::Group, &hello.supported_groups),
            (OfferKind::KeyShare, &hello.key_share_groups),
            (OfferKind::SignatureAlgorithm, &hello.signature_algorithms),
        ];
        for (kind, list) in lists {
            offered.extend(
                list.iter()
                    .filter(|item| item.name != "GREASE")
                    .map(|item| (kind, &*item.name, Some(item.code))),
            );
        }
        offered.extend(
            hello
                .alpn
                .iter()
                .map(|alpn| (OfferKind::Alpn, alpn.as_str(), None)),
        );
        // A value offered twice in one hello counts once for the session.
        offered.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        offered.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        for (kind, value, code) in offered {
            add_value(
                self.offers.entry((workload, kind)).or_default(),
                value,
                code,
                time,
            );
        }
    }

    fn add_chain(
        &mut self,
        connection: i64,
        side: Side,
        chain: &[Arc<CertificateSummary>],
        time: &str,
    ) {
        for (position, certificate) in chain.iter().enumerate() {
            let fingerprint = certificate.fingerprint_sha256.as_str();
            // The same certificate twice in one chain counts once.
            if chain[..position]
                .iter()
                .any(|earlier| earlier.fingerprint_sha256 == fingerprint)
            {
                continue;
            }
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            let rows = self.chains.entry((connection, side)).or_default();
            match rows.get_mut(fingerprint) {
                Some(row) => {
                    row.seen.add(time);
                    row.position = row.position.min(position);
                }
                None => {
                    rows.insert(
                        fingerprint.into(),
                        ChainRow {
                            position,
                            seen: Seen::new(time),
                        },
                    );
                }
            }
            if !self.certificates.contains_key(fingerprint) {
                self.certificates
                    .insert(fingerprint.into(), Arc::clone(certificate));
            }
        }
    }

    fn add_findings(
        &mut self,
        connection: i64,
        findings: &[Finding],
        time: &str,
    ) -> Result<(), Error> {
        for finding in findings {
            let rows = self.findings.entry(connection).or_default();
            let evidence = || {
                serde_json::to_string(&finding.evidence).map_err(|source| Error::Json {
                    what: "finding evidence",
                    source,
                })
            };
            match rows
                .iter_mut()
                .find(|row| row.rule == finding.rule && row.severity == finding.severity)
            {
                Some(row) => {
                    let latest = time >= row.seen.last.as_str();
                    row.seen.add(time);
                    if latest {
                        finding.message.clone_into(&mut row.message);
                        row.evidence = evidence()?;
                    }
                }
                None => rows.push(FindingRow {
                    rule: finding.rule.clone(),
                    severity: finding.severity,
                    seen: Seen::new(time),
                    message: finding.message.clone(),
                    evidence: evidence()?,
                }),
            }
        }
        Ok(())
    }
}

fn named(named: &Named) -> (&str, Option<u16>) {
    (&named.name, Some(named.code))
}
