//! Live capture end to end: real TC programs on a veth pair the test makes,
//! real TLS peers, expectations from outside the sensor (the clients'
//! configuration, tshark on a parallel tcpdump capture, and `replay` of that
//! capture for "live equals replay").
//!
//! Root only: these tests create network namespaces and load eBPF.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use cipherlens_integration::{
    Background, Cgroup, Link, Scratch, Sensor, Tcpdump, cnflow_records, free_port, free_udp_port,
    privileged, python_tls_server, run, self_signed, sensor_binary, signal, tshark_fields,
    tshark_fields_decoding, wait_exit,
};
use serde_json::Value;

/// One heavy test at a time: two cores, and tshark/tcpdump per test.
static SERIAL: Mutex<()> = Mutex::new(());

fn require_root() {
    assert!(
        privileged(),
        "these end-to-end tests need root (CAP_SYS_ADMIN): run the README's test command as root"
    );
}

/// A CA and a leaf whose DER exceeds 16 KiB (many SANs), for a chain that
/// spans several TCP segments.
fn make_big_chain(dir: &Path) -> (String, String, String) {
    let ca_key = dir.join("ca.key").display().to_string();
    let ca = dir.join("ca.pem").display().to_string();
    let key = dir.join("leaf.key").display().to_string();
    let csr = dir.join("leaf.csr").display().to_string();
    let leaf = dir.join("leaf.pem").display().to_string();
    let ext = dir.join("leaf.ext");
    let sans: Vec<String> = (0..700)
        .map(|i| format!("DNS:host{i:04}.big.test"))
        .collect();
    std::fs::write(&ext, format!("subjectAltName={}\n", sans.join(","))).expect("ext file");
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-subj",
            "/CN=cipherlens e2e CA",
            "-days",
            "2",
        ],
    );
    run(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=big.test",
        ],
    );
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &leaf,
            "-days",
            "2",
            "-extfile",
            &ext.display().to_string(),
        ],
    );
    (leaf, key, ca)
}

