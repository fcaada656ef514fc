//! Decoder tests on packets written out byte by byte from the RFC / IEEE header layouts
//! (IPv4: RFC 791, IPv6: RFC 8200, TCP: RFC 9293, UDP: RFC 768, 802.1Q/802.1ad, Linux
//! SLL/SLL2 and BSD loopback as documented on tcpdump.org's link-type list). The expected
//! values are the ones written into the bytes, not anything the decoder computes.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cipherlens_capture::{
    DecodeError, Layer, LinkType, Packet, TcpFlags, TcpSegment, Transport, UdpDatagram,
    decode_frame,
};

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const ETH_DST_SRC: [u8; 12] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // destination MAC
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // source MAC
];

/// IPv4 header with 4 option bytes (IHL 6): 192.0.2.1 -> 198.51.100.2, protocol TCP,
/// total length 24 + 32 (TCP with 12 option bytes) + 5 = 61.
const IPV4_WITH_OPTIONS_TCP: [u8; 24] = [
    0x46, 0x00, // version 4, IHL 6 (24 bytes); DSCP/ECN 0
    0x00, 0x3d, // total length 61
    0x12, 0x34, 0x40, 0x00, // identification; flags DF, fragment offset 0
    0x40, 0x06, 0x00, 0x00, // TTL 64, protocol 6 (TCP), checksum (not checked)
    192, 0, 2, 1, // source
    198, 51, 100, 2, // destination
    0x01, 0x01, 0x01, 0x00, // options: NOP, NOP, NOP, End of Option List
];

/// TCP header with 12 option bytes (data offset 8): 49152 -> 443, PSH|ACK.
const TCP_WITH_OPTIONS: [u8; 32] = [
    0xc0, 0x00, 0x01, 0xbb, // source port 49152, destination port 443
    0x01, 0x02, 0x03, 0x04, // sequence number
    0x0a, 0x0b, 0x0c, 0x0d, // acknowledgment number
    0x80, 0x18, // data offset 8 (32 bytes); flags PSH|ACK
    0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00, // window 64240, checksum, urgent pointer
    0x02, 0x04, 0x05, 0xb4, // MSS 1460
    0x01, 0x01, 0x04, 0x02, // NOP, NOP, SACK permitted
    0x01, 0x03, 0x03, 0x07, // NOP, window scale 7
];

fn tcp<'a>(packet: &Packet<'a>) -> TcpSegment<'a> {
    match packet.transport {
        Transport::Tcp(segment) => segment,
        other => panic!("expected TCP, got {other:?}"),
    }
}

fn udp<'a>(packet: &Packet<'a>) -> UdpDatagram<'a> {
    match packet.transport {
        Transport::Udp(datagram) => datagram,
        other => panic!("expected UDP, got {other:?}"),
    }
}

#[test]
fn ethernet_ipv4_with_options_and_tcp_with_options() {
    let frame = cat(&[
        &ETH_DST_SRC,
        &[0x08, 0x00],
        &IPV4_WITH_OPTIONS_TCP,
        &TCP_WITH_OPTIONS,
        b"hello",
    ]);
    let packet = decode_frame(LinkType::ETHERNET, &frame).expect("decodes");
    assert_eq!(packet.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(packet.dst, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)));
    assert_eq!(packet.vlan, None);
    let segment = tcp(&packet);
    assert_eq!(segment.src_port, 49152);
    assert_eq!(segment.dst_port, 443);
    assert_eq!(segment.seq, 0x0102_0304);
    assert_eq!(segment.ack, 0x0a0b_0c0d);
    assert_eq!(segment.flags, TcpFlags::PSH | TcpFlags::ACK);
    assert!(segment.flags.psh() && segment.flags.ack());
    assert!(!segment.flags.syn() && !segment.flags.fin() && !segment.flags.rst());
    assert_eq!(segment.window, 64240);
    assert_eq!(segment.payload, b"hello");
}

