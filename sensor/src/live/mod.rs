//! Live capture: the TC programs feed the same pipeline as `replay`.
//!
//! - [`privileges`]: refuse to start without CAP_BPF, CAP_PERFMON and
//!   CAP_NET_ADMIN, naming what is missing.
//! - [`interfaces`]: every interface by default, include/exclude globs.
//! - [`link_watch`]: rtnetlink link notifications, so a new pod's veth is
//!   attached within milliseconds and links of vanished interfaces dropped.
//! - [`event`]: ring buffer events back into decodable frames.
//! - `flows`: CNFlow records from the kernel's per-flow counters.
//! - [`metrics`]: Prometheus `/metrics` and `/healthz`.
//!
//! The loop: ring buffer readiness (tokio `AsyncFd`) -> events -> frames ->
//! `SessionPipeline` -> finished sessions -> the record writer thread. Link
//! notifications attach and detach as interfaces come and go; the interface
//! list is also re-read every few seconds in case a notification was lost.
//! When the pipeline emits a session, its flow is marked done in the
//! kernel's flow map and is not copied again. The same loop scans the flow
//! counters for CNFlow records, answers metrics scrapes and applies NATS
//! directives between events, so no state is shared across threads; the
//! writer thread (records, attribution) and the NATS publisher thread are
//! reached through bounded queues.
//!
//! On kernels with TCX (>= 6.6) the TC programs are attached as TCX links
//! owned by this process: they go away with it, even after `kill -9`, so a
//! restart never finds (or double-attaches to) its own leftovers. Older
//! kernels get netlink filters on a clsact qdisc; those outlive a killed
//! process, so before attaching to an interface the sensor deletes filters
//! bearing its program names that an earlier run left behind.

pub mod event;
mod flows;
pub mod interfaces;
pub mod link_watch;
pub mod metrics;
pub mod privileges;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::tc::{
    NlOptions, SchedClassifierLink, TcAttach, qdisc_add_clsact, qdisc_detach_program,
};
use aya::programs::{BtfTracePoint, LinkOrder, SchedClassifier, TcAttachType};
use aya::util::KernelVersion;
use aya::{Btf, Ebpf, include_bytes_aligned};
use cipherlens_common::{
    CONFIG_COUNT_FLOWS, CONFIG_MAP, COUNTERS_MAP, Counter, EVENTS_MAP, FLOW_COUNTERS_MAP,
    FLOW_DONE, FLOWS_MAP, FlowCounters, FlowKey, FlowState, KernelConfig, SOCKET_OWNER_PROGRAMS,
    SOCKET_OWNERS_MAP, TC_EGRESS_PROGRAM, TC_INGRESS_PROGRAM,
};
use cipherlens_control::config::AttachMode;
use cipherlens_control::directive::{Directive, PlaintextScope};
use serde::Serialize;
use tokio::io::unix::AsyncFd;

use self::event::{decode_event_frame, event_frame};
use self::flows::FlowScanner;
use self::interfaces::{Interface, InterfaceFilter, list_interfaces};
use self::link_watch::{LinkChange, LinkNews, LinkWatcher};
use crate::attribution::{AttributionSources, Attributor, HostInfo};
use crate::cnflow::record::{CnFlowRecord, build_cnflow_record};
use crate::cnflow::{CnFlowConfig, FlowFacts};
use crate::directive::{DirectiveRequest, error_reply, flow_hash, sampled};
use crate::output::BackgroundWriter;
use crate::pipeline::{PipelineConfig, PipelineStats, SessionPipeline};
use crate::publish::nats::{PublishStats, PublishStatsSource};
use crate::publish::{Publishable, RecordKind, Sink};
use crate::record::certificate_cache::CertificateCache;
use crate::record::{FinishedSession, PacketObservation, SessionRecord, SocketFacts};
use crate::time::{monotonic_now_nanos, unix_now_nanos};

/// How often the interface list is re-read as a safety net for lost link
/// notifications.
const INTERFACE_RESYNC: Duration = Duration::from_secs(5);
/// How often it is re-read when rtnetlink cannot be used.
const INTERFACE_POLL: Duration = Duration::from_millis(250);
/// How often idle flows are expired.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Events handled before yielding to the other tasks of the loop.
const EVENTS_PER_WAKE: usize = 4096;

