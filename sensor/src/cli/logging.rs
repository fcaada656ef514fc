//! Log lines on stderr: text for a person, JSON for a log pipeline.
//!
//! `CIPHERLENS_LOG` filters them (tracing's env-filter syntax, default
//! `warn`). Records never go here; they go to stdout, a file or NATS.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    // Plain comments, not docs: docs would show as per-value help.
    // One human-readable line per event.
    #[default]
    Text,
    // One JSON object per event (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// Installs the process's log subscriber.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("CIPHERLENS_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            // Colour codes only for a person at a terminal, not in log files.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Reports the error that ends the process: as today's `cipherlens: ...`
/// line in text, as an error event (the cause chain in `error`) in JSON.
pub fn fatal(format: LogFormat, error: &anyhow::Error) {
    match format {
        LogFormat::Text => eprintln!("cipherlens: {error:#}"),
        LogFormat::Json => tracing::error!(error = format!("{error:#}"), "cipherlens stopped"),
    }
}
