//! `cipherlens`: command-line entry point.
//!
//! Subcommands: `replay` (capture files -> session records, no root
//! needed). Live capture (`run`) lands with the TC programs' user side.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use std::time::Duration;

use cipherlens_record::StatsRecord;
use cipherlens_sensor::attribution::AttributionSources;
use cipherlens_sensor::cnflow::CnFlowConfig;
use cipherlens_sensor::config;
use cipherlens_sensor::live::interfaces::InterfaceFilter;
use cipherlens_sensor::live::{self, AttachMode, LiveError, LiveOptions, LiveOutputs};
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::publish::nats::{NatsCredentials, NatsOptions, NatsSink};
use cipherlens_sensor::publish::{Fanout, JsonLinesWriter, Sink};
use cipherlens_sensor::replay::replay_file;
use cipherlens_sensor::writer::{BackgroundWriter, Outgoing, RecordStages};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// mimalloc: records are allocated on the packet thread and freed on the
/// writer thread; glibc's arenas serialise such frees on a lock, mimalloc
/// frees them without one (replay ran measurably faster with it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records waiting for the writer thread at most.
const RECORD_QUEUE: usize = 1024;
/// How long `replay` waits at the end for NATS to take what is queued.
const REPLAY_PUBLISH_DRAIN: Duration = Duration::from_secs(30);

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
        /// Configuration file (TOML): its [pipeline] and [nats] sections apply.
        #[arg(long, env = "CIPHERLENS_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        nats: NatsArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
}

/// Options of live capture.
#[derive(Args)]
struct LiveArgs {
    /// Configuration file (TOML); command-line options and CIPHERLENS_* variables override it.
    #[arg(long, env = "CIPHERLENS_CONFIG")]
    config: Option<PathBuf>,
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
    /// No CNFlow flow records.
    #[arg(long)]
    no_cnflow: bool,
    /// Seconds between CNFlow update records of a flow that lasts (0: only at its end).
    #[arg(long, default_value_t = 60)]
    cnflow_report_interval: u64,
    /// Seconds without a packet after which a flow has ended.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    cnflow_idle_timeout: u64,
    /// Seconds between reads of the kernel's flow counters.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    cnflow_scan_interval: u64,
    /// Serve Prometheus /metrics and /healthz here (e.g. 127.0.0.1:9464; off by default).
    #[arg(long, env = "CIPHERLENS_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// The kubelet's pod log directory (pod names and namespaces).
    #[arg(long, default_value = "/var/log/pods")]
    pods_log_dir: PathBuf,
    /// The kubelet's container log links (container names).
    #[arg(long, default_value = "/var/log/containers")]
    containers_log_dir: PathBuf,
    /// Write records to this file (default: stdout, unless NATS is configured).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Rotate the --output file when it reaches this many bytes (0: never).
    #[arg(long, default_value_t = 0)]
    output_max_bytes: u64,
    /// Rotated --output files kept (FILE.1 is the newest).
    #[arg(long, default_value_t = 5)]
    output_keep: u32,
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// Publishing to NATS (records then go to NATS, and to `--output` if given).
#[derive(Args)]
struct NatsArgs {
    /// NATS server URL(s), comma-separated (nats://host:4222, tls://host:4222).
    #[arg(long, env = "CIPHERLENS_NATS_URL")]
    nats_url: Option<String>,
    /// First subject tokens: records go to <prefix>.tls.session.<node> etc.
    #[arg(long, env = "CIPHERLENS_NATS_PREFIX", default_value = "cipherlens")]
    nats_prefix: String,
    /// Node name in subjects (default: the host name).
    #[arg(long, env = "CIPHERLENS_NODE")]
    node: Option<String>,
    #[arg(long, env = "CIPHERLENS_NATS_USER", requires = "nats_password")]
    nats_user: Option<String>,
    #[arg(long, env = "CIPHERLENS_NATS_PASSWORD", hide_env_values = true)]
    nats_password: Option<String>,
    #[arg(long, env = "CIPHERLENS_NATS_TOKEN", hide_env_values = true)]
    nats_token: Option<String>,
    /// File holding an nkey seed (SU...).
    #[arg(long, env = "CIPHERLENS_NATS_NKEY_SEED_FILE")]
    nats_nkey_seed_file: Option<PathBuf>,
    /// A .creds file (JWT and seed).
    #[arg(long, env = "CIPHERLENS_NATS_CREDS")]
    nats_creds: Option<PathBuf>,
    /// CA bundle (PEM) to verify the NATS server.
    #[arg(long, env = "CIPHERLENS_NATS_CA")]
    nats_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, env = "CIPHERLENS_NATS_CERT", requires = "nats_key")]
    nats_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long, env = "CIPHERLENS_NATS_KEY", requires = "nats_cert")]
    nats_key: Option<PathBuf>,
    /// Require TLS to the server.
    #[arg(long)]
    nats_tls: bool,
    /// Publish through JetStream and wait for acks (a stream must cover the subjects).
    #[arg(long)]
    nats_jetstream: bool,
    /// Records buffered at most while NATS is unreachable; more are dropped and counted.
    #[arg(long, default_value_t = 100_000)]
    nats_buffer: usize,
}

