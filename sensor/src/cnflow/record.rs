//! The CNFlow record's shape (see `schema/cnflow-record.v1.json`).

use serde::Serialize;

use super::{FlowFacts, Reason, flag_letters};
use crate::attribution::{Attributor, HostInfo};
use crate::flow::community_id_v1;
use crate::record::Endpoint;
use crate::time::rfc3339_from_unix_nanos;

/// Identifier of this record layout.
pub const CNFLOW_SCHEMA_ID: &str = "cipherlens.cnflow/v1";

#[derive(Debug, Clone, Serialize)]
pub struct CnFlowRecord {
    pub schema: &'static str,
    pub event: FlowEvent,
    pub network: FlowNetwork,
    pub client: Endpoint,
    pub server: Endpoint,
    pub host: HostInfo,
    pub cnflow: CnFlow,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowEvent {
    /// Always `cnflow`.
    pub kind: &'static str,
    /// `end`, `idle`, `update` or `shutdown`.
    pub reason: Reason,
    /// First packet, RFC 3339 UTC.
    pub start: String,
    /// Latest packet.
    pub end: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowNetwork {
    pub transport: &'static str,
    #[serde(rename = "type")]
    pub ip_version: &'static str,
    pub community_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<InterfaceRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InterfaceRef {
    pub name: String,
    pub index: u32,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct TcpSummary {
    /// Whose socket the metrics are from.
    pub observed_at: super::Side,
    #[serde(flatten)]
    pub metrics: super::tcp_info::TcpMetrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct Direction {
    /// Wire packets.
    pub packets: u64,
    /// Wire bytes, link-layer headers included.
    pub bytes: u64,
    /// TCP flags seen, as letters (`SAFRPUEC`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<String>,
}

/// Builds a record; `monotonic_to_unix` converts kernel times.
pub fn build_cnflow_record(
    facts: &FlowFacts,
    monotonic_to_unix: u64,
    attributor: &mut Attributor,
    host: &HostInfo,
    community_id_seed: u16,
) -> CnFlowRecord {
    let tcp = facts.protocol == 6;
    let endpoint =
        |address: std::net::SocketAddr, pid: Option<u32>, attributor: &mut Attributor| Endpoint {
            address: address.ip().to_string(),
            port: address.port(),
            attribution: pid.map(|pid| attributor.attribute(pid)).unwrap_or_default(),
        };
    let direction = |index: usize| Direction {
        packets: facts.packets[index],
        bytes: facts.bytes[index],
        tcp_flags: tcp.then(|| flag_letters(facts.tcp_flags[index])),
    };
    CnFlowRecord {
        schema: CNFLOW_SCHEMA_ID,
        event: FlowEvent {
            kind: "cnflow",
            reason: facts.reason,
            start: rfc3339_from_unix_nanos(facts.first_ns.saturating_add(monotonic_to_unix)),
            end: rfc3339_from_unix_nanos(facts.last_ns.saturating_add(monotonic_to_unix)),
        },
        network: FlowNetwork {
            transport: if tcp { "tcp" } else { "udp" },
            ip_version: if facts.client.is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            },
            community_id: community_id_v1(
                community_id_seed,
                facts.protocol,
                (facts.client.ip(), facts.client.port()),
                (facts.server.ip(), facts.server.port()),
            ),
            interface: facts.interface.clone().map(|name| InterfaceRef {
                name,
                index: facts.ifindex,
            }),
        },
        client: endpoint(facts.client, facts.pids[0], attributor),
        server: endpoint(facts.server, facts.pids[1], attributor),
        host: host.clone(),
        cnflow: CnFlow {
            id: facts.id.clone(),
            opening_seen: facts.opening_seen,
            client_to_server: direction(0),
            server_to_client: direction(1),
            tcp: facts.tcp.clone().map(|(observed_at, metrics)| TcpSummary {
                observed_at,
                metrics,
            }),
        },
    }
}
