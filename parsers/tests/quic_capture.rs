//! QUIC Initial decryption and CRYPTO reassembly on a real capture:
//! suricata-verify's `ja4-quic/input.pcap` (11 client Initials from a
//! Chromium-based browser, each a single 1250-byte Initial whose ClientHello
//! is split into CRYPTO frames sent out of order, mixed with PADDING and PING).
//!
//! The expected values were produced by tshark 4.0.17 (Wireshark's own QUIC
//! decryption and TLS dissector), not by this crate:
//!
//! ```text
//! tshark -r input.pcap -Y quic -T fields -e frame.number -e quic.dcid \
//!   -e quic.packet_number -e tls.handshake.length -e quic.crypto.offset \
//!   -e quic.crypto.length -e quic.frame_type \
//!   -e tls.handshake.extensions_server_name
//! ```

use std::path::PathBuf;

use cipherlens_parsers::quic::{
    CryptoStream, InitialKeys, LongPacketType, QUIC_V1, Side, decrypt_initials,
    decrypt_initials_with, peek_long_header,
};

fn capture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/suricata-verify/tests/ja4-quic/input.pcap")
}

/// One row of tshark 4.0.17 output for the capture.
struct TsharkRow {
    dcid: &'static str,
    packet_number: u64,
    /// `tls.handshake.length`: the ClientHello body length.
    client_hello_len: usize,
    /// `quic.crypto.offset` / `quic.crypto.length`, in packet order.
    crypto: &'static [(u64, usize)],
    /// `quic.frame_type`, in packet order (tshark lists a PADDING run once).
    frame_types: &'static [u64],
    /// `tls.handshake.extensions_server_name`.
    sni: &'static str,
}

/// From tshark 4.0.17, frames 1 to 11 in order.
const TSHARK: [TsharkRow; 11] = [
    TsharkRow {
        dcid: "dc87ff1a3af99278",
        packet_number: 1,
        client_hello_len: 280,
        crypto: &[
            (227, 13),
            (0, 33),
            (240, 44),
            (33, 6),
            (39, 47),
            (208, 19),
            (86, 122),
        ],
        frame_types: &[6, 6, 6, 6, 0, 1, 0, 1, 0, 6, 6, 0, 1, 1, 6, 1, 1, 1, 1],
        sni: "www.blogger.com",
    },
    TsharkRow {
        dcid: "e57190158fb69292",
        packet_number: 1,
        client_hello_len: 283,
        crypto: &[(16, 1), (0, 15), (227, 60), (17, 84), (15, 1), (101, 126)],
        frame_types: &[6, 6, 1, 0, 1, 0, 6, 0, 1, 0, 6, 0, 1, 1, 0, 6, 6, 0],
        sni: "socpuppet.blogspot.com",
    },
    TsharkRow {
        dcid: "e84fdc6c5ee6ca90",
        packet_number: 1,
        client_hello_len: 287,
        crypto: &[
            (135, 156),
            (0, 73),
            (100, 13),
            (73, 27),
            (120, 15),
            (113, 2),
            (115, 5),
        ],
        frame_types: &[6, 1, 6, 0, 6, 0, 6, 0, 1, 6, 6, 1, 1, 0, 1, 0, 6, 0],
        sni: "apis.google.com",
    },
    TsharkRow {
        dcid: "d7f89939fa0aadfd",
        packet_number: 1,
        client_hello_len: 291,
        crypto: &[(55, 53), (108, 187), (0, 55)],
        frame_types: &[0, 6, 6, 6],
        sni: "www.blogger.com",
    },
    TsharkRow {
        dcid: "1a01e98bf5fdda7a",
        packet_number: 1,
        client_hello_len: 279,
        crypto: &[(0, 263), (263, 20)],
        frame_types: &[6, 0, 6],
        sni: "apis.google.com",
    },
    TsharkRow {
        dcid: "988fc2bf6c964816",
        packet_number: 1,
        client_hello_len: 276,
        crypto: &[
            (10, 88),
            (0, 1),
            (1, 1),
            (9, 1),
            (206, 74),
            (2, 7),
            (98, 108),
        ],
        frame_types: &[0, 6, 1, 1, 0, 1, 1, 6, 1, 1, 6, 0, 6, 6, 6, 6],
        sni: "www.google.com",
    },
    TsharkRow {
        dcid: "b833381a557f0c6d",
        packet_number: 1,
        client_hello_len: 290,
        crypto: &[
            (143, 7),
            (94, 49),
            (74, 20),
            (39, 6),
            (150, 144),
            (45, 29),
            (0, 39),
        ],
        frame_types: &[
            1, 6, 0, 1, 1, 0, 1, 0, 1, 0, 6, 6, 6, 6, 1, 6, 1, 0, 6, 0, 1,
        ],
        sni: "www.gstatic.com",
    },
    TsharkRow {
        dcid: "b95a3770939cb943",
        packet_number: 1,
        client_hello_len: 289,
        crypto: &[(0, 293)],
        frame_types: &[0, 1, 1, 1, 0, 1, 0, 1, 6, 1, 0],
        sni: "fonts.gstatic.com",
    },
    TsharkRow {
        dcid: "64f6dc0a0164e88b",
        packet_number: 1,
        client_hello_len: 289,
        crypto: &[
            (0, 47),
            (212, 68),
            (280, 2),
            (282, 2),
            (289, 4),
            (47, 165),
            (284, 5),
        ],
        frame_types: &[6, 0, 1, 6, 0, 1, 6, 6, 6, 6, 1, 0, 6],
        sni: "4.bp.blogspot.com",
    },
    TsharkRow {
        dcid: "9d31edfce1e69f06",
        packet_number: 1,
        client_hello_len: 291,
        crypto: &[(74, 221), (0, 74)],
        frame_types: &[1, 6, 0, 6, 0, 1, 0, 1, 0, 1],
        sni: "1.bp.blogspot.com",
    },
    TsharkRow {
        dcid: "ed8d547ab486366e",
        packet_number: 1,
        client_hello_len: 288,
        crypto: &[(107, 63), (0, 107), (170, 122)],
        frame_types: &[1, 0, 6, 0, 1, 0, 6, 0, 6],
        sni: "2.bp.blogspot.com",
    },
];

