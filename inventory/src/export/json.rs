//! The inventory as one JSON document (`cipherlens.inventory/v1`): server
//! endpoints with, per client workload, what their sessions used, the
//! certificates and the findings; the workloads with what they offered; the
//! certificates. Ids are the inventory's (16 hex digits), so `jq` can join.
//! Written one endpoint at a time, so memory stays flat on large fleets.

use std::collections::HashMap;
use std::io::Write;

use serde_json::{Value, json};

use crate::error::Error;
use crate::keys::id_hex;
use crate::snapshot::{
    ChainEntry, Connection, Endpoint, FindingEntry, Seen, Snapshot, Usage, Workload,
};

/// The `schema` of the document.
pub const SCHEMA: &str = "cipherlens.inventory/v1";

fn seen(seen: &Seen) -> [(&'static str, Value); 3] {
    [
        ("first_seen", json!(seen.first_seen)),
        ("last_seen", json!(seen.last_seen)),
        ("sessions", json!(seen.sessions)),
    ]
}

fn object(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

/// Rows of a child table grouped by their parent's id (rows are sorted by
/// it, so each group is a slice).
fn grouped<T>(rows: &[T], parent: impl Fn(&T) -> i64) -> HashMap<i64, &[T]> {
    let mut groups = HashMap::new();
    let mut start = 0;
    while start < rows.len() {
        let id = parent(&rows[start]);
        let end = start + rows[start..].partition_point(|row| parent(row) == id);
        groups.insert(id, &rows[start..end]);
        start = end;
    }
    groups
}

fn usage(row: &Usage) -> Value {
    object(
        [
            ("kind", json!(row.kind.as_str())),
            ("value", json!(row.value)),
            ("protocol_version", json!(row.protocol_version)),
            ("code", json!(row.code)),
        ]
        .into_iter()
        .chain(seen(&row.seen)),
    )
}

fn chain(row: &ChainEntry) -> Value {
    object(
        [
            ("side", json!(row.side.as_str())),
            ("fingerprint_sha256", json!(row.fingerprint_sha256)),
            ("chain_position", json!(row.chain_position)),
        ]
        .into_iter()
        .chain(seen(&row.seen)),
    )
}

fn finding(row: &FindingEntry) -> Value {
    let evidence: Value = serde_json::from_str(&row.evidence).unwrap_or(Value::Null);
    object(
        [
            ("rule", json!(row.rule)),
            ("severity", json!(row.severity.as_str())),
            ("message", json!(row.message)),
            ("evidence", evidence),
        ]
        .into_iter()
        .chain(seen(&row.seen)),
    )
}

struct Children<'s> {
    usage: HashMap<i64, &'s [Usage]>,
    chains: HashMap<i64, &'s [ChainEntry]>,
    findings: HashMap<i64, &'s [FindingEntry]>,
}

fn list<T>(rows: Option<&&[T]>, each: impl Fn(&T) -> Value) -> Value {
    Value::Array(
        rows.map(|rows| rows.iter().map(each).collect())
            .unwrap_or_default(),
    )
}

fn client(connection: &Connection, children: &Children<'_>) -> Value {
    object(
        [
            ("workload", json!(id_hex(connection.workload_id))),
            ("established_sessions", json!(connection.counts.established)),
            ("resumed_sessions", json!(connection.counts.resumed)),
            ("pq_offered_sessions", json!(connection.counts.pq_offered)),
            ("pq_sessions", json!(connection.counts.pq)),
            ("used", list(children.usage.get(&connection.id), usage)),
            (
                "certificates",
                list(children.chains.get(&connection.id), chain),
            ),
            (
                "findings",
                list(children.findings.get(&connection.id), finding),
            ),
        ]
        .into_iter()
        .chain(seen(&connection.seen)),
    )
}

fn endpoint(endpoint: &Endpoint, clients: Vec<Value>) -> Value {
    let key = &endpoint.key;
    object(
        [
            ("id", json!(id_hex(endpoint.id))),
            ("node", json!(key.node)),
            ("transport", json!(key.transport)),
            ("protocol", json!(endpoint.protocol)),
            ("address", json!(key.address)),
            ("port", json!(key.port)),
            ("sni", json!(key.sni)),
            (
                "server_workload",
                json!(endpoint.server_workload_id.map(id_hex)),
            ),
            ("established_sessions", json!(endpoint.counts.established)),
            ("resumed_sessions", json!(endpoint.counts.resumed)),
            ("pq_offered_sessions", json!(endpoint.counts.pq_offered)),
            ("pq_sessions", json!(endpoint.counts.pq)),
            ("clients", Value::Array(clients)),
        ]
        .into_iter()
        .chain(seen(&endpoint.seen)),
    )
}

fn workload(workload: &Workload, offers: Vec<Value>) -> Value {
    let key = &workload.key;
    json!({
        "id": id_hex(workload.id),
        "node": key.node,
        "label": key.label(),
        "executable": key.executable,
        "executable_path": workload.executable_path,
        "container_id": key.container_id,
        "container_runtime": workload.container_runtime,
        "k8s_namespace": key.k8s_namespace,
        "k8s_pod": key.k8s_pod,
        "k8s_container": key.k8s_container,
        "tls_fingerprint": key.tls_fingerprint,
        "first_seen": workload.first_seen,
        "last_seen": workload.last_seen,
        "client_sessions": workload.client_sessions,
        "server_sessions": workload.server_sessions,
        "pq_offered_sessions": workload.pq_offered_sessions,
        "pq_sessions": workload.pq_sessions,
        "offered": offers,
    })
}

/// Writes the inventory as JSON. `generated_at` is RFC 3339.
pub fn write(snapshot: &Snapshot, generated_at: &str, mut out: impl Write) -> Result<(), Error> {
    let io = |source| Error::Write {
        format: "json",
        source,
    };
    let json = |value: &Value| {
        serde_json::to_string(value).map_err(|source| Error::Json {
            what: "the JSON export",
            source,
        })
    };
    let header = json!({
        "schema": SCHEMA,
        "generated_at": generated_at,
        "nodes": snapshot.nodes(),
        "sessions": snapshot.sessions(),
    });
    let header = json(&header)?;
    // The header object, left open for the three lists.
    write!(out, "{},\"endpoints\":[", &header[..header.len() - 1]).map_err(io)?;
    let children = Children {
        usage: grouped(&snapshot.usage, |row| row.connection_id),
        chains: grouped(&snapshot.chains, |row| row.connection_id),
        findings: grouped(&snapshot.findings, |row| row.connection_id),
    };
    let mut connections: HashMap<i64, Vec<&Connection>> = HashMap::new();
    for connection in &snapshot.connections {
        connections
            .entry(connection.endpoint_id)
            .or_default()
            .push(connection);
    }
    for (index, row) in snapshot.endpoints.iter().enumerate() {
        let clients = connections
            .get(&row.id)
            .map(|list| list.iter().map(|c| client(c, &children)).collect())
            .unwrap_or_default();
        let separator = if index == 0 { "" } else { "," };
        write!(out, "{separator}{}", json(&endpoint(row, clients))?).map_err(io)?;
    }
    write!(out, "],\"workloads\":[").map_err(io)?;
    let offers = grouped(&snapshot.offers, |row| row.workload_id);
    for (index, row) in snapshot.workloads.iter().enumerate() {
        let offered = offers
            .get(&row.id)
            .map(|rows| {
                rows.iter()
                    .map(|offer| {
                        object(
                            [
                                ("kind", json!(offer.kind.as_str())),
                                ("value", json!(offer.value)),
                                ("code", json!(offer.code)),
                            ]
                            .into_iter()
                            .chain(seen(&offer.seen)),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let separator = if index == 0 { "" } else { "," };
        write!(out, "{separator}{}", json(&workload(row, offered))?).map_err(io)?;
    }
    write!(out, "],\"certificates\":[").map_err(io)?;
    for (index, certificate) in snapshot.certificates.iter().enumerate() {
        let value = json!({
            "fingerprint_sha256": certificate.fingerprint_sha256,
            "fingerprint_sha1": certificate.fingerprint_sha1,
            "serial_number": certificate.serial_number,
            "subject": certificate.subject,
            "subject_common_name": certificate.subject_common_name,
            "issuer": certificate.issuer,
            "not_before": certificate.not_before,
            "not_after": certificate.not_after,
            "key_algorithm": certificate.key_algorithm,
            "key_bits": certificate.key_bits,
            "key_curve": certificate.key_curve,
            "subject_key_identifier": certificate.subject_key_identifier,
            "signature_algorithm": certificate.signature_algorithm,
            "signature_algorithm_oid": certificate.signature_algorithm_oid,
            "self_signed": certificate.self_signed,
            "ca": certificate.ca,
            "subject_alt_names": certificate.subject_alt_names,
        });
        let separator = if index == 0 { "" } else { "," };
        write!(out, "{separator}{}", json(&value)?).map_err(io)?;
    }
    writeln!(out, "]}}").map_err(io)?;
    Ok(())
}
