//! QUIC: a real aioquic handshake recorded as tshark, decrypting the
//! Initial itself, sees it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cipherlens_integration::{Background, TestBed, free_udp_port, tshark_fields_decoding};

#[test]
fn a_quic_handshake_from_aioquic_is_recorded_like_tshark_sees_it() {
    let bed = TestBed::new("quic");
    let link = &bed.link;
    let certificate = bed.certificate("quic.test");
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fixtures/quic_peer.py");
    let peer = peer.display().to_string();
    let port = free_udp_port().to_string();
    let dump = bed.tcpdump("quic.pcap");
    let sensor = bed.sensor(&[]);
    let server = Command::new("python3")
        .args([
            &peer,
            "server",
            "--host",
            &link.host_v4,
            "--port",
            &port,
            "--alpn",
            "h3",
            "--cert",
            &certificate.cert,
            "--key",
            &certificate.key,
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("aioquic server");
    let mut server = Background(server);
    {
        // The peer says "listening" once its socket is bound.
        use std::io::BufRead;
        let stdout = server.0.stdout.take().expect("server stdout");
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        assert!(line.contains("listening"), "aioquic server: {line}");
    }
    link.client(
        "python3",
        &[
            &peer,
            "client",
            "--host",
            &link.host_v4,
            "--port",
            &port,
            "--alpn",
            "h3",
            "--sni",
            "quic.test",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(record["network"]["transport"], "udp");
    assert_eq!(record["tls"]["client"]["server_name"], "quic.test");
    assert_eq!(
        record["cipherlens"]["tls"]["client_hello"]["alpn"],
        serde_json::json!(["h3"])
    );
    let ja4 = record["cipherlens"]["tls"]["fingerprints"]["ja4"]
        .as_str()
        .expect("ja4");
    assert!(ja4.starts_with("q13d"), "{ja4}");
    // tshark decrypts the Initial itself: same SNI and JA3.
    let tshark = tshark_fields_decoding(
        &pcap,
        Some(&format!("udp.port=={port},quic")),
        "tls.handshake.type == 1",
        &["tls.handshake.extensions_server_name", "tls.handshake.ja3"],
    );
    assert_eq!(tshark.len(), 1, "{tshark:?}");
    assert_eq!(tshark[0][0], "quic.test");
    assert_eq!(record["tls"]["client"]["ja3"], tshark[0][1].as_str());
}
