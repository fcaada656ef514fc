//! Loading the embedded eBPF objects: their configuration, their programs,
//! and their maps taken out as the user-space types for them; and one run
//! of the TCP metrics classifier.

use aya::maps::{Array, HashMap as BpfHashMap, MapData, RingBuf};
use aya::programs::{BtfTracePoint, SchedClassifier, TestRun, TestRunOptions};
use aya::{Btf, Ebpf, EbpfLoader};
use cipherlens_bpf_batch::{DEFAULT_BATCH, HashBatch, ProgramRun};
use cipherlens_capture::tcp_metrics_frame::{decode_reply, request_frame};
use cipherlens_common::cpu_state::CPU_STATE_MAP;
use cipherlens_common::mark_done::MARK_DONE_PROGRAM;
use cipherlens_common::tcp_metrics::{TCP_METRICS_FRAME_LEN, TCP_METRICS_PROGRAM, TcpMetricsReply};
use cipherlens_common::tls::TLS_EVENTS_MAP;
use cipherlens_common::{
    CONFIG_COUNT_FLOWS, CONFIG_MAP, COUNTERS_MAP, EVENTS_MAP, FLOW_COUNTERS_MAP, FlowCounters,
    FlowKey, KNOWN_PROCESSES_MAP, KernelConfig, SOCKET_OWNER_PROGRAMS, SOCKET_OWNERS_MAP,
    TC_EGRESS_PROGRAM, TC_INGRESS_PROGRAM,
};

use super::LiveError;
use crate::cnflow::tcp_metrics::LookupError;

/// The maps the user side reads and writes.
pub struct KernelMaps {
    /// Packet events.
    pub events: RingBuf<MapData>,
    /// Marks flows done in the handshake-flow map (a never-attached
    /// classifier of the object, run on batches of requests).
    pub mark_done: ProgramRun,
    /// The kernel's counters (`cipherlens_common::Counter`): the counters
    /// map, and a handle on the CPU states that keep two of them.
    pub counters: super::stats::KernelCounters,
    /// Per-flow packet and byte counters (CNFlow), for the scan.
    pub flow_counters: BpfHashMap<MapData, FlowKey, FlowCounters>,
    /// A second handle on the same map, for the live loop's own lookups
    /// while a scan runs on another thread.
    pub flow_counters_lookup: BpfHashMap<MapData, FlowKey, FlowCounters>,
    /// A third, for the scan's batched reads and deletes.
    pub flow_counters_batch: HashBatch<FlowKey, FlowCounters>,
    /// Socket cookie -> pid_tgid of its latest sender/receiver.
    pub socket_owners: HashBatch<u64, u64>,
    /// Each CPU's recent flows and their counts not yet in their entries
    /// (its state, `cipherlens_common::cpu_state`).
    pub flow_cache: super::cpu_states::CpuStateMap,
    /// Processes seen in events (tgid -> 1): the kernel wakes the reader
    /// at once for the events of any other.
    pub known_processes: BpfHashMap<MapData, u32, u8>,
}

/// Flow entries per read of the scan (208 bytes each): every batch is read
/// between two reads of all CPUs' flow caches (8 KiB per CPU), so larger
/// batches mean fewer of those on many-CPU nodes.
const SCAN_BATCH: u32 = 1024;

/// The reader is woken when this share of the packet ring is waiting (see
/// `KernelConfig::ring_wake_bytes`): early enough that the ring never
/// fills between the wake-up and the drain, late enough that busy traffic
/// is read in batches of hundreds of events.
const RING_WAKE_SHARE: u32 = 64;

/// The smallest ring buffer the kernel makes (one page on x86-64).
pub const PAGE_BYTES: u32 = 4096;

