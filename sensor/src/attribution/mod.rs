//! Who a session belongs to: process, container, Kubernetes pod, host.
//!
//! The kernel tells which pid owns each local socket of a session. From the
//! pid, procfs gives the process (parent, executable, command line, user and
//! group) and its cgroup paths, which name the container and the pod uid
//! ([`cgroup`]); the kubelet's log layout names the pod, its namespace and
//! the container ([`pods`]). Names of users and groups come from the
//! container's own account files when it has them ([`accounts`]).
//!
//! Lookups happen on the record writer thread, off the packet path, and are
//! cached per pid for [`PROCESS_TTL`] (start time checked, so a reused pid
//! is not mistaken for the old process). Live capture reads a process's
//! procfs facts on the packet thread when a session's first packets name
//! it ([`sightings`]), so a client that exits before the writer runs is
//! still attributed; one never read while it ran keeps only its pid.

pub mod accounts;
pub mod cgroup;
pub mod pods;
pub mod process;
pub mod sightings;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cipherlens_record::SessionRecord;
pub use cipherlens_record::attribution::{
    Account, ContainerInfo, EndpointAttribution, Executable, HostInfo, K8sInfo, K8sPod, Named,
    ProcessInfo, Runtime,
};

use self::pods::PodDirectory;
use self::process::ProcessFacts;

/// How long a pid's attribution is reused before procfs is read again.
pub const PROCESS_TTL: Duration = Duration::from_secs(5);
/// How long after a process was last read its attribution still stands
/// for it once it has exited. Bounded, so a pid the kernel gave to another
/// short-lived process since is not named after the old one.
const GONE_GRACE: Duration = Duration::from_secs(30);
/// Pids cached at once; the cache is cleared when it is full.
const MAX_CACHED_PROCESSES: usize = 16_384;

/// Where the attribution sources are (the defaults are the node's).
#[derive(Debug, Clone)]
pub struct AttributionSources {
    pub proc_root: PathBuf,
    pub pods_dir: PathBuf,
    pub containers_dir: PathBuf,
}

impl Default for AttributionSources {
    fn default() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            pods_dir: PathBuf::from("/var/log/pods"),
            containers_dir: PathBuf::from("/var/log/containers"),
        }
    }
}

/// This node's name and machine id.
pub fn this_node() -> HostInfo {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let id = process::read_bounded(Path::new("/etc/machine-id"))
        .map(|text| text.trim().to_string())
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    HostInfo { name, id }
}

struct Cached {
    /// When procfs was last read for the pid (present or not): within
    /// [`PROCESS_TTL`] the cached answer stands without a read, so a gone
    /// process's many flow records cost no failed open each.
    checked: Instant,
    /// When the process was last found running; `None`: never (pid only).
    alive_at: Option<Instant>,
    start_ticks: Option<u64>,
    attribution: Arc<EndpointAttribution>,
}

/// Resolves pids to attributions, with caches.
pub struct Attributor {
    sources: AttributionSources,
    pods: PodDirectory,
    processes: HashMap<u32, Cached>,
    host_users: Option<HashMap<u32, String>>,
    host_groups: Option<HashMap<u32, String>>,
}

impl Attributor {
    /// Fills in who owns a session's local sockets, from the pids the
    /// kernel saw.
    pub fn attribute_session(&mut self, record: &mut SessionRecord) {
        let Some(observation) = &record.cipherlens.observation else {
            return;
        };
        let pids = [
            observation.client_socket.as_ref().and_then(|s| s.pid),
            observation.server_socket.as_ref().and_then(|s| s.pid),
        ];
        for (endpoint, pid) in [&mut record.client, &mut record.server]
            .into_iter()
            .zip(pids)
        {
            // Resolved already (a session that waited for its chain).
            if endpoint.attribution.process.is_some() {
                continue;
            }
            if let Some(pid) = pid {
                endpoint.attribution = self.attribute(pid);
            }
        }
    }

    pub fn new(sources: AttributionSources) -> Self {
        let pods = PodDirectory::new(sources.pods_dir.clone(), sources.containers_dir.clone());
        Self {
            sources,
            pods,
            processes: HashMap::new(),
            host_users: None,
            host_groups: None,
        }
    }

    /// Forgets what is cached about a process (it ran a new program: same
    /// pid and start time, another executable).
    pub fn forget(&mut self, pid: u32) {
        self.processes.remove(&pid);
    }

