//! CNFlow enrichment never stalls the loop that drains the ring buffer.
//!
//! Hundreds of TCP flows held open in several network namespaces (so each
//! namespace needs a sock_diag socket made inside it) get update records
//! every second, whose TCP metrics are looked up, and then all end at once,
//! while a stream of TLS handshakes runs through the sensor. Real lookups
//! take tens of microseconds, less than writing the record, so their cost
//! cannot be told apart from the loop's other work; the sensor is told to
//! wait 40 ms before each one (`CIPHERLENS_TEST_TCP_INFO_DELAY_MS`, a
//! sock_diag that answers slowly): lookups done on the live loop would then
//! stall it for 12 s per scan. The loop's responsiveness is measured from
//! outside: it also answers `/healthz`, so a probe asking every few
//! milliseconds sees how long the loop was away. Expectations: the loop
//! keeps answering within [`LOOP_LIMIT`], no event is lost or dropped, every
//! handshake gets its record and every flow its CNFlow records.
//!

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cipherlens_integration::{Background, Link, Sensor, TestBed, cnflow_records, free_port};
use serde_json::Value;

/// Namespaces holding flows, and flows held in each.
const NAMESPACES: usize = 6;
const FLOWS_PER_NAMESPACE: usize = 50;
/// How long the flows stay open: updates at about three scans.
const HOLD: Duration = Duration::from_millis(3500);
/// Handshakes per run of the load generator; it runs again and again
/// until the flows are reported.
const HANDSHAKES: usize = 100;
/// The sensor's wait before each lookup.
const LOOKUP_DELAY_MS: u64 = 40;
/// The longest the live loop may take to answer `/healthz`. Lookups on
/// the loop would take `NAMESPACES * FLOWS_PER_NAMESPACE * LOOKUP_DELAY_MS`
/// (12 s) per scan; on a busy two-core machine the loop's own work (the
/// scan, the record writer's pace) has been seen to take over a second.
const LOOP_LIMIT: Duration = Duration::from_secs(4);

/// One `/healthz` round trip: when it started (since the probe began) and
/// how long the answer took.
struct Probe {
    at: Duration,
    took: Duration,
}

/// Asks `/healthz` every 5 ms until `stop`.
fn probe_health(
    address: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Vec<Probe>, String>> {
    std::thread::spawn(move || {
        let began = Instant::now();
        let mut probes = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            let answered = TcpStream::connect(&address).and_then(|mut stream| {
                stream.set_read_timeout(Some(LOOP_LIMIT * 5))?;
                stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n")?;
                let mut reply = Vec::new();
                stream.read_to_end(&mut reply)?;
                Ok(reply.starts_with(b"HTTP/1.1 200"))
            });
            if !matches!(answered, Ok(true)) {
                return Err(format!(
                    "the live loop did not answer /healthz within {:?}: {answered:?}",
                    start.elapsed()
                ));
            }
            probes.push(Probe {
                at: start - began,
                took: start.elapsed(),
            });
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(probes)
    })
}

/// A Python server in the host namespace that accepts many connections and
/// holds each until the client closes it.
fn hold_server(port: u16) -> Background {
    let child = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import asyncio, resource\n\
                 hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n\
                 async def handle(r, w):\n\
                 \x20   try:\n\
                 \x20       while await r.read(4096):\n\
                 \x20           pass\n\
                 \x20   finally:\n\
                 \x20       w.close()\n\
                 async def main():\n\
                 \x20   s = await asyncio.start_server(handle, '0.0.0.0', {port}, backlog=4096)\n\
                 \x20   async with s:\n\
                 \x20       await s.serve_forever()\n\
                 asyncio.run(main())"
            ),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3");
    Background(child)
}

