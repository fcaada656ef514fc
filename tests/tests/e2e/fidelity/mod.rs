//! Live records are faithful: what the clients were configured to send,
//! what tshark reads in a parallel capture, and what `replay` of that
//! capture records, for many client stacks, IPv4 and IPv6, a large chain,
//! and a burst of concurrent handshakes; odd shapes on the wire in
//! [`wire_shapes`]; a connection's end and its 4-tuple's next connection in
//! [`flow_ends`]; how long a flow without TLS is watched for an upgrade in
//! [`starttls_watch`].

mod flow_cache;
mod flow_ends;
mod starttls_watch;
mod wire_shapes;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cipherlens_integration::{
    Background, Certificate, KeyType, TestBed, sensor_binary, tshark_fields, wait_listening,
};
use serde_json::Value;

/// A leaf whose DER exceeds 16 KiB (many SANs) and the CA that signed it:
/// a chain that spans several TCP segments.
fn big_chain(dir: &Path) -> (Certificate, Certificate) {
    let ca = Certificate::self_signed(dir, "cipherlens e2e CA");
    let sans: Vec<String> = (0..700)
        .map(|i| format!("DNS:host{i:04}.big.test"))
        .collect();
    let leaf = ca.issue(
        dir,
        "big.test",
        KeyType::Rsa2048,
        &format!("subjectAltName={}", sans.join(",")),
    );
    (leaf, ca)
}

