//! Why a frame could not be decoded, and which header said so.

use std::fmt;

use crate::link_type::LinkType;
use crate::tunnel::{TunnelError, TunnelKind};

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

/// Why a frame did not decode to a [`Packet`](super::Packet). Cheap to copy, so callers can count them.
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
