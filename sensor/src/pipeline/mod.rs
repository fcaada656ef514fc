//! The session pipeline shared by `replay` and live capture: decoded packets
//! in, session records out.
//!
//! Packets are grouped by [`FlowKey`]; TCP flows are reassembled and
//! fed to a TLS handshake tracker ([`tcp`]), UDP flows that open with a QUIC
//! Initial are decrypted and fed to the same tracker ([`quic`]). A session's
//! record is emitted once its handshake is over, when the connection closes,
//! after an idle timeout, or at the end of input, exactly once.

pub mod finished;
pub mod quic;
pub mod tcp;

use std::collections::HashMap;
use std::net::SocketAddr;

use cipherlens_capture::{Packet, Transport as PacketTransport, Tunnel};
use cipherlens_parsers::tls::Peer;
use cipherlens_parsers::tls::keylog::{ConnectionSecrets, KeyLog};

pub use cipherlens_record::stats::PipelineStats;
pub use finished::{
    FinishedSession, PacketObservation, SessionContext, SessionObservation, SessionOutcome,
    peer_index,
};

use crate::flow::{FlowKey, IpProtocol, endpoints, flow_key};
use cipherlens_record::session::{EmittedOn, Source};
use quic::{DatagramOutcome, QuicSession};
use tcp::TcpSession;

/// Bounds and timers of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Out-of-order bytes held per TCP direction before a hole is given up.
    pub max_reassembly_bytes: usize,
    /// Largest TLS handshake message accepted.
    pub max_handshake_message: usize,
    /// Flows tracked at once; new flows beyond it are counted and ignored.
    pub max_flows: usize,
    /// A flow with no packet for this long is closed.
    pub idle_timeout_nanos: u64,
    /// Where the packets come from, copied into records.
    pub source: Source,
    /// Capture file or interface, copied into records.
    pub input: Option<String>,
    /// Also compute the original-order JA4 forms (`ja4_o`, `ja4_ro`).
    pub ja4_original_order: bool,
    /// Seed of `network.community_id` (0 unless the site's other tools use
    /// another; it must match theirs for the ids to join).
    pub community_id_seed: u16,
    /// Keep TLS 1.3 handshake records encrypted for a key log to open
    /// (`--keylog-file`, pcapng secrets): up to this many bytes per
    /// direction; 0 keeps none.
    pub max_sealed_bytes: usize,
}

/// What `--keylog-file` sets [`PipelineConfig::max_sealed_bytes`] to: a
/// server's encrypted flight with a long chain fits.
pub const SEALED_BYTES_WITH_KEY_LOG: usize = 128 * 1024;

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            max_reassembly_bytes: 1 << 20,
            max_handshake_message: 256 * 1024,
            max_flows: 262_144,
            idle_timeout_nanos: 120 * 1_000_000_000,
            source: Source::Replay,
            input: None,
            ja4_original_order: false,
            community_id_seed: 0,
            max_sealed_bytes: 0,
        }
    }
}

enum Session {
    Tcp(Box<TcpSession>),
    Quic(Box<QuicSession>),
}

/// Packets in, records out.
pub struct SessionPipeline<F: FnMut(FinishedSession)> {
    config: PipelineConfig,
    /// Keyed by a per-process random seed (foldhash): flow keys come from
    /// the network, so the hash must not be predictable, but SipHash was
    /// 4% of replay time.
    flows: HashMap<FlowKey, Session, foldhash::fast::RandomState>,
    emit: F,
    stats: PipelineStats,
    last_sweep_nanos: u64,
    /// Processes that sessions' sockets were just found to belong to, for
    /// attribution to look up while they still run ([`Self::take_new_pids`]).
    new_pids: Vec<u32>,
    /// The packet at hand replaced its flow's session (a reused QUIC
    /// 4-tuple): the new session takes the packet's kernel facts.
    replaced_flow: bool,
    /// TLS secrets by client random (`--keylog-file`, pcapng secrets).
    key_log: KeyLog,
}

