//! `cipherlens`: command-line entry point.
//!
//! Subcommands: `replay` (capture files -> session records, no root
//! needed). Live capture (`run`) lands with the TC programs' user side.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cipherlens_sensor::output::{BackgroundWriter, JsonLinesWriter};
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::record::FinishedSession;
use cipherlens_sensor::record::certificate_cache::CertificateCache;
use cipherlens_sensor::replay::replay_file;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Records waiting for the writer thread at most.
const RECORD_QUEUE: usize = 1024;

#[derive(Parser)]
#[command(
    name = "cipherlens",
    version,
    about = "TLS and QUIC handshake visibility for Linux nodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read pcap/pcapng files and print one JSON record per TLS or QUIC session.
    Replay {
        /// Capture files (pcap or pcapng).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write records to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Print a JSON summary of what was read to stderr at the end.
        #[arg(long)]
        stats: bool,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
}

/// Options of the session pipeline, shared by every input.
#[derive(Args)]
struct PipelineArgs {
    /// Largest TLS handshake message accepted, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    max_handshake_message: usize,
    /// Out-of-order bytes held per TCP direction before a hole is given up.
    #[arg(long, default_value_t = 1 << 20)]
    max_reassembly_bytes: usize,
    /// Also report the original-order JA4 forms (ja4_o, ja4_ro).
    #[arg(long)]
    ja4_original_order: bool,
}

impl PipelineArgs {
    fn config(&self) -> PipelineConfig {
        PipelineConfig {
            max_handshake_message: self.max_handshake_message,
            max_reassembly_bytes: self.max_reassembly_bytes,
            ja4_original_order: self.ja4_original_order,
            ..PipelineConfig::default()
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("CIPHERLENS_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cipherlens: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay {
            files,
            output,
            stats,
            pipeline,
        } => {
            let writer = match &output {
                Some(path) => JsonLinesWriter::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
                None => JsonLinesWriter::stdout(),
            };
            let mut certificates = CertificateCache::default();
            let mut writer = BackgroundWriter::spawn(writer, RECORD_QUEUE, move |finished| {
                FinishedSession::into_record(finished, &mut certificates)
            })
            .context("starting the record writer")?;
            let mut exit = ExitCode::SUCCESS;
            for file in files {
                let config = pipeline.config();
                let mut writer_stopped = false;
                let result = replay_file(&file, config, |record| {
                    writer_stopped = writer_stopped || writer.send(record).is_err();
                });
                if writer_stopped {
                    let error = writer.finish().err().unwrap_or_else(|| {
                        std::io::Error::other("the record writer stopped early")
                    });
                    return Err(error).context("writing records");
                }
                let report = match result {
                    Ok(report) => report,
                    Err(error) => {
                        eprintln!("cipherlens: {error}");
                        exit = ExitCode::FAILURE;
                        *error.partial
                    }
                };
                if stats {
                    eprintln!("{}", serde_json::to_string(&report)?);
                }
            }
            writer.finish().context("writing records")?;
            Ok(exit)
        }
    }
}