/// What live capture is asked to do.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interfaces: InterfaceFilter,
    /// Payload bytes copied per flow at most.
    pub flow_byte_budget: u32,
    /// Period of the stats record on stderr (`None`: only at exit).
    pub stats_interval: Option<Duration>,
    pub attach_mode: AttachMode,
    pub attribution: AttributionSources,
    /// Where to serve `/metrics` and `/healthz` (off when `None`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// CNFlow records (off when `None`).
    pub cnflow: Option<CnFlowConfig>,
    /// How often the kernel's flow counters are read.
    pub cnflow_scan_interval: Duration,
    pub pipeline: PipelineConfig,
}

/// Why live capture could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "live capture needs {missing}; run as root or grant them (e.g. setcap cap_bpf,cap_perfmon,cap_net_admin+ep)"
    )]
    MissingCapabilities { missing: String },
    #[error("reading this process's capabilities: {0}")]
    Capabilities(std::io::Error),
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program or map {0} is missing from the object")]
    Missing(&'static str),
    #[error("eBPF program {name}: {source}")]
    Program {
        name: &'static str,
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("reading kernel BTF (/sys/kernel/btf/vmlinux): {0}")]
    Btf(String),
    #[error("listing interfaces: {0}")]
    Interfaces(std::io::Error),
    #[error("waiting for ring buffer events: {0}")]
    Poll(std::io::Error),
    #[error("writing records: {0}")]
    Output(std::io::Error),
    #[error("serving metrics on {address}: {source}")]
    Metrics {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Counts reported in the stats record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStats {
    pub schema: &'static str,
    pub time: String,
    /// Kernel counters summed over CPUs, by name.
    pub kernel: BTreeMap<&'static str, u64>,
    /// Kernel counters that mean lost data, summed.
    pub kernel_losses: u64,
    pub events_read: u64,
    /// Events that did not decode (user-side drops), by reason.
    pub events_dropped: BTreeMap<String, u64>,
    /// Events of the sensor's own sockets, never recorded.
    pub own_traffic_events: u64,
    /// Sessions of the sensor's own sockets, dropped at emission.
    pub own_traffic_sessions: u64,
    pub interfaces_attached: Vec<String>,
    pub attach_failures: u64,
    /// `tcx` or `netlink`.
    pub attach_mode: &'static str,
    /// Netlink filters of an earlier run (killed before it could clean up)
    /// deleted before attaching.
    pub stale_filters_removed: u64,
    /// Link notifications that did not decode.
    pub malformed_link_notifications: u64,
    pub flows_marked_done: u64,
    pub pipeline: PipelineStats,
    /// CNFlow records sent, by reason.
    pub cnflow_records: BTreeMap<&'static str, u64>,
    /// Kernel flow entries at the last scan.
    pub cnflow_tracked: u64,
    /// Flow entries that could not be read during a scan.
    pub cnflow_read_errors: u64,
    /// CNFlow records of TCP flows without TCP metrics (no local socket
    /// open any more, or the lookup failed).
    pub tcp_info_misses: u64,
    /// Sessions not recorded because of a sampling directive.
    pub sampled_out: u64,
    pub directives_applied: u64,
    /// The NATS publisher, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishStats>,
}

/// The loaded programs and the links of attached interfaces.
struct Attachments {
    ebpf: Ebpf,
    /// Links per ifindex: dropping them detaches the programs.
    links: BTreeMap<u32, (String, Vec<SchedClassifierLink>)>,
    failures: u64,
    /// TCX links, or netlink clsact filters.
    tcx: bool,
    stale_filters_removed: u64,
}

impl Attachments {
    fn load(flow_byte_budget: u32, count_flows: bool, mode: AttachMode) -> Result<Self, LiveError> {
        let mut ebpf = Ebpf::load(include_bytes_aligned!(concat!(
            env!("OUT_DIR"),
            "/cipherlens-ebpf"
        )))?;
        let mut config: Array<_, KernelConfig> = Array::try_from(
            ebpf.map_mut(CONFIG_MAP)
                .ok_or(LiveError::Missing(CONFIG_MAP))?,
        )
        .map_err(|source| LiveError::Map {
            name: CONFIG_MAP,
            source,
        })?;
        config
            .set(
                0,
                &KernelConfig {
                    flow_byte_budget,
                    flags: if count_flows { CONFIG_COUNT_FLOWS } else { 0 },
                },
                0,
            )
            .map_err(|source| LiveError::Map {
                name: CONFIG_MAP,
                source,
            })?;
        for name in [TC_INGRESS_PROGRAM, TC_EGRESS_PROGRAM] {
            classifier(&mut ebpf, name)?
                .load()
                .map_err(|source| LiveError::Program { name, source })?;
        }
        attach_socket_owners(&mut ebpf)?;
        let tcx = match mode {
            AttachMode::Tcx => true,
            AttachMode::Netlink => false,
            AttachMode::Auto => {
                KernelVersion::current().is_ok_and(|version| version >= KernelVersion::new(6, 6, 0))
            }
        };
        Ok(Self {
            ebpf,
            links: BTreeMap::new(),
            failures: 0,
            tcx,
            stale_filters_removed: 0,
        })
    }

    /// Applies link notifications: attach to new admitted links, follow
    /// renames, forget deleted ones.
    fn apply(&mut self, changes: Vec<LinkChange>, filter: &InterfaceFilter) {
        for change in changes {
            match change {
                LinkChange::Gone { index } => self.forget(index),
                LinkChange::Present { index, name } => {
                    let known = self.links.get(&index).map(|(known, _)| known.clone());
                    match known {
                        Some(known) if known == name => {}
                        Some(_) if !filter.admits(&name) => self.forget(index),
                        Some(_) => {
                            if let Some(entry) = self.links.get_mut(&index) {
                                tracing::info!(from = %entry.0, to = %name, index, "interface renamed");
                                entry.0 = name;
                            }
                        }
                        None => self.attach_if_admitted(&Interface { index, name }, filter),
                    }
                }
            }
        }
    }

    /// Drops links of interfaces the filter no longer admits.
    fn retain_admitted(&mut self, filter: &InterfaceFilter) {
        let refused: Vec<u32> = self
            .links
            .iter()
            .filter(|(_, (name, _))| !filter.admits(name))
            .map(|(index, _)| *index)
            .collect();
        for index in refused {
            if let Some((name, _links)) = self.links.remove(&index) {
                tracing::info!(interface = %name, index, "detached by directive");
            }
        }
    }

    fn forget(&mut self, index: u32) {
        if let Some((name, _links)) = self.links.remove(&index) {
            tracing::info!(interface = %name, index, "interface gone; its links dropped");
        }
    }

    fn attach_if_admitted(&mut self, interface: &Interface, filter: &InterfaceFilter) {
        if self.links.contains_key(&interface.index) || !filter.admits(&interface.name) {
            return;
        }
        match self.attach(interface.index) {
            Ok(links) => {
                tracing::info!(interface = %interface.name, index = interface.index, "attached");
                self.links
                    .insert(interface.index, (interface.name.clone(), links));
            }
            Err(error) => {
                self.failures += 1;
                tracing::warn!(interface = %interface.name, %error, "could not attach");
            }
        }
    }

    /// Attaches to new admitted interfaces and forgets vanished ones.
    fn sync(&mut self, current: &[Interface], filter: &InterfaceFilter) {
        let present: std::collections::BTreeSet<u32> = current.iter().map(|i| i.index).collect();
        let vanished: Vec<u32> = self
            .links
            .keys()
            .copied()
            .filter(|index| !present.contains(index))
            .collect();
        for index in vanished {
            self.forget(index);
        }
        for interface in current {
            self.attach_if_admitted(interface, filter);
        }
    }

    fn attach(&mut self, index: u32) -> Result<Vec<SchedClassifierLink>, LiveError> {
        if !self.tcx {
            // Netlink filters need a clsact qdisc; one that exists already
            // is fine. It is left in place on exit: other tools may share it.
            if let Err(error) = qdisc_add_clsact(index) {
                tracing::debug!(index, %error, "clsact qdisc (may exist already)");
            }
        }
        let mut links = Vec::with_capacity(2);
        for (name, attach_type) in [
            (TC_INGRESS_PROGRAM, TcAttachType::Ingress),
            (TC_EGRESS_PROGRAM, TcAttachType::Egress),
        ] {
            let attach = if self.tcx {
                TcAttach::Tcx {
                    attach_type,
                    order: LinkOrder::default(),
                }
            } else {
                self.remove_stale_filters(index, attach_type, name);
                TcAttach::Netlink {
                    parent: attach_type.into(),
                    options: NlOptions::default(),
                }
            };
            let program = classifier(&mut self.ebpf, name)?;
            let id = program
                .attach(index, attach)
                .map_err(|source| LiveError::Program { name, source })?;
            let link = program
                .take_link(id)
                .map_err(|source| LiveError::Program { name, source })?;
            links.push(link);
        }
        Ok(links)
    }

    /// Deletes netlink filters named like this program, left on the
    /// interface by a run that was killed before it could detach.
    fn remove_stale_filters(&mut self, index: u32, attach_type: TcAttachType, name: &str) {
        match qdisc_detach_program(index, attach_type.into(), name) {
            Ok(()) => {
                self.stale_filters_removed += 1;
                tracing::info!(
                    index,
                    program = name,
                    "removed a filter an earlier run left behind"
                );
            }
            Err(aya::programs::tc::TcError::IoError(error))
                if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(index, program = name, %error, "looking for stale filters")
            }
        }
    }

    fn interface_name(&self, index: u32) -> Option<String> {
        self.links.get(&index).map(|(name, _)| name.clone())
    }

    fn attached_names(&self) -> Vec<String> {
        self.links.values().map(|(name, _)| name.clone()).collect()
    }
}

/// Loads and attaches the tp_btf programs that map sockets to processes.
/// Their links live as long as `ebpf`.
fn attach_socket_owners(ebpf: &mut Ebpf) -> Result<(), LiveError> {
    let btf = Btf::from_sys_fs().map_err(|error| LiveError::Btf(error.to_string()))?;
    for (name, tracepoint) in SOCKET_OWNER_PROGRAMS {
        let program: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or(LiveError::Missing(name))?
            .try_into()
            .map_err(|source| LiveError::Program { name, source })?;
        program
            .load(tracepoint, &btf)
            .map_err(|source| LiveError::Program { name, source })?;
        program
            .attach()
            .map_err(|source| LiveError::Program { name, source })?;
    }
    Ok(())
}

fn classifier<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, LiveError> {
    ebpf.program_mut(name)
        .ok_or(LiveError::Missing(name))?
        .try_into()
        .map_err(|source| LiveError::Program { name, source })
}

/// A map taken out of the loaded object, as the user-space type for it.
fn take_map<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, LiveError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(LiveError::Missing(name))?;
    T::try_from(map).map_err(|source| LiveError::Map { name, source })
}

