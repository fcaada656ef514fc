//! TC classifiers: copy the handshake phase of TLS and QUIC flows to user space.
//!
//! Every packet pays a few bounded loads (Ethernet type, IP protocol, ports;
//! the first payload byte while its connection is watched for a handshake
//! start, see `--starttls-watch-bytes`); a packet of a flow its CPU's flow cache holds
//! (`flow_cache`) is counted there and needs no map lookup, others look up
//! the flow's counters entry and, when the packet may change the flow's
//! phase, the handshake-flow map. A flow enters its handshake phase on a
//! TLS handshake record header (`16 03 xx`) or a QUIC long-header packet;
//! from then on every segment of that flow (continuation segments whose
//! first byte is not 0x16 included) is copied to the ring buffer, until
//! user space marks the flow done (it has the record) or the flow's byte
//! budget is spent. Then no
//! payload of the flow is copied again; only its FIN/RST segments are sent
//! (header only, so user space frees the session), and the entry goes once
//! both sides' FINs (or an RST) have passed. A client SYN on a 4-tuple that
//! still has an entry (a reused client port) removes it and is sent too, so
//! the new connection starts over on both sides. The classifiers never
//! alter or drop traffic (always `TC_ACT_PIPE`).
//!
//! Losses are counted, never silent: ring buffer full, budget spent, flow
//! map full, payload beyond what one packet's events carry, failed copies.

use aya_ebpf::{
    EbpfContext,
    bindings::{
        __sk_buff, BPF_F_MMAPABLE, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP,
        TC_ACT_PIPE,
    },
    helpers::generated::{
        bpf_get_netns_cookie, bpf_get_smp_processor_id, bpf_get_socket_cookie,
        bpf_ktime_get_coarse_ns, bpf_ktime_get_ns, bpf_skb_cgroup_id, bpf_skb_load_bytes,
    },
    macros::{classifier, map},
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
    programs::TcContext,
};
use cipherlens_common::cpu_state::{CpuState, SCRATCH_WORDS};
use cipherlens_common::flow_cache::{CACHE_COUNTED, CACHE_EMPTY, CACHE_UNCOUNTED};
use cipherlens_common::{
    CHUNK_CAPACITY, CONFIG_COUNT_FLOWS, Counter, DEFAULT_FLOW_BYTE_BUDGET, DIRECTION_EGRESS,
    DIRECTION_INGRESS, EVENT_OPENS_FLOW, FLOW_DONE, FLOW_FIN_BOTH, FLOW_FIN_FROM_HIGH,
    FLOW_FIN_FROM_LOW, FlowCounters, FlowKey, FlowState, HEADER_CAPACITY, IPPROTO_TCP, IPPROTO_UDP,
    KernelConfig, LARGE_CHUNK_CAPACITY, LargePacketEvent, MAX_CHUNKS_PER_PACKET, MAX_COUNTED_FLOWS,
    MAX_FLOWS, MAX_KNOWN_PROCESSES, MAX_SOCKET_OWNERS, OPENED_BY_HIGH, OPENED_BY_LOW,
    PACKET_EVENT_HEADER_LEN, PHASE_COPYING, PHASE_DONE, PHASE_NONE, RING_BACKLOG_SLOT,
    TLS_CONTENT_HANDSHAKE, TLS_MAJOR_VERSION, tgid_of,
};

use crate::flow_cache::{
    PHASE_MISS, bump_phase_epoch, cached_phase, connection_bytes, entry_bytes, remember,
};

#[map(name = "CIPHERLENS_COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::COUNT + 1, 0);

/// 32 MiB: about 14,000 full-size events in flight.
#[map(name = "CIPHERLENS_EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(32 * 1024 * 1024, 0);

#[map(name = "CIPHERLENS_FLOWS")]
pub(crate) static FLOWS: LruHashMap<FlowKey, FlowState> =
    LruHashMap::with_max_entries(MAX_FLOWS, 0);

/// Socket cookie -> pid_tgid, written by the tp_btf programs (`owner.rs`).
#[map(name = "CIPHERLENS_SOCKET_OWNERS")]
pub(crate) static SOCKET_OWNERS: LruHashMap<u64, u64> =
    LruHashMap::with_max_entries(MAX_SOCKET_OWNERS, 0);

/// Processes user space has seen in events (tgid -> 1), written by user
/// space: an event of another process wakes the reader at once.
#[map(name = "CIPHERLENS_KNOWN_PROCESSES")]
static KNOWN_PROCESSES: LruHashMap<u32, u8> = LruHashMap::with_max_entries(MAX_KNOWN_PROCESSES, 0);

/// Per-flow traffic counters of every TCP/UDP flow (CNFlow records).
#[map(name = "CIPHERLENS_FLOW_COUNTERS")]
pub(crate) static FLOW_COUNTERS: LruHashMap<FlowKey, FlowCounters> =
    LruHashMap::with_max_entries(MAX_COUNTED_FLOWS, 0);

/// Per-CPU scratch for a new flow's counters: built here rather than on
/// the 512-byte stack, which the copy path nearly fills.
#[map(name = "CIPHERLENS_SCRATCH")]
static SCRATCH: PerCpuArray<FlowCounters> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU slot where a packet event is built before it is copied to the
/// ring at its real length ([`send_event`]).
#[map(name = "CIPHERLENS_EVENT_SCRATCH")]
static EVENT_SCRATCH: PerCpuArray<LargePacketEvent> = PerCpuArray::with_max_entries(1, 0);

/// Each CPU's counters of the common packet, its scratch for the packet
/// being inspected (its [`Layout`]: where its parts are) and its flow
/// cache (`cipherlens_common::cpu_state`): an element per possible CPU
/// (user space sets the size). The layout is kept off the 512-byte stack
/// (the copy path needs nearly all of it), and values read back from a map
/// are not tracked value by value by the verifier, so both header walks
/// lead into one verification of the rest.
///
/// A plain array indexed by the CPU, not a per-CPU array: the verifier
/// turns its lookup into arithmetic on the map's address, where a per-CPU
/// array's first loads the element's address from the map (a cache line
/// more per packet). Mmapable for its layout: the kernel then starts the
/// elements on a page, so each CPU's lines are its own.
#[map(name = "CIPHERLENS_CPU_STATE")]
static CPU_STATE: Array<CpuState> = Array::with_max_entries(1, BPF_F_MMAPABLE);

/// This CPU's state.
#[inline(always)]
fn cpu_state() -> Option<*mut CpuState> {
    // SAFETY: a helper without arguments (the verifier inlines it).
    let cpu = unsafe { bpf_get_smp_processor_id() };
    CPU_STATE.get_ptr_mut(cpu)
}

/// The layout in a CPU state's scratch words (size and alignment asserted
/// below).
#[inline(always)]
pub(crate) fn layout_of(state: *mut CpuState) -> *mut Layout {
    // SAFETY: a field address of the caller's element; nothing is read.
    unsafe { (&raw mut (*state).scratch).cast::<Layout>() }
}

#[map(name = "CIPHERLENS_CONFIG")]
static CONFIG: Array<KernelConfig> = Array::with_max_entries(1, 0);

