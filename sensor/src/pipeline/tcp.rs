//! One TCP connection: two reassembled byte streams feeding a TLS
//! handshake tracker.
//!
//! A direction stops being reassembled as soon as the tracker has nothing
//! more to learn from it (encrypted, failed, or not TLS), so the cost of a
//! session after its handshake is a hash lookup per packet. A hole that is
//! never filled is skipped at close (or when the reassembly bound is hit) and
//! the session is marked incomplete with the missing byte count: the TLS
//! stream after a hole is not trusted, so that direction stops there.

use std::net::SocketAddr;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_record::session::EmittedOn;

use cipherlens_capture::{StreamReassembler, TcpSegment};
use cipherlens_parsers::tls::{HandshakeTracker, Peer, RecordLimits};

use super::{FinishedSession, PipelineConfig, SessionContext, SessionOutcome};

pub(crate) struct TcpSession {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub vlan_id: Option<u16>,
    /// The tunnel the packets came out of, once one was seen.
    pub tunnel: Option<cipherlens_capture::Tunnel>,
    pub start_unix_nanos: u64,
    pub last_unix_nanos: u64,
    streams: [StreamReassembler; 2],
    pub tracker: HandshakeTracker,
    /// Kernel facts (live capture).
    pub observation: Option<super::SessionObservation>,
    /// A hole was skipped in this direction: it is no longer fed.
    gapped: [bool; 2],
    pub gap_bytes: [u64; 2],
    pub incomplete_reasons: Vec<String>,
    /// Sequence number each side's stream is based on (its SYN), and other
    /// SYN sequence numbers seen from that side before any data.
    syn_seq: [Option<u32>; 2],
    other_syn_seqs: [Vec<u32>; 2],
    fin: [bool; 2],
    pub reset: bool,
    /// The record was emitted; later packets are only watched for close.
    pub emitted: bool,
    max_reassembly_bytes: usize,
    scratch: Vec<u8>,
}

fn index(peer: Peer) -> usize {
    match peer {
        Peer::Initiator => 0,
        Peer::Responder => 1,
    }
}

impl TcpSession {
    pub fn new(
        initiator: SocketAddr,
        responder: SocketAddr,
        vlan_id: Option<u16>,
        now: u64,
        config: &PipelineConfig,
    ) -> Self {
        let limits = RecordLimits {
            max_handshake_message: config.max_handshake_message,
            max_sealed_bytes: config.max_sealed_bytes,
            ..RecordLimits::default()
        };
        Self {
            initiator,
            responder,
            vlan_id,
            tunnel: None,
            start_unix_nanos: now,
            last_unix_nanos: now,
            streams: [
                StreamReassembler::new(config.max_reassembly_bytes),
                StreamReassembler::new(config.max_reassembly_bytes),
            ],
            tracker: HandshakeTracker::new(limits),
            observation: None,
            gapped: [false; 2],
            gap_bytes: [0; 2],
            incomplete_reasons: Vec::new(),
            syn_seq: [None; 2],
            other_syn_seqs: [Vec::new(), Vec::new()],
            fin: [false; 2],
            reset: false,
            emitted: false,
            max_reassembly_bytes: config.max_reassembly_bytes,
            scratch: Vec::new(),
        }
    }

    /// Whether the connection is over for the pipeline: recorded, or closed.
    pub fn is_over(&self) -> bool {
        self.emitted || self.is_closed()
    }

    /// Whether an initiator SYN with sequence number `seq` opens another
    /// connection: the initiator's stream has carried data, and `seq` is
    /// none of the SYNs seen (a retransmitted SYN, with or without Fast
    /// Open data, repeats its ISN).
    pub fn opens_another_connection(&self, seq: u32) -> bool {
        let data = self.streams[0].stream_offset() != 0 || self.is_tls();
        data && self.syn_seq[0] != Some(seq) && !self.other_syn_seqs[0].contains(&seq)
    }

    /// Whether TLS was recognised on this connection.
    pub fn is_tls(&self) -> bool {
        let summary = self.tracker.summary();
        summary.client_hello.is_some() || summary.server_hello.is_some()
    }

    /// Whether nothing more can be learned (both directions done).
    pub fn is_exhausted(&self) -> bool {
        [Peer::Initiator, Peer::Responder]
            .iter()
            .all(|peer| self.gapped[index(*peer)] || !self.tracker.wants_more(*peer))
    }

    /// Whether both sides closed, or the connection was reset.
    pub fn is_closed(&self) -> bool {
        self.reset || (self.fin[0] && self.fin[1])
    }

