//! The copy path: a packet of a flow in its handshake phase goes to the
//! ring buffer as events (headers and a payload chunk each), within the
//! flow's byte budget; the handshake-flow map says which flows those are,
//! from a TLS handshake record or a QUIC long header until user space
//! marks the flow done, and its FIN/RST segments are sent after that.

use aya_ebpf::{
    EbpfContext,
    bindings::{__sk_buff, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::generated::{
        bpf_get_netns_cookie, bpf_get_socket_cookie, bpf_ktime_get_ns, bpf_skb_cgroup_id,
    },
    programs::TcContext,
};
use cipherlens_common::{
    CHUNK_CAPACITY, Counter, DEFAULT_FLOW_BYTE_BUDGET, EVENT_OPENS_FLOW, FLOW_DONE, FLOW_FIN_BOTH,
    FLOW_FIN_FROM_HIGH, FLOW_FIN_FROM_LOW, FlowState, HEADER_CAPACITY, IPPROTO_TCP, IPPROTO_UDP,
    LARGE_CHUNK_CAPACITY, MAX_CHUNKS_PER_PACKET, PACKET_EVENT_HEADER_LEN, PHASE_COPYING,
    PHASE_DONE, PHASE_NONE, RING_BACKLOG_SLOT, TLS_CONTENT_HANDSHAKE, TLS_MAJOR_VERSION, tgid_of,
};

use super::packet::{bounded_len, load, read};
use super::{
    CONFIG, COUNTERS, EVENT_SCRATCH, EVENTS, FLOWS, KNOWN_PROCESSES, Layout, PHASE_UNKNOWN,
    SOCKET_OWNERS, TCP_ACK, TCP_FIN, TCP_FIN_OR_RST, TCP_RST, TCP_SYN, add, count, or_atomic,
};
use crate::flow_cache::bump_phase_epoch;

/// QUIC long header form bit and fixed bit (RFC 9000 section 17.2).
const QUIC_LONG_HEADER_BITS: u8 = 0xC0;
/// Header copies are bounded by 256 for the verifier; the header area (192)
/// plus the chunk area after it leave room for that.
const HEADER_MASK: usize = 255;
const _: () = assert!(HEADER_MASK + 1 <= HEADER_CAPACITY + CHUNK_CAPACITY);
const _: () = assert!(CHUNK_CAPACITY.is_power_of_two());

/// Copies the packet if its flow is in the handshake phase; returns the
/// flow's phase afterwards ([`PHASE_UNKNOWN`] when the map was not asked).
#[inline(never)]
pub(super) fn copy_handshake(ctx: &TcContext, layout: &Layout, direction: u8) -> u64 {
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
pub(super) const QUIC_MIN_CLIENT_INITIAL: usize = 1200;

/// Whether the payload starts with a long header whose type bits are those
/// of an Initial: 0b00 in v1 and the drafts, 0b01 in v2 (RFC 9369 section
/// 3.2; v1's 0-RTT, which a new connection may send first too).
#[inline(always)]
pub(super) fn opens_quic_connection(ctx: &TcContext, layout: &Layout) -> bool {
    ctx.load::<u8>(layout.payload_offset)
        .is_ok_and(first_byte_opens_quic)
}

/// [`opens_quic_connection`] of a payload's first byte.
#[inline(always)]
pub(super) fn first_byte_opens_quic(first: u8) -> bool {
    first & 0xE0 == QUIC_LONG_HEADER_BITS
}

/// [`may_start_handshake`] of a payload's first byte.
#[inline(always)]
pub(super) fn first_byte_may_start(protocol: u8, first: u8) -> bool {
    if protocol == IPPROTO_TCP {
        first == TLS_CONTENT_HANDSHAKE
    } else {
        first & QUIC_LONG_HEADER_BITS == QUIC_LONG_HEADER_BITS
    }
}

/// Whether the payload may start a handshake (see [`starts_handshake`]),
/// without counting: the first byte only, when it is at hand.
#[inline(always)]
pub(super) fn may_start_handshake(ctx: &TcContext, layout: &Layout) -> bool {
    let first = match read::<u8>(ctx, layout.payload_offset) {
        Some(first) => first,
        // Not in the linear data (an offloaded packet's payload is in its
        // pages): one helper call, not the handshake-flow map's lookup.
        None => match ctx.load::<u8>(layout.payload_offset) {
            Ok(first) => first,
            Err(_) => return true,
        },
    };
    first_byte_may_start(layout.protocol, first)
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
