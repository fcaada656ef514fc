//! ClientHello throughput: parse + JA3 + JA4, the per-connection work the
//! sensor does on every TLS and QUIC client it sees.
//!
//! Why it matters: a busy node opens tens of thousands of connections per
//! second, and this work runs on the sensor's event path; the budget is
//! 300,000 hellos per second on one core. The inputs are real ClientHello
//! bodies (browsers, curl, TLS 1.2/1.3, QUIC, STARTTLS) from the
//! conformance captures, in `benches/data/`, written by
//! `fuzz/extract_seeds.py`. Throughput is reported in hellos per second
//! (criterion's elements/s); the stages are also timed separately to show
//! where the time goes. `parse_ja3_ja4` is the default per-hello work
//! (JA3 string and hash, JA4 and `ja4_r`); `ja4_original_order` is the
//! extra cost of `--ja4-original-order` (`ja4_o`, `ja4_ro`).
//!
//! Run: `cargo bench -p cipherlens-parsers --bench client_hello`.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use cipherlens_parsers::fingerprint::{Transport, ja3, ja4};
use cipherlens_parsers::tls::ClientHello;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The sensor binary's allocator (see sensor/src/main.rs), so the figures
/// are the sensor's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The ClientHello bodies (without handshake header) in `benches/data/`.
fn real_client_hellos() -> Vec<Vec<u8>> {
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    let mut paths: Vec<_> = fs::read_dir(&data_dir)
        .unwrap_or_else(|error| panic!("{}: {error}", data_dir.display()))
        .map(|entry| entry.expect("listing benches/data").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "bin"))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no ClientHello bodies in {}",
        data_dir.display()
    );
    paths
        .iter()
        .map(|path| fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())))
        .collect()
}

fn parse(body: &[u8]) -> ClientHello {
    ClientHello::parse(body).expect("benchmark data holds valid ClientHellos")
}

fn bench_client_hello(c: &mut Criterion) {
    let bodies = real_client_hellos();
    let hellos: Vec<ClientHello> = bodies.iter().map(|body| parse(body)).collect();

    let mut group = c.benchmark_group("client_hello");
    group.throughput(Throughput::Elements(bodies.len() as u64));
    group.bench_function("parse_ja3_ja4", |b| {
        b.iter(|| {
            for body in &bodies {
                let hello = parse(black_box(body));
                black_box(ja3::ja3(&hello));
                black_box(ja4::ja4(&hello, Transport::Tcp));
            }
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(parse(black_box(body)));
            }
        })
    });
    group.bench_function("ja3", |b| {
        b.iter(|| {
            for hello in &hellos {
                black_box(ja3::ja3(black_box(hello)));
            }
        })
    });
    group.bench_function("ja4", |b| {
        b.iter(|| {
            for hello in &hellos {
                black_box(ja4::ja4(black_box(hello), Transport::Tcp));
            }
        })
    });
    group.bench_function("ja4_original_order", |b| {
        b.iter(|| {
            for hello in &hellos {
                black_box(ja4::ja4_original_order(black_box(hello), Transport::Tcp));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_client_hello);
criterion_main!(benches);
