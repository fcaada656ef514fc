//! What the pipeline hands on when a session's record is due: the parsers'
//! summary and the transport's facts, not yet built into a record.
//!
//! Building and encoding a record is a third of the per-session work;
//! handing this on lets that happen off the packet path (the record writer
//! thread, see `crate::writer`).

use std::net::SocketAddr;
use std::sync::Arc;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_parsers::tls::{HandshakeSummary, Peer};
use cipherlens_record::attribution::EndpointAttribution;
use cipherlens_record::session::{CertificateSource, ChainSide, EmittedOn, SocketFacts, Source};

/// Transport facts about a session that the handshake does not carry.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub transport: Transport,
    /// The peer that opened the connection.
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub vlan_id: Option<u16>,
    /// The tunnel the packets came out of (the first packet's that had one).
    pub tunnel: Option<cipherlens_capture::Tunnel>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub source: Source,
    pub input: Option<String>,
    /// Whether to compute `ja4_o` and `ja4_ro` (see `ja4_original_order`).
    pub ja4_original_order: bool,
    /// Seed of the Community ID.
    pub community_id_seed: u16,
    /// Kernel facts (live capture).
    pub observation: Option<SessionObservation>,
    /// The session's CNFlow id (live capture).
    pub cnflow_id: Option<String>,
    /// The QUIC connection's version and Retry (QUIC sessions).
    pub quic: Option<cipherlens_record::session::QuicDetail>,
    /// A chain a local process's TLS library gave (live capture, uprobes).
    pub certificate_source: Option<CertificateSource>,
    /// Who owned the local sockets (initiator, responder), resolved early
    /// for a session that waited (its processes may be gone by the time
    /// the record is built).
    pub attribution: [Option<Arc<EndpointAttribution>>; 2],
}

/// What the kernel said about one packet (live capture). Borrowed: it is
/// made for every event, and a session copies what it keeps only once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketObservation<'a> {
    pub interface: Option<&'a str>,
    pub ifindex: u32,
    pub netns_cookie: u64,
    /// The socket that sent the packet, when it is local.
    pub sender: Option<SocketFacts>,
    /// The packet opened its flow's kernel entry: a new connection.
    pub opens_flow: bool,
    /// The first time of the flow's CNFlow counters entry, when the kernel
    /// counted the packet in one (0 otherwise).
    pub flow_first_ns: u64,
}

/// Kernel facts gathered over a session's packets, by transport peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionObservation {
    pub interface: Option<String>,
    pub ifindex: u32,
    pub netns_cookie: u64,
    /// Sending sockets of the initiator and the responder.
    pub sockets: [Option<SocketFacts>; 2],
    /// The first time of the flow's CNFlow counters entry as of the
    /// session's latest packet that carried one (0: none did): the entry
    /// the flow's CNFlow record will come from, if it was replaced meanwhile.
    pub flow_first_ns: u64,
}

impl SessionObservation {
    /// Adds one packet's facts; `from` is the peer that sent it. The first
    /// value of each fact is kept; a socket's process is filled in later
    /// when the first packets came before the process was known. Returns
    /// the pid of a socket's process when this packet made it known.
    pub fn add(&mut self, from: Peer, packet: &PacketObservation<'_>) -> Option<u32> {
        if self.ifindex == 0 {
            self.interface = packet.interface.map(str::to_owned);
            self.ifindex = packet.ifindex;
            self.netns_cookie = packet.netns_cookie;
        }
        if packet.flow_first_ns != 0 {
            self.flow_first_ns = packet.flow_first_ns;
        }
        let sender = packet.sender.as_ref()?;
        match &mut self.sockets[peer_index(from)] {
            Some(known) => merge(known, sender),
            slot @ None => {
                *slot = Some(sender.clone());
                sender.pid
            }
        }
    }
}

/// How the session ended and what was lost, from the transport's view.
#[derive(Debug, Clone, Default)]
pub struct SessionOutcome {
    pub emitted_on: EmittedOn,
    /// Gap bytes per transport peer (initiator, responder).
    pub gap_bytes: [u64; 2],
    /// Reasons the transport knows (e.g. `tcp_gap`, `buffer_limit`).
    pub incomplete_reasons: Vec<String>,
}

/// A session whose record is due, not yet built: what the pipeline hands
/// on. Building and encoding a record is a third of the per-session work;
/// handing this on lets that happen off the packet path (another thread).
///
/// One pointer: a session is moved half a dozen times on its way to the
/// record writer (queues, batches, the chain wait), and its parts are over
/// 2 KiB, which made those moves a tenth of the sensor's time per handshake.
#[derive(Debug)]
pub struct FinishedSession(Box<Parts>);

#[derive(Debug)]
struct Parts {
    summary: HandshakeSummary,
    context: SessionContext,
    outcome: SessionOutcome,
}

impl FinishedSession {
    pub fn new(
        summary: HandshakeSummary,
        context: SessionContext,
        outcome: SessionOutcome,
    ) -> Self {
        Self(Box::new(Parts {
            summary,
            context,
            outcome,
        }))
    }

    /// Transport facts of the session.
    pub fn context(&self) -> &SessionContext {
        &self.0.context
    }

    /// Ties the session to its CNFlow record (live capture).
    pub fn set_cnflow_id(&mut self, id: String) {
        self.0.context.cnflow_id = Some(id);
    }

    /// Takes a chain from a local process's TLS library (TLS 1.3 hides
    /// it from the wire). A chain the wire showed is kept: it is what was
    /// sent. Returns whether the chain was taken.
    pub fn add_library_chain(&mut self, chain: Vec<Vec<u8>>, source: CertificateSource) -> bool {
        let slot = match source.chain {
            ChainSide::Server => &mut self.0.summary.server_certificates,
            ChainSide::Client => &mut self.0.summary.client_certificates,
        };
        if !slot.is_empty() || chain.is_empty() {
            return false;
        }
        *slot = chain;
        self.0.context.certificate_source = Some(source);
        true
    }

    /// Sets who owned the local sockets, resolved before the session waits.
    pub fn set_attribution(&mut self, attribution: [Option<Arc<EndpointAttribution>>; 2]) {
        self.0.context.attribution = attribution;
    }

    /// The handshake as parsed so far.
    pub fn summary(&self) -> &HandshakeSummary {
        &self.0.summary
    }

    /// The parts a record is built from.
    pub fn parts(&self) -> (&HandshakeSummary, &SessionContext, &SessionOutcome) {
        (&self.0.summary, &self.0.context, &self.0.outcome)
    }
}

/// Takes the process from a later packet of the same socket.
/// Fills in the process of a socket first seen without one; returns its
/// pid when it did.
fn merge(known: &mut SocketFacts, later: &SocketFacts) -> Option<u32> {
    if later.socket_cookie == known.socket_cookie && known.pid.is_none() {
        known.pid = later.pid;
        known.tid = later.tid;
        return known.pid;
    }
    None
}

/// Index of a transport peer in per-peer arrays: initiator 0, responder 1.
pub fn peer_index(peer: Peer) -> usize {
    match peer {
        Peer::Initiator => 0,
        Peer::Responder => 1,
    }
}
