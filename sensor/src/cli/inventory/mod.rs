//! `cipherlens inventory`: the crypto inventory (`cipherlens-inventory`)
//! from session records, merged across nodes, exported for auditors.
//!
//! - `ingest`: session records from JSON-lines files, a JetStream stream or
//!   a plain NATS subject into the database, each with the policy's
//!   findings about it (`ingest/`).
//! - `merge`: node databases into one; merging the same one twice changes
//!   nothing.
//! - `export`: CycloneDX 1.6 CBOM, JSON, CSV or a report for a terminal.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cipherlens_inventory::Inventory;
use cipherlens_inventory::export::{csv, cyclonedx, json, table};
use cipherlens_inventory::time::Timestamp;
use cipherlens_sensor::time as crate_time;
use clap::{Args, Subcommand, ValueEnum};

mod ingest;

#[derive(Args)]
pub struct InventoryArgs {
    #[command(subcommand)]
    command: InventoryCommand,
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Add session records (JSON-lines files or stdin, a JetStream stream, a NATS subject) to the database.
    Ingest(ingest::IngestArgs),
    /// Merge node databases into one (idempotent).
    Merge(MergeArgs),
    /// Write the inventory as a CycloneDX 1.6 CBOM, JSON, CSV or a report.
    Export(ExportArgs),
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
        InventoryCommand::Ingest(args) => ingest::run(args),
        InventoryCommand::Merge(args) => merge(args),
        InventoryCommand::Export(args) => export(args),
    }
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
