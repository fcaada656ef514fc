//! Tunnel headers between an outer IP packet and the one it carries.
//!
//! Why it exists: overlay networks (VXLAN, Geneve under Kubernetes CNIs),
//! GRE and its ERSPAN mirrors, IP-in-IP and 6in4, GTP-U in mobile cores and
//! MPLS on provider links put the TLS connection one or more headers deeper
//! than a plain frame. [`udp_tunnel`], [`gre`] and [`mpls`] each read one
//! such header (IP-in-IP has none) and say what follows it (an Ethernet
//! frame, an IP packet or an MPLS label stack) and which tunnel it was
//! ([`Tunnel`]: kind, outer endpoints, VNI, key or TEID), so the decoder
//! can go on to the inner packet. Every length is checked
//! against the bytes at hand; a header that does not look like its tunnel is
//! not one (the datagram stays plain UDP).

use std::fmt;
use std::net::IpAddr;

/// Well-known UDP ports of UDP-carried tunnels (destination port).
pub const VXLAN_PORT: u16 = 4789;
/// The port Linux used for VXLAN before IANA's (flannel's default).
pub const VXLAN_LINUX_PORT: u16 = 8472;
pub const GENEVE_PORT: u16 = 6081;
pub const GTP_U_PORT: u16 = 2152;

/// IP protocol numbers of IP-carried tunnels.
pub const IP_PROTO_IPIP: u8 = 4;
pub const IP_PROTO_IPV6: u8 = 41;
pub const IP_PROTO_GRE: u8 = 47;

const ETHER_TYPE_IPV4: u16 = 0x0800;
const ETHER_TYPE_IPV6: u16 = 0x86dd;
const ETHER_TYPE_TEB: u16 = 0x6558;
const ETHER_TYPE_ERSPAN_II: u16 = 0x88be;
const ETHER_TYPE_ERSPAN_III: u16 = 0x22eb;
const ETHER_TYPE_MPLS: u16 = 0x8847;
const ETHER_TYPE_MPLS_MULTICAST: u16 = 0x8848;

/// Which tunnel carried a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Vxlan,
    Geneve,
    Gre,
    Erspan,
    /// IPv4 or IPv6 directly in IPv4 or IPv6 (protocol 4 or 41): IP-in-IP,
    /// 6in4, 4in6, ip6ip6.
    IpInIp,
    GtpU,
    Mpls,
}

impl TunnelKind {
    /// Stable name for records and counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::IpInIp => "ipip",
            TunnelKind::GtpU => "gtp-u",
            TunnelKind::Mpls => "mpls",
        }
    }
}

impl fmt::Display for TunnelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outermost tunnel a packet came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// The outer IP header's addresses (absent for MPLS straight on Ethernet).
    pub outer_src: Option<IpAddr>,
    pub outer_dst: Option<IpAddr>,
    /// VXLAN/Geneve VNI, GTP-U TEID, GRE key, ERSPAN session, MPLS label
    /// (the top one).
    pub id: Option<u32>,
}

