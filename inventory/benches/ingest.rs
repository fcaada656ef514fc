//! Ingest throughput into SQLite, from the real records under `tests/data`
//! repeated: batches of 10,000 records folded and committed to a file
//! database (WAL), as a JetStream consumer would.
//!
//! - `parsed`: records already deserialized (the sensor's in-process path);
//! - `json_lines`: each JSON line read by `Batch::ingest_json` (a consumer
//!   of the NATS stream or of files);
//! - `json_lines_as_records`: each line parsed into a `SessionRecord` first
//!   (a consumer that evaluates the policy itself);
//! - `json_lines_2_threads`: `ingest_json` on two threads, each folding half
//!   of the batch, combined with `Batch::absorb` and committed once (how a
//!   consumer uses more than one core);
//! - `json_lines_distinct`: `ingest_json`, but every record has a server
//!   endpoint of its own, so nothing collapses within a batch (the worst
//!   case: every record writes new rows).

use std::hint::black_box;
use std::path::Path;

use cipherlens_inventory::{Inventory, Position};
use cipherlens_record::SessionRecord;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 10_000;

fn lines() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut lines = Vec::new();
    for file in [
        "live-node-a.jsonl",
        "live-node-b.jsonl",
        "replay-fixtures.jsonl",
        "replay-corpus.jsonl",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("test data");
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// `count` lines cycling through the real ones; with `distinct`, each gets
/// its own server address and client port.
fn workload(count: usize, distinct: bool) -> Vec<String> {
    let lines = lines();
    (0..count)
        .map(|index| {
            let line = &lines[index % lines.len()];
            if !distinct {
                return line.clone();
            }
            let mut record: SessionRecord = serde_json::from_str(line).unwrap();
            record.server.address = format!(
                "10.{}.{}.{}",
                index >> 16 & 255,
                index >> 8 & 255,
                index & 255
            );
            record.client.port = (index % 60_000) as u16 + 1024;
            serde_json::to_string(&record).unwrap()
        })
        .collect()
}

fn ingest_lines(inventory: &mut Inventory, lines: &[String], start: u64, as_records: bool) {
    let mut batch = inventory.batch("bench").unwrap();
    for (offset, line) in lines.iter().enumerate() {
        let position = Position {
            source: "jetstream:bench",
            sequence: start + offset as u64,
        };
        if as_records {
            let record: SessionRecord = serde_json::from_str(line).unwrap();
            batch.ingest(&record, &[], Some(position)).unwrap();
        } else {
            batch.ingest_json(line, &[], Some(position)).unwrap();
        }
    }
    black_box(inventory.commit(batch).unwrap());
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);

    let same = workload(BATCH, false);
    let parsed: Vec<SessionRecord> = same
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut inventory = Inventory::open(dir.path().join("parsed.db")).unwrap();
    group.bench_function("parsed", |b| {
        b.iter(|| {
            let mut batch = inventory.batch("bench").unwrap();
            for record in &parsed {
                batch.ingest(record, &[], None).unwrap();
            }
            black_box(inventory.commit(batch).unwrap());
        })
    });

    for (name, as_records) in [("json_lines", false), ("json_lines_as_records", true)] {
        let mut inventory = Inventory::open(dir.path().join(format!("{name}.db"))).unwrap();
        let mut next = 1u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                ingest_lines(&mut inventory, &same, next, as_records);
                next += BATCH as u64;
            })
        });
    }

    let mut inventory = Inventory::open(dir.path().join("threads.db")).unwrap();
    let mut next = 1u64;
    group.bench_function("json_lines_2_threads", |b| {
        b.iter(|| {
            let mut halves = [
                inventory.batch("bench").unwrap(),
                inventory.batch("bench").unwrap(),
            ];
            let start = next;
            std::thread::scope(|scope| {
                for (part, (batch, lines)) in
                    halves.iter_mut().zip(same.chunks(BATCH / 2)).enumerate()
                {
                    scope.spawn(move || {
                        for (offset, line) in lines.iter().enumerate() {
                            let position = Position {
                                source: "jetstream:bench",
                                sequence: start + (part * BATCH / 2 + offset) as u64,
                            };
                            batch.ingest_json(line, &[], Some(position)).unwrap();
                        }
                    });
                }
            });
            let [mut first, second] = halves;
            first.absorb(second).unwrap();
            black_box(inventory.commit(first).unwrap());
            next += BATCH as u64;
        })
    });

    let distinct = workload(BATCH * 4, true);
    let mut inventory = Inventory::open(dir.path().join("distinct.db")).unwrap();
    let mut next = 1u64;
    let mut round = 0usize;
    group.bench_function("json_lines_distinct", |b| {
        b.iter_batched(
            || {
                round += 1;
                let chunk = (round % 4) * BATCH;
                distinct[chunk..chunk + BATCH].to_vec()
            },
            |lines| {
                ingest_lines(&mut inventory, &lines, next, false);
                next += BATCH as u64;
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
