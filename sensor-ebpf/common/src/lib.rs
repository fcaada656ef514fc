//! Kernel/user shared types for cipherlens.
//!
//! Everything here crosses the kernel boundary as raw bytes, so every type is
//! `#[repr(C)]`, uses no `bool`, has explicit padding, and has its size
//! asserted at compile time: a layout change on one side that the other side
//! does not see fails the build instead of corrupting events.
#![no_std]
#![deny(unsafe_code)]

pub mod cpu_state;
pub mod flow_cache;
pub mod mark_done;
pub mod tcp_metrics;
pub mod tls;

/// Indices into the kernel's per-CPU counter array.
///
/// The user side sums the per-CPU values and reports them by name; see
/// [`Counter::name`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Packets the classifiers looked at.
    PacketsSeen = 0,
    /// Packets whose TCP payload starts with a TLS handshake record header.
    TlsHandshakeRecords = 1,
    /// Packets that look like a QUIC long-header packet.
    QuicInitials = 2,
    /// Flows that entered the handshake phase.
    FlowsStarted = 3,
    /// Packet events written to the ring buffer.
    EventsSent = 4,
    /// Events lost because the ring buffer was full.
    RingBufferFull = 5,
    /// Packets of a handshake-phase flow not copied because its byte budget was spent.
    BudgetSpent = 6,
    /// Handshake-phase flows that could not be recorded in the flow map.
    FlowMapFull = 7,
    /// Payload bytes beyond what one packet's events can carry (very large GSO packets).
    PayloadTruncated = 8,
    /// Copies from the packet that failed (`bpf_skb_load_bytes`).
    CopyFailed = 9,
    /// TCP/UDP packets whose headers the classifier does not follow: IPv6
    /// extension header chains longer than it walks, or headers longer than
    /// an event's header area. Not inspected; most are not TLS.
    UnfollowedHeaders = 10,
    /// TCP/UDP packets found inside a tunnel (VXLAN, Geneve, GRE, ERSPAN,
    /// IP-in-IP, GTP-U, MPLS) and followed as the inner flow.
    TunnelledPackets = 11,
    /// Packets counted in a CPU's flow cache whose flow had no counters
    /// entry when the cache was flushed: the flow had ended and a CNFlow
    /// scan had already added them to its record, or the entry was evicted
    /// (more flows than the map holds) and they are lost.
    FlowCacheOrphans = 12,
    /// TCP packets with payload not looked at for a TLS handshake start,
    /// their connection having carried
    /// [`KernelConfig::starttls_watch_bytes`] without one.
    StarttlsUnwatched = 13,
}

impl Counter {
    /// Number of counters; the size of the kernel's counter array.
    pub const COUNT: u32 = 14;

    /// Every counter, in index order.
    pub const ALL: [Counter; Self::COUNT as usize] = [
        Counter::PacketsSeen,
        Counter::TlsHandshakeRecords,
        Counter::QuicInitials,
        Counter::FlowsStarted,
        Counter::EventsSent,
        Counter::RingBufferFull,
        Counter::BudgetSpent,
        Counter::FlowMapFull,
        Counter::PayloadTruncated,
        Counter::CopyFailed,
        Counter::UnfollowedHeaders,
        Counter::TunnelledPackets,
        Counter::FlowCacheOrphans,
        Counter::StarttlsUnwatched,
    ];

    /// Stable name used in stats records and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::PacketsSeen => "packets_seen",
            Counter::TlsHandshakeRecords => "tls_handshake_records",
            Counter::QuicInitials => "quic_long_header_packets",
            Counter::FlowsStarted => "flows_started",
            Counter::EventsSent => "events_sent",
            Counter::RingBufferFull => "ring_buffer_full",
            Counter::BudgetSpent => "budget_spent",
            Counter::FlowMapFull => "flow_map_full",
            Counter::PayloadTruncated => "payload_truncated",
            Counter::CopyFailed => "copy_failed",
            Counter::UnfollowedHeaders => "unfollowed_headers",
            Counter::TunnelledPackets => "tunnelled_packets",
            Counter::FlowCacheOrphans => "flow_cache_orphans",
            Counter::StarttlsUnwatched => "starttls_unwatched_packets",
        }
    }

    /// Whether a non-zero value means data was lost.
    pub const fn is_loss(self) -> bool {
        matches!(
            self,
            Counter::RingBufferFull
                | Counter::BudgetSpent
                | Counter::FlowMapFull
                | Counter::PayloadTruncated
                | Counter::CopyFailed
        )
    }
}