    /// The attribution of a process (pid only when it is gone). Shared:
    /// every record of the process carries the same one.
    pub fn attribute(&mut self, pid: u32) -> Arc<EndpointAttribution> {
        if let Some(cached) = self.processes.get(&pid)
            && cached.checked.elapsed() < PROCESS_TTL
        {
            return cached.attribution.clone();
        }
        let facts = process::read_process(&self.sources.proc_root, pid);
        self.settle(pid, facts)
    }

    /// Takes the facts read when the process was first seen (see
    /// [`sightings`]): its attribution is what it was then, even if it has
    /// exited since.
    pub fn observe(&mut self, sighting: sightings::ProcessSighting) {
        self.settle(sighting.pid, sighting.facts);
    }

    /// The attribution of `pid` from freshly read facts (`None`: gone).
    fn settle(&mut self, pid: u32, facts: Option<ProcessFacts>) -> Arc<EndpointAttribution> {
        let now = Instant::now();
        let Some(facts) = facts else {
            // Gone: what was read while it ran, if that was lately (its
            // session's first packet asks, see `Self::attribute` callers).
            if let Some(cached) = self.processes.get_mut(&pid)
                && cached
                    .alive_at
                    .is_some_and(|at| now.duration_since(at) < GONE_GRACE)
            {
                cached.checked = now;
                return cached.attribution.clone();
            }
            let attribution = Arc::new(EndpointAttribution {
                process: Some(ProcessInfo {
                    pid,
                    parent_pid: None,
                    executable: None,
                    command_line: None,
                    user: None,
                    group: None,
                }),
                ..EndpointAttribution::default()
            });
            self.remember(pid, None, None, &attribution);
            return attribution;
        };
        if let Some(cached) = self.processes.get_mut(&pid)
            && cached.alive_at.is_some()
            && cached.start_ticks == facts.start_ticks
        {
            cached.checked = now;
            cached.alive_at = Some(now);
            return cached.attribution.clone();
        }
        let attribution = Arc::new(self.resolve(&facts));
        self.remember(pid, Some(now), facts.start_ticks, &attribution);
        attribution
    }

    fn remember(
        &mut self,
        pid: u32,
        alive_at: Option<Instant>,
        start_ticks: Option<u64>,
        attribution: &Arc<EndpointAttribution>,
    ) {
        if self.processes.len() >= MAX_CACHED_PROCESSES {
            self.processes.clear();
        }
        self.processes.insert(
            pid,
            Cached {
                checked: Instant::now(),
                alive_at,
                start_ticks,
                attribution: Arc::clone(attribution),
            },
        );
    }

    fn resolve(&mut self, facts: &ProcessFacts) -> EndpointAttribution {
        let identity = facts
            .cgroup
            .as_deref()
            .map(cgroup::identify_process)
            .unwrap_or_default();
        let process = ProcessInfo {
            pid: facts.pid,
            parent_pid: facts.parent_pid,
            executable: (facts.comm.is_some() || facts.executable_path.is_some()).then(|| {
                Executable {
                    name: facts.comm.clone(),
                    path: facts.executable_path.clone(),
                }
            }),
            command_line: facts.command_line.clone(),
            user: facts.uid.map(|id| Account {
                id,
                name: self.account_name(facts.pid, id, "passwd"),
            }),
            group: facts.gid.map(|id| Account {
                id,
                name: self.account_name(facts.pid, id, "group"),
            }),
        };
        let container = identity
            .container
            .as_ref()
            .map(|(id, runtime)| ContainerInfo {
                id: id.clone(),
                runtime: *runtime,
            });
        let k8s = identity.pod_uid.as_ref().map(|uid| {
            let pod = self.pods.pod(uid).cloned();
            let container_name = identity
                .container
                .as_ref()
                .and_then(|(id, _)| self.pods.container_name(uid, id));
            K8sInfo {
                pod: K8sPod {
                    uid: uid.clone(),
                    name: pod.as_ref().map(|p| p.name.clone()),
                },
                namespace: pod.map(|p| Named { name: p.namespace }),
                container: container_name.map(|name| Named { name }),
            }
        });
        EndpointAttribution {
            process: Some(process),
            container,
            k8s,
        }
    }

