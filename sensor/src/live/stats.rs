//! The stats record of live capture: kernel counters, attachment state,
//! the pipeline's and the publisher's counters, read at one moment.

use aya::maps::{MapData, PerCpuArray};
use cipherlens_common::cpu_state::CpuState;
use cipherlens_common::{Counter, RING_BACKLOG_SLOT};
use cipherlens_record::StatsRecord;
use cipherlens_record::stats::{PipelineStats, StatsSchema};

use super::attach::Attachments;
use super::cpu_states::{self, CpuStateMap};
use crate::alerts::PolicyHandle;
use crate::publish::nats::PublishStatsSource;
use crate::time::{rfc3339_from_unix_nanos, unix_now_nanos};

/// The kernel's counters: the counters map, and each CPU's state, where
/// the counts of the common packet are kept (`cipherlens_common::cpu_state`).
pub struct KernelCounters {
    pub counters: PerCpuArray<MapData, u64>,
    pub cpu_state: CpuStateMap,
}

/// Refreshes everything the live loop does not count itself.
pub fn refresh(
    stats: &mut StatsRecord,
    counters: &KernelCounters,
    attachments: &Attachments,
    pipeline: PipelineStats,
    publish: Option<&PublishStatsSource>,
    policy: Option<&PolicyHandle>,
    tls: Option<&super::tls::TlsProbes>,
) {
    stats.publish = publish.map(PublishStatsSource::stats);
    stats.tls_probes = tls.map(super::tls::TlsProbes::stats);
    stats.policy = policy.map(PolicyHandle::stats);
    stats.schema = StatsSchema::V1;
    stats.time = rfc3339_from_unix_nanos(unix_now_nanos());
    read_kernel_counters(stats, counters);
    stats.interfaces_attached = attachments.attached_names();
    stats.attach_failures = attachments.failures;
    stats.attach_mode = attachments.kind();
    stats.stale_filters_removed = attachments.stale_filters_removed;
    stats.pipeline = pipeline;
}

/// Sums each kernel counter over CPUs. One that cannot be read is reported
/// as unreadable, not as 0 (which would claim nothing was lost).
fn read_kernel_counters(stats: &mut StatsRecord, kernel: &KernelCounters) {
    stats.kernel_losses = 0;
    stats.kernel_unreadable.clear();
    let cpu_states = cpu_states::read_all(&kernel.cpu_state);
    if let Err(error) = &cpu_states {
        tracing::warn!(%error, "per-CPU state unreadable");
    }
    let counters = &kernel.counters;
    for counter in Counter::ALL {
        let kept = match (CpuState::part_of(counter), &cpu_states) {
            (None, _) => Ok(0),
            (Some(part), Ok(states)) => Ok(states.iter().map(part).sum::<u64>()),
            (Some(_), Err(_)) => Err(()),
        };
        match (counters.get(&(counter as u32), 0), kept) {
            (Ok(per_cpu), Ok(kept)) => {
                let value: u64 = per_cpu.iter().sum::<u64>() + kept;
                stats.kernel.insert(counter.name().to_string(), value);
                if counter.is_loss() {
                    stats.kernel_losses += value;
                }
            }
            (read, _) => {
                if let Err(error) = read {
                    tracing::warn!(counter = counter.name(), %error, "kernel counter unreadable");
                }
                stats.kernel.remove(counter.name());
                stats.kernel_unreadable.push(counter.name().to_string());
            }
        }
    }
    match counters.get(&RING_BACKLOG_SLOT, 0) {
        Ok(per_cpu) => stats.ring_buffer_peak_bytes = per_cpu.iter().copied().max().unwrap_or(0),
        Err(error) => tracing::warn!(%error, "ring backlog peak unreadable"),
    }
}

/// Writes a stats record to stderr.
pub fn print(stats: &StatsRecord) {
    match serde_json::to_string(stats) {
        Ok(line) => eprintln!("{line}"),
        Err(error) => tracing::warn!(%error, "stats record"),
    }
}