/// Name of the per-CPU counter array in the eBPF object: one slot per
/// [`Counter`], then [`RING_BACKLOG_SLOT`].
pub const COUNTERS_MAP: &str = "CIPHERLENS_COUNTERS";
/// The counter array's slot after the counters: the most bytes a CPU found
/// waiting in the packet ring right after writing an event (a maximum, not
/// a sum; user space takes the maximum over CPUs). The backlog's peak, for
/// sizing the ring.
pub const RING_BACKLOG_SLOT: u32 = Counter::COUNT;
/// Name of the ring buffer that carries [`PacketEvent`]s.
pub const EVENTS_MAP: &str = "CIPHERLENS_EVENTS";
/// Name of the LRU map of flows in their handshake phase ([`FlowKey`] -> [`FlowState`]).
pub const FLOWS_MAP: &str = "CIPHERLENS_FLOWS";
/// Name of the LRU map socket cookie -> `pid_tgid`, filled by the tp_btf programs.
pub const SOCKET_OWNERS_MAP: &str = "CIPHERLENS_SOCKET_OWNERS";
/// Sockets whose owner is remembered at once (LRU).
pub const MAX_SOCKET_OWNERS: u32 = 131_072;
/// tp_btf programs and the tracepoints they attach to: both run in the
/// context of the process that sends or receives.
pub const SOCKET_OWNER_PROGRAMS: [(&str, &str); 3] = [
    ("cipherlens_sock_send", "sock_send_length"),
    ("cipherlens_sock_recv", "sock_recv_length"),
    ("cipherlens_sock_connect", "inet_sock_set_state"),
];
/// Name of the LRU map of processes (tgid -> 1) user space has seen in
/// events: an event of a process not in it wakes the reader at once, so a
/// short-lived client is attributed while it still runs (events are
/// otherwise read in batches, see [`KernelConfig::ring_wake_bytes`]).
pub const KNOWN_PROCESSES_MAP: &str = "CIPHERLENS_KNOWN_PROCESSES";
/// Processes remembered as seen (LRU: one forgotten only costs a wake-up).
pub const MAX_KNOWN_PROCESSES: u32 = 16_384;
/// Name of the one-entry array holding [`KernelConfig`].
pub const CONFIG_MAP: &str = "CIPHERLENS_CONFIG";
/// Names of the TC programs in the eBPF object.
pub const TC_INGRESS_PROGRAM: &str = "cipherlens_tc_ingress";
/// See [`TC_INGRESS_PROGRAM`].
pub const TC_EGRESS_PROGRAM: &str = "cipherlens_tc_egress";
/// An empty classifier: the benchmark's baseline (`cipherlens tc-baseline`).
pub const TC_EMPTY_PROGRAM: &str = "cipherlens_tc_empty";

/// Flows tracked at once in the handshake phase (LRU: the oldest are evicted).
pub const MAX_FLOWS: u32 = 65_536;

/// TLS record content type of a handshake record (RFC 8446 section 5.1).
pub const TLS_CONTENT_HANDSHAKE: u8 = 22;
/// Major version byte of every TLS/SSLv3 record header.
pub const TLS_MAJOR_VERSION: u8 = 3;

/// Bytes of packet headers (link + network + transport) an event carries at most.
pub const HEADER_CAPACITY: usize = 192;
/// Payload bytes a small event carries at most (one MTU-sized segment).
pub const CHUNK_CAPACITY: usize = 2048;
/// Payload bytes a large event carries at most: offloaded (GSO/GRO)
/// packets on loopback and veths reach 64 KiB before segmentation.
pub const LARGE_CHUNK_CAPACITY: usize = 16384;
/// Events one packet may produce: four large chunks cover a 64 KiB packet.
pub const MAX_CHUNKS_PER_PACKET: u32 = 4;

