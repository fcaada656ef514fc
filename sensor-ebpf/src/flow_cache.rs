//! The per-CPU flow cache in front of the flow-counters map (see
//! `cipherlens_common::flow_cache` for what it holds and how user space
//! reads it).
//!
//! A packet whose flow sits in its CPU's slot, with no SYN, FIN or RST,
//! under the current phase epoch, costs a key compare and a few plain adds
//! to this CPU's own memory: no hash, no shared cache line. Everything
//! else takes the full path (`count_flow`, the handshake-flow map), and
//! [`remember`] then puts the flow in the slot if its phase is one that
//! lets most packets pass without a look at the handshake-flow map.

use aya_ebpf::{
    EbpfContext,
    bindings::__sk_buff,
    helpers::generated::{bpf_jiffies64, bpf_ktime_get_coarse_ns},
    macros::map,
    maps::Array,
    programs::TcContext,
};
use cipherlens_common::cpu_state::CpuState;
use cipherlens_common::flow_cache::{CACHE_COUNTED, CACHE_EMPTY, CpuFlowCache, FLOW_CACHE_SLOTS};
use cipherlens_common::{Counter, FlowCounters, FlowKey, PHASE_DONE, PHASE_NONE};

use crate::tc::{FLOW_COUNTERS, Layout, add, add_atomic, layout_of};

#[map(name = "CIPHERLENS_PHASE_EPOCH")]
static PHASE_EPOCH: Array<u64> = Array::with_max_entries(1, 0);

/// [`cached_phase`]: the flow is not in the slot; the full path decides.
pub(crate) const PHASE_MISS: u64 = 0xFE;

/// TCP flags that always take the full path: they open or close flows.
const OPENS_OR_CLOSES: u8 = 0x01 | 0x02 | 0x04;

/// Every CPU's cached phase goes stale: a flow entered its handshake phase.
#[inline(always)]
pub(crate) fn bump_phase_epoch() {
    if let Some(epoch) = PHASE_EPOCH.get_ptr_mut(0) {
        // SAFETY: the map's one aligned u64, live for the program's run.
        unsafe { add_atomic(epoch, 1) };
    }
}

/// The slot a key maps to: a fold of its ports, protocol and the
/// addresses' last words (the words that differ between flows of a node),
/// read as the words the header walk stored.
///
/// # Safety
/// `key` points at a key at the start of an 8-aligned map value.
#[inline(always)]
unsafe fn slot_of(key: *const FlowKey) -> usize {
    // SAFETY: the caller's promise: 40 readable, 8-aligned bytes.
    let (low, high, rest) = unsafe {
        (
            key.cast::<u32>().add(3).read(),
            key.cast::<u32>().add(7).read(),
            key.cast::<u64>().add(4).read(),
        )
    };
    let mut mixed = low ^ high.rotate_left(7) ^ (rest as u32) ^ ((rest >> 32) as u32);
    mixed ^= mixed >> 16;
    mixed = mixed.wrapping_mul(0x45D9_F3B);
    mixed ^= mixed >> 16;
    mixed as usize & (FLOW_CACHE_SLOTS - 1)
}

/// Whether two keys are equal, compared in words (both sit at the start of
/// 8-aligned map values).
#[inline(always)]
fn same_key(a: *const FlowKey, b: *const FlowKey) -> bool {
    let (a, b) = (a.cast::<u64>(), b.cast::<u64>());
    // SAFETY: both point at 40 readable, 8-aligned bytes.
    unsafe {
        let mut differ = 0u64;
        for word in 0..core::mem::size_of::<FlowKey>() / 8 {
            differ |= a.add(word).read() ^ b.add(word).read();
        }
        differ == 0
    }
}

