//! Live capture publishing to NATS through an outage: a real JetStream
//! nats-server (on a free loopback port) is stopped for 10 seconds while
//! handshakes keep coming, then restarted; every session must be in the
//! stream once, in the order the sensor wrote them to its record file.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use cipherlens_integration::{
    Background, Link, NatsServer, Scratch, Sensor, free_port, privileged, schema, self_signed,
};
use serde_json::Value;

const RECORDS: usize = 150;

fn stream_messages(url: &str) -> Vec<(String, Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = async_nats::connect(url).await.expect("client");
        let context = async_nats::jetstream::new(client);
        let mut stream = context.get_stream("CIPHERLENS").await.expect("stream");
        let count = stream.info().await.expect("info").state.messages;
        let mut messages = Vec::new();
        for sequence in 1..=count {
            let message = stream.get_raw_message(sequence).await.expect("message");
            messages.push((
                message.subject.to_string(),
                serde_json::from_slice(&message.payload).expect("JSON"),
            ));
        }
        messages
    })
}

fn create_stream(url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = async_nats::connect(url).await.expect("client");
        async_nats::jetstream::new(client)
            .create_stream(async_nats::jetstream::stream::Config {
                name: "CIPHERLENS".to_string(),
                subjects: vec!["cipherlens.>".to_string()],
                ..Default::default()
            })
            .await
            .expect("stream");
    });
}

#[test]
fn a_ten_second_nats_outage_mid_stream_loses_no_session() {
    assert!(
        privileged(),
        "needs root: run the README's test command as root"
    );
    let scratch = Scratch::new("nats-outage");
    let link = Link::new();
    let port = free_port();
    let store = scratch.0.join("jetstream");
    let url = format!("nats://127.0.0.1:{port}");
    let mut nats = NatsServer::start_in(port, &store, &["-js"]);
    create_stream(&url);

    let (cert, key) = self_signed(&scratch.0, "outage.test");
    let tls_port = free_port();
    let server = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import asyncio, ssl\n\
                 ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{cert}', '{key}')\n\
                 async def handle(r, w):\n\
                 \x20   try:\n\
                 \x20       await r.read(1)\n\
                 \x20   finally:\n\
                 \x20       w.close()\n\
                 async def main():\n\
                 \x20   s = await asyncio.start_server(handle, '{}', {tls_port}, ssl=ctx)\n\
                 \x20   await s.serve_forever()\n\
                 asyncio.run(main())",
                link.host_v4
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python server");
    let _server = Background(server);
    std::thread::sleep(Duration::from_millis(500));
    let sensor = Sensor::start(
        &scratch.0,
        &[&link.host_interface],
        &link.host_interface,
        &[
            "--nats-url",
            &url,
            "--nats-jetstream",
            "--node",
            "outage-node",
            "--stats-interval",
            "1",
        ],
    );
    // About 15 handshakes a second for about 10 s...
    let client = link
        .command("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl, time\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 for i in range({RECORDS}):\n\
                 \x20   s = socket.create_connection(('{}', {tls_port}))\n\
                 \x20   ctx.wrap_socket(s, server_hostname=f'm{{i}}.outage.test').close()\n\
                 \x20   time.sleep(0.06)",
                link.host_v4
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
    // Time to reconnect and drain before the sensor is asked to stop.
    std::thread::sleep(Duration::from_secs(6));
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

    let stored = stream_messages(&nats.url());
    let sessions: Vec<&Value> = stored
        .iter()
        .filter(|(subject, _)| subject == "cipherlens.tls.session.outage-node")
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
    assert!(
        stored.iter().any(
            |(subject, record)| subject == "cipherlens.stats.outage-node"
                && record["schema"] == "cipherlens.stats/v1"
        ),
        "stats records are published too"
    );
}