/// `PacketEvent::direction` values.
pub const DIRECTION_INGRESS: u8 = 0;
/// See [`DIRECTION_INGRESS`].
pub const DIRECTION_EGRESS: u8 = 1;

/// One packet (or one chunk of a large packet) of a flow in its handshake
/// phase, as written to the ring buffer.
///
/// `data` holds `header_len` bytes of headers (from the Ethernet header to
/// the end of the TCP/UDP header) followed by `payload_len` payload bytes
/// taken at `payload_offset` within the packet's payload. The user side
/// decodes headers and payload as one frame and adds `payload_offset` to the
/// TCP sequence number.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketEventOf<const DATA: usize> {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when the packet was seen.
    pub timestamp_ns: u64,
    /// Socket cookie of the skb's socket (0 when none); the key to the process.
    pub socket_cookie: u64,
    /// Network namespace cookie of the skb.
    pub netns_cookie: u64,
    /// cgroup v2 id of the skb's socket (0 when none).
    pub cgroup_id: u64,
    /// `pid_tgid` (tgid in the high half) of the process that last sent or
    /// received on the socket, from the socket-owner map; 0 when unknown.
    pub pid_tgid: u64,
    /// Interface the classifier ran on.
    pub ifindex: u32,
    /// Length of the whole packet (`skb->len`).
    pub packet_len: u32,
    /// Offset of this chunk within the packet's L4 payload.
    pub payload_offset: u32,
    /// Payload bytes in `data` after the headers.
    pub payload_len: u32,
    /// Header bytes at the start of `data`.
    pub header_len: u16,
    /// [`DIRECTION_INGRESS`] or [`DIRECTION_EGRESS`].
    pub direction: u8,
    /// [`EVENT_OPENS_FLOW`], or 0.
    pub flags: u8,
    pub _pad: [u8; 4],
    /// [`FlowCounters::first_ns`] of the flow's counters entry, when the
    /// packet's full path found or made one (0: flow counting is off, no
    /// entry, or the packet took the flow cache's path): what the flow's
    /// CNFlow id is made from, so user space needs no lookup for it.
    pub flow_first_ns: u64,
    pub data: [u8; DATA],
}

/// `PacketEventOf::flags`: this packet made the flow's handshake-flow entry
/// (its first handshake record seen with no entry for the 4-tuple). A
/// session user space still holds for the 4-tuple, already recorded or
/// closed, belongs to an earlier connection whose end or reuse it missed
/// (a SYN is only sent when it finds an entry): the new one replaces it.
pub const EVENT_OPENS_FLOW: u8 = 1;

/// An event for a segment of up to [`CHUNK_CAPACITY`] payload bytes.
pub type PacketEvent = PacketEventOf<{ HEADER_CAPACITY + CHUNK_CAPACITY }>;
/// An event for a chunk of up to [`LARGE_CHUNK_CAPACITY`] payload bytes.
pub type LargePacketEvent = PacketEventOf<{ HEADER_CAPACITY + LARGE_CHUNK_CAPACITY }>;

/// Bytes of [`PacketEvent`] before `data`.
pub const PACKET_EVENT_HEADER_LEN: usize = 72;
const _: () = assert!(
    core::mem::size_of::<PacketEvent>()
        == PACKET_EVENT_HEADER_LEN + HEADER_CAPACITY + CHUNK_CAPACITY
);
const _: () = assert!(
    core::mem::size_of::<LargePacketEvent>()
        == PACKET_EVENT_HEADER_LEN + HEADER_CAPACITY + LARGE_CHUNK_CAPACITY
);

