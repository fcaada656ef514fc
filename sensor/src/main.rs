//! `cipherlens`: parses the command line, sets up logging and runs the
//! subcommand (`live` when none is given). Each subcommand is in `cli/`.

mod cli;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::logging::LogFormat;

/// mimalloc: records are allocated on the packet thread and freed on the
/// writer thread; glibc's arenas serialise such frees on a lock, mimalloc
/// frees them without one (replay ran measurably faster with it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's collection: the calling thread's free pages and the arenas'
/// free memory go back to the system (see `cipherlens_sensor::memory`).
fn return_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any
    // thread at any time; mimalloc is this process's allocator.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true)
    };
}

#[derive(Parser)]
#[command(
    name = "cipherlens",
    version,
    about = "TLS and QUIC handshake visibility for Linux nodes"
)]
struct Cli {
    /// Log lines on stderr as text or as JSON objects (one per line).
    #[arg(long, global = true, value_enum, env = "CIPHERLENS_LOG_FORMAT",
          default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Without a subcommand: `live` with its defaults.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Capture TLS and QUIC handshakes on this node's interfaces (needs
    /// CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN) and print one JSON record per
    /// session; stats records go to stderr.
    Live(Box<cli::live::LiveArgs>),
    /// Read pcap/pcapng files and print one JSON record per TLS or QUIC session.
    Replay(Box<cli::replay::ReplayArgs>),
    /// The crypto inventory: ingest session records, merge node databases, export a CBOM.
    Inventory(cli::inventory::InventoryArgs),
    /// Which TLS library each process uses (OpenSSL, BoringSSL, shared or
    /// static) and whether uprobes can hook it: one JSON line per process.
    TlsLibraries(cli::tls_libraries::TlsLibrariesArgs),
    /// Empty uprobes on a library's functions until SIGINT (the uprobe
    /// benchmark's baseline).
    #[command(hide = true)]
    ProbeBaseline(cli::probe_baseline::ProbeBaselineArgs),
    /// An empty TC classifier on an interface until SIGINT (the live
    /// benchmark's baseline).
    #[command(hide = true)]
    TcBaseline(cli::tc_baseline::TcBaselineArgs),
}

fn main() -> ExitCode {
    // One TLS provider for the NATS connection, chosen here rather than by
    // whichever rustls features a build happens to unify.
    let _ = rustls::crypto::ring::default_provider().install_default();
    cipherlens_sensor::memory::set_trim(return_free_memory);
    // No transparent huge pages: mimalloc asks for them on its segments,
    // and every page a burst of records or a CNFlow scan touches after the
    // allocator gave memory back was then a 2 MiB page zeroed by a fault
    // (measured: 5% of the sensor's CPU under a handshake load, in the
    // scan's thread). Small pages fault only what is used.
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("cipherlens: transparent huge pages stay on: {error}");
    }
    let mut arguments: Vec<OsString> = std::env::args_os().collect();
    let mut matches = Cli::command().get_matches_from(&arguments);
    if matches.subcommand().is_none() {
        // No subcommand: `live` with its defaults (environment included);
        // what was given can only be global options, which `live` takes too.
        arguments.push("live".into());
        matches = Cli::command().get_matches_from(&arguments);
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    cli::logging::init(cli.log_format);
    let (Some(command), Some((_, given))) = (cli.command, matches.subcommand()) else {
        unreachable!("a subcommand is always present here");
    };
    let result = match command {
        Command::Live(args) => cli::live::run(*args, given),
        Command::Replay(args) => cli::replay::run(*args, given),
        Command::Inventory(args) => cli::inventory::run(args),
        Command::TlsLibraries(args) => cli::tls_libraries::run(args),
        Command::ProbeBaseline(args) => cli::probe_baseline::run(args),
        Command::TcBaseline(args) => cli::tc_baseline::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            cli::logging::fatal(cli.log_format, &error);
            ExitCode::FAILURE
        }
    }
}
