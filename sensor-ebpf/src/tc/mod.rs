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
//!
//! One module per step of a packet's way: `headers` and `tunnels` find
//! where its parts are, `flow_counts` counts it for CNFlow, `copy` sends
//! it to user space while its flow is in the handshake phase; `packet`
//! holds the reads they share. This module holds the maps, the
//! classifiers and the common path that decides which steps a packet
//! takes.

mod copy;
mod flow_counts;
mod headers;
mod packet;
mod tunnels;

use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, TC_ACT_PIPE},
    helpers::generated::bpf_get_smp_processor_id,
    macros::{classifier, map},
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
    programs::TcContext,
};
use cipherlens_common::cpu_state::{CpuState, SCRATCH_WORDS};
use cipherlens_common::{
    Counter, DIRECTION_EGRESS, DIRECTION_INGRESS, FlowCounters, FlowKey, FlowState, IPPROTO_UDP,
    KernelConfig, LargePacketEvent, MAX_COUNTED_FLOWS, MAX_FLOWS, MAX_KNOWN_PROCESSES,
    MAX_SOCKET_OWNERS, PHASE_DONE, PHASE_NONE,
};

use self::copy::{
    QUIC_MIN_CLIENT_INITIAL, copy_handshake, first_byte_may_start, first_byte_opens_quic,
    may_start_handshake, opens_quic_connection,
};
use self::flow_counts::count_flow;
use self::headers::{FAST_FOUND, FAST_NOT_OURS, fast_locate, locate};
use self::packet::read;
use self::tunnels::tunnel_payload;
use crate::flow_cache::{PHASE_MISS, cached_phase, remember};

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

/// TCP flags byte: FIN and RST, and single flags.
pub(super) const TCP_FIN_OR_RST: u8 = TCP_FIN | TCP_RST;
pub(super) const TCP_FIN: u8 = 0x01;
pub(super) const TCP_SYN: u8 = 0x02;
pub(super) const TCP_RST: u8 = 0x04;
pub(super) const TCP_ACK: u8 = 0x10;

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
    /// A packet's layout as a header walk finds it, from its flow key and
    /// the packet's source; what the flow cache and the counting learn
    /// later starts at zero.
    #[inline(always)]
    fn found(
        protocol: u8,
        key: FlowKey,
        source: ([u8; 16], u16),
        payload_offset: usize,
        tcp_flags: u8,
    ) -> Self {
        Layout {
            protocol,
            payload_offset,
            from_low: key.low_address == source.0 && key.low_port == source.1,
            key,
            tcp_flags,
            slot: 0,
            epoch: 0,
            cache_as: 0,
            counted_on: 0,
            flow_first_ns: 0,
            watched: 0,
            watch_limit: 0,
        }
    }

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
    let quick = quick_answer(ctx, state, unsafe { &*layout }, phase);
    // SAFETY: as above.
    if quick == ANSWER_NO || !may_change_flow_state(ctx, state, unsafe { &*layout }, phase) {
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

/// [`quick_answer`]: the handshake-flow map has nothing to do with the packet.
const ANSWER_NO: u8 = 0;
/// [`quick_answer`]: it must be consulted.
const ANSWER_YES: u8 = 1;
/// [`quick_answer`]: the payload decides (a handshake or QUIC start?), and
/// its first byte is not in the linear data.
const ANSWER_PAYLOAD: u8 = 2;

/// What the flow's phase, the packet's headers and the payload's first
/// byte (when it is in the linear data) say of whether the handshake-flow
/// map must be consulted. Inlined: the common packet (no SYN, FIN or RST
/// of a flow outside its handshake) ends here, and on an AMD host's return
/// thunk (SRSO "Safe RET") a BPF-to-BPF call costs a mispredicted return.
#[inline(always)]
fn quick_answer(ctx: &TcContext, state: *mut CpuState, layout: &Layout, phase: u64) -> u8 {
    let payload_len = (ctx.len() as usize).saturating_sub(layout.payload_offset);
    // A client's SYN: a reused 4-tuple's old entry goes.
    let syn = layout.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN;
    match phase as u8 {
        _ if phase == PHASE_UNKNOWN => {
            if payload_len > 0 || layout.tcp_flags & (TCP_FIN_OR_RST | TCP_SYN) != 0 {
                ANSWER_YES
            } else {
                ANSWER_NO
            }
        }
        PHASE_NONE => {
            if syn {
                ANSWER_YES
            } else if payload_len == 0 {
                ANSWER_NO
            } else if layout.past_watch() {
                // SAFETY: this CPU's element, as in `inspect`.
                unsafe { (*state).starttls_unwatched += 1 };
                ANSWER_NO
            } else {
                match read::<u8>(ctx, layout.payload_offset) {
                    Some(first) => yes_if(first_byte_may_start(layout.protocol, first)),
                    None => ANSWER_PAYLOAD,
                }
            }
        }
        PHASE_DONE => {
            if syn || layout.tcp_flags & TCP_FIN_OR_RST != 0 {
                ANSWER_YES
            } else if layout.protocol == IPPROTO_UDP && payload_len >= QUIC_MIN_CLIENT_INITIAL {
                match read::<u8>(ctx, layout.payload_offset) {
                    Some(first) => yes_if(first_byte_opens_quic(first)),
                    None => ANSWER_PAYLOAD,
                }
            } else {
                ANSWER_NO
            }
        }
        _ => ANSWER_YES,
    }
}

/// [`ANSWER_YES`] or [`ANSWER_NO`].
#[inline(always)]
fn yes_if(yes: bool) -> u8 {
    if yes { ANSWER_YES } else { ANSWER_NO }
}

/// Whether the handshake-flow map must be consulted for this packet, given
/// what the counters entry says of the flow ([`quick_answer`], then the
/// payload's first byte by the helper when it is outside the linear data).
/// Its own function: its branches end in one answer, so the verifier walks
/// the copy path once per answer rather than once per branch.
#[inline(never)]
fn may_change_flow_state(
    ctx: &TcContext,
    state: *mut CpuState,
    layout: &Layout,
    phase: u64,
) -> bool {
    match quick_answer(ctx, state, layout, phase) {
        ANSWER_NO => false,
        ANSWER_YES => true,
        _ if phase as u8 == PHASE_NONE => may_start_handshake(ctx, layout),
        _ => opens_quic_connection(ctx, layout),
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
