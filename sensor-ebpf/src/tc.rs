//! TC classifiers: a cheap look at every packet on ingress and egress.
//!
//! Each packet costs a few bounded loads: the Ethernet type, the IP protocol
//! and, for TCP and UDP, the first bytes of the payload. Nothing is copied
//! yet; the classifiers only count TLS handshake records and QUIC Initials so
//! that attach and load are exercised end to end.

use aya_ebpf::{
    bindings::TC_ACT_PIPE,
    macros::{classifier, map},
    maps::PerCpuArray,
    programs::TcContext,
};
use cipherlens_common::{Counter, TLS_CONTENT_HANDSHAKE, TLS_MAJOR_VERSION};

#[map(name = "CIPHERLENS_COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::COUNT, 0);

const ETH_HEADER_LEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;
/// QUIC long header form bit and fixed bit (RFC 9000 section 17.2).
const QUIC_LONG_HEADER_BITS: u8 = 0xC0;

#[classifier]
pub fn cipherlens_tc_ingress(ctx: TcContext) -> i32 {
    classify(&ctx);
    TC_ACT_PIPE
}

#[classifier]
pub fn cipherlens_tc_egress(ctx: TcContext) -> i32 {
    classify(&ctx);
    TC_ACT_PIPE
}

fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: per-CPU slot owned by this CPU for the program's run.
        unsafe { *slot += 1 };
    }
}

fn classify(ctx: &TcContext) {
    count(Counter::PacketsSeen);
    let Some((protocol, l4_offset)) = locate_l4(ctx) else {
        return;
    };
    match protocol {
        IPPROTO_TCP => {
            let Ok(data_offset_byte) = ctx.load::<u8>(l4_offset + 12) else {
                return;
            };
            let payload = l4_offset + ((data_offset_byte >> 4) as usize) * 4;
            if let (Ok(content_type), Ok(major)) =
                (ctx.load::<u8>(payload), ctx.load::<u8>(payload + 1))
            {
                if content_type == TLS_CONTENT_HANDSHAKE && major == TLS_MAJOR_VERSION {
                    count(Counter::TlsHandshakeRecords);
                }
            }
        }
        IPPROTO_UDP => {
            if let Ok(first) = ctx.load::<u8>(l4_offset + UDP_HEADER_LEN) {
                // Long header with packet type 0 (Initial in QUIC v1).
                if first & 0xF0 == QUIC_LONG_HEADER_BITS {
                    count(Counter::QuicInitials);
                }
            }
        }
        _ => {}
    }
}

/// Returns the IP protocol and the offset of the L4 header.
fn locate_l4(ctx: &TcContext) -> Option<(u8, usize)> {
    let ether_type = u16::from_be(ctx.load::<u16>(12).ok()?);
    match ether_type {
        ETH_P_IPV4 => {
            let version_ihl = ctx.load::<u8>(ETH_HEADER_LEN).ok()?;
            let protocol = ctx.load::<u8>(ETH_HEADER_LEN + 9).ok()?;
            Some((
                protocol,
                ETH_HEADER_LEN + ((version_ihl & 0x0F) as usize) * 4,
            ))
        }
        ETH_P_IPV6 => {
            // Extension headers are followed in user space; here only the
            // common case of TCP/UDP directly after the fixed header.
            let next_header = ctx.load::<u8>(ETH_HEADER_LEN + 6).ok()?;
            Some((next_header, ETH_HEADER_LEN + IPV6_HEADER_LEN))
        }
        _ => None,
    }
}
