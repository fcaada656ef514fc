//! `replay`: capture files through the same pipeline live capture uses.
//!
//! Frames that do not decode are counted by reason, never dropped silently;
//! a file that ends mid-record yields every session seen up to that point
//! and then an error that says how far the reader got.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use cipherlens_capture::{CaptureError, CaptureReader, decode_frame};
use serde::Serialize;

use crate::pipeline::FinishedSession;
use crate::pipeline::{PipelineConfig, PipelineStats, SEALED_BYTES_WITH_KEY_LOG, SessionPipeline};
use cipherlens_parsers::tls::keylog::KeyLog;
use cipherlens_record::session::Source;

/// What a replay read and produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    pub file: String,
    pub frames: u64,
    pub bytes_read: u64,
    /// Frames that did not decode to IP/TCP/UDP, by reason.
    pub undecoded_frames: BTreeMap<String, u64>,
    pub pipeline: PipelineStats,
}

/// A replay that could not read its whole input.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {source} (after {frames} frames, {bytes_read} bytes)")]
pub struct ReplayError {
    pub file: String,
    pub frames: u64,
    pub bytes_read: u64,
    #[source]
    pub source: CaptureError,
    /// What was read before the error (its sessions were emitted).
    pub partial: Box<ReplayReport>,
}

const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Replays one capture file, handing each finished session to `emit`
/// (the record writer builds its record, see [`crate::writer`]).
pub fn replay_file(
    path: &Path,
    config: PipelineConfig,
    emit: impl FnMut(FinishedSession),
) -> Result<ReplayReport, ReplayError> {
    replay_file_with_keys(path, config, KeyLog::default(), emit)
}

/// [`replay_file`] with TLS secrets to open encrypted TLS 1.3 handshakes
/// (`--keylog-file`); secrets in the file's own pcapng Decryption Secrets
/// Blocks are added as they come.
pub fn replay_file_with_keys(
    path: &Path,
    mut config: PipelineConfig,
    key_log: KeyLog,
    emit: impl FnMut(FinishedSession),
) -> Result<ReplayReport, ReplayError> {
    let file = path.display().to_string();
    config.source = Source::Replay;
    config.input.get_or_insert_with(|| file.clone());
    let mut report = ReplayReport {
        file: file.clone(),
        ..ReplayReport::default()
    };
    let fail = |source: CaptureError, report: ReplayReport| ReplayError {
        file: file.clone(),
        frames: report.frames,
        bytes_read: report.bytes_read,
        source,
        partial: Box::new(report),
    };
    let mut reader = match CaptureReader::open(path) {
        Ok(reader) => reader,
        Err(error) => return Err(fail(error, report)),
    };
    let mut pipeline = SessionPipeline::new(config, emit);
    *pipeline.key_log_mut() = key_log;
    let show_progress = std::io::stderr().is_terminal();
    let mut last_progress = Instant::now();
    let outcome = loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                report.frames += 1;
                if let Some(secrets) = reader.take_tls_secrets() {
                    pipeline.keep_sealed_records(SEALED_BYTES_WITH_KEY_LOG);
                    pipeline.key_log_mut().add_text(&secrets);
                }
                match decode_frame(frame.link_type, &frame.data) {
                    Ok(packet) => pipeline.on_packet(&packet, frame.timestamp_ns),
                    Err(error) => {
                        tracing::trace!(frame = frame.index, %error, "frame not decoded");
                        *report
                            .undecoded_frames
                            .entry(error.reason().to_string())
                            .or_default() += 1;
                    }
                }
                if show_progress && last_progress.elapsed() >= PROGRESS_INTERVAL {
                    last_progress = Instant::now();
                    print_progress(
                        &file,
                        reader.bytes_read(),
                        reader.total_bytes(),
                        report.frames,
                    );
                }
                reader.recycle(frame);
            }
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    pipeline.finish_all();
    report.bytes_read = reader.bytes_read();
    report.pipeline = pipeline.stats();
    if show_progress {
        eprintln!();
    }
    match outcome {
        Ok(()) => Ok(report),
        Err(error) => Err(fail(error, report)),
    }
}

fn print_progress(file: &str, bytes_read: u64, total: Option<u64>, frames: u64) {
    const MIB: f64 = 1024.0 * 1024.0;
    match total {
        Some(total) if total > 0 => eprint!(
            "\rreplay {file}: {:.1}/{:.1} MiB ({:.0}%), {frames} frames",
            bytes_read as f64 / MIB,
            total as f64 / MIB,
            100.0 * bytes_read as f64 / total as f64
        ),
        _ => eprint!(
            "\rreplay {file}: {:.1} MiB, {frames} frames",
            bytes_read as f64 / MIB
        ),
    }
}
