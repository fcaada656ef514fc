//! The kernel-input decoders on real kernel output: the `kernel_event` and
//! `link_message` fuzz seeds, captured on this kernel by
//! `fuzz/kernel_event_seeds.py` and `fuzz/link_message_seeds.py`.
//!
//! The expected values are what those scripts did (addresses, ports, link
//! names, the QUIC datagram they sent), not anything the decoders compute.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use cipherlens_capture::kernel_event::{EventError, EventMeta, decode_event_frame, event_frame};
use cipherlens_capture::link_message::{LinkChange, LinkMessageError, LinkNews, messages};
use cipherlens_capture::{Packet, Transport};

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Rebuilds and decodes one event seed; the frame is leaked to keep the test short.
fn decoded(name: &str) -> (EventMeta, Packet<'static>) {
    let mut frame = Vec::new();
    let (meta, offset) = event_frame(&seed("kernel_event", name), &mut frame)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let frame: &'static [u8] = frame.leak();
    let packet =
        decode_event_frame(frame, offset).unwrap_or_else(|error| panic!("{name}: {error}"));
    (meta, packet)
}

const LOCALHOST_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

#[test]
fn a_client_hello_event_is_the_tls_record_sent_to_the_server() {
    let (meta, packet) = decoded("tcp4-client-hello");
    assert_eq!((packet.src, packet.dst), (LOCALHOST_V4, LOCALHOST_V4));
    assert_eq!(meta.ifindex, 1, "loopback");
    let Transport::Tcp(segment) = packet.transport else {
        panic!("TCP expected");
    };
    assert_eq!(segment.dst_port, 4433);
    // A handshake record (22, 3.x) holding a ClientHello (1).
    assert_eq!(segment.payload[..2], [0x16, 0x03]);
    assert_eq!(segment.payload[5], 1);
    let record_len = u16::from_be_bytes([segment.payload[3], segment.payload[4]]);
    assert_eq!(segment.payload.len(), 5 + usize::from(record_len));
}

#[test]
fn an_ipv6_server_hello_event_comes_from_the_server_port() {
    let (_, packet) = decoded("tcp6-server-hello");
    assert_eq!((packet.src, packet.dst), (LOCALHOST_V6, LOCALHOST_V6));
    let Transport::Tcp(segment) = packet.transport else {
        panic!("TCP expected");
    };
    assert_eq!(segment.src_port, 4434);
    assert_eq!(segment.payload[..2], [0x16, 0x03]);
    assert_eq!(segment.payload[5], 2);
}

#[test]
fn a_later_chunk_continues_the_first_one_in_sequence_space() {
    let (first_meta, first) = decoded("tcp4-large-chunk");
    let (later_meta, later) = decoded("tcp4-later-chunk");
    // One packet: both events carry its timestamp and socket.
    assert_eq!(
        first_meta.timestamp_monotonic_ns,
        later_meta.timestamp_monotonic_ns
    );
    assert_eq!(first_meta.socket_cookie, later_meta.socket_cookie);
    let (Transport::Tcp(first), Transport::Tcp(later)) = (first.transport, later.transport) else {
        panic!("TCP expected");
    };
    // A large event holds 16 KiB of payload; the next chunk starts right after.
    assert_eq!(first.payload.len(), 16 * 1024);
    assert_eq!(later.seq, first.seq.wrapping_add(16 * 1024));
    assert_eq!(
        (first.src_port, first.dst_port),
        (later.src_port, later.dst_port)
    );
    // Application data records (23, 3.3) of the 40 KB write.
    assert_eq!(first.payload[..3], [0x17, 0x03, 0x03]);
}

#[test]
fn a_fin_event_has_no_payload() {
    let (_, packet) = decoded("tcp4-fin");
    let Transport::Tcp(segment) = packet.transport else {
        panic!("TCP expected");
    };
    assert!(segment.flags.fin());
    assert!(segment.payload.is_empty());
}

