//! The TLS library probes, user side: which files carry uprobes, what the
//! kernel reports, and the certificate chains it yields.
//!
//! - [`attach`]: the uprobe programs, attached once per library file.
//! - [`events`]: the ring buffer's events as data.
//! - [`chains`]: certificate chains per socket until a session takes them.
//! - [`claim`]: a finished session takes its chain, or waits a bounded
//!   time for one still being decoded.
//! - [`coverage`]: which processes are covered and why not.
//!
//! Discovery (`cipherlens-uprobes`) runs for every process at start, on
//! exec, and when a process's dynamic loader reports new libraries; a
//! full rescan every 30 s catches what events missed and forgets
//! processes that are gone.

mod attach;
mod calls;
mod chains;
mod claim;
pub mod coverage;
mod events;
mod options;
pub mod plaintext;
mod scanner;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aya::Ebpf;
use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use cipherlens_common::tls::{
    TLS_CONFIG_MAP, TLS_COUNTERS_MAP, TLS_EVENTS_MAP, TLS_PROCESSES_MAP, TlsConfig, TlsCounter,
    TlsEventKind,
};
use cipherlens_record::session::CallBinding;
use cipherlens_record::stats::TlsProbeStats;
use cipherlens_uprobes::{Caller, FileVerdict, ProcessScan, Verdict};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;

use crate::attribution::AttributionSources;
use crate::live::LiveError;

pub use self::calls::PlaintextStatus;
pub use self::claim::Held;
pub use self::coverage::ProcessCoverage;
pub use self::options::{ProcessFilter, TlsProbeOptions};
pub use self::plaintext::{PlaintextOptions, PlaintextRefused, ScopeKind};

use self::attach::FileProbes;
use self::chains::{ChainKey, ChainOrigin, Chains, looks_like_certificate};
use self::events::TlsEvent;

/// How often every process is scanned again.
const FULL_RESCAN: Duration = Duration::from_secs(30);
/// Events handled per wake before yielding.
const EVENTS_PER_WAKE: usize = 4096;

/// Certificates waiting for their process's scan, at most.
const MAX_UNDECIDED: usize = 4096;
/// How long a certificate waits for its process's scan.
pub(super) const UNDECIDED_WAIT: Duration = Duration::from_secs(2);

/// A certificate whose caller lies in a file of a process not scanned yet.
struct Undecided {
    header: TlsEvent<'static>,
    data: Vec<u8>,
    since: Instant,
}

/// A scanned process.
struct Process {
    scan: ProcessScan,
    who: cipherlens_record::attribution::EndpointAttribution,
    coverage: Option<ProcessCoverage>,
    /// The process filter leaves it out.
    excluded: bool,
}

/// The TLS probes of a running sensor.
pub struct TlsProbes {
    options: TlsProbeOptions,
    own_pid: u32,
    scanner: scanner::Scanner,
    /// Attribution of sessions that wait (the scanner has its own).
    attributor: crate::attribution::Attributor,
    discovery_stats: cipherlens_uprobes::DiscoveryStats,
    files: FileProbes,
    processes: HashMap<u32, Process>,
    ring: AsyncFd<RingBuf<MapData>>,
    marks: BpfHashMap<MapData, u32, u32>,
    config: Array<MapData, TlsConfig>,
    counters: PerCpuArray<MapData, u64>,
    plaintext: plaintext::Plaintext,
    /// Processes in a plaintext process scope.
    plaintext_pids: std::collections::HashSet<u32>,
    /// Plaintext records ready for the writer.
    outgoing: Vec<cipherlens_record::PlaintextRecord>,
    /// Nanoseconds from the kernel's monotonic clock to Unix time.
    monotonic_to_unix: u64,
    chains: Chains,
    /// Sessions waiting for their chain.
    held: Vec<Held>,
    /// Certificates waiting for their process's scan, by pid.
    undecided: HashMap<u32, Vec<Undecided>>,
    /// Sockets whose session went out without a chain while their process
    /// was covered: a chain arriving later for one is late.
    emitted_without: HashMap<u64, Instant>,
    last_full_scan: Instant,
    /// User-side counters by name.
    counts: BTreeMap<&'static str, u64>,
}

