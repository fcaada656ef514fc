//! The packet inside a tunnel: where the flow the sensor follows starts
//! when the outer headers are a tunnel's (IP in IP, GRE and ERSPAN, VXLAN,
//! Geneve, GTP-U, MPLS). Its packets are the inner flow's, counted and
//! copied as that flow.

use aya_ebpf::programs::TcContext;
use cipherlens_common::IPPROTO_UDP;

use super::headers::{
    ETH_HEADER_LEN, ETH_P_IPV4, ETH_P_IPV6, UDP_HEADER_LEN, skip_ipv6_extension_headers,
};

/// Tunnels followed: IP protocols and UDP destination ports.
pub(super) const IPPROTO_IPIP: u8 = 4;
pub(super) const IPPROTO_IPV6: u8 = 41;
pub(super) const IPPROTO_GRE: u8 = 47;
/// Transparent Ethernet bridging (GRE, Geneve).
const ETH_P_TEB: u16 = 0x6558;
pub(super) const VXLAN_PORT: u16 = 4789;
/// The port Linux used for VXLAN before IANA's (flannel's default).
pub(super) const VXLAN_LINUX_PORT: u16 = 8472;
pub(super) const GENEVE_PORT: u16 = 6081;
pub(super) const GTP_U_PORT: u16 = 2152;
/// GTP-U extension headers walked at most (a PDU session container is one).
const MAX_GTP_EXTENSIONS: usize = 4;
/// MPLS: unicast and multicast EtherTypes, labels walked at most.
pub(super) const ETH_P_MPLS_UC: u16 = 0x8847;
pub(super) const ETH_P_MPLS_MC: u16 = 0x8848;
const MAX_MPLS_LABELS: usize = 4;
/// ERSPAN types II and III inside GRE.
const ETH_P_ERSPAN_II: u16 = 0x88BE;
const ETH_P_ERSPAN_III: u16 = 0x22EB;

/// Where the packet inside a tunnel starts (its EtherType and offset), when
/// `outer` is one: IP-in-IP and 6in4 (protocol 4, 41), GRE with IP or
/// Ethernet inside and ERSPAN I-III, VXLAN (UDP 4789, 8472), Geneve (UDP
/// 6081), GTP-U G-PDUs (UDP 2152) and an MPLS label stack on Ethernet.
///
/// Returns the EtherType in bits 32..48 and the offset in the low bits, 0
/// when the packet is not a tunnel (a scalar: nothing on the caller's
/// stack, which the copy path nearly fills).
#[inline(never)]
pub(super) fn tunnel_payload(ctx: &TcContext) -> u64 {
    let Ok(outer_type) = ctx.load::<u16>(12) else {
        return 0;
    };
    match find_tunnel_payload(ctx, u16::from_be(outer_type)) {
        Some((ether_type, offset)) => (u64::from(ether_type) << 32) | (offset as u64 & 0xFFFF),
        None => 0,
    }
}