impl NatsArgs {
    fn options(&self, url: &str, directives: bool) -> anyhow::Result<NatsOptions> {
        let credentials =
            if let (Some(user), Some(password)) = (&self.nats_user, &self.nats_password) {
                NatsCredentials::UserPassword {
                    user: user.clone(),
                    password: password.clone(),
                }
            } else if let Some(token) = &self.nats_token {
                NatsCredentials::Token(token.clone())
            } else if let Some(path) = &self.nats_nkey_seed_file {
                let seed = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the nkey seed file {}", path.display()))?;
                NatsCredentials::NkeySeed(seed.trim().to_string())
            } else if let Some(path) = &self.nats_creds {
                NatsCredentials::CredsFile(path.clone())
            } else {
                NatsCredentials::None
            };
        Ok(NatsOptions {
            url: url.to_string(),
            prefix: self.nats_prefix.clone(),
            node: self
                .node
                .clone()
                .unwrap_or_else(|| cipherlens_sensor::attribution::this_node().name),
            credentials,
            tls_ca: self.nats_ca.clone(),
            tls_client: self.nats_cert.clone().zip(self.nats_key.clone()),
            tls_required: self.nats_tls,
            jetstream: self.nats_jetstream,
            buffer: self.nats_buffer,
            directives,
        })
    }
}

/// stdout or `--output`, NATS, or both (`--output` with NATS); with NATS
/// and `directives`, also the directives it receives.
fn build_sink(
    output: Option<&PathBuf>,
    rotation: Option<(u64, u32)>,
    nats: &NatsArgs,
    directives: bool,
) -> anyhow::Result<LiveOutputs> {
    let file = match (output, rotation) {
        (Some(path), Some((max_bytes, keep))) => Some(
            JsonLinesWriter::create_rotating(path, max_bytes, keep)
                .with_context(|| format!("creating {}", path.display()))?,
        ),
        (Some(path), None) => Some(
            JsonLinesWriter::create(path)
                .with_context(|| format!("creating {}", path.display()))?,
        ),
        (None, _) => None,
    };
    let Some(url) = &nats.nats_url else {
        return Ok(LiveOutputs {
            sink: Box::new(file.unwrap_or_else(JsonLinesWriter::stdout)),
            publish_stats: None,
            directives: None,
        });
    };
    let mut sink = NatsSink::connect(nats.options(url, directives)?)?;
    let publish_stats = Some(sink.stats_source());
    let directives = sink.take_directives();
    let sink: Box<dyn Sink> = match file {
        Some(file) => Box::new(Fanout(vec![Box::new(file), Box::new(sink)])),
        None => Box::new(sink),
    };
    Ok(LiveOutputs {
        sink,
        publish_stats,
        directives,
    })
}

