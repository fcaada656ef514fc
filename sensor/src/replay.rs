//! `replay`: capture files through the same pipeline live capture uses.
//!
//! Frames that do not decode are counted by reason, never dropped silently;
//! a file that ends mid-record yields every session seen up to that point
//! and then an error that says how far the reader got. Flows are counted
//! as the kernel counts them live (`cnflow::capture`), so a replay gives
//! CNFlow records too, and sessions carry their flow's id.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use cipherlens_capture::{CaptureError, CaptureReader, decode_frame};
use serde::Serialize;

use std::cell::RefCell;
use std::rc::Rc;

use crate::cnflow::capture::CaptureFlows;
use crate::cnflow::{CnFlowConfig, FlowFacts};
use crate::flow::{IpProtocol, flow_key};
use crate::pipeline::FinishedSession;
use crate::pipeline::{PipelineConfig, PipelineStats, SEALED_BYTES_WITH_KEY_LOG, SessionPipeline};
use cipherlens_parsers::fingerprint::Transport;
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
    /// CNFlow records made from the capture's flows.
    pub cnflow_records: u64,
    /// Flows not counted because the flow table was full.
    pub cnflow_flows_dropped: u64,
}

/// What a replay hands on.
// Sessions are most of what a replay hands on; boxing them would cost an
// allocation each for the flow variant's sake.
#[allow(clippy::large_enum_variant)]
pub enum Replayed {
    Session(FinishedSession),
    Flow(Box<FlowFacts>),
}

/// How to replay, besides the pipeline's settings.
#[derive(Default)]
pub struct ReplayOptions {
    /// TLS secrets (`--keylog-file`); a pcapng's own are added as they come.
    pub key_log: KeyLog,
    /// CNFlow records from the capture's flows (off when `None`).
    pub flows: Option<CnFlowConfig>,
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
    mut emit: impl FnMut(FinishedSession),
) -> Result<ReplayReport, ReplayError> {
    replay_capture(path, config, ReplayOptions::default(), |item| {
        if let Replayed::Session(session) = item {
            emit(session);
        }
    })
}

/// Replays one capture file with `options`: sessions (with their flow's
/// CNFlow id when flows are counted) and flow records go to `emit`.
pub fn replay_capture(
    path: &Path,
    mut config: PipelineConfig,
    options: ReplayOptions,
    mut emit: impl FnMut(Replayed),
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
    let mut flows = options
        .flows
        .map(|flows| CaptureFlows::new(flows, config.max_flows));
    let finished: Rc<RefCell<Vec<FinishedSession>>> = Rc::default();
    let mut pipeline = {
        let finished = Rc::clone(&finished);
        SessionPipeline::new(config, move |session| finished.borrow_mut().push(session))
    };
    *pipeline.key_log_mut() = options.key_log;
    let mut flow_facts = Vec::new();
    let mut hand_on = |flows: &Option<CaptureFlows>,
                       flow_facts: &mut Vec<FlowFacts>,
                       report: &mut ReplayReport| {
        for mut session in finished.borrow_mut().drain(..) {
            if let Some(id) = flows
                .as_ref()
                .and_then(|flows| flows.id_of(&flow_key_of(&session)))
            {
                session.set_cnflow_id(id);
            }
            emit(Replayed::Session(session));
        }
        for facts in flow_facts.drain(..) {
            report.cnflow_records += 1;
            emit(Replayed::Flow(Box::new(facts)));
        }
    };
    let show_progress = std::io::stderr().is_terminal();
    let mut last_progress = Instant::now();
    let mut last_ns = 0;
    let outcome = loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                report.frames += 1;
                if let Some(secrets) = reader.take_tls_secrets() {
                    pipeline.keep_sealed_records(SEALED_BYTES_WITH_KEY_LOG);
                    pipeline.key_log_mut().add_text(&secrets);
                }
                last_ns = last_ns.max(frame.timestamp_ns);
                match decode_frame(frame.link_type, &frame.data) {
                    Ok(packet) => {
                        if let Some(flows) = &mut flows {
                            let wire_len = u64::from(frame.original_len);
                            flows.on_packet(&packet, wire_len, frame.timestamp_ns, &mut flow_facts);
                        }
                        pipeline.on_packet(&packet, frame.timestamp_ns);
                    }
                    Err(error) => {
                        tracing::trace!(frame = frame.index, %error, "frame not decoded");
                        *report
                            .undecoded_frames
                            .entry(error.reason().to_string())
                            .or_default() += 1;
                    }
                }
                hand_on(&flows, &mut flow_facts, &mut report);
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
    hand_on(&flows, &mut flow_facts, &mut report);
    if let Some(flows) = &mut flows {
        flows.finish(last_ns, &mut flow_facts);
        report.cnflow_flows_dropped = flows.dropped;
    }
    hand_on(&flows, &mut flow_facts, &mut report);
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

/// The flow key of a session (as the kernel and the flow table key it).
fn flow_key_of(session: &FinishedSession) -> crate::flow::FlowKey {
    let context = session.context();
    let protocol = match context.transport {
        Transport::Quic => IpProtocol::Udp,
        _ => IpProtocol::Tcp,
    };
    flow_key(protocol, context.initiator, context.responder)
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
