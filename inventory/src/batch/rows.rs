//! The rows a batch accumulates, one per asset, before they are written.

use std::collections::HashMap;

use cipherlens_record::alert::Severity;

use crate::keys::{EndpointKey, WorkloadKey};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// First and last time something was seen, and in how many sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub first: String,
    pub last: String,
    pub sessions: u64,
}

impl Seen {
    pub(super) fn new(time: &str) -> Seen {
        Seen {
            first: time.to_owned(),
            last: time.to_owned(),
            sessions: 1,
        }
    }

    pub(super) fn add(&mut self, time: &str) {
        self.sessions += 1;
        if time < self.first.as_str() {
            time.clone_into(&mut self.first);
        }
        if time > self.last.as_str() {
            time.clone_into(&mut self.last);
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SessionCounts {
    pub established: u64,
    pub resumed: u64,
    pub pq_offered: u64,
    pub pq: u64,
}

#[derive(Debug)]
pub(crate) struct EndpointRow {
    pub key: EndpointKey,
    pub protocol: &'static str,
    /// The local workload serving it, with the time it was last seen doing so.
    pub server_workload: Option<(i64, String)>,
    pub seen: Seen,
    pub counts: SessionCounts,
}

#[derive(Debug)]
pub(crate) struct WorkloadRow {
    pub key: WorkloadKey,
    pub executable_path: String,
    pub container_runtime: String,
    pub first: String,
    pub last: String,
    pub client_sessions: u64,
    pub server_sessions: u64,
    pub pq_offered: u64,
    pub pq: u64,
}

#[derive(Debug)]
pub(crate) struct ConnectionRow {
    pub endpoint_id: i64,
    pub workload_id: i64,
    pub seen: Seen,
    pub counts: SessionCounts,
}

#[derive(Debug)]
pub(crate) struct ValueRow {
    pub code: Option<u16>,
    pub seen: Seen,
}

#[derive(Debug)]
pub(crate) struct ChainRow {
    pub position: u32,
    pub seen: Seen,
}

#[derive(Debug)]
pub(crate) struct FindingRow {
    pub rule: String,
    pub severity: Severity,
    pub seen: Seen,
    pub message: String,
    /// JSON object of the evidence of the latest session.
    pub evidence: String,
}

pub(super) fn add_counts(total: &mut SessionCounts, one: &SessionCounts) {
    total.established += one.established;
    total.resumed += one.resumed;
    total.pq_offered += one.pq_offered;
    total.pq += one.pq;
}

pub(super) fn add_value(
    rows: &mut Map<Box<str>, ValueRow>,
    value: &str,
    code: Option<u16>,
    time: &str,
) {
    match rows.get_mut(value) {
        Some(row) => {
            row.seen.add(time);
            if code.is_some() {
                row.code = code;
            }
        }
        None => {
            rows.insert(
                value.into(),
                ValueRow {
                    code,
                    seen: Seen::new(time),
                },
            );
        }
    }
}

/// A certificate's columns, as the `certificates` table stores them.
#[derive(Debug)]
pub(crate) struct CertificateRow {
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
    /// JSON object of the subjectAltName lists (`{}` without any).
    pub subject_alt_names: String,
}