/// Byte offsets of [`PacketEvent`]'s fields, for the user side that reads
/// events as bytes (computed by the compiler, so they follow the struct).
pub mod event_offsets {
    use super::PacketEvent;
    use core::mem::offset_of;
    pub const TIMESTAMP_NS: usize = offset_of!(PacketEvent, timestamp_ns);
    pub const SOCKET_COOKIE: usize = offset_of!(PacketEvent, socket_cookie);
    pub const NETNS_COOKIE: usize = offset_of!(PacketEvent, netns_cookie);
    pub const CGROUP_ID: usize = offset_of!(PacketEvent, cgroup_id);
    pub const PID_TGID: usize = offset_of!(PacketEvent, pid_tgid);
    pub const IFINDEX: usize = offset_of!(PacketEvent, ifindex);
    pub const PAYLOAD_OFFSET: usize = offset_of!(PacketEvent, payload_offset);
    pub const PAYLOAD_LEN: usize = offset_of!(PacketEvent, payload_len);
    pub const HEADER_LEN: usize = offset_of!(PacketEvent, header_len);
    pub const DIRECTION: usize = offset_of!(PacketEvent, direction);
    pub const FLAGS: usize = offset_of!(PacketEvent, flags);
    pub const FLOW_FIRST_NS: usize = offset_of!(PacketEvent, flow_first_ns);
    pub const DATA: usize = offset_of!(PacketEvent, data);
    const _: () = assert!(DATA == super::PACKET_EVENT_HEADER_LEN);
}

/// IP protocol numbers (IANA) of the transports the sensor follows.
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// The process (thread group) id in a `bpf_get_current_pid_tgid` value.
pub const fn tgid_of(pid_tgid: u64) -> u32 {
    (pid_tgid >> 32) as u32
}

/// The thread id in a `bpf_get_current_pid_tgid` value.
pub const fn tid_of(pid_tgid: u64) -> u32 {
    pid_tgid as u32
}

/// A flow, both directions under one key: the endpoint that sorts lower
/// (address, then port) comes first.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// IPv4 addresses are stored as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    pub low_address: [u8; 16],
    pub high_address: [u8; 16],
    pub low_port: u16,
    pub high_port: u16,
    /// IP protocol (6 or 17).
    pub protocol: u8,
    pub _pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<FlowKey>() == 40);

impl FlowKey {
    /// The key of the flow between two endpoints, in either direction.
    /// Always inlined: a BPF call takes five arguments at most.
    #[inline(always)]
    pub fn new(
        protocol: u8,
        address_a: [u8; 16],
        port_a: u16,
        address_b: [u8; 16],
        port_b: u16,
    ) -> Self {
        // Addresses compared as two big-endian words each: the order of
        // their bytes, without a byte loop (`memcmp`), which the kernel
        // programs pay for on every packet.
        let words = |address: [u8; 16]| {
            let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = address;
            (
                u64::from_be_bytes([a, b, c, d, e, f, g, h]),
                u64::from_be_bytes([i, j, k, l, m, n, o, p]),
            )
        };
        let a_first = (words(address_a), port_a) <= (words(address_b), port_b);
        let ((low_address, low_port), (high_address, high_port)) = if a_first {
            ((address_a, port_a), (address_b, port_b))
        } else {
            ((address_b, port_b), (address_a, port_a))
        };
        Self {
            low_address,
            high_address,
            low_port,
            high_port,
            protocol,
            _pad: [0; 3],
        }
    }
}

/// Per-flow state of the handshake phase.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlowState {
    /// [`FLOW_DONE`] once user space has the record: stop copying; the
    /// `FLOW_FIN_*` bits. 64 bits wide: the kernel sets bits with an atomic
    /// OR, which BPF's base instruction set has for 64-bit words only.
    pub flags: u64,
    /// `bpf_ktime_get_ns` when the entry was made (the flow's first
    /// handshake packet). User space marks a flow done only if the entry
    /// is the one its session started with: a 4-tuple reused by a new
    /// connection before the old session was handed over has a newer one.
    pub created_ns: u64,
    /// Payload bytes copied so far (both directions).
    pub bytes_copied: u32,
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<FlowState>() == 24);

/// `FlowState::flags`: user space has the record; no payload is copied any
/// more, only the connection's FIN/RST (so user space can free the session)
/// and a client SYN reusing the 4-tuple.
pub const FLOW_DONE: u64 = 1;
/// `FlowState::flags`: a FIN was seen from the key's low endpoint, and from
/// its high endpoint. Kept per direction: a retransmitted FIN of one side
/// must not count as the other's. Once both have been seen (or an RST) a
/// done flow's entry goes; user space has had both FINs by then, so it has
/// closed the session and a new connection on the 4-tuple starts afresh.
pub const FLOW_FIN_FROM_LOW: u64 = 2;
pub const FLOW_FIN_FROM_HIGH: u64 = 4;
pub const FLOW_FIN_BOTH: u64 = FLOW_FIN_FROM_LOW | FLOW_FIN_FROM_HIGH;