impl TlsProbes {
    /// Loads and attaches the probes for every process running now. `None`
    /// when they are off.
    pub fn start(
        ebpf: &mut Ebpf,
        options: TlsProbeOptions,
        sources: AttributionSources,
    ) -> Result<Option<Self>, LiveError> {
        if !options.enabled {
            return Ok(None);
        }
        let own_pid = std::process::id();
        let config: Array<MapData, TlsConfig> = take_map(ebpf, TLS_CONFIG_MAP)?;
        attach::load(ebpf)?;
        let ring: RingBuf<MapData> = take_map(ebpf, TLS_EVENTS_MAP)?;
        // See `live::run_live` on `AsyncFd::new`: the AsyncFd owns the ring.
        #[allow(deprecated)]
        let ring = AsyncFd::new(ring).map_err(LiveError::Poll)?;
        let plaintext_options = options.plaintext.clone();
        let attributor = crate::attribution::Attributor::new(sources.clone());
        let scanner = scanner::Scanner::spawn(sources.proc_root.clone(), sources, own_pid)
            .map_err(LiveError::Poll)?;
        let mut probes = Self {
            options,
            own_pid,
            scanner,
            attributor,
            discovery_stats: cipherlens_uprobes::DiscoveryStats::default(),
            files: FileProbes::default(),
            processes: HashMap::new(),
            ring,
            marks: take_map(ebpf, TLS_PROCESSES_MAP)?,
            config,
            counters: take_map(ebpf, TLS_COUNTERS_MAP)?,
            plaintext: plaintext::Plaintext::new(plaintext_options),
            plaintext_pids: std::collections::HashSet::new(),
            outgoing: Vec::new(),
            monotonic_to_unix: crate::time::unix_now_nanos()
                .saturating_sub(crate::time::monotonic_now_nanos()),
            chains: Chains::default(),
            held: Vec::new(),
            undecided: HashMap::new(),
            emitted_without: HashMap::new(),
            last_full_scan: Instant::now(),
            counts: BTreeMap::new(),
        };
        probes.write_config()?;
        probes.files.set_plaintext(ebpf, probes.plaintext.active());
        probes.scanner.ask(scanner::Request::Everything);
        Ok(Some(probes))
    }

    /// Handles the events the kernel has (bounded per call), then scans
    /// the processes they named.
    pub fn on_events(&mut self) {
        let now = Instant::now();
        let mut handled = 0;
        let mut bytes = Vec::new();
        while handled < EVENTS_PER_WAKE {
            // The item borrows the ring, which handling needs: copy it out.
            {
                let Some(item) = self.ring.get_mut().next() else {
                    break;
                };
                bytes.clear();
                bytes.extend_from_slice(&item);
            }
            handled += 1;
            match events::decode(&bytes) {
                Ok(event) => self.on_event(&event, now),
                Err(error) => self.count(error.reason()),
            }
        }
        self.count_by("events_read", handled as u64);
    }

    fn on_event(&mut self, event: &TlsEvent<'_>, now: Instant) {
        match event.kind {
            TlsEventKind::Certificate => self.on_certificate(event, now),
            TlsEventKind::HandshakeDone => {
                self.chains.complete(chain_key(event), now);
            }
            TlsEventKind::ProcessExec => {
                // A new program: the old scan's mappings and filter
                // verdict no longer hold; its events wait for the new one.
                self.processes.remove(&event.pid);
                self.scanner.ask(scanner::Request::Exec(event.pid));
            }
            TlsEventKind::LibrariesChanged => {
                tracing::debug!(pid = event.pid, kind = ?event.kind, "process event");
                self.scanner.ask(scanner::Request::Scan(event.pid));
            }
            TlsEventKind::PlaintextRead | TlsEventKind::PlaintextWrite => self.on_plaintext(event),
        }
    }

    fn on_certificate(&mut self, event: &TlsEvent<'_>, now: Instant) {
        if event.truncated() {
            return self.count("certificates_truncated");
        }
        if self.files.probed(event.probe).is_none() {
            return self.count("certificates_from_detached_file");
        }
        // The kernel filters a process by its marks once it has been
        // scanned; until then its certificates wait for the scan, which
        // also says whether the filter leaves it out.
        if !self.processes.contains_key(&event.pid) {
            return self.defer(event, now);
        }
        match self.classify(event) {
            Some(from_handshake) => self.decided(event, from_handshake, now),
            None => self.defer(event, now),
        }
    }

