//! A TCP flow without a TLS handshake is looked at for one starting only
//! until it has carried `--starttls-watch-bytes`: a STARTTLS-style upgrade
//! within that many bytes is recorded, one after it is not, and the kernel
//! counts the flows it stopped watching.
//!
//! The client is pinned to one CPU, so the packets that carry its
//! preamble and its ClientHello pass through the same CPU's flow cache
//! (the watched bytes are kept per CPU, and in the flow's counters entry
//! when CNFlow counts).

use std::time::Duration;

use cipherlens_integration::{TestBed, free_port};

/// The limit the sensor is given; the preambles sit well below and above it.
const WATCH_BYTES: usize = 4096;
const EARLY: (&str, usize) = ("early.starttls.test", 512);
const LATE: (&str, usize) = ("late.starttls.test", 64 * 1024);

#[test]
fn an_upgrade_after_the_watched_bytes_is_not_looked_for() {
    upgrades_around_the_limit("starttls-watch", &[]);
}

#[test]
fn an_upgrade_after_the_watched_bytes_is_not_looked_for_without_cnflow() {
    upgrades_around_the_limit("starttls-watch-bare", &["--no-cnflow"]);
}

fn upgrades_around_the_limit(name: &str, sensor_args: &[&str]) {
    let bed = TestBed::new(name);
    let link = &bed.link;
    let certificate = bed.certificate(EARLY.0);
    let port = free_port();
    let _server = super::starttls_server(&certificate, &link.host_v4, port);
    let limit = WATCH_BYTES.to_string();
    let mut args = vec!["--starttls-watch-bytes", limit.as_str()];
    args.extend_from_slice(sensor_args);
    let sensor = bed.sensor(&args);
    for (server_name, preamble) in [EARLY, LATE] {
        link.client(
            "python3",
            &[
                "-c",
                &format!(
                    "import os, socket, ssl, time\n\
                     os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})\n\
                     s = socket.create_connection(('{}', {port}))\n\
                     s.sendall(b'x' * {preamble} + b'\\r\\nSTARTTLS\\r\\n')\n\
                     reply = b''\n\
                     while not reply.endswith(b'\\r\\n'):\n\
                     \x20   data = s.recv(100); assert data, 'server closed'; reply += data\n\
                     time.sleep(0.05)\n\
                     ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                     t = ctx.wrap_socket(s, server_hostname='{server_name}')\n\
                     t.sendall(b'.'); t.close()",
                    link.host_v4
                ),
            ],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let names: Vec<&str> = records
        .iter()
        .filter_map(|record| record["tls"]["client"]["server_name"].as_str())
        .collect();
    assert_eq!(names, [EARLY.0], "{records:#?}");
    let ended = stats["kernel"]["starttls_watch_ended"].as_u64();
    assert!(ended.is_some_and(|ended| ended >= 1), "stats: {stats}");
}
