//! Sessions through the packet thread's pipeline per second: frame decode,
//! flow lookup, TCP reassembly (or QUIC Initial decryption) and hello
//! parsing, up to the finished session handed to the record writer.
//!
//! Why it matters: under a handshake load this is most of the packet
//! thread, the other half of the sensor's CPU per handshake beside the
//! record writer (`record_build`). Live figures (`scripts/bench-live.sh`
//! section 2) move by a few ticks between runs; this measures the same
//! work on real captures without a load's noise.
//!
//! Each fixture capture's frames are read into memory once; an iteration
//! runs them through a new pipeline, as `replay` does, and counts the
//! sessions it finishes.
//!
//! Run: `cargo bench -p cipherlens-sensor --bench session_pipeline`.

use std::hint::black_box;
use std::path::Path;

use cipherlens_capture::{CaptureReader, Frame, decode_frame};
use cipherlens_sensor::pipeline::{PipelineConfig, SessionPipeline};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The sensor binary's allocator (see sensor/src/main.rs), so the figures
/// are the sensor's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// TLS 1.3, TLS 1.2 with its chain in the clear, and QUIC.
const FIXTURES: [&str; 3] = ["tls13-openssl", "tls12-openssl", "quic-aioquic"];

fn frames(name: &str) -> Vec<Frame> {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pcaps")
        .join(format!("{name}.pcap"));
    let mut reader =
        CaptureReader::open(&pcap).unwrap_or_else(|error| panic!("{}: {error}", pcap.display()));
    let mut frames = Vec::new();
    while let Some(frame) = reader
        .next_frame()
        .unwrap_or_else(|error| panic!("{}: {error}", pcap.display()))
    {
        frames.push(frame);
    }
    frames
}

/// Runs `frames` through a new pipeline; the sessions it finished.
fn run(frames: &[Frame]) -> usize {
    let mut sessions = 0;
    let mut pipeline = SessionPipeline::new(PipelineConfig::default(), |session| {
        black_box(session);
        sessions += 1;
    });
    for frame in frames {
        if let Ok(packet) = decode_frame(frame.link_type, &frame.data) {
            pipeline.on_packet(&packet, frame.timestamp_ns);
        }
    }
    pipeline.finish_all();
    drop(pipeline);
    sessions
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_pipeline");
    for name in FIXTURES {
        let frames = frames(name);
        let sessions = run(&frames);
        assert!(sessions > 0, "{name}: no session");
        group.throughput(Throughput::Elements(sessions as u64));
        group.bench_function(name, |b| b.iter(|| run(black_box(&frames))));
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