/// Opens `FLOWS_PER_NAMESPACE` connections from the link's namespace, sends
/// a byte on each, holds them for `HOLD`, then closes them all at once.
fn hold_flows(link: &Link, port: u16) -> std::process::Child {
    link.command("python3")
        .args([
            "-c",
            &format!(
                "import socket, time, resource\n\
                 hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n\
                 socks = []\n\
                 for _ in range({FLOWS_PER_NAMESPACE}):\n\
                 \x20   s = socket.create_connection(('{}', {port}))\n\
                 \x20   s.sendall(b'x')\n\
                 \x20   socks.append(s)\n\
                 time.sleep({})\n\
                 for s in socks:\n\
                 \x20   s.close()",
                link.host_v4,
                HOLD.as_secs_f64()
            ),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 in the namespace")
}

/// The sensor on every link, ready on each, told to look up slowly.
fn slow_lookup_sensor(bed: &TestBed, links: &[Link]) -> Sensor {
    let interfaces: Vec<&str> = std::iter::once(bed.interface())
        .chain(links.iter().map(|link| link.host_interface.as_str()))
        .collect();
    let delay = LOOKUP_DELAY_MS.to_string();
    let sensor = Sensor::start_with_env(
        bed.dir(),
        &interfaces,
        bed.interface(),
        &[
            "--cnflow-scan-interval",
            "1",
            "--cnflow-report-interval",
            "1",
        ],
        &[("CIPHERLENS_TEST_TCP_INFO_DELAY_MS", &delay)],
    );
    for link in links {
        sensor.wait_attached(&link.host_interface, Duration::from_secs(20));
    }
    sensor
}

/// Runs the handshake load generator from the link's namespace again and
/// again until `stop`; returns how many runs completed.
fn handshake_stream(
    link: &Link,
    port: u16,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<usize, String>> {
    let mut command = link.command(env!("CARGO_BIN_EXE_handshake-load"));
    command.args([
        "connect",
        &link.host_v4,
        &port.to_string(),
        &HANDSHAKES.to_string(),
        "2",
    ]);
    std::thread::spawn(move || {
        let mut runs = 0;
        while !stop.load(Ordering::Relaxed) {
            let output = command.output().map_err(|error| error.to_string())?;
            if !output.status.success() {
                return Err(String::from_utf8_lossy(&output.stderr).into_owned());
            }
            runs += 1;
        }
        Ok(runs)
    })
}

fn slowest(probes: &[Probe], window: std::ops::Range<Duration>) -> Duration {
    probes
        .iter()
        .filter(|p| window.contains(&p.at))
        .map(|p| p.took)
        .max()
        .unwrap_or_default()
}

#[test]
fn enrichment_never_stalls_the_ring_buffer_loop() {
    let bed = TestBed::new("enrich");
    let extra_links: Vec<Link> = (1..NAMESPACES).map(|_| Link::new()).collect();
    let links: Vec<&Link> = std::iter::once(&bed.link).chain(&extra_links).collect();
    let certificate = bed.certificate("stream.test");
    let tls_port = free_port();
    let hold_port = free_port();
    let _tls_server = Background(
        Command::new(env!("CARGO_BIN_EXE_handshake-load"))
            .args([
                "serve",
                &links[0].host_v4,
                &tls_port.to_string(),
                &certificate.cert,
                &certificate.key,
                "4",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("handshake-load serve"),
    );
    let _hold_server = hold_server(hold_port);
    let sensor = slow_lookup_sensor(&bed, &extra_links);
    let metrics = sensor.metrics_address.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe_health(metrics, Arc::clone(&stop));
    let stream = handshake_stream(links[0], tls_port, Arc::clone(&stop));
    let began = Instant::now();

    // A second of handshakes alone, then the held flows in every namespace.
    std::thread::sleep(Duration::from_secs(1));
    let flows_from = began.elapsed();
    let holders: Vec<std::process::Child> = links
        .iter()
        .map(|link| hold_flows(link, hold_port))
        .collect();
    for holder in holders {
        let output = holder.wait_with_output().expect("flow holder");
        assert!(output.status.success(), "flow holder failed");
    }
    // The scans after the flows ended report them.
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let runs = stream
        .join()
        .expect("handshake stream")
        .unwrap_or_else(|error| panic!("handshake stream: {error}"));
    let probes = probe
        .join()
        .expect("probe")
        .unwrap_or_else(|error| panic!("{error}; sensor: {}", sensor.log()));
    let (sessions, stats, _) = sensor.stop();

    let before = slowest(&probes, Duration::ZERO..flows_from);
    let during = slowest(&probes, flows_from..Duration::MAX);
    eprintln!(
        "slowest /healthz: {before:?} before the flows, {during:?} with them \
         ({} probes); {runs} runs of {HANDSHAKES} handshakes; stats: {stats}",
        probes.len()
    );
    assert!(
        during < LOOP_LIMIT,
        "the live loop was away for {during:?} while TCP metrics were looked up"
    );
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert_eq!(
        stats["events_dropped"],
        serde_json::json!({}),
        "stats: {stats}"
    );
    // Every handshake of every run, each server name once per run.
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for session in &sessions {
        if let Some(name) = session["tls"]["client"]["server_name"].as_str() {
            *names.entry(name).or_default() += 1;
        }
    }
    assert_eq!(sessions.len(), runs * HANDSHAKES, "a record per handshake");
    assert_eq!(names.len(), HANDSHAKES);
    assert!(names.values().all(|count| *count == runs), "{names:?}");

    let flows = cnflow_records(bed.dir());
    let held: Vec<&Value> = flows
        .iter()
        .filter(|f| f["server"]["port"] == hold_port)
        .collect();
    let ended: BTreeSet<(&str, u64)> = held
        .iter()
        .filter(|f| f["event"]["reason"] == "end")
        .filter_map(|f| {
            Some((
                f["client"]["address"].as_str()?,
                f["client"]["port"].as_u64()?,
            ))
        })
        .collect();
    assert_eq!(
        ended.len(),
        NAMESPACES * FLOWS_PER_NAMESPACE,
        "an end record per held flow"
    );
    let updates = held
        .iter()
        .filter(|f| f["event"]["reason"] == "update")
        .count();
    let measured = held
        .iter()
        .filter(|f| f["event"]["reason"] == "update" && f["cnflow"]["tcp"].is_object())
        .count();
    eprintln!("update records with TCP metrics: {measured} of {updates}");
    assert!(
        updates >= NAMESPACES * FLOWS_PER_NAMESPACE,
        "every held flow had an update record: {updates}"
    );
    assert!(measured > 0, "update records carry TCP metrics");
    // Ended flows are not looked up: their sockets are closed.
    assert!(
        held.iter()
            .filter(|f| f["event"]["reason"] == "end")
            .all(|f| f["cnflow"].get("tcp").is_none()),
        "end records without TCP metrics"
    );
}
