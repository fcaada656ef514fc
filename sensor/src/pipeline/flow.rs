//! Flow identity: the same key for both directions of a connection.

use std::net::SocketAddr;

/// IP protocol numbers the pipeline follows.
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// Direction-independent 5-tuple: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub protocol: u8,
    pub lower: SocketAddr,
    pub upper: SocketAddr,
}

impl FlowKey {
    /// The key of a packet from `source` to `destination`.
    pub fn new(protocol: u8, source: SocketAddr, destination: SocketAddr) -> Self {
        let (lower, upper) = if source <= destination {
            (source, destination)
        } else {
            (destination, source)
        };
        Self {
            protocol,
            lower,
            upper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key() {
        let a: SocketAddr = "10.0.0.1:443".parse().expect("addr");
        let b: SocketAddr = "10.0.0.2:50000".parse().expect("addr");
        assert_eq!(
            FlowKey::new(IPPROTO_TCP, a, b),
            FlowKey::new(IPPROTO_TCP, b, a)
        );
        assert_ne!(
            FlowKey::new(IPPROTO_TCP, a, b),
            FlowKey::new(IPPROTO_UDP, a, b)
        );
    }
}
