//! The live loop's side of CNFlow: reads the kernel's flow counters, lets
//! [`CnFlowTracker`] decide which flows get a record, fills in what the
//! kernel's maps know (socket owners) and interface names, and hands the
//! records to the writer thread. TCP metrics are looked up off the loop
//! ([`super::enrich`]); records wait there for them and come back through
//! [`FlowScanner::next_enriched`].
//!
//! A scan reads the counters and the socket owners a batch of entries per
//! system call and deletes the ended flows in one; with a hundred thousand
//! flows that is still milliseconds during which the ring buffer would not be
//! read, and a busy node's handshakes would overflow it. So each scan runs
//! on a blocking-pool thread with the tracker and the map handles moved to
//! it, and the loop takes the result when it is done ([`FlowScanner::scanned`]);
//! the loop keeps a second handle on the counters map for its own lookups.
//! Records still leave in scan order.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aya::Ebpf;
use aya::maps::{HashMap as BpfHashMap, MapData};
use cipherlens_bpf_batch::{BatchError, HashBatch};
use cipherlens_common::{FlowCounters, FlowKey};

use cipherlens_common::tgid_of;
use cipherlens_record::StatsRecord;
use tokio::task::JoinHandle;

use super::attach::Attachments;
use super::cpu_states::{self, CpuStateMap};
use super::enrich::{Answer, Enricher};
use crate::cnflow::cpu_cache::CacheView;
use crate::cnflow::{CnFlowConfig, CnFlowTracker, FlowFacts, flow_id};
use crate::time::monotonic_now_nanos;
use crate::writer::{BackgroundWriter, Outgoing, WriterStopped};

/// How long the exit waits for TCP metrics still being looked up (the
/// sensor exits within 2 s of SIGTERM).
const EXIT_LOOKUPS: Duration = Duration::from_millis(300);

/// Reads of the flow caches around a re-read of the flows they unsettled,
/// at most; then the entry alone is reported (counted).
const SETTLE_ROUNDS: usize = 3;

/// What a scan needs, moved to its thread and back.
struct ScanState {
    tracker: CnFlowTracker,
    /// Single entries (re-reads).
    counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
    /// The whole map, a batch of entries per system call; deletes.
    batch: HashBatch<FlowKey, FlowCounters>,
    /// Socket cookie -> pid_tgid, read whole once per scan.
    owners: HashBatch<u64, u64>,
    cache: CpuStateMap,
}

/// What one scan found.
#[derive(Default)]
struct ScanOutput {
    /// Boxed as they are made: a scan of 100,000 flows would otherwise
    /// hold them twice (this vector, then the boxes enrichment queues;
    /// measured: 45 MiB more at the peak).
    #[allow(clippy::vec_box)]
    facts: Vec<Box<FlowFacts>>,
    tracked: u64,
    read_errors: u64,
    cache_unsettled: u64,
}

impl ScanState {
    /// Decides for every flow in the kernel's map, with the counts CPUs'
    /// flow caches still hold for it added ([`CacheView::settle`]);
    /// forgets ended ones.
    fn scan(&mut self, interfaces: &HashMap<u32, String>, shutdown: bool) -> ScanOutput {
        let mut pass = Pass {
            now: monotonic_now_nanos(),
            shutdown,
            interfaces,
            output: ScanOutput::default(),
            finished: Vec::new(),
        };
        // Each batch of entries is read between two reads of the caches,
        // and settled against them: the entry plus what the later read
        // holds for the flow, unless a slot that held it flushed between
        // the two. Flows that did not settle are read again, between two
        // more reads, a round at a time.
        let mut earlier = read_cache(&self.cache);
        let mut held: Vec<FlowKey> = Vec::new();
        let read = self.batch.for_each_batch(|keys, values| {
            let later = read_cache(&self.cache);
            for (key, counters) in keys.iter().zip(values) {
                pass.output.tracked += 1;
                let mut counters = *counters;
                if earlier.settle(&later, key, &mut counters) {
                    decide(&mut self.tracker, *key, &counters, &mut pass);
                } else {
                    held.push(*key);
                }
            }
            earlier = later;
        });
        if let Err(error) = read {
            // What was read before the failure is decided; the rest waits
            // for the next scan.
            tracing::warn!(%error, "CNFlow scan: flow counters unreadable");
            pass.output.read_errors += 1;
        }
        for round in 2..=SETTLE_ROUNDS {
            if held.is_empty() {
                break;
            }
            // Gone meanwhile: evicted, nothing to report.
            let again: Vec<(FlowKey, FlowCounters)> = held
                .iter()
                .filter_map(|key| Some((*key, self.counters.get(key, 0).ok()?)))
                .collect();
            let later = read_cache(&self.cache);
            held.clear();
            for (key, mut counters) in again {
                if earlier.settle(&later, &key, &mut counters) {
                    decide(&mut self.tracker, key, &counters, &mut pass);
                } else if round == SETTLE_ROUNDS {
                    pass.output.cache_unsettled += 1;
                    decide(&mut self.tracker, key, &counters, &mut pass);
                } else {
                    held.push(key);
                }
            }
            earlier = later;
        }
        if let Err(error) = self.resolve_owners(&mut pass.output.facts) {
            tracing::warn!(%error, "CNFlow scan: socket owners unreadable");
            pass.output.read_errors += 1;
        }
        if let Err(error) = self.batch.delete(&pass.finished) {
            // Reported flows stay in the map; ended ones are reported again.
            tracing::warn!(%error, "CNFlow scan: ended flows not deleted");
            pass.output.read_errors += 1;
        }
        pass.output
    }

