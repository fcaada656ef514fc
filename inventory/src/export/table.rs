//! A report for a person at a terminal: server endpoints by their worst
//! policy finding, post-quantum readiness (how many sessions and endpoints
//! negotiate a hybrid key exchange, which clients offer one and which
//! servers refuse it), and the certificates that expire soonest.
//!
//! Names, SNI and subjects come off the network: control and bidi
//! characters are shown escaped, so a crafted name cannot move the cursor
//! or reorder what the terminal shows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write;

use cipherlens_record::alert::Severity;

use crate::algorithms::Algorithm;
use crate::error::Error;
use crate::kinds::UsageKind;
use crate::mapping;
use crate::snapshot::{Connection, Endpoint, Snapshot};
use crate::time::Timestamp;

/// What the report needs besides the inventory.
#[derive(Debug, Clone)]
pub struct Options {
    /// Expiry is counted from here.
    pub now: Timestamp,
    /// Rows per section at most.
    pub limit: usize,
}

/// Text safe to print: control and bidi characters escaped, at most
/// `width` characters (cut with `…`).
fn cell(text: &str, width: usize) -> String {
    let mut safe = String::with_capacity(text.len());
    for character in text.chars() {
        let bidi = matches!(character, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
        if character.is_control() || bidi {
            let _ = write!(safe, "\\u{{{:x}}}", u32::from(character));
        } else {
            safe.push(character);
        }
    }
    if safe.chars().count() > width {
        let mut cut: String = safe.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        safe
    }
}

/// Left-aligned columns, two spaces apart, each as wide as its widest cell.
fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|index| {
            rows.iter()
                .filter_map(|row| row.get(index))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut line = String::from("  ");
        for (index, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if index + 1 < row.len() {
                let pad = widths[index] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn endpoint_name(endpoint: &Endpoint) -> String {
    let key = &endpoint.key;
    let address = if key.address.contains(':') {
        format!("[{}]:{}/{}", key.address, key.port, key.transport)
    } else {
        format!("{}:{}/{}", key.address, key.port, key.transport)
    };
    if key.sni.is_empty() {
        address
    } else {
        format!("{address} {}", key.sni)
    }
}

struct Indexes<'s> {
    endpoints: HashMap<i64, &'s Endpoint>,
    connections: HashMap<i64, &'s Connection>,
}

/// Writes the report.
pub fn write(snapshot: &Snapshot, options: &Options, mut out: impl Write) -> Result<(), Error> {
    let indexes = Indexes {
        endpoints: snapshot.endpoints.iter().map(|e| (e.id, e)).collect(),
        connections: snapshot.connections.iter().map(|c| (c.id, c)).collect(),
    };
    let mut text = summary(snapshot);
    text.push_str(&findings(snapshot, &indexes, options.limit));
    text.push_str(&post_quantum(snapshot, &indexes, options.limit));
    text.push_str(&expiring(snapshot, &indexes, options));
    out.write_all(text.as_bytes())
        .map_err(|source| Error::Write {
            format: "table",
            source,
        })
}

fn summary(snapshot: &Snapshot) -> String {
    let first = snapshot.endpoints.iter().map(|e| &e.seen.first_seen).min();
    let last = snapshot.endpoints.iter().map(|e| &e.seen.last_seen).max();
    let nodes: Vec<String> = snapshot.nodes().iter().map(|n| cell(n, 40)).collect();
    let mut text = format!(
        "cipherlens crypto inventory\n  nodes: {}\n  {} sessions, {} server endpoints, {} workloads, {} certificates\n",
        if nodes.is_empty() {
            "-".to_owned()
        } else {
            nodes.join(", ")
        },
        snapshot.sessions(),
        snapshot.endpoints.len(),
        snapshot.workloads.len(),
        snapshot.certificates.len(),
    );
    if let (Some(first), Some(last)) = (first, last) {
        let _ = writeln!(text, "  seen from {first} to {last}");
    }
    text
}

fn findings(snapshot: &Snapshot, indexes: &Indexes<'_>, limit: usize) -> String {
    // Per endpoint: rule -> (severity, sessions).
    let mut by_endpoint: BTreeMap<i64, BTreeMap<(&str, Severity), u64>> = BTreeMap::new();
    for finding in &snapshot.findings {
        let Some(connection) = indexes.connections.get(&finding.connection_id) else {
            continue;
        };
        *by_endpoint
            .entry(connection.endpoint_id)
            .or_default()
            .entry((&finding.rule, finding.severity))
            .or_default() += finding.seen.sessions;
    }
    let mut versions: HashMap<i64, BTreeSet<&str>> = HashMap::new();
    for usage in snapshot
        .usage
        .iter()
        .filter(|u| u.kind == UsageKind::Version)
    {
        if let Some(connection) = indexes.connections.get(&usage.connection_id) {
            versions
                .entry(connection.endpoint_id)
                .or_default()
                .insert(&usage.value);
        }
    }
    let mut ranked: Vec<(Severity, u64, i64)> = by_endpoint
        .iter()
        .map(|(endpoint, rules)| {
            let worst = rules
                .keys()
                .map(|(_, s)| *s)
                .max()
                .unwrap_or(Severity::Info);
            (worst, rules.values().sum(), *endpoint)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut text = String::from("\nEndpoints by worst finding\n");
    if ranked.is_empty() {
        text.push_str("  no policy findings\n");
        return text;
    }
    let mut rows = vec![
        [
            "SEVERITY", "SESSIONS", "ENDPOINT", "NODE", "VERSIONS", "FINDINGS",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for (worst, _, endpoint_id) in ranked.iter().take(limit) {
        let Some(endpoint) = indexes.endpoints.get(endpoint_id) else {
            continue;
        };
        let mut rules: Vec<(&(&str, Severity), &u64)> = by_endpoint[endpoint_id].iter().collect();
        rules.sort_by(|a, b| b.0.1.cmp(&a.0.1).then(b.1.cmp(a.1)).then(a.0.0.cmp(b.0.0)));
        let rules: Vec<String> = rules
            .iter()
            .map(|((rule, severity), count)| format!("{rule} {} ×{count}", severity.as_str()))
            .collect();
        let versions: Vec<&str> = versions
            .get(endpoint_id)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        rows.push(vec![
            worst.as_str().to_owned(),
            endpoint.seen.sessions.to_string(),
            cell(&endpoint_name(endpoint), 48),
            cell(&endpoint.key.node, 16),
            cell(&versions.join(", "), 24),
            cell(&rules.join("; "), 80),
        ]);
    }
    text.push_str(&columns(&rows));
    let clean = snapshot.endpoints.len() - by_endpoint.len();
    if ranked.len() > limit {
        let _ = writeln!(
            text,
            "  ... and {} more endpoints with findings",
            ranked.len() - limit
        );
    }
    let _ = writeln!(text, "  {clean} endpoints without findings");
    text
}

fn is_post_quantum(group: &Algorithm) -> bool {
    group.quantum > 0
}

fn post_quantum(snapshot: &Snapshot, indexes: &Indexes<'_>, limit: usize) -> String {
    let sessions = snapshot.sessions();
    let hybrid: u64 = snapshot.endpoints.iter().map(|e| e.counts.pq).sum();
    let endpoints_with = snapshot
        .endpoints
        .iter()
        .filter(|e| e.counts.pq > 0)
        .count() as u64;
    let mut text = String::from("\nPost-quantum readiness\n");
    let _ = writeln!(
        text,
        "  sessions with a hybrid (post-quantum) key exchange: {hybrid} of {sessions} ({})",
        percent(hybrid, sessions)
    );
    let _ = writeln!(
        text,
        "  endpoints that negotiated one: {endpoints_with} of {} ({})",
        snapshot.endpoints.len(),
        percent(endpoints_with, snapshot.endpoints.len() as u64)
    );

    let mut offering: Vec<_> = snapshot
        .workloads
        .iter()
        .filter(|w| w.pq_offered_sessions > 0)
        .collect();
    offering.sort_by(|a, b| {
        b.pq_offered_sessions
            .cmp(&a.pq_offered_sessions)
            .then(a.id.cmp(&b.id))
    });
    text.push_str("  clients that offered one:\n");
    if offering.is_empty() {
        text.push_str("    none\n");
    } else {
        let mut rows = vec![
            ["NODE", "CLIENT", "OFFERED IN", "NEGOTIATED IN"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for workload in offering.iter().take(limit) {
            rows.push(vec![
                cell(&workload.key.node, 16),
                cell(&workload.key.label(), 48),
                format!(
                    "{} of {} sessions",
                    workload.pq_offered_sessions, workload.client_sessions
                ),
                workload.pq_sessions.to_string(),
            ]);
        }
        text.push_str(&indent(&columns(&rows)));
    }

    // Sessions where the client offered one and the server chose classical.
    let mut refused: BTreeMap<i64, (u64, BTreeSet<String>)> = BTreeMap::new();
    for connection in &snapshot.connections {
        let declined = connection
            .counts
            .pq_offered
            .saturating_sub(connection.counts.pq);
        if declined > 0 {
            refused.entry(connection.endpoint_id).or_default().0 += declined;
        }
    }
    for usage in snapshot.usage.iter().filter(|u| u.kind == UsageKind::Group) {
        let Some(connection) = indexes.connections.get(&usage.connection_id) else {
            continue;
        };
        if let Some(entry) = refused.get_mut(&connection.endpoint_id)
            && !is_post_quantum(&mapping::group(&usage.value))
        {
            entry.1.insert(usage.value.clone());
        }
    }
    text.push_str(
        "  servers that refused it (the client offered one, the server chose a classical group):\n",
    );
    if refused.is_empty() {
        text.push_str("    none\n");
    } else {
        let mut ranked: Vec<_> = refused.iter().collect();
        ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        let mut rows = vec![
            ["NODE", "SERVER", "SESSIONS", "CHOSE"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for (endpoint_id, (count, groups)) in ranked.iter().take(limit) {
            let Some(endpoint) = indexes.endpoints.get(endpoint_id) else {
                continue;
            };
            let chose: Vec<&str> = groups.iter().map(String::as_str).collect();
            rows.push(vec![
                cell(&endpoint.key.node, 16),
                cell(&endpoint_name(endpoint), 48),
                count.to_string(),
                cell(&chose.join(", "), 32),
            ]);
        }
        text.push_str(&indent(&columns(&rows)));
    }
    text
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

fn expiring(snapshot: &Snapshot, indexes: &Indexes<'_>, options: &Options) -> String {
    let mut endpoints_of: HashMap<&str, BTreeSet<i64>> = HashMap::new();
    for entry in &snapshot.chains {
        if let Some(connection) = indexes.connections.get(&entry.connection_id) {
            endpoints_of
                .entry(&entry.fingerprint_sha256)
                .or_default()
                .insert(connection.endpoint_id);
        }
    }
    let mut certificates: Vec<_> = snapshot
        .certificates
        .iter()
        .filter_map(|c| Timestamp::parse(&c.not_after).map(|expiry| (expiry, c)))
        .collect();
    certificates.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.fingerprint_sha256.cmp(&b.1.fingerprint_sha256))
    });
    let mut text = String::from("\nCertificates expiring soonest\n");
    if certificates.is_empty() {
        text.push_str("  no certificates (TLS 1.3 sends them encrypted)\n");
        return text;
    }
    let mut rows = vec![
        [
            "NOT AFTER",
            "DAYS LEFT",
            "SUBJECT",
            "KEY",
            "SIGNATURE",
            "ENDPOINTS",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for (expiry, certificate) in certificates.iter().take(options.limit) {
        let days = (expiry.unix_seconds() - options.now.unix_seconds()).div_euclid(86_400);
        let left = if days < 0 {
            format!("expired {} days ago", -days)
        } else {
            days.to_string()
        };
        let key = match (&certificate.key_curve, certificate.key_bits) {
            (Some(curve), _) => format!("{} {curve}", certificate.key_algorithm),
            (None, Some(bits)) => format!("{} {bits}", certificate.key_algorithm),
            (None, None) => certificate.key_algorithm.clone(),
        };
        rows.push(vec![
            expiry.to_rfc3339_seconds(),
            left,
            cell(&certificate.subject, 56),
            cell(&key, 20),
            cell(&certificate.signature_algorithm, 28),
            endpoints_of
                .get(certificate.fingerprint_sha256.as_str())
                .map_or(0, BTreeSet::len)
                .to_string(),
        ]);
    }
    text.push_str(&columns(&rows));
    if certificates.len() > options.limit {
        let _ = writeln!(
            text,
            "  ... and {} more",
            certificates.len() - options.limit
        );
    }
    text
}
