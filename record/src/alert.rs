//! A policy finding about one session, as published
//! (`cipherlens.alert/v1`, `schema/alert-record.v1.json`).
//!
//! The policy engine evaluates session records and returns [`Finding`]s;
//! the sensor publishes each as an [`AlertRecord`] naming the session it is
//! about (Community ID, CNFlow id), its endpoints and workloads, and how
//! many sessions with the same finding it stands for (deduplication).

use std::collections::BTreeMap;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attribution::HostInfo;
use crate::session::Endpoint;

crate::schema_id!(
    /// `cipherlens.alert/v1`.
    AlertSchema = "cipherlens.alert/v1"
);

/// How bad a finding is, lowest first (the order compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name records, subjects and counters use.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One value that made a rule fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EvidenceValue {
    Bool(bool),
    Integer(i64),
    Text(String),
    List(Vec<String>),
}

/// What a rule found in one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, such as `tls.version.obsolete`.
    pub rule: String,
    pub severity: Severity,
    /// One line for a person.
    pub message: String,
    /// The record fields that made the rule fire, by field path (such as
    /// `tls.protocol.version`), with their values.
    pub evidence: BTreeMap<String, EvidenceValue>,
}

/// A finding as published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertRecord {
    pub schema: AlertSchema,
    pub event: AlertEvent,
    #[serde(flatten)]
    pub finding: Finding,
    /// The session that raised the alert (the latest one it stands for).
    pub session: SessionRef,
    pub client: Endpoint,
    pub server: Endpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<HostInfo>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Always `alert`.
    pub kind: AlertKind,
    /// When the first session this alert stands for started, RFC 3339 UTC.
    pub first_seen: String,
    /// When the latest one (the alert's `session`) started.
    pub last_seen: String,
    /// Sessions this alert stands for: the one that raised it and the
    /// repeats with the same finding (same rule, server endpoint and client
    /// workload) that deduplication held back since the previous alert.
    pub count: u64,
}

/// `event.kind` of an alert record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    #[default]
    Alert,
}

/// Which session an alert is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRef {
    /// `network.community_id` of the session record.
    pub community_id: String,
    /// `cipherlens.cnflow_id` of the session record (live capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnflow_id: Option<String>,
    /// `tls.client.server_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// `event.start` of the session record.
    pub start: String,
}
