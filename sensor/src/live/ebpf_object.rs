//! The kernel programs' object file, built by `build.rs` and embedded in the binary.
//!
//! One function hands out the bytes, so the loader and the test that checks
//! the object against the names the user side looks up
//! (`tests/ebpf_object.rs`) read exactly the same object.

use aya::include_bytes_aligned;

/// The embedded eBPF ELF object, 8-byte aligned as aya's loader needs it.
pub fn embedded() -> &'static [u8] {
    include_bytes_aligned!(concat!(env!("OUT_DIR"), "/cipherlens-ebpf"))
}
