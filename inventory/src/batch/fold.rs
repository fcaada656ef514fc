//! Folding one session's [`Facts`] into a batch's rows.

use cipherlens_record::alert::Finding;
use cipherlens_record::session::{Protocol, Transport};

use super::facts::{Attribution, CertificateFact, Facts, NamedFact};
use super::rows::{add_counts, add_value};
use super::{
    Batch, ChainRow, ConnectionRow, EndpointRow, FindingRow, Seen, SessionCounts, WorkloadRow,
};
use crate::error::Error;
use crate::keys::{EndpointKey, WorkloadParts, connection_id, endpoint_id, runtime_name};
use crate::kinds::{OfferKind, Side, UsageKind};

/// A value a session used, with its code point when it has one.
type UsedValue<'a> = Option<(&'a str, Option<u16>)>;

fn named<'a>(named: &NamedFact<'a>) -> (&'a str, Option<u16>) {
    (named.name, Some(named.code))
}

impl Batch {
    /// Reads every certificate of the session the batch has not seen, before
    /// anything is counted: a certificate that does not read refuses the
    /// whole session.
    pub(super) fn read_certificates(&mut self, facts: &Facts<'_>) -> Result<(), Error> {
        for certificate in facts.server_chain.iter().chain(&facts.client_chain) {
            let fingerprint = certificate.fingerprint();
            if self.certificates.contains_key(fingerprint) {
                continue;
            }
            let row = certificate
                .row()
                .map_err(|source| Error::BadRecord { source })?;
            self.certificates.insert(fingerprint.into(), row);
        }
        Ok(())
    }

    pub(super) fn add_session(
        &mut self,
        facts: &Facts<'_>,
        findings: &[Finding],
        time: &str,
    ) -> Result<(), Error> {
        self.read_certificates(facts)?;
        let node_name = std::mem::take(&mut self.node);
        let result = self.fold(facts, findings, time, &node_name);
        self.node = node_name;
        result
    }

    fn fold(
        &mut self,
        facts: &Facts<'_>,
        findings: &[Finding],
        time: &str,
        default_node: &str,
    ) -> Result<(), Error> {
        let node = facts
            .host
            .filter(|name| !name.is_empty())
            .unwrap_or(default_node);
        let counts = SessionCounts {
            established: u64::from(facts.established),
            resumed: u64::from(facts.resumed),
            pq_offered: u64::from(facts.hello.as_ref().is_some_and(|h| h.offers_post_quantum)),
            pq: u64::from(facts.post_quantum),
        };

        let client = WorkloadParts::local(node, &facts.client)
            .unwrap_or_else(|| WorkloadParts::remote(node, facts.ja4, facts.ja3));
        let client_id = client.id();
        self.add_workload(client_id, &client, &facts.client, time, |row| {
            row.client_sessions += 1;
            row.pq_offered += counts.pq_offered;
            row.pq += counts.pq;
        });
        let server_workload = WorkloadParts::local(node, &facts.server).map(|server| {
            let id = server.id();
            self.add_workload(id, &server, &facts.server, time, |row| {
                row.server_sessions += 1;
            });
            id
        });

        let transport = match facts.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        let sni = facts.sni.unwrap_or("");
        let endpoint = endpoint_id(
            node,
            transport,
            facts.server_address,
            facts.server_port,
            sni,
        );
        match self.endpoints.get_mut(&endpoint) {
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
                let key = EndpointKey {
                    node: node.to_owned(),
                    transport: transport.to_owned(),
                    address: facts.server_address.to_owned(),
                    port: facts.server_port,
                    sni: sni.to_owned(),
                };
                let protocol = match facts.protocol {
                    Protocol::Tls => "tls",
                    Protocol::Quic => "quic",
                };
                let row = EndpointRow {
                    key,
                    protocol,
                    server_workload: server_workload.map(|id| (id, time.to_owned())),
                    seen: Seen::new(time),
                    counts: counts.clone(),
                };
                self.endpoints.insert(endpoint, row);
            }
        }

        let connection = connection_id(endpoint, client_id);
        match self.connections.get_mut(&connection) {
            Some(row) => {
                row.seen.add(time);
                add_counts(&mut row.counts, &counts);
            }
            None => {
                let row = ConnectionRow {
                    endpoint_id: endpoint,
                    workload_id: client_id,
                    seen: Seen::new(time),
                    counts,
                };
                self.connections.insert(connection, row);
            }
        }

