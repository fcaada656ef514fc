//! The whole inventory read back into memory, in a stable order, for the
//! exports. Reading once and exporting from plain data keeps the exporters
//! pure and the output the same on every run.

use cipherlens_record::alert::Severity;
use cipherlens_record::certificate::SubjectAltNames;
use rusqlite::Row;

use crate::error::{Error, SqliteContext};
use crate::keys::{EndpointKey, WorkloadKey};
use crate::kinds::parse_severity;
use crate::kinds::{OfferKind, Side, UsageKind};
use crate::store::Inventory;

/// First and last time, and the number of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub first_seen: String,
    pub last_seen: String,
    pub sessions: u64,
}

/// Counts of one kind of session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub established: u64,
    pub resumed: u64,
    /// The client offered a post-quantum (ML-KEM or hybrid) group.
    pub pq_offered: u64,
    /// A post-quantum group was negotiated.
    pub pq: u64,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub id: i64,
    pub key: WorkloadKey,
    /// Path of the executable, when it was read.
    pub executable_path: Option<String>,
    pub container_runtime: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub client_sessions: u64,
    pub server_sessions: u64,
    pub pq_offered_sessions: u64,
    pub pq_sessions: u64,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: i64,
    pub key: EndpointKey,
    /// `tls` or `quic`.
    pub protocol: String,
    pub server_workload_id: Option<i64>,
    pub seen: Seen,
    pub counts: SessionCounts,
}

/// One client workload's sessions with one server endpoint.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: i64,
    pub endpoint_id: i64,
    pub workload_id: i64,
    pub seen: Seen,
    pub counts: SessionCounts,
}

#[derive(Debug, Clone)]
pub struct Usage {
    pub connection_id: i64,
    pub kind: UsageKind,
    pub value: String,
    /// Version negotiated in the sessions counted ('' when none was).
    pub protocol_version: String,
    pub code: Option<u16>,
    pub seen: Seen,
}

#[derive(Debug, Clone)]
pub struct Offer {
    pub workload_id: i64,
    pub kind: OfferKind,
    pub value: String,
    pub code: Option<u16>,
    pub seen: Seen,
}

#[derive(Debug, Clone)]
pub struct Certificate {
    pub fingerprint_sha256: String,
    pub fingerprint_sha1: String,
    pub serial_number: String,
    pub subject: String,
    pub subject_common_name: Option<String>,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub key_algorithm: String,
    pub key_bits: Option<u32>,
    pub key_curve: Option<String>,
    pub subject_key_identifier: Option<String>,
    pub signature_algorithm: String,
    pub signature_algorithm_oid: String,
    pub self_signed: bool,
    pub ca: bool,
    pub subject_alt_names: SubjectAltNames,
}

/// A certificate in a chain some connection's sessions carried.
#[derive(Debug, Clone)]
pub struct ChainEntry {
    pub connection_id: i64,
    pub side: Side,
    pub fingerprint_sha256: String,
    /// 0 for the leaf (the smallest position it was seen at).
    pub chain_position: u32,
    pub seen: Seen,
}

#[derive(Debug, Clone)]
pub struct FindingEntry {
    pub connection_id: i64,
    pub rule: String,
    pub severity: Severity,
    pub seen: Seen,
    pub message: String,
    /// JSON object of the latest session's evidence.
    pub evidence: String,
}

/// Every row of an inventory, each list sorted by its key.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub workloads: Vec<Workload>,
    pub endpoints: Vec<Endpoint>,
    pub connections: Vec<Connection>,
    pub usage: Vec<Usage>,
    pub offers: Vec<Offer>,
    pub certificates: Vec<Certificate>,
    pub chains: Vec<ChainEntry>,
    pub findings: Vec<FindingEntry>,
}

fn seen(row: &Row<'_>, first: usize) -> rusqlite::Result<Seen> {
    Ok(Seen {
        first_seen: row.get(first)?,
        last_seen: row.get(first + 1)?,
        sessions: row.get::<_, i64>(first + 2)? as u64,
    })
}