/// Per-flow traffic counters (CNFlow), for every TCP and UDP flow crossing
/// an attached interface. Directions are relative to the [`FlowKey`]:
/// index 0 is from the low endpoint to the high one, index 1 the reverse.
/// A flow is counted on the interface where it was first seen only, so a
/// packet that crosses two attached interfaces (a pod's veth, then the
/// node's uplink) is not counted twice.
///
/// Laid out for the kernel's LRU hash element (a 48-byte header, the
/// 40-byte key, then this value: 256 bytes, four cache lines): the
/// read-mostly fields share the second line with the key's tail, and each
/// direction's counters have a line of their own. The two directions of a
/// flow are usually counted on two CPUs; on one line, every packet moved
/// that line between them (about 110 ns per packet, measured).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlowCounters {
    /// CLOCK_MONOTONIC of the first packet.
    pub first_ns: u64,
    pub ifindex: u32,
    /// Who opened the flow: [`OPENED_BY_LOW`], [`OPENED_BY_HIGH`], or 0
    /// when the opening SYN was not seen (or it is UDP).
    pub opened_by: u8,
    /// What the kernel last found of the flow in the handshake-flow map:
    /// [`PHASE_NONE`], [`PHASE_COPYING`] or [`PHASE_DONE`]. Kept here so a
    /// packet of a flow that is not in its handshake phase costs one map
    /// lookup (this entry), not two. Kernel-owned; user space ignores it.
    pub phase: u8,
    pub _pad: [u8; 2],
    /// Both directions' bytes when the flow's current connection began (a
    /// client's SYN on a 4-tuple whose entry lives on): the STARTTLS watch
    /// ([`KernelConfig::starttls_watch_bytes`]) counts from here.
    /// Kernel-owned; user space ignores it.
    pub watch_from: u64,
    pub _pad2: [u8; 16],
    pub directions: [DirectionCounters; 2],
}

impl FlowCounters {
    /// The latest packet's time either way (never before the first).
    pub fn last_ns(&self) -> u64 {
        self.first_ns
            .max(self.directions[0].last_ns)
            .max(self.directions[1].last_ns)
    }
}

/// One direction's counters of a flow (see [`FlowCounters`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DirectionCounters {
    /// Wire packets (segments of an offloaded packet counted each).
    pub packets: u64,
    /// Wire bytes, link-layer headers included.
    pub bytes: u64,
    /// CLOCK_MONOTONIC of the direction's latest packet, to the kernel's
    /// tick (the coarse clock: 1-10 ms); 0 when none was seen.
    pub last_ns: u64,
    /// Sending socket, when the sender is on this node.
    pub socket_cookie: u64,
    /// TCP flags seen (OR of every segment's flags).
    pub tcp_flags: u8,
    pub _pad: [u8; 31],
}

const _: () = assert!(core::mem::size_of::<DirectionCounters>() == 64);
const _: () = assert!(core::mem::size_of::<FlowCounters>() == 168);
/// The kernel's element header (`struct htab_elem`, 48 bytes since 5.x) and
/// the key put each direction at the start of a cache line.
const _: () = assert!(
    (48 + core::mem::size_of::<FlowKey>() + core::mem::offset_of!(FlowCounters, directions))
        .is_multiple_of(64)
);

/// [`FlowCounters::phase`]: the flow has no handshake-flow entry.
pub const PHASE_NONE: u8 = 0;
/// [`FlowCounters::phase`]: the flow's handshake is being copied, or it is
/// not known whether it is (the map is asked on every packet).
pub const PHASE_COPYING: u8 = 1;
/// [`FlowCounters::phase`]: user space has the flow's handshake; only its
/// closing segments (and a QUIC connection reusing it) matter.
pub const PHASE_DONE: u8 = 2;