    /// Whether a decode was the TLS library's handshake code's (a peer's
    /// certificate) rather than a CA bundle loader's or the application's;
    /// `None` when the process's mappings must say and do not cover the
    /// caller yet.
    fn classify(&self, event: &TlsEvent<'_>) -> Option<bool> {
        let (probed, function) = self.files.probed(event.probe)?;
        let library = &probed.library;
        let offset = library
            .functions
            .iter()
            .find(|(known, _)| Some(*known) == function)
            .map(|(_, offset)| *offset);
        let caller = offset.map(|offset| library.caller(offset, event.function, event.caller));
        match caller {
            Some(Caller::HandshakeCode) => Some(true),
            Some(Caller::OtherCode) | None => Some(false),
            // libcrypto called from another file: libssl, or the
            // application; the process's mappings say which.
            Some(Caller::OutsideFile) => self.caller_file_decides(event),
        }
    }

    /// Keeps a certificate the caller check let through.
    fn decided(&mut self, event: &TlsEvent<'_>, from_handshake: bool, now: Instant) {
        if self
            .processes
            .get(&event.pid)
            .is_some_and(|process| process.excluded)
        {
            return self.count("certificates_excluded_process");
        }
        if !from_handshake {
            return self.count("certificates_not_from_handshake");
        }
        if !looks_like_certificate(event.data) {
            return self.count("certificates_not_x509");
        }
        let Some((probed, _)) = self.files.probed(event.probe) else {
            return self.count("certificates_from_detached_file");
        };
        let library = Arc::clone(&probed.library);
        let path = probed.path.clone();
        if event.socket_cookie != 0 && self.emitted_without.remove(&event.socket_cookie).is_some() {
            return self.count("chains_late");
        }
        let origin = ChainOrigin {
            pid: event.pid,
            comm: event.comm.clone(),
            library: library.flavour.as_str(),
            version: library
                .version_text
                .as_deref()
                .and_then(coverage::version_number),
            path,
            binding: event.binding().unwrap_or(CallBinding::Thread),
        };
        self.chains.add(chain_key(event), event.data, origin, now);
    }

    /// Keeps a certificate until its process's scan says who called.
    fn defer(&mut self, event: &TlsEvent<'_>, now: Instant) {
        let waiting: usize = self.undecided.values().map(Vec::len).sum();
        if waiting >= MAX_UNDECIDED {
            return self.count("certificates_undecided_dropped");
        }
        self.scanner.ask(scanner::Request::Scan(event.pid));
        self.undecided
            .entry(event.pid)
            .or_default()
            .push(Undecided {
                header: TlsEvent {
                    data: &[],
                    ..event.clone()
                },
                data: event.data.to_vec(),
                since: now,
            });
    }

    /// Decides the certificates of `pid` that waited for its scan. Without
    /// one (the process is gone) libssl is the likely caller: libcrypto's
    /// own loaders (PEM files, CA directories) call from inside libcrypto
    /// and were told apart already, and applications rarely decode
    /// certificates themselves; counted.
    fn decide_waiting(&mut self, pid: u32, force: bool) {
        let Some(waiting) = self.undecided.remove(&pid) else {
            return;
        };
        let now = Instant::now();
        for undecided in waiting {
            let event = TlsEvent {
                data: &undecided.data,
                ..undecided.header.clone()
            };
            // Decided as if it had just arrived; only a caller in another
            // file needs the scan, and without one libssl is assumed.
            let from_handshake = match self.classify(&event) {
                Some(decided) => decided,
                None => {
                    self.count(if force {
                        "certificates_caller_assumed_libssl"
                    } else {
                        "certificates_caller_unmapped"
                    });
                    true
                }
            };
            self.decided(&event, from_handshake, now);
        }
    }

    /// Whether the code at the event's caller, in another file, is a TLS
    /// library's handshake code; `None` when the process's last scan does
    /// not cover the address.
    fn caller_file_decides(&self, event: &TlsEvent<'_>) -> Option<bool> {
        let process = self.processes.get(&event.pid)?;
        let (file, offset) = process.scan.code_at(event.caller)?;
        Some(match &*file.verdict {
            FileVerdict::Read {
                verdict: Verdict::Hookable(library),
                ..
            } => library.is_handshake_code(offset),
            _ => false,
        })
    }

