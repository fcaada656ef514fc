//! `cipherlens inventory`: the crypto inventory (`cipherlens-inventory`)
//! from session records, merged across nodes, exported for auditors.
//!
//! - `ingest`: JSON lines (files or stdin), or a JetStream stream through a
//!   durable pull consumer, into the database, each session with the
//!   policy's findings about it. A file's records are positioned by line, a
//!   stream's by stream sequence, and the position is committed with the
//!   rows (then the messages acknowledged), so ingesting again, or after a
//!   crash or restart, counts nothing twice.
//! - `merge`: node databases into one; merging the same one twice changes
//!   nothing.
//! - `export`: CycloneDX 1.6 CBOM, JSON, CSV or a report for a terminal.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use cipherlens_inventory::export::{csv, cyclonedx, json, table};
use cipherlens_inventory::time::Timestamp;
use cipherlens_inventory::{Batch, Error as InventoryError, Inventory, Position};
use cipherlens_policy::Policy;
use cipherlens_record::session::SessionRecord;
use cipherlens_sensor::time as crate_time;
use clap::{Args, Subcommand, ValueEnum};

/// Records folded into one transaction at most.
const BATCH_RECORDS: usize = 10_000;

#[derive(Args)]
pub struct InventoryArgs {
    #[command(subcommand)]
    command: InventoryCommand,
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Add session records (JSON lines from files, or `-` for stdin) to the database.
    Ingest(IngestArgs),
    /// Merge node databases into one (idempotent).
    Merge(MergeArgs),
    /// Write the inventory as a CycloneDX 1.6 CBOM, JSON, CSV or a report.
    Export(ExportArgs),
}

#[derive(Args)]
struct IngestArgs {
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
    #[arg(required_unless_present = "stream")]
    inputs: Vec<PathBuf>,
    /// NATS server(s) of the JetStream stream.
    #[arg(long, env = "CIPHERLENS_NATS_URL", requires = "stream")]
    nats_url: Option<String>,
    /// Read this JetStream stream (e.g. one over `cipherlens.*.session.>`).
    #[arg(long, requires = "nats_url", conflicts_with = "inputs")]
    stream: Option<String>,
    /// Durable consumer name: a restarted ingest resumes where it stopped.
    #[arg(long, default_value = "cipherlens-inventory")]
    durable: String,
    /// Only these subjects of the stream (e.g. `cipherlens.*.session.>`;
    /// default: all of it, other record kinds skipped and counted).
    #[arg(long)]
    filter_subject: Option<String>,
    /// Stop after this many seconds without a message (default: run until
    /// interrupted).
    #[arg(long)]
    idle_exit: Option<u64>,
}

#[derive(Args)]
struct MergeArgs {
    /// The database merged into (created when missing).
    #[arg(long)]
    db: PathBuf,
    /// Node databases to merge.
    #[arg(required = true)]
    sources: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Cyclonedx,
    Json,
    Csv,
    Table,
}

#[derive(Args)]
struct ExportArgs {
    #[arg(long, env = "CIPHERLENS_INVENTORY_DB")]
    db: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Indented JSON (CycloneDX).
    #[arg(long)]
    pretty: bool,
    /// Rows per section of the report at most.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub fn run(args: InventoryArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        InventoryCommand::Ingest(args) => ingest(args),
        InventoryCommand::Merge(args) => merge(args),
        InventoryCommand::Export(args) => export(args),
    }
}

/// What an ingest read.
#[derive(Debug, Default, serde::Serialize)]
struct IngestReport {
    records: u64,
    already_applied: u64,
    /// Lines that are records of another kind (CNFlow, alerts, stats).
    other_records: u64,
    /// Lines that are not a session record, by reason.
    refused: std::collections::BTreeMap<&'static str, u64>,
}

fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let policy = match &args.policy {
        Some(path) => Policy::load(path).context("loading the policy")?,
        None => Policy::default(),
    };
    let mut inventory = Inventory::open(&args.db)
        .with_context(|| format!("opening the inventory {}", args.db.display()))?;
    let mut report = IngestReport::default();
    if let (Some(url), Some(stream)) = (&args.nats_url, &args.stream) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let consumer = Consumer {
            url,
            stream,
            durable: &args.durable,
            filter_subject: args.filter_subject.as_deref(),
            idle_exit: args.idle_exit.map(std::time::Duration::from_secs),
        };
        runtime.block_on(consumer.run(&policy, &args.node, &mut inventory, &mut report))?;
        eprintln!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    for input in &args.inputs {
        let (reader, source): (Box<dyn BufRead>, Option<String>) = if input == Path::new("-") {
            (Box::new(BufReader::new(std::io::stdin().lock())), None)
        } else {
            let file = std::fs::File::open(input)
                .with_context(|| format!("opening {}", input.display()))?;
            let canonical = input.canonicalize().unwrap_or_else(|_| input.clone());
            (
                Box::new(BufReader::new(file)),
                Some(format!("file:{}", canonical.display())),
            )
        };
        ingest_lines(
            reader,
            source.as_deref(),
            &policy,
            &args.node,
            &mut inventory,
            &mut report,
        )
        .with_context(|| format!("ingesting {}", input.display()))?;
    }
    eprintln!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn ingest_lines(
    reader: Box<dyn BufRead + '_>,
    source: Option<&str>,
    policy: &Policy,
    node: &str,
    inventory: &mut Inventory,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    let mut batch = inventory.batch(node)?;
    let mut in_batch = 0;
    for (index, line) in reader.lines().enumerate() {
        let line = line.context("reading records")?;
        let position = source.map(|source| Position {
            source,
            sequence: index as u64 + 1,
        });
        let record = match serde_json::from_str::<SessionRecord>(&line) {
            Ok(record) => record,
            Err(_) => {
                if other_kind(line.as_bytes()) {
                    report.other_records += 1;
                } else {
                    *report.refused.entry("not_a_session_record").or_default() += 1;
                }
                if let Some(position) = position {
                    batch.advance(position)?;
                }
                continue;
            }
        };
        let findings = policy.findings(&record);
        match batch.ingest(&record, &findings, position) {
            Ok(_) => {}
            Err(error @ InventoryError::BadTime { .. }) => {
                tracing::warn!(%error, line = index + 1, "record refused");
                *report.refused.entry(error.reason()).or_default() += 1;
            }
            Err(error) => return Err(error.into()),
        }
        in_batch += 1;
        if in_batch == BATCH_RECORDS {
            commit(
                inventory,
                std::mem::replace(&mut batch, inventory.batch(node)?),
                report,
            )?;
            in_batch = 0;
        }
    }
    commit(inventory, batch, report)
}

/// A JetStream durable pull consumer feeding the inventory.
struct Consumer<'a> {
    url: &'a str,
    stream: &'a str,
    durable: &'a str,
    filter_subject: Option<&'a str>,
    idle_exit: Option<std::time::Duration>,
}

/// Messages fetched per round at most (one transaction each).
const FETCH: usize = 1000;

