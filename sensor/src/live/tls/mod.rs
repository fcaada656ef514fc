//! The TLS library probes, user side: which files carry uprobes, what the
//! kernel reports, and the certificate chains it yields.
//!
//! - `scanner`: discovery (`cipherlens-uprobes`) on its own thread.
//! - `processes`: what a scan means: probes attached, filter marks,
//!   coverage; the gone forgotten.
//! - `attach`: the uprobe programs, attached once per library file;
//!   `detach`: links dropped off the event loop.
//! - `events`: the ring buffer's events as data.
//! - `certificates`: whose decode a certificate was; `chains`: chains per
//!   socket until a session takes them; `claim`: a finished session takes
//!   its chain, or waits a bounded time for one still being decoded.
//! - `plaintext`, `calls`: plaintext records, scopes and the switch.
//! - [`coverage`]: which processes are covered and why not.
//!
//! Discovery (`cipherlens-uprobes`) runs for every process at start, on
//! exec, and when a process's dynamic loader reports new libraries; a
//! full rescan every 30 s catches what events missed and forgets
//! processes that are gone.

mod attach;
mod calls;
mod certificates;
mod chains;
mod claim;
pub mod coverage;
mod detach;
mod events;
mod options;
pub mod plaintext;
mod processes;
mod scanner;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aya::Ebpf;
use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use cipherlens_common::tls::{
    TLS_CONFIG_MAP, TLS_COUNTERS_MAP, TLS_EVENTS_MAP, TLS_PROCESSES_MAP, TlsConfig, TlsCounter,
    TlsEventKind,
};
use cipherlens_record::stats::TlsProbeStats;
use tokio::io::unix::AsyncFd;

use crate::attribution::AttributionSources;
use crate::live::LiveError;
use crate::live::ebpf::take_map;

pub use self::calls::PlaintextStatus;
pub use self::claim::Held;
pub use self::coverage::ProcessCoverage;
pub use self::options::{ProcessFilter, TlsProbeOptions};
pub use self::plaintext::{PlaintextOptions, PlaintextRefused, ScopeKind};

use self::attach::FileProbes;
use self::certificates::{Undecided, chain_key};
use self::chains::Chains;
use self::events::TlsEvent;
use self::processes::Process;

/// How often every process is scanned again.
const FULL_RESCAN: Duration = Duration::from_secs(30);
/// Events handled per wake before yielding.
const EVENTS_PER_WAKE: usize = 4096;

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

    /// Every second: chains nobody claimed expire; every 30 s all
    /// processes are scanned again and the gone are forgotten.
    pub fn tick(&mut self) {
        let now = Instant::now();
        self.decide_overdue(now);
        self.chains.expire(now);
        self.emitted_without
            .retain(|_, at| now.duration_since(*at) < Duration::from_secs(30));
        if now.duration_since(self.last_full_scan) >= FULL_RESCAN {
            self.last_full_scan = now;
            self.scanner.ask(scanner::Request::Everything);
        }
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
        counters.insert("plaintext_without_flow".into(), self.plaintext.without_flow);
        counters.insert("plaintext_out_of_scope".into(), self.plaintext.out_of_scope);
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
