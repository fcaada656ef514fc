//! Where a packet's parts are: the walk from the Ethernet header to the
//! TCP or UDP payload, and the flow key. Two walks fill one `Layout`: a
//! fast one by direct reads for the common packet (IPv4 or IPv6 without
//! extension headers, TCP or UDP that is not a tunnel port), and a full
//! one by the helper for everything else (IPv6 extension headers, headers
//! outside the linear data, the packet inside a tunnel).

use aya_ebpf::programs::TcContext;
use cipherlens_common::{Counter, FlowKey, HEADER_CAPACITY, IPPROTO_TCP, IPPROTO_UDP};

use super::packet::read;
use super::tunnels::{
    ETH_P_MPLS_MC, ETH_P_MPLS_UC, GENEVE_PORT, GTP_U_PORT, IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6,
    VXLAN_LINUX_PORT, VXLAN_PORT,
};
use super::{Layout, count};

pub(super) const ETH_HEADER_LEN: usize = 14;
pub(super) const ETH_P_IPV4: u16 = 0x0800;
pub(super) const ETH_P_IPV6: u16 = 0x86DD;
const IPV6_HEADER_LEN: usize = 40;
/// IPv6 extension headers followed (RFC 8200 section 4; AH: RFC 4302).
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AUTHENTICATION: u8 = 51;
const IPV6_DESTINATION_OPTIONS: u8 = 60;
/// Extension headers walked at most before giving up (counted). Real TLS
/// paths carry zero to two; the bound keeps the loop small for the verifier.
const MAX_IPV6_EXTENSION_HEADERS: usize = 4;
pub(super) const UDP_HEADER_LEN: usize = 8;

/// [`fast_locate`]: a TCP or UDP packet, `layout` filled in.
pub(super) const FAST_FOUND: u64 = 1;
/// [`fast_locate`]: certainly nothing the sensor follows (ARP, ICMP, ...).
pub(super) const FAST_NOT_OURS: u64 = 0;
/// [`fast_locate`]: the full walk must decide (tunnels, IPv6 extension
/// headers, fragments, headers outside the linear data, MPLS).
const FAST_UNSURE: u64 = 2;

/// The common packet's walk, by direct reads: Ethernet, then IPv4 or IPv6
/// without extension headers, then TCP or UDP that is not a tunnel port.
/// Anything else is left to [`tunnel_payload`](super::tunnels::tunnel_payload)
/// and [`locate`], which follow every case with the helper; both walks fill
/// `layout` alike.
///
/// Inlined for IPv4, the common packet: on an AMD host's return thunk
/// (SRSO "Safe RET") every BPF-to-BPF call costs a mispredicted return.
/// IPv6 is walked out of line ([`fast_locate_ipv6`]): its key takes stack
/// room the classifier's frame cannot spare beside the copy path's.
#[inline(always)]
pub(super) fn fast_locate(ctx: &TcContext, layout: *mut Layout) -> u64 {
    let Some(ether_type) = read::<u16>(ctx, 12) else {
        return FAST_UNSURE;
    };
    let base = ETH_HEADER_LEN;
    match u16::from_be(ether_type) {
        ETH_P_IPV4 => {
            let Some(head) = read::<[u8; 20]>(ctx, base) else {
                return FAST_UNSURE;
            };
            if u16::from_be_bytes([head[6], head[7]]) & 0x1FFF != 0 {
                return FAST_UNSURE;
            }
            let protocol = head[9];
            let Some(l4) = transport(ctx, protocol, base + ((head[0] & 0x0F) as usize) * 4) else {
                return FAST_UNSURE_OR_NOT_OURS[usize::from(is_followed_elsewhere(protocol))];
            };
            let source = u32::from_be_bytes([head[12], head[13], head[14], head[15]]);
            let destination = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
            // The key as `FlowKey::new` makes it of the IPv4-mapped
            // addresses (whose first 12 bytes are equal, so the last four
            // decide), written in 8-byte words: a byte-wise build and
            // compare of two 16-byte arrays cost more than the rest of the
            // walk, and the flow cache reads the key back in 8-byte words
            // (a load spanning two smaller stores waits for them to retire).
            let from_low = (source, l4.source_port) <= (destination, l4.destination_port);
            let (low, low_port, high, high_port) = if from_low {
                (source, l4.source_port, destination, l4.destination_port)
            } else {
                (destination, l4.destination_port, source, l4.source_port)
            };
            // SAFETY: `layout` is this CPU's 8-aligned map slot; the key is
            // its first field (`repr(C)`), 40 bytes, 5 aligned words.
            unsafe {
                let words = layout.cast::<u64>();
                for (index, address) in [(0, low), (2, high)] {
                    let a = address.to_be_bytes();
                    words.add(index).write(0);
                    words.add(index + 1).write(u64::from_ne_bytes([
                        0, 0, 0xFF, 0xFF, a[0], a[1], a[2], a[3],
                    ]));
                }
                let (l, h) = (low_port.to_ne_bytes(), high_port.to_ne_bytes());
                words.add(4).write(u64::from_ne_bytes([
                    l[0], l[1], h[0], h[1], protocol, 0, 0, 0,
                ]));
                (*layout).protocol = protocol;
                (*layout).payload_offset = l4.payload_offset;
                (*layout).from_low = from_low;
                (*layout).tcp_flags = l4.tcp_flags;
            }
            FAST_FOUND
        }
        ETH_P_IPV6 => fast_locate_ipv6(ctx, layout),
        ETH_P_MPLS_UC | ETH_P_MPLS_MC => FAST_UNSURE,
        _ => FAST_NOT_OURS,
    }
}