const ETH_HEADER_LEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const IPV6_HEADER_LEN: usize = 40;
/// IPv6 extension headers followed (RFC 8200 section 4; AH: RFC 4302).
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AUTHENTICATION: u8 = 51;
const IPV6_DESTINATION_OPTIONS: u8 = 60;
/// Extension headers walked at most before giving up (counted). Real TLS
/// paths carry zero to two; the bound keeps the loop small for the verifier.
const MAX_IPV6_EXTENSION_HEADERS: usize = 4;
const UDP_HEADER_LEN: usize = 8;
/// Tunnels followed: IP protocols and UDP destination ports.
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
/// Transparent Ethernet bridging (GRE, Geneve).
const ETH_P_TEB: u16 = 0x6558;
const VXLAN_PORT: u16 = 4789;
/// The port Linux used for VXLAN before IANA's (flannel's default).
const VXLAN_LINUX_PORT: u16 = 8472;
const GENEVE_PORT: u16 = 6081;
const GTP_U_PORT: u16 = 2152;
/// GTP-U extension headers walked at most (a PDU session container is one).
const MAX_GTP_EXTENSIONS: usize = 4;
/// MPLS: unicast and multicast EtherTypes, labels walked at most.
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;
const MAX_MPLS_LABELS: usize = 4;
/// ERSPAN types II and III inside GRE.
const ETH_P_ERSPAN_II: u16 = 0x88BE;
const ETH_P_ERSPAN_III: u16 = 0x22EB;
/// QUIC long header form bit and fixed bit (RFC 9000 section 17.2).
const QUIC_LONG_HEADER_BITS: u8 = 0xC0;
/// Header copies are bounded by 256 for the verifier; the header area (192)
/// plus the chunk area after it leave room for that.
const HEADER_MASK: usize = 255;
const _: () = assert!(HEADER_MASK + 1 <= HEADER_CAPACITY + CHUNK_CAPACITY);
const _: () = assert!(CHUNK_CAPACITY.is_power_of_two());
/// TCP flags byte: FIN and RST, and single flags.
const TCP_FIN_OR_RST: u8 = TCP_FIN | TCP_RST;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

#[classifier]
pub fn cipherlens_tc_ingress(ctx: TcContext) -> i32 {
    inspect(&ctx, DIRECTION_INGRESS);
    TC_ACT_PIPE
}

#[classifier]
pub fn cipherlens_tc_egress(ctx: TcContext) -> i32 {
    inspect(&ctx, DIRECTION_EGRESS);
    TC_ACT_PIPE
}

/// An empty classifier: what a TC program costs with nothing in it, the
/// floor `scripts/bench-live.sh` measures beside the sensor's programs
/// (bpf_stats adds two clock reads per run, which a VM makes expensive).
#[classifier]
pub fn cipherlens_tc_empty(_ctx: TcContext) -> i32 {
    TC_ACT_PIPE
}

fn count(counter: Counter) {
    add(counter, 1);
}

pub(crate) fn add(counter: Counter, amount: u64) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: per-CPU slot owned by this CPU for the program's run.
        unsafe { *slot += amount };
    }
}

/// Where a packet's parts are. `repr(C)` with the key first: at the start
/// of its 8-aligned map slot, so [`fast_locate`] writes the key in words.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) key: FlowKey,
    pub(crate) protocol: u8,
    /// Offset of the TCP/UDP payload from the start of the packet.
    pub(crate) payload_offset: usize,
    /// Whether the packet's source is the key's low endpoint.
    pub(crate) from_low: bool,
    /// TCP flags byte (0 for UDP).
    pub(crate) tcp_flags: u8,
    /// The flow's cache slot and the phase epoch read before anything
    /// else of the flow (`flow_cache::cached_phase`).
    pub(crate) slot: u32,
    pub(crate) epoch: u64,
    /// How the full path says the flow may be cached: a
    /// `cipherlens_common::flow_cache::CACHE_*` state, and for a counted
    /// flow the interface it is counted on (`count_flow`).
    pub(crate) cache_as: u8,
    pub(crate) counted_on: u32,
    /// The flow's counters entry's first time, when `count_flow` found or
    /// made it for this packet (0 otherwise; also set when the packet is
    /// counted on another interface, as the entry is the flow's all the
    /// same); carried by its events.
    pub(crate) flow_first_ns: u64,
    /// The connection's bytes before this packet and the limit past which
    /// a TCP connection without a handshake is no longer looked at for one
    /// ([`KernelConfig::starttls_watch_bytes`]; 0: no limit, or the flow
    /// is in a handshake phase): from its counters entry (`count_flow`,
    /// for the flow cache to carry on in `remember`) or its cache slot.
    pub(crate) watched: u32,
    pub(crate) watch_limit: u32,
}

/// The layout fits the scratch words of [`CpuState`], at their 8-aligned start.
const _: () = assert!(core::mem::size_of::<Layout>() <= SCRATCH_WORDS * 8);
const _: () = assert!(core::mem::align_of::<Layout>() <= 8);

impl Layout {
    /// Whether the packet's connection is past its STARTTLS watch: its
    /// payload is not looked at for a handshake start.
    fn past_watch(&self) -> bool {
        self.watch_limit != 0 && self.watched >= self.watch_limit
    }
}

/// No phase known: flow counting is off, or the flow has no counters entry.
const PHASE_UNKNOWN: u64 = 0xFF;

/// Counts the packet for its flow, then copies it if its flow is in the
/// handshake phase. Separate functions (BPF-to-BPF calls), so each has its
/// own stack frame: inlined together they exceed the 512-byte stack.
///
/// The common packet (a flow outside its handshake phase, in its CPU's
/// flow cache) costs no shared map access: the cache holds the flow's
/// phase and its counts (`flow_cache`). Otherwise the counters entry
/// remembers what the handshake-flow map holds for the flow
/// ([`FlowCounters::phase`]), and that map is looked up only when the
/// packet can change something there.
///
/// Inlined into each classifier: a call less per packet.
#[inline(always)]
fn inspect(ctx: &TcContext, direction: u8) {
    let Some(state) = cpu_state() else {
        return;
    };
    // SAFETY: this CPU's element, exclusively this program run's (TC
    // programs do not nest on a CPU, and other CPUs' programs use their
    // own); the scratch words hold a `Layout` (size and alignment asserted
    // above).
    let layout = unsafe {
        (*state).packets_seen += 1;
        layout_of(state)
    };
    match fast_locate(ctx, layout) {
        FAST_FOUND => {}
        FAST_NOT_OURS => return,
        _ => {
            // Called from here, not from `locate`: a call inside it would
            // stack its frame on the header walk's.
            let tunnel = tunnel_payload(ctx);
            if tunnel != 0 {
                count(Counter::TunnelledPackets);
            }
            if !locate(ctx, tunnel, layout) {
                return;
            }
        }
    }
    // The layout is this CPU's slot, written whole by the walk that found
    // the packet's layout (TC programs do not nest on a CPU); the cache
    // functions and `count_flow` note their findings in it, each
    // reference below lives for one call. The state is passed down, not
    // looked up again: its address depends on the CPU number, a load.
    let cached = cached_phase(ctx, state);
    let phase = if cached == PHASE_MISS {
        count_flow(ctx, layout)
    } else {
        cached
    };
    // SAFETY: as above.
    if !may_change_flow_state(ctx, state, unsafe { &*layout }, phase) {
        if cached == PHASE_MISS {
            remember(state, phase);
        }
        return;
    }
    // SAFETY: as above.
    let after = copy_handshake(ctx, unsafe { &*layout }, direction);
    if phase != PHASE_UNKNOWN && after != PHASE_UNKNOWN && after != phase {
        // SAFETY: as above.
        set_phase(unsafe { &*layout }, after as u8);
    }
    if cached == PHASE_MISS {
        remember(state, if after == PHASE_UNKNOWN { phase } else { after });
    }
}

/// Whether the handshake-flow map must be consulted for this packet, given
/// what the counters entry says of the flow. Its own function: its
/// branches end in one answer, so the verifier walks the copy path once
/// per answer rather than once per branch.
#[inline(never)]
fn may_change_flow_state(
    ctx: &TcContext,
    state: *mut CpuState,
    layout: &Layout,
    phase: u64,
) -> bool {
    let payload_len = (ctx.len() as usize).saturating_sub(layout.payload_offset);
    // A client's SYN: a reused 4-tuple's old entry goes.
    let syn = layout.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN;
    match phase as u8 {
        _ if phase == PHASE_UNKNOWN => {
            payload_len > 0 || layout.tcp_flags & (TCP_FIN_OR_RST | TCP_SYN) != 0
        }
        PHASE_NONE => {
            if syn || payload_len == 0 {
                syn
            } else if layout.past_watch() {
                // SAFETY: this CPU's element, as in `inspect`.
                unsafe { (*state).starttls_unwatched += 1 };
                false
            } else {
                may_start_handshake(ctx, layout)
            }
        }
        PHASE_DONE => {
            syn || layout.tcp_flags & TCP_FIN_OR_RST != 0
                || (layout.protocol == IPPROTO_UDP
                    && payload_len >= QUIC_MIN_CLIENT_INITIAL
                    && opens_quic_connection(ctx, layout))
        }
        _ => true,
    }
}

