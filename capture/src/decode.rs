//! Frame decoding: link layer, IP and TCP/UDP headers, without copying.
//!
//! Why it exists: both the live capture and `replay` hand the sensor raw frames of some
//! link type; the TLS/QUIC pipeline needs the addresses, ports, TCP sequence numbers and
//! payload. This module turns one frame into a borrowed [`Packet`] and says precisely why
//! when it cannot (a fragment, a non-IP frame, a header cut short), so the caller can count
//! each reason. Every length is checked against the captured bytes: it never panics and
//! never allocates.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::link_type::LinkType;
use crate::tunnel::{self, Inner, Tunnel, TunnelError, TunnelKind};

const ETHER_TYPE_IPV4: u16 = 0x0800;
const ETHER_TYPE_IPV6: u16 = 0x86dd;
/// IEEE 802.1Q customer VLAN tag.
const ETHER_TYPE_VLAN: u16 = 0x8100;
/// IEEE 802.1ad service VLAN tag (QinQ outer tag).
const ETHER_TYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag used by some switches.
const ETHER_TYPE_QINQ_LEGACY: u16 = 0x9100;
const ETHER_TYPE_MPLS: u16 = 0x8847;
const ETHER_TYPE_MPLS_MULTICAST: u16 = 0x8848;
/// Tunnels followed inside one another at most; a deeper one is left as is.
const MAX_TUNNEL_DEPTH: u8 = 4;

const IP_PROTO_HOP_BY_HOP: u8 = 0;
const IP_PROTO_TCP: u8 = 6;
const IP_PROTO_UDP: u8 = 17;
const IP_PROTO_IPV6_ROUTING: u8 = 43;
const IP_PROTO_IPV6_FRAGMENT: u8 = 44;
const IP_PROTO_AH: u8 = 51;
const IP_PROTO_IPV6_DESTINATION_OPTIONS: u8 = 60;

const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const LOOPBACK_HEADER_LEN: usize = 4;
const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const TCP_MIN_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;

/// An IP packet decoded from a frame; the payload borrows from the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// VLAN ID (12 bits) of the outermost 802.1Q/802.1ad tag, if the frame had one.
    pub vlan: Option<u16>,
    /// The outermost tunnel the packet came out of (VXLAN, Geneve, GRE, ERSPAN,
    /// IP-in-IP, GTP-U, MPLS); `src`, `dst` and `transport` are the inner packet's.
    pub tunnel: Option<Tunnel>,
    pub transport: Transport<'a>,
}

/// The transport layer of a [`Packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    /// Any other IP protocol number (ICMP, ESP, GRE...), not decoded further.
    Other(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Bytes after the TCP header (options skipped), up to the IP length.
    pub payload: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    /// Bytes after the UDP header, up to the UDP length field.
    pub payload: &'a [u8],
}

/// The eight TCP flag bits of header byte 13.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
        f.write_str("TcpFlags(")?;
        let mut separator = "";
        for (bit, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                write!(f, "{separator}{name}")?;
                separator = "|";
            }
        }
        f.write_str(")")
    }
}

/// The header a [`DecodeError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Ethernet,
    Vlan,
    LinuxSll,
    LinuxSll2,
    Loopback,
    Ipv4,
    Ipv6,
    Ipv6Extension,
    AuthenticationHeader,
    Tcp,
    Udp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet",
            Layer::Vlan => "VLAN tag",
            Layer::LinuxSll => "Linux cooked (SLL)",
            Layer::LinuxSll2 => "Linux cooked v2 (SLL2)",
            Layer::Loopback => "loopback",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Ipv6Extension => "IPv6 extension",
            Layer::AuthenticationHeader => "IP authentication header",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
        })
    }
}

