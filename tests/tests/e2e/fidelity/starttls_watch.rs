//! A TCP connection without a TLS handshake is looked at for one starting
//! only until it has carried `--starttls-watch-bytes`: a STARTTLS-style
//! upgrade within that many bytes is recorded, one after it is not, and the
//! kernel counts the packets it did not look at. Without CNFlow counting
//! there is no count of a connection's bytes, so every packet is looked at
//! and both upgrades are recorded (which also shows that the late one is
//! recordable at all).

use std::time::Duration;

use cipherlens_integration::{TestBed, free_port};

/// The limit the sensor is given; the preambles sit well below and above it.
const WATCH_BYTES: usize = 4096;
const EARLY: (&str, usize) = ("early.starttls.test", 512);
const LATE: (&str, usize) = ("late.starttls.test", 64 * 1024);

#[test]
fn an_upgrade_after_the_watched_bytes_is_not_looked_for() {
    let (names, unwatched) = upgrades_around_the_limit("starttls-watch", &[]);
    assert_eq!(names, [EARLY.0]);
    assert!(unwatched >= 1, "unwatched packets: {unwatched}");
}

#[test]
fn without_cnflow_every_packet_is_looked_at() {
    let (names, unwatched) = upgrades_around_the_limit("starttls-watch-bare", &["--no-cnflow"]);
    assert_eq!(names, [EARLY.0, LATE.0]);
    assert_eq!(unwatched, 0);
}

/// The server names of the sessions recorded, in order, and the packets
/// the kernel did not look at.
fn upgrades_around_the_limit(name: &str, sensor_args: &[&str]) -> (Vec<String>, u64) {
    let bed = TestBed::new(name);
    let link = &bed.link;
    let certificate = bed.certificate(EARLY.0);
    let port = free_port();
    let _server = super::starttls_server(&certificate, &link.host_v4, port);
    let limit = WATCH_BYTES.to_string();
    let mut args = vec!["--starttls-watch-bytes", limit.as_str()];
    args.extend_from_slice(sensor_args);
    let sensor = bed.sensor(&args);
    // The client is pinned to one CPU, so the packets that carry its
    // preamble's first flight and its ClientHello pass through the same
    // CPU's flow cache, which counts what it sees before its counts reach
    // the flow's entry (at its next tick).
    for (server_name, preamble) in [EARLY, LATE] {
        link.client(
            "python3",
            &[
                "-c",
                &format!(
                    "import os, socket, ssl, time\n\
                     os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})\n\
                     s = socket.create_connection(('{}', {port}))\n\
                     {}",
                    link.host_v4,
                    upgrade(preamble, server_name),
                ),
            ],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let names = records
        .iter()
        .filter_map(|record| record["tls"]["client"]["server_name"].as_str())
        .map(str::to_owned)
        .collect();
    let unwatched = stats["kernel"]["starttls_unwatched_packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no starttls_unwatched_packets in {stats}"));
    (names, unwatched)
}

/// A connection past its watch ends with a reset, and the client opens the
/// next one from the same port at once, while the 4-tuple's counters entry
/// (and the old connection's bytes in it) lives on until the next CNFlow
/// scan: the new connection's SYN starts its watch again, so its early
/// upgrade is recorded.
#[test]
fn a_reused_four_tuple_is_watched_from_its_new_connection() {
    const REUSED: &str = "reused.starttls.test";
    let bed = TestBed::new("starttls-reuse");
    let link = &bed.link;
    let certificate = bed.certificate(REUSED);
    let port = free_port();
    let _server = super::starttls_server(&certificate, &link.host_v4, port);
    let limit = WATCH_BYTES.to_string();
    let sensor = bed.sensor(&["--starttls-watch-bytes", limit.as_str()]);
    link.client(
        "python3",
        &[
            "-c",
            &format!(
                "import os, socket, ssl, struct, time\n\
                 os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})\n\
                 def connect(source_port):\n\
                 \x20   s = socket.socket()\n\
                 \x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 \x20   s.bind(('', source_port))\n\
                 \x20   s.connect(('{host}', {port}))\n\
                 \x20   return s\n\
                 s = connect(0)\n\
                 source_port = s.getsockname()[1]\n\
                 s.sendall(b'x' * {LATE_PREAMBLE} + b'\\r\\n')\n\
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
                 s.close()\n\
                 s = connect(source_port)\n\
                 {}",
                upgrade(EARLY.1, REUSED),
                host = link.host_v4,
                LATE_PREAMBLE = LATE.1,
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let names: Vec<&str> = records
        .iter()
        .filter_map(|record| record["tls"]["client"]["server_name"].as_str())
        .collect();
    assert_eq!(names, [REUSED], "{records:#?}");
}

/// Python lines for a connected socket `s`: `preamble` bytes of plaintext
/// and `STARTTLS`, the server's reply, then a TLS handshake for
/// `server_name` and one byte over it.
fn upgrade(preamble: usize, server_name: &str) -> String {
    format!(
        "s.sendall(b'x' * {preamble} + b'\\r\\nSTARTTLS\\r\\n')\n\
         reply = b''\n\
         while not reply.endswith(b'\\r\\n'):\n\
         \x20   data = s.recv(100); assert data, 'server closed'; reply += data\n\
         time.sleep(0.05)\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         t = ctx.wrap_socket(s, server_hostname='{server_name}')\n\
         t.sendall(b'.'); t.close()"
    )
}