/// Records the flow's phase in its counters entry (a transition: a few
/// times per flow).
#[inline(never)]
fn set_phase(layout: &Layout, phase: u8) {
    if let Some(counters) = FLOW_COUNTERS.get_ptr_mut(&layout.key) {
        // SAFETY: a pointer to this flow's map value, valid for the
        // program's run; a racing writer stores a phase just as current.
        unsafe { (*counters).phase = phase };
    }
}

/// Copies the packet if its flow is in the handshake phase; returns the
/// flow's phase afterwards ([`PHASE_UNKNOWN`] when the map was not asked).
#[inline(never)]
fn copy_handshake(ctx: &TcContext, layout: &Layout, direction: u8) -> u64 {
    let client_syn = layout.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN;
    if client_syn && FLOWS.remove(&layout.key).is_ok() {
        // A client's SYN opens a new connection on a 4-tuple that still has
        // an entry (a reused client port): the old flow is over. User space
        // is told, so it closes the old session too. One delete attempt per
        // connection, none per data packet.
        send_chunks(ctx, layout, direction, 0, 0);
    }
    let packet_len = ctx.len() as usize;
    let payload_len = packet_len.saturating_sub(layout.payload_offset);
    if payload_len == 0 && layout.tcp_flags & TCP_FIN_OR_RST == 0 {
        // After a client's SYN the 4-tuple has no entry, whatever it had.
        return if client_syn {
            u64::from(PHASE_NONE)
        } else {
            PHASE_UNKNOWN
        };
    }
    let budget = match CONFIG.get(0) {
        Some(config) => config.flow_byte_budget,
        None => DEFAULT_FLOW_BYTE_BUDGET,
    };
    let mut opened = false;
    let state = match FLOWS.get_ptr_mut(&layout.key) {
        Some(state) => state,
        None => {
            if payload_len == 0 || !starts_handshake(ctx, layout) {
                return u64::from(PHASE_NONE);
            }
            let fresh = FlowState {
                // SAFETY: helper allowed in TC programs.
                created_ns: unsafe { bpf_ktime_get_ns() },
                ..FlowState::default()
            };
            if FLOWS.insert(&layout.key, &fresh, 0).is_err() {
                count(Counter::FlowMapFull);
                return u64::from(PHASE_NONE);
            }
            count(Counter::FlowsStarted);
            bump_phase_epoch();
            opened = true;
            match FLOWS.get_ptr_mut(&layout.key) {
                Some(state) => state,
                None => {
                    count(Counter::FlowMapFull);
                    return u64::from(PHASE_NONE);
                }
            }
        }
    };
    // SAFETY: a pointer to this flow's map value, valid for the program's run.
    let (mut copied, flags) = unsafe { ((*state).bytes_copied, (*state).flags) };
    if flags & FLOW_DONE != 0
        && layout.protocol == IPPROTO_UDP
        && payload_len >= QUIC_MIN_CLIENT_INITIAL
        && opens_quic_connection(ctx, layout)
    {
        // A padded client Initial on a 4-tuple whose QUIC session is done:
        // a new connection reusing it (or a late retransmission, which user
        // space passes over). Copying starts again.
        // SAFETY: as above.
        unsafe {
            (*state).flags = 0;
            (*state).bytes_copied = 0;
            (*state).created_ns = bpf_ktime_get_ns();
        }
        bump_phase_epoch();
        copied = 0;
    } else if flags & FLOW_DONE != 0 {
        if layout.tcp_flags & TCP_FIN_OR_RST != 0 {
            // The connection closes: user space frees its session when both
            // sides' FINs (or an RST) arrive; then the entry would only
            // crowd the LRU. Until then it stays, so a new connection's SYN
            // on the 4-tuple finds it and is sent.
            send_chunks(ctx, layout, direction, 0, 0);
            let seen = flags | fin_flag(layout);
            if layout.tcp_flags & TCP_RST != 0 || seen & FLOW_FIN_BOTH == FLOW_FIN_BOTH {
                let _ = FLOWS.remove(&layout.key);
                return u64::from(PHASE_NONE);
            }
            if seen != flags {
                // SAFETY: as above.
                unsafe { (*state).flags = seen };
            }
        }
        return u64::from(PHASE_DONE);
    }
    if copied >= budget {
        count(Counter::BudgetSpent);
        return u64::from(PHASE_COPYING);
    }
    let allowed = payload_len.min((budget - copied) as usize);
    let flags = if opened { EVENT_OPENS_FLOW } else { 0 };
    // A flow that crosses an eighth of its budget (16 KiB by default) is
    // past most handshakes, or its data has begun: the reader is woken to
    // mark it done before the budget runs out, rather than on its tick.
    // Computed without a branch: BPF has no conditional set, and a branch
    // here doubled the states the verifier walks through `send_chunks`
    // (0.7 s more CPU at every start). Both operands stay below 2^33, so
    // bit 63 of a difference is its sign: before < eighth <= after.
    let eighth = u64::from(budget / 8);
    let before = u64::from(copied);
    let after = before + allowed as u64;
    let crossing = (before.wrapping_sub(eighth) >> 63) & (!after.wrapping_sub(eighth) >> 63);
    let flags = flags | ((crossing as u8) << 7);
    let sent = send_chunks(ctx, layout, direction, allowed, flags);
    // SAFETY: as above; concurrent updates may lose an addition, which only
    // makes the budget slightly more generous.
    unsafe { (*state).bytes_copied = copied.saturating_add(sent as u32) };
    let fin = fin_flag(layout);
    if fin != 0 {
        // A FIN before the flow is done counts towards its close too. An
        // atomic OR: user space may be marking the flow done right now.
        // SAFETY: as above; `flags` is an aligned u64 of the map value.
        unsafe { or_atomic(&raw mut (*state).flags, fin) };
    }
    if allowed < payload_len {
        count(Counter::BudgetSpent);
    }
    u64::from(PHASE_COPYING)
}

/// The [`FlowState::flags`] bit of a FIN from the packet's sender (none
/// for a packet without FIN).
#[inline(always)]
fn fin_flag(layout: &Layout) -> u64 {
    match (layout.tcp_flags & TCP_FIN != 0, layout.from_low) {
        (false, _) => 0,
        (true, true) => FLOW_FIN_FROM_LOW,
        (true, false) => FLOW_FIN_FROM_HIGH,
    }
}

/// Smallest UDP payload of a datagram carrying a client Initial (RFC 9000
/// section 14.1: clients pad them to 1200 bytes).
const QUIC_MIN_CLIENT_INITIAL: usize = 1200;

/// Whether the payload starts with a long header whose type bits are those
/// of an Initial: 0b00 in v1 and the drafts, 0b01 in v2 (RFC 9369 section
/// 3.2; v1's 0-RTT, which a new connection may send first too).
#[inline(always)]
fn opens_quic_connection(ctx: &TcContext, layout: &Layout) -> bool {
    ctx.load::<u8>(layout.payload_offset)
        .is_ok_and(|first| first & 0xE0 == QUIC_LONG_HEADER_BITS)
}

/// Whether the payload may start a handshake (see [`starts_handshake`]),
/// without counting: the first byte only, when it is at hand.
#[inline(always)]
fn may_start_handshake(ctx: &TcContext, layout: &Layout) -> bool {
    let first = match read::<u8>(ctx, layout.payload_offset) {
        Some(first) => first,
        // Not in the linear data (an offloaded packet's payload is in its
        // pages): one helper call, not the handshake-flow map's lookup.
        None => match ctx.load::<u8>(layout.payload_offset) {
            Ok(first) => first,
            Err(_) => return true,
        },
    };
    if layout.protocol == IPPROTO_TCP {
        first == TLS_CONTENT_HANDSHAKE
    } else {
        first & QUIC_LONG_HEADER_BITS == QUIC_LONG_HEADER_BITS
    }
}