#[test]
fn a_quic_event_carries_the_datagram_that_was_sent() {
    let sent = seed("quic_initial", "client-initial-1");
    for (name, address) in [
        ("udp4-quic-initial", LOCALHOST_V4),
        ("udp6-quic-initial", LOCALHOST_V6),
    ] {
        let (_, packet) = decoded(name);
        assert_eq!(packet.dst, address, "{name}");
        let Transport::Udp(datagram) = packet.transport else {
            panic!("{name}: UDP expected");
        };
        assert_eq!(datagram.dst_port, 443, "{name}");
        assert_eq!(datagram.payload, sent, "{name}");
    }
}

#[test]
fn hostile_event_seeds_are_the_errors_they_were_made_to_be() {
    let mut frame = Vec::new();
    let error = |name: &str, frame: &mut Vec<u8>| {
        event_frame(&seed("kernel_event", name), frame).expect_err(name)
    };
    assert_eq!(error("short-header", &mut frame), EventError::Short(40));
    assert!(matches!(
        error("header-length-overflow", &mut frame),
        EventError::BadLengths {
            header_len: 0xFFFF,
            ..
        }
    ));
    assert!(matches!(
        error("payload-length-overflow", &mut frame),
        EventError::BadLengths {
            payload_len: 0xFFFF_FFFF,
            ..
        }
    ));
}

fn news(name: &str) -> LinkNews {
    let mut news = LinkNews::default();
    news.add_datagram(&seed("link_message", name));
    news
}

fn present(news: &LinkNews) -> Vec<(&str, u32)> {
    news.changes
        .iter()
        .filter_map(|change| match change {
            LinkChange::Present { index, name } => Some((name.as_str(), *index)),
            LinkChange::Gone { .. } => None,
        })
        .collect()
}

#[test]
fn link_notifications_follow_the_veth_pair_the_script_made() {
    let created = news("newlink-created");
    let [("clseed0", index)] = present(&created)[..] else {
        panic!("{created:?}");
    };
    assert_eq!(present(&news("newlink-renamed")), [("clseed1", index)]);
    let [("clseed-peer", peer)] = present(&news("newlink-peer"))[..] else {
        panic!("peer");
    };
    assert_ne!(peer, index);
    let deleted = news("dellink");
    assert_eq!(deleted.malformed, 0);
    let [LinkChange::Gone { index: gone }] = deleted.changes[..] else {
        panic!("{deleted:?}");
    };
    assert!(gone == index || gone == peer, "{gone}");
}

#[test]
fn a_dump_reply_holds_several_links_of_the_namespace() {
    // The first datagram of the dump: the kernel fills it with as many links
    // as fit, of the three in the scratch namespace.
    let dump = news("dump-reply");
    assert_eq!(dump.malformed, 0);
    let links = present(&dump);
    assert!(links.len() >= 2, "{links:?}");
    assert!(links.contains(&("lo", 1)), "{links:?}");
    for (name, _) in links {
        assert!(["lo", "clseed1", "clseed-peer"].contains(&name), "{name}");
    }
}

#[test]
fn error_and_hostile_link_seeds_are_counted_not_decoded() {
    type Expected = fn(&LinkMessageError) -> bool;
    let cases: [(&str, Expected); 4] = [
        ("error-reply", |error| {
            matches!(error, LinkMessageError::NetlinkError)
        }),
        // The message length was set to 40: 16 of header, 16 of ifinfomsg,
        // 8 of an attribute that says it is longer.
        ("cut-in-attributes", |error| {
            matches!(
                error,
                LinkMessageError::AttributeLength { available: 8, .. }
            )
        }),
        ("message-length-overflow", |error| {
            matches!(
                error,
                LinkMessageError::MessageLength {
                    length: 0xFFFF_FFFF,
                    ..
                }
            )
        }),
        ("attribute-length-overflow", |error| {
            matches!(
                error,
                LinkMessageError::AttributeLength { length: 0xFFFF, .. }
            )
        }),
    ];
    for (name, expected) in cases {
        let datagram = seed("link_message", name);
        let errors: Vec<_> = messages(&datagram).filter_map(Result::err).collect();
        assert!(
            matches!(&errors[..], [error] if expected(error)),
            "{name}: {errors:?}"
        );
        assert_eq!(news(name).malformed, 1, "{name}");
        assert!(news(name).changes.is_empty(), "{name}");
    }
    let overrun = news("overrun-then-newlink");
    assert!(overrun.overflowed);
    assert_eq!(present(&overrun), present(&news("newlink-created")));
}
