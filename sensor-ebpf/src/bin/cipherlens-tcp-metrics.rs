//! The TCP metrics classifier as an object of its own: it has no maps and
//! shares nothing with the capture programs, and the sensor's CNFlow
//! enrichment thread loads it and owns it (running a program from another
//! thread would need a second handle on it, which the kernel gives only to
//! CAP_SYS_ADMIN).
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
#[path = "../tcp_metrics.rs"]
mod tcp_metrics;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
