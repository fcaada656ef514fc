//! `cipherlens`: command-line entry point.
//!
//! Subcommands: `replay` (capture files -> session records, no root
//! needed). Live capture (`run`) lands with the TC programs' user side.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use std::time::Duration;

use cipherlens_sensor::attribution::AttributionSources;
use cipherlens_sensor::live::interfaces::InterfaceFilter;
use cipherlens_sensor::live::{self, AttachMode, LiveError, LiveOptions, LiveStats, print_stats};
use cipherlens_sensor::output::{BackgroundWriter, JsonLinesWriter};
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::record::FinishedSession;
use cipherlens_sensor::record::certificate_cache::CertificateCache;
use cipherlens_sensor::replay::replay_file;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// mimalloc: records are allocated on the packet thread and freed on the
/// writer thread; glibc's arenas serialise such frees on a lock, mimalloc
/// frees them without one (replay ran measurably faster with it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records waiting for the writer thread at most.
const RECORD_QUEUE: usize = 1024;

#[derive(Parser)]
#[command(
    name = "cipherlens",
    version,
    about = "TLS and QUIC handshake visibility for Linux nodes"
)]
struct Cli {
    /// Without a subcommand: `live` with its defaults.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Capture TLS and QUIC handshakes on this node's interfaces (needs
    /// CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN) and print one JSON record per
    /// session; stats records go to stderr.
    Live(LiveArgs),
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

/// Options of live capture.
#[derive(Args)]
struct LiveArgs {
    /// Attach only to interfaces matching this glob (repeatable; default: all, loopback included).
    #[arg(long = "interface", short = 'i')]
    include: Vec<String>,
    /// Never attach to interfaces matching this glob (repeatable).
    #[arg(long = "exclude-interface")]
    exclude: Vec<String>,
    /// Payload bytes copied per flow at most (1 KiB to 16 MiB).
    #[arg(long, default_value_t = cipherlens_common::DEFAULT_FLOW_BYTE_BUDGET,
          value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024))]
    flow_byte_budget: u32,
    /// Seconds between stats records on stderr (0: only at exit).
    #[arg(long, default_value_t = 60)]
    stats_interval: u64,
    /// How TC programs are attached: TCX links (kernel >= 6.6) or netlink
    /// clsact filters; `auto` picks TCX where the kernel has it.
    #[arg(long, value_enum, default_value_t = AttachMode::Auto)]
    attach_mode: AttachMode,
    /// The kubelet's pod log directory (pod names and namespaces).
    #[arg(long, default_value = "/var/log/pods")]
    pods_log_dir: PathBuf,
    /// The kubelet's container log links (container names).
    #[arg(long, default_value = "/var/log/containers")]
    containers_log_dir: PathBuf,
    /// Write records to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

fn run_live(args: LiveArgs) -> anyhow::Result<ExitCode> {
    let writer = match &args.output {
        Some(path) => {
            JsonLinesWriter::create(path).with_context(|| format!("creating {}", path.display()))?
        }
        None => JsonLinesWriter::stdout(),
    };
    let options = LiveOptions {
        interfaces: InterfaceFilter {
            include: args.include,
            exclude: args.exclude,
        },
        flow_byte_budget: args.flow_byte_budget,
        stats_interval: (args.stats_interval > 0).then(|| Duration::from_secs(args.stats_interval)),
        attach_mode: args.attach_mode,
        attribution: AttributionSources {
            proc_root: PathBuf::from("/proc"),
            pods_dir: args.pods_log_dir,
            containers_dir: args.containers_log_dir,
        },
        pipeline: args.pipeline.config(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let stats = runtime.block_on(run_live_until_signal(options, writer))?;
    print_stats(&stats);
    Ok(ExitCode::SUCCESS)
}

async fn run_live_until_signal(
    options: LiveOptions,
    writer: JsonLinesWriter,
) -> Result<LiveStats, LiveError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(LiveError::Poll)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(LiveError::Poll)?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("signal received; detaching");
    };
    live::run_live(options, writer, shutdown).await
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
    /// Seed of network.community_id; use your other tools' seed (Zeek's
    /// and Suricata's default is 0) so the ids join.
    #[arg(long, default_value_t = 0)]
    community_id_seed: u16,
}

impl PipelineArgs {
    fn config(&self) -> PipelineConfig {
        PipelineConfig {
            max_handshake_message: self.max_handshake_message,
            max_reassembly_bytes: self.max_reassembly_bytes,
            ja4_original_order: self.ja4_original_order,
            community_id_seed: self.community_id_seed,
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
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
    let command =
        cli.command
            .unwrap_or_else(|| match Cli::parse_from(["cipherlens", "live"]).command {
                Some(live) => live,
                None => unreachable!("`live` parses as the live subcommand"),
            });
    match command {
        Command::Live(args) => run_live(args),
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
