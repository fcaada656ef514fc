//! Each CPU's state for the TC programs: the counters the common packet
//! bumps, the scratch slot where the packet under inspection is described,
//! and the flow cache (`flow_cache`), in one element of an array with an
//! element per possible CPU, which the programs index by the CPU they run on.
//!
//! One element, not three per-CPU maps: on a busy node the CPU copies
//! kilobytes of payload between two packets, so every cache line the
//! common packet touches is likely a miss. A per-CPU map costs the line of
//! its descriptor (where the element's address is read) and the lines of
//! its value; a plain array's element address is arithmetic on the map's,
//! and here the counters and the scratch share the element's first lines.

use crate::Counter;
use crate::flow_cache::{CpuFlowCache, FLOW_CACHE_SLOTS};

/// Name of the array of [`CpuState`], one element per possible CPU.
pub const CPU_STATE_MAP: &str = "CIPHERLENS_CPU_STATE";

/// 8-byte words of [`CpuState::scratch`].
pub const SCRATCH_WORDS: usize = 14;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuState {
    /// Packets the TC programs saw on this CPU: the counters map's
    /// [`Counter::PacketsSeen`](crate::Counter) slot is not bumped per
    /// packet; user space adds this to it.
    pub packets_seen: u64,
    /// Packets not looked at for a TLS start as their connection is past
    /// its STARTTLS watch: added to
    /// [`Counter::StarttlsUnwatched`](crate::Counter) alike.
    pub starttls_unwatched: u64,
    /// The kernel's description of the packet under inspection (where its
    /// parts are); opaque to user space.
    pub scratch: [u64; SCRATCH_WORDS],
    pub slots: [CpuFlowCache; FLOW_CACHE_SLOTS],
}

/// The counters and the scratch fill the first 128 bytes (two cache lines
/// the adjacent-line prefetcher fetches as one); the slots start after them.
const _: () = assert!(core::mem::offset_of!(CpuState, slots) == 128);
const _: () =
    assert!(core::mem::size_of::<CpuState>() == 128 + FLOW_CACHE_SLOTS * size_of::<CpuFlowCache>());

impl CpuState {
    /// Where a CPU's state keeps its part of `counter`; `None` for the
    /// counters kept in the counters map alone.
    pub fn part_of(counter: Counter) -> Option<fn(&Self) -> u64> {
        match counter {
            Counter::PacketsSeen => Some(|state| state.packets_seen),
            Counter::StarttlsUnwatched => Some(|state| state.starttls_unwatched),
            _ => None,
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: `repr(C)`, every bit pattern valid, no padding (the size
    // asserts above).
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::CpuState {}
}
