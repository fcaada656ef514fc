//! Process facts from procfs, read with bounds: everything under `/proc/PID`
//! is written by (or about) an untrusted process.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Longest command line kept, in bytes (longer ones end with `...`).
pub const MAX_COMMAND_LINE: usize = 4096;
/// Largest procfs file read (`stat`, `status`, `cgroup` are far smaller).
const MAX_PROC_FILE: u64 = 64 * 1024;

/// What procfs says about one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    pub pid: u32,
    pub parent_pid: Option<u32>,
    /// `comm`: the kernel's 15-byte name.
    pub comm: Option<String>,
    pub executable_path: Option<String>,
    pub command_line: Option<String>,
    /// Real user and group ids.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Start time in clock ticks since boot: with the pid, identifies the
    /// process across pid reuse.
    pub start_ticks: Option<u64>,
    /// The whole of `/proc/PID/cgroup`.
    pub cgroup: Option<String>,
}

/// Reads `/proc/PID` under `proc_root`; `None` when the process is gone.
pub fn read_process(proc_root: &Path, pid: u32) -> Option<ProcessFacts> {
    let dir = proc_root.join(pid.to_string());
    let stat = read_bounded(&dir.join("stat"))?;
    let mut facts = ProcessFacts {
        pid,
        ..ProcessFacts::default()
    };
    parse_stat(&stat, &mut facts);
    if let Some(status) = read_bounded(&dir.join("status")) {
        facts.uid = status_id(&status, "Uid:");
        facts.gid = status_id(&status, "Gid:");
    }
    facts.executable_path = std::fs::read_link(dir.join("exe"))
        .ok()
        .map(|path| path.to_string_lossy().into_owned());
    facts.command_line = read_command_line(&dir.join("cmdline"));
    facts.cgroup = read_bounded(&dir.join("cgroup"));
    Some(facts)
}

/// The directory a process sees as `/` (its container's files).
pub fn root_of(proc_root: &Path, pid: u32) -> PathBuf {
    proc_root.join(pid.to_string()).join("root")
}

/// `pid (comm) state ppid ... starttime(22) ...`; `comm` may contain spaces
/// and parentheses, so the fields after it are found from the last `)`.
fn parse_stat(stat: &str, facts: &mut ProcessFacts) {
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return;
    };
    if open < close {
        facts.comm = Some(stat[open + 1..close].to_string());
    }
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state).
    facts.parent_pid = rest.get(1).and_then(|v| v.parse().ok());
    facts.start_ticks = rest.get(19).and_then(|v| v.parse().ok());
}

/// `Uid:\treal\teffective\tsaved\tfs`: the real id.
fn status_id(status: &str, key: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
}

/// NUL-separated arguments joined by spaces, at most [`MAX_COMMAND_LINE`].
fn read_command_line(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::with_capacity(256);
    file.by_ref()
        .take(MAX_COMMAND_LINE as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    let truncated = bytes.len() > MAX_COMMAND_LINE;
    bytes.truncate(MAX_COMMAND_LINE);
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return None; // kernel threads
    }
    for byte in &mut bytes {
        if *byte == 0 {
            *byte = b' ';
        }
    }
    let mut line = String::from_utf8_lossy(&bytes).into_owned();
    if truncated {
        line.push_str("...");
    }
    Some(line)
}

pub(crate) fn read_bounded(path: &Path) -> Option<String> {
    read_bounded_with_limit(path, MAX_PROC_FILE)
}

pub(crate) fn read_bounded_with_limit(path: &Path, limit: u64) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_comm() {
        let mut facts = ProcessFacts::default();
        let stat = "4242 (evil) 1 2 (x) S 17 4242 4242 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        parse_stat(stat, &mut facts);
        assert_eq!(facts.comm.as_deref(), Some("evil) 1 2 (x"));
        assert_eq!(facts.parent_pid, Some(17));
        assert_eq!(facts.start_ticks, Some(987654));
        let mut empty = ProcessFacts::default();
        parse_stat("garbage", &mut empty);
        parse_stat(")(", &mut empty);
        assert_eq!(empty, ProcessFacts::default());
    }

    #[test]
    fn this_process_as_procfs_shows_it() {
        let facts = read_process(Path::new("/proc"), std::process::id()).expect("self");
        let exe = std::env::current_exe().expect("exe");
        assert_eq!(facts.executable_path.as_deref(), exe.to_str());
        assert_eq!(facts.parent_pid, Some(std::os::unix::process::parent_id()));
        assert_eq!(facts.uid, Some(rustix::process::getuid().as_raw()));
        assert!(
            facts
                .command_line
                .is_some_and(|line| line.contains(exe.to_str().unwrap_or("?")))
        );
        assert!(read_process(Path::new("/proc"), u32::MAX).is_none());
    }
}