/// Whether the payload starts a TLS handshake record or a QUIC long-header packet.
fn starts_handshake(ctx: &TcContext, layout: &Layout) -> bool {
    let (Ok(first), Ok(second)) = (
        ctx.load::<u8>(layout.payload_offset),
        ctx.load::<u8>(layout.payload_offset + 1),
    ) else {
        return false;
    };
    if layout.protocol == IPPROTO_TCP {
        let handshake = first == TLS_CONTENT_HANDSHAKE && second == TLS_MAJOR_VERSION;
        if handshake {
            count(Counter::TlsHandshakeRecords);
        }
        handshake
    } else {
        let quic = first & QUIC_LONG_HEADER_BITS == QUIC_LONG_HEADER_BITS;
        if quic {
            count(Counter::QuicInitials);
        }
        quic
    }
}

/// Kernel-only facts copied into every event of one packet.
struct PacketFacts {
    timestamp_ns: u64,
    socket_cookie: u64,
    netns_cookie: u64,
    cgroup_id: u64,
    pid_tgid: u64,
    ifindex: u32,
    packet_len: u32,
    header_len: usize,
    direction: u8,
    flags: u8,
    flow_first_ns: u64,
    /// The ring output flags of the packet's events ([`wake_flags`]).
    wake: u64,
}

/// [`send_chunks`]' flag (not sent with the events): wake the reader now.
/// Bit 7, as `copy_handshake` sets it.
const WAKE_NOW: u8 = 0x80;

/// Writes the packet as events of headers + one payload chunk each (a small
/// event for what fits one segment, large ones for offloaded packets);
/// returns the payload bytes sent.
fn send_chunks(
    ctx: &TcContext,
    layout: &Layout,
    direction: u8,
    payload_len: usize,
    flags: u8,
) -> usize {
    let wake_now = flags & WAKE_NOW;
    let flags = flags & !WAKE_NOW;
    let socket_cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let pid_tgid = if socket_cookie == 0 {
        0
    } else {
        // SAFETY: a read of a map value for this program's run.
        unsafe { SOCKET_OWNERS.get(&socket_cookie) }
            .copied()
            .unwrap_or(0)
    };
    let facts = PacketFacts {
        timestamp_ns: unsafe { bpf_ktime_get_ns() },
        socket_cookie,
        pid_tgid,
        netns_cookie: unsafe { bpf_get_netns_cookie(ctx.as_ptr()) },
        cgroup_id: unsafe { bpf_skb_cgroup_id(ctx.as_ptr().cast()) },
        // SAFETY: the context is a valid __sk_buff for the program's run.
        ifindex: unsafe { (*ctx.as_ptr().cast::<__sk_buff>()).ifindex },
        packet_len: ctx.len(),
        // `locate` admits only headers that fit; the min is for the verifier.
        header_len: layout.payload_offset.min(HEADER_CAPACITY),
        direction,
        flags,
        flow_first_ns: layout.flow_first_ns,
        wake: wake_flags(
            PACKET_EVENT_HEADER_LEN + HEADER_CAPACITY + payload_len,
            pid_tgid,
            wake_now,
        ),
    };
    let mut sent = 0usize;
    let mut chunk = 0u32;
    // One event even without payload: a FIN or RST closes the session.
    while chunk < MAX_CHUNKS_PER_PACKET && (sent < payload_len || chunk == 0) {
        let remaining = payload_len - sent;
        let result = if remaining <= CHUNK_CAPACITY {
            send_event(
                ctx,
                &facts,
                layout.payload_offset,
                sent,
                remaining,
                CHUNK_CAPACITY - 1,
            )
        } else {
            send_event(
                ctx,
                &facts,
                layout.payload_offset,
                sent,
                remaining.min(LARGE_CHUNK_CAPACITY),
                LARGE_CHUNK_CAPACITY - 1,
            )
        };
        match result {
            Some(chunk_len) => sent += chunk_len,
            None => return sent,
        }
        chunk += 1;
    }
    if sent < payload_len {
        add(Counter::PayloadTruncated, (payload_len - sent) as u64);
    }
    sent
}

/// One event with `chunk_len` payload bytes from `payload_start + sent`;
/// `None` when it could not be written (counted).
///
/// Built in a per-CPU scratch slot and copied to the ring at its real
/// length (`bpf_ringbuf_output`): a reservation has a size fixed at
/// verification, so every event would take the whole capacity of its
/// class (2,304 or 16,640 bytes) where a handshake's segments carry a few
/// hundred to 1,448 payload bytes and a FIN none. The copy costs tens of
/// nanoseconds per handshake packet; the ring holds two to three times as
/// many handshakes.
#[inline(always)]
fn send_event(
    ctx: &TcContext,
    facts: &PacketFacts,
    payload_start: usize,
    sent: usize,
    chunk_len: usize,
    mask: usize,
) -> Option<usize> {
    let Some(event) = EVENT_SCRATCH.get_ptr_mut(0) else {
        count(Counter::CopyFailed);
        return None;
    };
    // SAFETY: this CPU's scratch slot, exclusively this program run's (TC
    // programs do not nest on a CPU); only scalar fields and `data` are
    // written.
    unsafe {
        (*event).timestamp_ns = facts.timestamp_ns;
        (*event).socket_cookie = facts.socket_cookie;
        (*event).netns_cookie = facts.netns_cookie;
        (*event).cgroup_id = facts.cgroup_id;
        (*event).pid_tgid = facts.pid_tgid;
        (*event).ifindex = facts.ifindex;
        (*event).packet_len = facts.packet_len;
        (*event).payload_offset = sent as u32;
        (*event).payload_len = 0;
        (*event).header_len = facts.header_len as u16;
        (*event).direction = facts.direction;
        (*event).flags = facts.flags;
        (*event)._pad = [0; 4];
        (*event).flow_first_ns = facts.flow_first_ns;
    }
    let data = unsafe { (*event).data.as_mut_ptr() };
    if !load(ctx, 0, data, facts.header_len, HEADER_MASK) {
        count(Counter::CopyFailed);
        return None;
    }
    // The header area is sent whole (its tail unused when the headers are
    // shorter): user space finds the payload right after it.
    let mut size = PACKET_EVENT_HEADER_LEN + HEADER_CAPACITY;
    let mut copied = 0;
    if chunk_len > 0 {
        // SAFETY: `data` has HEADER_CAPACITY + LARGE_CHUNK_CAPACITY bytes,
        // at least HEADER_CAPACITY + mask + 1.
        let payload = unsafe { data.add(HEADER_CAPACITY) };
        if !load(ctx, payload_start + sent, payload, chunk_len, mask) {
            count(Counter::CopyFailed);
            return None;
        }
        copied = bounded_len(chunk_len, mask);
        // SAFETY: as above.
        unsafe { (*event).payload_len = copied as u32 };
        size += copied;
    }
    // SAFETY: the first `size` bytes of the slot are written (fields,
    // headers, payload; the header area's unused tail holds earlier bytes
    // of this CPU's own events); the slice lives for this call.
    let bytes = unsafe { core::slice::from_raw_parts(event.cast_const().cast::<u8>(), size) };
    if EVENTS.output(bytes, facts.wake).is_err() {
        count(Counter::RingBufferFull);
        return None;
    }
    count(Counter::EventsSent);
    note_backlog();
    Some(copied)
}

/// The reader is woken once the ring holds
/// [`KernelConfig::ring_wake_bytes`] (with the packet's events), by the
/// events of a process it has not seen (to attribute it while it runs), or
/// when the caller asks (`wake_now` != 0); otherwise it drains the ring on
/// its tick. Decided once per packet, off the chunk loop: there its
/// branches multiplied the copy path's states past the verifier's limit.
#[inline(never)]
fn wake_flags(size: usize, pid_tgid: u64, wake_now: u8) -> u64 {
    let wake_bytes = CONFIG.get(0).map_or(0, |config| config.ring_wake_bytes);
    if wake_bytes == 0 {
        return 0;
    }
    let tgid = tgid_of(pid_tgid);
    // SAFETY: a lookup whose value is only tested for presence.
    let unknown = tgid != 0 && unsafe { KNOWN_PROCESSES.get(&tgid) }.is_none();
    let waiting = EVENTS.query(u64::from(BPF_RB_AVAIL_DATA));
    if wake_now != 0 || unknown || waiting.saturating_add(size as u64) >= u64::from(wake_bytes) {
        u64::from(BPF_RB_FORCE_WAKEUP)
    } else {
        u64::from(BPF_RB_NO_WAKEUP)
    }
}

