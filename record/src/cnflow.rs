//! One TCP or UDP flow (`cipherlens.cnflow/v1`, `schema/cnflow-record.v1.json`).
//!
//! Live capture emits a record when a flow ends, goes idle, every report
//! interval while it lasts, and for open flows at exit. TLS session records
//! point to their flow's record by its id (`cipherlens.cnflow_id`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attribution::HostInfo;
use crate::session::{Endpoint, IpVersion, Transport};

crate::schema_id!(
    /// `cipherlens.cnflow/v1`.
    CnFlowSchema = "cipherlens.cnflow/v1"
);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CnFlowRecord {
    pub schema: CnFlowSchema,
    pub event: FlowEvent,
    pub network: FlowNetwork,
    pub client: Endpoint,
    pub server: Endpoint,
    /// The node that saw the flow (live capture; a replayed capture names
    /// none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<HostInfo>>,
    pub cnflow: CnFlow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowEvent {
    pub kind: FlowEventKind,
    pub reason: Reason,
    /// First packet, RFC 3339 UTC.
    pub start: String,
    /// Latest packet.
    pub end: String,
}

/// `event.kind` of a flow record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowEventKind {
    #[default]
    Cnflow,
}

/// Why a flow record was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// RST, or FIN both ways.
    End,
    /// No packet for the idle timeout.
    Idle,
    /// The flow lasts: a periodic report.
    Update,
    /// The sensor stopped while the flow was open.
    Shutdown,
}

impl Reason {
    pub const ALL: [Reason; 4] = [Reason::End, Reason::Idle, Reason::Update, Reason::Shutdown];

    /// The name records and counters use.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::End => "end",
            Reason::Idle => "idle",
            Reason::Update => "update",
            Reason::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowNetwork {
    pub transport: Transport,
    #[serde(rename = "type")]
    pub ip_version: IpVersion,
    pub community_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<InterfaceRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterfaceRef {
    pub name: String,
    pub index: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CnFlow {
    /// Stable for the flow's life, unique on the node (32 hex digits).
    pub id: String,
    /// Whether the opening SYN was seen (else client and server are a
    /// guess by port).
    pub opening_seen: bool,
    pub client_to_server: Direction,
    pub server_to_client: Direction,
    /// TCP metrics from `tcp_info` of a local socket, when one is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TcpSummary {
    /// Whose socket the metrics are from.
    pub observed_at: Side,
    #[serde(flatten)]
    pub metrics: TcpMetrics,
}

/// Which end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Direction {
    /// Wire packets.
    pub packets: u64,
    /// Wire bytes, link-layer headers included.
    pub bytes: u64,
    /// TCP flags seen, as letters (`SAFRPUEC`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<String>,
}

/// What the kernel's `tcp_info` says about a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpMetrics {
    pub state: TcpState,
    /// Smoothed round-trip time and its variation, microseconds.
    pub rtt_us: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_var_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rtt_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_in: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_out: Option<u32>,
    /// Segments retransmitted over the connection's life.
    pub retransmitted_segments: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retransmitted_bytes: Option<u64>,
    /// Segments currently considered lost.
    pub lost_segments: u32,
    /// Out-of-order packets received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_order_packets: Option<u32>,
    /// Bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_rate: Option<u64>,
    /// Advertised receive window, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_window: Option<u32>,
    pub send_congestion_window: u32,
}

/// TCP states as `include/net/tcp_states.h` numbers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A number the kernel headers do not name.
    #[default]
    Unknown,
}

impl TcpState {
    /// From the kernel's state number.
    pub fn from_kernel(state: u8) -> Self {
        match state {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            _ => TcpState::Unknown,
        }
    }
}