    /// Fills in the processes owning the flows' sockets from one batched
    /// read of the socket-owner map: a fixed cost per scan (the map's
    /// buckets, a few milliseconds at most) instead of a system call per
    /// socket, which at tens of thousands of flows per scan is ten times
    /// more.
    fn resolve_owners(&mut self, facts: &mut [Box<FlowFacts>]) -> Result<(), BatchError> {
        let wanted: HashSet<u64, foldhash::fast::RandomState> = facts
            .iter()
            .flat_map(|facts| facts.socket_cookies)
            .filter(|cookie| *cookie != 0)
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut owners: HashMap<u64, u32, foldhash::fast::RandomState> = HashMap::default();
        self.owners.for_each(|cookie, pid_tgid| {
            let pid = tgid_of(*pid_tgid);
            if pid != 0 && wanted.contains(cookie) {
                owners.insert(*cookie, pid);
            }
        })?;
        for facts in facts {
            for (pid, cookie) in facts.pids.iter_mut().zip(facts.socket_cookies) {
                if cookie != 0 {
                    *pid = owners.get(&cookie).copied();
                }
            }
        }
        Ok(())
    }
}

/// Every CPU's flow-cache slots (empty when they cannot be read: the
/// entries are then reported alone).
fn read_cache(cache: &CpuStateMap) -> CacheView {
    match cpu_states::read_all(cache) {
        Ok(per_cpu) => CacheView::new(per_cpu.iter().map(|state| &state.slots[..])),
        Err(error) => {
            tracing::warn!(%error, "flow cache unreadable; CNFlow counts may lag");
            CacheView::default()
        }
    }
}

/// One flow's decision; its record's facts when it gets one (socket
/// owners are filled in for all of them at the end of the scan).
fn decide(tracker: &mut CnFlowTracker, key: FlowKey, counters: &FlowCounters, pass: &mut Pass<'_>) {
    let Some(decision) = tracker.decide(&key, counters, pass.now, pass.shutdown) else {
        return;
    };
    if decision.remove {
        pass.finished.push(key);
    }
    let mut facts = Box::new(decision.facts);
    facts.interface = pass.interfaces.get(&facts.ifindex).cloned();
    pass.output.facts.push(facts);
}

/// One scan's settings and findings so far.
struct Pass<'a> {
    now: u64,
    shutdown: bool,
    interfaces: &'a HashMap<u32, String>,
    output: ScanOutput,
    /// Entries to delete once the scan is done.
    finished: Vec<FlowKey>,
}

pub(super) struct FlowScanner {
    /// `None` when CNFlow records are off, or while a scan runs.
    state: Option<ScanState>,
    /// What flow ids are made from (`None`: CNFlow off).
    id_seed: Option<Vec<u8>>,
    /// The loop's own handle on the counters map.
    lookup: BpfHashMap<MapData, FlowKey, FlowCounters>,
    enricher: Enricher,
}

/// A scan running on the blocking pool (kept by the loop, so waiting for
/// it does not borrow the scanner).
pub(super) struct ScanJob(JoinHandle<(ScanState, ScanOutput)>);

/// A finished scan: the state back, and what it found (`None`: it failed).
pub(super) struct Scanned(Option<(ScanState, ScanOutput)>);

/// The running scan's result; pending while none runs.
pub(super) async fn scanned(job: &mut Option<ScanJob>) -> Scanned {
    let Some(ScanJob(handle)) = job.as_mut() else {
        return std::future::pending().await;
    };
    let result = handle.await;
    *job = None;
    // A scan that panicked leaves CNFlow records off, said loudly.
    Scanned(
        result
            .inspect_err(|error| {
                tracing::error!(%error, "CNFlow scan failed; CNFlow records stop");
            })
            .ok(),
    )
}

