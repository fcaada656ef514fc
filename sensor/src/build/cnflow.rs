//! Builds a [`CnFlowRecord`] from one flow's kernel counters.

use cipherlens_record::cnflow::{
    CnFlow, CnFlowRecord, CnFlowSchema, Direction, FlowEvent, FlowEventKind, FlowNetwork,
    InterfaceRef, TcpSummary,
};
use cipherlens_record::session::{Endpoint, IpVersion, Transport};

use std::sync::Arc;

use crate::attribution::HostInfo;
use crate::cnflow::{FlowFacts, flag_letters};
use crate::flow::{IpProtocol, community_id_v1};
use crate::time::rfc3339_from_unix_nanos;

/// Builds a record; `monotonic_to_unix` converts kernel times. Endpoints
/// are not attributed yet (the writer's enrich step does that).
pub fn cnflow_record(
    facts: &FlowFacts,
    monotonic_to_unix: u64,
    host: Option<&Arc<HostInfo>>,
    community_id_seed: u16,
) -> CnFlowRecord {
    let tcp = facts.protocol == IpProtocol::Tcp;
    let endpoint = |address: std::net::SocketAddr| Endpoint {
        address: super::address_text(address.ip()),
        port: address.port(),
        attribution: super::unattributed(),
    };
    let direction = |index: usize| Direction {
        packets: facts.packets[index],
        bytes: facts.bytes[index],
        tcp_flags: tcp.then(|| flag_letters(facts.tcp_flags[index])),
    };
    CnFlowRecord {
        schema: CnFlowSchema::V1,
        event: FlowEvent {
            kind: FlowEventKind::Cnflow,
            reason: facts.reason,
            start: rfc3339_from_unix_nanos(facts.first_ns.saturating_add(monotonic_to_unix)),
            end: rfc3339_from_unix_nanos(facts.last_ns.saturating_add(monotonic_to_unix)),
        },
        network: FlowNetwork {
            transport: if tcp { Transport::Tcp } else { Transport::Udp },
            ip_version: if facts.client.is_ipv4() {
                IpVersion::Ipv4
            } else {
                IpVersion::Ipv6
            },
            community_id: community_id_v1(
                community_id_seed,
                facts.protocol.number(),
                (facts.client.ip(), facts.client.port()),
                (facts.server.ip(), facts.server.port()),
            ),
            interface: facts.interface.clone().map(|name| InterfaceRef {
                name,
                index: facts.ifindex,
            }),
        },
        client: endpoint(facts.client),
        server: endpoint(facts.server),
        host: host.cloned(),
        cnflow: CnFlow {
            id: facts.id.clone(),
            opening_seen: facts.opening_seen,
            client_to_server: direction(0),
            server_to_client: direction(1),
            tcp: facts
                .tcp
                .as_deref()
                .cloned()
                .map(|(observed_at, metrics)| TcpSummary {
                    observed_at,
                    metrics,
                }),
        },
    }
}