/// Why a frame did not decode to a [`Packet`]. Cheap to copy, so callers can count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{layer} cut short: needs {needed} bytes, {available} captured")]
    Truncated {
        layer: Layer,
        needed: usize,
        available: usize,
    },
    #[error("{0} is not supported")]
    UnsupportedLinkType(LinkType),
    #[error("not an IP packet (EtherType {ether_type:#06x})")]
    NotIp { ether_type: u16 },
    #[error("not an IP packet (loopback address family {family})")]
    NotIpFamily { family: u32 },
    #[error("IP version {found} where {expected} was expected")]
    WrongIpVersion { found: u8, expected: u8 },
    #[error("IP version {found} is neither 4 nor 6")]
    UnknownIpVersion { found: u8 },
    #[error("IPv4 header length {header_len} is below the minimum of 20 bytes")]
    BadIpv4HeaderLength { header_len: usize },
    #[error("IPv4 total length {total_len} is shorter than its {header_len}-byte header")]
    BadIpv4TotalLength { total_len: usize, header_len: usize },
    #[error("IP fragment (fragments are not reassembled)")]
    Fragment,
    #[error("TCP data offset of {header_len} bytes is below the minimum of 20")]
    BadTcpDataOffset { header_len: usize },
    #[error("UDP length {udp_len} does not fit the {available} bytes of IP payload")]
    BadUdpLength { udp_len: usize, available: usize },
    #[error("{kind} header cut short: needs {needed} bytes, {available} captured")]
    TunnelTruncated {
        kind: TunnelKind,
        needed: usize,
        available: usize,
    },
    #[error("{kind} packet of a type that is not followed")]
    TunnelUnsupported { kind: TunnelKind },
}

impl From<TunnelError> for DecodeError {
    fn from(error: TunnelError) -> Self {
        match error {
            TunnelError::Truncated {
                kind,
                needed,
                available,
            } => DecodeError::TunnelTruncated {
                kind,
                needed,
                available,
            },
            TunnelError::Unsupported { kind } => DecodeError::TunnelUnsupported { kind },
        }
    }
}

impl DecodeError {
    /// Stable name of the reason (snake case, no values), for counters.
    pub const fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::UnsupportedLinkType(_) => "unsupported_link_type",
            DecodeError::NotIp { .. } => "not_ip",
            DecodeError::NotIpFamily { .. } => "not_ip_family",
            DecodeError::WrongIpVersion { .. } => "wrong_ip_version",
            DecodeError::UnknownIpVersion { .. } => "unknown_ip_version",
            DecodeError::BadIpv4HeaderLength { .. } => "bad_ipv4_header_length",
            DecodeError::BadIpv4TotalLength { .. } => "bad_ipv4_total_length",
            DecodeError::Fragment => "fragment",
            DecodeError::BadTcpDataOffset { .. } => "bad_tcp_data_offset",
            DecodeError::BadUdpLength { .. } => "bad_udp_length",
            DecodeError::TunnelTruncated { .. } => "tunnel_truncated",
            DecodeError::TunnelUnsupported { .. } => "tunnel_unsupported",
        }
    }
}

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

fn decode_ethernet(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
    require(data, ETHERNET_HEADER_LEN, Layer::Ethernet)?;
    decode_ether_type_payload(be16(data, 12), &data[ETHERNET_HEADER_LEN..], outer)
}

/// Linux cooked capture v1: packet type, ARPHRD type, address length, 8 address bytes,
/// then the protocol (an EtherType) in the last two bytes of the 16-byte header.
fn decode_linux_sll(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    require(data, SLL_HEADER_LEN, Layer::LinuxSll)?;
    decode_ether_type_payload(be16(data, 14), &data[SLL_HEADER_LEN..], Outer::default())
}

/// Linux cooked capture v2: the protocol (an EtherType) comes first in the 20-byte header.
fn decode_linux_sll2(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    require(data, SLL2_HEADER_LEN, Layer::LinuxSll2)?;
    decode_ether_type_payload(be16(data, 0), &data[SLL2_HEADER_LEN..], Outer::default())
}

/// Follows VLAN tags (802.1Q, 802.1ad, QinQ) and an MPLS label stack to the IP header.
fn decode_ether_type_payload(
    mut ether_type: u16,
    mut data: &[u8],
    mut outer: Outer,
) -> Result<Packet<'_>, DecodeError> {
    while matches!(
        ether_type,
        ETHER_TYPE_VLAN | ETHER_TYPE_QINQ | ETHER_TYPE_QINQ_LEGACY
    ) {
        require(data, VLAN_TAG_LEN, Layer::Vlan)?;
        let tag_control = be16(data, 0);
        outer.vlan.get_or_insert(tag_control & 0x0fff);
        ether_type = be16(data, 2);
        data = &data[VLAN_TAG_LEN..];
    }
    match ether_type {
        ETHER_TYPE_IPV4 => decode_ipv4(data, outer),
        ETHER_TYPE_IPV6 => decode_ipv6(data, outer),
        ETHER_TYPE_MPLS | ETHER_TYPE_MPLS_MULTICAST if outer.depth < MAX_TUNNEL_DEPTH => {
            decode_inner(Inner::Mpls(data), outer)
        }
        other => Err(DecodeError::NotIp { ether_type: other }),
    }
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