/// What follows a tunnel header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inner<'a> {
    Ethernet(&'a [u8]),
    /// An IP packet whose version nibble says which.
    Ip(&'a [u8]),
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// An MPLS label stack.
    Mpls(&'a [u8]),
}

/// A tunnel header was recognised but cannot be followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// Fewer bytes than the header says it has.
    Truncated {
        kind: TunnelKind,
        needed: usize,
        available: usize,
    },
    /// A header of a version or with a payload type not followed.
    Unsupported { kind: TunnelKind },
}

fn need(kind: TunnelKind, data: &[u8], needed: usize) -> Result<(), TunnelError> {
    if data.len() < needed {
        Err(TunnelError::Truncated {
            kind,
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

fn be24(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, data[at], data[at + 1], data[at + 2]])
}

fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// The tunnel behind a UDP datagram to `dst_port`, if its payload is one;
/// `Ok(None)` for ordinary UDP.
pub fn udp_tunnel(
    dst_port: u16,
    payload: &[u8],
) -> Result<Option<(TunnelKind, Option<u32>, Inner<'_>)>, TunnelError> {
    match dst_port {
        VXLAN_PORT | VXLAN_LINUX_PORT => Ok(vxlan(payload)),
        GENEVE_PORT => geneve(payload),
        GTP_U_PORT => gtp_u(payload),
        _ => Ok(None),
    }
}

/// RFC 7348 section 5: flags (I bit 0x08), 24 reserved bits, VNI, 8
/// reserved bits; then an Ethernet frame.
fn vxlan(payload: &[u8]) -> Option<(TunnelKind, Option<u32>, Inner<'_>)> {
    if payload.len() < 8 + 14 || payload[0] & 0x08 == 0 {
        return None;
    }
    Some((
        TunnelKind::Vxlan,
        Some(be24(payload, 4)),
        Inner::Ethernet(&payload[8..]),
    ))
}

/// RFC 8926 section 3.4: version (2 bits, 0), option length (6 bits, in
/// 4-byte words), flags, protocol type, VNI, reserved, options.
fn geneve(payload: &[u8]) -> Result<Option<(TunnelKind, Option<u32>, Inner<'_>)>, TunnelError> {
    if payload.len() < 8 || payload[0] >> 6 != 0 {
        return Ok(None);
    }
    let header_len = 8 + usize::from(payload[0] & 0x3f) * 4;
    need(TunnelKind::Geneve, payload, header_len)?;
    let vni = Some(be24(payload, 4));
    let rest = &payload[header_len..];
    let inner = match be16(payload, 2) {
        ETHER_TYPE_TEB => Inner::Ethernet(rest),
        ETHER_TYPE_IPV4 => Inner::Ipv4(rest),
        ETHER_TYPE_IPV6 => Inner::Ipv6(rest),
        _ => {
            return Err(TunnelError::Unsupported {
                kind: TunnelKind::Geneve,
            });
        }
    };
    Ok(Some((TunnelKind::Geneve, vni, inner)))
}

/// 3GPP TS 29.281 section 5: version 1, protocol type 1, message type 255
/// (G-PDU) carries an IP packet after the TEID, the optional sequence/N-PDU
/// word and any extension headers.
fn gtp_u(payload: &[u8]) -> Result<Option<(TunnelKind, Option<u32>, Inner<'_>)>, TunnelError> {
    const KIND: TunnelKind = TunnelKind::GtpU;
    if payload.len() < 8 || payload[0] >> 5 != 1 || payload[0] & 0x10 == 0 {
        return Ok(None);
    }
    if payload[1] != 0xff {
        // Echo, error indication, end marker: signalling, not user traffic.
        return Err(TunnelError::Unsupported { kind: KIND });
    }
    let teid = Some(be32(payload, 4));
    let length = usize::from(be16(payload, 2));
    need(KIND, payload, 8 + length)?;
    let body = &payload[8..8 + length];
    let flags = payload[0];
    let mut at = 0;
    if flags & 0x07 != 0 {
        // Sequence number, N-PDU number, next extension header type.
        need(KIND, body, 4)?;
        let mut next = body[3];
        at = 4;
        // Each extension: a length in 4-byte words (not 0), its content,
        // and the next type in its last byte.
        while next != 0 {
            need(KIND, body, at + 1)?;
            let words = usize::from(body[at]);
            if words == 0 {
                return Err(TunnelError::Unsupported { kind: KIND });
            }
            need(KIND, body, at + words * 4)?;
            next = body[at + words * 4 - 1];
            at += words * 4;
        }
    }
    Ok(Some((KIND, teid, Inner::Ip(&body[at..]))))
}

/// RFC 2784 and RFC 2890: checksum, key and sequence number present per the
/// C, K and S bits; version 0. ERSPAN (protocol 0x88be, 0x22eb) has its own
/// header before the mirrored Ethernet frame.
pub fn gre(payload: &[u8]) -> Result<(TunnelKind, Option<u32>, Inner<'_>), TunnelError> {
    const KIND: TunnelKind = TunnelKind::Gre;
    need(KIND, payload, 4)?;
    let flags = be16(payload, 0);
    if flags & 0x0007 != 0 {
        // Version 1 is PPTP's enhanced GRE.
        return Err(TunnelError::Unsupported { kind: KIND });
    }
    let protocol = be16(payload, 2);
    let mut at = 4;
    if flags & 0x8000 != 0 {
        at += 4;
    }
    let mut key = None;
    if flags & 0x2000 != 0 {
        need(KIND, payload, at + 4)?;
        key = Some(be32(payload, at));
        at += 4;
    }
    let sequenced = flags & 0x1000 != 0;
    if sequenced {
        at += 4;
    }
    need(KIND, payload, at)?;
    let rest = &payload[at..];
    Ok(match protocol {
        ETHER_TYPE_IPV4 => (KIND, key, Inner::Ipv4(rest)),
        ETHER_TYPE_IPV6 => (KIND, key, Inner::Ipv6(rest)),
        ETHER_TYPE_TEB => (KIND, key, Inner::Ethernet(rest)),
        ETHER_TYPE_MPLS | ETHER_TYPE_MPLS_MULTICAST => (KIND, key, Inner::Mpls(rest)),
        // ERSPAN type I has no header of its own (and no sequence number).
        ETHER_TYPE_ERSPAN_II if !sequenced => (TunnelKind::Erspan, None, Inner::Ethernet(rest)),
        ETHER_TYPE_ERSPAN_II => {
            // Type II: version (4 bits, 1), VLAN, COS/En/T, session ID (10
            // bits), reserved, index: 8 bytes.
            need(TunnelKind::Erspan, rest, 8)?;
            let session = u32::from(be16(rest, 2) & 0x03ff);
            (
                TunnelKind::Erspan,
                Some(session),
                Inner::Ethernet(&rest[8..]),
            )
        }
        ETHER_TYPE_ERSPAN_III => {
            // Type III: 12 bytes, and 8 more with the O (optional
            // platform-specific subheader) bit, the lowest of byte 11.
            need(TunnelKind::Erspan, rest, 12)?;
            let session = u32::from(be16(rest, 2) & 0x03ff);
            let len = if rest[11] & 0x01 != 0 { 20 } else { 12 };
            need(TunnelKind::Erspan, rest, len)?;
            (
                TunnelKind::Erspan,
                Some(session),
                Inner::Ethernet(&rest[len..]),
            )
        }
        _ => return Err(TunnelError::Unsupported { kind: KIND }),
    })
}

/// RFC 3032: 4-byte label stack entries until the bottom-of-stack bit; the
/// top label is returned. What follows has no type field (RFC 4928): an IP
/// version nibble of 4 or 6 is IP; 0 is a pseudowire control word (RFC
/// 4385) before an Ethernet frame.
pub fn mpls(payload: &[u8]) -> Result<(u32, Inner<'_>), TunnelError> {
    const KIND: TunnelKind = TunnelKind::Mpls;
    let mut at = 0;
    let mut top = None;
    loop {
        need(KIND, payload, at + 4)?;
        let entry = be32(payload, at);
        top.get_or_insert(entry >> 12);
        at += 4;
        if entry & 0x100 != 0 {
            break;
        }
    }
    let rest = &payload[at..];
    need(KIND, rest, 1)?;
    let inner = match rest[0] >> 4 {
        4 => Inner::Ipv4(rest),
        6 => Inner::Ipv6(rest),
        0 => {
            need(KIND, rest, 4)?;
            Inner::Ethernet(&rest[4..])
        }
        _ => return Err(TunnelError::Unsupported { kind: KIND }),
    };
    Ok((top.unwrap_or_default(), inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_needs_its_i_flag() {
        let mut header = vec![0x08, 0, 0, 0, 0, 0x12, 0x34, 0];
        header.extend([0u8; 14]);
        let (kind, vni, inner) = udp_tunnel(VXLAN_PORT, &header).unwrap().unwrap();
        assert_eq!((kind, vni), (TunnelKind::Vxlan, Some(0x1234)));
        assert!(matches!(inner, Inner::Ethernet(frame) if frame.len() == 14));
        header[0] = 0;
        assert_eq!(udp_tunnel(VXLAN_PORT, &header), Ok(None));
        assert_eq!(udp_tunnel(443, &header), Ok(None));
    }

    #[test]
    fn gtp_u_extension_headers_are_walked() {
        // E flag, G-PDU, length 4 + 8 + 1, TEID 7; seq/npdu/next = 0x85
        // (PDU session container), one 4-byte extension ending in 0, then IP.
        let mut packet = vec![0x34, 0xff, 0x00, 13, 0, 0, 0, 7, 0, 0, 0, 0x85];
        packet.extend([1, 0x10, 0x09, 0x00]);
        packet.extend([0x45; 5]);
        let (kind, teid, inner) = udp_tunnel(GTP_U_PORT, &packet).unwrap().unwrap();
        assert_eq!((kind, teid), (TunnelKind::GtpU, Some(7)));
        assert_eq!(inner, Inner::Ip(&[0x45; 5]));
        // A zero-length extension would never end: refused.
        packet[12] = 0;
        assert!(udp_tunnel(GTP_U_PORT, &packet).is_err());
        // Truncated: the length says more than there is.
        assert!(matches!(
            udp_tunnel(GTP_U_PORT, &packet[..10]),
            Err(TunnelError::Truncated { .. })
        ));
    }

    #[test]
    fn gre_options_erspan_and_mpls() {
        // K and S bits, IPv4.
        let packet = [0x30, 0x00, 0x08, 0x00, 0, 0, 0, 42, 0, 0, 0, 1, 0x45];
        assert_eq!(
            gre(&packet),
            Ok((TunnelKind::Gre, Some(42), Inner::Ipv4(&[0x45])))
        );
        // ERSPAN type II, session 0x155.
        let mut erspan = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 9];
        erspan.extend([0x10, 0x00, 0x01, 0x55, 0, 0, 0, 0]);
        erspan.extend([0xee; 3]);
        assert_eq!(
            gre(&erspan),
            Ok((TunnelKind::Erspan, Some(0x155), Inner::Ethernet(&[0xee; 3])))
        );
        // Two labels (16, 17), IPv6 after the bottom one.
        let stack = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x60];
        assert_eq!(mpls(&stack), Ok((16, Inner::Ipv6(&[0x60]))));
        assert!(mpls(&stack[..4]).is_err());
    }
}