/// [`FlowCounters::opened_by`]: the key's low endpoint sent the SYN.
pub const OPENED_BY_LOW: u8 = 1;
/// [`FlowCounters::opened_by`]: the key's high endpoint sent the SYN.
pub const OPENED_BY_HIGH: u8 = 2;
/// Name of the LRU map of [`FlowCounters`].
pub const FLOW_COUNTERS_MAP: &str = "CIPHERLENS_FLOW_COUNTERS";
/// Flows counted at once (LRU): the 100,000-flow target with headroom.
pub const MAX_COUNTED_FLOWS: u32 = 262_144;

/// Settings user space writes before attaching.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    /// Payload bytes copied per flow at most (both directions together).
    pub flow_byte_budget: u32,
    /// [`CONFIG_COUNT_FLOWS`] and future switches.
    pub flags: u32,
    /// Bytes of a TCP connection without a handshake (both directions, on
    /// the interface it is counted on) after which its packets are no
    /// longer looked at for a TLS handshake start (STARTTLS-style upgrades
    /// come within the first messages); 0: every packet is looked at.
    pub starttls_watch_bytes: u32,
    /// Bytes waiting in the packet ring at which an event wakes the reader
    /// (`BPF_RB_FORCE_WAKEUP`); below it events wake nobody
    /// (`BPF_RB_NO_WAKEUP`) and the reader drains the ring on its own tick,
    /// so busy traffic is read in batches rather than woken for per event.
    /// 0: the kernel's default (a wake-up when the reader has caught up).
    pub ring_wake_bytes: u32,
}

const _: () = assert!(core::mem::size_of::<KernelConfig>() == 16);

/// Default of [`KernelConfig::starttls_watch_bytes`].
pub const DEFAULT_STARTTLS_WATCH_BYTES: u32 = 256 * 1024;

/// [`KernelConfig::flags`]: keep per-flow counters (CNFlow records). Off,
/// packets outside a TLS/QUIC handshake cost only the header walk.
pub const CONFIG_COUNT_FLOWS: u32 = 1;

/// Default of [`KernelConfig::flow_byte_budget`]: a 16 KiB+ certificate
/// chain, both hellos and a HelloRetryRequest round fit with room to spare.
pub const DEFAULT_FLOW_BYTE_BUDGET: u32 = 128 * 1024;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: `repr(C)`, every bit pattern valid, padding explicit (the
    // layout asserts above check sizes).
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::FlowKey {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::FlowState {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::KernelConfig {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::FlowCounters {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::tls::TlsConfig {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::tls::SslKey {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::tls::ThreadTls {}
}

#[cfg(test)]
mod tests {
    use super::FlowKey;

    /// The order the key is defined by: address bytes, then port, as a
    /// tuple of arrays compares them.
    fn reference(a: ([u8; 16], u16), b: ([u8; 16], u16)) -> bool {
        a <= b
    }

    #[test]
    fn keys_order_endpoints_by_address_bytes_then_port() {
        let v4 = |last: [u8; 4]| {
            let mut address = [0u8; 16];
            address[10] = 0xFF;
            address[11] = 0xFF;
            address[12..].copy_from_slice(&last);
            address
        };
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[15] = 1;
        let mut v6_high_word = v6;
        v6_high_word[7] = 0x80;
        let mut v6_low_word = v6;
        v6_low_word[8] = 0x80;
        let endpoints = [
            (v4([10, 0, 0, 1]), 443),
            (v4([10, 0, 0, 1]), 50_000),
            (v4([10, 0, 0, 2]), 1),
            (v4([192, 168, 0, 1]), 443),
            (v4([9, 255, 255, 255]), 65_535),
            (v6, 443),
            (v6_high_word, 443),
            (v6_low_word, 443),
            ([0xFF; 16], 0),
        ];
        for a in endpoints {
            for b in endpoints {
                let key = FlowKey::new(6, a.0, a.1, b.0, b.1);
                let (low, high) = if reference(a, b) { (a, b) } else { (b, a) };
                assert_eq!((key.low_address, key.low_port), low, "{a:?} {b:?}");
                assert_eq!((key.high_address, key.high_port), high, "{a:?} {b:?}");
                assert_eq!(key, FlowKey::new(6, b.0, b.1, a.0, a.1), "both directions");
            }
        }
    }
}
