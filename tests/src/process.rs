//! Child processes and the host: run a command or fail the test, keep a
//! background process that dies with its guard, signals, free ports and a
//! scratch directory.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Runs a command and fails the test with its output when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A field of `/proc/<pid>/status` (`CapEff`, `NoNewPrivs`, ...), trimmed.
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(|value| value.trim().to_owned())
}

/// A process's capability set from `/proc/<pid>/status` (`CapEff`, `CapBnd`, ...).
pub fn capabilities(pid: u32, set: &str) -> Option<u64> {
    u64::from_str_radix(&status_field(pid, set)?, 16).ok()
}

/// Whether this process may create namespaces and load eBPF (root).
pub fn privileged() -> bool {
    capabilities(std::process::id(), "CapEff").is_some_and(|caps| caps & (1 << 21) != 0)
}

/// Fails the test unless it runs as root.
pub fn require_root() {
    assert!(
        privileged(),
        "these end-to-end tests need root (CAP_SYS_ADMIN): run the README's test command as root"
    );
}

/// A free TCP port on the host (the kernel picks it). Bound on every
/// address while it is picked, so it is not one that a server already
/// listens on at some address (a loopback bind would not see a server on
/// a link's address). Never one already handed out in this process: the
/// tests of a binary run in parallel, and a port is free again the moment
/// it is picked, so two tests could otherwise start servers on one port.
pub fn free_port() -> u16 {
    unique_port(|| {
        TcpListener::bind("0.0.0.0:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port")
    })
}

/// A free UDP port on the host (the kernel picks it; on every address,
/// and not handed out before, as [`free_port`]).
pub fn free_udp_port() -> u16 {
    unique_port(|| {
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|socket| socket.local_addr())
            .map(|address| address.port())
            .expect("a free UDP port")
    })
}

/// The first port `pick` gives that this process has not handed out.
fn unique_port(mut pick: impl FnMut() -> u16) -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = pick();
        if HANDED_OUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(port)
        {
            return port;
        }
    }
}

/// A child process killed when dropped.
pub struct Background(pub Child);

impl Background {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` to a child.
pub fn signal(child: &Child, signal: &str) {
    run("kill", &[&format!("-{signal}"), &child.id().to_string()]);
}

/// Waits for a child to exit, at most `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A number unique within this test process, for names on the host.
pub(crate) fn next_unique() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "cipherlens-e2e-{name}-{}-{}",
            std::process::id(),
            next_unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