/// Nanoseconds to add to CLOCK_MONOTONIC (the kernel's event clock) to get
/// Unix time.
fn monotonic_to_unix_offset() -> u64 {
    unix_now_nanos().saturating_sub(monotonic_now_nanos())
}

fn flow_key_of(session: &FinishedSession, protocol: u8) -> FlowKey {
    let (a, b) = (session.context().initiator, session.context().responder);
    FlowKey::new(protocol, mapped(a), a.port(), mapped(b), b.port())
}

fn mapped(address: SocketAddr) -> [u8; 16] {
    match address.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// What the live loop hands to the record writer thread.
// Sessions are the traffic; boxing them would add an allocation per record
// for the rare stats variant's sake.
#[allow(clippy::large_enum_variant)]
pub enum Outgoing {
    Session(FinishedSession),
    Stats(Box<LiveStats>),
    Flow(Box<FlowFacts>),
}

/// What the record writer thread publishes.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Published {
    Session(Box<SessionRecord>),
    Stats(Box<LiveStats>),
    Flow(Box<CnFlowRecord>),
}

impl Publishable for Published {
    fn kind(&self) -> RecordKind {
        match self {
            Published::Session(record) => record.kind(),
            Published::Stats(_) => RecordKind::Stats,
            Published::Flow(_) => RecordKind::CnFlow,
        }
    }
}