/// The phase of the packet's flow from its CPU's slot, counting the packet
/// there; [`PHASE_MISS`] when the full path must run (the slot's previous
/// flow, if it had counts, is flushed first so the slot can be reused).
/// Notes the slot and the epoch in the state's layout for [`remember`].
#[inline(always)]
pub(crate) fn cached_phase(ctx: &TcContext, state: *mut CpuState) -> u64 {
    let layout = layout_of(state);
    // SAFETY: this CPU's element, valid for the program's run.
    let slots = unsafe { &raw mut (*state).slots };
    let epoch = match PHASE_EPOCH.get(0) {
        Some(epoch) => *epoch,
        None => return PHASE_MISS,
    };
    // SAFETY: `layout` and `slots` are this CPU's map slots, exclusively
    // this program run's (TC programs do not nest on a CPU).
    unsafe {
        let index = slot_of(&raw const (*layout).key);
        (*layout).epoch = epoch;
        (*layout).slot = index as u32;
        // Known only to the full path (`count_flow`).
        (*layout).flow_first_ns = 0;
        (*layout).watch_limit = 0;
        let slot = &raw mut (*slots)[index];
        if (*slot).state == CACHE_EMPTY
            || !same_key(&raw const (*slot).key, &raw const (*layout).key)
        {
            flush(slot);
            return PHASE_MISS;
        }
        if (*layout).tcp_flags & OPENS_OR_CLOSES != 0 || (*slot).epoch != epoch {
            flush(slot);
            (*slot).state = CACHE_EMPTY;
            return PHASE_MISS;
        }
        let ifindex = (*ctx.as_ptr().cast::<__sk_buff>()).ifindex;
        // The interface the slot's flow is counted (and watched) on: its
        // packets elsewhere (routed on, or inside and outside a tunnel)
        // are the same bytes again.
        let here = (*slot).ifindex == ifindex;
        if (*slot).state == CACHE_COUNTED {
            // The tick: a load of `jiffies` (the verifier inlines the
            // helper). A packet of a new tick flushes the last tick's
            // counts first, which may find the flow's entry gone or its
            // phase moved on: the full path then takes the packet.
            if (*slot).tick != bpf_jiffies64() {
                flush(slot);
                if (*slot).state != CACHE_COUNTED {
                    return PHASE_MISS;
                }
            }
            if here {
                count_here(ctx, layout, slot);
            }
        }
        let phase = (*slot).phase;
        if phase == PHASE_NONE && (*slot).watch_limit != 0 {
            // What decides this packet (`Layout::past_watch`): the bytes
            // before it.
            let watched = (*slot).watched;
            (*layout).watched = watched;
            (*layout).watch_limit = (*slot).watch_limit;
            if here {
                set_watched(slot, u64::from(watched) + u64::from(ctx.len()));
            }
        }
        u64::from(phase)
    }
}

/// Raises the slot's watched bytes to `total` (saturating).
///
/// # Safety
/// `slot` is this CPU's, as in [`cached_phase`].
#[inline(always)]
unsafe fn set_watched(slot: *mut CpuFlowCache, total: u64) {
    // SAFETY: the caller's promise.
    unsafe {
        let total = total.min(u64::from(u32::MAX)) as u32;
        if total > (*slot).watched {
            (*slot).watched = total;
        }
    }
}

/// Adds the packet to the slot's pending counts.
///
/// # Safety
/// `layout` and `slot` are this CPU's, as in [`cached_phase`].
#[inline(always)]
unsafe fn count_here(ctx: &TcContext, layout: *const Layout, slot: *mut CpuFlowCache) {
    // SAFETY: the caller's promise; the context is a valid __sk_buff.
    unsafe {
        let gso_segs = (*ctx.as_ptr().cast::<__sk_buff>()).gso_segs;
        let segments = u64::from(gso_segs.max(1));
        let payload_offset = (*layout).payload_offset as u64;
        let len = u64::from(ctx.len());
        let bytes = len + (segments - 1) * payload_offset;
        // Index 0 or 1, bounded for the verifier behind a volatile read.
        let raw_direction = usize::from(!(*layout).from_low);
        let direction = core::ptr::read_volatile(&raw_direction) & 1;
        let own = &raw mut (*slot).directions[direction];
        (*own).packets += segments;
        (*own).bytes += bytes;
        (*slot).tcp_flags[direction] |= (*layout).tcp_flags;
    }
}

/// Moves the slot's pending counts to its flow's entry, between two steps
/// of its sequence number; refreshes the cached phase from the entry. A
/// flow whose entry is gone (ended and reported, or evicted) leaves the
/// slot, its counts counted as orphans.
#[inline(never)]
fn flush(slot: *mut CpuFlowCache) {
    // SAFETY: this CPU's slot (see `cached_phase`); the entry pointer is
    // valid for the program's run, its counters added atomically.
    unsafe {
        if (*slot).state != CACHE_COUNTED {
            return;
        }
        let pending = (*slot).directions[0].packets + (*slot).directions[1].packets;
        if pending == 0 {
            start_tick(slot);
            return;
        }
        step_sequence(slot);
        match FLOW_COUNTERS.get_ptr_mut(&(*slot).key) {
            Some(entry) => {
                for direction in 0..2 {
                    let cached = &raw mut (*slot).directions[direction];
                    let total = &raw mut (*entry).directions[direction];
                    if (*cached).packets == 0 {
                        continue;
                    }
                    add_atomic(&raw mut (*total).packets, (*cached).packets);
                    add_atomic(&raw mut (*total).bytes, (*cached).bytes);
                    if (*total).last_ns < (*slot).tick_ns {
                        (*total).last_ns = (*slot).tick_ns;
                    }
                    let seen = (*total).tcp_flags;
                    let cached_flags = (*slot).tcp_flags[direction];
                    if seen | cached_flags != seen {
                        (*total).tcp_flags = seen | cached_flags;
                    }
                }
                let phase = (*entry).phase;
                if phase == PHASE_NONE || phase == PHASE_DONE {
                    (*slot).phase = phase;
                    // Other CPUs' packets of the connection count too.
                    set_watched(slot, connection_bytes(entry));
                } else {
                    (*slot).state = CACHE_EMPTY;
                }
            }
            None => {
                add(Counter::FlowCacheOrphans, pending);
                (*slot).state = CACHE_EMPTY;
            }
        }
        for direction in 0..2 {
            let cached = &raw mut (*slot).directions[direction];
            (*cached).packets = 0;
            (*cached).bytes = 0;
        }
        (*slot).tcp_flags = [0; 2];
        start_tick(slot);
        step_sequence(slot);
    }
}

