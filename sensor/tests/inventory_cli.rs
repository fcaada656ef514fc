//! `cipherlens inventory` as an auditor runs it: records from `replay`
//! ingested into a real SQLite file (twice: the second time counts
//! nothing), two nodes' databases merged (twice: the second merge changes
//! nothing), and the CBOM of the result valid against the official
//! CycloneDX 1.6 schema (vendored in inventory/schema/cyclonedx) and
//! naming what the sessions used.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::repo_root;
use serde_json::Value;

fn cipherlens(args: &[&str]) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cipherlens"))
        .args(args)
        .output()
        .expect("run cipherlens");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        output.status.success(),
        "cipherlens {args:?}: {}",
        text(&output.stderr)
    );
    (text(&output.stdout), text(&output.stderr))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cipherlens-inv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

fn report(stderr: &str) -> Value {
    serde_json::from_str(stderr.lines().last().expect("a report line")).expect("JSON report")
}

fn export_json(db: &Path) -> Value {
    let (stdout, _) = cipherlens(&[
        "inventory",
        "export",
        "--db",
        db.to_str().expect("path"),
        "--format",
        "json",
    ]);
    let mut document: Value = serde_json::from_str(&stdout).expect("JSON export");
    // The export time is not part of the inventory.
    document
        .as_object_mut()
        .expect("object")
        .remove("generated_at");
    document
}

