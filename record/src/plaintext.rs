//! Plaintext of one TLS library call, as published
//! (`cipherlens.plaintext/v1`, `schema/plaintext-record.v1.json`).
//!
//! Off unless an operator turns it on, and kept apart from session records
//! (its own subject) so access to it can be granted separately. The bytes
//! are the call's, up to a cap, after redaction; the record says what was
//! cut and what was redacted, and names the flow as the session and CNFlow
//! records do (Community ID, CNFlow id, socket cookie).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attribution::{EndpointAttribution, HostInfo};

crate::schema_id!(
    /// `cipherlens.plaintext/v1`.
    PlaintextSchema = "cipherlens.plaintext/v1"
);

/// Which way the bytes went, seen from the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `SSL_read*`: the process received them.
    Read,
    /// `SSL_write*`: the process sent them.
    Write,
}

/// One call's plaintext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaintextRecord {
    pub schema: PlaintextSchema,
    /// When the call returned, RFC 3339 UTC.
    pub time: String,
    pub direction: Direction,
    pub process: CallingThread,
    /// The process, container and pod, as session records name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<std::sync::Arc<EndpointAttribution>>,
    pub flow: PlaintextFlow,
    /// Bytes the call moved.
    pub byte_count: u64,
    /// The bytes kept (the call's first `byte_count` bytes up to the cap),
    /// redacted, base64 (RFC 4648, with padding).
    pub data_base64: String,
    /// Fewer bytes are kept than the call moved.
    pub truncated: bool,
    /// What was redacted in `data_base64`.
    pub redactions: Vec<Redaction>,
    /// The TLS library family (`openssl-3`, `boringssl`...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_library: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<HostInfo>>,
}

/// The thread that made the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingThread {
    pub pid: u32,
    pub tid: u32,
    /// The thread's `comm`.
    pub comm: String,
    /// cgroup v2 id of the thread.
    pub cgroup_id: u64,
}

/// The flow the call's bytes belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaintextFlow {
    /// The local socket (0 when the call could not be tied to one).
    pub socket_cookie: u64,
    /// Position of this call among the flow's plaintext records (both
    /// directions), from 0.
    pub sequence: u64,
    /// The session record's `network.community_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_id: Option<String>,
    /// The session's CNFlow record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnflow_id: Option<String>,
    /// The session's server name (SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// One redaction rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// The pattern (an HTTP header name, matched without regard to case).
    pub pattern: String,
    /// Values redacted.
    pub count: u32,
}