/// Pids kept for [`SessionPipeline::take_new_pids`] at most; beyond, a
/// process is looked up only when its session's record is built.
const MAX_NEW_PIDS: usize = 4096;

const SWEEP_INTERVAL_NANOS: u64 = 1_000_000_000;

/// The key log's secrets for the connection whose ClientHello `tracker`
/// holds; counts whether there were any.
fn secrets_for(
    tracker: &cipherlens_parsers::tls::HandshakeTracker,
    keys: &KeyLog,
    stats: &mut PipelineStats,
) -> Option<ConnectionSecrets> {
    let secrets = tracker
        .summary()
        .client_hello
        .as_ref()
        .and_then(|hello| keys.get(&hello.random))
        .cloned();
    match &secrets {
        Some(_) => stats.handshakes_decrypted += 1,
        None => stats.handshakes_without_keys += 1,
    }
    secrets
}

/// Opens a QUIC session's kept Handshake packets with its secrets.
fn open_quic_sealed(session: &mut QuicSession, keys: &KeyLog, stats: &mut PipelineStats) {
    if session.has_sealed()
        && let Some(secrets) = secrets_for(&session.tracker, keys, stats)
    {
        session.open_sealed(&secrets);
    }
}

/// Opens a TCP session's kept TLS 1.3 records with its secrets.
fn open_sealed(session: &mut TcpSession, keys: &KeyLog, stats: &mut PipelineStats) {
    if session.tracker.has_sealed_records()
        && let Some(secrets) = secrets_for(&session.tracker, keys, stats)
    {
        session.tracker.open_sealed(&secrets);
    }
}

impl<F: FnMut(FinishedSession)> SessionPipeline<F> {
    /// A pipeline that hands each finished record to `emit`.
    pub fn new(config: PipelineConfig, emit: F) -> Self {
        Self {
            config,
            flows: HashMap::default(),
            emit,
            stats: PipelineStats::default(),
            last_sweep_nanos: 0,
            new_pids: Vec::new(),
            replaced_flow: false,
            key_log: KeyLog::default(),
        }
    }