fn counts(row: &Row<'_>, first: usize) -> rusqlite::Result<SessionCounts> {
    Ok(SessionCounts {
        established: row.get::<_, i64>(first)? as u64,
        resumed: row.get::<_, i64>(first + 1)? as u64,
        pq_offered: row.get::<_, i64>(first + 2)? as u64,
        pq: row.get::<_, i64>(first + 3)? as u64,
    })
}

/// A stored text that must be one of a fixed set of names.
fn known<T>(
    table: &'static str,
    value: String,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(&value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::new(Error::UnknownValue { table, value }),
        )
    })
}

impl Snapshot {
    /// Reads every row of `inventory` (one read transaction, so the rows
    /// agree with each other while writers go on).
    pub fn read(inventory: &Inventory) -> Result<Snapshot, Error> {
        let path = inventory.path();
        let connection = &inventory.connection;
        connection
            .execute_batch("BEGIN DEFERRED")
            .context(path, "begin a read")?;
        let snapshot = Snapshot::read_rows(connection).context(path, "read the inventory");
        // The page cache is no use to an export once everything is read.
        connection
            .execute_batch("COMMIT; PRAGMA shrink_memory;")
            .context(path, "end a read")?;
        snapshot
    }

    fn read_rows(connection: &rusqlite::Connection) -> rusqlite::Result<Snapshot> {
        fn all<T>(
            connection: &rusqlite::Connection,
            sql: &str,
            map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
        ) -> rusqlite::Result<Vec<T>> {
            connection.prepare(sql)?.query_map([], map)?.collect()
        }
        let workloads = all(
            connection,
            "SELECT workload_id, node, executable, container_id, k8s_namespace, k8s_pod, k8s_container, \
             tls_fingerprint, executable_path, container_runtime, first_seen, last_seen, client_sessions, \
             server_sessions, pq_offered_sessions, pq_sessions FROM workloads ORDER BY workload_id",
            |row| {
                Ok(Workload {
                    id: row.get(0)?,
                    key: WorkloadKey {
                        node: row.get(1)?,
                        executable: row.get(2)?,
                        container_id: row.get(3)?,
                        k8s_namespace: row.get(4)?,
                        k8s_pod: row.get(5)?,
                        k8s_container: row.get(6)?,
                        tls_fingerprint: row.get(7)?,
                    },
                    executable_path: row.get(8)?,
                    container_runtime: row.get(9)?,
                    first_seen: row.get(10)?,
                    last_seen: row.get(11)?,
                    client_sessions: row.get::<_, i64>(12)? as u64,
                    server_sessions: row.get::<_, i64>(13)? as u64,
                    pq_offered_sessions: row.get::<_, i64>(14)? as u64,
                    pq_sessions: row.get::<_, i64>(15)? as u64,
                })
            },
        )?;
        let endpoints = all(
            connection,
            "SELECT endpoint_id, node, transport, address, port, sni, protocol, server_workload_id, \
             first_seen, last_seen, sessions, established_sessions, resumed_sessions, \
             pq_offered_sessions, pq_sessions FROM endpoints ORDER BY endpoint_id",
            |row| {
                Ok(Endpoint {
                    id: row.get(0)?,
                    key: EndpointKey {
                        node: row.get(1)?,
                        transport: row.get(2)?,
                        address: row.get(3)?,
                        port: row.get(4)?,
                        sni: row.get(5)?,
                    },
                    protocol: row.get(6)?,
                    server_workload_id: row.get(7)?,
                    seen: seen(row, 8)?,
                    counts: counts(row, 11)?,
                })
            },
        )?;
        let connections = all(
            connection,
            "SELECT connection_id, endpoint_id, workload_id, first_seen, last_seen, sessions, \
             established_sessions, resumed_sessions, pq_offered_sessions, pq_sessions \
             FROM connections ORDER BY connection_id",
            |row| {
                Ok(Connection {
                    id: row.get(0)?,
                    endpoint_id: row.get(1)?,
                    workload_id: row.get(2)?,
                    seen: seen(row, 3)?,
                    counts: counts(row, 6)?,
                })
            },
        )?;
        let usage = all(
            connection,
            "SELECT connection_id, kind, value, protocol_version, code, first_seen, last_seen, \
             sessions FROM connection_usage ORDER BY connection_id, kind, value, protocol_version",
            |row| {
                Ok(Usage {
                    connection_id: row.get(0)?,
                    kind: known("connection_usage", row.get(1)?, UsageKind::parse)?,
                    value: row.get(2)?,
                    protocol_version: row.get(3)?,
                    code: row.get(4)?,
                    seen: seen(row, 5)?,
                })
            },
        )?;
        let offers = all(
            connection,
            "SELECT workload_id, kind, value, code, first_seen, last_seen, sessions \
             FROM workload_offers ORDER BY workload_id, kind, value",
            |row| {
                Ok(Offer {
                    workload_id: row.get(0)?,
                    kind: known("workload_offers", row.get(1)?, OfferKind::parse)?,
                    value: row.get(2)?,
                    code: row.get(3)?,
                    seen: seen(row, 4)?,
                })
            },
        )?;
        let certificates = all(
            connection,
            "SELECT fingerprint_sha256, fingerprint_sha1, serial_number, subject, subject_common_name, \
             issuer, not_before, not_after, key_algorithm, key_bits, key_curve, subject_key_identifier, \
             signature_algorithm, signature_algorithm_oid, self_signed, ca, subject_alt_names \
             FROM certificates ORDER BY fingerprint_sha256",
            |row| {
                let alt_names: String = row.get(16)?;
                Ok(Certificate {
                    fingerprint_sha256: row.get(0)?,
                    fingerprint_sha1: row.get(1)?,
                    serial_number: row.get(2)?,
                    subject: row.get(3)?,
                    subject_common_name: row.get(4)?,
                    issuer: row.get(5)?,
                    not_before: row.get(6)?,
                    not_after: row.get(7)?,
                    key_algorithm: row.get(8)?,
                    key_bits: row.get(9)?,
                    key_curve: row.get(10)?,
                    subject_key_identifier: row.get(11)?,
                    signature_algorithm: row.get(12)?,
                    signature_algorithm_oid: row.get(13)?,
                    self_signed: row.get(14)?,
                    ca: row.get(15)?,
                    subject_alt_names: serde_json::from_str(&alt_names).map_err(|error| {
                        rusqlite::Error::FromSqlConversionFailure(
                            16,
                            rusqlite::types::Type::Text,
                            Box::new(error),
                        )
                    })?,
                })
            },
        )?;
        let chains = all(
            connection,
            "SELECT connection_id, side, fingerprint_sha256, chain_position, first_seen, last_seen, \
             sessions FROM connection_certificates ORDER BY connection_id, side, fingerprint_sha256",
            |row| {
                Ok(ChainEntry {
                    connection_id: row.get(0)?,
                    side: known("connection_certificates", row.get(1)?, Side::parse)?,
                    fingerprint_sha256: row.get(2)?,
                    chain_position: row.get(3)?,
                    seen: seen(row, 4)?,
                })
            },
        )?;
        let findings = all(
            connection,
            "SELECT connection_id, rule, severity, first_seen, last_seen, sessions, message, evidence \
             FROM findings ORDER BY connection_id, rule, severity",
            |row| {
                Ok(FindingEntry {
                    connection_id: row.get(0)?,
                    rule: row.get(1)?,
                    severity: known("findings", row.get(2)?, parse_severity)?,
                    seen: seen(row, 3)?,
                    message: row.get(6)?,
                    evidence: row.get(7)?,
                })
            },
        )?;
        Ok(Snapshot {
            workloads,
            endpoints,
            connections,
            usage,
            offers,
            certificates,
            chains,
            findings,
        })
    }

    /// The nodes the inventory covers, sorted.
    pub fn nodes(&self) -> Vec<&str> {
        let mut nodes: Vec<&str> = self
            .endpoints
            .iter()
            .map(|endpoint| endpoint.key.node.as_str())
            .chain(
                self.workloads
                    .iter()
                    .map(|workload| workload.key.node.as_str()),
            )
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// All sessions counted (each session has one server endpoint).
    pub fn sessions(&self) -> u64 {
        self.endpoints
            .iter()
            .map(|endpoint| endpoint.seen.sessions)
            .sum()
    }
}

impl Inventory {
    /// Reads the whole inventory for an export.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        Snapshot::read(self)
    }
}