fn run_live(args: LiveArgs) -> anyhow::Result<ExitCode> {
    let rotation = (args.output_max_bytes > 0).then_some((args.output_max_bytes, args.output_keep));
    let outputs = build_sink(args.output.as_ref(), rotation, &args.nats, true)?;
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
        metrics_listen: args.metrics_listen,
        cnflow: (!args.no_cnflow).then(|| CnFlowConfig {
            report_interval_ns: args.cnflow_report_interval.saturating_mul(1_000_000_000),
            idle_timeout_ns: args.cnflow_idle_timeout.saturating_mul(1_000_000_000),
        }),
        cnflow_scan_interval: Duration::from_secs(args.cnflow_scan_interval),
        pipeline: args.pipeline.config(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let stats = runtime.block_on(run_live_until_signal(options, outputs))?;
    live::stats::print(&stats);
    Ok(ExitCode::SUCCESS)
}

async fn run_live_until_signal(
    options: LiveOptions,
    outputs: LiveOutputs,
) -> Result<StatsRecord, LiveError> {
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
    live::run_live(options, outputs, shutdown).await
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
    // One TLS provider for the NATS connection, chosen here rather than by
    // whichever rustls features a build happens to unify.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("CIPHERLENS_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cipherlens: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let mut matches = Cli::command().get_matches();
    if matches.subcommand().is_none() {
        // No subcommand: `live` with its defaults (environment included).
        matches = Cli::command().get_matches_from(["cipherlens", "live"]);
    }
    let cli = Cli::from_arg_matches(&matches)?;
    let Some(command) = cli.command else {
        unreachable!("a subcommand is always present here");
    };
    let sub = matches
        .subcommand()
        .map(|(_, sub)| sub.clone())
        .unwrap_or_default();
    // Given on the command line or in the environment: beats the file.
    let explicit = |id: &str| {
        matches!(
            sub.try_get_raw(id).ok().flatten().and(sub.value_source(id)),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    match command {
        Command::Live(mut args) => {
            if let Some(path) = &args.config {
                let file = config::load(path)?;
                apply_capture_config(&mut args, &file.capture, &explicit)?;
                apply_pipeline_config(&mut args.pipeline, &file.pipeline, &explicit);
                apply_nats_config(&mut args.nats, &file.nats, &explicit)?;
            }
            run_live(args)
        }
        Command::Replay {
            files,
            output,
            stats,
            config: config_path,
            mut nats,
            mut pipeline,
        } => {
            if let Some(path) = &config_path {
                let file = config::load(path)?;
                apply_pipeline_config(&mut pipeline, &file.pipeline, &explicit);
                apply_nats_config(&mut nats, &file.nats, &explicit)?;
            }
            let LiveOutputs {
                sink,
                publish_stats,
                ..
            } = build_sink(output.as_ref(), None, &nats, false)?;
            let mut stages = RecordStages::for_replay();
            let mut writer = BackgroundWriter::spawn(
                sink,
                RECORD_QUEUE,
                REPLAY_PUBLISH_DRAIN,
                move |item, sink| stages.run(item, sink),
            )
            .context("starting the record writer")?;
            let mut exit = ExitCode::SUCCESS;
            for file in files {
                let config = pipeline.config();
                let mut writer_stopped = false;
                let result = replay_file(&file, config, |record| {
                    writer_stopped =
                        writer_stopped || writer.send(Outgoing::Session(record)).is_err();
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
            if let Some(source) = publish_stats {
                let publish = source.stats();
                if stats {
                    eprintln!("{}", serde_json::json!({ "publish": publish }));
                }
                let lost = publish.dropped_buffer_full + publish.dropped_at_shutdown;
                if lost > 0 {
                    eprintln!("cipherlens: {lost} records were not published to NATS");
                    exit = ExitCode::FAILURE;
                }
            }
            Ok(exit)
        }
    }
}

/// `value` unless the option was given explicitly.
fn set<T>(target: &mut T, id: &str, value: &Option<T>, explicit: &impl Fn(&str) -> bool)
where
    T: Clone,
{
    if !explicit(id)
        && let Some(value) = value
    {
        *target = value.clone();
    }
}

fn set_option<T: Clone>(
    target: &mut Option<T>,
    id: &str,
    value: &Option<T>,
    explicit: &impl Fn(&str) -> bool,
) {
    if !explicit(id) && value.is_some() {
        *target = value.clone();
    }
}

fn apply_capture_config(
    args: &mut LiveArgs,
    file: &config::CaptureConfig,
    explicit: &impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    set(&mut args.include, "include", &file.interfaces, explicit);
    set(
        &mut args.exclude,
        "exclude",
        &file.exclude_interfaces,
        explicit,
    );
    set(
        &mut args.flow_byte_budget,
        "flow_byte_budget",
        &file.flow_byte_budget,
        explicit,
    );
    set(
        &mut args.stats_interval,
        "stats_interval",
        &file.stats_interval_seconds,
        explicit,
    );
    if let Some(mode) = &file.attach_mode
        && !explicit("attach_mode")
    {
        args.attach_mode = AttachMode::from_str(mode, true).map_err(anyhow::Error::msg)?;
    }
    set_option(
        &mut args.metrics_listen,
        "metrics_listen",
        &file.metrics_listen,
        explicit,
    );
    set(
        &mut args.pods_log_dir,
        "pods_log_dir",
        &file.pods_log_dir,
        explicit,
    );
    set(
        &mut args.containers_log_dir,
        "containers_log_dir",
        &file.containers_log_dir,
        explicit,
    );
    set_option(&mut args.output, "output", &file.output, explicit);
    set(
        &mut args.output_max_bytes,
        "output_max_bytes",
        &file.output_max_bytes,
        explicit,
    );
    set(
        &mut args.output_keep,
        "output_keep",
        &file.output_keep,
        explicit,
    );
    if let Some(enabled) = file.cnflow
        && !explicit("no_cnflow")
    {
        args.no_cnflow = !enabled;
    }
    set(
        &mut args.cnflow_report_interval,
        "cnflow_report_interval",
        &file.cnflow_report_interval_seconds,
        explicit,
    );
    set(
        &mut args.cnflow_idle_timeout,
        "cnflow_idle_timeout",
        &file.cnflow_idle_timeout_seconds,
        explicit,
    );
    set(
        &mut args.cnflow_scan_interval,
        "cnflow_scan_interval",
        &file.cnflow_scan_interval_seconds,
        explicit,
    );
    Ok(())
}

fn apply_pipeline_config(
    args: &mut PipelineArgs,
    file: &config::PipelineFileConfig,
    explicit: &impl Fn(&str) -> bool,
) {
    set(
        &mut args.max_handshake_message,
        "max_handshake_message",
        &file.max_handshake_message,
        explicit,
    );
    set(
        &mut args.max_reassembly_bytes,
        "max_reassembly_bytes",
        &file.max_reassembly_bytes,
        explicit,
    );
    set(
        &mut args.ja4_original_order,
        "ja4_original_order",
        &file.ja4_original_order,
        explicit,
    );
    set(
        &mut args.community_id_seed,
        "community_id_seed",
        &file.community_id_seed,
        explicit,
    );
}

fn apply_nats_config(
    args: &mut NatsArgs,
    file: &config::NatsFileConfig,
    explicit: &impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    set_option(&mut args.nats_url, "nats_url", &file.url, explicit);
    set(&mut args.nats_prefix, "nats_prefix", &file.prefix, explicit);
    set_option(&mut args.node, "node", &file.node, explicit);
    set_option(&mut args.nats_user, "nats_user", &file.user, explicit);
    if let Some(path) = &file.password_file
        && !explicit("nats_password")
    {
        args.nats_password = Some(config::read_secret(path)?);
    }
    if let Some(path) = &file.token_file
        && !explicit("nats_token")
    {
        args.nats_token = Some(config::read_secret(path)?);
    }
    set_option(
        &mut args.nats_nkey_seed_file,
        "nats_nkey_seed_file",
        &file.nkey_seed_file,
        explicit,
    );
    set_option(&mut args.nats_creds, "nats_creds", &file.creds, explicit);
    set_option(&mut args.nats_ca, "nats_ca", &file.ca, explicit);
    set_option(&mut args.nats_cert, "nats_cert", &file.cert, explicit);
    set_option(&mut args.nats_key, "nats_key", &file.key, explicit);
    set(&mut args.nats_tls, "nats_tls", &file.tls, explicit);
    set(
        &mut args.nats_jetstream,
        "nats_jetstream",
        &file.jetstream,
        explicit,
    );
    set(&mut args.nats_buffer, "nats_buffer", &file.buffer, explicit);
    Ok(())
}