        self.add_usage(connection, facts, time);
        self.add_offers(client_id, facts, time);
        self.add_chain(connection, Side::Server, &facts.server_chain, time);
        self.add_chain(connection, Side::Client, &facts.client_chain, time);
        self.add_findings(connection, findings, time)
    }

    fn add_workload(
        &mut self,
        id: i64,
        parts: &WorkloadParts<'_>,
        attribution: &Attribution<'_>,
        time: &str,
        count: impl FnOnce(&mut WorkloadRow),
    ) {
        let runtime = attribution.runtime.map(runtime_name).unwrap_or("");
        let path = attribution.executable_path.unwrap_or("");
        let row = self.workloads.entry(id).or_insert_with(|| WorkloadRow {
            key: parts.to_key(),
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
            path.clone_into(&mut row.executable_path);
        }
        count(row);
    }

    fn add_usage(&mut self, connection: i64, facts: &Facts<'_>, time: &str) {
        let dh_prime = facts.dh_prime_bits.map(|bits| format!("dh_prime_{bits}"));
        let group = facts
            .group
            .as_ref()
            .map(named)
            .or_else(|| dh_prime.as_deref().map(|name| (name, None)));
        let values: [(UsageKind, UsedValue<'_>); 7] = [
            (UsageKind::Version, facts.version.as_ref().map(named)),
            (UsageKind::CipherSuite, facts.cipher.as_ref().map(named)),
            (UsageKind::Group, group),
            (UsageKind::Alpn, facts.alpn.map(|alpn| (alpn, None))),
            (UsageKind::Ja3, facts.ja3.map(|ja3| (ja3, None))),
            (UsageKind::Ja4, facts.ja4.map(|ja4| (ja4, None))),
            (UsageKind::Ja3s, facts.ja3s.map(|ja3s| (ja3s, None))),
        ];
        let version = facts.version.map(|version| version.name).unwrap_or("");
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

    fn add_offers(&mut self, workload: i64, facts: &Facts<'_>, time: &str) {
        let Some(hello) = &facts.hello else {
            return;
        };
        let mut offered: Vec<(OfferKind, &str, Option<u16>)> = Vec::with_capacity(64);
        let lists: [(OfferKind, &[NamedFact<'_>]); 5] = [
            (OfferKind::Version, &hello.versions),
            (OfferKind::CipherSuite, &hello.cipher_suites),
            (OfferKind::Group, &hello.groups),
            (OfferKind::KeyShare, &hello.key_shares),
            (OfferKind::SignatureAlgorithm, &hello.signature_algorithms),
        ];
        for (kind, list) in lists {
            offered.extend(
                list.iter()
                    .filter(|item| item.name != "GREASE")
                    .map(|item| (kind, item.name, Some(item.code))),
            );
        }
        // A value offered twice in one hello counts once for the session.
        // Coded values are told apart by code (names follow codes), which
        // sorts on integers; ALPN strings, a short list, by text.
        offered.sort_unstable_by_key(|&(kind, _, code)| (kind, code));
        offered.dedup_by_key(|&mut (kind, _, code)| (kind, code));
        let coded = offered.len();
        offered.extend(hello.alpn.iter().map(|alpn| (OfferKind::Alpn, *alpn, None)));
        offered[coded..].sort_unstable_by_key(|&(_, alpn, _)| alpn);
        let mut alpn_seen = coded;
        for index in coded..offered.len() {
            if alpn_seen == coded || offered[alpn_seen - 1].1 != offered[index].1 {
                offered.swap(alpn_seen, index);
                alpn_seen += 1;
            }
        }
        offered.truncate(alpn_seen);
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
        chain: &[CertificateFact<'_>],
        time: &str,
    ) {
        for (position, certificate) in chain.iter().enumerate() {
            let fingerprint = certificate.fingerprint();
            // The same certificate twice in one chain counts once.
            if chain[..position]
                .iter()
                .any(|earlier| earlier.fingerprint() == fingerprint)
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
                    let row = ChainRow {
                        position,
                        seen: Seen::new(time),
                    };
                    rows.insert(fingerprint.into(), row);
                }
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
