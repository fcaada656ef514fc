//! Processes as the scanner found them: their library files get probes,
//! their filter marks go to the kernel, their coverage is kept for
//! `status` and `/metrics`, and the gone are forgotten (their files'
//! probes detached).

use std::collections::BTreeSet;
use std::sync::Arc;

use aya::Ebpf;
use cipherlens_record::attribution::EndpointAttribution;
use cipherlens_uprobes::{FileId, FileVerdict, ProcessScan, Verdict};

use super::coverage::{self, ProcessCoverage};
use super::{TlsProbes, scanner};

/// A scanned process.
pub(super) struct Process {
    pub(super) scan: ProcessScan,
    pub(super) who: Arc<EndpointAttribution>,
    pub(super) coverage: Option<ProcessCoverage>,
    /// The process filter leaves it out.
    pub(super) excluded: bool,
}

impl TlsProbes {
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
    fn marks_of(&mut self, pid: u32, who: &EndpointAttribution) -> u32 {
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
        let known: Vec<(u32, Arc<EndpointAttribution>)> = self
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
        who: Arc<EndpointAttribution>,
        mut open: Vec<(FileId, std::fs::File)>,
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
}
