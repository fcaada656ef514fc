//! cipherlens kernel programs.
//!
//! - `tc`: TC classifiers that copy the handshake phase of TLS and QUIC
//!   flows to a ring buffer; they never alter or drop traffic.
//! - `flow_cache`: each CPU's cache of its recent flows in front of the
//!   flow-counters map, the classifiers' common path.
//! - `mark_done`: a classifier never attached, run by user space on a
//!   batch of flows it is done with.
//! - `owner`: tp_btf programs that remember which process owns a socket
//!   (and bind probed TLS library calls to their socket).
//! - `tls`: uprobes on OpenSSL and BoringSSL, and process tracking.
//!
//! The TCP metrics classifier is an object of its own
//! (`bin/cipherlens-tcp-metrics.rs`), so the thread that runs it owns it.
//!
//! See ARCHITECTURE.md, "Live capture".
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// `atomic_xadd` for per-flow counters: `core` offers no atomic read-modify-write
// on the BPF target.
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(target_arch = "bpf", allow(internal_features))]

#[cfg(target_arch = "bpf")]
mod flow_cache;
#[cfg(target_arch = "bpf")]
mod mark_done;
#[cfg(target_arch = "bpf")]
mod owner;
#[cfg(target_arch = "bpf")]
mod tc;
#[cfg(target_arch = "bpf")]
mod tls;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