    /// The pids sessions' sockets were found to belong to since the last
    /// call. A short-lived client may exit before its session's record is
    /// built; looked up now, its process and container are still there.
    pub fn take_new_pids(&mut self) -> std::vec::Drain<'_, u32> {
        self.new_pids.drain(..)
    }

    /// Counters so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// The TLS secrets sessions are opened with; add key log text here.
    pub fn key_log_mut(&mut self) -> &mut KeyLog {
        &mut self.key_log
    }

    /// Keeps TLS 1.3 handshake records of sessions started from now on for
    /// a key log to open (secrets turned up: a pcapng's Decryption Secrets
    /// Block).
    pub fn keep_sealed_records(&mut self, max_bytes: usize) {
        self.config.max_sealed_bytes = self.config.max_sealed_bytes.max(max_bytes);
    }

    /// The TLS secrets taken so far.
    pub fn key_log(&self) -> &KeyLog {
        &self.key_log
    }

    /// Flows currently tracked.
    pub fn tracked_flows(&self) -> usize {
        self.flows.len()
    }

    /// [`Self::on_packet`] for a packet the kernel saw, with what only the
    /// kernel knows about it (see [`SessionObservation::add`]).
    pub fn on_observed_packet(
        &mut self,
        packet: &Packet<'_>,
        now: u64,
        observation: &PacketObservation<'_>,
    ) {
        let (key, source) = match packet.transport {
            PacketTransport::Tcp(segment) => {
                let source = SocketAddr::new(packet.src, segment.src_port);
                let destination = SocketAddr::new(packet.dst, segment.dst_port);
                let key = flow_key(IpProtocol::Tcp, source, destination);
                if observation.opens_flow && starts_client_hello(segment.payload) {
                    self.retire_ended(&key);
                }
                (key, source)
            }
            PacketTransport::Udp(datagram) => {
                let source = SocketAddr::new(packet.src, datagram.src_port);
                let destination = SocketAddr::new(packet.dst, datagram.dst_port);
                (flow_key(IpProtocol::Udp, source, destination), source)
            }
            PacketTransport::Other(_) => return self.on_packet(packet, now),
        };
        // Before the packet, because its record may be emitted while it is
        // handled; after it only when the packet created the session.
        let existed = self.observe(&key, source, observation);
        self.on_packet(packet, now);
        if !existed || std::mem::take(&mut self.replaced_flow) {
            self.observe(&key, source, observation);
        }
    }

    /// A new connection's ClientHello opened the 4-tuple's kernel flow: a
    /// session still held for it that was recorded or closed is an earlier
    /// connection's whose end or reuse went unseen, and goes. One in its
    /// handshake stays (its kernel entry may have been evicted).
    fn retire_ended(&mut self, key: &FlowKey) {
        if matches!(self.flows.get(key), Some(Session::Tcp(old)) if old.is_over()) {
            self.retire(key, true);
        }
    }

    /// Ends the session held for `key` so a new connection can take its
    /// place; `unseen_end`: the old connection's end was never seen
    /// (counted).
    fn retire(&mut self, key: &FlowKey, unseen_end: bool) {
        if let Some(old) = self.flows.remove(key) {
            if unseen_end {
                self.stats.flows_replaced_unseen_end += 1;
            }
            self.finish(old, EmittedOn::ConnectionClosed);
        }
    }

    /// Adds `observation` to the flow's session; false when there is none.
    fn observe(
        &mut self,
        key: &FlowKey,
        source: SocketAddr,
        observation: &PacketObservation<'_>,
    ) -> bool {
        let (initiator, slot) = match self.flows.get_mut(key) {
            Some(Session::Tcp(session)) => (session.initiator, &mut session.observation),
            Some(Session::Quic(session)) => (session.initiator, &mut session.observation),
            None => return false,
        };
        let from = if source == initiator {
            Peer::Initiator
        } else {
            Peer::Responder
        };
        let learned = slot
            .get_or_insert_with(SessionObservation::default)
            .add(from, observation);
        if let Some(pid) = learned
            && self.new_pids.len() < MAX_NEW_PIDS
        {
            self.new_pids.push(pid);
        }
        true
    }

    /// Processes one decoded packet captured at `now` (Unix nanoseconds).
    pub fn on_packet(&mut self, packet: &Packet<'_>, now: u64) {
        self.stats.packets += 1;
        match packet.transport {
            PacketTransport::Tcp(segment) => {
                self.stats.tcp_segments += 1;
                let source = SocketAddr::new(packet.src, segment.src_port);
                let destination = SocketAddr::new(packet.dst, segment.dst_port);
                self.on_tcp(
                    source,
                    destination,
                    packet.vlan,
                    packet.tunnel,
                    &segment,
                    now,
                );
            }
            PacketTransport::Udp(datagram) => {
                self.stats.udp_datagrams += 1;
                let source = SocketAddr::new(packet.src, datagram.src_port);
                let destination = SocketAddr::new(packet.dst, datagram.dst_port);
                let payload = datagram.payload;
                self.on_udp(
                    source,
                    destination,
                    packet.vlan,
                    packet.tunnel,
                    payload,
                    now,
                );
            }
            PacketTransport::Other(_) => self.stats.other_packets += 1,
        }
        if now.saturating_sub(self.last_sweep_nanos) >= SWEEP_INTERVAL_NANOS {
            self.expire_idle(now);
            self.last_sweep_nanos = now;
        }
    }

    fn on_tcp(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        vlan_id: Option<u16>,
        tunnel: Option<Tunnel>,
        segment: &cipherlens_capture::TcpSegment<'_>,
        now: u64,
    ) {
        let key = flow_key(IpProtocol::Tcp, source, destination);
        let opening_syn = segment.flags.syn() && !segment.flags.ack();
        // A new connection on a reused 4-tuple replaces a closed one, one
        // whose handshake is over (its SYN cannot come again; live capture
        // does not copy the close of such flows), or one whose client has
        // sent data already: a SYN with another ISN after data opens another
        // connection (the old one's end went unseen; counted).
        if opening_syn
            && let Some(Session::Tcp(old)) = self.flows.get(&key)
            && (old.is_over() || old.opens_another_connection(segment.seq))
        {
            let unseen_end = !old.is_over();
            self.retire(&key, unseen_end);
        }
        if !self.flows.contains_key(&key) {
            if !self.admit_flow() {
                return;
            }
            // The SYN sender opens; a SYN-ACK sender answers; else the first sender is assumed.
            let (initiator, responder) = if segment.flags.syn() && segment.flags.ack() {
                (destination, source)
            } else {
                (source, destination)
            };
            let session = TcpSession::new(initiator, responder, vlan_id, now, &self.config);
            self.flows.insert(key, Session::Tcp(Box::new(session)));
        }
        let Some(Session::Tcp(session)) = self.flows.get_mut(&key) else {
            return;
        };
        let peer = if source == session.initiator {
            Peer::Initiator
        } else {
            Peer::Responder
        };
        // The first tunnel the session's packets came out of.
        session.tunnel = session.tunnel.or(tunnel);
        session.on_segment(peer, segment, now);
        let reason = if session.is_closed() {
            Some(EmittedOn::ConnectionClosed)
        } else if !session.emitted && session.is_exhausted() {
            Some(EmittedOn::HandshakeFinished)
        } else {
            None
        };
        match reason {
            Some(EmittedOn::ConnectionClosed) => {
                if let Some(session) = self.flows.remove(&key) {
                    self.finish(session, EmittedOn::ConnectionClosed);
                }
            }
            Some(reason) => {
                if let Some(Session::Tcp(session)) = self.flows.get_mut(&key) {
                    session.emitted = true;
                    if session.is_tls() {
                        open_sealed(session, &self.key_log, &mut self.stats);
                        let record = session.finish(reason, &self.config);
                        self.stats.tls_sessions += 1;
                        self.deliver(record);
                    }
                }
            }
            None => {}
        }
    }

    fn on_udp(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        vlan_id: Option<u16>,
        tunnel: Option<Tunnel>,
        payload: &[u8],
        now: u64,
    ) {
        let key = flow_key(IpProtocol::Udp, source, destination);
        if !self.flows.contains_key(&key) {
            // Only UDP flows that open with a QUIC client Initial are followed.
            if !quic::looks_like_initial(payload) {
                return;
            }
            let max_sealed = self.config.max_sealed_bytes;
            let Some(session) =
                QuicSession::open(source, destination, vlan_id, payload, now, max_sealed)
            else {
                self.stats.quic_undecryptable += 1;
                return;
            };
            if !self.admit_flow() {
                return;
            }
            self.flows.insert(key, Session::Quic(Box::new(session)));
        } else {
            let Some(Session::Quic(session)) = self.flows.get_mut(&key) else {
                return;
            };
            let peer = if source == session.initiator {
                Peer::Initiator
            } else {
                Peer::Responder
            };
            match session.on_datagram(peer, payload, now) {
                Ok(DatagramOutcome::Handled) => {}
                Ok(DatagramOutcome::NewConnection) => {
                    self.replace_quic_session(key, source, destination, vlan_id, payload, now);
                }
                Err(_) => self.stats.quic_undecryptable += 1,
            }
        }
        let Some(Session::Quic(session)) = self.flows.get_mut(&key) else {
            return;
        };
        session.tunnel = session.tunnel.or(tunnel);
        if !session.emitted && session.is_exhausted() {
            session.emitted = true;
            open_quic_sealed(session, &self.key_log, &mut self.stats);
            let record = session.finish(EmittedOn::HandshakeFinished, &self.config);
            self.stats.quic_sessions += 1;
            self.deliver(record);
        }
    }

    /// A new connection on a 4-tuple whose session is still tracked: the
    /// old one's record is due (if it was not sent), the new one starts.
    fn replace_quic_session(
        &mut self,
        key: FlowKey,
        source: SocketAddr,
        destination: SocketAddr,
        vlan_id: Option<u16>,
        payload: &[u8],
        now: u64,
    ) {
        if let Some(old) = self.flows.remove(&key) {
            self.finish(old, EmittedOn::ConnectionClosed);
        }
        match QuicSession::open(
            source,
            destination,
            vlan_id,
            payload,
            now,
            self.config.max_sealed_bytes,
        ) {
            Some(session) => {
                self.stats.flows_created += 1;
                self.flows.insert(key, Session::Quic(Box::new(session)));
                self.replaced_flow = true;
            }
            None => self.stats.quic_undecryptable += 1,
        }
    }

    fn admit_flow(&mut self) -> bool {
        if self.flows.len() >= self.config.max_flows {
            self.stats.flows_dropped_table_full += 1;
            tracing::warn!(
                max_flows = self.config.max_flows,
                "flow table full; new flow ignored"
            );
            return false;
        }
        self.stats.flows_created += 1;
        true
    }

    /// Closes flows idle for longer than the timeout.
    pub fn expire_idle(&mut self, now: u64) {
        let timeout = self.config.idle_timeout_nanos;
        let mut idle: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .map(|(key, session)| {
                let last = match session {
                    Session::Tcp(s) => s.last_unix_nanos,
                    Session::Quic(s) => s.last_unix_nanos,
                };
                (last, *key)
            })
            .filter(|(last, _)| now.saturating_sub(*last) > timeout)
            .collect();
        // The table's iteration order is random per process; records come
        // out in the order the flows went quiet, so replay is reproducible.
        idle.sort_unstable_by_key(|(last, key)| (*last, output_order(key)));
        for (_, key) in idle {
            if let Some(session) = self.flows.remove(&key) {
                self.finish(session, EmittedOn::IdleTimeout);
            }
        }
    }

    /// Emits every open session (end of a capture file, or shutdown).
    pub fn finish_all(&mut self) {
        let mut keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        keys.sort_unstable_by_key(output_order);
        for key in keys {
            if let Some(session) = self.flows.remove(&key) {
                self.finish(session, EmittedOn::EndOfInput);
            }
        }
    }

    fn finish(&mut self, session: Session, reason: EmittedOn) {
        match session {
            Session::Tcp(mut session) => {
                if session.emitted {
                    return;
                }
                session.flush();
                if session.is_tls() {
                    open_sealed(&mut session, &self.key_log, &mut self.stats);
                    let record = session.finish(reason, &self.config);
                    self.stats.tls_sessions += 1;
                    self.deliver(record);
                }
            }
            Session::Quic(mut session) => {
                if !session.emitted && session.is_quic() {
                    open_quic_sealed(&mut session, &self.key_log, &mut self.stats);
                    let record = session.finish(reason, &self.config);
                    self.stats.quic_sessions += 1;
                    self.deliver(record);
                }
            }
        }
    }

    fn deliver(&mut self, record: FinishedSession) {
        self.stats.records_emitted += 1;
        (self.emit)(record);
    }
}

/// The order flows are emitted in when several are due at once (idle or at
/// the end of input): protocol, then the endpoints. The table's iteration
/// order is random per process; this keeps output reproducible.
fn output_order(key: &FlowKey) -> (u8, SocketAddr, SocketAddr) {
    let (low, high) = endpoints(key);
    (key.protocol, low, high)
}

/// Whether a TCP payload starts with a TLS handshake record holding a
/// ClientHello (RFC 8446 section 5.1: content type 22, then the
/// handshake's type 1 after the 5-byte record header).
fn starts_client_hello(payload: &[u8]) -> bool {
    payload.first() == Some(&0x16) && payload.get(5) == Some(&0x01)
}
