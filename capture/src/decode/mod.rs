//! Frame decoding: link layer, IP and TCP/UDP headers, without copying.
//!
//! Why it exists: both the live capture and `replay` hand the sensor raw frames of some
//! link type; the TLS/QUIC pipeline needs the addresses, ports, TCP sequence numbers and
//! payload. This module turns one frame into a borrowed [`Packet`] and says precisely why
//! when it cannot (a fragment, a non-IP frame, a header cut short), so the caller can count
//! each reason. Every length is checked against the captured bytes: it never panics and
//! never allocates.
//!
//! One module per layer: `link` (Ethernet, VLAN tags, MPLS, Linux cooked capture, BSD
//! loopback), `ip` (IPv4, IPv6 and its extension headers, then TCP or UDP, or the packet
//! inside a tunnel); `packet` is what they make and `error` why they cannot.

mod error;
mod ip;
mod link;
mod packet;

use crate::link_type::LinkType;
use crate::tunnel::{self, Inner, Tunnel, TunnelKind};

pub use self::error::{DecodeError, Layer};
pub use self::packet::{Packet, TcpFlags, TcpSegment, Transport, UdpDatagram};

use self::ip::{decode_ip, decode_ipv4, decode_ipv6};
use self::link::{decode_ethernet, decode_linux_sll, decode_linux_sll2, decode_loopback};

/// Tunnels followed inside one another at most; a deeper one is left as is.
const MAX_TUNNEL_DEPTH: u8 = 4;

/// What outer layers said about the packet being decoded.
#[derive(Clone, Copy, Debug, Default)]
struct Outer {
    vlan: Option<u16>,
    tunnel: Option<Tunnel>,
    depth: u8,
}

impl Outer {
    /// Entering a tunnel: the outermost one is kept.
    fn into_tunnel(self, tunnel: Tunnel) -> Self {
        Outer {
            vlan: self.vlan,
            tunnel: self.tunnel.or(Some(tunnel)),
            depth: self.depth + 1,
        }
    }
}

/// Decodes one frame of the given link type.
pub fn decode_frame(link_type: LinkType, data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let outer = Outer::default();
    match link_type {
        LinkType::ETHERNET => decode_ethernet(data, outer),
        LinkType::RAW | LinkType::RAW_BSD_12 | LinkType::RAW_BSD_14 => decode_ip(data, outer),
        LinkType::IPV4 => decode_ipv4(data, outer),
        LinkType::IPV6 => decode_ipv6(data, outer),
        LinkType::LINUX_SLL => decode_linux_sll(data),
        LinkType::LINUX_SLL2 => decode_linux_sll2(data),
        LinkType::NULL | LinkType::LOOP => decode_loopback(data),
        other => Err(DecodeError::UnsupportedLinkType(other)),
    }
}

fn require(data: &[u8], needed: usize, layer: Layer) -> Result<(), DecodeError> {
    if data.len() < needed {
        Err(DecodeError::Truncated {
            layer,
            needed,
            available: data.len(),
        })
    } else {
        Ok(())
    }
}

fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// The packet a tunnel header leads to.
fn decode_inner(inner: Inner<'_>, outer: Outer) -> Result<Packet<'_>, DecodeError> {
    match inner {
        Inner::Ethernet(frame) => decode_ethernet(frame, outer),
        Inner::Ip(packet) => decode_ip(packet, outer),
        Inner::Ipv4(packet) => decode_ipv4(packet, outer),
        Inner::Ipv6(packet) => decode_ipv6(packet, outer),
        Inner::Mpls(stack) => {
            let (label, inner) = tunnel::mpls(stack)?;
            let tunnel = Tunnel {
                kind: TunnelKind::Mpls,
                outer_src: None,
                outer_dst: None,
                id: Some(label),
            };
            decode_inner(inner, outer.into_tunnel(tunnel))
        }
    }
}