#[test]
fn ethernet_padding_is_not_payload() {
    // 14 + 20 + 20 + 2 = 56 bytes, padded to the 60-byte Ethernet minimum with 0xee.
    let ipv4 = [
        0x45, 0x00, 0x00, 0x2a, // IHL 5, total length 42
        0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, // no fragmentation, TTL 64, TCP
        10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let tcp_header = [
        0x01, 0xbb, 0xd4, 0x31, // 443 -> 54321
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, // seq, ack
        0x50, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // offset 5, FIN|ACK, window 256
    ];
    let frame = cat(&[
        &ETH_DST_SRC,
        &[0x08, 0x00],
        &ipv4,
        &tcp_header,
        b"hi",
        &[0xee; 4],
    ]);
    assert_eq!(frame.len(), 60);
    let packet = decode_frame(LinkType::ETHERNET, &frame).expect("decodes");
    let segment = tcp(&packet);
    assert_eq!(segment.payload, b"hi", "padding must not become payload");
    assert_eq!((segment.src_port, segment.dst_port), (443, 54321));
    assert_eq!(segment.seq, u32::MAX);
    assert_eq!(segment.ack, 1);
    assert!(segment.flags.fin() && segment.flags.ack() && !segment.flags.psh());
    assert_eq!(segment.window, 256);

    // The same for UDP: an IPv4 total length of 20 + 8 + 3 in a 60-byte frame.
    let ipv4_udp = [
        0x45, 0x00, 0x00, 0x1f, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, //
        10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let udp_header = [0x00, 0x35, 0x13, 0x88, 0x00, 0x0b, 0x00, 0x00]; // 53 -> 5000, length 11
    let frame = cat(&[
        &ETH_DST_SRC,
        &[0x08, 0x00],
        &ipv4_udp,
        &udp_header,
        b"abc",
        &[0xee; 15],
    ]);
    let packet = decode_frame(LinkType::ETHERNET, &frame).expect("decodes");
    let datagram = udp(&packet);
    assert_eq!((datagram.src_port, datagram.dst_port), (53, 5000));
    assert_eq!(datagram.payload, b"abc");
}

/// IPv6 2001:db8::1 -> 2001:db8::2 with a hop-by-hop header and a destination options
/// header in front of a UDP datagram carrying "quic".
fn ipv6_with_extension_headers() -> Vec<u8> {
    let ipv6 = [
        0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
        0x00, 0x24, 0x00, 0x40, // payload length 36, next header 0 (hop-by-hop), hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // destination 2001:db8::2
    ];
    let hop_by_hop = [
        60, 0, // next header: destination options; length 0 -> 8 bytes
        0x01, 0x04, 0, 0, 0, 0, // PadN option with 4 bytes of padding
    ];
    let destination_options = [
        17, 1, // next header: UDP; length 1 -> 16 bytes
        0x01, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // PadN with 12 bytes
    ];
    let udp_header = [0xc7, 0x38, 0x01, 0xbb, 0x00, 0x0c, 0x00, 0x00]; // 51000 -> 443, length 12
    cat(&[
        &ipv6,
        &hop_by_hop,
        &destination_options,
        &udp_header,
        b"quic",
    ])
}

fn assert_ipv6_extension_packet(packet: &Packet<'_>) {
    assert_eq!(
        packet.src,
        IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(
        packet.dst,
        IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap())
    );
    let datagram = udp(packet);
    assert_eq!((datagram.src_port, datagram.dst_port), (51000, 443));
    assert_eq!(datagram.payload, b"quic");
}

#[test]
fn ipv6_hop_by_hop_and_destination_options() {
    let ip = ipv6_with_extension_headers();
    assert_ipv6_extension_packet(&decode_frame(LinkType::IPV6, &ip).expect("raw IPv6"));
    assert_ipv6_extension_packet(&decode_frame(LinkType::RAW, &ip).expect("raw IP"));
    assert_ipv6_extension_packet(&decode_frame(LinkType::RAW_BSD_12, &ip).expect("raw IP 12"));
    assert_ipv6_extension_packet(&decode_frame(LinkType::RAW_BSD_14, &ip).expect("raw IP 14"));
    let frame = cat(&[&ETH_DST_SRC, &[0x86, 0xdd], &ip]);
    let packet = decode_frame(LinkType::ETHERNET, &frame).expect("Ethernet");
    assert_ipv6_extension_packet(&packet);
    assert_eq!(packet.vlan, None);
    // Raw IPv4 link type refuses an IPv6 packet.
    assert_eq!(
        decode_frame(LinkType::IPV4, &ip),
        Err(DecodeError::WrongIpVersion {
            found: 6,
            expected: 4
        })
    );
}

#[test]
fn ipv6_extension_header_cut_short() {
    let ip = ipv6_with_extension_headers();
    // Claim a destination options header of 8 * (1 + 200) bytes.
    let mut bad = ip.clone();
    bad[40 + 8 + 1] = 200;
    assert_eq!(
        decode_frame(LinkType::IPV6, &bad),
        Err(DecodeError::Truncated {
            layer: Layer::Ipv6Extension,
            needed: 1608,
            available: 28
        })
    );
}

#[test]
fn ipv6_fragments_and_atomic_fragment() {
    let fragment = |offset_and_flags: u16| {
        let [high, low] = offset_and_flags.to_be_bytes();
        let ipv6 = [
            0x60, 0, 0, 0, 0x00, 0x20, 44,
            64, // payload 8 + 20 + 4 = 32, next header: fragment
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, //
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        ];
        let fragment_header = [6, 0, high, low, 0xde, 0xad, 0xbe, 0xef]; // next header TCP
        let tcp_header = [
            0x00, 0x50, 0x9c, 0x40, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0,
            0, // 80 -> 40000, seq 7, SYN
        ];
        cat(&[&ipv6, &fragment_header, &tcp_header, b"data"])
    };
    // Offset 0 with the M flag: first fragment.
    assert_eq!(
        decode_frame(LinkType::IPV6, &fragment(0x0001)),
        Err(DecodeError::Fragment)
    );
    // Offset 185 (8-octet units), no M flag: last fragment.
    assert_eq!(
        decode_frame(LinkType::IPV6, &fragment(185 << 3)),
        Err(DecodeError::Fragment)
    );
    // Atomic fragment (RFC 6946): offset 0, no M flag — the whole packet.
    let atomic = fragment(0);
    let packet = decode_frame(LinkType::IPV6, &atomic).expect("atomic fragment");
    let segment = tcp(&packet);
    assert_eq!(
        (segment.src_port, segment.dst_port, segment.seq),
        (80, 40000, 7)
    );
    assert_eq!(segment.flags, TcpFlags::SYN);
    assert_eq!(segment.window, 0x7210);
    assert_eq!(segment.payload, b"data");
}

#[test]
fn ipv6_routing_and_authentication_headers() {
    let ipv6 = [
        0x60, 0, 0, 0, 0x00, 0x20, 43, 64, // payload 8 + 12 + 12 = 32, next header: routing
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, //
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    ];
    let routing = [51, 0, 0, 0, 0, 0, 0, 0]; // next header AH, 8 bytes, segments left 0
    let authentication = [
        17, 1, 0, 0, // next header UDP, payload length 1 -> (1 + 2) * 4 = 12 bytes
        0, 0, 0x01, 0x00, 0, 0, 0, 9, // SPI 256, sequence number 9
    ];
    let udp_header = [0x11, 0x5c, 0x11, 0x5c, 0x00, 0x0c, 0, 0]; // 4444 -> 4444, length 12
    let ip = cat(&[&ipv6, &routing, &authentication, &udp_header, b"ahah"]);
    let packet = decode_frame(LinkType::IPV6, &ip).expect("decodes");
    let datagram = udp(&packet);
    assert_eq!((datagram.src_port, datagram.dst_port), (4444, 4444));
    assert_eq!(datagram.payload, b"ahah");
}

fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len() as u16;
    let udp_len = 8 + payload.len() as u16;
    let [total_high, total_low] = total.to_be_bytes();
    let [udp_high, udp_low] = udp_len.to_be_bytes();
    cat(&[
        &[
            0x45, 0, total_high, total_low, 0, 0, 0, 0, 64, 17, 0, 0, // UDP
            172, 16, 0, 1, 172, 16, 0, 2,
        ],
        &[0x30, 0x39, 0x01, 0xbb, udp_high, udp_low, 0, 0], // 12345 -> 443
        payload,
    ])
}

#[test]
fn single_vlan_tag() {
    let frame = cat(&[
        &ETH_DST_SRC,
        &[0x81, 0x00, 0x20, 0x64], // 802.1Q, PCP 1, VLAN 100
        &[0x08, 0x00],
        &ipv4_udp(b"x"),
    ]);
    let packet = decode_frame(LinkType::ETHERNET, &frame).expect("decodes");
    assert_eq!(packet.vlan, Some(100));
    assert_eq!(packet.src, IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)));
    assert_eq!(packet.dst, IpAddr::V4(Ipv4Addr::new(172, 16, 0, 2)));
    let datagram = udp(&packet);
    assert_eq!((datagram.src_port, datagram.dst_port), (12345, 443));
    assert_eq!(datagram.payload, b"x");
}

