//! `cipherlens inventory ingest`: session records into the inventory, each
//! with the policy's findings about it, from one of three sources:
//!
//! - JSON-lines files (or stdin): a file's records are positioned by line,
//!   so ingesting a file again counts nothing twice;
//! - a JetStream stream through a durable pull consumer: positioned by
//!   stream sequence, committed with the rows before the acknowledgement,
//!   so a restart, crash or redelivery counts nothing twice;
//! - a plain NATS subject (optionally in a queue group): at most once, as
//!   core NATS is; records published while no consumer listens are not
//!   seen, and a slow consumer's drops are counted in the report.
//!
//! Every source hands rounds of records to [`fold`], which reads and folds
//! them on every core and commits each round in one transaction.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use cipherlens_inventory::{Batch, Inventory};
use cipherlens_policy::Policy;
use clap::Args;

mod decode;
mod fold;
mod jetstream;
mod lines;
mod round;
mod subject;

use fold::{Folder, Tally};

/// Records folded into one transaction at most.
const BATCH_RECORDS: usize = 10_000;

/// A round from NATS is committed once its records hold this many bytes,
/// whatever their count, so memory stays bounded with large records.
const ROUND_BYTES: usize = 16 << 20;

/// A round from NATS is committed this long after its first record at the
/// latest, so a quiet stream's records do not wait for a full round.
const FLUSH_AFTER: Duration = Duration::from_millis(250);

#[derive(Args)]
pub struct IngestArgs {
    /// The inventory database (SQLite; created when missing).
    #[arg(long, env = "CIPHERLENS_INVENTORY_DB")]
    db: PathBuf,
    /// Node name for records without `host` (from `replay`).
    #[arg(long, default_value = "unknown")]
    node: String,
    /// Policy whose findings are counted with each session (default: the
    /// built-in policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// JSON-lines files of records (other record kinds are skipped); `-` is stdin.
    #[arg(required_unless_present_any = ["stream", "subject"])]
    inputs: Vec<PathBuf>,
    /// NATS server(s) of the stream or subject.
    #[arg(long, env = "CIPHERLENS_NATS_URL")]
    nats_url: Option<String>,
    /// Read this JetStream stream (e.g. one over `cipherlens.*.session.>`).
    #[arg(long, requires = "nats_url", conflicts_with_all = ["inputs", "subject"])]
    stream: Option<String>,
    /// Durable consumer name: a restarted ingest resumes where it stopped.
    #[arg(long, default_value = "cipherlens-inventory", requires = "stream")]
    durable: String,
    /// Only these subjects of the stream (e.g. `cipherlens.*.session.>`;
    /// default: all of it, other record kinds skipped and counted).
    #[arg(long, requires = "stream")]
    filter_subject: Option<String>,
    /// Subscribe to this plain NATS subject instead (e.g.
    /// `cipherlens.*.session.>`): at most once, no resume after a restart.
    #[arg(long, requires = "nats_url", conflicts_with = "inputs")]
    subject: Option<String>,
    /// Share the subject's records among the consumers of this queue group.
    #[arg(long, requires = "subject")]
    queue_group: Option<String>,
    /// Stop after this many seconds without a record (default: run until
    /// SIGTERM or SIGINT, which commit what was read before exiting).
    #[arg(long)]
    idle_exit: Option<u64>,
    /// Threads reading and folding records (default: one per core).
    #[arg(long)]
    threads: Option<std::num::NonZeroUsize>,
}

/// What an ingest read, printed on stderr at the end.
#[derive(Debug, Default, serde::Serialize)]
struct IngestReport {
    records: u64,
    already_applied: u64,
    /// Records of another kind (CNFlow, alerts, stats).
    other_records: u64,
    /// Records not counted, by reason.
    refused: std::collections::BTreeMap<&'static str, u64>,
    /// Messages the NATS client dropped because ingest fell behind (plain
    /// subjects only; JetStream redelivers instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    slow_consumer_drops: Option<u64>,
    /// Acknowledgements JetStream did not take (the records were committed;
    /// their redelivery is recognised and not counted again).
    #[serde(skip_serializing_if = "is_zero")]
    ack_failures: u64,
    /// JetStream pulls that failed and were renewed (missed heartbeats
    /// while the server was away, for example).
    #[serde(skip_serializing_if = "is_zero")]
    pull_interruptions: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl IngestReport {
    fn add(&mut self, tally: Tally) {
        self.other_records += tally.other_records;
        for (reason, count) in tally.refused {
            *self.refused.entry(reason).or_default() += count;
        }
    }

    /// Writes a folded round and counts it.
    fn commit(
        &mut self,
        inventory: &mut Inventory,
        (batch, tally): (Batch, Tally),
    ) -> anyhow::Result<()> {
        let committed = inventory.commit(batch)?;
        self.records += committed.records;
        self.already_applied += committed.already_applied;
        self.add(tally);
        Ok(())
    }
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let policy = match &args.policy {
        Some(path) => Policy::load(path).context("loading the policy")?,
        None => Policy::default(),
    };
    let mut inventory = Inventory::open(&args.db)
        .with_context(|| format!("opening the inventory {}", args.db.display()))?;
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let folder = Folder::new(&policy, &args.node, threads);
    let mut report = IngestReport::default();
    let idle_exit = args.idle_exit.map(Duration::from_secs);
    match (&args.nats_url, &args.stream, &args.subject) {
        (Some(url), Some(stream), _) => {
            let consumer = jetstream::Consumer {
                url,
                stream,
                durable: &args.durable,
                filter_subject: args.filter_subject.as_deref(),
                idle_exit,
            };
            nats_runtime()?.block_on(consumer.run(&folder, &mut inventory, &mut report))?;
        }
        (Some(url), None, Some(subject)) => {
            let subscriber = subject::Subscriber {
                url,
                subject,
                queue_group: args.queue_group.as_deref(),
                idle_exit,
            };
            nats_runtime()?.block_on(subscriber.run(&folder, &mut inventory, &mut report))?;
        }
        _ => lines::ingest_inputs(&args.inputs, &folder, &mut inventory, &mut report)?,
    }
    eprintln!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// One worker thread for the NATS client; folding runs beside it
/// (`block_in_place`), so the client keeps reading while a round is folded.
fn nats_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    tracing::info!("signal received; committing what was read");
    Ok(())
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The JSON lines of real session records under `inventory/tests/data`.
#[cfg(test)]
fn test_lines(files: &[&str]) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../inventory/tests/data");
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(dir.join(file)).expect("test data");
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}
