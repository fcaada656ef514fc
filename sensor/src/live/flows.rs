//! The live loop's side of CNFlow: reads the kernel's flow counters, lets
//! [`CnFlowTracker`] decide which flows get a record, fills in what the
//! kernel's maps know (socket owners) and interface names, and hands the
//! records to the writer thread. TCP metrics are looked up off the loop
//! ([`super::enrich`]); records wait there for them and come back through
//! [`FlowScanner::next_enriched`].

use std::time::Duration;

use aya::maps::{HashMap as BpfHashMap, MapData};
use cipherlens_common::{FlowCounters, FlowKey};

use cipherlens_common::tgid_of;
use cipherlens_record::StatsRecord;

use super::attach::Attachments;
use super::enrich::{Answer, Enricher};
use crate::cnflow::{CnFlowConfig, CnFlowTracker};
use crate::time::monotonic_now_nanos;
use crate::writer::{BackgroundWriter, Outgoing, WriterStopped};

/// How long the exit waits for TCP metrics still being looked up (the
/// sensor exits within 2 s of SIGTERM).
const EXIT_LOOKUPS: Duration = Duration::from_millis(300);

pub(super) struct FlowScanner {
    /// `None` when CNFlow records are off.
    tracker: Option<CnFlowTracker>,
    counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
    owners: BpfHashMap<MapData, u64, u64>,
    enricher: Enricher,
}

impl FlowScanner {
    pub(super) fn new(
        config: Option<CnFlowConfig>,
        counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
        owners: BpfHashMap<MapData, u64, u64>,
    ) -> Self {
        let enricher = match config {
            Some(_) => Enricher::start(),
            None => Enricher::without_lookups(),
        };
        Self {
            tracker: config.map(CnFlowTracker::new),
            counters,
            owners,
            enricher,
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
            facts.interface = attachments.interface_name(facts.ifindex);
            *stats
                .cnflow_records
                .entry(facts.reason.as_str().to_string())
                .or_default() += 1;
            self.enricher.submit(Box::new(facts));
        }
        for key in finished {
            let _ = self.counters.remove(&key);
        }
        stats.cnflow_tracked = tracked;
        self.send_ready(writer, stats)?;
        writer.hand_over()
    }

    /// The next answer of the enrichment worker; pending while none is due.
    pub(super) async fn next_enriched(&mut self) -> Option<Answer> {
        self.enricher.next_answer().await
    }

    /// Takes an answer from [`FlowScanner::next_enriched`] and sends the
    /// records whose turn it is.
    pub(super) fn on_enriched(
        &mut self,
        answer: Option<Answer>,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        self.enricher.on_answer(answer);
        self.send_ready(writer, stats)
    }

    /// At exit: records for every open flow, with the TCP metrics that can
    /// be looked up in time.
    pub(super) async fn finish(
        &mut self,
        attachments: &Attachments,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        let scanned = self.scan(attachments, writer, stats, true);
        self.enricher.finish(EXIT_LOOKUPS).await;
        self.send_ready(writer, stats)?;
        scanned?;
        writer.hand_over()
    }

    fn send_ready(
        &mut self,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        let counts = &self.enricher.counts;
        stats.tcp_info_misses = counts.misses;
        stats.tcp_info_skipped_busy = counts.skipped_busy;
        stats.tcp_info_skipped_ended = counts.skipped_ended;
        stats.tcp_info_namespace_failures.extend(
            counts
                .namespace_failures
                .iter()
                .map(|(reason, count)| (reason.to_string(), *count)),
        );
        while let Some(facts) = self.enricher.next_ready() {
            writer.send(Outgoing::Flow(facts))?;
        }
        Ok(())
    }
}