/// How long records still queued for NATS may take to go out at exit (the
/// sensor promises to exit within 2 s of SIGTERM).
const PUBLISH_DRAIN: Duration = Duration::from_millis(1200);

/// Where live capture's records go, and what operators ask of it.
pub struct LiveOutputs {
    pub sink: Box<dyn Sink>,
    /// The NATS publisher's counters, for the stats record.
    pub publish_stats: Option<PublishStatsSource>,
    /// Directives received over NATS.
    pub directives: Option<tokio::sync::mpsc::Receiver<DirectiveRequest>>,
}

/// State that directives change.
#[derive(Debug)]
struct Controls {
    interfaces: InterfaceFilter,
    /// Fraction of sessions recorded (by flow).
    sampling_rate: f64,
    /// Plaintext capture scopes asked for.
    plaintext: Vec<PlaintextScope>,
}

/// Runs live capture until `shutdown` resolves; records go to the sink.
pub async fn run_live(
    mut options: LiveOptions,
    outputs: LiveOutputs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<LiveStats, LiveError> {
    let LiveOutputs {
        sink,
        publish_stats,
        mut directives,
    } = outputs;
    let effective = privileges::effective_capabilities().map_err(LiveError::Capabilities)?;
    let mut controls = Controls {
        interfaces: std::mem::take(&mut options.interfaces),
        sampling_rate: 1.0,
        plaintext: Vec::new(),
    };
    let missing = privileges::missing_capabilities(effective);
    if !missing.is_empty() {
        return Err(LiveError::MissingCapabilities {
            missing: missing.join(", "),
        });
    }
    let mut attachments = Attachments::load(
        options.flow_byte_budget,
        options.cnflow.is_some(),
        options.attach_mode,
    )?;
    let ring: RingBuf<MapData> = take_map(&mut attachments.ebpf, EVENTS_MAP)?;
    let mut flows: BpfHashMap<MapData, FlowKey, FlowState> =
        take_map(&mut attachments.ebpf, FLOWS_MAP)?;
    let counters: PerCpuArray<MapData, u64> = take_map(&mut attachments.ebpf, COUNTERS_MAP)?;
    let flow_counters: BpfHashMap<MapData, FlowKey, FlowCounters> =
        take_map(&mut attachments.ebpf, FLOW_COUNTERS_MAP)?;
    let socket_owners: BpfHashMap<MapData, u64, u64> =
        take_map(&mut attachments.ebpf, SOCKET_OWNERS_MAP)?;
    let mut flow_scanner = FlowScanner::new(options.cnflow.clone(), flow_counters, socket_owners);
    // `AsyncFd::new` is deprecated because a registered fd could be closed
    // behind tokio's back; here the AsyncFd owns the RingBuf that owns the
    // fd, so it lives exactly as long as the registration (and `register`,
    // the replacement, is `unsafe`, which this crate forbids).
    #[allow(deprecated)]
    let mut ring = AsyncFd::new(ring).map_err(LiveError::Poll)?;

    // Subscribe before listing, so no interface falls between the two.
    let mut link_watcher = match LinkWatcher::open() {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(%error, "rtnetlink unavailable; polling the interface list instead");
            None
        }
    };
    let interfaces = list_interfaces().map_err(LiveError::Interfaces)?;
    attachments.sync(&interfaces, &controls.interfaces);
    let metrics_listener = match options.metrics_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| LiveError::Metrics { address, source })?,
        ),
        None => None,
    };

    let mut certificates = CertificateCache::default();
    // Attribution reads procfs and the pod log layout: on the writer
    // thread, off the packet path.
    let mut attributor = Attributor::new(options.attribution.clone());
    let offset = monotonic_to_unix_offset();
    let community_id_seed = options.pipeline.community_id_seed;
    let host = HostInfo::of_this_node();
    let node_name = host.name.clone();
    let mut writer =
        BackgroundWriter::spawn(sink, 1024, PUBLISH_DRAIN, move |outgoing| match outgoing {
            Outgoing::Session(finished) => {
                let mut record = finished.into_record(&mut certificates);
                record.attribute(&mut attributor, &host);
                Published::Session(Box::new(record))
            }
            Outgoing::Stats(stats) => Published::Stats(stats),
            Outgoing::Flow(facts) => Published::Flow(Box::new(build_cnflow_record(
                &facts,
                offset,
                &mut attributor,
                &host,
                community_id_seed,
            ))),
        })
        .map_err(LiveError::Output)?;
    let finished: Rc<RefCell<Vec<FinishedSession>>> = Rc::default();
    let mut pipeline_config = options.pipeline.clone();
    pipeline_config.source = "live";
    pipeline_config.input = None;
    let mut pipeline = {
        let finished = Rc::clone(&finished);
        SessionPipeline::new(pipeline_config, move |session| {
            finished.borrow_mut().push(session)
        })
    };
    let own_pid = std::process::id();
    let mut stats = LiveStats::default();
    let mut frame = Vec::with_capacity(4096);
    let mut interface_tick = tokio::time::interval(if link_watcher.is_some() {
        INTERFACE_RESYNC
    } else {
        INTERFACE_POLL
    });
    let mut sweep_tick = tokio::time::interval(SWEEP_INTERVAL);
    let mut cnflow_tick = tokio::time::interval(options.cnflow_scan_interval);
    let stats_period = options
        .stats_interval
        .unwrap_or(Duration::from_secs(3600 * 24 * 365));
    let mut stats_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + stats_period, stats_period);
    tokio::pin!(shutdown);

    let result = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            readable = ring.readable_mut() => {
                let mut guard = match readable {
                    Ok(guard) => guard,
                    Err(error) => break Err(LiveError::Poll(error)),
                };
                let ring = guard.get_inner_mut();
                let mut handled = 0;
                while handled < EVENTS_PER_WAKE {
                    let Some(item) = ring.next() else { break };
                    handled += 1;
                    stats.events_read += 1;
                    match event_frame(&item, &mut frame) {
                        Ok((meta, _)) if meta.pid_tgid >> 32 == u64::from(own_pid) => {
                            stats.own_traffic_events += 1;
                        }
                        Ok((meta, payload_offset)) => match decode_event_frame(&frame, payload_offset) {
                            Ok(packet) => {
                                let observation = observation_of(&meta, &attachments);
                                let now = meta.timestamp_monotonic_ns.saturating_add(offset);
                                pipeline.on_observed_packet(&packet, now, &observation);
                            }
                            Err(error) => *stats.events_dropped.entry(drop_reason(&error)).or_default() += 1,
                        },
                        Err(error) => *stats.events_dropped.entry(drop_reason(&error)).or_default() += 1,
                    }
                }
                if handled < EVENTS_PER_WAKE {
                    guard.clear_ready();
                }
            }
            news = next_link_news(&mut link_watcher) => match news {
                Ok(news) => {
                    stats.malformed_link_notifications += news.malformed;
                    if news.overflowed {
                        tracing::warn!("link notifications were lost; re-listing interfaces");
                        interface_tick.reset_immediately();
                    }
                    attachments.apply(news.changes, &controls.interfaces);
                }
                Err(error) => {
                    tracing::warn!(%error, "rtnetlink failed; polling the interface list instead");
                    link_watcher = None;
                    interface_tick = tokio::time::interval(INTERFACE_POLL);
                }
            },
            _ = interface_tick.tick() => {
                match list_interfaces() {
                    Ok(current) => attachments.sync(&current, &controls.interfaces),
                    Err(error) => tracing::warn!(%error, "listing interfaces"),
                }
            }
            _ = sweep_tick.tick() => {
                pipeline.expire_idle(unix_now_nanos());
            }
            _ = cnflow_tick.tick(), if flow_scanner.enabled() => {
                if flow_scanner.scan(&attachments, &mut writer, &mut stats, false).is_err() {
                    break writer_error();
                }
            }
            accepted = next_connection(metrics_listener.as_ref()) => {
                if let Ok((mut stream, _)) = accepted {
                    fill_stats(&mut stats, &counters, &attachments, pipeline.stats(), publish_stats.as_ref());
                    let snapshot = stats.clone();
                    tokio::spawn(async move {
                        let (status, body) = match metrics::read_route(&mut stream).await {
                            metrics::Route::Metrics => ("200 OK", metrics::render(&snapshot)),
                            metrics::Route::Health => match metrics::health(&snapshot) {
                                (true, text) => ("200 OK", text),
                                (false, text) => ("503 Service Unavailable", text),
                            },
                            metrics::Route::NotFound => ("404 Not Found", "try /metrics or /healthz\n".into()),
                            metrics::Route::MethodNotAllowed => ("405 Method Not Allowed", "GET only\n".into()),
                            metrics::Route::BadRequest => ("400 Bad Request", "bad request\n".into()),
                        };
                        metrics::respond(stream, status, "text/plain; version=0.0.4; charset=utf-8", body).await;
                    });
                }
            }
            request = next_directive(&mut directives) => {
                match request {
                    Some(request) => {
                        fill_stats(&mut stats, &counters, &attachments, pipeline.stats(), publish_stats.as_ref());
                        let reply = apply_directive(request.directive, &mut controls, &mut attachments, &stats, &node_name);
                        stats.directives_applied += 1;
                        let _ = request.respond.send(reply);
                    }
                    None => directives = None,
                }
            }
            _ = stats_tick.tick() => {
                fill_stats(&mut stats, &counters, &attachments, pipeline.stats(), publish_stats.as_ref());
                print_stats(&stats);
                if writer.send(Outgoing::Stats(Box::new(stats.clone()))).is_err() {
                    break writer_error();
                }
            }
        }
        if hand_over(
            &finished,
            &mut writer,
            &mut flows,
            &flow_scanner,
            &mut stats,
            controls.sampling_rate,
        )
        .is_err()
        {
            break writer_error();
        }
    };
    pipeline.finish_all();
    let handed = hand_over(
        &finished,
        &mut writer,
        &mut flows,
        &flow_scanner,
        &mut stats,
        controls.sampling_rate,
    );
    // Flows still open are reported, so none goes unrecorded.
    let _ = flow_scanner.scan(&attachments, &mut writer, &mut stats, true);
    fill_stats(
        &mut stats,
        &counters,
        &attachments,
        pipeline.stats(),
        publish_stats.as_ref(),
    );
    let _ = writer.send(Outgoing::Stats(Box::new(stats.clone())));
    // Detach before the output is drained: nothing more is captured.
    drop(attachments);
    let written = writer.finish().map_err(LiveError::Output);
    // The final counts of the publisher, after its drain.
    stats.publish = publish_stats.as_ref().map(PublishStatsSource::stats);
    result?;
    written?;
    if handed.is_err() {
        writer_error()?;
    }
    Ok(stats)
}