/// `openssl s_server` in the host namespace on `address:port`.
fn s_server(address: &str, port: u16, cert: &str, key: &str, extra: &[&str]) -> Background {
    let accept = if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    };
    let child = Command::new("openssl")
        .args([
            "s_server", "-accept", &accept, "-cert", cert, "-key", key, "-www", "-quiet",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    wait_listening(port);
    Background(child)
}

fn wait_listening(port: u16) {
    for _ in 0..100 {
        let listening = run("ss", &["-Hltn", &format!("sport = :{port}")]);
        if !listening.trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

/// Runs a client inside the link's namespace and requires success.
fn client(link: &Link, program: &str, args: &[&str]) {
    let output = link
        .command(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn s_client(link: &Link, connect: &str, server_name: &str, extra: &[&str]) {
    let mut args = vec!["s_client", "-connect", connect, "-servername", server_name];
    args.extend_from_slice(extra);
    let output = link
        .command("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("BEGIN CERTIFICATE") || text.contains("Server certificate"),
        "s_client {args:?}: {text}"
    );
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

/// The record without what only one source can know or when it was made.
/// A record without what only live capture can know: the kernel's
/// observation, the flow id, the node, and who owns the local sockets.
fn comparable(record: &Value) -> Value {
    let mut record = record.clone();
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
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("match");
    let link = Link::new();
    let (leaf, key, ca) = make_big_chain(&scratch.0);
    let dump = Tcpdump::start(&link.host_interface, &scratch.0.join("veth.pcap"));
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );

    // TLS 1.2, a > 16 KiB chain in clear (continuation segments), IPv4.
    let port_v4 = free_port();
    let tls12 = s_server(&link.host_v4, port_v4, &leaf, &key, &["-cert_chain", &ca]);
    s_client(
        &link,
        &format!("{}:{port_v4}", link.host_v4),
        "big.test",
        &["-tls1_2"],
    );
    // TLS 1.3 over IPv6, ALPN h2 from curl.
    let port_v6 = free_port();
    let _tls13 = s_server(
        &link.host_v6,
        port_v6,
        &leaf,
        &key,
        &["-alpn", "h2,http/1.1"],
    );
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
    client(
        &link,
        "python3",
        &[
            "-c",
            &format!(
                "import socket, ssl\n\
                 c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
                 s = c.wrap_socket(socket.create_connection(('{}', {port_v4})), server_hostname='python.test')\n\
                 s.close()",
                link.host_v4
            ),
        ],
    );
    // node's built-in TLS (its own statically linked OpenSSL), IPv4.
    client(
        &link,
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
                    u64::from(tls12.0.id()),
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
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    let replay = by_client_port(&replay_records);
    assert_eq!(replay.len(), live.len());
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
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("concurrent");
    let link = Link::new();
    let (cert, key) = self_signed(&scratch.0, "many.test");
    let port = free_port();
    let _server = python_tls_server(&link.host_v4, port, &cert, &key);
    wait_listening(port);
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    client(
        &link,
        "python3",
        &[
            "-c",
            &format!(
                "import asyncio, ssl\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 async def one(i):\n\
                 \x20   r, w = await asyncio.open_connection('{}', {port}, ssl=ctx, server_hostname=f'c{{i}}.many.test')\n\
                 \x20   w.close(); await w.wait_closed()\n\
                 async def main():\n\
                 \x20   await asyncio.gather(*(one(i) for i in range(200)))\n\
                 asyncio.run(main())",
                link.host_v4
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

/// TCX links of our programs, as bpftool sees them.
fn our_links() -> usize {
    let programs: Value =
        serde_json::from_str(&run("bpftool", &["-j", "prog", "list"])).expect("bpftool json");
    let ours: Vec<&Value> = programs
        .as_array()
        .expect("program list")
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("cipherlens_tc_"))
        })
        .map(|p| &p["id"])
        .collect();
    let links: Value =
        serde_json::from_str(&run("bpftool", &["-j", "link", "list"])).expect("bpftool json");
    links
        .as_array()
        .expect("link list")
        .iter()
        .filter(|link| ours.contains(&&link["prog_id"]))
        .count()
}

#[test]
fn signals_detach_everything_and_a_restart_after_kill_9_works() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("lifecycle");
    let link = Link::new();
    let before = our_links();

    // SIGTERM: exits within 2 s and leaves no links.
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    assert_eq!(our_links(), before + 2, "ingress and egress attached once");
    let mut child = sensor_child(sensor);
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(2)).expect("exit within 2 s of SIGTERM");
    assert!(status.success());
    assert_eq!(our_links(), before, "nothing left after SIGTERM");

    // kill -9: the links are the process's, so they go with it; a restart
    // attaches once, not twice.
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    let mut child = sensor_child(sensor);
    signal(&child, "KILL");
    let _ = wait_exit(&mut child, Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(our_links(), before, "nothing left after kill -9");
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    assert_eq!(our_links(), before + 2);
    let (_, stats, _) = sensor.stop();
    assert_eq!(
        stats["interfaces_attached"],
        serde_json::json!([link.host_interface])
    );
    assert_eq!(our_links(), before);
}

/// Our netlink filters on `interface`, ingress and egress, as tc(8) sees them.
fn our_netlink_filters(interface: &str) -> usize {
    ["ingress", "egress"]
        .iter()
        .map(|hook| {
            let listing: Value = serde_json::from_str(&run(
                "tc",
                &["-j", "filter", "show", "dev", interface, hook],
            ))
            .unwrap_or(Value::Array(Vec::new()));
            listing
                .as_array()
                .map(|filters| {
                    filters
                        .iter()
                        .filter(|f| {
                            f["options"]["bpf_name"]
                                .as_str()
                                .is_some_and(|n| n.starts_with("cipherlens_tc_"))
                        })
                        .count()
                })
                .unwrap_or(0)
        })
        .sum()
}

/// Kernels before 6.6 have no TCX: the sensor then attaches netlink clsact
/// filters, which outlive a killed process. Forced here with
/// `--attach-mode netlink`, the path is exercised on this kernel too.
#[test]
fn netlink_filters_capture_and_are_cleaned_up_even_after_kill_9() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("netlink-mode");
    let link = Link::new();
    let netlink = ["--attach-mode", "netlink"];
    let interface = link.host_interface.clone();
    assert_eq!(our_netlink_filters(&interface), 0);

    // Killed: its filters stay behind...
    let sensor = Sensor::start(&scratch.0, &[&interface], &interface, &netlink);
    assert_eq!(our_netlink_filters(&interface), 2, "ingress and egress");
    let mut child = sensor_child(sensor);
    signal(&child, "KILL");
    let _ = wait_exit(&mut child, Duration::from_secs(2));
    assert_eq!(
        our_netlink_filters(&interface),
        2,
        "netlink filters outlive kill -9"
    );

    // ...and the next start replaces them instead of adding a second pair.
    let sensor = Sensor::start(&scratch.0, &[&interface], &interface, &netlink);
    assert_eq!(our_netlink_filters(&interface), 2, "one pair, not two");

    // The data path works through netlink filters too.
    let (cert, key) = self_signed(&scratch.0, "netlink.test");
    let port = free_port();
    let server = s_server(&link.host_v4, port, &cert, &key, &[]);
    s_client(
        &link,
        &format!("{}:{port}", link.host_v4),
        "via-netlink.test",
        &[],
    );
    drop(server);
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["attach_mode"], "netlink", "stats: {stats}");
    assert_eq!(stats["stale_filters_removed"], 2, "stats: {stats}");
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert!(
        records
            .iter()
            .any(|r| r["tls"]["client"]["server_name"] == "via-netlink.test"),
        "records: {records:?}"
    );
    assert_eq!(
        our_netlink_filters(&interface),
        0,
        "nothing left after SIGINT"
    );
}

fn sensor_child(mut sensor: Sensor) -> std::process::Child {
    sensor.child.take().expect("running")
}

#[test]
fn a_new_interface_is_attached_within_a_second_and_a_vanished_one_forgotten() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("hotplug");
    let first = Link::new();
    let sensor = Sensor::start(&scratch.0, &["clv*"], &first.host_interface, &[]);
    let second = Link::new();
    let appeared = std::time::Instant::now();
    sensor.wait_for_log(
        &format!("interface={} ", second.host_interface),
        Duration::from_secs(1),
    );
    assert!(appeared.elapsed() < Duration::from_secs(1));
    let name = second.host_interface.clone();
    drop(second);
    sensor.wait_for_log(
        &format!("interface gone; its links dropped interface={name}"),
        Duration::from_secs(2),
    );
    let (_, stats, _) = sensor.stop();
    let attached = stats["interfaces_attached"].as_array().expect("list");
    assert!(!attached.iter().any(|n| n == &Value::from(name.clone())));
}

#[test]
fn without_privileges_it_refuses_and_names_the_capability() {
    require_root();
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(sensor_binary())
        .arg("live")
        .output()
        .expect("setpriv");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CAP_BPF") && stderr.contains("CAP_NET_ADMIN"),
        "{stderr}"
    );
}

#[test]
fn a_quic_handshake_from_aioquic_is_recorded_like_tshark_sees_it() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("quic");
    let link = Link::new();
    let (cert, key) = self_signed(&scratch.0, "quic.test");
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fixtures/quic_peer.py");
    let peer = peer.display().to_string();
    let port = free_udp_port().to_string();
    let dump = Tcpdump::start(&link.host_interface, &scratch.0.join("quic.pcap"));
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
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
            &cert,
            "--key",
            &key,
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("aioquic server");
    let mut server = Background(server);
    {
        // Wait for "listening".
        use std::io::BufRead;
        let stdout = server.0.stdout.take().expect("server stdout");
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        assert!(line.contains("listening"), "aioquic server: {line}");
    }
    client(
        &link,
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

#[test]
fn a_post_quantum_client_hello_over_two_segments_is_recorded_whole() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("pq");
    let link = Link::new();
    let (cert, key) = self_signed(&scratch.0, "pq.test");
    let port = free_port();
    let _server = s_server(&link.host_v4, port, &cert, &key, &[]);
    let dump = Tcpdump::start(&link.host_interface, &scratch.0.join("pq.pcap"));
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    // rustls's hello with ALPN is about 1,460 bytes, just over one 1,448-byte
    // segment; a long (valid) server name keeps it well over, as browsers' are.
    let server_name = format!(
        "{}.{}.{}.pq.test",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60)
    );
    client(
        &link,
        env!("CARGO_BIN_EXE_pq-client"),
        &[&link.host_v4, &port.to_string(), &server_name],
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
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("ipv6-ext");
    let link = Link::new();
    let (cert, key) = self_signed(&scratch.0, "ext.test");
    let port = free_port();
    let _server = s_server(&link.host_v6, port, &cert, &key, &[]);
    let dump = Tcpdump::start(&link.host_interface, &scratch.0.join("ext.pcap"));
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    // Each header: next header (filled by the kernel), length 0 (8 bytes),
    // then one PadN option of 4 zero bytes (RFC 8200 section 4.2).
    client(
        &link,
        "python3",
        &[
            "-c",
            &format!(
                "import socket, ssl\n\
                 pad = bytes([0, 0, 1, 4, 0, 0, 0, 0])\n\
                 s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n\
                 s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, pad)\n\
                 s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, pad)\n\
                 s.connect(('{}', {port}))\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 t = ctx.wrap_socket(s, server_hostname='options.ext.test')\n\
                 t.close()",
                link.host_v6
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

/// A client that reuses its port for a second connection (busy clients and
/// NATs do) gets a record for each: the first flow's "done" mark in the
/// kernel must not hide the second.
#[test]
fn a_reused_client_port_gives_a_record_per_connection() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("port-reuse");
    let link = Link::new();
    let (cert, key) = self_signed(&scratch.0, "reuse.test");
    let port = free_port();
    // The server closes first, so the TIME_WAIT is on its side and the
    // client may bind the same port again at once.
    let server = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl\n\
                 ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{cert}', '{key}')\n\
                 s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('{}', {port})); s.listen(8)\n\
                 for _ in range(2):\n\
                 \x20   c, _ = s.accept()\n\
                 \x20   t = ctx.wrap_socket(c, server_side=True)\n\
                 \x20   t.close()",
                link.host_v4
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python server");
    let _server = Background(server);
    wait_listening(port);
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[],
    );
    let client_port = free_port();
    let connect = |name: &str| {
        client(
            &link,
            "python3",
            &[
                "-c",
                &format!(
                    "import socket, ssl\n\
                     ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                     s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                     s.bind(('{client}', {client_port})); s.connect(('{host}', {port}))\n\
                     t = ctx.wrap_socket(s, server_hostname='{name}')\n\
                     while t.recv(100): pass\n\
                     t.close()",
                    client = link.client_v4,
                    host = link.host_v4
                ),
            ],
        )
    };
    // The sensor is paused during the first connection, so it reads the
    // whole connection, close included, at once and marks the flow done
    // after the kernel saw the FINs: only the second connection's SYN can
    // then clear the kernel's entry (the race a busy node hits).
    let running = sensor.child.as_ref().expect("running");
    signal(running, "STOP");
    connect("first.reuse.test");
    signal(running, "CONT");
    std::thread::sleep(Duration::from_millis(300));
    connect("second.reuse.test");
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let names: Vec<(&Value, &Value)> = records
        .iter()
        .map(|r| (&r["client"]["port"], &r["tls"]["client"]["server_name"]))
        .collect();
    assert_eq!(
        names,
        vec![
            (&Value::from(client_port), &Value::from("first.reuse.test")),
            (&Value::from(client_port), &Value::from("second.reuse.test")),
        ]
    );
}

/// Process, container and pod attribution from real cgroups named the way
/// the runtimes name them: clients in a containerd/Kubernetes cgroup (v2,
/// systemd driver), a CRI-O/Kubernetes cgroup (v1, cgroupfs driver) and a
/// podman cgroup (v2), the server in a docker cgroup (v1); pod names from a
/// kubelet-style log directory.
#[test]
fn sessions_are_attributed_to_process_container_and_pod() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for hierarchy in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids"] {
        assert!(
            Path::new(hierarchy).join("cgroup.procs").exists(),
            "this test needs the hybrid cgroup layout of the CI machine: {hierarchy}"
        );
    }
    let scratch = Scratch::new("attribution");
    let link = Link::new();
    let unique = format!("{:08x}", std::process::id());
    let client_id = format!("{unique}{}", "c".repeat(56));
    let server_id = format!("{unique}{}", "d".repeat(56));
    let pod_uid = format!("{unique}-1b2d-4c8e-9f00-123456789abc");
    let client_cgroup = Cgroup::create(
        "/sys/fs/cgroup/unified",
        &format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{client_id}.scope",
            pod_uid.replace('-', "_")
        ),
    );
    let server_cgroup = Cgroup::create("/sys/fs/cgroup/pids", &format!("docker/{server_id}"));
    // The kubelet's layout: /var/log/pods/<ns>_<pod>_<uid>/<container>/,
    // /var/log/containers/<pod>_<ns>_<container>-<id>.log.
    let pods = scratch.0.join("pods");
    let containers = scratch.0.join("containers");
    std::fs::create_dir_all(pods.join(format!("shop_checkout-7d4b9c-xk2lp_{pod_uid}/payments")))
        .expect("pod dir");
    std::fs::create_dir_all(pods.join(format!("shop_checkout-7d4b9c-xk2lp_{pod_uid}/istio-proxy")))
        .expect("pod dir");
    std::fs::create_dir_all(&containers).expect("containers dir");
    std::os::unix::fs::symlink(
        pods.join(format!(
            "shop_checkout-7d4b9c-xk2lp_{pod_uid}/payments/0.log"
        )),
        containers.join(format!(
            "checkout-7d4b9c-xk2lp_shop_payments-{client_id}.log"
        )),
    )
    .expect("log link");

    let (cert, key) = self_signed(&scratch.0, "attributed.test");
    let port = free_port();
    let server = s_server(&link.host_v4, port, &cert, &key, &[]);
    server_cgroup.add(server.0.id());
    let pods_arg = pods.display().to_string();
    let containers_arg = containers.display().to_string();
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[
            "--pods-log-dir",
            &pods_arg,
            "--containers-log-dir",
            &containers_arg,
        ],
    );
    // The interpreter's own word for where it is (`python3` may be a
    // wrapper script, e.g. pyenv's shim), run by that path.
    let python = run(
        "python3",
        &[
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ],
    );
    // A client that waits on stdin until it is in its cgroup; its pid.
    let run_client_in = |cgroup: &Cgroup, server_name: &str| -> u32 {
        let mut client = link
            .command(python.trim())
            .args([
                "-c",
                &format!(
                    "import socket, ssl, sys\n\
                     sys.stdin.readline()\n\
                     ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                     s = socket.create_connection(('{}', {port}))\n\
                     t = ctx.wrap_socket(s, server_hostname='{server_name}')\n\
                     t.close()",
                    link.host_v4
                ),
                "--marker-argument",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("python client");
        cgroup.add(client.id());
        {
            use std::io::Write;
            let mut stdin = client.stdin.take().expect("stdin");
            stdin.write_all(b"go\n").expect("go");
        }
        let pid = client.id();
        assert!(client.wait().expect("client").success());
        pid
    };
    // CRI-O with the kubelet's cgroupfs driver, on a v1 hierarchy; its pod
    // has one container, so the log directory names it without links.
    let crio_id = format!("{unique}{}", "e".repeat(56));
    let crio_pod = format!("{unique}-2222-4c8e-9f00-123456789abc");
    let crio_cgroup = Cgroup::create(
        "/sys/fs/cgroup/pids",
        &format!("kubepods/besteffort/pod{crio_pod}/crio-{crio_id}"),
    );
    std::fs::create_dir_all(pods.join(format!("batch_worker-0_{crio_pod}/worker")))
        .expect("pod dir");
    // podman with the systemd driver, on the unified hierarchy.
    let podman_id = format!("{unique}{}", "f".repeat(56));
    let podman_cgroup = Cgroup::create(
        "/sys/fs/cgroup/unified",
        &format!("machine.slice/libpod-{podman_id}.scope"),
    );

    let client_pid = run_client_in(&client_cgroup, "attributed.test");
    run_client_in(&crio_cgroup, "crio.attributed.test");
    run_client_in(&podman_cgroup, "podman.attributed.test");
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(records.len(), 3, "{records:#?}");
    let by_name = |name: &str| {
        records
            .iter()
            .find(|r| r["tls"]["client"]["server_name"] == name)
            .unwrap_or_else(|| panic!("no record for {name}"))
    };
    let crio = &by_name("crio.attributed.test")["client"];
    assert_eq!(
        crio["container"],
        serde_json::json!({"id": crio_id, "runtime": "crio"})
    );
    assert_eq!(
        crio["k8s"],
        serde_json::json!({
            "pod": {"uid": crio_pod, "name": "worker-0"},
            "namespace": {"name": "batch"},
            "container": {"name": "worker"},
        })
    );
    let podman = &by_name("podman.attributed.test")["client"];
    assert_eq!(
        podman["container"],
        serde_json::json!({"id": podman_id, "runtime": "podman"})
    );
    assert!(podman.get("k8s").is_none(), "{podman}");
    let record = by_name("attributed.test");

    let process = &record["client"]["process"];
    assert_eq!(process["pid"], client_pid, "{record}");
    let python = Path::new(python.trim());
    assert_eq!(
        process["executable"]["path"],
        python.to_str().expect("path")
    );
    assert!(
        process["command_line"]
            .as_str()
            .is_some_and(|line| line.ends_with("--marker-argument")),
        "{process}"
    );
    assert_eq!(
        process["user"],
        serde_json::json!({"id": 0, "name": "root"})
    );
    assert_eq!(
        record["client"]["container"],
        serde_json::json!({"id": client_id, "runtime": "containerd"})
    );
    assert_eq!(
        record["client"]["k8s"],
        serde_json::json!({
            "pod": {"uid": pod_uid, "name": "checkout-7d4b9c-xk2lp"},
            "namespace": {"name": "shop"},
            "container": {"name": "payments"},
        })
    );
    assert_eq!(record["server"]["process"]["pid"], server.0.id());
    assert_eq!(
        record["server"]["container"],
        serde_json::json!({"id": server_id, "runtime": "docker"})
    );
    assert!(record["server"].get("k8s").is_none(), "{record}");
    let node = run("uname", &["-n"]);
    assert_eq!(record["host"]["name"], node.trim());
}

/// Packets and wire bytes per direction of one TCP flow, as tshark counts
/// them in a capture: (client -> server, server -> client).
fn tshark_flow_counts(pcap: &Path, client_port: u64) -> ([u64; 2], [u64; 2]) {
    let rows = tshark_fields(
        pcap,
        &format!("tcp.port == {client_port}"),
        &["tcp.srcport", "frame.len"],
    );
    let mut packets = [0u64; 2];
    let mut bytes = [0u64; 2];
    for row in rows {
        let direction = usize::from(row[0] != client_port.to_string());
        packets[direction] += 1;
        bytes[direction] += row[1].parse::<u64>().expect("frame.len");
    }
    (packets, bytes)
}

/// CNFlow records against tshark's counts of a parallel capture, tied to
/// their TLS session records, attributed, and updated while a flow lasts.
#[test]
fn cnflow_records_count_like_tshark_and_tie_to_sessions() {
    require_root();
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = Scratch::new("cnflow");
    let link = Link::new();
    let (cert, key) = self_signed(&scratch.0, "flows.test");
    let port = free_port();
    let server = s_server(&link.host_v4, port, &cert, &key, &[]);
    let dump = Tcpdump::start(&link.host_interface, &scratch.0.join("flows.pcap"));
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[
            "--cnflow-scan-interval",
            "1",
            "--cnflow-report-interval",
            "1",
        ],
    );
    // A short flow with data both ways: curl fetches s_server's status page.
    client(
        &link,
        "curl",
        &[
            "-sk",
            "-o",
            "/dev/null",
            "--resolve",
            &format!("flows.test:{port}:{}", link.host_v4),
            &format!("https://flows.test:{port}/"),
        ],
    );
    // A flow that lasts over three seconds: update records, then its end.
    // Half-way, quiet, the client asks `ss` for its socket's tcp_info.
    let long_client = link
        .command("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl, subprocess, time\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 s = socket.create_connection(('{}', {port}))\n\
                 t = ctx.wrap_socket(s, server_hostname='long.flows.test')\n\
                 time.sleep(1.5)\n\
                 port = t.getsockname()[1]\n\
                 print(subprocess.run(['ss', '-tinH', 'sport', '=', f':{{port}}'], capture_output=True, text=True).stdout)\n\
                 time.sleep(2)\n\
                 t.close()",
                link.host_v4
            ),
        ])
        .output()
        .expect("long client");
    assert!(
        long_client.status.success(),
        "{}",
        String::from_utf8_lossy(&long_client.stderr)
    );
    let ss = String::from_utf8_lossy(&long_client.stdout).into_owned();
    std::thread::sleep(Duration::from_millis(2500));
    let (sessions, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let flows = cnflow_records(&scratch.0);
    let session = |name: &str| {
        sessions
            .iter()
            .find(|s| s["tls"]["client"]["server_name"] == name)
            .unwrap_or_else(|| panic!("no session for {name}: {sessions:#?}"))
    };

    // The curl flow: its end record, counted like tshark counts the capture.
    let curl = session("flows.test");
    let curl_port = curl["client"]["port"].as_u64().expect("port");
    let ends: Vec<&Value> = flows
        .iter()
        .filter(|f| f["client"]["port"] == curl_port && f["event"]["reason"] == "end")
        .collect();
    assert_eq!(ends.len(), 1, "one end record: {flows:#?}");
    let flow = ends[0];
    let (packets, bytes) = tshark_flow_counts(&pcap, curl_port);
    let c2s = &flow["cnflow"]["client_to_server"];
    let s2c = &flow["cnflow"]["server_to_client"];
    assert_eq!(
        [c2s["packets"].as_u64(), s2c["packets"].as_u64()],
        packets.map(Some),
        "{flow}"
    );
    assert_eq!(
        [c2s["bytes"].as_u64(), s2c["bytes"].as_u64()],
        bytes.map(Some),
        "{flow}"
    );
    assert_eq!(flow["cnflow"]["opening_seen"], true);
    for direction in [c2s, s2c] {
        let flags = direction["tcp_flags"].as_str().expect("flags");
        assert!(
            flags.contains('S') && flags.contains('A') && flags.contains('F'),
            "{flow}"
        );
    }
    assert_eq!(flow["server"]["port"], port);
    assert_eq!(
        flow["network"]["community_id"],
        curl["network"]["community_id"]
    );
    assert_eq!(
        curl["cipherlens"]["cnflow_id"], flow["cnflow"]["id"],
        "the session points to its flow"
    );
    assert_eq!(
        flow["client"]["process"]["executable"]["name"], "curl",
        "{flow}"
    );
    assert_eq!(flow["server"]["process"]["pid"], server.0.id(), "{flow}");
    assert_eq!(
        flow["network"]["interface"]["name"],
        link.host_interface.as_str()
    );

    // The long flow: updates with one id and growing times, then its end.
    let long = session("long.flows.test");
    let long_port = long["client"]["port"].as_u64().expect("port");
    let records: Vec<&Value> = flows
        .iter()
        .filter(|f| f["client"]["port"] == long_port)
        .collect();
    let updates = records
        .iter()
        .filter(|f| f["event"]["reason"] == "update")
        .count();
    assert!(
        updates >= 2,
        "updates every second of a 3.5 s flow: {records:#?}"
    );
    assert_eq!(
        records.last().map(|f| &f["event"]["reason"]),
        Some(&Value::from("end"))
    );
    let ids: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|f| f["cnflow"]["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one id for the flow's life");
    assert_eq!(long["cipherlens"]["cnflow_id"], records[0]["cnflow"]["id"]);
    // TCP metrics of the client's socket (in its own namespace) equal what
    // `ss` read from the kernel while the flow was quiet.
    let ss_value = |name: &str| -> f64 {
        ss.split_whitespace()
            .find_map(|field| field.strip_prefix(&format!("{name}:")))
            .and_then(|value| value.split('/').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("ss shows no {name}: {ss}"))
    };
    let update = records
        .iter()
        .rev()
        .find(|f| f["event"]["reason"] == "update")
        .expect("an update");
    let tcp = &update["cnflow"]["tcp"];
    assert_eq!(tcp["observed_at"], "client", "{update}");
    assert_eq!(tcp["state"], "established");
    assert_eq!(
        tcp["segments_out"].as_f64(),
        Some(ss_value("segs_out")),
        "{tcp} vs {ss}"
    );
    assert_eq!(
        tcp["segments_in"].as_f64(),
        Some(ss_value("segs_in")),
        "{tcp} vs {ss}"
    );
    let rtt_ms = tcp["rtt_us"].as_f64().expect("rtt") / 1000.0;
    assert!((rtt_ms - ss_value("rtt")).abs() < 0.001, "{tcp} vs {ss}");
    assert!(
        stats["cnflow_records"]["end"].as_u64() >= Some(2),
        "{stats}"
    );
}