#[test]
fn qinq_reports_the_outer_vlan() {
    for outer_tpid in [[0x88, 0xa8], [0x91, 0x00], [0x81, 0x00]] {
        let frame = cat(&[
            &ETH_DST_SRC,
            &outer_tpid,
            &[0xe0, 0x0a],             // PCP 7, VLAN 10
            &[0x81, 0x00, 0x0f, 0xff], // inner 802.1Q, VLAN 4095
            &[0x86, 0xdd],
            &ipv6_with_extension_headers(),
        ]);
        let packet = decode_frame(LinkType::ETHERNET, &frame).expect("decodes");
        assert_eq!(packet.vlan, Some(10), "outer TPID {outer_tpid:02x?}");
        assert_ipv6_extension_packet(&packet);
    }
}

#[test]
fn linux_cooked_v1() {
    let sll = [
        0x00, 0x04, // packet type: sent by us
        0x00, 0x01, // ARPHRD_ETHER
        0x00, 0x06, // address length 6
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x00, 0x00, // address, padded to 8
        0x08, 0x00, // protocol IPv4
    ];
    let frame = cat(&[&sll, &IPV4_WITH_OPTIONS_TCP, &TCP_WITH_OPTIONS, b"hello"]);
    let packet = decode_frame(LinkType::LINUX_SLL, &frame).expect("decodes");
    assert_eq!(packet.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(packet.dst, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)));
    let segment = tcp(&packet);
    assert_eq!((segment.src_port, segment.dst_port), (49152, 443));
    assert_eq!(segment.payload, b"hello");

    // A VLAN tag the kernel left in place follows the SLL header.
    let tagged = cat(&[
        &sll[..14],
        &[0x81, 0x00],
        &[0x00, 0x07, 0x08, 0x00], // VLAN 7, then IPv4
        &IPV4_WITH_OPTIONS_TCP,
        &TCP_WITH_OPTIONS,
        b"hello",
    ]);
    let packet = decode_frame(LinkType::LINUX_SLL, &tagged).expect("decodes");
    assert_eq!(packet.vlan, Some(7));
    assert_eq!(tcp(&packet).payload, b"hello");
}

