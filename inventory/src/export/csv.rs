//! The inventory as one CSV table (RFC 4180) for spreadsheets: a row per
//! counted value, so a filter on `record` and `kind` answers most
//! questions. Records:
//! - `used`: what a client workload's sessions with a server endpoint used
//!   (kind `version`, `cipher_suite`, `group`, `alpn`, `ja3`, `ja4`, `ja3s`);
//! - `offered`: what a client workload offered (kind `version`,
//!   `cipher_suite`, `group`, `key_share`, `signature_algorithm`, `alpn`);
//! - `certificate`: a certificate a connection's sessions carried (kind
//!   `server` or `client`, value the SHA-256 fingerprint);
//! - `finding`: a policy finding (value the rule id, with its severity and
//!   the latest session's message).
//!
//! Text that came off the network and starts with `=`, `+`, `-`, `@`, tab
//! or carriage return gets a leading `'`, so a spreadsheet shows it rather
//! than evaluating it as a formula.

use std::collections::HashMap;
use std::io::Write;

use crate::error::Error;
use crate::snapshot::{Certificate, Connection, Endpoint, Seen, Snapshot, Workload};

/// The header row.
pub const COLUMNS: [&str; 21] = [
    "record",
    "node",
    "server_address",
    "server_port",
    "transport",
    "sni",
    "workload",
    "kind",
    "value",
    "protocol_version",
    "code",
    "sessions",
    "first_seen",
    "last_seen",
    "severity",
    "subject",
    "issuer",
    "not_after",
    "key",
    "signature_algorithm",
    "message",
];

/// One field, quoted when it must be and defused when a spreadsheet would
/// read it as a formula.
fn field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[derive(Default)]
struct Row<'a> {
    record: &'a str,
    endpoint: Option<&'a Endpoint>,
    node: &'a str,
    workload: String,
    kind: &'a str,
    value: &'a str,
    protocol_version: &'a str,
    code: Option<u16>,
    seen: Option<&'a Seen>,
    severity: &'a str,
    certificate: Option<&'a Certificate>,
    message: &'a str,
}

impl Row<'_> {
    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let port = self
            .endpoint
            .map(|e| e.key.port.to_string())
            .unwrap_or_default();
        let key = self.certificate.map(|c| {
            let mut key = c.key_algorithm.clone();
            if let Some(curve) = &c.key_curve {
                key.push_str(&format!(" {curve}"));
            } else if let Some(bits) = c.key_bits {
                key.push_str(&format!(" {bits}"));
            }
            key
        });
        let fields: [String; 21] = [
            self.record.to_owned(),
            field(self.node),
            field(self.endpoint.map(|e| e.key.address.as_str()).unwrap_or("")),
            port,
            field(
                self.endpoint
                    .map(|e| e.key.transport.as_str())
                    .unwrap_or(""),
            ),
            field(self.endpoint.map(|e| e.key.sni.as_str()).unwrap_or("")),
            field(&self.workload),
            field(self.kind),
            field(self.value),
            field(self.protocol_version),
            self.code.map(|code| code.to_string()).unwrap_or_default(),
            self.seen
                .map(|s| s.sessions.to_string())
                .unwrap_or_default(),
            self.seen.map(|s| s.first_seen.clone()).unwrap_or_default(),
            self.seen.map(|s| s.last_seen.clone()).unwrap_or_default(),
            self.severity.to_owned(),
            field(self.certificate.map(|c| c.subject.as_str()).unwrap_or("")),
            field(self.certificate.map(|c| c.issuer.as_str()).unwrap_or("")),
            field(self.certificate.map(|c| c.not_after.as_str()).unwrap_or("")),
            field(key.as_deref().unwrap_or("")),
            field(
                self.certificate
                    .map(|c| c.signature_algorithm.as_str())
                    .unwrap_or(""),
            ),
            field(self.message),
        ];
        out.write_all(fields.join(",").as_bytes())?;
        out.write_all(b"\r\n")
    }
}

/// Writes the inventory as CSV, header first, rows in a stable order.
pub fn write(snapshot: &Snapshot, out: impl Write) -> Result<(), Error> {
    let mut out = std::io::BufWriter::new(out);
    write_rows(snapshot, &mut out)
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write {
            format: "csv",
            source,
        })
}

fn write_rows(snapshot: &Snapshot, out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(COLUMNS.join(",").as_bytes())?;
    out.write_all(b"\r\n")?;
    let endpoints: HashMap<i64, &Endpoint> = snapshot.endpoints.iter().map(|e| (e.id, e)).collect();
    let workloads: HashMap<i64, &Workload> = snapshot.workloads.iter().map(|w| (w.id, w)).collect();
    let connections: HashMap<i64, &Connection> =
        snapshot.connections.iter().map(|c| (c.id, c)).collect();
    let certificates: HashMap<&str, &Certificate> = snapshot
        .certificates
        .iter()
        .map(|c| (c.fingerprint_sha256.as_str(), c))
        .collect();
    let pair = |connection_id: i64| {
        let connection = connections.get(&connection_id)?;
        let endpoint = *endpoints.get(&connection.endpoint_id)?;
        let workload = workloads.get(&connection.workload_id)?;
        Some((endpoint, workload.key.label()))
    };
    for usage in &snapshot.usage {
        let Some((endpoint, workload)) = pair(usage.connection_id) else {
            continue;
        };
        Row {
            record: "used",
            node: &endpoint.key.node,
            endpoint: Some(endpoint),
            workload,
            kind: usage.kind.as_str(),
            value: &usage.value,
            protocol_version: &usage.protocol_version,
            code: usage.code,
            seen: Some(&usage.seen),
            ..Row::default()
        }
        .write(out)?;
    }
    for offer in &snapshot.offers {
        let Some(workload) = workloads.get(&offer.workload_id) else {
            continue;
        };
        Row {
            record: "offered",
            node: &workload.key.node,
            workload: workload.key.label(),
            kind: offer.kind.as_str(),
            value: &offer.value,
            code: offer.code,
            seen: Some(&offer.seen),
            ..Row::default()
        }
        .write(out)?;
    }
    for entry in &snapshot.chains {
        let Some((endpoint, workload)) = pair(entry.connection_id) else {
            continue;
        };
        Row {
            record: "certificate",
            node: &endpoint.key.node,
            endpoint: Some(endpoint),
            workload,
            kind: entry.side.as_str(),
            value: &entry.fingerprint_sha256,
            seen: Some(&entry.seen),
            certificate: certificates.get(entry.fingerprint_sha256.as_str()).copied(),
            ..Row::default()
        }
        .write(out)?;
    }
    for finding in &snapshot.findings {
        let Some((endpoint, workload)) = pair(finding.connection_id) else {
            continue;
        };
        Row {
            record: "finding",
            node: &endpoint.key.node,
            endpoint: Some(endpoint),
            workload,
            kind: "rule",
            value: &finding.rule,
            seen: Some(&finding.seen),
            severity: finding.severity.as_str(),
            message: &finding.message,
            ..Row::default()
        }
        .write(out)?;
    }
    Ok(())
}
