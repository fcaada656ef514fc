//! The live loop's side of CNFlow: reads the kernel's flow counters, lets
//! [`CnFlowTracker`] decide which flows get a record, fills in what user
//! space knows (socket owners, interface names, `tcp_info`) and hands the
//! records to the writer thread.

use aya::maps::{HashMap as BpfHashMap, MapData};
use cipherlens_common::{FlowCounters, FlowKey};

use cipherlens_common::tgid_of;
use cipherlens_record::StatsRecord;

use super::attach::Attachments;
use crate::cnflow::tcp_info::SockDiag;
use crate::cnflow::{CnFlowConfig, CnFlowTracker, FlowFacts, Side, TcpMetrics};
use crate::flow::IpProtocol;
use crate::time::monotonic_now_nanos;
use crate::writer::{BackgroundWriter, Outgoing, WriterStopped};

pub(super) struct FlowScanner {
    /// `None` when CNFlow records are off.
    tracker: Option<CnFlowTracker>,
    counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
    owners: BpfHashMap<MapData, u64, u64>,
    sock_diag: Option<SockDiag>,
}

impl FlowScanner {
    pub(super) fn new(
        config: Option<CnFlowConfig>,
        counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
        owners: BpfHashMap<MapData, u64, u64>,
    ) -> Self {
        let sock_diag = match SockDiag::new() {
            Ok(diag) => Some(diag),
            Err(error) => {
                tracing::warn!(%error, "sock_diag unavailable; CNFlow records without TCP metrics");
                None
            }
        };
        Self {
            tracker: config.map(CnFlowTracker::new),
            counters,
            owners,
            sock_diag,
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.tracker.is_some()
    }

    /// The CNFlow id of the flow's current kernel entry.
    pub(super) fn id_of(&self, key: &FlowKey) -> Option<String> {
        let tracker = self.tracker.as_ref()?;
        let counters = self.counters.get(key, 0).ok()?;
        Some(tracker.id_of(key, counters.first_ns))
    }

    /// Sends CNFlow records for flows that ended, went idle or are due an
    /// update (all of them at `shutdown`), and forgets ended flows.
    pub(super) fn scan(
        &mut self,
        attachments: &Attachments,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
        shutdown: bool,
    ) -> Result<(), WriterStopped> {
        let Some(tracker) = self.tracker.as_mut() else {
            return Ok(());
        };
        let now = monotonic_now_nanos();
        let mut finished = Vec::new();
        let mut tracked = 0u64;
        for entry in self.counters.iter() {
            let Ok((key, counters)) = entry else {
                stats.cnflow_read_errors += 1;
                continue;
            };
            tracked += 1;
            let Some(decision) = tracker.decide(&key, &counters, now, shutdown) else {
                continue;
            };
            if decision.remove {
                finished.push(key);
            }
            let mut facts = decision.facts;
            for (pid, cookie) in facts.pids.iter_mut().zip(facts.socket_cookies) {
                if cookie != 0 {
                    *pid = self
                        .owners
                        .get(&cookie, 0)
                        .ok()
                        .map(tgid_of)
                        .filter(|pid| *pid != 0);
                }
            }
            if facts.protocol == IpProtocol::Tcp
                && let Some(diag) = self.sock_diag.as_mut()
            {
                facts.tcp = tcp_metrics(diag, &facts);
            }
            facts.interface = attachments.interface_name(facts.ifindex);
            *stats
                .cnflow_records
                .entry(facts.reason.as_str().to_string())
                .or_default() += 1;
            writer.send(Outgoing::Flow(Box::new(facts)))?;
        }
        for key in finished {
            let _ = self.counters.remove(&key);
        }
        stats.cnflow_tracked = tracked;
        stats.tcp_info_misses = self.sock_diag.as_ref().map_or(0, |diag| diag.misses);
        writer.hand_over()
    }
}

/// `tcp_info` of the flow's client socket if it is on this node, else of
/// its server socket.
fn tcp_metrics(diag: &mut SockDiag, facts: &FlowFacts) -> Option<(Side, TcpMetrics)> {
    let sides = [
        (Side::Client, 0, facts.client, facts.server),
        (Side::Server, 1, facts.server, facts.client),
    ];
    sides.into_iter().find_map(|(side, index, local, remote)| {
        let pid = facts.pids[index]?;
        let cookie = facts.socket_cookies[index];
        diag.metrics(pid, local, remote, cookie)
            .map(|metrics| (side, metrics))
    })
}