#[test]
fn ingest_merge_and_export_count_each_session_once_and_validate() {
    let dir = scratch("cli");
    let pcaps: Vec<String> = [
        "tls10-openssl.pcap",
        "tls12-openssl.pcap",
        "tls13-openssl.pcap",
    ]
    .iter()
    .map(|name| {
        repo_root()
            .join("fixtures/pcaps")
            .join(name)
            .display()
            .to_string()
    })
    .collect();
    let mut args = vec!["replay", "--alerts"];
    args.extend(pcaps.iter().map(String::as_str));
    let (records, _) = cipherlens(&args);
    let sessions = records
        .lines()
        .filter(|line| line.contains("\"schema\":\"cipherlens.session/v1\""))
        .count();
    assert_eq!(sessions, 3, "one session per fixture capture");
    let lines = dir.join("records.jsonl");
    std::fs::write(&lines, &records).expect("records file");
    let lines = lines.to_str().expect("path");

    let (node_a, node_b, merged) = (dir.join("a.db"), dir.join("b.db"), dir.join("fleet.db"));
    let (node_a, node_b, merged) = (
        node_a.to_str().expect("path"),
        node_b.to_str().expect("path"),
        merged.to_str().expect("path"),
    );
    let ingest = |db: &str, node: &str| {
        let (_, stderr) = cipherlens(&["inventory", "ingest", "--db", db, "--node", node, lines]);
        report(&stderr)
    };
    let first = ingest(node_a, "a");
    assert_eq!(first["records"], 3, "{first}");
    let again = ingest(node_a, "a");
    assert_eq!(
        again["records"], 0,
        "a second ingest of the same file counts nothing: {again}"
    );
    let _ = ingest(node_b, "b");

    let a = export_json(Path::new(node_a));
    assert_eq!(a["sessions"], 3, "{a}");

    cipherlens(&["inventory", "merge", "--db", merged, node_a, node_b]);
    let once = export_json(Path::new(merged));
    assert_eq!(once["sessions"], 6, "two nodes' sessions: {once}");
    cipherlens(&["inventory", "merge", "--db", merged, node_a, node_b]);
    assert_eq!(
        export_json(Path::new(merged)),
        once,
        "merging again changes nothing"
    );

    let (bom, _) = cipherlens(&[
        "inventory",
        "export",
        "--db",
        merged,
        "--format",
        "cyclonedx",
    ]);
    let bom: Value = serde_json::from_str(&bom).expect("CBOM JSON");
    cipherlens_integration::cbom::assert_valid_cyclonedx(&bom);
    assert_eq!(bom["specVersion"], "1.6");
    let text = bom.to_string();
    // What the captures' clients and servers were configured with
    // (fixtures/expected/*.json): TLS 1.0, 1.2 and 1.3 were negotiated.
    for version in ["1.0", "1.2", "1.3"] {
        assert!(
            bom["components"]
                .as_array()
                .expect("components")
                .iter()
                .any(|c| c["cryptoProperties"]["protocolProperties"]["version"] == version),
            "a TLS {version} protocol asset: {text:.2000}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The fleet setup: sensors publish into a JetStream stream, and an
/// `inventory ingest` durable consumer builds the view. Stopped and
/// restarted between two nodes' records, it loses nothing and counts
/// nothing twice.
#[test]
fn a_jetstream_consumer_resumes_after_a_restart_without_counting_twice() {
    use cipherlens_integration::{NatsServer, STREAM, free_port};
    let server = NatsServer::start(free_port(), &["-js"]);
    server.create_stream();
    let url = server.url();
    let dir = scratch("js");
    let db = dir.join("fleet.db");
    let db = db.to_str().expect("path");
    let pcaps: Vec<String> = std::fs::read_dir(repo_root().join("fixtures/pcaps"))
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|entry| entry.path().display().to_string())
        .collect();
    let publish = |node: &str| {
        let mut args = vec![
            "replay",
            "--nats-url",
            url.as_str(),
            "--nats-jetstream",
            "--node",
            node,
        ];
        args.extend(pcaps.iter().map(String::as_str));
        cipherlens(&args);
    };
    let (stdout, _) = cipherlens(
        &[
            &["replay"][..],
            &pcaps.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    );
    let per_node = session_lines(&stdout);
    // The stream holds every record replay publishes (CNFlow records too).
    let published = stdout.lines().count() as u64;
    assert!(per_node >= 10, "{per_node} sessions in the fixtures");
    let ingest = || {
        let (_, stderr) = cipherlens(&[
            "inventory",
            "ingest",
            "--db",
            db,
            "--nats-url",
            &url,
            "--stream",
            STREAM,
            "--durable",
            "inventory",
            "--idle-exit",
            "2",
        ]);
        report(&stderr)
    };
    publish("node-a");
    assert_eq!(server.stream_len(), published);
    let first = ingest();
    assert_eq!(first["records"], per_node, "{first}");
    assert_eq!(first["other_records"], published - per_node, "{first}");
    // The consumer is stopped; the second node publishes meanwhile.
    publish("node-b");
    let resumed = ingest();
    assert_eq!(
        resumed["records"], per_node,
        "only node b's records: {resumed}"
    );
    let idle = ingest();
    assert_eq!(idle["records"], 0, "nothing left: {idle}");
    assert_eq!(export_json(Path::new(db))["sessions"], 2 * per_node);
    std::fs::remove_dir_all(&dir).ok();
}

/// A plain NATS subject (core NATS, at most once): records published while
/// ingest listens are all counted, and SIGTERM commits and exits cleanly
/// with a report that counts no drops.
#[test]
fn a_plain_subject_is_ingested_and_sigterm_exits_cleanly() {
    use cipherlens_integration::sensor::http_get;
    use cipherlens_integration::{NatsServer, free_port};
    let monitor = free_port();
    let server = NatsServer::start(free_port(), &["-m", &monitor.to_string()]);
    let url = server.url();
    let dir = scratch("subject");
    let db = dir.join("subject.db");
    let ingest = Command::new(env!("CARGO_BIN_EXE_cipherlens"))
        .args(["inventory", "ingest", "--db"])
        .arg(&db)
        .args(["--nats-url", &url, "--subject", "cipherlens.*.session.>"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ingest");
    // Subscribed before anything is published (core NATS keeps nothing).
    let monitor = format!("127.0.0.1:{monitor}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let subscribed = http_get(&monitor, "/subsz?subs=1&test=cipherlens.tls.session.x")
            .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
            .and_then(|subsz| subsz["subscriptions_list"].as_array().cloned())
            .is_some_and(|list| {
                list.iter()
                    .any(|sub| sub["subject"] == "cipherlens.*.session.>")
            });
        if subscribed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ingest never subscribed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pcaps: Vec<String> = std::fs::read_dir(repo_root().join("fixtures/pcaps"))
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|entry| entry.path().display().to_string())
        .collect();
    let pcap_args: Vec<&str> = pcaps.iter().map(String::as_str).collect();
    let (stdout, _) = cipherlens(&[&["replay"][..], &pcap_args].concat());
    let sessions = session_lines(&stdout);
    cipherlens(
        &[
            &["replay", "--nats-url", url.as_str(), "--node", "node-s"][..],
            &pcap_args,
        ]
        .concat(),
    );
    // Every record is committed within a round's flush time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !db.exists() || export_json(&db)["sessions"] != sessions {
        assert!(
            std::time::Instant::now() < deadline,
            "records not committed"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = Command::new("kill")
        .args(["-TERM", &ingest.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = ingest.wait_with_output().expect("ingest exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = report(&stderr);
    assert_eq!(report["records"], sessions, "{report}");
    assert_eq!(report["slow_consumer_drops"], 0, "{report}");
    assert_eq!(export_json(&db)["sessions"], sessions);
    std::fs::remove_dir_all(&dir).ok();
}

/// `replay --inventory-db` keeps the inventory as it goes: every session
/// the replay prints is in it, once.
#[test]
fn replay_keeps_the_inventory_with_inventory_db() {
    let dir = scratch("replay-db");
    let db = dir.join("node.db");
    let db = db.to_str().expect("path");
    let pcaps: Vec<String> = std::fs::read_dir(repo_root().join("fixtures/pcaps"))
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|entry| entry.path().display().to_string())
        .collect();
    let mut args = vec!["replay", "--inventory-db", db, "--node", "replayer"];
    args.extend(pcaps.iter().map(String::as_str));
    let (stdout, _) = cipherlens(&args);
    let sessions = session_lines(&stdout);
    assert!(sessions >= 10, "{sessions}");
    let document = export_json(Path::new(db));
    assert_eq!(document["sessions"], sessions, "{document}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Session records among replay's output lines (it prints CNFlow records
/// too).
fn session_lines(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter(|line| line.contains("\"schema\":\"cipherlens.session/v1\""))
        .count() as u64
}
