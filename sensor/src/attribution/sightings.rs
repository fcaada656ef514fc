//! Reading a process's procfs facts the moment its sockets are first seen.
//!
//! A short-lived client (a `curl` in a cron job, a health probe) can exit
//! within milliseconds of its handshake. The record writer thread, which
//! resolves attributions, may not run that soon on a busy node; the packet
//! thread has just read the client's first packet, so it takes the
//! snapshot (a few small procfs reads) and the writer resolves it later.
//! Each process is read at most once per [`PROCESS_TTL`], so a long-lived
//! server's many sessions cost one read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use super::PROCESS_TTL;
use super::process::{self, ProcessFacts};

/// Pids remembered at once; the memory is cleared when it is full (the
/// cost: one more procfs read per process).
const MAX_SIGHTED: usize = 16_384;

/// A process as procfs showed it when its sockets were first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSighting {
    pub pid: u32,
    /// `None`: gone already.
    pub facts: Option<ProcessFacts>,
}

/// Decides which processes to read, and reads them.
pub struct Sightings {
    proc_root: PathBuf,
    read_at: HashMap<u32, Instant>,
}

impl Sightings {
    pub fn new(proc_root: PathBuf) -> Self {
        Self {
            proc_root,
            read_at: HashMap::new(),
        }
    }

    /// The process's facts, unless they were read within [`PROCESS_TTL`]
    /// (the writer's attribution of that read still stands).
    pub fn sight(&mut self, pid: u32) -> Option<ProcessSighting> {
        let now = Instant::now();
        if self
            .read_at
            .get(&pid)
            .is_some_and(|at| now.duration_since(*at) < PROCESS_TTL)
        {
            return None;
        }
        if self.read_at.len() >= MAX_SIGHTED {
            self.read_at.clear();
        }
        self.read_at.insert(pid, now);
        Some(ProcessSighting {
            pid,
            facts: process::read_process(&self.proc_root, pid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_read_once_per_ttl() {
        let mut sightings = Sightings::new(PathBuf::from("/proc"));
        let own = std::process::id();
        let first = sightings.sight(own).expect("first sighting reads");
        let facts = first.facts.expect("this process runs");
        assert_eq!(facts.pid, own);
        // procfs, independently: the kernel's name for this thread group.
        let comm = std::fs::read_to_string("/proc/self/comm").expect("comm");
        assert_eq!(facts.comm.as_deref(), Some(comm.trim_end()));
        assert!(sightings.sight(own).is_none(), "read again within the TTL");
    }

    #[test]
    fn a_gone_process_is_sighted_without_facts() {
        let root = std::env::temp_dir().join(format!("sightings-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("empty proc root");
        let mut sightings = Sightings::new(root.clone());
        assert_eq!(
            sightings.sight(42),
            Some(ProcessSighting {
                pid: 42,
                facts: None
            })
        );
        std::fs::remove_dir_all(root).expect("clean up");
    }
}