/// Loads the object with its configuration, loads the TC classifiers and
/// attaches the socket-owner programs (whose links live as long as the
/// returned `Ebpf`), and takes the maps out.
pub fn load(
    flow_byte_budget: u32,
    starttls_watch_bytes: u32,
    count_flows: bool,
    ring_buffer_bytes: u32,
    tls_ring_buffer_bytes: u32,
) -> Result<(Ebpf, KernelMaps), LiveError> {
    let mut ebpf = EbpfLoader::new()
        .map_max_entries(EVENTS_MAP, ring_buffer_bytes)
        .map_max_entries(TLS_EVENTS_MAP, tls_ring_buffer_bytes)
        .map_max_entries(CPU_STATE_MAP, cpu_count()?)
        .load(super::ebpf_object::embedded())?;
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
                starttls_watch_bytes,
                ring_wake_bytes: ring_buffer_bytes / RING_WAKE_SHARE,
            },
            0,
        )
        .map_err(|source| LiveError::Map {
            name: CONFIG_MAP,
            source,
        })?;
    for name in [TC_INGRESS_PROGRAM, TC_EGRESS_PROGRAM, MARK_DONE_PROGRAM] {
        classifier(&mut ebpf, name)?
            .load()
            .map_err(|source| LiveError::Program { name, source })?;
    }
    let mark_done = {
        use std::os::fd::AsFd;
        let name = MARK_DONE_PROGRAM;
        let fd = classifier(&mut ebpf, name)?
            .fd()
            .map_err(|source| LiveError::Program { name, source })?
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| LiveError::MapHandle { name, source })?;
        ProgramRun::new(fd)
    };
    attach_socket_owners(&mut ebpf)?;
    let maps = KernelMaps {
        events: take_map(&mut ebpf, EVENTS_MAP)?,
        mark_done,
        counters: super::stats::KernelCounters {
            counters: take_map(&mut ebpf, COUNTERS_MAP)?,
            cpu_state: Array::try_from(aya::maps::Map::Array(duplicate(&ebpf, CPU_STATE_MAP)?))
                .map_err(|source| LiveError::Map {
                    name: CPU_STATE_MAP,
                    source,
                })?,
        },
        flow_counters_lookup: second_handle(&ebpf, FLOW_COUNTERS_MAP)?,
        flow_counters_batch: HashBatch::new(duplicate(&ebpf, FLOW_COUNTERS_MAP)?, SCAN_BATCH)
            .map_err(|source| LiveError::Batch {
                name: FLOW_COUNTERS_MAP,
                source,
            })?,
        flow_counters: take_map(&mut ebpf, FLOW_COUNTERS_MAP)?,
        socket_owners: HashBatch::new(duplicate(&ebpf, SOCKET_OWNERS_MAP)?, DEFAULT_BATCH)
            .map_err(|source| LiveError::Batch {
                name: SOCKET_OWNERS_MAP,
                source,
            })?,
        flow_cache: take_map(&mut ebpf, CPU_STATE_MAP)?,
        known_processes: take_map(&mut ebpf, KNOWN_PROCESSES_MAP)?,
    };
    Ok((ebpf, maps))
}

/// CPUs the kernel may run on: each has its state in the CPU-state map.
fn cpu_count() -> Result<u32, LiveError> {
    aya::util::nr_cpus()
        .map(|cpus| cpus.get())
        .map_err(|(_, source)| LiveError::Cpus(source))
}

/// Loads and attaches the tp_btf programs that map sockets to processes.
/// Their links live as long as `ebpf`.
fn attach_socket_owners(ebpf: &mut Ebpf) -> Result<(), LiveError> {
    let btf = Btf::from_sys_fs().map_err(LiveError::Btf)?;
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

pub(super) fn classifier<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, LiveError> {
    ebpf.program_mut(name)
        .ok_or(LiveError::Missing(name))?
        .try_into()
        .map_err(|source| LiveError::Program { name, source })
}

/// Another handle on an LRU hash map of the loaded object (a duplicated
/// descriptor: no capability beyond the first's), as the user-space type
/// for it.
fn second_handle<T>(ebpf: &Ebpf, name: &'static str) -> Result<T, LiveError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let data = duplicate(ebpf, name)?;
    T::try_from(aya::maps::Map::LruHashMap(data)).map_err(|source| LiveError::Map { name, source })
}

/// Another handle on an LRU hash map or an array of the loaded object.
fn duplicate(ebpf: &Ebpf, name: &'static str) -> Result<MapData, LiveError> {
    use std::os::fd::AsFd;
    let map = ebpf.map(name).ok_or(LiveError::Missing(name))?;
    let (aya::maps::Map::LruHashMap(data) | aya::maps::Map::Array(data)) = map else {
        return Err(LiveError::Missing(name));
    };
    let fd = data
        .fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| LiveError::MapHandle { name, source })?;
    MapData::from_fd(fd).map_err(|source| LiveError::Map { name, source })
}

/// A map taken out of the loaded object, as the user-space type for it.
pub(super) fn take_map<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, LiveError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(LiveError::Missing(name))?;
    T::try_from(map).map_err(|source| LiveError::Map { name, source })
}

/// Loads the TCP metrics classifier's own object (never attached; run on
/// request by whoever owns the returned object).
pub fn load_tcp_metrics() -> Result<Ebpf, LiveError> {
    let mut ebpf = EbpfLoader::new().load(super::ebpf_object::tcp_metrics())?;
    classifier(&mut ebpf, TCP_METRICS_PROGRAM)?
        .load()
        .map_err(|source| LiveError::Program {
            name: TCP_METRICS_PROGRAM,
            source,
        })?;
    Ok(ebpf)
}

/// One run of the TCP metrics classifier (loaded by [`load_tcp_metrics`]):
/// the socket `local` <-> `remote` in namespace `netns_id`, as the kernel
/// answers for it.
pub fn run_tcp_metrics(
    program: &SchedClassifier,
    netns_id: i32,
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
) -> Result<TcpMetricsReply, LookupError> {
    let frame = request_frame(netns_id, local, remote);
    let mut out = [0u8; TCP_METRICS_FRAME_LEN];
    let run = program
        .test_run(TestRunOptions {
            data_in: Some(&frame),
            data_out: Some(&mut out),
            ..TestRunOptions::default()
        })
        .map_err(|error| LookupError::Run(error.to_string()))?;
    let written = (run.data_size_out as usize).min(out.len());
    Ok(decode_reply(&out[..written])?)
}
