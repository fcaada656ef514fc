//! `cipherlens tls-libraries`: uprobe discovery (`cipherlens-uprobes`) as
//! a report. For each process (all of them, or those given), the files it
//! maps that carry TLS: library family and version, libssl, libcrypto or
//! both linked in, and the functions a uprobe would attach to, or why the
//! file cannot be hooked, with the process, container and pod as session
//! records name them. An operator sees which workloads still run
//! OpenSSL 1.1, and which TLS the sensor will not see from inside the
//! process (Go, rustls, stripped static copies).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cipherlens_sensor::attribution::{AttributionSources, Attributor};
use cipherlens_uprobes::{Discovery, FileVerdict, Limits, Role, Verdict};
use clap::Args;
use serde_json::{Value, json};

#[derive(Args)]
pub struct TlsLibrariesArgs {
    /// Only these processes (default: every process).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// Where procfs is mounted (a DaemonSet with the host's /proc elsewhere).
    #[arg(long, default_value = "/proc")]
    proc_root: PathBuf,
    /// Also list processes without TLS.
    #[arg(long)]
    all: bool,
    /// The kubelet's pod log directory (pod names and namespaces).
    #[arg(long, default_value = "/var/log/pods")]
    pods_log_dir: PathBuf,
    /// The kubelet's container log links (container names).
    #[arg(long, default_value = "/var/log/containers")]
    containers_log_dir: PathBuf,
}

pub fn run(args: TlsLibrariesArgs) -> anyhow::Result<ExitCode> {
    let pids = if args.pids.is_empty() {
        every_pid(&args.proc_root)?
    } else {
        args.pids.clone()
    };
    let mut discovery = Discovery::new(&args.proc_root, Limits::default());
    // The same process, container and pod fields session records carry.
    let mut attributor = Attributor::new(AttributionSources {
        proc_root: args.proc_root.clone(),
        pods_dir: args.pods_log_dir.clone(),
        containers_dir: args.containers_log_dir.clone(),
    });
    let mut skipped: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut processes = 0u64;
    let mut out = std::io::stdout().lock();
    for pid in pids {
        let scan = match discovery.scan(pid) {
            Ok(scan) => scan,
            Err(error) => {
                tracing::debug!(pid, %error, "process not scanned");
                *skipped.entry(error.reason()).or_default() += 1;
                continue;
            }
        };
        processes += 1;
        let files: Vec<Value> = scan
            .tls_files()
            .chain(scan.unreadable_files())
            .map(file_report)
            .collect();
        if scan.tls_files().next().is_none() && !args.all {
            continue;
        }
        let comm = std::fs::read_to_string(args.proc_root.join(pid.to_string()).join("comm"))
            .map(|comm| comm.trim_end().to_string())
            .unwrap_or_default();
        let mut line = json!({
            "pid": pid,
            "comm": comm,
            "flavour": scan.flavour().map(|flavour| flavour.as_str()),
            "files": files,
        });
        if let (Some(line), Ok(Value::Object(workload))) = (
            line.as_object_mut(),
            serde_json::to_value(attributor.attribute(pid)),
        ) {
            line.extend(workload);
        }
        writeln!(out, "{line}").context("writing the report")?;
    }
    let stats = discovery.stats();
    eprintln!(
        "{}",
        json!({
            "processes": processes,
            "skipped": skipped,
            "files_read": stats.files_read,
            "cache_hits": stats.cache_hits,
            "build_id_hits": stats.build_id_hits,
            "unreadable_files": stats.unreadable,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn file_report(file: &cipherlens_uprobes::MappedFile) -> Value {
    let mut report = json!({ "path": file.path, "inode": file.id.inode });
    let fields = match &*file.verdict {
        FileVerdict::Read {
            verdict: Verdict::Hookable(library),
            build_id,
            ..
        } => json!({
            "hookable": true,
            "flavour": library.flavour.as_str(),
            "version": library.version_text,
            "role": match library.role {
                Role::Ssl => "libssl",
                Role::Crypto => "libcrypto",
                Role::Static => "static",
            },
            "functions": library
                .functions
                .iter()
                .map(|(function, offset)| (function.symbol().to_string(), json!(offset)))
                .collect::<serde_json::Map<String, Value>>(),
            "build_id": build_id.as_ref().map(|id| hex(id)),
        }),
        FileVerdict::Read {
            verdict:
                Verdict::Unhookable {
                    reason,
                    version_text,
                },
            ..
        } => json!({ "hookable": false, "reason": reason.as_str(), "version": version_text }),
        FileVerdict::Read {
            verdict: Verdict::NotTls,
            ..
        } => json!({ "hookable": false, "tls": false }),
        FileVerdict::Unreadable { reason } => {
            json!({ "hookable": false, "unreadable": reason })
        }
    };
    if let (Some(report), Value::Object(fields)) = (report.as_object_mut(), fields) {
        report.extend(fields);
    }
    report
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn every_pid(proc_root: &std::path::Path) -> anyhow::Result<Vec<u32>> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_root)
        .with_context(|| format!("listing {}", proc_root.display()))?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}
