//! CNFlow records: the flow telemetry TLS sessions point to.
//!
//! The kernel counts every TCP and UDP flow on the attached interfaces
//! (`FlowCounters`: packets and wire bytes per direction, first and last
//! packet, TCP flags, sending sockets, who sent the SYN). Every scan
//! interval the live loop reads the counters and, per flow:
//!
//! - emits a final record when the flow ended (RST, or FIN both ways:
//!   reason `end`) or went idle (`idle`), and deletes the kernel entry;
//! - emits an `update` record for a long flow every report interval;
//! - at shutdown, emits what is still open (`shutdown`).
//!
//! The CNFlow id is stable for the flow's life and unique on the node: the
//! first 128 bits of SHA-256 over the boot id, the flow key and the kernel
//! time of its first packet, in hex. A TLS session record carries the id of
//! its flow (`cipherlens.cnflow_id`), computed the same way from the same
//! kernel entry.
//!
//! Client and server: the SYN sender is the client; when the SYN was not
//! seen (the sensor started mid-flow, or UDP), the endpoint with the lower
//! port is taken as the server.

pub mod capture;
pub mod cpu_cache;
pub mod namespace_ids;
pub mod tcp_metrics;

use std::collections::HashMap;
use std::net::SocketAddr;

use cipherlens_common::{FlowCounters, OPENED_BY_HIGH, OPENED_BY_LOW};
pub use cipherlens_record::cnflow::{Reason, Side, TcpMetrics};

use crate::flow::{FlowKey, IpProtocol, endpoints};

/// TCP flag bits.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

/// Settings of the CNFlow scanner.
#[derive(Debug, Clone)]
pub struct CnFlowConfig {
    /// Period of an `update` record for a flow that lasts (0: none).
    pub report_interval_ns: u64,
    /// A flow with no packet for this long has ended.
    pub idle_timeout_ns: u64,
}

impl Default for CnFlowConfig {
    fn default() -> Self {
        Self {
            report_interval_ns: 60 * 1_000_000_000,
            idle_timeout_ns: 120 * 1_000_000_000,
        }
    }
}

/// One flow's facts for a record, oriented client -> server.
#[derive(Debug, Clone)]
pub struct FlowFacts {
    pub id: String,
    pub reason: Reason,
    pub protocol: IpProtocol,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Whether the SYN was seen (so client and server are known, not guessed).
    pub opening_seen: bool,
    pub first_ns: u64,
    pub last_ns: u64,
    pub ifindex: u32,
    /// The interface's name, filled in by the caller.
    pub interface: Option<String>,
    /// [client -> server, server -> client].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub tcp_flags: [u8; 2],
    pub socket_cookies: [u64; 2],
    /// Processes owning the sockets, filled in by the caller.
    pub pids: [Option<u32>; 2],
    /// TCP metrics of a local socket of the flow (the client's if it is on
    /// this node, else the server's), filled in by the caller. Boxed: most
    /// flows have none, and a scan may hold 100,000 facts at once.
    pub tcp: Option<Box<(Side, TcpMetrics)>>,
}