#[inline(always)]
fn find_tunnel_payload(ctx: &TcContext, outer_type: u16) -> Option<(u16, usize)> {
    let (protocol, at) = match outer_type {
        ETH_P_IPV4 => {
            let version_ihl = ctx.load::<u8>(ETH_HEADER_LEN).ok()?;
            let protocol = ctx.load::<u8>(ETH_HEADER_LEN + 9).ok()?;
            let fragment = u16::from_be(ctx.load::<u16>(ETH_HEADER_LEN + 6).ok()?);
            if fragment & 0x1FFF != 0 {
                return None;
            }
            (
                protocol,
                ETH_HEADER_LEN + ((version_ihl & 0x0F) as usize) * 4,
            )
        }
        ETH_P_IPV6 => skip_ipv6_extension_headers(ctx, ETH_HEADER_LEN)?,
        ETH_P_MPLS_UC | ETH_P_MPLS_MC => return mpls_payload(ctx, ETH_HEADER_LEN),
        _ => return None,
    };
    match protocol {
        IPPROTO_IPIP => Some((ETH_P_IPV4, at)),
        IPPROTO_IPV6 => Some((ETH_P_IPV6, at)),
        IPPROTO_GRE => {
            let flags = u16::from_be(ctx.load::<u16>(at).ok()?);
            if flags & 0x0007 != 0 {
                return None;
            }
            let protocol = u16::from_be(ctx.load::<u16>(at + 2).ok()?);
            // Checksum, key and sequence number words, per the C, K, S bits.
            let words = ((flags >> 15) & 1) + ((flags >> 13) & 1) + ((flags >> 12) & 1);
            let inner = at + 4 + 4 * words as usize;
            match protocol {
                ETH_P_IPV4 | ETH_P_IPV6 => Some((protocol, inner)),
                ETH_P_TEB => ethernet_payload(ctx, inner),
                // ERSPAN type I (no sequence number) has no header of its
                // own; type II has 8 bytes.
                ETH_P_ERSPAN_II if flags & 0x1000 == 0 => ethernet_payload(ctx, inner),
                ETH_P_ERSPAN_II => ethernet_payload(ctx, inner + 8),
                // Type III: 12 bytes, 8 more with the platform subheader (O
                // bit, the lowest of its last byte).
                ETH_P_ERSPAN_III => {
                    let optional = ctx.load::<u8>(inner + 11).ok()? & 0x01;
                    ethernet_payload(ctx, inner + 12 + 8 * optional as usize)
                }
                _ => None,
            }
        }
        IPPROTO_UDP => {
            let port = u16::from_be(ctx.load::<u16>(at + 2).ok()?);
            let header = at + UDP_HEADER_LEN;
            match port {
                VXLAN_PORT | VXLAN_LINUX_PORT => {
                    if ctx.load::<u8>(header).ok()? & 0x08 == 0 {
                        return None;
                    }
                    ethernet_payload(ctx, header + 8)
                }
                GENEVE_PORT => {
                    let first: [u8; 4] = ctx.load(header).ok()?;
                    if first[0] >> 6 != 0 {
                        return None;
                    }
                    let inner = header + 8 + (first[0] & 0x3F) as usize * 4;
                    match u16::from_be_bytes([first[2], first[3]]) {
                        ETH_P_TEB => ethernet_payload(ctx, inner),
                        protocol @ (ETH_P_IPV4 | ETH_P_IPV6) => Some((protocol, inner)),
                        _ => None,
                    }
                }
                GTP_U_PORT => gtp_u_payload(ctx, header),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The IP packet after the MPLS label stack at `offset` (RFC 3032: four
/// bytes per entry, the bottom one flagged); no type field follows, so the
/// version nibble says IPv4 or IPv6, and 0 is a pseudowire control word
/// before an Ethernet frame (RFC 4385).
#[inline(always)]
fn mpls_payload(ctx: &TcContext, offset: usize) -> Option<(u16, usize)> {
    let mut at = offset;
    let mut bottom = false;
    for _ in 0..MAX_MPLS_LABELS {
        let entry: [u8; 4] = ctx.load(at).ok()?;
        at += 4;
        if entry[2] & 0x01 != 0 {
            bottom = true;
            break;
        }
    }
    if !bottom {
        return None;
    }
    match ctx.load::<u8>(at).ok()? >> 4 {
        4 => Some((ETH_P_IPV4, at)),
        6 => Some((ETH_P_IPV6, at)),
        0 => ethernet_payload(ctx, at + 4),
        _ => None,
    }
}

/// The IP packet in the Ethernet frame at `offset` (no VLAN tags inside).
#[inline(always)]
fn ethernet_payload(ctx: &TcContext, offset: usize) -> Option<(u16, usize)> {
    let ether_type = u16::from_be(ctx.load::<u16>(offset + 12).ok()?);
    Some((ether_type, offset + ETH_HEADER_LEN))
}

/// The IP packet of a GTP-U G-PDU whose header is at `offset`: after the
/// 8-byte header, the optional sequence/N-PDU word and extension headers.
#[inline(always)]
fn gtp_u_payload(ctx: &TcContext, offset: usize) -> Option<(u16, usize)> {
    let first: [u8; 2] = ctx.load(offset).ok()?;
    // Version 1, protocol type GTP, message type G-PDU.
    if first[0] >> 5 != 1 || first[0] & 0x10 == 0 || first[1] != 0xFF {
        return None;
    }
    let mut at = offset + 8;
    if first[0] & 0x07 != 0 {
        let mut next = ctx.load::<u8>(at + 3).ok()?;
        at += 4;
        for _ in 0..MAX_GTP_EXTENSIONS {
            if next == 0 {
                break;
            }
            let words = ctx.load::<u8>(at).ok()? as usize;
            if words == 0 {
                return None;
            }
            next = ctx.load::<u8>(at + words * 4 - 1).ok()?;
            at += words * 4;
        }
        if next != 0 {
            return None;
        }
    }
    let version = ctx.load::<u8>(at).ok()? >> 4;
    match version {
        4 => Some((ETH_P_IPV4, at)),
        6 => Some((ETH_P_IPV6, at)),
        _ => None,
    }
}
