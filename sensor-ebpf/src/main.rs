//! cipherlens kernel programs.
//!
//! For now: TC classifiers that classify every packet cheaply and count the
//! ones that start a TLS handshake record or a QUIC Initial. They never alter
//! or drop traffic (always `TC_ACT_PIPE`). Copying handshake bytes to user
//! space lands with live capture (see ARCHITECTURE.md, "Kernel side").
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod tc;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
