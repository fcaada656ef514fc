//! Discovery over processes: a real Python process that has loaded libssl
//! (its `ssl` module), read through `/proc`, and a made-up proc tree where
//! two processes map the same library under different inodes (two
//! container images of one build). Expectations come from the process's
//! own maps file and from `nm`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cipherlens_uprobes::{Discovery, FileVerdict, Flavour, Limits, TlsFunction, Verdict};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Python process that imported `ssl` (which loads libssl.so.3 and
/// libcrypto.so.3) and waits.
fn python_with_ssl() -> Kill {
    let child = Command::new("python3")
        .args([
            "-c",
            "import ssl, sys; print('ready', flush=True); sys.stdin.read()",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut child = Kill(child);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stdout.as_mut().expect("stdout")),
        &mut line,
    )
    .expect("ready");
    assert_eq!(line.trim(), "ready");
    child
}

#[test]
fn a_python_process_with_ssl_loaded_is_covered_by_libssl_and_libcrypto() {
    let python = python_with_ssl();
    let pid = python.0.id();
    let mut discovery = Discovery::new("/proc", Limits::default());
    let scan = discovery.scan(pid).expect("scan");
    assert_eq!(scan.flavour(), Some(Flavour::OpenSsl3));
    let tls: Vec<_> = scan.tls_files().collect();
    let paths: Vec<&str> = tls.iter().map(|file| file.path.as_str()).collect();
    assert!(
        paths.iter().any(|p| p.ends_with("/libssl.so.3"))
            && paths.iter().any(|p| p.ends_with("/libcrypto.so.3")),
        "{paths:?}"
    );
    // What the maps file says the process has mapped executable.
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    for file in &tls {
        assert!(maps.contains(&file.path), "{} not in maps", file.path);
        assert!(file.host_path.starts_with(format!("/proc/{pid}/root")));
    }
    let probes = scan.probes();
    let functions: Vec<TlsFunction> = probes.iter().map(|probe| probe.function).collect();
    for function in [
        TlsFunction::SslReadEx,
        TlsFunction::SslWriteEx,
        TlsFunction::D2iX509,
    ] {
        assert!(
            functions.contains(&function),
            "{function:?} in {functions:?}"
        );
    }
    // A second scan reads nothing again.
    let read = discovery.stats().files_read;
    discovery.scan(pid).expect("scan again");
    assert_eq!(discovery.stats().files_read, read);
    assert!(discovery.stats().cache_hits >= scan.files.len() as u64);
}

#[test]
fn the_same_build_under_two_inodes_is_read_once() {
    let proc_root = tempfile::tempdir().unwrap();
    let libssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    for (pid, inode) in [(100, 11), (200, 22)] {
        let dir = proc_root.path().join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("maps"),
            format!("7f0000000000-7f0000100000 r-xp 0001f000 fd:01 {inode} {libssl}\n"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/", dir.join("root")).unwrap();
    }
    let mut discovery = Discovery::new(proc_root.path(), Limits::default());
    let first = discovery.scan(100).unwrap();
    let second = discovery.scan(200).unwrap();
    let stats = discovery.stats();
    assert_eq!(stats.files_read, 1, "{stats:?}");
    assert_eq!(stats.build_id_hits, 1, "{stats:?}");
    assert_eq!(first.probes().len(), second.probes().len());
    assert_ne!(first.files[0].id, second.files[0].id);
    assert!(matches!(
        &*second.files[0].verdict,
        FileVerdict::Read {
            verdict: Verdict::Hookable(_),
            ..
        }
    ));
}

#[test]
fn a_process_that_is_gone_or_unreadable_is_an_error_with_a_reason() {
    let mut discovery = Discovery::new("/proc", Limits::default());
    let error = discovery.scan(u32::MAX).unwrap_err();
    assert_eq!(error.reason(), "maps_unreadable");
    let proc_root = tempfile::tempdir().unwrap();
    let dir = proc_root.path().join("7");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("maps"), "not a maps line\n").unwrap();
    let mut discovery = Discovery::new(proc_root.path(), Limits::default());
    assert_eq!(discovery.scan(7).unwrap_err().reason(), "bad_line");
    // A mapped file that is not there is counted, not fatal.
    std::fs::write(
        dir.join("maps"),
        "7f0000000000-7f0000100000 r-xp 00000000 fd:01 5 /no/such/libssl.so.3\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/", dir.join("root")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let scan = discovery.scan(7).unwrap();
    assert!(Instant::now() < deadline);
    assert!(matches!(
        &*scan.files[0].verdict,
        FileVerdict::Unreadable { reason: "io" }
    ));
    assert_eq!(discovery.stats().unreadable, 1);
}

/// Probe targets stay open (a uprobe attaches by path, and the process's
/// `/proc/PID/root` path goes away with it); other files do not. Code
/// addresses map back to their file and offset as the maps file says.
#[test]
fn probe_targets_are_held_open_and_code_addresses_resolve() {
    let python = python_with_ssl();
    let pid = python.0.id();
    let mut discovery = Discovery::new("/proc", Limits::default());
    let scan = discovery.scan(pid).expect("scan");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut held = 0;
    for file in &scan.files {
        let open = discovery.open_file(file.id);
        assert_eq!(
            open.is_some(),
            file.verdict.is_probe_target(),
            "{}",
            file.path
        );
        if let Some(open) = open {
            use std::os::unix::fs::MetadataExt as _;
            assert_eq!(
                open.metadata().unwrap().ino(),
                file.id.inode,
                "{}",
                file.path
            );
            held += 1;
        }
    }
    // libssl, libcrypto and the dynamic loader.
    assert!(held >= 3, "{held} files held open");
    assert!(
        scan.loader_hook().is_some(),
        "glibc's loader has _dl_debug_state"
    );
    // An executable line of the maps file: its start address is the file
    // offset the line gives.
    let line = maps
        .lines()
        .find(|line| line.contains("r-xp") && line.ends_with("libssl.so.3"))
        .expect("libssl mapped executable");
    let mut fields = line.split_whitespace();
    let start = u64::from_str_radix(fields.next().unwrap().split('-').next().unwrap(), 16).unwrap();
    let offset = u64::from_str_radix(fields.nth(1).unwrap(), 16).unwrap();
    let (file, at) = scan.code_at(start + 0x10).expect("code at libssl");
    assert!(file.path.ends_with("libssl.so.3"));
    assert_eq!(at, offset + 0x10);
    assert!(scan.code_at(0x10).is_none());
}
