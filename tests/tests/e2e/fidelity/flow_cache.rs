//! The per-CPU flow cache never keeps a CPU from copying a handshake.
//!
//! A CPU caches a flow's phase, and a flow with no handshake needs no copy:
//! its packets on that CPU skip the handshake-flow map unless they start a
//! TLS record. When the handshake starts on another CPU, the first CPU's
//! cached "no handshake" is stale; the phase epoch, moved on whenever a
//! flow enters its handshake phase, makes it ask again. Here a client
//! pinned to one CPU sends plaintext (STARTTLS), so that CPU caches the
//! flow; it then sends its ClientHello's first segment from the other CPU
//! and the rest from the first again. With CNFlow counting the first CPU
//! would also learn the new phase at its next tick, when it flushes its
//! counts; without counting there is no flush, and only the epoch stands
//! between a stale phase and a lost segment.

use std::time::Duration;

use cipherlens_integration::{TestBed, free_port};

const SERVER_NAME: &str = "starttls.cache.test";

#[test]
fn a_handshake_started_on_another_cpu_is_copied_whole() {
    handshake_split_across_cpus("cache-phase", &[]);
}

#[test]
fn a_handshake_started_on_another_cpu_is_copied_whole_without_cnflow() {
    handshake_split_across_cpus("cache-phase-bare", &["--no-cnflow"]);
}

fn handshake_split_across_cpus(name: &str, sensor_args: &[&str]) {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(
        cpus >= 2,
        "the test moves a client between two CPUs; {cpus} here"
    );
    let bed = TestBed::new(name);
    let link = &bed.link;
    let certificate = bed.certificate(SERVER_NAME);
    let port = free_port();
    let _server = super::starttls_server(&certificate, &link.host_v4, port);
    let sensor = bed.sensor(sensor_args);
    link.client(
        "python3",
        &[
            "-c",
            &format!(
                "import os, socket, ssl, time\n\
                 first, other = sorted(os.sched_getaffinity(0))[:2]\n\
                 os.sched_setaffinity(0, {{first}})\n\
                 s = socket.create_connection(('{}', {port}))\n\
                 s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
                 s.sendall(b'STARTTLS\\r\\n'); s.recv(100)\n\
                 time.sleep(0.1)\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()\n\
                 t = ctx.wrap_bio(incoming, outgoing, server_hostname='{SERVER_NAME}')\n\
                 try:\n\
                 \x20   t.do_handshake()\n\
                 except ssl.SSLWantReadError:\n\
                 \x20   pass\n\
                 hello = outgoing.read()\n\
                 os.sched_setaffinity(0, {{other}})\n\
                 s.sendall(hello[:100])\n\
                 time.sleep(0.1)\n\
                 os.sched_setaffinity(0, {{first}})\n\
                 s.sendall(hello[100:])\n\
                 while True:\n\
                 \x20   data = s.recv(65536)\n\
                 \x20   assert data, 'server closed'\n\
                 \x20   incoming.write(data)\n\
                 \x20   try:\n\
                 \x20       t.do_handshake()\n\
                 \x20       break\n\
                 \x20   except ssl.SSLWantReadError:\n\
                 \x20       pass\n\
                 s.sendall(outgoing.read())\n\
                 s.close()",
                link.host_v4
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(
        record["tls"]["client"]["server_name"], SERVER_NAME,
        "{record}"
    );
    assert_eq!(
        record["cipherlens"]["session"]["complete"], true,
        "{record}"
    );
}