    /// Adds a segment sent by `peer`.
    pub fn on_segment(&mut self, peer: Peer, segment: &TcpSegment<'_>, now: u64) {
        let side = index(peer);
        self.last_unix_nanos = now;
        self.fin[side] |= segment.flags.fin();
        self.reset |= segment.flags.rst();
        if self.emitted {
            return;
        }
        let syn = segment.flags.syn();
        if syn {
            self.note_syn(side, segment.seq);
        } else if segment.flags.ack() {
            self.follow_acknowledged_isn(1 - side, segment.ack);
        }
        if self.gapped[side] || !self.tracker.wants_more(peer) {
            return;
        }
        let stream = &mut self.streams[side];
        let fin = segment.flags.fin();
        if stream.push(segment.seq, syn, fin, segment.payload).is_err() {
            // Out-of-order data filled the bound: the hole will not be filled in time.
            self.incomplete_reasons
                .push(format!("{}_reassembly_limit", side_name(peer)));
            self.skip_hole(peer);
            return;
        }
        self.feed_ready(peer);
    }

    /// Remembers a SYN. A second SYN with another ISN before any data (a
    /// SYN-ACK retried with a new ISN, seen with TCP Fast Open) is kept as a
    /// candidate: the peer's acknowledgement decides which one is live.
    fn note_syn(&mut self, side: usize, seq: u32) {
        const MAX_CANDIDATES: usize = 4;
        match self.syn_seq[side] {
            None => self.syn_seq[side] = Some(seq),
            Some(base) if base != seq && self.other_syn_seqs[side].len() < MAX_CANDIDATES => {
                if !self.other_syn_seqs[side].contains(&seq) {
                    self.other_syn_seqs[side].push(seq);
                }
            }
            Some(_) => {}
        }
    }

    /// Re-bases `side`'s stream on the ISN the peer acknowledged, if that is
    /// a candidate SYN and no data was delivered yet.
    fn follow_acknowledged_isn(&mut self, side: usize, ack: u32) {
        let acknowledged = ack.wrapping_sub(1);
        if self.other_syn_seqs[side].is_empty()
            || self.syn_seq[side] == Some(acknowledged)
            || !self.other_syn_seqs[side].contains(&acknowledged)
            || self.streams[side].stream_offset() != 0
        {
            return;
        }
        tracing::debug!(
            acknowledged_isn = acknowledged,
            "stream re-based on the acknowledged SYN"
        );
        let mut stream = StreamReassembler::new(self.max_reassembly_bytes);
        // An empty SYN cannot exceed the bound.
        let _ = stream.push(acknowledged, true, false, &[]);
        self.streams[side] = stream;
        if let Some(old) = self.syn_seq[side].replace(acknowledged) {
            self.other_syn_seqs[side].retain(|seq| *seq != acknowledged);
            self.other_syn_seqs[side].push(old);
        }
    }

    /// Delivers whatever is held after holes (connection end): the bytes are
    /// counted as gaps and the direction stops.
    pub fn flush(&mut self) {
        for peer in [Peer::Initiator, Peer::Responder] {
            if !self.gapped[index(peer)] && self.streams[index(peer)].buffered_bytes() > 0 {
                self.skip_hole(peer);
            }
        }
    }

    fn skip_hole(&mut self, peer: Peer) {
        let side = index(peer);
        if let Some(gap) = self.streams[side].skip_gap() {
            self.gap_bytes[side] += gap;
            self.gapped[side] = true;
            self.incomplete_reasons
                .push(format!("{}_tcp_gap", side_name(peer)));
        }
    }

    fn feed_ready(&mut self, peer: Peer) {
        let side = index(peer);
        self.scratch.clear();
        self.streams[side].drain_ready_into(&mut self.scratch);
        if !self.scratch.is_empty() {
            // A parse error stops this direction inside the tracker and is
            // reported in the record's errors.
            let _ = self.tracker.push(peer, &self.scratch);
        }
        if !self.tracker.wants_more(peer) {
            // Free the reassembly buffers of a direction that is done.
            self.streams[side] = StreamReassembler::new(0);
        }
    }

    /// Hands the session on: its record is due (`reason`).
    pub fn finish(&mut self, reason: EmittedOn, config: &PipelineConfig) -> FinishedSession {
        let context = SessionContext {
            transport: Transport::Tcp,
            initiator: self.initiator,
            responder: self.responder,
            vlan_id: self.vlan_id,
            tunnel: self.tunnel,
            start_unix_nanos: self.start_unix_nanos,
            end_unix_nanos: self.last_unix_nanos,
            source: config.source,
            input: config.input.clone(),
            ja4_original_order: config.ja4_original_order,
            community_id_seed: config.community_id_seed,
            observation: self.observation.take(),
            cnflow_id: None,
            certificate_source: None,
            quic: None,
            attribution: [None, None],
        };
        let outcome = SessionOutcome {
            emitted_on: reason,
            gap_bytes: self.gap_bytes,
            incomplete_reasons: std::mem::take(&mut self.incomplete_reasons),
        };
        FinishedSession::new(self.tracker.take_summary(), context, outcome)
    }
}

fn side_name(peer: Peer) -> &'static str {
    match peer {
        Peer::Initiator => "initiator",
        Peer::Responder => "responder",
    }
}
