//! `cipherlens live`: the options of live capture, then capture until
//! SIGTERM or SIGINT, then the final stats record.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use cipherlens_control::config::{self, CaptureSection};
use std::sync::Arc;

use cipherlens_control::config::PlaintextDirectiveScope;
use cipherlens_control::directive::PlaintextScope;
use cipherlens_record::StatsRecord;
use cipherlens_sensor::alerts::PolicyHandle;
use cipherlens_sensor::attribution::AttributionSources;
use cipherlens_sensor::cnflow::CnFlowConfig;
use cipherlens_sensor::live::interfaces::InterfaceFilter;
use cipherlens_sensor::live::tls::{PlaintextOptions, ProcessFilter, ScopeKind, TlsProbeOptions};
use cipherlens_sensor::live::{self, LiveError, LiveOptions, LiveOutputs};
use clap::{ArgMatches, Args};

use super::SharedArgs;

use super::sinks::{FileOutput, build_sinks};

/// Options of live capture: `[capture]` and the sections `replay` shares.
#[derive(Args)]
pub struct LiveArgs {
    #[command(flatten)]
    capture: CaptureSection,
    #[command(flatten)]
    shared: SharedArgs,
}

pub fn run(args: LiveArgs, given: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (shared, file_capture) = args.shared.with_config_file(given)?;
    let capture = match file_capture {
        Some(file) => config::overlay(file, given)?,
        None => args.capture,
    };
    let SharedArgs {
        nats,
        pipeline,
        policy,
        inventory,
        ..
    } = shared;
    let policy = super::policy_handle(&policy)?;
    let inventory = super::inventory_stage(&inventory, nats.node.as_deref(), policy.as_ref())?;
    let file = capture.output.as_ref().map(|path| FileOutput {
        path,
        rotation: (capture.output_max_bytes > 0)
            .then_some((capture.output_max_bytes, capture.output_keep)),
    });
    let mut outputs = build_sinks(file, &nats, true)?;
    outputs.inventory = inventory;
    let plaintext = plaintext_options(&capture)?;
    let options = LiveOptions {
        interfaces: InterfaceFilter {
            include: capture.interfaces,
            exclude: capture.exclude_interfaces,
        },
        flow_byte_budget: capture.flow_byte_budget,
        starttls_watch_bytes: capture.starttls_watch_bytes,
        ring_buffer_bytes: capture.ring_buffer_mib << 20,
        tls_ring_buffer_bytes: capture.tls_ring_buffer_mib << 20,
        stats_interval: (capture.stats_interval_seconds > 0)
            .then(|| Duration::from_secs(capture.stats_interval_seconds)),
        attach_mode: capture.attach_mode,
        attribution: AttributionSources {
            proc_root: PathBuf::from("/proc"),
            pods_dir: capture.pods_log_dir,
            containers_dir: capture.containers_log_dir,
        },
        metrics_listen: capture.metrics_listen,
        cnflow: capture.cnflow.then(|| CnFlowConfig {
            report_interval_ns: capture
                .cnflow_report_interval_seconds
                .saturating_mul(1_000_000_000),
            idle_timeout_ns: capture
                .cnflow_idle_timeout_seconds
                .saturating_mul(1_000_000_000),
        }),
        cnflow_scan_interval: Duration::from_secs(capture.cnflow_scan_interval_seconds),
        pipeline: super::pipeline_config(&pipeline),
        keylog_file: pipeline.keylog_file.clone(),
        policy: policy.clone(),
        node: nats.node.clone(),
        tls_probes: TlsProbeOptions {
            enabled: capture.tls_probes,
            processes: ProcessFilter {
                pids: capture.tls_probe_pids.clone(),
                exclude_pids: capture.tls_probe_exclude_pids.clone(),
                containers: capture.tls_probe_containers.clone(),
                exclude_containers: capture.tls_probe_exclude_containers.clone(),
                executables: capture.tls_probe_executables.clone(),
                exclude_executables: capture.tls_probe_exclude_executables.clone(),
            },
            exclude_libraries: capture.tls_probe_exclude_libraries.clone(),
            certificate_wait: Duration::from_millis(capture.certificate_wait_ms),
            plaintext,
            community_id_seed: pipeline.community_id_seed,
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let stats = runtime.block_on(run_until_signal(options, outputs, policy))?;
    live::stats::print(&stats);
    Ok(ExitCode::SUCCESS)
}

async fn run_until_signal(
    options: LiveOptions,
    outputs: LiveOutputs,
    policy: Option<Arc<PolicyHandle>>,
) -> Result<StatsRecord, LiveError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(LiveError::Poll)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(LiveError::Poll)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(LiveError::Poll)?;
    // SIGHUP reloads the policy (a bad file is logged and counted, and the
    // policy in use stays); without alerts it is ignored.
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match &policy {
                // The reload logs its outcome.
                Some(policy) => {
                    let _ = policy.reload();
                }
                None => tracing::info!("SIGHUP ignored: alerts are off"),
            }
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("signal received; detaching");
    };
    live::run_live(options, outputs, shutdown).await
}

/// Plaintext settings from `[capture]`: scopes need `--plaintext`, which
/// without scopes means the whole node.
fn plaintext_options(capture: &CaptureSection) -> anyhow::Result<PlaintextOptions> {
    let scoped = !(capture.plaintext_pids.is_empty()
        && capture.plaintext_containers.is_empty()
        && capture.plaintext_namespaces.is_empty()
        && capture.plaintext_server_names.is_empty());
    if scoped && !capture.plaintext {
        anyhow::bail!(
            "--plaintext-pid, --plaintext-container, --plaintext-namespace and --plaintext-sni narrow --plaintext, which is not set"
        );
    }
    let mut scopes: Vec<PlaintextScope> = Vec::new();
    if capture.plaintext {
        scopes.extend(
            capture
                .plaintext_pids
                .iter()
                .map(|pid| PlaintextScope::Pid(*pid)),
        );
        scopes.extend(
            capture
                .plaintext_containers
                .iter()
                .map(|id| PlaintextScope::ContainerId(id.clone())),
        );
        scopes.extend(
            capture
                .plaintext_namespaces
                .iter()
                .map(|name| PlaintextScope::K8sNamespace(name.clone())),
        );
        if !scoped {
            scopes.push(PlaintextScope::Node(true));
        }
    }
    Ok(PlaintextOptions {
        scopes,
        server_names: if capture.plaintext {
            capture.plaintext_server_names.clone()
        } else {
            Vec::new()
        },
        cap: capture.plaintext_max_bytes,
        redact_headers: capture.plaintext_redact_headers.clone(),
        directive_kinds: capture
            .plaintext_directive
            .iter()
            .map(|kind| match kind {
                PlaintextDirectiveScope::Pid => ScopeKind::Pid,
                PlaintextDirectiveScope::Container => ScopeKind::Container,
                PlaintextDirectiveScope::Namespace => ScopeKind::Namespace,
                PlaintextDirectiveScope::Pod => ScopeKind::Pod,
                PlaintextDirectiveScope::Node => ScopeKind::Node,
            })
            .collect(),
    })
}