/// BSD loopback (NULL: the capturing host's byte order; LOOP: network byte order).
fn decode_loopback(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    require(data, LOOPBACK_HEADER_LEN, Layer::Loopback)?;
    let mut family = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    // Families are small numbers: a value with high bits set was written the other way round.
    if family & 0xffff_0000 != 0 {
        family = family.swap_bytes();
    }
    let payload = &data[LOOPBACK_HEADER_LEN..];
    match family {
        // AF_INET on every system.
        2 => decode_ipv4(payload, Outer::default()),
        // AF_INET6 on Linux (10), NetBSD/OpenBSD (24), FreeBSD (28) and Darwin (30).
        10 | 24 | 28 | 30 => decode_ipv6(payload, Outer::default()),
        other => Err(DecodeError::NotIpFamily { family: other }),
    }
}

/// Raw IP: the version nibble says which.
fn decode_ip(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
    require(data, 1, Layer::Ipv4)?;
    match data[0] >> 4 {
        4 => decode_ipv4(data, outer),
        6 => decode_ipv6(data, outer),
        found => Err(DecodeError::UnknownIpVersion { found }),
    }
}

fn decode_ipv4(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
    require(data, IPV4_MIN_HEADER_LEN, Layer::Ipv4)?;
    let version = data[0] >> 4;
    if version != 4 {
        return Err(DecodeError::WrongIpVersion {
            found: version,
            expected: 4,
        });
    }
    let header_len = usize::from(data[0] & 0x0f) * 4;
    if header_len < IPV4_MIN_HEADER_LEN {
        return Err(DecodeError::BadIpv4HeaderLength { header_len });
    }
    require(data, header_len, Layer::Ipv4)?;
    let total_len = match usize::from(be16(data, 2)) {
        // A zero total length is what segmentation offload leaves in captures taken on the
        // sending host: the captured bytes are the packet.
        0 => data.len(),
        total_len => total_len,
    };
    if total_len < header_len {
        return Err(DecodeError::BadIpv4TotalLength {
            total_len,
            header_len,
        });
    }
    require(data, total_len, Layer::Ipv4)?;
    let flags_and_fragment_offset = be16(data, 6);
    // More-fragments bit or a non-zero offset; the don't-fragment bit (0x4000) is fine.
    if flags_and_fragment_offset & 0x3fff != 0 {
        return Err(DecodeError::Fragment);
    }
    let src = Ipv4Addr::new(data[12], data[13], data[14], data[15]);
    let dst = Ipv4Addr::new(data[16], data[17], data[18], data[19]);
    // Bytes past the total length (Ethernet padding, trailers) are not part of the packet.
    let mut payload = &data[header_len..total_len];
    let mut protocol = data[9];
    if protocol == IP_PROTO_AH {
        (protocol, payload) = skip_authentication_header(payload)?;
    }
    ip_packet(IpAddr::V4(src), IpAddr::V4(dst), protocol, payload, outer)
}

fn decode_ipv6(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
    require(data, IPV6_HEADER_LEN, Layer::Ipv6)?;
    let version = data[0] >> 4;
    if version != 6 {
        return Err(DecodeError::WrongIpVersion {
            found: version,
            expected: 6,
        });
    }
    let payload_len = match usize::from(be16(data, 4)) {
        // Zero means a jumbogram (RFC 2675) or segmentation offload: take what was captured.
        0 => data.len() - IPV6_HEADER_LEN,
        payload_len => payload_len,
    };
    require(data, IPV6_HEADER_LEN + payload_len, Layer::Ipv6)?;
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&data[8..24]).unwrap_or_default());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&data[24..40]).unwrap_or_default());
    let mut next_header = data[6];
    let mut payload = &data[IPV6_HEADER_LEN..IPV6_HEADER_LEN + payload_len];
    // Each extension header is at least 8 bytes long, so this ends.
    loop {
        match next_header {
            IP_PROTO_HOP_BY_HOP | IP_PROTO_IPV6_ROUTING | IP_PROTO_IPV6_DESTINATION_OPTIONS => {
                // RFC 8200 4.3-4.6: next header, length in 8-octet units not counting the first 8.
                require(payload, 2, Layer::Ipv6Extension)?;
                let header_len = (usize::from(payload[1]) + 1) * 8;
                require(payload, header_len, Layer::Ipv6Extension)?;
                next_header = payload[0];
                payload = &payload[header_len..];
            }
            IP_PROTO_IPV6_FRAGMENT => {
                // RFC 8200 4.5: 8 bytes; offset in the top 13 bits of bytes 2-3, M flag in bit 0.
                require(payload, 8, Layer::Ipv6Extension)?;
                let offset_and_flags = be16(payload, 2);
                if offset_and_flags >> 3 != 0 || offset_and_flags & 1 != 0 {
                    return Err(DecodeError::Fragment);
                }
                // An atomic fragment (offset 0, no more fragments) is the whole packet.
                next_header = payload[0];
                payload = &payload[8..];
            }
            IP_PROTO_AH => (next_header, payload) = skip_authentication_header(payload)?,
            _ => break,
        }
    }
    ip_packet(
        IpAddr::V6(src),
        IpAddr::V6(dst),
        next_header,
        payload,
        outer,
    )
}