/// [`fast_locate`]'s IPv6 walk: a fixed header without extension headers,
/// then TCP or UDP that is not a tunnel port.
#[inline(never)]
fn fast_locate_ipv6(ctx: &TcContext, layout: *mut Layout) -> u64 {
    let base = ETH_HEADER_LEN;
    // One check for the whole header: the compiler merges
    // separate ones in ways the verifier cannot follow.
    let Some(head) = read::<[u8; IPV6_HEADER_LEN]>(ctx, base) else {
        return FAST_UNSURE;
    };
    let protocol = head[6];
    let Some(l4) = transport(ctx, protocol, base + IPV6_HEADER_LEN) else {
        return FAST_UNSURE_OR_NOT_OURS[usize::from(is_followed_elsewhere(protocol))];
    };
    let mut source = [0u8; 16];
    let mut destination = [0u8; 16];
    source.copy_from_slice(&head[8..24]);
    destination.copy_from_slice(&head[24..40]);
    let key = FlowKey::new(
        protocol,
        source,
        l4.source_port,
        destination,
        l4.destination_port,
    );
    // SAFETY: `layout` is this CPU's map slot, written whole.
    unsafe {
        layout.write(Layout::found(
            protocol,
            key,
            (source, l4.source_port),
            l4.payload_offset,
            l4.tcp_flags,
        ))
    };
    FAST_FOUND
}

/// Indexed by [`is_followed_elsewhere`]: not TCP or UDP, or not at hand.
const FAST_UNSURE_OR_NOT_OURS: [u64; 2] = [FAST_NOT_OURS, FAST_UNSURE];

/// IP protocols the full walk follows that the fast one does not: tunnels
/// and IPv6 extension headers (and TCP/UDP themselves, whose headers were
/// not at hand or need the full walk).
#[inline(always)]
fn is_followed_elsewhere(protocol: u8) -> bool {
    matches!(
        protocol,
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_IPIP | IPPROTO_IPV6 | IPPROTO_GRE
    ) || is_ipv6_extension_header(protocol)
}

/// A TCP or UDP header the fast walk read.
struct Transport {
    source_port: u16,
    destination_port: u16,
    payload_offset: usize,
    tcp_flags: u8,
}

/// The TCP or UDP header at `offset`, when it is at hand and the packet
/// is not a UDP tunnel; `None` otherwise.
#[inline(always)]
fn transport(ctx: &TcContext, protocol: u8, offset: usize) -> Option<Transport> {
    let (ports, payload_offset, tcp_flags) = match protocol {
        IPPROTO_TCP => {
            let header = read::<[u8; 14]>(ctx, offset)?;
            (
                [header[0], header[1], header[2], header[3]],
                offset + ((header[12] >> 4) as usize) * 4,
                header[13],
            )
        }
        IPPROTO_UDP => (read::<[u8; 4]>(ctx, offset)?, offset + UDP_HEADER_LEN, 0),
        _ => return None,
    };
    let destination_port = u16::from_be_bytes([ports[2], ports[3]]);
    if protocol == IPPROTO_UDP
        && matches!(
            destination_port,
            VXLAN_PORT | VXLAN_LINUX_PORT | GENEVE_PORT | GTP_U_PORT
        )
    {
        return None;
    }
    if payload_offset > HEADER_CAPACITY {
        return None;
    }
    Some(Transport {
        source_port: u16::from_be_bytes([ports[0], ports[1]]),
        destination_port,
        payload_offset,
        tcp_flags,
    })
}

/// IPv4 addresses as IPv4-mapped IPv6 so one key type covers both.
fn mapped_v4(address: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, address[0], address[1], address[2], address[3],
    ]
}

/// Finds protocol, ports and payload of a TCP or UDP packet over IPv4/IPv6
/// into `layout`; false for anything else. Its own function (stack frame):
/// the header walk's load buffers would otherwise share the classifier's
/// 512 bytes with the copy path. (An out-parameter, not an `Option` return:
/// the kernel refuses the BTF of a Rust enum across a call.)
#[inline(never)]
pub(super) fn locate(ctx: &TcContext, tunnel: u64, layout: *mut Layout) -> bool {
    match find_layout(ctx, tunnel) {
        Some(found) => {
            // SAFETY: `layout` points at the caller's `Layout`, written whole.
            unsafe { layout.write(found) };
            true
        }
        None => false,
    }
}

