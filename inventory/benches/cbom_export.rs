//! CBOM export of a large inventory: 10,000 server endpoints, 50,000
//! certificates (each endpoint's chain of five, made distinct from the real
//! five-certificate chain in `tests/data`), 1,000 client workloads, 30,000
//! sessions, built with the library's own ingest.
//!
//! The export runs in a child process (this binary again) so its peak
//! resident set is its own: the child reads `VmHWM` from
//! `/proc/self/status` after writing the BOM. Run with
//! `cargo bench -p cipherlens-inventory --bench cbom_export`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use cipherlens_inventory::export::cyclonedx;
use cipherlens_inventory::{Inventory, Position};
use cipherlens_record::SessionRecord;
use cipherlens_record::attribution::{Executable, ProcessInfo};
use cipherlens_record::certificate::CertificateSummary;
use cipherlens_record::session::Named;

const ENDPOINTS: usize = 10_000;
const WORKLOADS: usize = 1_000;
const CHILD: &str = "CIPHERLENS_BENCH_CBOM_EXPORT";

fn records(file: &str) -> Vec<SessionRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `kB` value of a `/proc/self/status` field.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn distinct_certificate(
    template: &CertificateSummary,
    endpoint: usize,
    position: usize,
) -> Arc<CertificateSummary> {
    let mut certificate = template.clone();
    let serial = endpoint * 8 + position;
    certificate.fingerprint_sha256 = format!("{serial:064x}");
    certificate.fingerprint_sha1 = format!("{serial:040x}");
    certificate.serial_number = format!("{serial:X}");
    certificate.subject_key_identifier = Some(format!("{serial:040x}"));
    if position == 0 {
        let name = format!("svc-{endpoint}.bench.test");
        certificate.subject = format!("CN={name},O=Bench");
        certificate.subject_common_name = Some(name.clone());
        if let Some(names) = certificate.subject_alt_names.as_mut() {
            names.dns = vec![name];
        }
    }
    certificate.public_key.bits = Some([2048, 3072, 4096][serial % 3]);
    certificate.not_after = format!(
        "20{:02}-{:02}-15T00:00:00Z",
        27 + endpoint % 5,
        1 + endpoint % 12
    );
    Arc::new(certificate)
}

fn build(path: &Path) {
    let chain_template = records("replay-fixtures.jsonl")
        .into_iter()
        .find(|r| r.cipherlens.tls.server_certificates.len() == 5)
        .expect("the five-certificate chain");
    let hybrid_template = records("live-node-a.jsonl")
        .into_iter()
        .find(|r| r.cipherlens.tls.post_quantum_key_exchange)
        .expect("a hybrid session");
    let suites: Vec<Named> = chain_template
        .cipherlens
        .tls
        .client_hello
        .as_ref()
        .unwrap()
        .cipher_suites
        .iter()
        .filter(|suite| suite.name.contains("_WITH_"))
        .cloned()
        .collect();
    let mut inventory = Inventory::open(path).unwrap();
    let started = Instant::now();
    let mut batch = inventory.batch("bench-node").unwrap();
    let mut sequence = 0u64;
    let mut sessions = 0usize;
    for endpoint in 0..ENDPOINTS {
        let chain: Vec<Arc<CertificateSummary>> = chain_template
            .cipherlens
            .tls
            .server_certificates
            .iter()
            .enumerate()
            .map(|(position, template)| distinct_certificate(template, endpoint, position))
            .collect();
        for client in 0..3 {
            let mut record = if client == 2 {
                hybrid_template.clone()
            } else {
                chain_template.clone()
            };
            record.host = None;
            record.server.address = format!(
                "10.{}.{}.{}",
                endpoint >> 16 & 255,
                endpoint >> 8 & 255,
                endpoint & 255
            );
            record.server.port = 443;
            record.tls.client.server_name = Some(format!("svc-{endpoint}.bench.test"));
            let workload = (endpoint * 3 + client) % WORKLOADS;
            std::sync::Arc::make_mut(&mut record.client.attribution).process = Some(ProcessInfo {
                pid: 1000 + workload as u32,
                parent_pid: None,
                executable: Some(Executable {
                    name: Some(format!("client-{workload}")),
                    path: Some(format!("/usr/local/bin/client-{workload}")),
                }),
                command_line: None,
                user: None,
                group: None,
            });
            if client < 2 {
                record.cipherlens.tls.server_certificates = chain.clone();
                record.cipherlens.tls.cipher = Some(suites[endpoint % suites.len()].clone());
            }
            sequence += 1;
            let position = Position {
                source: "bench",
                sequence,
            };
            batch.ingest(&record, &[], Some(position)).unwrap();
            sessions += 1;
        }
        if endpoint % 1000 == 999 {
            inventory.commit(batch).unwrap();
            batch = inventory.batch("bench-node").unwrap();
        }
    }
    inventory.commit(batch).unwrap();
    let elapsed = started.elapsed();
    println!(
        "built {path:?}: {ENDPOINTS} endpoints, {sessions} sessions in {:.2} s ({:.0} records/s), {:.1} MiB",
        elapsed.as_secs_f64(),
        sessions as f64 / elapsed.as_secs_f64(),
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0
    );
}

/// The child: export and report time and peak RSS.
fn export(database: &str) {
    let before = status_kib("VmHWM:");
    let started = Instant::now();
    let inventory = Inventory::open(database).unwrap();
    let snapshot = inventory.snapshot().unwrap();
    let read = started.elapsed();
    let output = Path::new(database).with_extension("cdx.json");
    let file = std::io::BufWriter::new(std::fs::File::create(&output).unwrap());
    let options = cyclonedx::Options {
        timestamp: "2026-11-29T12:00:00Z".into(),
        serial_number: Some(cyclonedx::random_serial_number().unwrap()),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        pretty: false,
    };
    cyclonedx::write(&snapshot, &options, file).unwrap();
    let total = started.elapsed();
    println!(
        "export: {} endpoints, {} certificates; read {:.2} s, total {:.2} s; BOM {:.1} MiB; peak RSS {:.1} MiB (at start {:.1} MiB)",
        snapshot.endpoints.len(),
        snapshot.certificates.len(),
        read.as_secs_f64(),
        total.as_secs_f64(),
        std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0,
        status_kib("VmHWM:") as f64 / 1024.0,
        before as f64 / 1024.0,
    );
}

fn main() {
    if let Ok(database) = std::env::var(CHILD) {
        export(&database);
        return;
    }
    // `cargo test --benches` runs this with `--test`: no time for a bench.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = match std::env::var_os("CIPHERLENS_BENCH_DIR") {
        Some(kept) => Path::new(&kept).join("fleet.db"),
        None => dir.path().join("fleet.db"),
    };
    let _ = std::fs::remove_file(&database);
    build(&database);
    for _ in 0..3 {
        let status = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, &database)
            .status()
            .unwrap();
        assert!(status.success());
    }
}