/// A STARTTLS server on `address:port`: plaintext lines until one is
/// `STARTTLS`, a reply line, then a TLS handshake with `certificate`, one
/// byte read, and the close.
fn starttls_server(certificate: &Certificate, address: &str, port: u16) -> Background {
    let server = Background(
        Command::new("python3")
            .args([
                "-c",
                &format!(
                    "import socket, ssl\n\
                         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
                         ctx.load_cert_chain('{}', '{}')\n\
                         l = socket.create_server(('{address}', {port}))\n\
                         while True:\n\
                         \x20   c, _ = l.accept()\n\
                         \x20   try:\n\
                         \x20       f = c.makefile('rb')\n\
                         \x20       while f.readline() not in (b'STARTTLS\\r\\n', b''): pass\n\
                         \x20       c.sendall(b'220 go ahead\\r\\n')\n\
                         \x20       t = ctx.wrap_socket(c, server_side=True)\n\
                         \x20       t.recv(1); t.close()\n\
                         \x20   except Exception:\n\
                         \x20       c.close()",
                    certificate.cert, certificate.key
                ),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("STARTTLS server"),
    );
    wait_listening(port);
    server
}

/// Records keyed by the client's port (every client here uses a fresh one).
fn by_client_port(records: &[Value]) -> BTreeMap<u64, &Value> {
    records
        .iter()
        .map(|record| {
            (
                record["client"]["port"].as_u64().expect("client port"),
                record,
            )
        })
        .collect()
}

/// A record without what only live capture can know or when it was made:
/// the kernel's observation, the flow id, the node, who owns the local
/// sockets, the session's source and times, and a chain the client's TLS
/// library gave (TLS 1.3 hides it from the wire; checked on its own).
fn comparable(record: &Value) -> Value {
    let mut record = record.clone();
    if let Some(tls) = record["cipherlens"]["tls"].as_object_mut()
        && tls.remove("certificate_source").is_some()
    {
        tls.insert("server_certificates".into(), Value::Array(Vec::new()));
        if let Some(server) = record["tls"]["server"].as_object_mut() {
            server.retain(|key, _| key == "ja3s");
        }
    }
    if let Some(cipherlens) = record["cipherlens"].as_object_mut() {
        cipherlens.remove("observation");
        cipherlens.remove("cnflow_id");
    }
    if let Some(top) = record.as_object_mut() {
        top.remove("host");
    }
    for endpoint in ["client", "server"] {
        if let Some(endpoint) = record[endpoint].as_object_mut() {
            for owner in ["process", "container", "k8s"] {
                endpoint.remove(owner);
            }
        }
    }
    let session = &mut record["cipherlens"]["session"];
    if let Some(session) = session.as_object_mut() {
        session.remove("source");
        session.remove("input");
        session.remove("emitted_on");
    }
    if let Some(event) = record["event"].as_object_mut() {
        event.remove("start");
        event.remove("end");
    }
    record
}

#[test]
fn live_records_match_the_clients_tshark_and_replay_of_a_parallel_capture() {
    let bed = TestBed::new("match");
    let link = &bed.link;
    let (leaf, ca) = big_chain(bed.dir());
    let dump = bed.tcpdump("veth.pcap");
    let sensor = bed.sensor(&[]);

    // TLS 1.2, a > 16 KiB chain in clear (continuation segments), IPv4.
    let tls12 = bed.s_server(&leaf, &["-cert_chain", &ca.cert]);
    let port_v4 = tls12.port;
    link.s_client(
        &format!("{}:{port_v4}", link.host_v4),
        "big.test",
        &["-tls1_2"],
    );
    // TLS 1.3 over IPv6, ALPN h2 from curl.
    let tls13 = bed.s_server_on(&link.host_v6, &leaf, &["-alpn", "h2,http/1.1"]);
    let port_v6 = tls13.port;
    // s_server -www does not speak HTTP/2: only the handshake matters, so
    // curl's exit status is not checked, and it gives up after 3 s.
    let _ = link
        .command("curl")
        .args([
            "-sk",
            "--max-time",
            "3",
            "--http2",
            "-o",
            "/dev/null",
            "--connect-to",
            &format!("h2.test:{port_v6}:[{}]:{port_v6}", link.host_v6),
            &format!("https://h2.test:{port_v6}/"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    // Python's ssl module, TLS 1.3, IPv4.
    link.python_handshake(port_v4, "python.test");
    // node's built-in TLS (its own statically linked OpenSSL), IPv4.
    link.client(
        "node",
        &[
            "-e",
            &format!(
                "const tls = require('tls');\n\
                 const s = tls.connect({{ host: '{}', port: {port_v4}, servername: 'node.test', rejectUnauthorized: false }},\n\
                 () => s.end());\n\
                 s.on('error', e => {{ console.error(e); process.exit(1); }});",
                link.host_v4
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, took) = sensor.stop();
    let pcap = dump.finish();
    assert!(took < Duration::from_secs(2), "exit took {took:?}");

    // Nothing lost, kernel or user side.
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(
        stats["events_dropped"],
        serde_json::json!({}),
        "stats: {stats}"
    );
    assert_eq!(records.len(), 4, "one record per handshake: {records:#?}");

    // What the clients were configured to send.
    let live = by_client_port(&records);
    let names: Vec<&str> = live
        .values()
        .map(|r| r["tls"]["client"]["server_name"].as_str().unwrap_or(""))
        .collect();
    for expected in ["big.test", "h2.test", "python.test", "node.test"] {
        assert!(
            names.contains(&expected),
            "SNI {expected} missing: {names:?}"
        );
    }
    for record in live.values() {
        assert_eq!(
            record["cipherlens"]["session"]["complete"], true,
            "{record}"
        );
        let sni = record["tls"]["client"]["server_name"]
            .as_str()
            .unwrap_or("");
        match sni {
            "big.test" => {
                assert_eq!(record["tls"]["protocol"]["version"], "1.2");
                let chain = record["cipherlens"]["tls"]["server_certificates"]
                    .as_array()
                    .expect("chain");
                assert_eq!(chain.len(), 2, "leaf and CA sent in clear");
                assert_eq!(chain[0]["subject"], "CN=big.test");
                assert_eq!(chain[1]["subject"], "CN=cipherlens e2e CA");
                // The kernel's view: the veth, and the server process by its socket.
                let seen = &record["cipherlens"]["observation"];
                assert_eq!(seen["interface"], link.host_interface.as_str(), "{seen}");
                assert_eq!(
                    seen["server_socket"]["pid"],
                    u64::from(tls12.pid()),
                    "the s_server process: {seen}"
                );
                assert!(
                    seen["client_socket"]["socket_cookie"].as_u64().is_some(),
                    "{seen}"
                );
            }
            "h2.test" => {
                assert_eq!(record["tls"]["protocol"]["version"], "1.3");
                // TLS 1.3 sends the chosen ALPN encrypted; what curl offers is in clear.
                assert_eq!(
                    record["cipherlens"]["tls"]["client_hello"]["alpn"],
                    serde_json::json!(["h2", "http/1.1"]),
                    "{record}"
                );
                assert_eq!(record["network"]["type"], "ipv6");
            }
            _ => {
                // Python and node against s_server on the big chain: TLS 1.3.
                assert_eq!(record["tls"]["protocol"]["version"], "1.3");
            }
        }
    }

    // tshark's JA3 of each ClientHello on the parallel capture.
    let tshark = tshark_fields(
        &pcap,
        "tls.handshake.type == 1",
        &[
            "tcp.srcport",
            "tls.handshake.ja3",
            "tls.handshake.extensions_server_name",
        ],
    );
    assert_eq!(tshark.len(), 4, "tshark hellos: {tshark:?}");
    for row in &tshark {
        let port: u64 = row[0].parse().expect("port");
        let record = live
            .get(&port)
            .unwrap_or_else(|| panic!("no live record for port {port}"));
        assert_eq!(
            record["tls"]["client"]["ja3"],
            row[1].as_str(),
            "JA3 for {port}"
        );
    }

    // Live equals replay of the same traffic, apart from fields only one source knows.
    let replayed = Command::new(sensor_binary())
        .arg("replay")
        .arg(&pcap)
        .output()
        .expect("replay");
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let replay_records: Vec<Value> = String::from_utf8_lossy(&replayed.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json"))
        .filter(|record| record["schema"] == "cipherlens.session/v1")
        .collect();
    let replay = by_client_port(&replay_records);
    assert_eq!(replay.len(), live.len());
    // A chain a client's TLS library gave is the server's, certificate by
    // certificate (SHA-256 of each, from openssl).
    for record in live.values() {
        let tls = &record["cipherlens"]["tls"];
        if tls["certificate_source"].is_null() {
            continue;
        }
        let expected: Vec<String> = match record["tls"]["client"]["server_name"].as_str() {
            Some("h2.test") => vec![leaf.sha256()],
            _ => vec![leaf.sha256(), ca.sha256()],
        };
        let seen: Vec<&str> = tls["server_certificates"]
            .as_array()
            .expect("chain")
            .iter()
            .filter_map(|certificate| certificate["fingerprint_sha256"].as_str())
            .collect();
        assert_eq!(seen, expected, "{}", tls["certificate_source"]);
    }
    for (port, record) in &live {
        let other = replay
            .get(port)
            .unwrap_or_else(|| panic!("replay lacks port {port}"));
        assert_eq!(
            comparable(record),
            comparable(other),
            "live vs replay for client port {port}"
        );
    }
}

#[test]
fn two_hundred_concurrent_handshakes_give_two_hundred_records() {
    let bed = TestBed::new("concurrent");
    let link = &bed.link;
    let server = bed.python_tls_server("many.test");
    let sensor = bed.sensor(&[]);
    link.client(
        "python3",
        &[
            "-c",
            &format!(
                "import asyncio, ssl\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 async def one(i):\n\
                 \x20   r, w = await asyncio.open_connection('{}', {}, ssl=ctx, server_hostname=f'c{{i}}.many.test')\n\
                 \x20   w.close(); await w.wait_closed()\n\
                 async def main():\n\
                 \x20   await asyncio.gather(*(one(i) for i in range(200)))\n\
                 asyncio.run(main())",
                link.host_v4, server.port
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(
        stats["events_dropped"],
        serde_json::json!({}),
        "stats: {stats}"
    );
    let names: std::collections::BTreeSet<String> = records
        .iter()
        .filter_map(|r| {
            r["tls"]["client"]["server_name"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(records.len(), 200, "records: {}", records.len());
    assert_eq!(names.len(), 200, "each configured SNI once");
    assert!(
        records
            .iter()
            .all(|r| r["cipherlens"]["session"]["complete"] == true)
    );
}
