//! uprobes on the TLS libraries of local processes, live: TLS 1.3 hides the
//! server's chain from the wire, and the sensor recovers it from the
//! client's library (curl and Python on libssl.so.3, `openssl s_client`,
//! node's static OpenSSL, a BoringSSL client compiled here, a process that
//! loads libssl late, one whose libssl is at a path only its own mount
//! namespace has). Plaintext only when asked, equal to what the client sent
//! and received, redacted, tied to the session's flow. With
//! `--no-tls-probes` nothing is attached.
//!
//! Expected chains come from the server's certificate files (SHA-256 by
//! openssl), expected bytes from the clients themselves.

mod chains;
mod filters;
mod plaintext;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cipherlens_integration::{Certificate, KeyType, Link, Sensor, Server, TestBed, run};
use serde_json::Value;

pub(super) const LIBSSL: &str = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
pub(super) const LIBCRYPTO: &str = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";

/// A TLS 1.3 server sending a leaf and the CA that issued it; the chain's
/// SHA-256 fingerprints in order.
pub(super) fn chain_server(bed: &TestBed, extra: &[&str]) -> (Server, Vec<String>) {
    let ca = Certificate::self_signed(bed.dir(), "cipherlens probes CA");
    let leaf = ca.issue(
        bed.dir(),
        "probes.test",
        KeyType::Rsa2048,
        "subjectAltName=DNS:probes.test",
    );
    let mut args = vec!["-tls1_3", "-cert_chain", ca.cert.as_str()];
    args.extend_from_slice(extra);
    let server = bed.s_server(&leaf, &args);
    (server, vec![leaf.sha256(), ca.sha256()])
}

/// Waits until the sensor has `at_least` library files probed.
pub(super) fn wait_probed_files(sensor: &Sensor, at_least: f64, limit: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let files = sensor.metric("cipherlens_tls_probe_files").unwrap_or(0.0);
        if files >= at_least {
            return files;
        }
        assert!(
            start.elapsed() < limit,
            "{files} library files probed after {limit:?}, wanted {at_least}: {}",
            sensor.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the sensor's log has `text` (it logs each library it probes).
pub(super) fn wait_logged(sensor: &Sensor, text: &str, limit: Duration) {
    let start = Instant::now();
    while !sensor.log().contains(text) {
        assert!(
            start.elapsed() < limit,
            "{text} not logged within {limit:?}: {}",
            sensor.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The session record whose ClientHello named `server_name`.
pub(super) fn session<'a>(records: &'a [Value], server_name: &str) -> &'a Value {
    records
        .iter()
        .find(|record| {
            record["schema"] == "cipherlens.session/v1"
                && record["tls"]["client"]["server_name"] == server_name
        })
        .unwrap_or_else(|| panic!("no session record for {server_name}"))
}

/// The chain a record carries, as SHA-256 fingerprints.
pub(super) fn chain(record: &Value) -> Vec<String> {
    record["cipherlens"]["tls"]["server_certificates"]
        .as_array()
        .expect("server_certificates")
        .iter()
        .map(|certificate| {
            certificate["fingerprint_sha256"]
                .as_str()
                .expect("fingerprint")
                .to_owned()
        })
        .collect()
}

/// A Python client (in the link's namespace) that waits, loads `ssl` (and
/// with it libssl) only then, waits a second, and makes one handshake.
pub(super) fn late_python(server: &Server, link: &Link, server_name: &str) -> String {
    format!(
        "import socket, time\n\
         time.sleep(0.5)\n\
         import ssl\n\
         time.sleep(1.0)\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         s = ctx.wrap_socket(socket.create_connection(('{}', {})), server_hostname='{server_name}')\n\
         s.close()",
        link.host_v4, server.port
    )
}

/// The BoringSSL client of `fixtures/clients`, compiled against Debian's
/// android-libboringssl.
pub(super) fn boringssl_client(dir: &Path) -> PathBuf {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/clients/boringssl_client.c");
    let binary = dir.join("boringssl_client");
    run(
        "gcc",
        &[
            "-O1",
            "-I/usr/include/android",
            "-o",
            binary.to_str().expect("UTF-8 path"),
            source.to_str().expect("UTF-8 path"),
            "-L/usr/lib/x86_64-linux-gnu/android",
            "-lssl",
            "-lcrypto",
            "-Wl,-rpath,/usr/lib/x86_64-linux-gnu/android",
        ],
    );
    binary
}

/// Runs node until the sensor has probed its binary (node carries OpenSSL
/// itself, and reading its symbols takes a while the first time).
pub(super) fn wait_node_probed(link: &Link, sensor: &Sensor) {
    let warm = link
        .command("node")
        .args(["-e", "setTimeout(() => {}, 60000)"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("node");
    let _warm = cipherlens_integration::Background(warm);
    wait_logged(sensor, "path=/usr/bin/node", Duration::from_secs(60));
}

/// Runs the BoringSSL client against `server` with `server_name`; `env`
/// adds to its environment. Its libraries are new files to the sensor: a
/// first copy of the client waits while they are read and probed, then the
/// real one runs after a 1.5 s wait that lets the sensor scan it. Requires
/// success; returns what it printed (the answer).
pub(super) fn run_boringssl_client(
    binary: &Path,
    link: &Link,
    sensor: &Sensor,
    server: &Server,
    server_name: &str,
    env: &[(&str, &str)],
) -> Vec<u8> {
    let warm = link
        .command(binary.to_str().expect("UTF-8 path"))
        .args([&link.host_v4, &server.port.to_string(), "warm-up.invalid"])
        .env("CLIENT_DELAY_MS", "60000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("BoringSSL client");
    let _warm = cipherlens_integration::Background(warm);
    wait_logged(sensor, "android/libssl.so", Duration::from_secs(60));
    let output = link
        .command(binary.to_str().expect("UTF-8 path"))
        .args([&link.host_v4, &server.port.to_string(), server_name])
        .env("CLIENT_DELAY_MS", "1500")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("BoringSSL client");
    assert!(output.status.success(), "{output:?}");
    output.stdout
}