#[test]
fn quic_every_client_initial_matches_tshark() {
    let datagrams = udp_payloads(&capture_path());
    assert_eq!(
        datagrams.len(),
        TSHARK.len(),
        "tshark shows 11 QUIC packets"
    );

    for (index, (datagram, expected)) in datagrams.iter().zip(&TSHARK).enumerate() {
        let frame = index + 1;
        let header = peek_long_header(datagram).expect("long header");
        assert_eq!(header.version, QUIC_V1, "frame {frame}");
        assert_eq!(header.packet_type, LongPacketType::Initial, "frame {frame}");

        let initials = decrypt_initials(datagram, Side::Client, None)
            .unwrap_or_else(|error| panic!("frame {frame}: {error}"));
        assert_eq!(initials.len(), 1, "frame {frame}");
        let initial = &initials[0];
        assert_eq!(hex::encode(&initial.dcid), expected.dcid, "frame {frame}");
        assert!(initial.scid.is_empty(), "frame {frame}");
        assert!(initial.token.is_empty(), "frame {frame}");
        assert_eq!(
            initial.packet_number, expected.packet_number,
            "frame {frame}"
        );
        assert_eq!(initial.frame_types, expected.frame_types, "frame {frame}");
        let chunks: Vec<(u64, usize)> = initial
            .crypto
            .iter()
            .map(|chunk| (chunk.offset, chunk.data.len()))
            .collect();
        assert_eq!(chunks, expected.crypto, "frame {frame}");

        let mut stream = CryptoStream::default();
        stream.insert_packet(initial).expect("reassemble");
        assert!(!stream.has_gaps(), "frame {frame}");
        let client_hello = stream.first_handshake_message().expect("whole ClientHello");
        assert_eq!(client_hello[0], 0x01, "frame {frame}: ClientHello");
        assert_eq!(
            client_hello.len(),
            4 + expected.client_hello_len,
            "frame {frame}"
        );
        assert_eq!(
            stream.contiguous(),
            client_hello,
            "frame {frame}: nothing after it"
        );
        assert_eq!(
            server_name(client_hello).as_deref(),
            Some(expected.sni),
            "frame {frame}"
        );
    }
}

