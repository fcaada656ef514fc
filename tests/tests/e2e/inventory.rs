//! The fleet inventory from live capture: two sensors (`--node a`, `--node
//! b`) publish into one JetStream stream of a real nats-server while real
//! handshakes run, and one `cipherlens inventory ingest` durable consumer
//! builds the inventory. The consumer is killed (SIGKILL, no chance to
//! commit or acknowledge) in the middle of the stream and started again.
//! Expectations come from the sensors' own record files: every session is
//! in the inventory once, under its node, and the CBOM of the result is
//! valid CycloneDX 1.6 and names every asset those sessions used.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cipherlens_integration::cbom::{assert_cbom_names_sessions, assert_valid_cyclonedx};
use cipherlens_integration::{
    Background, Certificate, Link, NatsServer, STREAM, Sensor, TestBed, free_port,
    python_tls_server, schema, sensor_binary,
};
use serde_json::Value;

/// Handshakes per node.
const HANDSHAKES: usize = 60;
const SESSION_SUBJECTS: &str = "cipherlens.*.session.>";

fn export(db: &Path, format: &str) -> Value {
    let output = Command::new(sensor_binary())
        .args(["inventory", "export", "--db"])
        .arg(db)
        .args(["--format", format])
        .output()
        .expect("export");
    assert!(
        output.status.success(),
        "export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("export is JSON")
}

fn ingest(db: &Path, url: &str, extra: &[&str]) -> Child {
    Command::new(sensor_binary())
        .args(["inventory", "ingest", "--db"])
        .arg(db)
        .args(["--nats-url", url, "--stream", STREAM, "--durable", "fleet"])
        .args(["--filter-subject", SESSION_SUBJECTS, "--node", "unused"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ingest")
}

/// A client loop in the link's namespace: `HANDSHAKES` TLS handshakes,
/// one every 0.1 s, each with its own SNI.
fn client_loop(link: &Link, port: u16, node: &str) -> Background {
    let script = format!(
        "import socket, ssl, time\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         for i in range({HANDSHAKES}):\n\
         \x20   s = socket.create_connection(('{}', {port}))\n\
         \x20   ctx.wrap_socket(s, server_hostname=f'h{{i}}.{node}.inventory.test').close()\n\
         \x20   time.sleep(0.1)",
        link.host_v4
    );
    Background(
        link.command("python3")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .expect("client loop"),
    )
}

#[test]
fn two_live_sensors_feed_one_inventory_through_a_consumer_killed_mid_stream() {
    let nats = NatsServer::start(free_port(), &["-js"]);
    nats.create_stream();
    let url = nats.url();
    // One turn among the light tests (a second bed would take a second
    // one, which can deadlock against a waiting exclusive test), and a
    // second veth pair for the second node.
    let bed = TestBed::light("inventory");
    let second_link = Link::new();
    let links = [&bed.link, &second_link];
    let nodes = ["a", "b"];
    let dirs: Vec<PathBuf> = nodes
        .iter()
        .map(|node| {
            let dir = bed.dir().join(format!("node-{node}"));
            std::fs::create_dir_all(&dir).expect("node dir");
            dir
        })
        .collect();
    let servers: Vec<(Background, u16)> = links
        .iter()
        .zip(nodes)
        .zip(&dirs)
        .map(|((link, node), dir)| {
            let certificate = Certificate::self_signed(dir, &format!("{node}.inventory.test"));
            let port = free_port();
            (python_tls_server(&link.host_v4, port, &certificate), port)
        })
        .collect();
    let sensors: Vec<Sensor> = links
        .iter()
        .zip(nodes)
        .zip(&dirs)
        .map(|((link, node), dir)| {
            let interface = link.host_interface.as_str();
            let extra = [
                "--nats-url",
                url.as_str(),
                "--nats-jetstream",
                "--node",
                node,
            ];
            Sensor::start(dir, &[interface], interface, &extra)
        })
        .collect();
    let db = bed.dir().join("fleet.db");

    let mut first = ingest(&db, &url, &[]);
    let mut clients: Vec<Background> = links
        .iter()
        .zip(&servers)
        .zip(nodes)
        .map(|((link, (_, port)), node)| client_loop(link, *port, node))
        .collect();
    // Mid-stream: some sessions committed, the clients still going.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !db.exists() || export(&db, "json")["sessions"].as_u64() < Some(10) {
        assert!(
            Instant::now() < deadline,
            "the first ingest committed nothing"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    first.kill().expect("SIGKILL the consumer");
    first.wait().expect("reaped");
    let committed_before = export(&db, "json")["sessions"].as_u64().unwrap_or(0);
    for client in &mut clients {
        assert!(client.0.wait().expect("client").success());
    }

    // What each sensor recorded is what the inventory must hold.
    let mut recorded: Vec<(String, Vec<Value>)> = Vec::new();
    for (sensor, node) in sensors.into_iter().zip(nodes) {
        let (records, _, _) = sensor.stop();
        let sessions: Vec<Value> = records
            .into_iter()
            .filter(|record| record["schema"] == "cipherlens.session/v1")
            .collect();
        assert_eq!(
            sessions.len(),
            HANDSHAKES,
            "node {node} recorded every handshake"
        );
        for record in &sessions {
            schema::assert_valid_session_record(record);
            assert_eq!(
                record["host"]["name"], node,
                "--node names the record's host"
            );
        }
        recorded.push((node.to_string(), sessions));
    }
    let total = (HANDSHAKES * nodes.len()) as u64;
    assert!(
        committed_before < total,
        "the consumer was killed mid-stream ({committed_before} of {total} committed)"
    );

    let second = ingest(&db, &url, &["--idle-exit", "3"])
        .wait_with_output()
        .expect("second ingest");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "second ingest: {stderr}");
    let report: Value =
        serde_json::from_str(stderr.lines().last().expect("report")).expect("JSON report");
    assert_eq!(
        report["records"].as_u64(),
        Some(total - committed_before),
        "the restart counts exactly what the first did not commit: {report}"
    );

    let inventory = export(&db, "json");
    assert_eq!(inventory["sessions"], total, "nothing lost, nothing twice");
    for (node, sessions) in &recorded {
        let counted: u64 = inventory["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .filter(|endpoint| endpoint["node"] == node.as_str())
            .filter_map(|endpoint| endpoint["sessions"].as_u64())
            .sum();
        assert_eq!(counted, sessions.len() as u64, "node {node}'s sessions");
    }

    let bom = export(&db, "cyclonedx");
    assert_valid_cyclonedx(&bom);
    let all: Vec<Value> = recorded.into_iter().flat_map(|(_, s)| s).collect();
    let checked = assert_cbom_names_sessions(&bom, &all);
    assert_eq!(
        checked as u64, total,
        "every session had a version and suite"
    );
}