impl Consumer<'_> {
    /// Fetches, folds and commits round after round: the rows and the
    /// last stream sequence in one transaction, then the acknowledgement
    /// (AckAll). A message redelivered after a crash between the two is
    /// recognised by its sequence and not counted again.
    async fn run(
        &self,
        policy: &Policy,
        node: &str,
        inventory: &mut Inventory,
        report: &mut IngestReport,
    ) -> anyhow::Result<()> {
        use async_nats::jetstream::consumer::{AckPolicy, pull};
        use futures_util::StreamExt as _;
        let client = async_nats::connect(self.url)
            .await
            .with_context(|| format!("connecting to NATS at {}", self.url))?;
        let jetstream = async_nats::jetstream::new(client);
        let stream = jetstream
            .get_stream(self.stream)
            .await
            .with_context(|| format!("JetStream stream {}", self.stream))?;
        let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                self.durable,
                pull::Config {
                    durable_name: Some(self.durable.to_string()),
                    ack_policy: AckPolicy::All,
                    filter_subject: self.filter_subject.unwrap_or_default().to_string(),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("durable consumer {}", self.durable))?;
        let source = format!("jetstream:{}:{}", self.stream, self.durable);
        let mut idle_since = std::time::Instant::now();
        loop {
            let mut messages = consumer
                .fetch()
                .max_messages(FETCH)
                .expires(std::time::Duration::from_secs(1))
                .messages()
                .await
                .context("fetching from JetStream")?;
            let mut batch = inventory.batch(node)?;
            let mut last = None;
            while let Some(message) = messages.next().await {
                let message = message.map_err(|error| anyhow::anyhow!("{error}"))?;
                let sequence = message
                    .info()
                    .map_err(|error| anyhow::anyhow!("{error}"))?
                    .stream_sequence;
                let position = Position {
                    source: &source,
                    sequence,
                };
                match serde_json::from_slice::<SessionRecord>(&message.payload) {
                    Ok(record) => {
                        let findings = policy.findings(&record);
                        if let Err(error) = batch.ingest(&record, &findings, Some(position)) {
                            *report.refused.entry(error.reason()).or_default() += 1;
                        }
                    }
                    Err(_) => {
                        if other_kind(&message.payload) {
                            report.other_records += 1;
                        } else {
                            *report.refused.entry("not_a_session_record").or_default() += 1;
                        }
                        batch.advance(position)?;
                    }
                }
                last = Some(message);
            }
            let Some(last) = last else {
                if self
                    .idle_exit
                    .is_some_and(|limit| idle_since.elapsed() >= limit)
                {
                    return Ok(());
                }
                continue;
            };
            commit(inventory, batch, report)?;
            last.ack()
                .await
                .map_err(|error| anyhow::anyhow!("acknowledging: {error}"))?;
            idle_since = std::time::Instant::now();
        }
    }
}

/// Whether `json` is a cipherlens record of another kind (CNFlow, alert,
/// stats) rather than a broken session record.
fn other_kind(json: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Schema {
        schema: String,
    }
    serde_json::from_slice::<Schema>(json).is_ok_and(|record| {
        record.schema.starts_with("cipherlens.") && record.schema != "cipherlens.session/v1"
    })
}

fn commit(
    inventory: &mut Inventory,
    batch: Batch,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    let committed = inventory.commit(batch)?;
    report.records += committed.records;
    report.already_applied += committed.already_applied;
    Ok(())
}

fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let mut inventory = Inventory::open(&args.db)
        .with_context(|| format!("opening the inventory {}", args.db.display()))?;
    for source in &args.sources {
        let merged = inventory
            .merge_from(source)
            .with_context(|| format!("merging {}", source.display()))?;
        eprintln!(
            "{}",
            serde_json::json!({ "merged": source.display().to_string(), "rows": format!("{merged:?}") })
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if !args.db.exists() {
        anyhow::bail!("no inventory at {}", args.db.display());
    }
    let inventory = Inventory::open(&args.db)
        .with_context(|| format!("opening the inventory {}", args.db.display()))?;
    let snapshot = inventory.snapshot().context("reading the inventory")?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let now = Timestamp::from_unix_seconds(
        i64::try_from(crate_time::unix_now_nanos() / 1_000_000_000).unwrap_or(i64::MAX),
    );
    match args.format {
        Format::Cyclonedx => cyclonedx::write(
            &snapshot,
            &cyclonedx::Options {
                timestamp: now.to_rfc3339_seconds(),
                serial_number: Some(cyclonedx::random_serial_number()?),
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                pretty: args.pretty,
            },
            out,
        )?,
        Format::Json => json::write(&snapshot, &now.to_rfc3339_seconds(), out)?,
        Format::Csv => csv::write(&snapshot, out)?,
        Format::Table => table::write(
            &snapshot,
            &table::Options {
                now,
                limit: args.limit,
            },
            out,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