/// Keeps the most bytes this CPU has found waiting in the ring (the
/// producer's position less the consumer's) right after an event went in.
#[inline(always)]
fn note_backlog() {
    let waiting = EVENTS.query(u64::from(BPF_RB_AVAIL_DATA));
    if let Some(peak) = COUNTERS.get_ptr_mut(RING_BACKLOG_SLOT) {
        // SAFETY: per-CPU slot owned by this CPU for the program's run.
        unsafe {
            if waiting > *peak {
                *peak = waiting;
            }
        }
    }
}

/// `len` (1..=mask + 1) as `((len - 1) & mask) + 1`, the form the
/// verifier can bound. Through a volatile read the compiler cannot know
/// `len`'s range, so it keeps the mask (it removed it as a no-op).
#[inline(always)]
fn bounded_len(len: usize, mask: usize) -> usize {
    // SAFETY: a read of a local.
    let opaque = unsafe { core::ptr::read_volatile(&len) };
    (opaque.wrapping_sub(1) & mask) + 1
}

/// `bpf_skb_load_bytes` of `len` bytes at `offset` into `dst`.
///
/// `len` must be at most `mask + 1` (a power of two) and `dst` must have
/// room for `mask + 1` bytes. The verifier needs a length it can prove is in
/// `1..=mask + 1`; a `min` and a zero check on another register copy do not
/// survive optimisation, so the bound is made arithmetic:
/// `((len - 1) & mask) + 1` on a value the compiler cannot see through.
#[inline(always)]
fn load(ctx: &TcContext, offset: usize, dst: *mut u8, len: usize, mask: usize) -> bool {
    if len == 0 {
        return true;
    }
    let bounded = bounded_len(len, mask);
    // SAFETY: `dst` points at `mask + 1` writable bytes of a map value.
    let result = unsafe {
        bpf_skb_load_bytes(
            ctx.as_ptr().cast_const(),
            offset as u32,
            dst.cast(),
            bounded as u32,
        )
    };
    result == 0
}

/// Offsets read in place at most: every header the sensor follows starts
/// well before (a bound the verifier needs on a variable offset).
const DIRECT_READ_LIMIT: usize = 511;

/// The `T` at `offset` of the packet when it lies in the linear data the
/// program sees (headers nearly always do); `None` otherwise, and the
/// caller takes the helper path (`bpf_skb_load_bytes`, a call per field:
/// several times the cost of a direct read). No fallback in here: a
/// fallback per field would double the verifier's paths at every read.
#[inline(always)]
fn read<T: Copy>(ctx: &TcContext, offset: usize) -> Option<T> {
    // At least two bytes are checked: the compiler turns a one-byte check
    // (`p + 1 <= end`) into `p < end`, from which the verifier grants no
    // range. A `u8` in the packet's last byte takes the helper path.
    let window = if core::mem::size_of::<T>() < 2 {
        2
    } else {
        core::mem::size_of::<T>()
    };
    let (start, end) = linear_data(ctx);
    if offset > DIRECT_READ_LIMIT || start + offset + window > end {
        return None;
    }
    // SAFETY: `start + offset .. + size_of::<T>()` is inside the packet's
    // linear data (checked just above, in the form the verifier tracks).
    Some(unsafe { core::ptr::read_unaligned((start + offset) as *const T) })
}

/// Start and end of the packet's linear data. Volatile reads of the
/// context: otherwise the compiler may hoist them into a caller and pass
/// them as 32-bit arguments, widening the end pointer with a shift the
/// verifier forbids on it.
#[inline(always)]
fn linear_data(ctx: &TcContext) -> (usize, usize) {
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: the context is a valid __sk_buff for the program's run.
    unsafe {
        (
            core::ptr::read_volatile(&raw const (*skb).data) as usize,
            core::ptr::read_volatile(&raw const (*skb).data_end) as usize,
        )
    }
}

/// [`fast_locate`]: a TCP or UDP packet, `layout` filled in.
const FAST_FOUND: u64 = 1;
/// [`fast_locate`]: certainly nothing the sensor follows (ARP, ICMP, ...).
const FAST_NOT_OURS: u64 = 0;
/// [`fast_locate`]: the full walk must decide (tunnels, IPv6 extension
/// headers, fragments, headers outside the linear data, MPLS).
const FAST_UNSURE: u64 = 2;

/// The common packet's walk, by direct reads: Ethernet, then IPv4 or IPv6
/// without extension headers, then TCP or UDP that is not a tunnel port.
/// Anything else is left to [`tunnel_payload`] and [`locate`], which
/// follow every case with the helper; both walks fill `layout` alike.
#[inline(never)]
fn fast_locate(ctx: &TcContext, layout: *mut Layout) -> u64 {
    let Some(ether_type) = read::<u16>(ctx, 12) else {
        return FAST_UNSURE;
    };
    let base = ETH_HEADER_LEN;
    match u16::from_be(ether_type) {
        ETH_P_IPV4 => {
            let Some(head) = read::<[u8; 20]>(ctx, base) else {
                return FAST_UNSURE;
            };
            if u16::from_be_bytes([head[6], head[7]]) & 0x1FFF != 0 {
                return FAST_UNSURE;
            }
            let protocol = head[9];
            let Some(l4) = transport(ctx, protocol, base + ((head[0] & 0x0F) as usize) * 4) else {
                return FAST_UNSURE_OR_NOT_OURS[usize::from(is_followed_elsewhere(protocol))];
            };
            let source = u32::from_be_bytes([head[12], head[13], head[14], head[15]]);
            let destination = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
            // The key as `FlowKey::new` makes it of the IPv4-mapped
            // addresses (whose first 12 bytes are equal, so the last four
            // decide), written in 8-byte words: a byte-wise build and
            // compare of two 16-byte arrays cost more than the rest of the
            // walk, and the flow cache reads the key back in 8-byte words
            // (a load spanning two smaller stores waits for them to retire).
            let from_low = (source, l4.source_port) <= (destination, l4.destination_port);
            let (low, low_port, high, high_port) = if from_low {
                (source, l4.source_port, destination, l4.destination_port)
            } else {
                (destination, l4.destination_port, source, l4.source_port)
            };
            // SAFETY: `layout` is this CPU's 8-aligned map slot; the key is
            // its first field (`repr(C)`), 40 bytes, 5 aligned words.
            unsafe {
                let words = layout.cast::<u64>();
                for (index, address) in [(0, low), (2, high)] {
                    let a = address.to_be_bytes();
                    words.add(index).write(0);
                    words.add(index + 1).write(u64::from_ne_bytes([
                        0, 0, 0xFF, 0xFF, a[0], a[1], a[2], a[3],
                    ]));
                }
                let (l, h) = (low_port.to_ne_bytes(), high_port.to_ne_bytes());
                words.add(4).write(u64::from_ne_bytes([
                    l[0], l[1], h[0], h[1], protocol, 0, 0, 0,
                ]));
                (*layout).protocol = protocol;
                (*layout).payload_offset = l4.payload_offset;
                (*layout).from_low = from_low;
                (*layout).tcp_flags = l4.tcp_flags;
            }
            FAST_FOUND
        }
        ETH_P_IPV6 => {
            // One check for the whole header: the compiler merges
            // separate ones in ways the verifier cannot follow.
            let Some(head) = read::<[u8; IPV6_HEADER_LEN]>(ctx, base) else {
                return FAST_UNSURE;
            };
            let protocol = head[6];
            let Some(l4) = transport(ctx, protocol, base + IPV6_HEADER_LEN) else {
                return FAST_UNSURE_OR_NOT_OURS[usize::from(is_followed_elsewhere(protocol))];
            };
            let mut source = [0u8; 16];
            let mut destination = [0u8; 16];
            source.copy_from_slice(&head[8..24]);
            destination.copy_from_slice(&head[24..40]);
            let key = FlowKey::new(
                protocol,
                source,
                l4.source_port,
                destination,
                l4.destination_port,
            );
            // SAFETY: `layout` is this CPU's map slot, written whole.
            unsafe {
                layout.write(Layout {
                    protocol,
                    payload_offset: l4.payload_offset,
                    from_low: key.low_address == source && key.low_port == l4.source_port,
                    key,
                    tcp_flags: l4.tcp_flags,
                    slot: 0,
                    epoch: 0,
                    cache_as: 0,
                    counted_on: 0,
                    flow_first_ns: 0,
                    watched: 0,
                    watch_limit: 0,
                })
            };
            FAST_FOUND
        }
        ETH_P_MPLS_UC | ETH_P_MPLS_MC => FAST_UNSURE,
        _ => FAST_NOT_OURS,
    }
}

