//! QUIC: a real aioquic handshake recorded as tshark, decrypting the
//! Initial itself, sees it, and its Handshake packets opened with the
//! client's key log (the server's certificate, as tshark reads it with the
//! same key log); and QUIC as networks carry it (Retry, Version
//! Negotiation, 0-RTT before the Initial, a ClientHello finished under the
//! server's connection ID, a reused 4-tuple), live and replayed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use cipherlens_integration::schema::assert_valid_session_record;
use cipherlens_integration::{
    Background, TestBed, free_udp_port, replay_sessions, tshark_fields_decoding,
};

/// An aioquic server (`python3 ARGS`), once it said it is listening.
fn aioquic_server(args: &[&str]) -> Background {
    let mut server = Background(
        Command::new("python3")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("aioquic server"),
    );
    use std::io::BufRead;
    let stdout = server.0.stdout.take().expect("server stdout");
    let mut line = String::new();
    let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    assert!(line.contains("listening"), "aioquic server: {line}");
    server
}

#[test]
fn a_quic_handshake_from_aioquic_is_recorded_like_tshark_sees_it() {
    let bed = TestBed::new("quic");
    let link = &bed.link;
    let certificate = bed.certificate("quic.test");
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fixtures/quic_peer.py");
    let peer = peer.display().to_string();
    let port = free_udp_port().to_string();
    let dump = bed.tcpdump("quic.pcap");
    let keys = bed.dir().join("quic-keys.log").display().to_string();
    let sensor = bed.sensor(&["--keylog-file", &keys]);
    let _server = aioquic_server(&[
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
    ]);
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
            "--keylog",
            &keys,
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

    // The Handshake packets, opened with the client's key log: the
    // server's certificate and the ALPN it chose in EncryptedExtensions.
    let tls = &record["cipherlens"]["tls"];
    assert!(
        tls["decrypted_handshake"]["server_records"].as_u64() >= Some(1),
        "{record}"
    );
    assert_eq!(record["tls"]["next_protocol"], "h3", "{record}");
    let fingerprints: Vec<&str> = tls["server_certificates"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|c| c["fingerprint_sha256"].as_str())
        .collect();
    assert_eq!(fingerprints, vec![certificate.sha256()], "{record}");
    // tshark with the same key log reads the same certificate.
    let output = Command::new("tshark")
        .args(["-o", &format!("tls.keylog_file:{keys}")])
        .args(["-d", &format!("udp.port=={port},quic")])
        .arg("-r")
        .arg(&pcap)
        .args(["-Y", "tls.handshake.type == 11", "-T", "fields"])
        .args(["-e", "x509sat.uTF8String", "-e", "x509sat.printableString"])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("quic.test"), "tshark: {text}");
    // Replayed with the same key log: the same chain.
    let again = replay_sessions(&["--keylog-file", &keys], &pcap);
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0]["cipherlens"]["tls"]["server_certificates"],
        tls["server_certificates"]
    );
}

/// Sessions by server name: (ALPN protocols offered, complete).
fn by_server_name(records: &[Value]) -> BTreeMap<String, Vec<(usize, bool)>> {
    let mut sessions: BTreeMap<String, Vec<(usize, bool)>> = BTreeMap::new();
    for record in records {
        if record["event"]["kind"] != "quic.session" {
            continue;
        }
        let name = record["tls"]["client"]["server_name"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let alpn = record["cipherlens"]["tls"]["client_hello"]["alpn"]
            .as_array()
            .map_or(0, Vec::len);
        let complete = record["cipherlens"]["session"]["complete"] == true;
        sessions.entry(name).or_default().push((alpn, complete));
    }
    sessions
}

#[test]
fn quic_as_networks_carry_it_gives_one_complete_record_per_connection() {
    let bed = TestBed::new("quicwild");
    let link = &bed.link;
    let certificate = bed.certificate("quic.test");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fixtures/quic_scenarios.py");
    let script = script.display().to_string();
    let port = free_udp_port().to_string();
    let retry_port = free_udp_port().to_string();
    let dump = bed.tcpdump("quic-wild.pcap");
    let sensor = bed.sensor(&[]);
    let _server = aioquic_server(&[
        &script,
        "server",
        "--host",
        &link.host_v4,
        "--port",
        &port,
        "--retry-port",
        &retry_port,
        "--cert",
        &certificate.cert,
        "--key",
        &certificate.key,
        "--timeout",
        "60",
    ]);
    // The clients' own account of each connection is the reference.
    let output = link
        .command("python3")
        .args([
            &script,
            "client",
            "--host",
            &link.host_v4,
            "--port",
            &port,
            "--retry-port",
            &retry_port,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("aioquic clients");
    assert!(
        output.status.success(),
        "clients: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let connections: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("client json"))
        .collect();
    assert_eq!(connections.len(), 7, "{connections:#?}");
    let early = connections
        .iter()
        .find(|c| c["name"] == "early")
        .expect("early");
    assert_eq!(early["initial_dropped"], true, "{early}");
    assert_eq!(early["ticket"], true, "{early}");
    let split = connections
        .iter()
        .find(|c| c["name"] == "split")
        .expect("split");
    assert_eq!(split["part_dropped"], true, "{split}");
    assert_eq!(split["dcids"].as_array().map(Vec::len), Some(2), "{split}");
    let reuse: Vec<&Value> = connections
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("reuse")))
        .collect();
    assert_eq!(reuse[0]["local_port"], reuse[1]["local_port"]);

    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");

    let alpn_of = |name: &str| -> usize {
        connections
            .iter()
            .find(|c| c["sni"] == name)
            .and_then(|c| c["alpn_offered"].as_u64())
            .map_or(1, |n| n as usize)
    };
    let expected: BTreeMap<String, Vec<(usize, bool)>> = connections
        .iter()
        .map(|c| {
            let name = c["sni"].as_str().expect("sni").to_owned();
            let alpn = alpn_of(&name);
            (name, vec![(alpn, true)])
        })
        .collect();
    assert_eq!(by_server_name(&records), expected, "live: {records:#?}");
    // Every record valid; the Retry named on the session that had one.
    for record in &records {
        assert_valid_session_record(record);
        let retried = record["tls"]["client"]["server_name"] == "retry.quic.test";
        assert_eq!(record["cipherlens"]["quic"]["retry"], retried, "{record}");
        assert_eq!(record["cipherlens"]["quic"]["version"]["name"], "v1");
    }

    let replay_records = replay_sessions(&[], &pcap);
    assert_eq!(by_server_name(&replay_records), expected, "replay");

    // tshark, decrypting the Initials itself, finds the same ClientHellos
    // where it follows the connection (it does not after a greased
    // version), with the same number of ALPN protocols.
    let tshark = tshark_fields_decoding(
        &pcap,
        Some(&format!("udp.port=={port},quic")),
        "tls.handshake.type == 1",
        &[
            "tls.handshake.extensions_server_name",
            "tls.handshake.extensions_alpn_str",
        ],
    );
    let seen: BTreeMap<String, usize> = tshark
        .iter()
        .map(|row| (row[0].clone(), row[1].split(',').count()))
        .collect();
    for name in [
        "ticket.quic.test",
        "early.quic.test",
        "split.quic.test",
        "reuse-1.quic.test",
        "reuse-2.quic.test",
    ] {
        assert_eq!(seen.get(name), Some(&alpn_of(name)), "tshark: {tshark:?}");
    }
}