/// A flow's id: see the module docs.
pub fn flow_id(boot_id: &[u8], key: &FlowKey, first_ns: u64) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(boot_id);
    // The rest in one update (per-update bookkeeping showed in profiles).
    let mut rest = [0u8; 16 + 16 + 2 + 2 + 1 + 8];
    rest[..16].copy_from_slice(&key.low_address);
    rest[16..32].copy_from_slice(&key.high_address);
    rest[32..34].copy_from_slice(&key.low_port.to_be_bytes());
    rest[34..36].copy_from_slice(&key.high_port.to_be_bytes());
    rest[36] = key.protocol;
    rest[37..].copy_from_slice(&first_ns.to_le_bytes());
    context.update(&rest);
    let mut id = [0u8; 32];
    match hex::encode_to_slice(&context.finish().as_ref()[..16], &mut id) {
        Ok(()) => std::str::from_utf8(&id).unwrap_or_default().to_owned(),
        // 16 bytes always fit 32 hex digits.
        Err(_) => String::new(),
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`): kernel times restart
/// at boot, so ids include it.
pub fn boot_id() -> Vec<u8> {
    std::fs::read("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

/// Flags as Zeek/Suricata style letters (`SAFRPUEC` order by bit).
pub fn flag_letters(flags: u8) -> String {
    [
        (SYN, 'S'),
        (ACK, 'A'),
        (FIN, 'F'),
        (RST, 'R'),
        (PSH, 'P'),
        (URG, 'U'),
        (ECE, 'E'),
        (CWR, 'C'),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, letter)| *letter)
    .collect()
}

/// Orients a kernel entry client -> server.
pub fn orient(key: &FlowKey, counters: &FlowCounters) -> (SocketAddr, SocketAddr, bool, bool) {
    let (low, high) = endpoints(key);
    match counters.opened_by {
        OPENED_BY_LOW => (low, high, true, true),
        OPENED_BY_HIGH => (high, low, false, true),
        // Guess: the lower port serves.
        _ if key.low_port <= key.high_port => (high, low, false, false),
        _ => (low, high, true, false),
    }
}

/// Whether a flow has ended: an RST, or a FIN each way (TCP only).
pub fn ended(protocol: IpProtocol, counters: &FlowCounters) -> bool {
    protocol == IpProtocol::Tcp && {
        let [low, high] = counters.directions.map(|direction| direction.tcp_flags);
        (low | high) & RST != 0 || (low & FIN != 0 && high & FIN != 0)
    }
}

/// The CNFlow scanner's memory of flows it reported.
#[derive(Debug, Default)]
pub struct CnFlowTracker {
    /// Key -> (first_ns of the kernel entry, last report time).
    reported: HashMap<FlowKey, (u64, u64)>,
    boot_id: Vec<u8>,
    pub config: CnFlowConfig,
}

/// What one scan decided for one kernel entry.
#[derive(Debug)]
pub struct Decision {
    pub facts: FlowFacts,
    /// Delete the kernel entry (the flow is over).
    pub remove: bool,
}

impl CnFlowTracker {
    pub fn new(config: CnFlowConfig) -> Self {
        Self::with_id_seed(config, boot_id())
    }

    /// A tracker whose ids derive from `seed` instead of this boot's id
    /// (flows of a capture file).
    pub fn with_id_seed(config: CnFlowConfig, seed: Vec<u8>) -> Self {
        Self {
            reported: HashMap::new(),
            boot_id: seed,
            config,
        }
    }

    /// The id of a flow's current kernel entry.
    /// What flow ids are made from besides the flow (this boot's id, or a
    /// replay's seed), for [`flow_id`] elsewhere.
    pub fn id_seed(&self) -> &[u8] {
        &self.boot_id
    }

    pub fn id_of(&self, key: &FlowKey, first_ns: u64) -> String {
        flow_id(&self.boot_id, key, first_ns)
    }

    /// Decides for one kernel entry at monotonic time `now_ns`; `shutdown`
    /// reports every flow.
    pub fn decide(
        &mut self,
        key: &FlowKey,
        counters: &FlowCounters,
        now_ns: u64,
        shutdown: bool,
    ) -> Option<Decision> {
        // The kernel counts TCP and UDP only.
        let protocol = IpProtocol::from_number(key.protocol)?;
        let reason = if ended(protocol, counters) {
            Reason::End
        } else if now_ns.saturating_sub(counters.last_ns()) > self.config.idle_timeout_ns {
            Reason::Idle
        } else if shutdown {
            Reason::Shutdown
        } else {
            let since = match self.reported.get(key) {
                Some((first, last)) if *first == counters.first_ns => *last,
                _ => counters.first_ns,
            };
            let interval = self.config.report_interval_ns;
            // A tenth of the interval of slack: scans come every scan
            // interval, a few milliseconds early or late, and an update
            // that is due must not slip by a whole scan for that.
            if interval == 0 || now_ns.saturating_sub(since) + interval / 10 < interval {
                return None;
            }
            Reason::Update
        };
        let remove = reason != Reason::Update;
        if remove {
            self.reported.remove(key);
        } else {
            self.reported.insert(*key, (counters.first_ns, now_ns));
        }
        let (client, server, client_is_low, opening_seen) = orient(key, counters);
        let (to_server, to_client) = if client_is_low { (0, 1) } else { (1, 0) };
        let (server_bound, client_bound) = (
            &counters.directions[to_server],
            &counters.directions[to_client],
        );
        Some(Decision {
            facts: FlowFacts {
                id: self.id_of(key, counters.first_ns),
                reason,
                protocol,
                client,
                server,
                opening_seen,
                first_ns: counters.first_ns,
                last_ns: counters.last_ns(),
                ifindex: counters.ifindex,
                interface: None,
                packets: [server_bound.packets, client_bound.packets],
                bytes: [server_bound.bytes, client_bound.bytes],
                tcp_flags: [server_bound.tcp_flags, client_bound.tcp_flags],
                socket_cookies: [server_bound.socket_cookie, client_bound.socket_cookie],
                pids: [None, None],
                tcp: None,
            },
            remove,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_common::DirectionCounters;
    use std::net::Ipv4Addr;

    fn key() -> FlowKey {
        let client = Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped().octets();
        let server = Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().octets();
        FlowKey::new(cipherlens_common::IPPROTO_TCP, client, 40000, server, 443)
    }

    /// SHA-256 over the boot id, the key's fields in order (ports big
    /// endian) and the first packet's time (little endian); 128 bits, hex.
    #[test]
    fn flow_ids_hash_the_documented_input() {
        let key = key();
        let mut input = b"boot-id".to_vec();
        input.extend_from_slice(&key.low_address);
        input.extend_from_slice(&key.high_address);
        input.extend_from_slice(&key.low_port.to_be_bytes());
        input.extend_from_slice(&key.high_port.to_be_bytes());
        input.push(key.protocol);
        input.extend_from_slice(&1_234_567u64.to_le_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA256, &input);
        let expected = hex::encode(&digest.as_ref()[..16]);
        assert_eq!(flow_id(b"boot-id", &key, 1_234_567), expected);
        assert_eq!(expected.len(), 32);
    }

    fn counters(opened_by: u8, flags: [u8; 2], last_ns: u64) -> FlowCounters {
        let direction = |packets, bytes, tcp_flags| DirectionCounters {
            packets,
            bytes,
            last_ns,
            tcp_flags,
            ..DirectionCounters::default()
        };
        FlowCounters {
            first_ns: 1_000,
            opened_by,
            directions: [direction(3, 300, flags[0]), direction(5, 5000, flags[1])],
            ..FlowCounters::default()
        }
    }

    #[test]
    fn orientation_follows_the_syn_or_guesses_by_port() {
        let key = key();
        // Low endpoint is 10.0.0.1:443 (the server); it did not send the SYN.
        let (client, server, client_is_low, seen) =
            orient(&key, &counters(OPENED_BY_HIGH, [0, 0], 0));
        assert_eq!(
            (client.to_string().as_str(), server.to_string().as_str()),
            ("10.0.0.2:40000", "10.0.0.1:443")
        );
        assert!(!client_is_low && seen);
        let (client, _, _, seen) = orient(&key, &counters(0, [0, 0], 0));
        assert_eq!((client.port(), seen), (40000, false));
    }

    #[test]
    fn end_idle_update_and_shutdown() {
        let mut tracker = CnFlowTracker::new(CnFlowConfig {
            report_interval_ns: 10_000,
            idle_timeout_ns: 100_000,
        });
        let key = key();
        let open = counters(OPENED_BY_HIGH, [ACK, SYN | ACK], 5_000);
        assert!(
            tracker.decide(&key, &open, 6_000, false).is_none(),
            "too early"
        );
        let update = tracker.decide(&key, &open, 12_000, false).expect("update");
        assert_eq!(update.facts.reason, Reason::Update);
        assert!(!update.remove);
        // Oriented: client (high endpoint, index 1) -> server.
        assert_eq!(update.facts.packets, [5, 3]);
        assert_eq!(update.facts.bytes, [5000, 300]);
        assert!(
            tracker.decide(&key, &open, 15_000, false).is_none(),
            "reported recently"
        );
        let closed = counters(OPENED_BY_HIGH, [FIN | ACK, FIN | ACK], 20_000);
        let end = tracker.decide(&key, &closed, 21_000, false).expect("end");
        assert_eq!((end.facts.reason, end.remove), (Reason::End, true));
        let reset = counters(0, [RST, 0], 20_000);
        assert_eq!(
            tracker
                .decide(&key, &reset, 21_000, false)
                .map(|d| d.facts.reason),
            Some(Reason::End)
        );
        let quiet = counters(0, [ACK, ACK], 20_000);
        assert_eq!(
            tracker
                .decide(&key, &quiet, 200_000, false)
                .map(|d| d.facts.reason),
            Some(Reason::Idle)
        );
        assert_eq!(
            tracker
                .decide(&key, &quiet, 21_000, true)
                .map(|d| d.facts.reason),
            Some(Reason::Shutdown)
        );
        // The same id for the same entry, another for a new entry.
        assert_eq!(tracker.id_of(&key, 1_000), update.facts.id);
        assert_ne!(tracker.id_of(&key, 2_000), update.facts.id);
        assert_eq!(update.facts.id.len(), 32);
    }

    #[test]
    fn flags_as_letters() {
        assert_eq!(flag_letters(SYN | ACK | FIN | PSH), "SAFP");
        assert_eq!(flag_letters(0), "");
    }
}