#[inline(always)]
fn find_layout(ctx: &TcContext, tunnel: u64) -> Option<Layout> {
    // One tunnel is followed to the flow inside it (`tunnel`, from
    // [`tunnel_payload`]): its packets are the inner flow's, copied and
    // counted as that flow (user space reads the tunnel from the headers
    // the event carries).
    let (ether_type, base) = if tunnel != 0 {
        ((tunnel >> 32) as u16, (tunnel & 0xFFFF) as usize)
    } else {
        (u16::from_be(ctx.load::<u16>(12).ok()?), ETH_HEADER_LEN)
    };
    let (protocol, l4_offset, source, destination) = match ether_type {
        ETH_P_IPV4 => {
            let version_ihl = ctx.load::<u8>(base).ok()?;
            let protocol = ctx.load::<u8>(base + 9).ok()?;
            // Fragments after the first carry no L4 header.
            let fragment = u16::from_be(ctx.load::<u16>(base + 6).ok()?);
            if fragment & 0x1FFF != 0 {
                return None;
            }
            let source: [u8; 4] = ctx.load(base + 12).ok()?;
            let destination: [u8; 4] = ctx.load(base + 16).ok()?;
            (
                protocol,
                base + ((version_ihl & 0x0F) as usize) * 4,
                mapped_v4(source),
                mapped_v4(destination),
            )
        }
        ETH_P_IPV6 => {
            let source: [u8; 16] = ctx.load(base + 8).ok()?;
            let destination: [u8; 16] = ctx.load(base + 24).ok()?;
            let (protocol, l4_offset) = skip_ipv6_extension_headers(ctx, base)?;
            (protocol, l4_offset, source, destination)
        }
        _ => return None,
    };
    if protocol != IPPROTO_TCP && protocol != IPPROTO_UDP {
        if is_ipv6_extension_header(protocol) {
            count(Counter::UnfollowedHeaders);
        }
        return None;
    }
    let source_port = u16::from_be(ctx.load::<u16>(l4_offset).ok()?);
    let destination_port = u16::from_be(ctx.load::<u16>(l4_offset + 2).ok()?);
    let (payload_offset, tcp_flags) = if protocol == IPPROTO_TCP {
        let data_offset = ctx.load::<u8>(l4_offset + 12).ok()?;
        let flags = ctx.load::<u8>(l4_offset + 13).ok()?;
        (l4_offset + ((data_offset >> 4) as usize) * 4, flags)
    } else {
        (l4_offset + UDP_HEADER_LEN, 0)
    };
    if payload_offset > HEADER_CAPACITY {
        count(Counter::UnfollowedHeaders);
        return None;
    }
    let key = FlowKey::new(protocol, source, source_port, destination, destination_port);
    Some(Layout::found(
        protocol,
        key,
        (source, source_port),
        payload_offset,
        tcp_flags,
    ))
}

fn is_ipv6_extension_header(next_header: u8) -> bool {
    matches!(
        next_header,
        IPV6_HOP_BY_HOP
            | IPV6_ROUTING
            | IPV6_FRAGMENT
            | IPV6_AUTHENTICATION
            | IPV6_DESTINATION_OPTIONS
    )
}

/// Walks the IPv6 extension header chain (at most
/// [`MAX_IPV6_EXTENSION_HEADERS`]); returns the upper-layer protocol and its
/// offset. A fragment other than the first carries no upper-layer header:
/// `None`. A chain longer than the walk returns its next extension header,
/// which the caller counts as unfollowed.
#[inline(always)]
pub(super) fn skip_ipv6_extension_headers(ctx: &TcContext, base: usize) -> Option<(u8, usize)> {
    let mut next_header = ctx.load::<u8>(base + 6).ok()?;
    let mut offset = base + IPV6_HEADER_LEN;
    for _ in 0..MAX_IPV6_EXTENSION_HEADERS {
        let length = match next_header {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DESTINATION_OPTIONS => {
                // Hdr Ext Len: 8-octet units, not counting the first 8.
                let header: [u8; 2] = ctx.load(offset).ok()?;
                next_header = header[0];
                (header[1] as usize + 1) * 8
            }
            IPV6_FRAGMENT => {
                let header: [u8; 4] = ctx.load(offset).ok()?;
                // Fragment Offset: the upper 13 bits of bytes 2..4.
                if u16::from_be_bytes([header[2], header[3]]) & 0xFFF8 != 0 {
                    return None;
                }
                next_header = header[0];
                8
            }
            IPV6_AUTHENTICATION => {
                // Payload Len: 4-octet units, minus 2.
                let header: [u8; 2] = ctx.load(offset).ok()?;
                next_header = header[0];
                (header[1] as usize + 2) * 4
            }
            _ => break,
        };
        offset += length;
    }
    Some((next_header, offset))
}