    /// The container's own name for an id when it has the file, else the host's.
    fn account_name(&mut self, pid: u32, id: u32, file: &str) -> Option<String> {
        let own = process::root_of(&self.sources.proc_root, pid)
            .join("etc")
            .join(file);
        if let Some(name) = accounts::load_accounts(&own).remove(&id) {
            return Some(name);
        }
        let host = match file {
            "passwd" => &mut self.host_users,
            _ => &mut self.host_groups,
        };
        host.get_or_insert_with(|| accounts::load_accounts(&Path::new("/etc").join(file)))
            .get(&id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_attributed_from_procfs() {
        let mut attributor = Attributor::new(AttributionSources::default());
        let me = Arc::unwrap_or_clone(attributor.attribute(std::process::id()));
        let process = me.process.expect("process");
        assert_eq!(process.pid, std::process::id());
        let uid = rustix::process::getuid().as_raw();
        assert_eq!(process.user.as_ref().map(|u| u.id), Some(uid));
        let exe = std::env::current_exe().expect("exe");
        assert_eq!(
            process.executable.and_then(|e| e.path).as_deref(),
            exe.to_str()
        );
        // Cached: the same answer without procfs.
        assert_eq!(
            attributor
                .attribute(std::process::id())
                .process
                .as_ref()
                .map(|p| p.pid),
            Some(std::process::id())
        );
    }

    #[test]
    fn a_process_read_while_it_ran_is_attributed_after_it_exits() {
        let mut attributor = Attributor::new(AttributionSources::default());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let pid = child.id();
        let running = attributor.attribute(pid);
        child.kill().expect("kill");
        child.wait().expect("reaped");
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        // Past the cache's reuse period: procfs is asked, the process is gone.
        attributor.processes.get_mut(&pid).expect("cached").checked -= PROCESS_TTL;
        let gone = attributor.attribute(pid);
        let name = |a: &EndpointAttribution| {
            a.process
                .as_ref()
                .and_then(|p| p.executable.as_ref())
                .and_then(|e| e.name.clone())
        };
        assert_eq!(name(&running).as_deref(), Some("sleep"));
        assert_eq!(name(&gone), name(&running));
        // Read too long ago: the pid may be another process's by now.
        let cached = attributor.processes.get_mut(&pid).expect("cached");
        cached.checked -= PROCESS_TTL;
        cached.alive_at = cached.alive_at.map(|at| at - GONE_GRACE);
        assert_eq!(name(&attributor.attribute(pid)), None);
    }

    #[test]
    fn a_process_that_exited_but_is_not_reaped_yet_is_named() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        child.kill().expect("kill");
        // Not waited for yet: a zombie, whose stat and comm stay readable.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut attributor = Attributor::new(AttributionSources::default());
        let zombie = Arc::unwrap_or_clone(attributor.attribute(child.id()));
        child.wait().expect("reaped");
        let name = zombie
            .process
            .and_then(|p| p.executable)
            .and_then(|e| e.name);
        assert_eq!(name.as_deref(), Some("sleep"));
    }

    #[test]
    fn a_gone_process_keeps_its_pid_only() {
        let mut attributor = Attributor::new(AttributionSources::default());
        let gone = Arc::unwrap_or_clone(attributor.attribute(u32::MAX));
        assert_eq!(
            gone.process.map(|p| (p.pid, p.executable)),
            Some((u32::MAX, None))
        );
        assert_eq!(gone.container, None);
    }

    /// A gone pid's answer is cached like a running one's: the flow
    /// records of an exited client, built seconds later, do not each try
    /// procfs again. Shown with a proc root where the pid appears after
    /// the first look: within the TTL the answer does not change.
    #[test]
    fn a_gone_pid_is_not_read_again_within_the_ttl() {
        let root = std::env::temp_dir().join(format!("attribution-gone-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("proc root");
        let mut attributor = Attributor::new(AttributionSources {
            proc_root: root.clone(),
            ..AttributionSources::default()
        });
        let first = attributor.attribute(4242);
        assert_eq!(first.process.as_ref().map(|p| p.pid), Some(4242));
        assert!(
            first
                .process
                .as_ref()
                .is_some_and(|p| p.executable.is_none())
        );
        // /proc/PID/stat as the kernel writes it (proc(5)): pid (comm) state ppid ...
        std::fs::create_dir_all(root.join("4242")).expect("pid dir");
        std::fs::write(
            root.join("4242/stat"),
            "4242 (late) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n",
        )
        .expect("stat");
        let again = attributor.attribute(4242);
        assert!(Arc::ptr_eq(&first, &again), "procfs read again: {again:?}");
        // A fresh attributor reads it: the file is what a read would find.
        let mut fresh = Attributor::new(AttributionSources {
            proc_root: root.clone(),
            ..AttributionSources::default()
        });
        let read = fresh.attribute(4242);
        let name = read
            .process
            .as_ref()
            .and_then(|p| p.executable.as_ref())
            .and_then(|e| e.name.clone());
        assert_eq!(name.as_deref(), Some("late"));
        std::fs::remove_dir_all(root).expect("clean up");
    }
}
