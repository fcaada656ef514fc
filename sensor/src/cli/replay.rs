//! `cipherlens replay`: capture files through the pipeline to the sinks;
//! exit status 1 if a file could not be read to its end or records were
//! not published.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use std::sync::Arc;

use cipherlens_parsers::tls::keylog::KeyLog;
use cipherlens_sensor::alerts::AlertStage;
use cipherlens_sensor::cnflow::CnFlowConfig;
use cipherlens_sensor::live::LiveOutputs;
use cipherlens_sensor::replay::{ReplayOptions, Replayed, replay_capture};
use cipherlens_sensor::writer::{BackgroundWriter, Outgoing, RecordStages};
use clap::{ArgMatches, Args};

use super::SharedArgs;

use super::sinks::{FileOutput, build_sinks};

/// Records waiting for the writer thread at most.
const RECORD_QUEUE: usize = 1024;
/// How long `replay` waits at the end for NATS to take what is queued.
const REPLAY_PUBLISH_DRAIN: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Write records to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print a JSON summary of what was read to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// No CNFlow records for the capture's flows (sessions only).
    #[arg(long = "no-cnflow", action = clap::ArgAction::SetFalse)]
    cnflow: bool,
    #[command(flatten)]
    shared: SharedArgs,
}

pub fn run(args: ReplayArgs, given: &ArgMatches) -> anyhow::Result<ExitCode> {
    let ReplayArgs {
        files,
        output,
        stats,
        cnflow,
        shared,
    } = args;
    let (
        SharedArgs {
            nats,
            pipeline,
            policy,
            inventory,
            ..
        },
        _capture,
    ) = shared.with_config_file(given)?;
    let policy = super::policy_handle(&policy)?;
    let inventory = super::inventory_stage(&inventory, nats.node.as_deref(), policy.as_ref())?;
    let file = output.as_ref().map(|path| FileOutput {
        path,
        rotation: None,
    });
    let LiveOutputs {
        sink,
        publish_stats,
        ..
    } = build_sinks(file, &nats, false)?;
    let mut stages = RecordStages::for_replay();
    if cnflow {
        stages = stages.with_flows(pipeline.community_id_seed);
    }
    if let Some(policy) = &policy {
        stages = stages.with_alerts(AlertStage::new(Arc::clone(policy)));
    }
    if let Some(inventory) = inventory {
        stages = stages.with_inventory(inventory);
    }
    let mut writer = BackgroundWriter::spawn(sink, RECORD_QUEUE, REPLAY_PUBLISH_DRAIN, stages)
        .context("starting the record writer")?;
    let key_log_text = match &pipeline.keylog_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading the key log {}", path.display()))?,
        ),
        None => None,
    };
    let mut exit = ExitCode::SUCCESS;
    for file in files {
        let config = super::pipeline_config(&pipeline);
        let mut key_log = KeyLog::default();
        if let Some(text) = &key_log_text {
            key_log.add_text(text);
            let counts = key_log.counts();
            if counts.malformed > 0 {
                tracing::warn!(
                    malformed = counts.malformed,
                    kept = counts.kept,
                    "key log lines not understood"
                );
            }
        }
        let mut writer_stopped = false;
        let options = ReplayOptions {
            key_log,
            flows: cnflow.then(CnFlowConfig::default),
        };
        let result = replay_capture(&file, config, options, |item| {
            let outgoing = match item {
                Replayed::Session(session) => Outgoing::Session(session),
                Replayed::Flow(facts) => Outgoing::Flow(facts),
            };
            writer_stopped = writer_stopped || writer.send(outgoing).is_err();
        });
        if writer_stopped {
            let error = writer
                .finish()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the record writer stopped early"));
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
