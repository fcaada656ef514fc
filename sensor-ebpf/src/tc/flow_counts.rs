//! CNFlow counting in the kernel: each packet is added to its flow's
//! entry in the flow-counters map (a new flow gets one), which also
//! remembers the flow's phase for the common path.

use aya_ebpf::{
    EbpfContext,
    bindings::__sk_buff,
    helpers::generated::{bpf_get_socket_cookie, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    programs::TcContext,
};
use cipherlens_common::flow_cache::{CACHE_COUNTED, CACHE_EMPTY, CACHE_UNCOUNTED};
use cipherlens_common::{
    CONFIG_COUNT_FLOWS, FlowCounters, IPPROTO_TCP, OPENED_BY_HIGH, OPENED_BY_LOW, PHASE_COPYING,
    PHASE_NONE,
};

use super::{
    CONFIG, FLOW_COUNTERS, Layout, PHASE_UNKNOWN, SCRATCH, TCP_ACK, TCP_FIN_OR_RST, TCP_SYN,
    add_atomic,
};
use crate::flow_cache::{bump_phase_epoch, connection_bytes, entry_bytes};

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
pub(super) fn count_flow(ctx: &TcContext, layout_slot: *mut Layout) -> u64 {
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
