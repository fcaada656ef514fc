//! `cipherlens tls-libraries` on a real process: a Python interpreter that
//! imported `ssl` is reported with Debian's OpenSSL 3 (libssl hookable at
//! the `_ex` functions Python calls, libcrypto at `d2i_X509`), its version
//! as `openssl version` prints it, and its command name from procfs.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

use serde_json::Value;

#[test]
fn a_python_process_with_ssl_is_reported_with_its_openssl() {
    let mut python = Command::new("python3")
        .args([
            "-c",
            "import ssl, sys; print('ready', flush=True); sys.stdin.read()",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut ready = String::new();
    std::io::BufReader::new(python.stdout.as_mut().expect("stdout"))
        .read_line(&mut ready)
        .expect("ready");
    let pid = python.id();
    let executable = std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe");
    let output = Command::new(env!("CARGO_BIN_EXE_cipherlens"))
        .args(["tls-libraries", "--pid", &pid.to_string()])
        .output()
        .expect("cipherlens tls-libraries");
    let _ = python.kill();
    let _ = python.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let process = &lines[0];
    assert_eq!(process["pid"], pid);
    assert!(
        process["comm"]
            .as_str()
            .is_some_and(|comm| comm.starts_with("python"))
    );
    assert_eq!(process["flavour"], "openssl-3");
    // The workload fields session records carry: the process as procfs has it.
    assert_eq!(process["process"]["pid"], pid);
    assert_eq!(
        process["process"]["executable"]["path"].as_str(),
        executable.to_str(),
        "{process}"
    );
    let files = process["files"].as_array().expect("files");
    let file = |name: &str| {
        files
            .iter()
            .find(|file| {
                file["path"]
                    .as_str()
                    .is_some_and(|path| path.ends_with(name))
            })
            .unwrap_or_else(|| panic!("{name} in {files:?}"))
    };
    let libssl = file("/libssl.so.3");
    assert_eq!(libssl["hookable"], true);
    assert_eq!(libssl["role"], "libssl");
    for function in ["SSL_read_ex", "SSL_write_ex", "SSL_do_handshake"] {
        assert!(
            libssl["functions"][function].as_u64().is_some(),
            "{function}: {libssl}"
        );
    }
    let libcrypto = file("/libcrypto.so.3");
    assert_eq!(libcrypto["role"], "libcrypto");
    assert!(libcrypto["functions"]["d2i_X509"].as_u64().is_some());
    let version = Command::new("openssl")
        .arg("version")
        .output()
        .expect("openssl");
    let version = String::from_utf8_lossy(&version.stdout);
    let version = version.split(" (Library").next().unwrap_or_default().trim();
    assert_eq!(libcrypto["version"], version);
    let summary: Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .expect("summary"),
    )
    .expect("JSON summary");
    assert_eq!(summary["processes"], 1);
}