    /// Every second: chains nobody claimed expire; every 30 s all
    /// processes are scanned again and the gone are forgotten.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let overdue: Vec<u32> = self
            .undecided
            .iter()
            .filter(|(_, waiting)| {
                waiting
                    .first()
                    .is_some_and(|first| now.duration_since(first.since) >= UNDECIDED_WAIT)
            })
            .map(|(pid, _)| *pid)
            .collect();
        for pid in overdue {
            self.decide_waiting(pid, true);
        }
        self.chains.expire(now);
        self.emitted_without
            .retain(|_, at| now.duration_since(*at) < Duration::from_secs(30));
        if now.duration_since(self.last_full_scan) >= FULL_RESCAN {
            self.last_full_scan = now;
            self.scanner.ask(scanner::Request::Everything);
        }
    }

    /// What the scanner found: attach, mark, cover; or forget the gone.
    pub fn on_found(&mut self, ebpf: &mut Ebpf, found: scanner::Found) {
        match found {
            scanner::Found::Process(scanned) => {
                let scanner::Scanned {
                    scan,
                    who,
                    open,
                    stats,
                } = *scanned;
                self.discovery_stats = stats;
                self.apply_process(ebpf, scan, who, open);
            }
            scanner::Found::Failed { pid, reason } => {
                // Usually the process is gone: its last scan still says
                // where its code was, for events it left in the ring.
                self.count(reason);
                self.decide_waiting(pid, true);
            }
            scanner::Found::Alive(alive) => self.forget_gone(ebpf, &alive),
        }
    }

    fn forget_gone(&mut self, ebpf: &mut Ebpf, alive: &BTreeSet<u32>) {
        let gone: Vec<u32> = self
            .processes
            .keys()
            .copied()
            .filter(|pid| !alive.contains(pid))
            .collect();
        for pid in gone {
            self.processes.remove(&pid);
            self.plaintext_pids.remove(&pid);
            let _ = self.marks.remove(&pid);
        }
        // Files no process maps any more are detached (the probe would
        // otherwise keep their inode).
        let mapped: BTreeSet<_> = self
            .processes
            .values()
            .flat_map(|process| process.scan.files.iter().map(|file| file.id))
            .collect();
        for file in self.files.retain(ebpf, |file| mapped.contains(&file)) {
            self.scanner.ask(scanner::Request::Forget(file));
        }
    }

    /// The kernel marks of a process, from its attribution.
    fn marks_of(
        &mut self,
        pid: u32,
        who: &cipherlens_record::attribution::EndpointAttribution,
    ) -> u32 {
        let mut marks = self.options.processes.marks(pid, who);
        if self.plaintext.covers(pid, who) {
            marks |= cipherlens_common::tls::PROCESS_PLAINTEXT;
            self.plaintext_pids.insert(pid);
        } else {
            self.plaintext_pids.remove(&pid);
        }
        if marks != 0 {
            let _ = self.marks.insert(&pid, &marks, 0);
        } else {
            let _ = self.marks.remove(&pid);
        }
        marks
    }

    /// Marks every known process again (the plaintext scopes changed).
    pub(super) fn remark(&mut self) {
        let known: Vec<(u32, cipherlens_record::attribution::EndpointAttribution)> = self
            .processes
            .iter()
            .map(|(pid, process)| (*pid, process.who.clone()))
            .collect();
        for (pid, who) in known {
            self.marks_of(pid, &who);
        }
    }

    /// A process's scan: attaches what its libraries need, records its
    /// filter marks and coverage.
    fn apply_process(
        &mut self,
        ebpf: &mut Ebpf,
        scan: ProcessScan,
        who: cipherlens_record::attribution::EndpointAttribution,
        mut open: Vec<(cipherlens_uprobes::FileId, std::fs::File)>,
    ) {
        let pid = scan.pid;
        let marks = self.marks_of(pid, &who);
        let excluded = marks & cipherlens_common::tls::PROCESS_EXCLUDED != 0
            || (self.options.processes.is_allow_list()
                && marks & cipherlens_common::tls::PROCESS_INCLUDED == 0);
        let mut take_open = |id| {
            open.iter()
                .position(|(file, _)| *file == id)
                .map(|at| open.swap_remove(at).1)
        };
        if let Some((file, offset)) = scan.loader_hook()
            && !self.files.is_attached(file.id)
        {
            let held = take_open(file.id);
            let attached = self
                .files
                .attach_loader(ebpf, file.id, held, &file.host_path, offset);
            tracing::debug!(pid, path = %file.path, ok = attached.is_ok(), "dynamic loader hook");
        }
        let mut refused = BTreeSet::new();
        for file in scan.tls_files() {
            let FileVerdict::Read {
                verdict: Verdict::Hookable(library),
                ..
            } = &*file.verdict
            else {
                continue;
            };
            if self.files.is_attached(file.id) || self.library_excluded(&file.path) {
                continue;
            }
            let held = take_open(file.id);
            if self
                .files
                .attach_library(ebpf, file.id, held, &file.host_path, &file.path, library)
                .is_err()
            {
                refused.insert(file.id);
            } else {
                tracing::info!(pid, path = %file.path, library = library.flavour.as_str(), "TLS library probed");
            }
        }
        let comm = who
            .process
            .as_ref()
            .and_then(|process| process.executable.as_ref())
            .and_then(|executable| executable.name.clone())
            .unwrap_or_default();
        let coverage = coverage::of_process(&scan, &comm, excluded, |file| {
            if self.library_excluded(&file.path) {
                Some(coverage::NotCovered::ExcludedLibrary)
            } else if refused.contains(&file.id) || !self.files.is_attached(file.id) {
                Some(coverage::NotCovered::AttachFailed)
            } else {
                None
            }
        });
        self.processes.insert(
            pid,
            Process {
                scan,
                who,
                coverage,
                excluded,
            },
        );
        self.decide_waiting(pid, false);
    }

    fn library_excluded(&self, path: &str) -> bool {
        self.options
            .exclude_libraries
            .iter()
            .any(|text| path.contains(text.as_str()))
    }

    /// Every process's coverage, by pid.
    pub fn coverage(&self) -> Vec<ProcessCoverage> {
        let mut list: Vec<ProcessCoverage> = self
            .processes
            .values()
            .filter_map(|process| process.coverage.clone())
            .collect();
        list.sort_by_key(|process| process.pid);
        list
    }

    /// The stats record's view.
    pub fn stats(&self) -> TlsProbeStats {
        let mut counters: BTreeMap<String, u64> = self
            .counts
            .iter()
            .map(|(name, value)| ((*name).to_owned(), *value))
            .collect();
        for counter in TlsCounter::ALL {
            if let Ok(values) = self.counters.get(&(counter as u32), 0) {
                counters.insert(counter.name().to_owned(), values.iter().sum());
            }
        }
        let chains = self.chains.stats;
        for (name, value) in [
            ("certificates_kept", chains.certificates_kept),
            ("certificates_repeated", chains.duplicates),
            ("chains_too_long", chains.chain_too_long),
            ("chains_evicted", chains.evicted),
            ("chains_unclaimed", chains.expired),
        ] {
            counters.insert(name.to_owned(), value);
        }
        counters.insert("chains_waiting".into(), self.chains.len() as u64);
        counters.insert("sessions_waiting".into(), self.held.len() as u64);
        let discovery = self.discovery_stats;
        counters.insert("library_files_read".into(), discovery.files_read);
        counters.insert("library_files_unreadable".into(), discovery.unreadable);
        TlsProbeStats {
            files_attached: self.files.files(),
            probes_attached: self.files.probes(),
            attach_failures: self
                .files
                .failures
                .iter()
                .map(|(failure, count)| (failure.as_str().to_owned(), *count))
                .collect(),
            plaintext: self.files.plaintext(),
            coverage: coverage::summarize(
                self.processes.values().filter_map(|p| p.coverage.as_ref()),
            ),
            counters,
        }
    }

    /// Detaches every probe (the links would also go with the object).
    pub fn stop(&mut self, ebpf: &mut Ebpf) {
        self.files.clear(ebpf);
    }

    fn count(&mut self, name: &'static str) {
        self.count_by(name, 1);
    }

    fn count_by(&mut self, name: &'static str, amount: u64) {
        *self.counts.entry(name).or_default() += amount;
    }
}

