//! Policy evaluation throughput: the per-session work the sensor adds for
//! alerts.
//!
//! Why it matters: evaluation runs on every session the sensor emits, next
//! to parsing; the budget is 1,000,000 sessions per second on one core.
//! The inputs are the real session records of `testdata/sessions.jsonl`
//! (`cipherlens replay` of the fixture captures and the conformance
//! corpus: TLS 1.0-1.3, QUIC, resumptions, a 5-certificate chain, weak and
//! modern servers). Throughput is criterion's elements/s = sessions/s.
//!
//! - `evaluate/default`: `Policy::evaluate` with the built-in policy, what
//!   the sensor does per session (most records fire at least one rule).
//! - `evaluate/example`: the same with `policy.example.toml` (lists,
//!   exceptions with globs and endpoints, trust anchors).
//! - `evaluate_dedup`: evaluate, then the deduplicator for every hit, as
//!   the sensor runs it (a busy service: repeats are suppressed).
//! - `evaluate_write_up`: evaluate and write every hit up as a finding
//!   (message and evidence), the cost per published alert.
//!
//! Run: `cargo bench -p cipherlens-policy --bench evaluate`.

use std::hint::black_box;
use std::path::Path;

use cipherlens_policy::{Decision, DedupKey, Deduplicator, Policy, Timestamp};
use cipherlens_record::SessionRecord;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The sensor binary's allocator, so the figures are the sensor's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn real_sessions() -> Vec<SessionRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sessions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a session record"))
        .collect()
}

fn bench_evaluate(c: &mut Criterion) {
    let records = real_sessions();
    let default = Policy::default();
    let example = Policy::from_toml(include_str!("../policy.example.toml"), "example")
        .expect("the example policy is valid");
    let hits: usize = records.iter().map(|r| default.evaluate(r).len()).sum();
    eprintln!(
        "{} real sessions, {hits} hits with the default policy",
        records.len()
    );

    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("default", |b| {
        b.iter(|| {
            for record in &records {
                black_box(default.evaluate(black_box(record)));
            }
        })
    });
    group.bench_function("example", |b| {
        b.iter(|| {
            for record in &records {
                black_box(example.evaluate(black_box(record)));
            }
        })
    });
    group.finish();

    let times: Vec<Timestamp> = records
        .iter()
        .map(|r| Timestamp::parse_rfc3339(&r.event.start).expect("session time"))
        .collect();
    let mut group = c.benchmark_group("evaluate_dedup");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("default", |b| {
        let mut dedup = Deduplicator::new(default.dedup_window());
        b.iter(|| {
            let mut published = 0u32;
            for (record, time) in records.iter().zip(&times) {
                for hit in &default.evaluate(record) {
                    let key = DedupKey::new(hit.rule(), record);
                    if let Decision::Publish(_) = dedup.observe(&key, *time) {
                        published += 1;
                    }
                }
            }
            black_box(published)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("evaluate_write_up");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("default", |b| {
        b.iter(|| {
            for record in &records {
                black_box(default.findings(black_box(record)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_evaluate);
criterion_main!(benches);
