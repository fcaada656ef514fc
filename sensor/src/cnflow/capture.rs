//! CNFlow records from a capture file (`replay`).
//!
//! Why: live capture reports every flow it sees; a capture replayed should
//! give the same kind of record, so offline and live output have one shape.
//! The kernel's per-flow counters ([`FlowCounters`]) are kept here from the
//! packets instead, with the kernel's rules (a TCP flow starts at a SYN or
//! at data, counted by the sender's side of the key, wire bytes), and the
//! live scanner's decisions ([`CnFlowTracker::decide`]: orientation, end,
//! idle, update) are taken at capture time. A capture has no sockets,
//! processes, interfaces or TCP metrics: those fields stay empty. Ids are
//! derived from a fixed seed instead of the boot id, so replaying a file
//! twice gives the same ids.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use cipherlens_capture::{Packet, Transport};
use cipherlens_common::{DirectionCounters, FlowCounters, OPENED_BY_HIGH, OPENED_BY_LOW};

use super::{CnFlowConfig, CnFlowTracker, FlowFacts};
use crate::flow::{FlowKey, IpProtocol, endpoints, flow_key};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// The seed of replayed flows' ids (in place of the boot id).
const REPLAY_ID_SEED: &[u8] = b"cipherlens-replay";
/// How often (capture time) flows are checked for their end, idleness and
/// updates, as the live scanner does (so a flow's last ACK after both FINs
/// is counted, as the kernel counts it).
const SCAN_INTERVAL_NS: u64 = 1_000_000_000;
/// Ids of flows that ended, kept for sessions emitted just after.
const ENDED_IDS: usize = 4096;

/// The flows of one capture, as the kernel would count them.
pub struct CaptureFlows {
    tracker: CnFlowTracker,
    flows: HashMap<FlowKey, FlowCounters, foldhash::fast::RandomState>,
    ended: VecDeque<(FlowKey, String)>,
    max_flows: usize,
    /// New flows not counted because the table was full.
    pub dropped: u64,
    last_scan_ns: u64,
}

impl CaptureFlows {
    pub fn new(config: CnFlowConfig, max_flows: usize) -> Self {
        Self {
            tracker: CnFlowTracker::with_id_seed(config, REPLAY_ID_SEED.to_vec()),
            flows: HashMap::default(),
            ended: VecDeque::new(),
            max_flows,
            dropped: 0,
            last_scan_ns: 0,
        }
    }

    /// Counts one packet of `wire_len` bytes captured at `now_ns` (Unix
    /// time); flows that are over or due go to `out`.
    pub fn on_packet(
        &mut self,
        packet: &Packet<'_>,
        wire_len: u64,
        now_ns: u64,
        out: &mut Vec<FlowFacts>,
    ) {
        let (protocol, source, destination, flags, has_payload) = match packet.transport {
            Transport::Tcp(segment) => (
                IpProtocol::Tcp,
                SocketAddr::new(packet.src, segment.src_port),
                SocketAddr::new(packet.dst, segment.dst_port),
                segment.flags.0,
                !segment.payload.is_empty(),
            ),
            Transport::Udp(datagram) => (
                IpProtocol::Udp,
                SocketAddr::new(packet.src, datagram.src_port),
                SocketAddr::new(packet.dst, datagram.dst_port),
                0,
                true,
            ),
            Transport::Other(_) => return,
        };
        let key = flow_key(protocol, source, destination);
        let from_low = endpoints(&key).0 == source;
        let direction = usize::from(!from_low);
        let opening = flags & (SYN | ACK) == SYN;
        if opening
            && self
                .flows
                .get(&key)
                .is_some_and(|counters| super::ended(protocol, counters))
        {
            // A new connection on a 4-tuple whose last one is over (the
            // kernel's entry would have been reported by a scan between).
            self.report(key, now_ns, false, out);
        }
        match self.flows.get_mut(&key) {
            Some(counters) => {
                let own = &mut counters.directions[direction];
                own.packets += 1;
                own.bytes += wire_len;
                own.tcp_flags |= flags;
                own.last_ns = now_ns;
            }
            None => {
                // As the kernel: never from a bare ACK, FIN or RST.
                if protocol == IpProtocol::Tcp && !opening && flags & SYN == 0 && !has_payload {
                    return;
                }
                if self.flows.len() >= self.max_flows {
                    self.dropped += 1;
                    return;
                }
                let mut counters = FlowCounters {
                    first_ns: now_ns,
                    opened_by: match (opening, from_low) {
                        (false, _) => 0,
                        (true, true) => OPENED_BY_LOW,
                        (true, false) => OPENED_BY_HIGH,
                    },
                    ..FlowCounters::default()
                };
                counters.directions[direction] = DirectionCounters {
                    packets: 1,
                    bytes: wire_len,
                    last_ns: now_ns,
                    tcp_flags: flags,
                    ..DirectionCounters::default()
                };
                self.flows.insert(key, counters);
            }
        }
        if now_ns.saturating_sub(self.last_scan_ns) >= SCAN_INTERVAL_NS {
            self.last_scan_ns = now_ns;
            self.scan(now_ns, false, out);
        }
    }

    /// The CNFlow id of the flow `key` names (open, or ended lately).
    pub fn id_of(&self, key: &FlowKey) -> Option<String> {
        match self.flows.get(key) {
            Some(counters) => Some(self.tracker.id_of(key, counters.first_ns)),
            None => self
                .ended
                .iter()
                .rev()
                .find(|(ended, _)| ended == key)
                .map(|(_, id)| id.clone()),
        }
    }

    /// At the end of the capture: every flow still open (`shutdown`).
    pub fn finish(&mut self, now_ns: u64, out: &mut Vec<FlowFacts>) {
        self.scan(now_ns, true, out);
    }

    fn scan(&mut self, now_ns: u64, end_of_input: bool, out: &mut Vec<FlowFacts>) {
        let mut keys: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .map(|(key, counters)| (counters.first_ns, *key))
            .collect();
        // Records in the order the flows began, so replay is reproducible.
        keys.sort_unstable_by_key(|(first, key)| {
            (
                *first,
                key.low_port,
                key.high_port,
                key.low_address,
                key.high_address,
            )
        });
        for (_, key) in keys {
            self.report(key, now_ns, end_of_input, out);
        }
    }

    /// The tracker's decision for one flow; a finished flow is forgotten.
    fn report(&mut self, key: FlowKey, now_ns: u64, shutdown: bool, out: &mut Vec<FlowFacts>) {
        let Some(counters) = self.flows.get(&key) else {
            return;
        };
        let Some(decision) = self.tracker.decide(&key, counters, now_ns, shutdown) else {
            return;
        };
        if decision.remove {
            self.flows.remove(&key);
            if self.ended.len() >= ENDED_IDS {
                self.ended.pop_front();
            }
            self.ended.push_back((key, decision.facts.id.clone()));
        }
        out.push(decision.facts);
    }
}