/// Indexed by [`is_followed_elsewhere`]: not TCP or UDP, or not at hand.
const FAST_UNSURE_OR_NOT_OURS: [u64; 2] = [FAST_NOT_OURS, FAST_UNSURE];

/// IP protocols the full walk follows that the fast one does not: tunnels
/// and IPv6 extension headers (and TCP/UDP themselves, whose headers were
/// not at hand or need the full walk).
#[inline(always)]
fn is_followed_elsewhere(protocol: u8) -> bool {
    matches!(
        protocol,
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_IPIP | IPPROTO_IPV6 | IPPROTO_GRE
    ) || is_ipv6_extension_header(protocol)
}

/// A TCP or UDP header the fast walk read.
struct Transport {
    source_port: u16,
    destination_port: u16,
    payload_offset: usize,
    tcp_flags: u8,
}

/// The TCP or UDP header at `offset`, when it is at hand and the packet
/// is not a UDP tunnel; `None` otherwise.
#[inline(always)]
fn transport(ctx: &TcContext, protocol: u8, offset: usize) -> Option<Transport> {
    let (ports, payload_offset, tcp_flags) = match protocol {
        IPPROTO_TCP => {
            let header = read::<[u8; 14]>(ctx, offset)?;
            (
                [header[0], header[1], header[2], header[3]],
                offset + ((header[12] >> 4) as usize) * 4,
                header[13],
            )
        }
        IPPROTO_UDP => (read::<[u8; 4]>(ctx, offset)?, offset + UDP_HEADER_LEN, 0),
        _ => return None,
    };
    let destination_port = u16::from_be_bytes([ports[2], ports[3]]);
    if protocol == IPPROTO_UDP
        && matches!(
            destination_port,
            VXLAN_PORT | VXLAN_LINUX_PORT | GENEVE_PORT | GTP_U_PORT
        )
    {
        return None;
    }
    if payload_offset > HEADER_CAPACITY {
        return None;
    }
    Some(Transport {
        source_port: u16::from_be_bytes([ports[0], ports[1]]),
        destination_port,
        payload_offset,
        tcp_flags,
    })
}

/// IPv4 addresses as IPv4-mapped IPv6 so one key type covers both.
fn mapped_v4(address: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, address[0], address[1], address[2], address[3],
    ]
}

/// Finds protocol, ports and payload of a TCP or UDP packet over IPv4/IPv6
/// into `layout`; false for anything else. Its own function (stack frame):
/// the header walk's load buffers would otherwise share the classifier's
/// 512 bytes with the copy path. (An out-parameter, not an `Option` return:
/// the kernel refuses the BTF of a Rust enum across a call.)
#[inline(never)]
fn locate(ctx: &TcContext, tunnel: u64, layout: *mut Layout) -> bool {
    match find_layout(ctx, tunnel) {
        Some(found) => {
            // SAFETY: `layout` points at the caller's `Layout`, written whole.
            unsafe { layout.write(found) };
            true
        }
        None => false,
    }
}

#[inline(always)]
fn find_layout(ctx: &TcContext, tunnel: u64) -> Option<Layout> {
    // One tunnel is followed to the flow inside it (`tunnel`, from
    // [`tunnel_payload`]): its packets are the inner flow's, copied and
    // counted as that flow (user space reads the tunnel from the headers
    // the event carries).
    let (ether_type, base) = if tunnel != 0 {
        ((tunnel >> 32) as u16, (tunnel & 0xFFFF) as usize)
    } else {
        (u16::from_be(ctx.load::<u16>(12).ok()?), ETH_HEADER_LEN)
    };
    let (protocol, l4_offset, source, destination) = match ether_type {
        ETH_P_IPV4 => {
            let version_ihl = ctx.load::<u8>(base).ok()?;
            let protocol = ctx.load::<u8>(base + 9).ok()?;
            // Fragments after the first carry no L4 header.
            let fragment = u16::from_be(ctx.load::<u16>(base + 6).ok()?);
            if fragment & 0x1FFF != 0 {
                return None;
            }
            let source: [u8; 4] = ctx.load(base + 12).ok()?;
            let destination: [u8; 4] = ctx.load(base + 16).ok()?;
            (
                protocol,
                base + ((version_ihl & 0x0F) as usize) * 4,
                mapped_v4(source),
                mapped_v4(destination),
            )
        }
        ETH_P_IPV6 => {
            let source: [u8; 16] = ctx.load(base + 8).ok()?;
            let destination: [u8; 16] = ctx.load(base + 24).ok()?;
            let (protocol, l4_offset) = skip_ipv6_extension_headers(ctx, base)?;
            (protocol, l4_offset, source, destination)
        }
        _ => return None,
    };
    if protocol != IPPROTO_TCP && protocol != IPPROTO_UDP {
        if is_ipv6_extension_header(protocol) {
            count(Counter::UnfollowedHeaders);
        }
        return None;
    }
    let source_port = u16::from_be(ctx.load::<u16>(l4_offset).ok()?);
    let destination_port = u16::from_be(ctx.load::<u16>(l4_offset + 2).ok()?);
    let (payload_offset, tcp_flags) = if protocol == IPPROTO_TCP {
        let data_offset = ctx.load::<u8>(l4_offset + 12).ok()?;
        let flags = ctx.load::<u8>(l4_offset + 13).ok()?;
        (l4_offset + ((data_offset >> 4) as usize) * 4, flags)
    } else {
        (l4_offset + UDP_HEADER_LEN, 0)
    };
    if payload_offset > HEADER_CAPACITY {
        count(Counter::UnfollowedHeaders);
        return None;
    }
    let key = FlowKey::new(protocol, source, source_port, destination, destination_port);
    let from_low = key.low_address == source && key.low_port == source_port;
    Some(Layout {
        protocol,
        payload_offset,
        key,
        from_low,
        tcp_flags,
        slot: 0,
        epoch: 0,
        cache_as: 0,
        counted_on: 0,
        flow_first_ns: 0,
        watched: 0,
        watch_limit: 0,
    })
}

/// Where the packet inside a tunnel starts (its EtherType and offset), when
/// `outer` is one: IP-in-IP and 6in4 (protocol 4, 41), GRE with IP or
/// Ethernet inside and ERSPAN I-III, VXLAN (UDP 4789, 8472), Geneve (UDP
/// 6081), GTP-U G-PDUs (UDP 2152) and an MPLS label stack on Ethernet.
///
/// Returns the EtherType in bits 32..48 and the offset in the low bits, 0
/// when the packet is not a tunnel (a scalar: nothing on the caller's
/// stack, which the copy path nearly fills).
#[inline(never)]
fn tunnel_payload(ctx: &TcContext) -> u64 {
    let Ok(outer_type) = ctx.load::<u16>(12) else {
        return 0;
    };
    match find_tunnel_payload(ctx, u16::from_be(outer_type)) {
        Some((ether_type, offset)) => (u64::from(ether_type) << 32) | (offset as u64 & 0xFFFF),
        None => 0,
    }
}