#[test]
fn quic_first_initial_decrypts_with_cached_keys_and_not_as_server() {
    let datagrams = udp_payloads(&capture_path());
    let first = &datagrams[0];
    let dcid = hex::decode(TSHARK[0].dcid).expect("hex");
    let keys = InitialKeys::derive(QUIC_V1, &dcid).expect("derive");
    let cached = decrypt_initials_with(&keys, first, Side::Client).expect("cached keys");
    assert_eq!(
        cached,
        decrypt_initials(first, Side::Client, None).expect("derived")
    );
    // The same packet read as if the server had sent it must not decrypt.
    assert!(decrypt_initials_with(&keys, first, Side::Server).is_err());
    // Keys for another connection must not decrypt it either.
    let other = hex::decode(TSHARK[1].dcid).expect("hex");
    assert!(decrypt_initials(first, Side::Client, Some(&other)).is_err());
}

/// Reads the `server_name` host name from a ClientHello handshake message.
/// Test-only and minimal: enough to compare with tshark.
fn server_name(client_hello: &[u8]) -> Option<String> {
    let mut pos = 4 + 2 + 32; // handshake header, legacy_version, random
    let session_id_len = usize::from(*client_hello.get(pos)?);
    pos += 1 + session_id_len;
    let suites_len = read_u16(client_hello, pos)?;
    pos += 2 + suites_len;
    let compression_len = usize::from(*client_hello.get(pos)?);
    pos += 1 + compression_len;
    let extensions_len = read_u16(client_hello, pos)?;
    pos += 2;
    let extensions = client_hello.get(pos..pos + extensions_len)?;
    let mut at = 0;
    while at + 4 <= extensions.len() {
        let ext_type = read_u16(extensions, at)?;
        let ext_len = read_u16(extensions, at + 2)?;
        let body = extensions.get(at + 4..at + 4 + ext_len)?;
        if ext_type == 0 {
            // server_name_list length (2), name_type (1) = host_name (0), name length (2)
            if *body.get(2)? != 0 {
                return None;
            }
            let name_len = read_u16(body, 3)?;
            let name = body.get(5..5 + name_len)?;
            return String::from_utf8(name.to_vec()).ok();
        }
        at += 4 + ext_len;
    }
    None
}

fn read_u16(buf: &[u8], at: usize) -> Option<usize> {
    let bytes = buf.get(at..at + 2)?;
    Some(usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
}

/// UDP payloads of a classic pcap file with Ethernet (optionally one VLAN
/// tag) or raw IP link layer and IPv4/IPv6, in file order. Test-only.
fn udp_payloads(path: &std::path::Path) -> Vec<Vec<u8>> {
    let file = std::fs::read(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    assert!(file.len() >= 24, "pcap global header");
    let magic = [file[0], file[1], file[2], file[3]];
    let little_endian = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("not a classic pcap file"),
    };
    let read_u32 = |at: usize| {
        let bytes = [file[at], file[at + 1], file[at + 2], file[at + 3]];
        if little_endian {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        }
    };
    let link_type = read_u32(20);
    let mut payloads = Vec::new();
    let mut pos = 24;
    while pos + 16 <= file.len() {
        let captured = read_u32(pos + 8) as usize;
        let record = &file[pos + 16..pos + 16 + captured];
        pos += 16 + captured;
        let ip = match link_type {
            1 => ethernet_payload(record),
            101 => Some(record),
            other => panic!("unsupported link type {other}"),
        };
        if let Some(payload) = ip.and_then(udp_payload) {
            payloads.push(payload.to_vec());
        }
    }
    payloads
}

fn ethernet_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut ether_type = read_u16(frame, 12)?;
    let mut offset = 14;
    if ether_type == 0x8100 {
        ether_type = read_u16(frame, 16)?;
        offset = 18;
    }
    matches!(ether_type, 0x0800 | 0x86dd).then(|| frame.get(offset..))?
}

fn udp_payload(ip: &[u8]) -> Option<&[u8]> {
    let udp = match ip.first()? >> 4 {
        4 => {
            let header_len = usize::from(ip.first()? & 0x0f) * 4;
            let total_len = read_u16(ip, 2)?;
            (*ip.get(9)? == 17).then_some(())?;
            ip.get(header_len..total_len)?
        }
        6 => {
            let payload_len = read_u16(ip, 4)?;
            (*ip.get(6)? == 17).then_some(())?;
            ip.get(40..40 + payload_len)?
        }
        _ => return None,
    };
    let udp_len = read_u16(udp, 4)?;
    udp.get(8..udp_len)
}
