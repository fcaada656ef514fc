//! A connection's end and the next connection on its 4-tuple: each gets a
//! record, also when the kernel's view of the first one's end was wrong or
//! lost (a reused client port, a retransmitted FIN, an evicted handshake
//! entry, a counters entry deleted mid-handshake). Entries are taken away
//! with bpftool, as an LRU eviction or a scan would.

use std::process::{Command, Stdio};
use std::time::Duration;

use cipherlens_common::{FLOW_COUNTERS_MAP, FLOWS_MAP, FlowCounters, FlowKey, FlowState};
use cipherlens_integration::{
    Background, Certificate, Link, TestBed, free_port, signal, wait_listening,
};
use serde_json::Value;

/// A client that reuses its port for a second connection (busy clients and
/// NATs do) gets a record for each: the first flow's "done" mark in the
/// kernel must not hide the second.
#[test]
fn a_reused_client_port_gives_a_record_per_connection() {
    let bed = TestBed::new("port-reuse");
    let link = &bed.link;
    let Certificate { cert, key } = bed.certificate("reuse.test");
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
    let sensor = bed.sensor(&[]);
    let client_port = free_port();
    let connect = |name: &str| {
        link.client(
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
    assert_records_in_order(
        &records,
        client_port,
        &["first.reuse.test", "second.reuse.test"],
    );
}

/// A FIN sent twice (a retransmission) before the peer's FIN must not count
/// as both sides closing: the kernel would drop the flow's entry and the
/// peer's FIN with it, the session would stay open in user space, and the
/// next connection on the 4-tuple (whose SYN then finds no entry) would be
/// taken for a packet of the old one and go unrecorded.
#[test]
fn a_retransmitted_fin_does_not_close_both_sides() {
    let bed = TestBed::new("fin-twice");
    let link = &bed.link;
    let port = free_port();
    let client_port = free_port();
    // The first connection's close is preceded by a copy of the server's
    // FIN: a raw TCP FIN on the same 4-tuple, sent once the sensor has
    // marked the flow done. Its sequence number is off, so the client's
    // stack ignores it; the sensor sees two FINs from the server, as it
    // does when a FIN is retransmitted.
    let _server = closing_server(&bed, "fin.test", port, true);
    let sensor = bed.sensor(&[]);
    let connect = |name: &str| {
        let output = paced_client(link, client_port, port, name, 0.3)
            .output()
            .expect("python client");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    connect("first.fin.test");
    std::thread::sleep(Duration::from_millis(300));
    connect("second.fin.test");
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    // The first session was marked done before its close: the premise.
    assert!(stats["flows_marked_done"].as_u64() >= Some(1), "{stats}");
    assert_records_in_order(
        &records,
        client_port,
        &["first.fin.test", "second.fin.test"],
    );
}

/// A connection whose close the sensor never saw (its kernel entry was
/// evicted before its FINs, as an LRU does under pressure; here deleted
/// with bpftool) leaves a recorded session open in user space. The next
/// connection on the 4-tuple finds no entry, so its SYN is not sent: its
/// ClientHello, flagged by the kernel as opening the flow, must replace the
/// old session rather than be taken for a late packet of it.
#[test]
fn a_new_connection_after_an_unseen_close_is_recorded() {
    let bed = TestBed::new("unseen-close");
    let link = &bed.link;
    let port = free_port();
    let client_port = free_port();
    let _server = closing_server(&bed, "unseen.test", port, false);
    let sensor = bed.sensor(&[]);
    let client = |name: &str, pause: f64| {
        paced_client(link, client_port, port, name, pause)
            .spawn()
            .expect("python client")
    };
    // The first connection holds still after its handshake; meanwhile the
    // sensor marks its flow done and the entry is taken away.
    let mut first = client("first.unseen.test", 1.5);
    std::thread::sleep(Duration::from_millis(800));
    let evicted = delete_entries(sensor.pid(), FLOWS_MAP, size_of::<FlowState>(), client_port);
    assert_eq!(evicted, 1, "the first connection's kernel entry");
    assert!(first.wait().expect("first client").success());
    std::thread::sleep(Duration::from_millis(300));
    let mut second = client("second.unseen.test", 0.1);
    assert!(second.wait().expect("second client").success());
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_records_in_order(
        &records,
        client_port,
        &["first.unseen.test", "second.unseen.test"],
    );
    assert_eq!(stats["pipeline"]["flows_replaced_unseen_end"], 1, "{stats}");
}

/// A flow's counters entry can vanish mid-handshake (a CNFlow scan ends the
/// 4-tuple's previous connection, whose entry the new one reuses; or the
/// LRU evicts it) and the next packet makes a fresh one. That packet and
/// the rest of the handshake must still be copied, though they do not
/// start with a handshake record: here the client's Finished, sent after
/// the entry was deleted (with bpftool) while the client held it back.
#[test]
fn a_handshake_goes_on_being_copied_when_its_counters_entry_is_gone() {
    let bed = TestBed::new("counters-gone");
    let link = &bed.link;
    let server = bed.s_server(&bed.certificate("gone.test"), &[]);
    let sensor = bed.sensor(&[]);
    let client_port = free_port();
    // The handshake driven by hand (memory BIOs), so the client's last
    // flight can wait.
    let client = link
        .command("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl, time\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 ctx.maximum_version = ssl.TLSVersion.TLSv1_3\n\
                 incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()\n\
                 tls = ctx.wrap_bio(incoming, outgoing, server_hostname='late.gone.test')\n\
                 s = socket.socket(); s.bind(('{client}', {client_port})); s.connect(('{host}', {port}))\n\
                 waited = False\n\
                 while True:\n\
                 \x20   try:\n\
                 \x20       tls.do_handshake(); done = True\n\
                 \x20   except ssl.SSLWantReadError:\n\
                 \x20       done = False\n\
                 \x20   data = outgoing.read()\n\
                 \x20   if data and tls.cipher() is not None and not waited:\n\
                 \x20       time.sleep(1.0); waited = True\n\
                 \x20   if data: s.sendall(data)\n\
                 \x20   if done: break\n\
                 \x20   incoming.write(s.recv(65536))\n\
                 time.sleep(0.3)\n\
                 s.close()",
                client = link.client_v4,
                host = link.host_v4,
                port = server.port
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python client");
    std::thread::sleep(Duration::from_millis(600));
    let deleted = delete_entries(
        sensor.pid(),
        FLOW_COUNTERS_MAP,
        size_of::<FlowCounters>(),
        client_port,
    );
    assert_eq!(deleted, 1, "the flow's counters entry");
    let output = client.wait_with_output().expect("python client");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(record["tls"]["client"]["server_name"], "late.gone.test");
    assert_eq!(
        record["cipherlens"]["session"]["complete"], true,
        "{record}"
    );
    assert_eq!(
        record["cipherlens"]["session"]["emitted_on"], "handshake_finished",
        "{record}"
    );
}

/// One record per connection, in order, each from `client_port` with its
/// server name.
fn assert_records_in_order(records: &[Value], client_port: u16, names: &[&str]) {
    let found: Vec<(Value, Value)> = records
        .iter()
        .map(|r| {
            (
                r["client"]["port"].clone(),
                r["tls"]["client"]["server_name"].clone(),
            )
        })
        .collect();
    let expected: Vec<(Value, Value)> = names
        .iter()
        .map(|name| (Value::from(client_port), Value::from(*name)))
        .collect();
    assert_eq!(found, expected);
}

/// A Python TLS server on the host end for two connections, each closed by
/// the server first (its TIME_WAIT leaves the client free to bind its port
/// again) once the client has sent a byte; with `copy_fin`, a raw FIN on
/// the first connection's 4-tuple goes just before that close.
fn closing_server(bed: &TestBed, name: &str, port: u16, copy_fin: bool) -> Background {
    let Certificate { cert, key } = bed.certificate(name);
    let host = &bed.link.host_v4;
    let server = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl, struct\n\
                 def checksum(data):\n\
                 \x20   data += b'\\0' * (len(data) % 2)\n\
                 \x20   total = sum(struct.unpack('!%dH' % (len(data) // 2), data))\n\
                 \x20   while total >> 16: total = (total & 0xFFFF) + (total >> 16)\n\
                 \x20   return ~total & 0xFFFF\n\
                 def fin(source, destination):\n\
                 \x20   header = struct.pack('!HHIIBBHHH', source[1], destination[1], 1, 1, 5 << 4, 0x11, 512, 0, 0)\n\
                 \x20   pseudo = socket.inet_aton(source[0]) + socket.inet_aton(destination[0]) + struct.pack('!BBH', 0, 6, len(header))\n\
                 \x20   header = header[:16] + struct.pack('!H', checksum(pseudo + header)) + header[18:]\n\
                 \x20   raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)\n\
                 \x20   raw.sendto(header, (destination[0], 0))\n\
                 ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{cert}', '{key}')\n\
                 s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('{host}', {port})); s.listen(8)\n\
                 for round in range(2):\n\
                 \x20   c, peer = s.accept()\n\
                 \x20   t = ctx.wrap_socket(c, server_side=True)\n\
                 \x20   t.recv(1)\n\
                 \x20   if {copy} and round == 0: fin(('{host}', {port}), peer)\n\
                 \x20   t.close()",
                copy = if copy_fin { "True" } else { "False" },
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python server");
    let server = Background(server);
    wait_listening(port);
    server
}

/// A Python TLS client in the namespace, bound to `client_port`: it
/// completes a handshake with `name`, waits `pause` seconds, sends a byte
/// and reads until the server closes.
fn paced_client(link: &Link, client_port: u16, port: u16, name: &str, pause: f64) -> Command {
    let mut command = link.command("python3");
    command
        .args([
            "-c",
            &format!(
                "import socket, ssl, time\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('{client}', {client_port})); s.connect(('{host}', {port}))\n\
                 t = ctx.wrap_socket(s, server_hostname='{name}')\n\
                 time.sleep({pause})\n\
                 t.send(b'x')\n\
                 while t.recv(100): pass\n\
                 t.close()",
                client = link.client_v4,
                host = link.host_v4
            ),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Deletes the entries of flows with `port` at either end from the sensor
/// `pid`'s map `name` (a [`FlowKey`] map whose values have `value_size`
/// bytes; found through the process's file descriptors); returns how many
/// went.
fn delete_entries(pid: u32, name: &str, value_size: usize, port: u16) -> usize {
    let mut deleted = 0;
    for id in map_ids(pid) {
        let shown: Value = bpftool(&["map", "show", "id", &id]);
        let sizes = (shown["bytes_key"].as_u64(), shown["bytes_value"].as_u64());
        let wanted = (Some(size_of::<FlowKey>() as u64), Some(value_size as u64));
        // The kernel keeps 15 characters of a map's name.
        if !name.starts_with(shown["name"].as_str().unwrap_or("-")) || sizes != wanted {
            continue;
        }
        let entries: Value = bpftool(&["map", "dump", "id", &id]);
        for entry in entries.as_array().into_iter().flatten() {
            let bytes: Vec<u8> = entry["key"]
                .as_array()
                .expect("raw key bytes")
                .iter()
                .map(|b| {
                    let hex = b.as_str().unwrap_or("").trim_start_matches("0x");
                    u8::from_str_radix(hex, 16).expect("hex byte")
                })
                .collect();
            // low_port and high_port, native order, after the two addresses.
            let ports = [
                u16::from_ne_bytes([bytes[32], bytes[33]]),
                u16::from_ne_bytes([bytes[34], bytes[35]]),
            ];
            if ports.contains(&port) {
                let mut args = vec![
                    "map".to_string(),
                    "delete".into(),
                    "id".into(),
                    id.clone(),
                    "key".into(),
                ];
                args.extend(bytes.iter().map(|b| b.to_string()));
                let status = Command::new("bpftool")
                    .args(&args)
                    .status()
                    .expect("bpftool");
                assert!(status.success(), "bpftool {args:?}");
                deleted += 1;
            }
        }
    }
    deleted
}

/// The ids of the BPF maps process `pid` holds.
fn map_ids(pid: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).expect("fdinfo") {
        let Ok(text) = std::fs::read_to_string(entry.expect("fdinfo entry").path()) else {
            continue;
        };
        ids.extend(
            text.lines()
                .filter_map(|line| line.strip_prefix("map_id:"))
                .map(|id| id.trim().to_string()),
        );
    }
    ids.sort();
    ids.dedup();
    ids
}

fn bpftool(args: &[&str]) -> Value {
    let output = Command::new("bpftool")
        .arg("-j")
        .args(args)
        .output()
        .expect("bpftool");
    assert!(
        output.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("bpftool JSON")
}