#[test]
fn linux_cooked_v2() {
    let sll2 = [
        0x86, 0xdd, // protocol IPv6
        0x00, 0x00, // reserved
        0x00, 0x00, 0x00, 0x02, // interface index 2
        0x00, 0x01, // ARPHRD_ETHER
        0x00, // packet type: to us
        0x06, // address length
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x00, 0x00,
    ];
    let frame = cat(&[&sll2, &ipv6_with_extension_headers()]);
    let packet = decode_frame(LinkType::LINUX_SLL2, &frame).expect("decodes");
    assert_ipv6_extension_packet(&packet);
    assert_eq!(
        decode_frame(LinkType::LINUX_SLL2, &sll2[..19]),
        Err(DecodeError::Truncated {
            layer: Layer::LinuxSll2,
            needed: 20,
            available: 19
        })
    );
}

#[test]
fn bsd_loopback_in_both_byte_orders() {
    let ipv4 = ipv4_udp(b"lo");
    let null_little_endian = cat(&[&[2, 0, 0, 0], &ipv4]); // AF_INET written by x86
    let null_big_endian = cat(&[&[0, 0, 0, 2], &ipv4]); // AF_INET written by a big-endian host
    for frame in [&null_little_endian, &null_big_endian] {
        let packet = decode_frame(LinkType::NULL, frame).expect("decodes");
        assert_eq!(udp(&packet).payload, b"lo");
    }
    let loop_ipv4 = cat(&[&[0, 0, 0, 2], &ipv4]); // LOOP: network byte order
    assert_eq!(
        udp(&decode_frame(LinkType::LOOP, &loop_ipv4).unwrap()).payload,
        b"lo"
    );
    for family in [10u8, 24, 28, 30] {
        let frame = cat(&[&[family, 0, 0, 0], &ipv6_with_extension_headers()]);
        assert_ipv6_extension_packet(&decode_frame(LinkType::NULL, &frame).expect("IPv6"));
    }
    let frame = cat(&[&[0, 0, 0, 7], &ipv4]);
    assert_eq!(
        decode_frame(LinkType::NULL, &frame),
        Err(DecodeError::NotIpFamily { family: 7 })
    );
}