/// RFC 4302: next header, payload length in 4-octet units minus 2.
fn skip_authentication_header(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    require(payload, 2, Layer::AuthenticationHeader)?;
    let header_len = (usize::from(payload[1]) + 2) * 4;
    require(payload, header_len, Layer::AuthenticationHeader)?;
    Ok((payload[0], &payload[header_len..]))
}

/// An IP packet's transport, or the packet inside it when it is a tunnel.
fn ip_packet(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload: &[u8],
    outer: Outer,
) -> Result<Packet<'_>, DecodeError> {
    let transport = decode_transport(protocol, payload)?;
    if outer.depth < MAX_TUNNEL_DEPTH {
        let found = match transport {
            Transport::Udp(datagram) => tunnel::udp_tunnel(datagram.dst_port, datagram.payload)?,
            Transport::Other(tunnel::IP_PROTO_IPIP) => {
                Some((TunnelKind::IpInIp, None, Inner::Ipv4(payload)))
            }
            Transport::Other(tunnel::IP_PROTO_IPV6) => {
                Some((TunnelKind::IpInIp, None, Inner::Ipv6(payload)))
            }
            Transport::Other(tunnel::IP_PROTO_GRE) => Some(tunnel::gre(payload)?),
            _ => None,
        };
        if let Some((kind, id, inner)) = found {
            let tunnel = Tunnel {
                kind,
                outer_src: Some(src),
                outer_dst: Some(dst),
                id,
            };
            return decode_inner(inner, outer.into_tunnel(tunnel));
        }
    }
    Ok(Packet {
        src,
        dst,
        vlan: outer.vlan,
        tunnel: outer.tunnel,
        transport,
    })
}

fn decode_transport(protocol: u8, data: &[u8]) -> Result<Transport<'_>, DecodeError> {
    match protocol {
        IP_PROTO_TCP => decode_tcp(data).map(Transport::Tcp),
        IP_PROTO_UDP => decode_udp(data).map(Transport::Udp),
        other => Ok(Transport::Other(other)),
    }
}

fn decode_tcp(data: &[u8]) -> Result<TcpSegment<'_>, DecodeError> {
    require(data, TCP_MIN_HEADER_LEN, Layer::Tcp)?;
    let header_len = usize::from(data[12] >> 4) * 4;
    if header_len < TCP_MIN_HEADER_LEN {
        return Err(DecodeError::BadTcpDataOffset { header_len });
    }
    require(data, header_len, Layer::Tcp)?;
    Ok(TcpSegment {
        src_port: be16(data, 0),
        dst_port: be16(data, 2),
        seq: be32(data, 4),
        ack: be32(data, 8),
        flags: TcpFlags(data[13]),
        window: be16(data, 14),
        payload: &data[header_len..],
    })
}

fn decode_udp(data: &[u8]) -> Result<UdpDatagram<'_>, DecodeError> {
    require(data, UDP_HEADER_LEN, Layer::Udp)?;
    let udp_len = usize::from(be16(data, 4));
    if udp_len < UDP_HEADER_LEN || udp_len > data.len() {
        return Err(DecodeError::BadUdpLength {
            udp_len,
            available: data.len(),
        });
    }
    Ok(UdpDatagram {
        src_port: be16(data, 0),
        dst_port: be16(data, 2),
        payload: &data[UDP_HEADER_LEN..udp_len],
    })
}