#[inline(always)]
fn find_tunnel_payload(ctx: &TcContext, outer_type: u16) -> Option<(u16, usize)> {
    let (protocol, at) = match outer_type {
        ETH_P_IPV4 => {
            let version_ihl = ctx.load::<u8>(ETH_HEADER_LEN).ok()?;
            let protocol = ctx.load::<u8>(ETH_HEADER_LEN + 9).ok()?;
            let fragment = u16::from_be(ctx.load::<u16>(ETH_HEADER_LEN + 6).ok()?);
            if fragment & 0x1FFF != 0 {
                return None;
            }
            (
                protocol,
                ETH_HEADER_LEN + ((version_ihl & 0x0F) as usize) * 4,
            )
        }
        ETH_P_IPV6 => skip_ipv6_extension_headers(ctx, ETH_HEADER_LEN)?,
        ETH_P_MPLS_UC | ETH_P_MPLS_MC => return mpls_payload(ctx, ETH_HEADER_LEN),
        _ => return None,
    };
    match protocol {
        IPPROTO_IPIP => Some((ETH_P_IPV4, at)),
        IPPROTO_IPV6 => Some((ETH_P_IPV6, at)),
        IPPROTO_GRE => {
            let flags = u16::from_be(ctx.load::<u16>(at).ok()?);
            if flags & 0x0007 != 0 {
                return None;
            }
            let protocol = u16::from_be(ctx.load::<u16>(at + 2).ok()?);
            // Checksum, key and sequence number words, per the C, K, S bits.
            let words = ((flags >> 15) & 1) + ((flags >> 13) & 1) + ((flags >> 12) & 1);
            let inner = at + 4 + 4 * words as usize;
            match protocol {
                ETH_P_IPV4 | ETH_P_IPV6 => Some((protocol, inner)),
                ETH_P_TEB => ethernet_payload(ctx, inner),
                // ERSPAN type I (no sequence number) has no header of its
                // own; type II has 8 bytes.
                ETH_P_ERSPAN_II if flags & 0x1000 == 0 => ethernet_payload(ctx, inner),
                ETH_P_ERSPAN_II => ethernet_payload(ctx, inner + 8),
                // Type III: 12 bytes, 8 more with the platform subheader (O
                // bit, the lowest of its last byte).
                ETH_P_ERSPAN_III => {
                    let optional = ctx.load::<u8>(inner + 11).ok()? & 0x01;
                    ethernet_payload(ctx, inner + 12 + 8 * optional as usize)
                }
                _ => None,
            }
        }
        IPPROTO_UDP => {
            let port = u16::from_be(ctx.load::<u16>(at + 2).ok()?);
            let header = at + UDP_HEADER_LEN;
            match port {
                VXLAN_PORT | VXLAN_LINUX_PORT => {
                    if ctx.load::<u8>(header).ok()? & 0x08 == 0 {
                        return None;
                    }
                    ethernet_payload(ctx, header + 8)
                }
                GENEVE_PORT => {
                    let first: [u8; 4] = ctx.load(header).ok()?;
                    if first[0] >> 6 != 0 {
                        return None;
                    }
                    let inner = header + 8 + (first[0] & 0x3F) as usize * 4;
                    match u16::from_be_bytes([first[2], first[3]]) {
                        ETH_P_TEB => ethernet_payload(ctx, inner),
                        protocol @ (ETH_P_IPV4 | ETH_P_IPV6) => Some((protocol, inner)),
                        _ => None,
                    }
                }
                GTP_U_PORT => gtp_u_payload(ctx, header),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The IP packet after the MPLS label stack at `offset` (RFC 3032: four
/// bytes per entry, the bottom one flagged); no type field follows, so the
/// version nibble says IPv4 or IPv6, and 0 is a pseudowire control word
/// before an Ethernet frame (RFC 4385).
#[inline(always)]
fn mpls_payload(ctx: &TcContext, offset: usize) -> Option<(u16, usize)> {
    let mut at = offset;
    let mut bottom = false;
    for _ in 0..MAX_MPLS_LABELS {
        let entry: [u8; 4] = ctx.load(at).ok()?;
        at += 4;
        if entry[2] & 0x01 != 0 {
            bottom = true;
            break;
        }
    }
    if !bottom {
        return None;
    }
    match ctx.load::<u8>(at).ok()? >> 4 {
        4 => Some((ETH_P_IPV4, at)),
        6 => Some((ETH_P_IPV6, at)),
        0 => ethernet_payload(ctx, at + 4),
        _ => None,
    }
}

/// The IP packet in the Ethernet frame at `offset` (no VLAN tags inside).
#[inline(always)]
fn ethernet_payload(ctx: &TcContext, offset: usize) -> Option<(u16, usize)> {
    let ether_type = u16::from_be(ctx.load::<u16>(offset + 12).ok()?);
    Some((ether_type, offset + ETH_HEADER_LEN))
}

/// The IP packet of a GTP-U G-PDU whose header is at `offset`: after the
/// 8-byte header, the optional sequence/N-PDU word and extension headers.
#[inline(always)]
fn gtp_u_payload(ctx: &TcContext, offset: usize) -> Option<(u16, usize)> {
    let first: [u8; 2] = ctx.load(offset).ok()?;
    // Version 1, protocol type GTP, message type G-PDU.
    if first[0] >> 5 != 1 || first[0] & 0x10 == 0 || first[1] != 0xFF {
        return None;
    }
    let mut at = offset + 8;
    if first[0] & 0x07 != 0 {
        let mut next = ctx.load::<u8>(at + 3).ok()?;
        at += 4;
        for _ in 0..MAX_GTP_EXTENSIONS {
            if next == 0 {
                break;
            }
            let words = ctx.load::<u8>(at).ok()? as usize;
            if words == 0 {
                return None;
            }
            next = ctx.load::<u8>(at + words * 4 - 1).ok()?;
            at += words * 4;
        }
        if next != 0 {
            return None;
        }
    }
    let version = ctx.load::<u8>(at).ok()? >> 4;
    match version {
        4 => Some((ETH_P_IPV4, at)),
        6 => Some((ETH_P_IPV6, at)),
        _ => None,
    }
}

fn is_ipv6_extension_header(next_header: u8) -> bool {
    matches!(
        next_header,
        IPV6_HOP_BY_HOP
            | IPV6_ROUTING
            | IPV6_FRAGMENT
            | IPV6_AUTHENTICATION
            | IPV6_DESTINATION_OPTIONS
    )
}

/// Walks the IPv6 extension header chain (at most
/// [`MAX_IPV6_EXTENSION_HEADERS`]); returns the upper-layer protocol and its
/// offset. A fragment other than the first carries no upper-layer header:
/// `None`. A chain longer than the walk returns its next extension header,
/// which the caller counts as unfollowed.
#[inline(always)]
fn skip_ipv6_extension_headers(ctx: &TcContext, base: usize) -> Option<(u8, usize)> {
    let mut next_header = ctx.load::<u8>(base + 6).ok()?;
    let mut offset = base + IPV6_HEADER_LEN;
    for _ in 0..MAX_IPV6_EXTENSION_HEADERS {
        let length = match next_header {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DESTINATION_OPTIONS => {
                // Hdr Ext Len: 8-octet units, not counting the first 8.
                let header: [u8; 2] = ctx.load(offset).ok()?;
                next_header = header[0];
                (header[1] as usize + 1) * 8
            }
            IPV6_FRAGMENT => {
                let header: [u8; 4] = ctx.load(offset).ok()?;
                // Fragment Offset: the upper 13 bits of bytes 2..4.
                if u16::from_be_bytes([header[2], header[3]]) & 0xFFF8 != 0 {
                    return None;
                }
                next_header = header[0];
                8
            }
            IPV6_AUTHENTICATION => {
                // Payload Len: 4-octet units, minus 2.
                let header: [u8; 2] = ctx.load(offset).ok()?;
                next_header = header[0];
                (header[1] as usize + 2) * 4
            }
            _ => break,
        };
        offset += length;
    }
    Some((next_header, offset))
}

/// Adds the packet to its flow's counters (CNFlow): one LRU lookup and a
/// few atomic adds to its direction's own cache line; a new flow is
/// inserted. Packets of a flow are counted on the interface where the flow
/// was first seen only. Returns the flow's [`FlowCounters::phase`],
/// [`PHASE_UNKNOWN`] without an entry.
///
/// Notes in `layout` whether the flow may go in the CPU's flow cache, and
/// as what: not while it has no entry or has seen a FIN or RST (its last
/// packets then go straight to the entry, which the scan is about to end);
/// counted, on its entry's interface, when it has an entry.
#[inline(never)]
fn count_flow(ctx: &TcContext, layout_slot: *mut Layout) -> u64 {
    // SAFETY: this CPU's layout slot (see `inspect`).
    let layout = unsafe { &mut *layout_slot };
    layout.cache_as = CACHE_EMPTY;
    layout.flow_first_ns = 0;
    layout.watched = 0;
    // Checked here, not in the caller: the caller's frame plus the copy
    // path's must stay within the 512-byte combined stack.
    let (flags, watch_limit) = CONFIG
        .get(0)
        .map_or((0, 0), |config| (config.flags, config.starttls_watch_bytes));
    // Without counting there is no count of the connection's bytes to
    // watch by (a CPU's own count cannot tell a reused 4-tuple's new
    // connection from the old one): every packet is looked at.
    layout.watch_limit = if layout.protocol == IPPROTO_TCP && flags & CONFIG_COUNT_FLOWS != 0 {
        watch_limit
    } else {
        0
    };
    if flags & CONFIG_COUNT_FLOWS == 0 {
        layout.cache_as = CACHE_UNCOUNTED;
        return PHASE_UNKNOWN;
    }
    // SAFETY: the context is a valid __sk_buff for the program's run.
    let (ifindex, gso_segs) = unsafe {
        let skb = ctx.as_ptr().cast::<__sk_buff>();
        ((*skb).ifindex, (*skb).gso_segs)
    };
    let segments = u64::from(gso_segs.max(1));
    // Each segment of an offloaded packet carries its own headers on the wire.
    let bytes = u64::from(ctx.len()) + (segments - 1) * layout.payload_offset as u64;
    // Index 0 or 1. The verifier must see the bound: a bool loaded from
    // memory is 0..=255 to it, and the compiler folds a plain `& 1` away,
    // so the mask is applied behind a volatile read.
    let raw_direction = usize::from(!layout.from_low);
    // SAFETY: a read of a local.
    let direction = unsafe { core::ptr::read_volatile(&raw_direction) } & 1;
    if let Some(counters) = FLOW_COUNTERS.get_ptr_mut(&layout.key) {
        // SAFETY: a pointer to this flow's map value, valid for the
        // program's run; counters are added atomically (another CPU may
        // count the same direction at the same time).
        unsafe {
            let phase = u64::from((*counters).phase);
            let seen_either_way =
                (*counters).directions[0].tcp_flags | (*counters).directions[1].tcp_flags;
            layout.flow_first_ns = (*counters).first_ns;
            let mut watched = connection_bytes(counters);
            if layout.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN && watched > 0 {
                // A client's SYN on a 4-tuple whose entry lives on: a new
                // connection, watched from here. CPUs that cached the old
                // one as past its watch must ask again.
                (*counters).watch_from = entry_bytes(counters);
                if layout.watch_limit != 0 && watched >= u64::from(layout.watch_limit) {
                    bump_phase_epoch();
                }
                watched = 0;
            }
            layout.watched = watched.min(u64::from(u32::MAX)) as u32;
            if (seen_either_way | layout.tcp_flags) & TCP_FIN_OR_RST == 0 {
                layout.cache_as = CACHE_COUNTED;
                layout.counted_on = (*counters).ifindex;
            }
            if (*counters).ifindex != ifindex {
                return phase;
            }
            let own = &raw mut (*counters).directions[direction];
            add_atomic(&raw mut (*own).packets, segments);
            add_atomic(&raw mut (*own).bytes, bytes);
            // The coarse clock (the kernel's tick): a precise read costs
            // more than the rest of the update on a VM's clock source.
            // Stores only when something changed.
            let now = bpf_ktime_get_coarse_ns();
            if (*own).last_ns != now {
                (*own).last_ns = now;
            }
            let seen = (*own).tcp_flags;
            if seen | layout.tcp_flags != seen {
                (*own).tcp_flags = seen | layout.tcp_flags;
            }
            if (*own).socket_cookie == 0 {
                (*own).socket_cookie = bpf_get_socket_cookie(ctx.as_ptr());
            }
            return phase;
        }
    }
    // A TCP flow starts at its SYN, or at data when the sensor came in
    // mid-connection; never at a bare ACK, FIN or RST (the last ACK of a
    // flow whose end was already reported must not open a new one).
    if layout.protocol == IPPROTO_TCP
        && layout.tcp_flags & TCP_SYN == 0
        && ctx.len() as usize <= layout.payload_offset
    {
        return PHASE_UNKNOWN;
    }
    let Some(fresh) = SCRATCH.get_ptr_mut(0) else {
        return PHASE_UNKNOWN;
    };
    // SAFETY: this CPU's scratch slot, exclusively ours for the program's
    // run; every word is written before use.
    unsafe {
        // Word by word: the compiler makes a byte loop (`memset`) of a
        // struct store, which the verifier walks byte by byte on every path.
        let words = fresh.cast::<u64>();
        for word in 0..core::mem::size_of::<FlowCounters>() / 8 {
            core::ptr::write_volatile(words.add(word), 0);
        }
        let now = bpf_ktime_get_ns();
        (*fresh).first_ns = now;
        (*fresh).ifindex = ifindex;
        // Only a client's SYN opens a flow that surely has no handshake
        // entry. A flow first counted later (the sensor came in mid-flow,
        // or the entry was removed while the connection went on: a scan
        // ended the 4-tuple's previous connection, or the LRU evicted it)
        // may be in its handshake: the handshake-flow map is asked once.
        let phase = if layout.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            PHASE_NONE
        } else {
            PHASE_COPYING
        };
        (*fresh).phase = phase;
        (*fresh).opened_by = if layout.tcp_flags & (TCP_SYN | TCP_ACK) != TCP_SYN {
            0
        } else if layout.from_low {
            OPENED_BY_LOW
        } else {
            OPENED_BY_HIGH
        };
        let own = &raw mut (*fresh).directions[direction];
        (*own).packets = segments;
        (*own).bytes = bytes;
        (*own).last_ns = now;
        (*own).tcp_flags = layout.tcp_flags;
        (*own).socket_cookie = bpf_get_socket_cookie(ctx.as_ptr());
        // BPF_NOEXIST: a racing first packet on another CPU wins; this one
        // is then not counted (one packet of a new flow).
        match FLOW_COUNTERS.insert(&layout.key, &*fresh, 1) {
            Ok(()) => {
                layout.cache_as = CACHE_COUNTED;
                layout.counted_on = ifindex;
                layout.flow_first_ns = now;
                u64::from(phase)
            }
            Err(_) => PHASE_UNKNOWN,
        }
    }
}

/// An atomic OR whose result is unused (BPF `atomic or`, kernel 5.12+).
///
/// # Safety
/// `target` must point at a live, aligned `u64` of a map value.
#[inline(always)]
pub(crate) unsafe fn or_atomic(target: *mut u64, bits: u64) {
    // SAFETY: the caller's promise.
    unsafe {
        core::intrinsics::atomic_or::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
            target, bits,
        );
    }
}

/// An atomic add whose result is unused (BPF `lock xadd`, which every
/// kernel's verifier accepts). `core`'s `AtomicU64::fetch_add` is not
/// offered on the BPF target, so the intrinsic behind it is used (the eBPF
/// crate is built with a pinned nightly).
///
/// # Safety
/// `target` must point at a live, aligned `u64` of a map value.
#[inline(always)]
pub(crate) unsafe fn add_atomic(target: *mut u64, amount: u64) {
    // SAFETY: the caller's promise.
    unsafe {
        core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
            target, amount,
        );
    }
}
