//! Each CPU's cache of the last flow it saw.
//!
//! Bulk traffic arrives as runs of packets of one flow on one CPU, so the
//! kernel keeps a packet's flow in a per-CPU slot: the next packet of the
//! same flow is counted in that slot and its phase read from it, without
//! a hash lookup in the shared flow-counters map and without atomic adds
//! to a cache line the flow's other direction writes from another CPU.
//! The slot's counts go to the map entry (a flush) when another flow comes
//! along, at the first packet of each clock tick, and before any SYN, FIN
//! or RST of the flow; pending packets are all of one tick, so the slot
//! keeps their time once, not per packet.
//!
//! A CPU that goes quiet keeps its last counts, so the CNFlow scan adds a
//! slot's counts to the entry it reads, under the slot's sequence number:
//! odd while a flush is under way, moved on by every flush, so a read
//! that straddles a flush is retried instead of counting twice.

use crate::{FlowCounters, FlowKey};

/// Name of the one-slot array of the phase epoch: moved on whenever a flow
/// enters its handshake phase, so every CPU's cached phase is asked again.
pub const PHASE_EPOCH_MAP: &str = "CIPHERLENS_PHASE_EPOCH";

/// Slots per CPU: a flow maps to one by a hash of its key, so flows that
/// interleave on a CPU (a busy node's usual traffic) each keep theirs.
pub const FLOW_CACHE_SLOTS: usize = 64;

/// [`CpuFlowCache::state`]: the slot holds no flow.
pub const CACHE_EMPTY: u8 = 0;
/// [`CpuFlowCache::state`]: the slot's flow and phase are known; its
/// packets are not counted (CNFlow counting is off).
pub const CACHE_UNCOUNTED: u8 = 1;
/// [`CpuFlowCache::state`]: the slot's flow and phase are known, and its
/// packets on the interface it is counted on are counted in the slot until
/// the next flush.
pub const CACHE_COUNTED: u8 = 2;

/// One CPU's last flow: which it is, its phase, and the counts not yet in
/// its [`FlowCounters`] entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CpuFlowCache {
    pub key: FlowKey,
    /// Even at rest, odd during a flush; two more after each flush.
    pub seq: u64,
    /// The phase epoch the cached phase was read under.
    pub epoch: u64,
    /// The clock tick (jiffies) the pending counts are from: a packet in a
    /// later tick flushes them first.
    pub tick: u64,
    /// CLOCK_MONOTONIC at that tick (the coarse clock): the time of the
    /// pending packets.
    pub tick_ns: u64,
    /// The interface the flow is counted on (its entry's: the one where
    /// it was first seen); its packets on other interfaces are not counted.
    pub ifindex: u32,
    /// [`CACHE_EMPTY`], [`CACHE_UNCOUNTED`] or [`CACHE_COUNTED`].
    pub state: u8,
    /// The flow's phase ([`crate::PHASE_NONE`] or [`crate::PHASE_DONE`]:
    /// the other phases are never cached).
    pub phase: u8,
    /// TCP flags seen since the last flush, indexed like
    /// [`FlowCounters::directions`].
    pub tcp_flags: [u8; 2],
    /// Bytes of the flow known to this slot while its phase is
    /// [`crate::PHASE_NONE`] (its entry's total at the last flush, plus
    /// what came since; saturating): a TCP flow past
    /// [`Self::watch_limit`] is not looked at for a handshake start.
    pub watched: u32,
    /// [`KernelConfig::starttls_watch_bytes`](crate::KernelConfig) when the
    /// slot was filled (0: no limit).
    pub watch_limit: u32,
    /// Counts since the last flush, indexed like [`FlowCounters::directions`].
    pub directions: [CachedDirection; 2],
    pub _pad: [u8; 8],
}

/// One direction's counts not yet flushed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CachedDirection {
    pub packets: u64,
    pub bytes: u64,
}

const _: () = assert!(core::mem::size_of::<CachedDirection>() == 16);
/// Two cache lines.
const _: () = assert!(core::mem::size_of::<CpuFlowCache>() == 128);

impl CpuFlowCache {
    /// `counters` with this slot's pending counts added.
    pub fn add_to(&self, counters: &mut FlowCounters) {
        let pending = self.directions.iter().zip(self.tcp_flags);
        for (total, (pending, tcp_flags)) in counters.directions.iter_mut().zip(pending) {
            if pending.packets == 0 {
                continue;
            }
            total.packets += pending.packets;
            total.bytes += pending.bytes;
            total.last_ns = total.last_ns.max(self.tick_ns);
            total.tcp_flags |= tcp_flags;
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: `repr(C)`, every bit pattern valid, padding explicit (the
    // size asserts above).
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::CpuFlowCache {}
}
