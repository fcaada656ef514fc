//! Odd shapes on the wire, recorded whole: a post-quantum ClientHello over
//! two segments, and IPv6 extension headers before TCP.

use std::time::Duration;

use cipherlens_integration::{TestBed, tshark_fields};

#[test]
fn a_post_quantum_client_hello_over_two_segments_is_recorded_whole() {
    let bed = TestBed::new("pq");
    let link = &bed.link;
    let server = bed.s_server(&bed.certificate("pq.test"), &[]);
    let dump = bed.tcpdump("pq.pcap");
    let sensor = bed.sensor(&[]);
    // rustls's hello with ALPN is about 1,460 bytes, just over one 1,448-byte
    // segment; a long (valid) server name keeps it well over, as browsers' are.
    let server_name = format!(
        "{}.{}.{}.pq.test",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60)
    );
    link.client(
        env!("CARGO_BIN_EXE_pq-client"),
        &[&link.host_v4, &server.port.to_string(), &server_name],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(
        record["cipherlens"]["session"]["complete"], true,
        "{record}"
    );
    assert_eq!(record["tls"]["client"]["server_name"], server_name.as_str());
    let hello = &record["cipherlens"]["tls"]["client_hello"];
    assert_eq!(hello["alpn"], serde_json::json!(["h2", "http/1.1"]));
    // rustls with aws-lc-rs offers X25519MLKEM768 (0x11EC) first, with a key share.
    assert_eq!(hello["supported_groups"][0]["code"], 0x11EC, "{hello}");
    assert_eq!(hello["supported_groups"][0]["name"], "X25519MLKEM768");
    let shares: Vec<u64> = hello["key_share_groups"]
        .as_array()
        .expect("key shares")
        .iter()
        .filter_map(|g| g["code"].as_u64())
        .collect();
    assert!(shares.contains(&0x11EC), "{hello}");
    // tshark: the ClientHello took more than one segment, and its JA3 is ours.
    let tshark = tshark_fields(
        &pcap,
        "tls.handshake.type == 1",
        &["tcp.segment.count", "tls.handshake.ja3"],
    );
    assert_eq!(tshark.len(), 1, "{tshark:?}");
    let segments: u32 = tshark[0][0].parse().unwrap_or(1);
    assert!(segments >= 2, "ClientHello in {segments} segment(s)");
    assert_eq!(record["tls"]["client"]["ja3"], tshark[0][1].as_str());
}

/// A client whose IPv6 packets carry Hop-by-Hop and Destination Options
/// extension headers (set with the IPV6_HOPOPTS/IPV6_DSTOPTS socket options,
/// RFC 3542): the kernel programs must walk the chain to find TCP.
#[test]
fn ipv6_extension_headers_are_followed_to_the_handshake() {
    let bed = TestBed::new("ipv6-ext");
    let link = &bed.link;
    let server = bed.s_server_on(&link.host_v6, &bed.certificate("ext.test"), &[]);
    let dump = bed.tcpdump("ext.pcap");
    let sensor = bed.sensor(&[]);
    // Each header: next header (filled by the kernel), length 0 (8 bytes),
    // then one PadN option of 4 zero bytes (RFC 8200 section 4.2).
    link.client(
        "python3",
        &[
            "-c",
            &format!(
                "import socket, ssl\n\
                 pad = bytes([0, 0, 1, 4, 0, 0, 0, 0])\n\
                 s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n\
                 s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, pad)\n\
                 s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, pad)\n\
                 s.connect(('{}', {}))\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 t = ctx.wrap_socket(s, server_hostname='options.ext.test')\n\
                 t.close()",
                link.host_v6, server.port
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    // tshark sees both extension headers on the ClientHello, and its JA3.
    let tshark = tshark_fields(
        &pcap,
        "tls.handshake.type == 1",
        &["ipv6.hopopts.nxt", "ipv6.dstopts.nxt", "tls.handshake.ja3"],
    );
    assert_eq!(tshark.len(), 1, "{tshark:?}");
    assert_eq!(tshark[0][0], "60", "Hop-by-Hop, then Destination Options");
    assert_eq!(tshark[0][1], "6", "Destination Options, then TCP");
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(record["tls"]["client"]["server_name"], "options.ext.test");
    assert_eq!(record["tls"]["client"]["ja3"], tshark[0][2].as_str());
    assert_eq!(
        record["cipherlens"]["session"]["complete"], true,
        "{record}"
    );
}