#[test]
fn ipv4_fragments_are_reported() {
    let mut more_fragments = ipv4_udp(b"frag");
    more_fragments[6] = 0x20; // MF, offset 0
    assert_eq!(
        decode_frame(LinkType::IPV4, &more_fragments),
        Err(DecodeError::Fragment)
    );
    let mut later_fragment = ipv4_udp(b"frag");
    later_fragment[7] = 0x03; // offset 3 (24 bytes), no MF
    assert_eq!(
        decode_frame(LinkType::IPV4, &later_fragment),
        Err(DecodeError::Fragment)
    );
    let mut dont_fragment = ipv4_udp(b"frag");
    dont_fragment[6] = 0x40; // DF only: a whole packet
    assert_eq!(
        udp(&decode_frame(LinkType::IPV4, &dont_fragment).unwrap()).payload,
        b"frag"
    );
}

#[test]
fn malformed_headers_are_errors() {
    // IHL 4 (16 bytes) is below the minimum.
    let mut short_ihl = ipv4_udp(b"");
    short_ihl[0] = 0x44;
    assert_eq!(
        decode_frame(LinkType::RAW, &short_ihl),
        Err(DecodeError::BadIpv4HeaderLength { header_len: 16 })
    );
    // Total length 200 but only 28 bytes captured (a snap length cut).
    let mut long_total = ipv4_udp(b"");
    long_total[2..4].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        decode_frame(LinkType::RAW, &long_total),
        Err(DecodeError::Truncated {
            layer: Layer::Ipv4,
            needed: 200,
            available: 28
        })
    );
    // Total length below the header length.
    let mut short_total = ipv4_udp(b"");
    short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        decode_frame(LinkType::RAW, &short_total),
        Err(DecodeError::BadIpv4TotalLength {
            total_len: 19,
            header_len: 20
        })
    );
    // UDP length larger than the IP payload, and smaller than the UDP header.
    let mut long_udp = ipv4_udp(b"abc");
    long_udp[24..26].copy_from_slice(&12u16.to_be_bytes());
    assert_eq!(
        decode_frame(LinkType::RAW, &long_udp),
        Err(DecodeError::BadUdpLength {
            udp_len: 12,
            available: 11
        })
    );
    long_udp[24..26].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        decode_frame(LinkType::RAW, &long_udp),
        Err(DecodeError::BadUdpLength {
            udp_len: 7,
            available: 11
        })
    );
    // TCP data offset 4 (16 bytes), and one pointing past the captured bytes.
    let mut ip = cat(&[&IPV4_WITH_OPTIONS_TCP, &TCP_WITH_OPTIONS, b"hello"]);
    ip[24 + 12] = 0x40;
    assert_eq!(
        decode_frame(LinkType::RAW, &ip),
        Err(DecodeError::BadTcpDataOffset { header_len: 16 })
    );
    ip[24 + 12] = 0xf0;
    assert_eq!(
        decode_frame(LinkType::RAW, &ip),
        Err(DecodeError::Truncated {
            layer: Layer::Tcp,
            needed: 60,
            available: 37
        })
    );
    // Not IP at all.
    let arp = cat(&[&ETH_DST_SRC, &[0x08, 0x06], &[0; 28]]);
    assert_eq!(
        decode_frame(LinkType::ETHERNET, &arp),
        Err(DecodeError::NotIp { ether_type: 0x0806 })
    );
    assert_eq!(
        decode_frame(LinkType(147), &arp),
        Err(DecodeError::UnsupportedLinkType(LinkType(147)))
    );
    assert_eq!(
        decode_frame(LinkType::RAW, &[0x50]),
        Err(DecodeError::UnknownIpVersion { found: 5 })
    );
}