impl FlowScanner {
    pub(super) fn new(
        config: Option<CnFlowConfig>,
        counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
        lookup: BpfHashMap<MapData, FlowKey, FlowCounters>,
        batch: HashBatch<FlowKey, FlowCounters>,
        owners: HashBatch<u64, u64>,
        cache: CpuStateMap,
        tcp_metrics: Option<Ebpf>,
    ) -> Self {
        let enricher = match (&config, tcp_metrics) {
            (Some(_), Some(program)) => Enricher::start(program),
            _ => Enricher::without_lookups(),
        };
        let tracker = config.map(CnFlowTracker::new);
        Self {
            id_seed: tracker.as_ref().map(|t| t.id_seed().to_vec()),
            state: tracker.map(|tracker| ScanState {
                tracker,
                counters,
                batch,
                owners,
                cache,
            }),
            lookup,
            enricher,
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.id_seed.is_some()
    }

    /// The CNFlow id of the flow whose counters entry began at `first_ns`
    /// (carried by the session's events; 0 when none did, and the flow's
    /// current entry is looked up instead, a system call).
    pub(super) fn id_of(&self, key: &FlowKey, first_ns: u64) -> Option<String> {
        let seed = self.id_seed.as_ref()?;
        let first_ns = match first_ns {
            0 => self.lookup.get(key, 0).ok()?.first_ns,
            known => known,
        };
        Some(flow_id(seed, key, first_ns))
    }

    /// Starts a scan on the blocking pool, unless one is running.
    pub(super) fn start_scan(&mut self, attachments: &Attachments, job: &mut Option<ScanJob>) {
        if job.is_some() {
            return;
        }
        let Some(mut state) = self.state.take() else {
            return;
        };
        let interfaces = attachments.names_by_index();
        *job = Some(ScanJob(tokio::task::spawn_blocking(move || {
            let output = state.scan(&interfaces, false);
            // A scan of many flows frees much of what it read on this
            // pool thread, which may idle for long after.
            crate::memory::trim();
            (state, output)
        })));
    }

    /// Takes a scan's result: records go to enrichment in scan order.
    pub(super) fn on_scanned(
        &mut self,
        Scanned(result): Scanned,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        let Some((state, output)) = result else {
            return Ok(());
        };
        self.state = Some(state);
        self.apply(output, stats);
        self.offer_ready(writer, stats)
    }

    fn apply(&mut self, output: ScanOutput, stats: &mut StatsRecord) {
        stats.cnflow_read_errors += output.read_errors;
        stats.cnflow_cache_unsettled += output.cache_unsettled;
        stats.cnflow_tracked = output.tracked;
        for facts in output.facts {
            *stats
                .cnflow_records
                .entry(facts.reason.as_str().to_string())
                .or_default() += 1;
            self.enricher.submit(facts);
        }
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
        self.offer_ready(writer, stats)
    }

    /// Whether records are ready but wait for room in the writer's queue
    /// ([`FlowScanner::offer_ready`]; the loop retries shortly).
    pub(super) fn has_waiting(&self) -> bool {
        self.enricher.has_ready()
    }

    /// Sends the ready records the writer's queue has room for now; the
    /// rest wait ([`FlowScanner::has_waiting`]). A scan's thousands of
    /// records would otherwise block the loop on a full queue while the
    /// writer encodes them, and the kernel's ring would fill meanwhile.
    pub(super) fn offer_ready(
        &mut self,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        self.note_lookups(stats);
        while let Some(facts) = self.enricher.next_ready() {
            if let Some(Outgoing::Flow(facts)) = writer.offer(Outgoing::Flow(facts))? {
                self.enricher.put_back(facts);
                return Ok(());
            }
        }
        writer.try_hand_over().map(drop)
    }

    /// At exit: records for every open flow, with the TCP metrics that can
    /// be looked up in time (a running scan is waited for first).
    pub(super) async fn finish(
        &mut self,
        attachments: &Attachments,
        job: &mut Option<ScanJob>,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        if job.is_some() {
            let result = scanned(job).await;
            self.on_scanned(result, writer, stats)?;
        }
        if let Some(state) = self.state.as_mut() {
            let output = state.scan(&attachments.names_by_index(), true);
            self.apply(output, stats);
        }
        self.enricher.finish(EXIT_LOOKUPS).await;
        self.send_ready(writer, stats)?;
        writer.hand_over()
    }

    fn send_ready(
        &mut self,
        writer: &mut BackgroundWriter<Outgoing>,
        stats: &mut StatsRecord,
    ) -> Result<(), WriterStopped> {
        self.note_lookups(stats);
        while let Some(facts) = self.enricher.next_ready() {
            writer.send(Outgoing::Flow(facts))?;
        }
        Ok(())
    }

    fn note_lookups(&self, stats: &mut StatsRecord) {
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
    }
}