/// The next metrics connection, or never when metrics are off.
async fn next_connection(
    listener: Option<&tokio::net::TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// The next directive, or never without NATS.
async fn next_directive(
    directives: &mut Option<tokio::sync::mpsc::Receiver<DirectiveRequest>>,
) -> Option<DirectiveRequest> {
    match directives {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Carries out a checked directive and says what it did.
fn apply_directive(
    directive: Directive,
    controls: &mut Controls,
    attachments: &mut Attachments,
    stats: &LiveStats,
    node: &str,
) -> serde_json::Value {
    match directive {
        Directive::Status {} => serde_json::json!({
            "ok": true,
            "status": {
                "version": env!("CARGO_PKG_VERSION"),
                "node": node,
                "attach_mode": if attachments.tcx { "tcx" } else { "netlink" },
                "interfaces_attached": attachments.attached_names(),
                "interface_filter": {
                    "include": controls.interfaces.include,
                    "exclude": controls.interfaces.exclude,
                },
                "sampling_rate": controls.sampling_rate,
                "plaintext": plaintext_status(controls),
                "stats": stats,
            },
        }),
        Directive::Interfaces { include, exclude } => {
            controls.interfaces = InterfaceFilter { include, exclude };
            attachments.retain_admitted(&controls.interfaces);
            match list_interfaces() {
                Ok(current) => attachments.sync(&current, &controls.interfaces),
                Err(error) => return error_reply(&format!("listing interfaces: {error}")),
            }
            serde_json::json!({ "ok": true, "interfaces_attached": attachments.attached_names() })
        }
        Directive::Sampling { rate } => {
            controls.sampling_rate = rate;
            serde_json::json!({ "ok": true, "sampling_rate": rate })
        }
        Directive::Plaintext { enabled, scope } => {
            controls.plaintext.retain(|known| known != &scope);
            if enabled {
                controls.plaintext.push(scope);
            }
            serde_json::json!({ "ok": true, "plaintext": plaintext_status(controls) })
        }
    }
}

/// The plaintext scopes asked for; capture itself needs the uprobes, which
/// this build does not attach yet, so it says so instead of pretending.
fn plaintext_status(controls: &Controls) -> serde_json::Value {
    serde_json::json!({
        "scopes": controls.plaintext,
        "active": false,
        "reason": "plaintext capture (SSL_read/SSL_write uprobes) is not part of this build yet; the scopes are kept and take effect when it is",
    })
}

/// The next link notifications, or never without a watcher.
async fn next_link_news(watcher: &mut Option<LinkWatcher>) -> std::io::Result<LinkNews> {
    match watcher {
        Some(watcher) => watcher.next().await,
        None => std::future::pending().await,
    }
}

/// The kernel facts of one event. The skb's socket is the sender's: on
/// egress the local sending socket, on a veth's host-side ingress the
/// container's sending socket.
fn observation_of<'a>(
    meta: &event::EventMeta,
    attachments: &'a Attachments,
) -> PacketObservation<'a> {
    let tgid = (meta.pid_tgid >> 32) as u32;
    PacketObservation {
        interface: attachments
            .links
            .get(&meta.ifindex)
            .map(|(name, _)| name.as_str()),
        ifindex: meta.ifindex,
        netns_cookie: meta.netns_cookie,
        sender: (meta.socket_cookie != 0).then(|| SocketFacts {
            socket_cookie: meta.socket_cookie,
            cgroup_id: meta.cgroup_id,
            pid: (tgid != 0).then_some(tgid),
            tid: (tgid != 0).then_some(meta.pid_tgid as u32),
        }),
    }
}

fn writer_error() -> Result<(), LiveError> {
    Err(LiveError::Output(std::io::Error::other(
        "the record writer stopped",
    )))
}

/// Sends finished sessions to the writer and marks their flows done in the
/// kernel so they are not copied any more.
fn hand_over(
    finished: &Rc<RefCell<Vec<FinishedSession>>>,
    writer: &mut BackgroundWriter<Outgoing>,
    flows: &mut BpfHashMap<MapData, FlowKey, FlowState>,
    flow_scanner: &FlowScanner,
    stats: &mut LiveStats,
    sampling_rate: f64,
) -> Result<(), crate::output::WriterStopped> {
    let sessions: Vec<FinishedSession> = finished.borrow_mut().drain(..).collect();
    let own_pid = std::process::id();
    for mut session in sessions {
        let protocol = match session.context().transport {
            cipherlens_parsers::fingerprint::Transport::Quic => 17,
            _ => 6,
        };
        let key = flow_key_of(&session, protocol);
        let done = FlowState {
            bytes_copied: u32::MAX,
            flags: FLOW_DONE,
        };
        // BPF_EXIST: only flows the kernel still tracks; an evicted one needs nothing.
        if flows.insert(&key, &done, 2).is_ok() {
            stats.flows_marked_done += 1;
        }
        // A socket's first packets can pass before the kernel knows its
        // process (the owner map is filled after the send); by the end of
        // the session it is known.
        if is_own_session(&session, own_pid) {
            stats.own_traffic_sessions += 1;
            continue;
        }
        if !sampled(flow_hash(&key), sampling_rate) {
            stats.sampled_out += 1;
            continue;
        }
        if let Some(id) = flow_scanner.id_of(&key) {
            session.set_cnflow_id(id);
        }
        writer.send(Outgoing::Session(session))?;
    }
    // Live records must not wait for a full batch.
    writer.hand_over()
}

fn is_own_session(session: &FinishedSession, own_pid: u32) -> bool {
    session.context().observation.as_ref().is_some_and(|seen| {
        seen.sockets
            .iter()
            .flatten()
            .any(|socket| socket.pid == Some(own_pid))
    })
}

fn drop_reason(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.split(':').next().unwrap_or_default().to_string()
}

fn fill_stats(
    stats: &mut LiveStats,
    counters: &PerCpuArray<MapData, u64>,
    attachments: &Attachments,
    pipeline: PipelineStats,
    publish: Option<&PublishStatsSource>,
) {
    stats.publish = publish.map(PublishStatsSource::stats);
    stats.schema = "cipherlens.stats/v1";
    stats.time = crate::time::rfc3339_from_unix_nanos(unix_now_nanos());
    stats.kernel_losses = 0;
    for counter in Counter::ALL {
        let value: u64 = counters
            .get(&(counter as u32), 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(0);
        stats.kernel.insert(counter.name(), value);
        if counter.is_loss() {
            stats.kernel_losses += value;
        }
    }
    stats.interfaces_attached = attachments.attached_names();
    stats.attach_failures = attachments.failures;
    stats.attach_mode = if attachments.tcx { "tcx" } else { "netlink" };
    stats.stale_filters_removed = attachments.stale_filters_removed;
    stats.pipeline = pipeline;
}

/// Writes a stats record to stderr.
pub fn print_stats(stats: &LiveStats) {
    match serde_json::to_string(stats) {
        Ok(line) => eprintln!("{line}"),
        Err(error) => tracing::warn!(%error, "stats record"),
    }
}
