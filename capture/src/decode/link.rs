//! Link layers down to the IP header: Ethernet and its VLAN tags, an MPLS label stack,
//! Linux cooked capture (v1 and v2) and BSD loopback.

use super::ip::{decode_ipv4, decode_ipv6};
use super::{DecodeError, Layer, MAX_TUNNEL_DEPTH, Outer, Packet, be16, decode_inner, require};
use crate::tunnel::Inner;

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

const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const LOOPBACK_HEADER_LEN: usize = 4;

pub(super) fn decode_ethernet(data: &[u8], outer: Outer) -> Result<Packet<'_>, DecodeError> {
    require(data, ETHERNET_HEADER_LEN, Layer::Ethernet)?;
    decode_ether_type_payload(be16(data, 12), &data[ETHERNET_HEADER_LEN..], outer)
}

/// Linux cooked capture v1: packet type, ARPHRD type, address length, 8 address bytes,
/// then the protocol (an EtherType) in the last two bytes of the 16-byte header.
pub(super) fn decode_linux_sll(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    require(data, SLL_HEADER_LEN, Layer::LinuxSll)?;
    decode_ether_type_payload(be16(data, 14), &data[SLL_HEADER_LEN..], Outer::default())
}

/// Linux cooked capture v2: the protocol (an EtherType) comes first in the 20-byte header.
pub(super) fn decode_linux_sll2(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
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

/// BSD loopback (NULL: the capturing host's byte order; LOOP: network byte order).
pub(super) fn decode_loopback(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
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
