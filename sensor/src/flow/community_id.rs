//! Community ID v1 (<https://github.com/corelight/community-id-spec>): the
//! flow hash Zeek, Suricata, Elastic and most SIEMs already carry, so a
//! cipherlens record can be joined with theirs.
//!
//! Input to SHA-1, for protocols with ports: seed (u16, big endian), the
//! smaller endpoint's address, the other address, the IP protocol, one zero
//! byte, then the two ports (big endian) in the same order. "Smaller" compares
//! addresses first, then ports, so both directions hash the same. The result
//! is `1:` plus the base64 of the digest.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The Community ID of a TCP/UDP flow between two endpoints (either order).
///
/// Both addresses must be of one family; an IPv4-mapped IPv6 address is
/// hashed as the IPv4 address it maps, as the packets carried it.
pub fn community_id_v1(seed: u16, protocol: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> String {
    let (a_address, b_address) = (canonical(a.0), canonical(b.0));
    let a_first = match (a_address, b_address) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (x.octets(), a.1) <= (y.octets(), b.1),
        (x, y) => (octets(x), a.1) <= (octets(y), b.1),
    };
    let ((first, first_port), (second, second_port)) = if a_first {
        ((a_address, a.1), (b_address, b.1))
    } else {
        ((b_address, b.1), (a_address, a.1))
    };
    // seed, two addresses (16 bytes at most each), protocol, padding, ports.
    let (first, second) = (address_octets(first), address_octets(second));
    let mut input = [0u8; 2 + 16 + 16 + 2 + 4];
    let mut length = 0;
    for part in [
        &seed.to_be_bytes()[..],
        &first.0[..first.1],
        &second.0[..second.1],
        &[protocol, 0],
        &first_port.to_be_bytes(),
        &second_port.to_be_bytes(),
    ] {
        input[length..length + part.len()].copy_from_slice(part);
        length += part.len();
    }
    let digest = <sha1::Sha1 as sha1::Digest>::digest(&input[..length]);
    let mut id = String::with_capacity(2 + 28);
    id.push_str("1:");
    STANDARD.encode_string(digest, &mut id);
    id
}

fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn octets(address: IpAddr) -> Vec<u8> {
    match address {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The address's bytes on the wire, and how many there are (4 or 16).
fn address_octets(address: IpAddr) -> ([u8; 16], usize) {
    match address {
        IpAddr::V4(v4) => {
            let mut octets = [0; 16];
            octets[..4].copy_from_slice(&v4.octets());
            (octets, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(protocol: u8, a: &str, a_port: u16, b: &str, b_port: u16) -> String {
        community_id_v1(
            0,
            protocol,
            (a.parse().expect("address"), a_port),
            (b.parse().expect("address"), b_port),
        )
    }

    /// The Tenzir documentation's worked example of `community_id`.
    #[test]
    fn tenzir_documentation_example() {
        assert_eq!(
            id(6, "1.2.3.4", 4584, "43.3.132.3", 3483),
            "1:koNcqhFRD5kb254ZrLsdv630jCM="
        );
    }

    #[test]
    fn both_directions_and_mapped_addresses_hash_alike() {
        let forward = id(6, "10.0.0.2", 40000, "10.0.0.1", 443);
        assert_eq!(forward, id(6, "10.0.0.1", 443, "10.0.0.2", 40000));
        assert_eq!(
            forward,
            id(6, "::ffff:10.0.0.2", 40000, "::ffff:10.0.0.1", 443)
        );
        // Same addresses: the port decides the order.
        assert_eq!(
            id(17, "::1", 5000, "::1", 53),
            id(17, "::1", 53, "::1", 5000)
        );
        assert_ne!(forward, id(17, "10.0.0.2", 40000, "10.0.0.1", 443));
    }
}
