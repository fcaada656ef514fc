//! Session records built and encoded per second: the record writer's work
//! for every handshake, off the packet thread but on the sensor's CPU.
//!
//! Why it matters: under a handshake load the writer is about half of the
//! sensor's CPU (the rest is the packet thread), and building plus JSON
//! encoding is most of the writer. Live figures (`scripts/bench-live.sh`
//! section 2) move by a few ticks between runs; this measures the same two
//! steps without the noise of a load, so a change to either can be judged.
//!
//! The sessions are real: each fixture capture is replayed through the
//! sensor's pipeline, and each finished session is built into its record
//! (`build::session_record`, certificate summaries cached as the writer
//! caches them) and encoded (`writer::encode`), as `RecordStages` does.
//! A live record also carries the process attribution of its endpoints;
//! `live_attributed` adds this process's, as the enrich step would.
//! Browsers shuffle their extensions and pick new GREASE values on every
//! connection (Chrome does); `browser_hellos` builds the TLS 1.3 session
//! with 4096 such variants of its ClientHello (more than the cache holds,
//! as a browser's orders never repeat), so the fingerprint cache sees
//! what it sees from a browser. `encode` is the encoding alone, of the
//! TLS 1.3 fixture's records built beforehand (`encode_attributed`: with
//! both endpoints attributed), by the writer's encoder and, for
//! comparison, through serde (`_serde`).
//!
//! Run: `cargo bench -p cipherlens-sensor --bench record_build`.

use std::hint::black_box;
use std::path::Path;

use cipherlens_parsers::tls::extensions::RawExtension;
use cipherlens_sensor::attribution::{AttributionSources, Attributor};
use cipherlens_sensor::build::{BuildCaches, session_record};
use cipherlens_sensor::pipeline::{FinishedSession, PipelineConfig};
use cipherlens_sensor::replay::replay_file;
use cipherlens_sensor::writer::encode::{RecordEncoder, encode_record};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The sensor binary's allocator (see sensor/src/main.rs), so the figures
/// are the sensor's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// TLS 1.3 (the common case today), TLS 1.2 with its chain in the clear,
/// and QUIC.
const FIXTURES: [&str; 3] = ["tls13-openssl", "tls12-openssl", "quic-aioquic"];

fn sessions(name: &str) -> Vec<FinishedSession> {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pcaps")
        .join(format!("{name}.pcap"));
    let mut sessions = Vec::new();
    replay_file(&pcap, PipelineConfig::default(), |finished| {
        sessions.push(finished)
    })
    .unwrap_or_else(|error| panic!("{}: {error}", pcap.display()));
    assert!(!sessions.is_empty(), "{name}: no session");
    sessions
}

fn build_and_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_record");
    let mut encoded = Vec::with_capacity(16 * 1024);
    let mut encoder = RecordEncoder::default();
    for name in FIXTURES {
        let sessions = sessions(name);
        let mut cache = BuildCaches::default();
        group.throughput(Throughput::Elements(sessions.len() as u64));
        group.bench_function(format!("{name}/build_encode"), |b| {
            b.iter(|| build_encode_all(&sessions, &mut cache, &mut encoder, &mut encoded))
        });
    }
    // A live record: both endpoints attributed (this process, from the
    // attributor's cache, as the enrich step finds a busy process).
    let sessions = sessions("tls13-openssl");
    let mut cache = BuildCaches::default();
    let mut attributor = Attributor::new(AttributionSources::default());
    group.throughput(Throughput::Elements(sessions.len() as u64));
    group.bench_function("tls13-openssl/live_attributed", |b| {
        b.iter(|| {
            for finished in &sessions {
                let mut record = session_record(finished, &mut cache);
                record.client.attribution = attributor.attribute(std::process::id());
                record.server.attribution = attributor.attribute(std::process::id());
                encoded.clear();
                encoder.session(&record, &mut encoded).expect("encodes");
                black_box(&encoded);
            }
        })
    });
    // The encoding alone, of plain and of attributed records, by the
    // writer's encoder and, side by side, through serde (sonic-rs).
    let plain: Vec<_> = sessions
        .iter()
        .map(|finished| session_record(finished, &mut cache))
        .collect();
    let attributed: Vec<_> = plain
        .iter()
        .map(|record| {
            let mut record = record.clone();
            record.client.attribution = attributor.attribute(std::process::id());
            record.server.attribution = attributor.attribute(std::process::id());
            record
        })
        .collect();
    for (name, records) in [("encode", &plain), ("encode_attributed", &attributed)] {
        group.bench_function(format!("tls13-openssl/{name}"), |b| {
            b.iter(|| {
                for record in records {
                    encoded.clear();
                    encoder.session(record, &mut encoded).expect("encodes");
                    black_box(&encoded);
                }
            })
        });
        group.bench_function(format!("tls13-openssl/{name}_serde"), |b| {
            b.iter(|| {
                for record in records {
                    encoded.clear();
                    encode_record(record, &mut encoded).expect("encodes");
                    black_box(&encoded);
                }
            })
        });
    }
    let browser = browser_variants(&sessions, 4096);
    let mut cache = BuildCaches::default();
    group.throughput(Throughput::Elements(browser.len() as u64));
    group.bench_function("tls13-openssl/browser_hellos", |b| {
        b.iter(|| build_encode_all(&browser, &mut cache, &mut encoder, &mut encoded))
    });
    group.finish();
}

/// The writer's build and encode steps for each session.
fn build_encode_all(
    sessions: &[FinishedSession],
    cache: &mut BuildCaches,
    encoder: &mut RecordEncoder,
    encoded: &mut Vec<u8>,
) {
    for finished in sessions {
        let record = session_record(finished, cache);
        encoded.clear();
        encoder.session(&record, encoded).expect("encodes");
        black_box(&encoded);
    }
}

/// `count` copies of the first session whose ClientHello has its
/// extensions in another order and a GREASE cipher and extension of
/// another value each time, as a browser's successive connections do.
fn browser_variants(sessions: &[FinishedSession], count: u16) -> Vec<FinishedSession> {
    let (summary, context, outcome) = sessions[0].parts();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..count)
        .map(|index| {
            let mut summary = summary.clone();
            let hello = summary.client_hello.as_mut().expect("a ClientHello");
            let grease = 0x0a0a + 0x1010 * (index % 16);
            hello.cipher_suites.insert(0, grease);
            hello.extensions.push(RawExtension {
                extension_type: grease,
                length: 0,
            });
            for at in (1..hello.extensions.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                hello
                    .extensions
                    .swap(at, (state % (at as u64 + 1)) as usize);
            }
            FinishedSession::new(summary, context.clone(), outcome.clone())
        })
        .collect()
}

criterion_group!(benches, build_and_encode);
criterion_main!(benches);
