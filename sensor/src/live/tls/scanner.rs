//! Discovery on its own thread: reading a process's maps and, the first
//! time a file is seen, its ELF symbol tables (tens of milliseconds for a
//! large library, more for node or libwireshark) must not hold up the
//! event loop that reads packets. The loop asks for scans and gets the
//! results back; attaching stays on the loop, which owns the programs.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use cipherlens_record::attribution::EndpointAttribution;
use cipherlens_uprobes::{Discovery, DiscoveryStats, FileId, Limits, ProcessScan};

use crate::attribution::{AttributionSources, Attributor};

/// Results waiting for the loop at most (the scanner waits beyond).
const RESULTS: usize = 1024;

/// What the loop asks.
#[derive(Debug)]
pub enum Request {
    Scan(u32),
    /// The process ran a new program: what is cached about it is stale.
    Exec(u32),
    /// Every process, then the set of those alive.
    Everything,
    /// A file is no longer probed: close it, read it again if it comes back.
    Forget(FileId),
}

/// One scanned process.
pub struct Scanned {
    pub scan: ProcessScan,
    pub who: std::sync::Arc<EndpointAttribution>,
    /// Probe targets, opened before parsing: attaching through
    /// `/proc/self/fd/N` works after a short-lived process is gone.
    pub open: Vec<(FileId, std::fs::File)>,
    pub stats: DiscoveryStats,
}

/// What the scanner found.
pub enum Found {
    Process(Box<Scanned>),
    /// The process could not be scanned (usually: it is gone).
    Failed {
        pid: u32,
        reason: &'static str,
    },
    /// A full scan ended; these processes were alive.
    Alive(BTreeSet<u32>),
}

/// The loop's side of the scanner thread.
pub struct Scanner {
    requests: Sender<Request>,
    pub found: tokio::sync::mpsc::Receiver<Found>,
}

impl Scanner {
    pub fn spawn(
        proc_root: PathBuf,
        sources: AttributionSources,
        own_pid: u32,
    ) -> std::io::Result<Self> {
        let (requests, incoming) = std::sync::mpsc::channel();
        let (results, found) = tokio::sync::mpsc::channel(RESULTS);
        std::thread::Builder::new()
            .name("tls-discovery".into())
            .spawn(move || {
                let mut worker = Worker {
                    discovery: Discovery::new(&proc_root, Limits::default()),
                    attributor: Attributor::new(sources),
                    proc_root,
                    own_pid,
                    results,
                };
                worker.run(&incoming);
            })?;
        Ok(Self { requests, found })
    }

    /// Asks for something; a stopped scanner is logged once by the loop's
    /// caller through the results channel closing.
    pub fn ask(&self, request: Request) {
        let _ = self.requests.send(request);
    }
}

struct Worker {
    discovery: Discovery,
    attributor: Attributor,
    proc_root: PathBuf,
    own_pid: u32,
    results: tokio::sync::mpsc::Sender<Found>,
}

impl Worker {
    fn run(&mut self, incoming: &Receiver<Request>) {
        while let Ok(first) = incoming.recv() {
            // Requests that piled up are served together: a pid asked for
            // twice (exec, then the loader's report) is scanned once.
            let mut pids = BTreeSet::new();
            let mut everything = false;
            let mut next = Some(first);
            while let Some(request) = next {
                match request {
                    Request::Scan(pid) => {
                        pids.insert(pid);
                    }
                    Request::Exec(pid) => {
                        self.attributor.forget(pid);
                        pids.insert(pid);
                    }
                    Request::Everything => everything = true,
                    Request::Forget(file) => self.discovery.forget(file),
                }
                next = match incoming.try_recv() {
                    Ok(request) => Some(request),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                };
            }
            for pid in pids {
                if !self.scan(pid) {
                    return;
                }
            }
            if everything && !self.everything(incoming) {
                return;
            }
            // Symbol tables read for the scan are freed; this thread may
            // wait long for the next request.
            crate::memory::trim();
        }
    }

    /// Serves the single-process requests that arrived meanwhile: a
    /// process that just started must not wait behind a full scan.
    fn serve_urgent(&mut self, incoming: &Receiver<Request>, deferred: &mut Vec<Request>) -> bool {
        loop {
            match incoming.try_recv() {
                Ok(Request::Exec(pid)) => {
                    self.attributor.forget(pid);
                    if !self.scan(pid) {
                        return false;
                    }
                }
                Ok(Request::Scan(pid)) => {
                    if !self.scan(pid) {
                        return false;
                    }
                }
                Ok(other) => deferred.push(other),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Scans one process; false when the loop is gone.
    fn scan(&mut self, pid: u32) -> bool {
        if pid == 0 || pid == self.own_pid {
            return true;
        }
        let found = match self.discovery.scan(pid) {
            Ok(scan) => {
                let open = scan
                    .files
                    .iter()
                    .filter(|file| file.verdict.is_probe_target())
                    .filter_map(|file| {
                        let open = self.discovery.open_file(file.id)?.try_clone().ok()?;
                        Some((file.id, open))
                    })
                    .collect();
                Found::Process(Box::new(Scanned {
                    who: self.attributor.attribute(pid),
                    scan,
                    open,
                    stats: self.discovery.stats(),
                }))
            }
            Err(error) => {
                tracing::debug!(pid, %error, "process not scanned");
                Found::Failed {
                    pid,
                    reason: error.reason(),
                }
            }
        };
        self.results.blocking_send(found).is_ok()
    }

    fn everything(&mut self, incoming: &Receiver<Request>) -> bool {
        tracing::debug!("scanning every process");
        let pids: BTreeSet<u32> = match std::fs::read_dir(&self.proc_root) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "listing processes for TLS probes");
                return true;
            }
        };
        let mut deferred = Vec::new();
        for pid in &pids {
            if !self.serve_urgent(incoming, &mut deferred) || !self.scan(*pid) {
                return false;
            }
        }
        for request in deferred {
            if let Request::Forget(file) = request {
                self.discovery.forget(file);
            }
        }
        tracing::debug!(processes = pids.len(), "every process scanned");
        self.results.blocking_send(Found::Alive(pids)).is_ok()
    }
}
