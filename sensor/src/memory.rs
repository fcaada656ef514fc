//! Giving freed memory back to the system, through the allocator the
//! binary chose.
//!
//! The allocator keeps freed pages for reuse and returns them to the
//! system only as later allocations on the same thread come by. Start-up
//! frees a lot at once (kernel BTF parsed for the programs, TLS library
//! discovery) and an idle sensor then allocates little, so without a nudge
//! that memory stays resident for good. The binary installs the nudge
//! ([`set_trim`]); the live loop calls [`trim`] when it has just let go of
//! bulk memory. The library itself stays free of allocator specifics.

use std::sync::OnceLock;

static TRIM: OnceLock<fn()> = OnceLock::new();

/// Installs the allocator's "return free memory" call (once; later calls
/// are ignored).
pub fn set_trim(trim: fn()) {
    let _ = TRIM.set(trim);
}

/// Returns the calling thread's free memory, and the allocator's free
/// memory in common, to the system (nothing when none is installed).
pub fn trim() {
    if let Some(trim) = TRIM.get() {
        trim();
    }
}
