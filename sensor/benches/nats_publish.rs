//! Records per second published to a local nats-server, with no loss
//! (issue 4 target: at least 100,000 per second).
//!
//! A real session record (from replay of a fixture capture) is published N
//! times through the same `NatsSink` the sensor uses, as the record writer
//! thread would. Core NATS: a subscriber on the same server counts every
//! message; the rate is N over the time from the first publish to the last
//! message received. JetStream: every publish acknowledged by the stream;
//! the stream's message count must equal N.
//!
//! `cargo bench -p cipherlens-sensor --bench nats_publish` (needs
//! nats-server; `RECORDS` sets N, default 200,000).

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cipherlens_integration::{NatsServer, free_port};
use cipherlens_sensor::build::{BuildCaches, session_record};
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::publish::nats::{NatsCredentials, NatsOptions, NatsSink};
use cipherlens_sensor::publish::{RecordKind, Sink};
use cipherlens_sensor::replay::replay_file;
use futures_util::StreamExt;

fn sample_record() -> Vec<u8> {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pcaps/tls13-openssl.pcap");
    let mut records = Vec::new();
    let mut cache = BuildCaches::default();
    replay_file(&pcap, PipelineConfig::default(), |finished| {
        records.push(serde_json::to_vec(&session_record(&finished, &mut cache)).expect("JSON"));
    })
    .expect("replay");
    records.into_iter().next().expect("one record")
}

fn options(url: String, jetstream: bool, buffer: usize) -> NatsOptions {
    NatsOptions {
        url,
        prefix: "cipherlens".to_string(),
        node: "bench".to_string(),
        credentials: NatsCredentials::None,
        tls_ca: None,
        tls_client: None,
        tls_required: false,
        jetstream,
        buffer,
        directives: false,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn core_nats(record: &[u8], total: usize) -> f64 {
    let server = NatsServer::start(free_port(), &[]);
    let url = server.url();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let subscriber_url = url.clone();
    let subscriber = std::thread::spawn(move || {
        runtime().block_on(async move {
            let client = async_nats::ConnectOptions::new()
                .subscription_capacity(1 << 20)
                .connect(subscriber_url)
                .await
                .expect("subscriber");
            let mut messages = client.subscribe("cipherlens.>").await.expect("subscribe");
            client.flush().await.expect("flush");
            ready_tx.send(()).expect("ready");
            let mut received = 0usize;
            while received < total {
                match tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
                    Ok(Some(_)) => received += 1,
                    _ => break,
                }
            }
            done_tx.send((received, Instant::now())).expect("done");
        });
    });
    ready_rx.recv().expect("subscriber ready");
    let mut sink = NatsSink::connect(options(url, false, total)).expect("sink");
    let started = Instant::now();
    for _ in 0..total {
        sink.publish(RecordKind::TlsSession, record).expect("queue");
    }
    sink.close(Duration::from_secs(120)).expect("drain");
    let stats = sink.stats();
    let (received, finished) = done_rx.recv().expect("subscriber result");
    subscriber.join().expect("subscriber thread");
    let seconds = finished.duration_since(started).as_secs_f64();
    assert_eq!(stats.published as usize, total, "{stats:?}");
    assert_eq!(received, total, "the subscriber got every record");
    let rate = total as f64 / seconds;
    println!(
        "core NATS: {total} records of {} bytes in {seconds:.2} s = {rate:.0} records/s ({:.0} MB/s), \
         received {received}, dropped {}, mean queue-to-flush latency {:.1} ms",
        record.len(),
        rate * record.len() as f64 / 1e6,
        stats.dropped_buffer_full + stats.dropped_at_shutdown,
        stats.mean_latency_ms
    );
    rate
}

fn jetstream(record: &[u8], total: usize) -> f64 {
    let server = NatsServer::start(free_port(), &["-js"]);
    let url = server.url();
    server.create_stream();
    let mut sink = NatsSink::connect(options(url.clone(), true, total)).expect("sink");
    let started = Instant::now();
    for _ in 0..total {
        sink.publish(RecordKind::TlsSession, record).expect("queue");
    }
    sink.close(Duration::from_secs(300)).expect("drain");
    let seconds = started.elapsed().as_secs_f64();
    let stats = sink.stats();
    let stored = server.stream_len();
    assert_eq!(stored as usize, total, "the stream holds every record");
    let rate = total as f64 / seconds;
    println!(
        "JetStream (acked): {total} records in {seconds:.2} s = {rate:.0} records/s, stored {stored}, \
         dropped {}",
        stats.dropped_buffer_full + stats.dropped_at_shutdown
    );
    rate
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too
    // and gets a small run.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let total: usize = std::env::var("RECORDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 200_000 });
    let record = sample_record();
    let core = core_nats(&record, total);
    jetstream(&record, total / 4);
    if !quick {
        println!(
            "target: at least 100,000 records/s to core NATS: {}",
            if core >= 100_000.0 { "met" } else { "NOT met" }
        );
    }
}
