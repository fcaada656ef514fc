//! What the kernel's per-CPU flow caches still hold for a flow, added to
//! its entry when the CNFlow scan reads it.
//!
//! A CPU counts its recent flows' packets in its own slots and moves them
//! to the flows' entries only when the slot is reused, once per clock tick
//! while packets come, or before a SYN, FIN or RST. A CPU that goes quiet
//! keeps its counts, so a scan that read only the entries would report a
//! flow's last packets late, or never if the flow ended. The scan reads
//! the caches before and after it reads an entry: when no slot that held
//! the flow moved its counts in between (same even sequence number), the
//! entry and the later read's pending counts are disjoint and their sum is
//! the flow's total; otherwise the read is repeated.

use std::collections::HashMap;

use cipherlens_common::FlowCounters;
use cipherlens_common::flow_cache::{CACHE_COUNTED, CpuFlowCache};

use crate::flow::FlowKey;

/// One read of every CPU's slots.
#[derive(Debug, Default)]
pub struct CacheView {
    /// Every CPU's slots, one after the other.
    slots: Vec<CpuFlowCache>,
    /// Where each cached flow sits in `slots`.
    index: HashMap<FlowKey, Vec<usize>, foldhash::fast::RandomState>,
}

impl CacheView {
    /// A view of the slots read from every CPU (`per_cpu`: one slice per CPU).
    pub fn new<'a>(per_cpu: impl IntoIterator<Item = &'a [CpuFlowCache]>) -> Self {
        let slots: Vec<CpuFlowCache> = per_cpu.into_iter().flatten().copied().collect();
        let mut index: HashMap<FlowKey, Vec<usize>, foldhash::fast::RandomState> =
            HashMap::default();
        for (at, slot) in slots.iter().enumerate() {
            if slot.state == CACHE_COUNTED {
                index.entry(slot.key).or_default().push(at);
            }
        }
        Self { slots, index }
    }

    /// Whether some CPU's slot holds `key` and counts its packets (it may
    /// have counts, or get some, before the entry is read).
    pub fn holds(&self, key: &FlowKey) -> bool {
        self.index.contains_key(key)
    }

    /// Adds to `counters` (an entry read after `self` and before `later`)
    /// the counts `later` holds for `key`; false, and `counters` left as
    /// they are, when a slot that held the flow in either read was flushed
    /// in between (or was being flushed), so the sum could count twice or
    /// miss counts.
    pub fn settle(&self, later: &CacheView, key: &FlowKey, counters: &mut FlowCounters) -> bool {
        let mut places: Vec<usize> = Vec::new();
        for view in [self, later] {
            places.extend(view.index.get(key).into_iter().flatten());
        }
        let steady = places.iter().all(|&at| {
            match (self.slots.get(at), later.slots.get(at)) {
                (Some(before), Some(after)) => before.seq == after.seq && after.seq % 2 == 0,
                // A CPU count that changed between reads: not comparable.
                _ => false,
            }
        });
        if !steady {
            return false;
        }
        if let Some(places) = later.index.get(key) {
            for &at in places {
                later.slots[at].add_to(counters);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_common::flow_cache::{CACHE_UNCOUNTED, CachedDirection, FLOW_CACHE_SLOTS};
    use cipherlens_common::{DirectionCounters, IPPROTO_TCP};

    fn key(port: u16) -> FlowKey {
        FlowKey::new(IPPROTO_TCP, [10; 16], port, [20; 16], 443)
    }

    fn slot(key: FlowKey, seq: u64, packets: [u64; 2]) -> CpuFlowCache {
        CpuFlowCache {
            key,
            seq,
            state: CACHE_COUNTED,
            tick_ns: 7 * seq + 5,
            tcp_flags: packets.map(|packets| if packets == 0 { 0 } else { 0x10 }),
            directions: packets.map(|packets| CachedDirection {
                packets,
                bytes: packets * 100,
            }),
            ..CpuFlowCache::default()
        }
    }

    /// Two CPUs, each with its slots; `fill` sets some of them.
    fn view(fill: &[(usize, usize, CpuFlowCache)]) -> CacheView {
        let mut cpus = vec![vec![CpuFlowCache::default(); FLOW_CACHE_SLOTS]; 2];
        for (cpu, at, slot) in fill {
            cpus[*cpu][*at] = *slot;
        }
        CacheView::new(cpus.iter().map(Vec::as_slice))
    }

    fn entry(packets: [u64; 2]) -> FlowCounters {
        FlowCounters {
            directions: packets.map(|packets| DirectionCounters {
                packets,
                bytes: packets * 100,
                last_ns: 1,
                ..DirectionCounters::default()
            }),
            ..FlowCounters::default()
        }
    }

    #[test]
    fn steady_slots_add_their_later_counts_from_every_cpu() {
        let flow = key(1000);
        let before = view(&[(0, 3, slot(flow, 4, [2, 0])), (1, 3, slot(flow, 8, [0, 1]))]);
        // More packets came into both slots, none flushed.
        let after = view(&[(0, 3, slot(flow, 4, [5, 0])), (1, 3, slot(flow, 8, [0, 2]))]);
        assert!(before.holds(&flow));
        let mut counters = entry([10, 20]);
        assert!(before.settle(&after, &flow, &mut counters));
        assert_eq!(counters.directions[0].packets, 15);
        assert_eq!(counters.directions[1].packets, 22);
        assert_eq!(counters.directions[0].bytes, 1500);
        // The time of the later read's pending packets (tick_ns), not of
        // the entry's latest (1).
        assert_eq!(counters.directions[0].last_ns, 7 * 4 + 5);
        assert_eq!(counters.directions[1].tcp_flags, 0x10);
    }

    #[test]
    fn a_flush_between_the_reads_unsettles_the_flow() {
        let flow = key(1000);
        let before = view(&[(0, 3, slot(flow, 4, [2, 0]))]);
        for after in [
            // Flushed and refilled.
            view(&[(0, 3, slot(flow, 6, [1, 0]))]),
            // Mid-flush.
            view(&[(0, 3, slot(flow, 5, [2, 0]))]),
            // Flushed and taken by another flow.
            view(&[(0, 3, slot(key(2000), 6, [1, 0]))]),
        ] {
            let mut counters = entry([10, 20]);
            assert!(!before.settle(&after, &flow, &mut counters));
            assert_eq!(counters, entry([10, 20]));
        }
        // A flow that came into a slot between the reads counts from there,
        // unless the slot was flushed since (its sequence moved).
        let empty = view(&[]);
        let after = view(&[(1, 9, slot(flow, 0, [1, 0]))]);
        let mut counters = entry([10, 20]);
        assert!(empty.settle(&after, &flow, &mut counters));
        assert_eq!(counters.directions[0].packets, 11);
        let flushed = view(&[(1, 9, slot(flow, 2, [1, 0]))]);
        assert!(!empty.settle(&flushed, &flow, &mut entry([10, 20])));
    }

    #[test]
    fn other_flows_and_uncounted_slots_add_nothing() {
        let flow = key(1000);
        let mut uncounted = slot(flow, 0, [3, 3]);
        uncounted.state = CACHE_UNCOUNTED;
        let before = view(&[(0, 1, uncounted), (1, 1, slot(key(2000), 2, [4, 4]))]);
        assert!(!before.holds(&flow));
        let mut counters = entry([10, 20]);
        assert!(before.settle(&before, &flow, &mut counters));
        assert_eq!(counters, entry([10, 20]));
    }
}
