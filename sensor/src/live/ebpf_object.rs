//! The kernel programs' object files, built by `build.rs` and embedded in the binary.
//!
//! One function hands out the bytes, so the loader and the test that checks
//! the object against the names the user side looks up
//! (`tests/ebpf_object.rs`) read exactly the same object.

use aya::include_bytes_aligned;

/// The embedded eBPF ELF object, 8-byte aligned as aya's loader needs it.
pub fn embedded() -> &'static [u8] {
    include_bytes_aligned!(concat!(env!("OUT_DIR"), "/cipherlens-ebpf"))
}

/// The TCP metrics classifier's object (no maps; see
/// `sensor-ebpf/src/bin/cipherlens-tcp-metrics.rs`).
pub fn tcp_metrics() -> &'static [u8] {
    include_bytes_aligned!(concat!(env!("OUT_DIR"), "/cipherlens-tcp-metrics"))
}
