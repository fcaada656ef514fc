//! Flow identity: one key for both directions of a TCP or UDP flow, shared
//! by the pipeline's flow table, the kernel's maps and CNFlow, and the
//! Community ID that joins our records with other tools'.
//!
//! The key is the kernel's [`FlowKey`] (endpoints sorted, IPv4 stored as
//! IPv4-mapped IPv6), so a session the pipeline finishes names the very
//! kernel entry to mark done, and its CNFlow id, without a conversion.

pub mod community_id;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

pub use cipherlens_common::FlowKey;
use cipherlens_common::{IPPROTO_TCP, IPPROTO_UDP};
pub use community_id::community_id_v1;

/// The transports the sensor follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpProtocol {
    Tcp,
    Udp,
}

impl IpProtocol {
    /// The IANA protocol number.
    pub const fn number(self) -> u8 {
        match self {
            IpProtocol::Tcp => IPPROTO_TCP,
            IpProtocol::Udp => IPPROTO_UDP,
        }
    }

    /// From an IANA protocol number, for the two followed.
    pub const fn from_number(number: u8) -> Option<Self> {
        match number {
            IPPROTO_TCP => Some(IpProtocol::Tcp),
            IPPROTO_UDP => Some(IpProtocol::Udp),
            _ => None,
        }
    }
}

/// The key of the flow between two endpoints, in either direction.
pub fn flow_key(protocol: IpProtocol, a: SocketAddr, b: SocketAddr) -> FlowKey {
    FlowKey::new(
        protocol.number(),
        mapped(a.ip()),
        a.port(),
        mapped(b.ip()),
        b.port(),
    )
}

/// The key's two endpoints, lower first; IPv4 shown as IPv4.
pub fn endpoints(key: &FlowKey) -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(unmapped(key.low_address), key.low_port),
        SocketAddr::new(unmapped(key.high_address), key.high_port),
    )
}

/// An address as the kernel's keys hold it.
fn mapped(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn unmapped(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key_and_protocols_do_not() {
        let a: SocketAddr = "10.0.0.1:443".parse().expect("addr");
        let b: SocketAddr = "10.0.0.2:50000".parse().expect("addr");
        assert_eq!(
            flow_key(IpProtocol::Tcp, a, b),
            flow_key(IpProtocol::Tcp, b, a)
        );
        assert_ne!(
            flow_key(IpProtocol::Tcp, a, b),
            flow_key(IpProtocol::Udp, a, b)
        );
        assert_eq!(endpoints(&flow_key(IpProtocol::Tcp, b, a)), (a, b));
    }

    #[test]
    fn ipv4_is_stored_mapped_as_the_kernel_does() {
        let a: SocketAddr = "192.0.2.1:1".parse().expect("addr");
        let b: SocketAddr = "[2001:db8::1]:2".parse().expect("addr");
        let key = flow_key(IpProtocol::Udp, a, b);
        // RFC 4291 section 2.5.5.2: ::ffff:a.b.c.d
        assert_eq!(
            key.low_address,
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]
        );
        assert_eq!(key.protocol, 17);
    }
}
