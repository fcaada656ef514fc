//! Cgroups named the way container runtimes name them, for attribution.

use std::path::PathBuf;

/// A cgroup the test creates (with its missing parents), named the way a
/// container runtime names them; removed on drop, its processes moved back
/// to the hierarchy's root first.
pub struct Cgroup {
    hierarchy: PathBuf,
    created: Vec<PathBuf>,
    pub path: PathBuf,
}

impl Cgroup {
    /// `relative` under the hierarchy mounted at `hierarchy`
    /// (e.g. `/sys/fs/cgroup/unified`, `/sys/fs/cgroup/pids`).
    pub fn create(hierarchy: &str, relative: &str) -> Self {
        let hierarchy = PathBuf::from(hierarchy);
        let mut created = Vec::new();
        let mut path = hierarchy.clone();
        for component in relative.split('/').filter(|c| !c.is_empty()) {
            path.push(component);
            if !path.exists() {
                std::fs::create_dir(&path)
                    .unwrap_or_else(|error| panic!("mkdir {}: {error}", path.display()));
                created.push(path.clone());
            }
        }
        Cgroup {
            hierarchy,
            created,
            path,
        }
    }

    /// Moves a process into the cgroup.
    pub fn add(&self, pid: u32) {
        std::fs::write(self.path.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|error| panic!("moving {pid} to {}: {error}", self.path.display()));
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for dir in self.created.iter().rev() {
            if let Ok(members) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in members.lines() {
                    let _ = std::fs::write(self.hierarchy.join("cgroup.procs"), pid);
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
}
