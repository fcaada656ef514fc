//! Reading the kernel's CPU-state map (`cipherlens_common::cpu_state`): an
//! array with one element per possible CPU, which the TC programs index by
//! the CPU they run on.

use aya::maps::{Array, MapData, MapError};
use cipherlens_common::cpu_state::CpuState;

/// The CPU-state map as user space opens it.
pub type CpuStateMap = Array<MapData, CpuState>;

/// Every CPU's state, in CPU order (one read per CPU: each is a snapshot of
/// its own; the flow cache's sequence numbers make a torn slot visible).
pub fn read_all(map: &CpuStateMap) -> Result<Vec<CpuState>, MapError> {
    (0..map.len()).map(|cpu| map.get(&cpu, 0)).collect()
}