/// One step of the slot's sequence number, by an atomic add: on x86-64 a
/// locked instruction, which orders the stores around it, so a reader on
/// another CPU sees the entry's update only between the two steps. (The
/// object is built for BPF's generic CPU, which has no fetching atomics;
/// on arm64 the add alone does not order, and the scan's check is then a
/// best effort over a window of nanoseconds.)
///
/// # Safety
/// `slot` is this CPU's, as in [`cached_phase`].
#[inline(always)]
unsafe fn step_sequence(slot: *mut CpuFlowCache) {
    // SAFETY: the caller's promise; `seq` is an aligned u64 of the slot.
    unsafe { add_atomic(&raw mut (*slot).seq, 1) };
}

/// Dates the slot's next pending counts: this tick, and its time.
///
/// # Safety
/// `slot` is this CPU's, as in [`cached_phase`].
#[inline(always)]
unsafe fn start_tick(slot: *mut CpuFlowCache) {
    // SAFETY: the caller's promise; helpers allowed in TC programs.
    unsafe {
        (*slot).tick = bpf_jiffies64();
        (*slot).tick_ns = bpf_ktime_get_coarse_ns();
    }
}

/// Puts the packet's flow in its CPU's slot after the full path, when its
/// phase lets most of its packets skip the handshake-flow map (none, or
/// done), the packet neither opens nor closes it, and `count_flow` found
/// it cacheable (the state's `layout.cache_as`).
#[inline(never)]
pub(crate) fn remember(state: *mut CpuState, phase: u64) {
    let layout = layout_of(state);
    // SAFETY: this CPU's element, valid for the program's run.
    let slots = unsafe { &raw mut (*state).slots };
    // SAFETY: as in `cached_phase`; the slot's previous flow was flushed
    // there, so overwriting it loses no counts.
    unsafe {
        let state = (*layout).cache_as;
        if state == CACHE_EMPTY
            || (*layout).tcp_flags & OPENS_OR_CLOSES != 0
            || (phase != u64::from(PHASE_NONE) && phase != u64::from(PHASE_DONE))
        {
            return;
        }
        let slot = &raw mut (*slots)[(*layout).slot as usize & (FLOW_CACHE_SLOTS - 1)];
        let words = (&raw const (*layout).key).cast::<u64>();
        let into = (&raw mut (*slot).key).cast::<u64>();
        for word in 0..core::mem::size_of::<FlowKey>() / 8 {
            into.add(word).write(words.add(word).read());
        }
        (*slot).epoch = (*layout).epoch;
        start_tick(slot);
        (*slot).ifindex = (*layout).counted_on;
        (*slot).phase = phase as u8;
        (*slot).watched = (*layout).watched;
        (*slot).watch_limit = (*layout).watch_limit;
        // Counted or uncounted, as `count_flow` found.
        (*slot).state = state;
    }
}

/// Both directions' bytes of the entry.
///
/// # Safety
/// `entry` points at a live flow-counters map value.
#[inline(always)]
pub(crate) unsafe fn entry_bytes(entry: *const FlowCounters) -> u64 {
    // SAFETY: the caller's promise.
    unsafe { (*entry).directions[0].bytes + (*entry).directions[1].bytes }
}

/// Both directions' bytes of the entry's current connection (since the
/// SYN that reused its 4-tuple, if one did): what the STARTTLS watch counts.
///
/// # Safety
/// `entry` points at a live flow-counters map value.
#[inline(always)]
pub(crate) unsafe fn connection_bytes(entry: *const FlowCounters) -> u64 {
    // SAFETY: the caller's promise.
    unsafe { entry_bytes(entry).saturating_sub((*entry).watch_from) }
}
