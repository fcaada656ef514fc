//! What the TLS probes are asked to cover: on or off, which processes
//! (by pid, container, executable) and which library files.

use std::time::Duration;

use cipherlens_common::tls::{PROCESS_EXCLUDED, PROCESS_INCLUDED};
use cipherlens_record::attribution::EndpointAttribution;

/// The TLS probes' settings.
#[derive(Debug, Clone)]
pub struct TlsProbeOptions {
    pub enabled: bool,
    pub processes: ProcessFilter,
    /// Library files whose path contains one of these are never probed.
    pub exclude_libraries: Vec<String>,
    /// How long a TLS 1.3 session's record may wait for its chain.
    pub certificate_wait: Duration,
    /// Plaintext capture (off unless scopes are given).
    pub plaintext: super::plaintext::PlaintextOptions,
    /// Seed of the Community IDs plaintext records name their flow by.
    pub community_id_seed: u16,
}

impl Default for TlsProbeOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            processes: ProcessFilter::default(),
            exclude_libraries: Vec::new(),
            certificate_wait: Duration::from_millis(250),
            plaintext: super::plaintext::PlaintextOptions::default(),
            community_id_seed: 0,
        }
    }
}

/// Include and exclude lists of processes. Any include list makes the
/// filter an allow list: a process must match one of them.
#[derive(Debug, Clone, Default)]
pub struct ProcessFilter {
    pub pids: Vec<u32>,
    pub exclude_pids: Vec<u32>,
    /// Container id prefixes.
    pub containers: Vec<String>,
    pub exclude_containers: Vec<String>,
    /// Executable paths or file names, or process names (`comm`).
    pub executables: Vec<String>,
    pub exclude_executables: Vec<String>,
}

impl ProcessFilter {
    /// Whether only listed processes are covered.
    pub fn is_allow_list(&self) -> bool {
        !(self.pids.is_empty() && self.containers.is_empty() && self.executables.is_empty())
    }

    /// The kernel filter marks of a process.
    pub fn marks(&self, pid: u32, who: &EndpointAttribution) -> u32 {
        let container = who.container.as_ref().map(|c| c.id.as_str());
        let executable = who.process.as_ref().and_then(|p| p.executable.as_ref());
        let path = executable.and_then(|e| e.path.as_deref());
        let comm = executable.and_then(|e| e.name.as_deref());
        let container_in = |list: &[String]| {
            container.is_some_and(|id| list.iter().any(|prefix| id.starts_with(prefix.as_str())))
        };
        // The executable's path, its file name, or the process's name.
        let executable_in = |list: &[String]| {
            list.iter().any(|wanted| {
                path.is_some_and(|path| {
                    wanted == path || Some(wanted.as_str()) == path.rsplit('/').next()
                }) || comm == Some(wanted.as_str())
            })
        };
        if self.exclude_pids.contains(&pid)
            || container_in(&self.exclude_containers)
            || executable_in(&self.exclude_executables)
        {
            return PROCESS_EXCLUDED;
        }
        if self.pids.contains(&pid)
            || container_in(&self.containers)
            || executable_in(&self.executables)
        {
            return PROCESS_INCLUDED;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_record::attribution::{ContainerInfo, ProcessInfo};

    fn process(executable: &str, container: Option<&str>) -> EndpointAttribution {
        EndpointAttribution {
            process: Some(ProcessInfo {
                pid: 7,
                parent_pid: None,
                executable: Some(cipherlens_record::attribution::Executable {
                    name: None,
                    path: Some(executable.into()),
                }),
                command_line: None,
                user: None,
                group: None,
            }),
            container: container.map(|id| ContainerInfo {
                id: id.into(),
                runtime: None,
            }),
            ..EndpointAttribution::default()
        }
    }

    #[test]
    fn exclusions_win_and_includes_make_an_allow_list() {
        let filter = ProcessFilter {
            executables: vec!["curl".into()],
            exclude_containers: vec!["abc".into()],
            ..ProcessFilter::default()
        };
        assert!(filter.is_allow_list());
        assert_eq!(
            filter.marks(7, &process("/usr/bin/curl", None)),
            PROCESS_INCLUDED
        );
        assert_eq!(
            filter.marks(7, &process("/usr/bin/curl", Some("abcdef"))),
            PROCESS_EXCLUDED
        );
        assert_eq!(filter.marks(7, &process("/usr/bin/wget", None)), 0);
        assert!(!ProcessFilter::default().is_allow_list());
    }
}