/// Where an event's chain is kept: its socket, else its thread.
fn chain_key(event: &TlsEvent<'_>) -> ChainKey {
    if event.socket_cookie != 0 {
        ChainKey::Socket(event.socket_cookie)
    } else {
        ChainKey::Thread((u64::from(event.pid) << 32) | u64::from(event.tid))
    }
}

/// What woke the TLS probes.
pub enum Work {
    /// The kernel has events ([`TlsProbes::on_events`]).
    Events,
    /// The scanner found something ([`TlsProbes::on_found`]).
    Found(scanner::Found),
}

/// The next work of the TLS probes, or never when they are off.
pub async fn next_work(probes: &mut Option<TlsProbes>) -> std::io::Result<Work> {
    let Some(probes) = probes else {
        return std::future::pending().await;
    };
    tokio::select! {
        ready = probes.ring.readable_mut() => {
            ready?.clear_ready();
            Ok(Work::Events)
        }
        found = probes.scanner.found.recv() => match found {
            Some(found) => Ok(Work::Found(found)),
            None => Err(std::io::Error::other("the TLS discovery thread stopped")),
        },
    }
}

fn take_map<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, LiveError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(LiveError::Missing(name))?;
    T::try_from(map).map_err(|source| LiveError::Map { name, source })
}
