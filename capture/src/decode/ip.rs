//! IPv4 and IPv6 (extension headers and AH skipped, fragments refused), then the TCP or
//! UDP header, or the packet inside a tunnel the IP packet carries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    DecodeError, Layer, MAX_TUNNEL_DEPTH, Outer, Packet, TcpFlags, TcpSegment, Transport,
    UdpDatagram, be16, be32, decode_inner, require,
};
use crate::tunnel::{self, Inner, Tunnel, TunnelKind};

const IP_PROTO_HOP_BY_HOP: u8 = 0;
const IP_PROTO_TCP: u8 = 6;
const IP_PROTO_UDP: u8 = 17;
const IP_PROTO_IPV6_ROUTING: u8 = 43;
const IP_PROTO_IPV6_FRAGMENT: u8 = 44;
const IP_PROTO_AH: u8 = 51;
const IP_PROTO_IPV6_DESTINATION_OPTIONS: u8 = 60;

const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const TCP_MIN_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;

/// Raw IP: the version nibble says which.
pub(super) fn decode_ip(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
    require(data, 1, Layer::Ipv4)?;
    match data[0] >> 4 {
        4 => decode_ipv4(data, outer),
        6 => decode_ipv6(data, outer),
        found => Err(DecodeError::UnknownIpVersion { found }),
    }
}

pub(super) fn decode_ipv4(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
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

pub(super) fn decode_ipv6(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
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