#[test]
fn other_ip_protocols_are_named() {
    let mut icmp = ipv4_udp(b"ping");
    icmp[9] = 1;
    let packet = decode_frame(LinkType::RAW, &icmp).expect("decodes");
    assert_eq!(packet.transport, Transport::Other(1));
    let mut esp = ipv6_with_extension_headers();
    esp[40 + 8] = 50; // destination options header now says ESP follows
    assert_eq!(
        decode_frame(LinkType::IPV6, &esp).unwrap().transport,
        Transport::Other(50)
    );
}

/// Every prefix of every valid frame above, and random bytes for every link type, decode
/// to a result without panicking; a prefix of a valid frame is never mistaken for a
/// different valid TCP payload.
#[test]
fn truncations_and_random_bytes_never_panic() {
    let frames: Vec<(LinkType, Vec<u8>)> = vec![
        (
            LinkType::ETHERNET,
            cat(&[
                &ETH_DST_SRC,
                &[0x08, 0x00],
                &IPV4_WITH_OPTIONS_TCP,
                &TCP_WITH_OPTIONS,
                b"hello",
            ]),
        ),
        (LinkType::IPV6, ipv6_with_extension_headers()),
        (
            LinkType::ETHERNET,
            cat(&[
                &ETH_DST_SRC,
                &[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x08, 0x00],
                &ipv4_udp(b"q"),
            ]),
        ),
    ];
    for (link_type, frame) in &frames {
        let full = decode_frame(*link_type, frame).expect("full frame decodes");
        for cut in 0..frame.len() {
            if let Ok(packet) = decode_frame(*link_type, &frame[..cut]) {
                panic!("prefix of {cut} bytes decoded as {packet:?}, full frame is {full:?}");
            }
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let link_types = [0u16, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
    for _ in 0..20_000 {
        let len = (next() % 120) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make IP headers likely so the deeper layers get exercised too.
        if len > 20 && next() % 2 == 0 {
            let ip_at = [0usize, 4, 14, 16, 20][(next() % 5) as usize].min(len - 1);
            bytes[ip_at] = if next() % 2 == 0 { 0x45 } else { 0x60 };
        }
        for link_type in link_types {
            let _ = decode_frame(LinkType(link_type), &bytes);
        }
    }
}

/// The hand-built frames of the tests above, one of each kind.
fn sample_frames() -> Vec<(&'static str, LinkType, Vec<u8>)> {
    let sll = [0, 4, 0, 1, 0, 6, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0, 0];
    let sll2 = [
        0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    let ipv4_tcp = cat(&[&IPV4_WITH_OPTIONS_TCP, &TCP_WITH_OPTIONS, b"hello"]);
    vec![
        (
            "Ethernet, IPv4 and TCP with options",
            LinkType::ETHERNET,
            cat(&[&ETH_DST_SRC, &[0x08, 0x00], &ipv4_tcp]),
        ),
        (
            "Ethernet padding after UDP",
            LinkType::ETHERNET,
            cat(&[&ETH_DST_SRC, &[0x08, 0x00], &ipv4_udp(b"abc"), &[0xee; 15]]),
        ),
        (
            "raw IPv6 with extension headers",
            LinkType::IPV6,
            ipv6_with_extension_headers(),
        ),
        ("raw IP, IPv6", LinkType::RAW, ipv6_with_extension_headers()),
        ("raw IPv4", LinkType::IPV4, ipv4_udp(b"v4")),
        (
            "802.1Q",
            LinkType::ETHERNET,
            cat(&[
                &ETH_DST_SRC,
                &[0x81, 0x00, 0x20, 0x64, 0x08, 0x00],
                &ipv4_udp(b"x"),
            ]),
        ),
        (
            "802.1ad QinQ",
            LinkType::ETHERNET,
            cat(&[
                &ETH_DST_SRC,
                &[0x88, 0xa8, 0xe0, 0x0a, 0x81, 0x00, 0x0f, 0xfe, 0x86, 0xdd],
                &ipv6_with_extension_headers(),
            ]),
        ),
        (
            "Linux SLL",
            LinkType::LINUX_SLL,
            cat(&[&sll, &[0x08, 0x00], &ipv4_tcp]),
        ),
        (
            "Linux SLL with a VLAN tag",
            LinkType::LINUX_SLL,
            cat(&[&sll, &[0x81, 0x00, 0x00, 0x07, 0x08, 0x00], &ipv4_tcp]),
        ),
        (
            "Linux SLL2",
            LinkType::LINUX_SLL2,
            cat(&[&sll2, &ipv6_with_extension_headers()]),
        ),
        (
            "BSD NULL, IPv4",
            LinkType::NULL,
            cat(&[&[2, 0, 0, 0], &ipv4_udp(b"lo")]),
        ),
        (
            "BSD NULL, IPv6 (Darwin)",
            LinkType::NULL,
            cat(&[&[30, 0, 0, 0], &ipv6_with_extension_headers()]),
        ),
        (
            "OpenBSD LOOP",
            LinkType::LOOP,
            cat(&[&[0, 0, 0, 2], &ipv4_udp(b"lo")]),
        ),
    ]
}

/// tshark decodes the hand-built frames to the same fields: a check of the byte layouts
/// written in this file as much as of the decoder.
#[test]
fn tshark_decodes_the_hand_built_frames_the_same() {
    let dir = common::scratch_dir("tshark_decodes_the_hand_built_frames_the_same");
    for (index, (name, link_type, frame)) in sample_frames().into_iter().enumerate() {
        let path = dir.join(format!("frame-{index}.pcap"));
        let file = common::pcap_file(
            false,
            false,
            u32::from(link_type.0),
            &[common::PcapRecord {
                seconds: 0,
                fraction: 0,
                original_len: frame.len() as u32,
                data: &frame,
            }],
        );
        std::fs::write(&path, file).unwrap();
        let (stdout, stderr) = common::run(
            "tshark",
            &[
                "-r",
                &path.to_string_lossy(),
                "-T",
                "fields",
                "-E",
                "occurrence=f",
                "-e",
                "ip.src",
                "-e",
                "ipv6.src",
                "-e",
                "ip.dst",
                "-e",
                "ipv6.dst",
                "-e",
                "vlan.id",
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "tcp.seq_raw",
                "-e",
                "tcp.len",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
                "-e",
                "udp.length",
                "-e",
                "ieee8021ad.id",
            ],
        );
        let fields: Vec<&str> = stdout.trim_end_matches('\n').split('\t').collect();
        assert_eq!(
            fields.len(),
            13,
            "{name}: tshark printed {stdout:?} {stderr}"
        );
        let packet = decode_frame(link_type, &frame).expect(name);
        let (src, dst) = match packet.src {
            IpAddr::V4(_) => (fields[0], fields[2]),
            IpAddr::V6(_) => (fields[1], fields[3]),
        };
        assert_eq!(packet.src.to_string(), src, "{name}");
        assert_eq!(packet.dst.to_string(), dst, "{name}");
        let vlan = packet.vlan.map(|id| id.to_string()).unwrap_or_default();
        // tshark names an 802.1ad service tag's VLAN ID `ieee8021ad.id`, and 802.1Q's `vlan.id`.
        let outer_vlan = if fields[12].is_empty() {
            fields[4]
        } else {
            fields[12]
        };
        assert_eq!(vlan, outer_vlan, "{name}: VLAN");
        match packet.transport {
            Transport::Tcp(segment) => {
                assert_eq!(segment.src_port.to_string(), fields[5], "{name}");
                assert_eq!(segment.dst_port.to_string(), fields[6], "{name}");
                assert_eq!(segment.seq.to_string(), fields[7], "{name}");
                assert_eq!(segment.payload.len().to_string(), fields[8], "{name}");
            }
            Transport::Udp(datagram) => {
                assert_eq!(datagram.src_port.to_string(), fields[9], "{name}");
                assert_eq!(datagram.dst_port.to_string(), fields[10], "{name}");
                assert_eq!(
                    (datagram.payload.len() + 8).to_string(),
                    fields[11],
                    "{name}"
                );
            }
            Transport::Other(protocol) => panic!("{name}: protocol {protocol}"),
        }
    }
}
