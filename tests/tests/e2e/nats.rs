//! Live capture publishing to NATS: through an outage of a real JetStream
//! nats-server, and directives that change the running sensor (or, when
//! refused, change nothing), with the Prometheus endpoint as a scraper
//! sees it. These tests mostly wait, so they run beside the heavy ones.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cipherlens_integration::kernel::attachment_count;
use cipherlens_integration::sensor::metric_value;
use cipherlens_integration::{Background, NatsServer, TestBed, free_port, run, schema};
use serde_json::Value;

const RECORDS: usize = 150;
/// Where the outage test's sessions are published.
const SESSIONS: &str = "cipherlens.tls.session.outage-node";

/// Live capture publishing to NATS through an outage: the nats-server (on
/// a free loopback port) is stopped for 10 seconds while handshakes keep
/// coming, then restarted; every session must be in the stream once, in the
/// order the sensor wrote them to its record file.
#[test]
fn a_ten_second_nats_outage_mid_stream_loses_no_session() {
    let bed = TestBed::light("nats-outage");
    let link = &bed.link;
    let port = free_port();
    let store = bed.dir().join("jetstream");
    let url = format!("nats://127.0.0.1:{port}");
    let mut nats = NatsServer::start_in(port, &store, &["-js"]);
    nats.create_stream();

    let server = bed.python_tls_server("nats.test");
    let sensor = bed.sensor(&[
        "--nats-url",
        &url,
        "--nats-jetstream",
        "--node",
        "outage-node",
        "--stats-interval",
        "1",
    ]);
    // About 15 handshakes a second for about 10 s...
    let client = link
        .command("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl, time\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 for i in range({RECORDS}):\n\
                 \x20   s = socket.create_connection(('{}', {}))\n\
                 \x20   ctx.wrap_socket(s, server_hostname=f'm{{i}}.outage.test').close()\n\
                 \x20   time.sleep(0.06)",
                link.host_v4, server.port
            ),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("client loop");
    let mut client = Background(client);
    // ...with NATS gone from second 2 to second 12.
    std::thread::sleep(Duration::from_secs(2));
    nats.stop();
    std::thread::sleep(Duration::from_secs(10));
    let nats = NatsServer::start_in(port, &store, &["-js"]);
    assert!(client.0.wait().expect("client").success());
    // Time to reconnect and drain before the sensor is asked to stop: until
    // the stream has as many sessions as were made, at most 6 s.
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline
        && nats
            .stream_messages()
            .iter()
            .filter(|(subject, _)| subject == SESSIONS)
            .count()
            < RECORDS
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    let (records, stats, _) = sensor.stop();

    let names: Vec<String> = records
        .iter()
        .filter_map(|r| {
            r["tls"]["client"]["server_name"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let expected: BTreeSet<String> = (0..RECORDS).map(|i| format!("m{i}.outage.test")).collect();
    assert_eq!(
        names.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "the record file has every session"
    );
    let publish = &stats["publish"];
    assert!(publish["disconnects"].as_u64() >= Some(1), "{publish}");
    assert_eq!(publish["dropped_buffer_full"], 0, "{publish}");
    assert_eq!(publish["dropped_at_shutdown"], 0, "{publish}");

    let stored = nats.stream_messages();
    let sessions: Vec<&Value> = stored
        .iter()
        .filter(|(subject, _)| subject == SESSIONS)
        .map(|(_, record)| record)
        .collect();
    for record in &sessions {
        schema::assert_valid_session_record(record);
    }
    assert_eq!(
        sessions
            .iter()
            .map(|r| (*r).clone())
            .collect::<Vec<Value>>(),
        records,
        "the stream holds every session once, in the sensor's order"
    );
    let stats_records: Vec<&Value> = stored
        .iter()
        .filter(|(subject, _)| subject == "cipherlens.stats.outage-node")
        .map(|(_, record)| record)
        .collect();
    assert!(!stats_records.is_empty(), "stats records are published too");
    for record in stats_records {
        schema::assert_valid_stats_record(record);
    }
    for (subject, record) in &stored {
        if subject == "cipherlens.cnflow.outage-node" {
            schema::assert_valid_cnflow_record(record);
        }
    }
}

/// Sends a directive and waits for the reply.
fn ask(
    runtime: &tokio::runtime::Runtime,
    client: &async_nats::Client,
    subject: &str,
    directive: &str,
) -> Value {
    runtime.block_on(async {
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(subject.to_string(), directive.to_string().into()),
        )
        .await
        .expect("a reply within 5 s")
        .expect("request");
        serde_json::from_slice(&reply.payload).expect("JSON reply")
    })
}

#[test]
fn directives_change_the_running_sensor_and_bad_ones_change_nothing() {
    let bed = TestBed::light("directives");
    let link = &bed.link;
    let nats = NatsServer::start(free_port(), &[]);
    let server = bed.python_tls_server("nats.test");
    let interface = bed.interface();
    let sensor = bed.sensor(&["--nats-url", &nats.url(), "--node", "directive.node"]);
    let metrics = &sensor.metrics_address;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = runtime
        .block_on(async_nats::connect(nats.url()))
        .expect("client");
    let mut sessions = runtime
        .block_on(client.subscribe("cipherlens.tls.session.directive_node"))
        .expect("subscribe");
    let node = "cipherlens.directive.directive_node";
    let all = "cipherlens.directive.all";
    // The next session record on NATS, if one comes within two seconds.
    let mut next_session = || -> Option<Value> {
        runtime.block_on(async {
            use futures_util::StreamExt;
            match tokio::time::timeout(Duration::from_secs(2), sessions.next()).await {
                Ok(Some(message)) => serde_json::from_slice(&message.payload).ok(),
                _ => None,
            }
        })
    };

    let status = ask(&runtime, &client, node, r#"{"directive":"status"}"#);
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(
        status["status"]["node"].as_str().map(str::is_empty),
        Some(false)
    );
    assert_eq!(
        status["status"]["interfaces_attached"],
        serde_json::json!([interface])
    );
    assert_eq!(status["status"]["sampling_rate"], 1.0);
    assert!(
        status["status"]["stats"]["kernel"]["packets_seen"].is_u64(),
        "{status}"
    );
    // The TLS probes: coverage per process (library, hooked or why not),
    // and plaintext off.
    let processes = status["status"]["tls_processes"]
        .as_array()
        .unwrap_or_else(|| panic!("no tls_processes: {status}"));
    for process in processes {
        assert!(
            process["pid"].is_u64() && process["hooked"].is_boolean(),
            "{process}"
        );
        assert_eq!(
            process["reason"].is_null(),
            process["hooked"] == true,
            "{process}"
        );
    }
    assert_eq!(status["status"]["plaintext"]["active"], false, "{status}");

    // Refused, with the reason, and nothing changes.
    for (bad, reason) in [
        (r#"{"directive":"interfaces","include":[""]}"#, "1 to 64"),
        (r#"{"directive":"sampling","rate":2}"#, "outside 0..=1"),
        (r#"{"directive":"self_destruct"}"#, "unknown variant"),
        (r#"{"directive":"status","verbose":true}"#, "unknown field"),
        ("definitely not json", "expected"),
    ] {
        let reply = ask(&runtime, &client, node, bad);
        assert_eq!(reply["ok"], false, "{bad}: {reply}");
        assert!(
            reply["error"].as_str().is_some_and(|e| e.contains(reason)),
            "{bad}: {reply}"
        );
    }
    let after = ask(&runtime, &client, node, r#"{"directive":"status"}"#);
    assert_eq!(
        after["status"]["interfaces_attached"],
        serde_json::json!([interface])
    );
    assert_eq!(after["status"]["sampling_rate"], 1.0);

    // A session is published as usual.
    link.python_handshake(server.port, "before.directives.test");
    let record = next_session().expect("a session record");
    assert_eq!(
        record["tls"]["client"]["server_name"],
        "before.directives.test"
    );

    // Exclude the interface: detached, so the next session is not seen.
    let reply = ask(
        &runtime,
        &client,
        node,
        &format!(
            r#"{{"directive":"interfaces","include":["{interface}"],"exclude":["{interface}"]}}"#
        ),
    );
    assert_eq!(
        reply,
        serde_json::json!({"ok": true, "interfaces_attached": []})
    );
    link.python_handshake(server.port, "while.detached.test");
    assert_eq!(next_session(), None, "detached: nothing recorded");
    let reply = ask(
        &runtime,
        &client,
        node,
        &format!(r#"{{"directive":"interfaces","include":["{interface}"]}}"#),
    );
    assert_eq!(
        reply["interfaces_attached"],
        serde_json::json!([interface]),
        "{reply}"
    );

    // Sampling 0 by broadcast: sessions are counted out, not published.
    let reply = ask(
        &runtime,
        &client,
        all,
        r#"{"directive":"sampling","rate":0}"#,
    );
    assert_eq!(reply, serde_json::json!({"ok": true, "sampling_rate": 0.0}));
    link.python_handshake(server.port, "sampled.out.test");
    assert_eq!(next_session(), None, "sampled out");
    let status = ask(&runtime, &client, node, r#"{"directive":"status"}"#);
    assert_eq!(status["status"]["stats"]["sampled_out"], 1, "{status}");
    ask(
        &runtime,
        &client,
        all,
        r#"{"directive":"sampling","rate":1}"#,
    );
    link.python_handshake(server.port, "after.directives.test");
    let record = next_session().expect("a session record again");
    assert_eq!(
        record["tls"]["client"]["server_name"],
        "after.directives.test"
    );

    // Publishing a directive is not enough to turn plaintext on: this
    // node's configuration allows no scope kind, so it is refused and says
    // which setting would allow it.
    let reply = ask(
        &runtime,
        &client,
        node,
        r#"{"directive":"plaintext","enabled":true,"scope":{"k8s_namespace":"payments"}}"#,
    );
    assert_eq!(reply["ok"], false, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|error| error.contains("--plaintext-directive")),
        "{reply}"
    );

    // Prometheus and health, as a scraper sees them.
    let exposition = run("curl", &["-sf", &format!("http://{metrics}/metrics")]);
    for expected in [
        "cipherlens_interfaces_attached 1",
        "cipherlens_sessions_skipped_total{reason=\"sampled_out\"} 1",
        "cipherlens_directives_refused_total 5",
        "cipherlens_publish_dropped_total{reason=\"buffer_full\"} 0",
        "# TYPE cipherlens_kernel_events_total counter",
    ] {
        assert!(
            exposition.contains(expected),
            "{expected} missing:\n{exposition}"
        );
    }
    // Attachments as the kernel counts them, after the detach and re-attach.
    assert_eq!(
        metric_value(&exposition, "cipherlens_programs_attached"),
        Some(attachment_count(sensor.pid(), &[interface]) as f64),
        "{exposition}"
    );
    let published = metric_value(&exposition, "cipherlens_publish_records_total")
        .expect("publish_records_total");
    assert!(published >= 2.0, "{exposition}");
    assert!(run("curl", &["-sf", &format!("http://{metrics}/healthz")]).starts_with("ok"));
    let refused = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(format!("http://{metrics}/metrics"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&refused.stdout), "405");

    let (_, stats, _) = sensor.stop();
    assert!(stats["directives_applied"].as_u64() >= Some(8), "{stats}");
    assert_eq!(stats["publish"]["directives_refused"], 5, "{stats}");
}
