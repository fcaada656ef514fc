//! Helpers for the privileged end-to-end tests in `tests/tests/`.
//!
//! Every test builds its own little network: a namespace for the client,
//! joined to the host namespace by a veth pair (MTU 1500) whose host end is
//! what the sensor attaches to, like a pod's veth on a node. Addresses are
//! private test addresses on that link only; everything is removed when the
//! guard drops, also when the test fails.

pub mod insecure_tls;
pub mod schema;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

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

/// Whether this process may create namespaces and load eBPF (root).
pub fn privileged() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status
                .lines()
                .find(|l| l.starts_with("CapEff:"))?
                .to_string();
            u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

static NEXT_LINK: AtomicU32 = AtomicU32::new(0);

/// A client namespace joined to the host by a veth pair.
pub struct Link {
    /// Name of the namespace the client runs in.
    pub namespace: String,
    /// Host end of the veth pair (what the sensor attaches to).
    pub host_interface: String,
    pub host_v4: String,
    pub client_v4: String,
    pub host_v6: String,
    pub client_v6: String,
}

impl Link {
    /// Creates the namespace and the link, with segmentation offloads
    /// (TSO, GSO, GRO) off on both ends: TCP then crosses the veth in
    /// MSS-sized segments, as on a wire, so a record that spans segments
    /// really arrives as continuation segments. (With offloads on, a veth
    /// carries 64 KiB super-packets; [`Link::with_offloads`].)
    pub fn new() -> Self {
        let link = Self::with_offloads();
        let peer = link.peer_interface();
        for (namespace, device) in [
            (None, link.host_interface.as_str()),
            (Some(&link.namespace), peer.as_str()),
        ] {
            let mut args = Vec::new();
            if let Some(namespace) = namespace {
                args.extend(["netns", "exec", namespace.as_str(), "ethtool"]);
            }
            args.extend(["-K", device, "tso", "off", "gso", "off", "gro", "off"]);
            match namespace {
                Some(_) => run("ip", &args),
                None => run("ethtool", &args),
            };
        }
        link
    }

    /// The peer end's name inside the namespace.
    pub fn peer_interface(&self) -> String {
        self.host_interface.replacen("clv", "clp", 1)
    }

    /// [`Link::new`] with the kernel's default offloads left on.
    pub fn with_offloads() -> Self {
        let id = std::process::id() % 10_000 * 10 + NEXT_LINK.fetch_add(1, Ordering::SeqCst) % 10;
        let subnet = 10 + id % 200;
        let link = Link {
            namespace: format!("clns{id}"),
            host_interface: format!("clv{id}"),
            host_v4: format!("10.213.{subnet}.1"),
            client_v4: format!("10.213.{subnet}.2"),
            host_v6: format!("fd00:c1e5:{subnet:x}::1"),
            client_v6: format!("fd00:c1e5:{subnet:x}::2"),
        };
        let peer = format!("clp{id}");
        // Leftovers of an earlier, killed run with the same id.
        let _ = Command::new("ip")
            .args(["netns", "del", &link.namespace])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &link.host_interface])
            .output();
        run("ip", &["netns", "add", &link.namespace]);
        run(
            "ip",
            &[
                "link",
                "add",
                &link.host_interface,
                "mtu",
                "1500",
                "type",
                "veth",
                "peer",
                "name",
                &peer,
                "mtu",
                "1500",
            ],
        );
        run("ip", &["link", "set", &peer, "netns", &link.namespace]);
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", link.host_v4),
                "dev",
                &link.host_interface,
            ],
        );
        run(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                &format!("{}/64", link.host_v6),
                "dev",
                &link.host_interface,
                "nodad",
            ],
        );
        run("ip", &["link", "set", &link.host_interface, "up"]);
        link.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", link.client_v4),
            "dev",
            &peer,
        ]);
        link.exec_ok(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{}/64", link.client_v6),
            "dev",
            &peer,
            "nodad",
        ]);
        link.exec_ok(&["ip", "link", "set", &peer, "up"]);
        link.exec_ok(&["ip", "link", "set", "lo", "up"]);
        link
    }

    /// A command that runs inside the client namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace, program]);
        command
    }

    fn exec_ok(&self, args: &[&str]) {
        let mut full = vec!["netns", "exec", self.namespace.as_str()];
        full.extend_from_slice(args);
        run("ip", &full);
    }
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_interface])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .output();
    }
}

/// A free TCP port on the host (the kernel picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A free UDP port on the host (the kernel picks it).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .map(|address| address.port())
        .expect("a free UDP port")
}

/// A Python asyncio TLS server on `address:port` that completes each
/// handshake and closes: many concurrent handshakes without waiting.
pub fn python_tls_server(address: &str, port: u16, cert: &str, key: &str) -> Background {
    let server = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import asyncio, ssl\n\
                 ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{cert}', '{key}')\n\
                 async def handle(r, w):\n\
                 \x20   try:\n\
                 \x20       await r.read(1)\n\
                 \x20   finally:\n\
                 \x20       w.close()\n\
                 async def main():\n\
                 \x20   s = await asyncio.start_server(handle, '{address}', {port}, ssl=ctx, backlog=512)\n\
                 \x20   await s.serve_forever()\n\
                 asyncio.run(main())"
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python server");
    Background(server)
}

/// A self-signed P-256 certificate for `common_name` in `dir`: (cert, key) paths.
pub fn self_signed(dir: &Path, common_name: &str) -> (String, String) {
    let cert = dir.join(format!("{common_name}.pem")).display().to_string();
    let key = dir.join(format!("{common_name}.key")).display().to_string();
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-subj",
            &format!("/CN={common_name}"),
            "-days",
            "2",
        ],
    );
    (cert, key)
}

/// The `cipherlens` binary built for this test run.
pub fn sensor_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/cipherlens
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("cipherlens"))
        .expect("target directory");
    assert!(
        binary.exists(),
        "{} is missing: build the workspace first (cargo test --workspace builds it)",
        binary.display()
    );
    binary
}

/// A child process killed when dropped.
pub struct Background(pub Child);

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

/// A running sensor, its records file and its stderr.
pub struct Sensor {
    pub child: Option<Child>,
    pub records: PathBuf,
    pub stderr: PathBuf,
    pub started: Instant,
}

impl Sensor {
    /// Starts `cipherlens live` on the given interface globs and waits until
    /// it says it attached to `wait_for` (an interface name).
    pub fn start(dir: &Path, interfaces: &[&str], wait_for: &str, extra: &[&str]) -> Self {
        let records = dir.join("records.jsonl");
        let stderr = dir.join("sensor.err");
        let mut command = Command::new(sensor_binary());
        command.arg("live").arg("-o").arg(&records);
        for interface in interfaces {
            command.args(["-i", interface]);
        }
        command.args(extra);
        command.env("CIPHERLENS_LOG", "info");
        let started = Instant::now();
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start the sensor");
        let sensor = Sensor {
            child: Some(child),
            records,
            stderr,
            started,
        };
        sensor.wait_for_log(&format!("interface={wait_for} "), Duration::from_secs(20));
        sensor
    }

    /// Waits until the sensor's stderr contains `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let text = self.log();
            if strip_ansi(&text).contains(needle) {
                return;
            }
            if text.contains("cipherlens: ") {
                panic!("sensor failed: {text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sensor never logged {needle:?}: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGINT, wait for exit (at most 2 s, the lifecycle promise), then the
    /// records and the final stats record.
    pub fn stop(mut self) -> (Vec<Value>, Value, Duration) {
        let mut child = self.child.take().expect("running");
        let asked = Instant::now();
        signal(&child, "INT");
        let status = wait_exit(&mut child, Duration::from_secs(2));
        let took = asked.elapsed();
        assert!(status.is_some(), "sensor did not exit within 2 s of SIGINT");
        assert!(
            status.is_some_and(|s| s.success()),
            "sensor failed: {}",
            self.log()
        );
        // Session records; CNFlow records (in the same file) are checked
        // against their schema and left to `cnflow_records`.
        let mut records = read_json_lines(&self.records);
        for record in &records {
            match record["schema"].as_str() {
                Some("cipherlens.cnflow/v1") => schema::assert_valid_cnflow_record(record),
                _ => schema::assert_valid_session_record(record),
            }
        }
        records.retain(|record| record["schema"] == "cipherlens.session/v1");
        let stats = self
            .log()
            .lines()
            .filter(|line| line.starts_with('{'))
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .rfind(|value| value["schema"] == "cipherlens.stats/v1")
            .expect("a final stats record on stderr");
        schema::assert_valid_stats_record(&stats);
        (records, stats, took)
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// JSON lines of a file (empty when it does not exist).
pub fn read_json_lines(path: &Path) -> Vec<Value> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(&line).expect("record is JSON"))
        .collect()
}

/// Removes terminal colour codes from log text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A tcpdump writing `path` from `interface` until dropped (then flushed).
pub struct Tcpdump {
    child: Option<Child>,
    pub path: PathBuf,
}

impl Tcpdump {
    pub fn start(interface: &str, path: &Path) -> Self {
        // stderr goes to a file: a closed pipe would kill tcpdump with
        // SIGPIPE when it prints its summary at exit, before it has written
        // the packets still in its capture buffer.
        let log = path.with_extension("tcpdump.err");
        let child = Command::new("tcpdump")
            // --immediate-mode: packets are handed over as they come, so none
            // wait in a half-filled capture block when tcpdump is stopped.
            .args(["-i", interface, "--immediate-mode", "-U", "-s", "0", "-w"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("tcpdump log"))
            .spawn()
            .expect("start tcpdump");
        // tcpdump says "listening on" once it captures.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::fs::read_to_string(&log).is_ok_and(|text| text.contains("listening on")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Tcpdump {
            child: Some(child),
            path: path.to_path_buf(),
        }
    }

    /// Stops the capture and returns its file.
    pub fn finish(mut self) -> PathBuf {
        if let Some(mut child) = self.child.take() {
            signal(&child, "INT");
            let _ = wait_exit(&mut child, Duration::from_secs(5));
            let _ = child.kill();
            let _ = child.wait();
        }
        self.path.clone()
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `tshark -T fields` over a capture: one line per frame with values.
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_fields_decoding(pcap, None, filter, fields)
}

/// [`tshark_fields`] with a "decode as" rule (`udp.port==N,quic`): tshark
/// finds QUIC on unusual ports by heuristics that a port registered to
/// another protocol can defeat.
pub fn tshark_fields_decoding(
    pcap: &Path,
    decode_as: Option<&str>,
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut args = vec![
        "-o".to_string(),
        "tls.desegment_ssl_records:TRUE".to_string(),
        "-r".to_string(),
        pcap.display().to_string(),
        "-Y".to_string(),
        filter.to_string(),
        "-T".to_string(),
        "fields".to_string(),
        "-E".to_string(),
        "separator=|".to_string(),
    ];
    if let Some(rule) = decode_as {
        args.push("-d".to_string());
        args.push(rule.to_string());
    }
    for field in fields {
        args.push("-e".to_string());
        args.push((*field).to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run("tshark", &refs)
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split('|').map(str::to_string).collect())
        .collect()
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "cipherlens-e2e-{name}-{}-{}",
            std::process::id(),
            NEXT_LINK.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

/// A nats-server on a free loopback port, stopped (and its own store
/// removed) on drop.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    /// A store directory this guard made and removes.
    own_store: Option<PathBuf>,
}

impl NatsServer {
    /// With its own store directory, removed on drop.
    pub fn start(port: u16, extra: &[&str]) -> Self {
        let store =
            std::env::temp_dir().join(format!("cipherlens-nats-{}-{port}", std::process::id()));
        let mut server = Self::start_in(port, &store, extra);
        server.own_store = Some(store);
        server
    }

    /// With a store directory that outlives it (a restarted server keeps
    /// its JetStream streams).
    pub fn start_in(port: u16, store: &std::path::Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(store).expect("store dir");
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            own_store: None,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(store) = &self.own_store {
            let _ = std::fs::remove_dir_all(store);
        }
    }
}

/// The JetStream stream the tests and benchmarks publish into.
pub const STREAM: &str = "CIPHERLENS";

fn nats_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

impl NatsServer {
    /// Creates [`STREAM`] over `cipherlens.>` (a server started with `-js`).
    pub fn create_stream(&self) {
        nats_runtime().block_on(async {
            let client = async_nats::connect(self.url()).await.expect("client");
            async_nats::jetstream::new(client)
                .create_stream(async_nats::jetstream::stream::Config {
                    name: STREAM.to_string(),
                    subjects: vec!["cipherlens.>".to_string()],
                    ..Default::default()
                })
                .await
                .expect("create stream");
        });
    }

    /// Messages in [`STREAM`] at most (its message count).
    pub fn stream_len(&self) -> u64 {
        nats_runtime().block_on(async {
            let client = async_nats::connect(self.url()).await.expect("client");
            let mut stream = async_nats::jetstream::new(client)
                .get_stream(STREAM)
                .await
                .expect("stream");
            stream.info().await.expect("info").state.messages
        })
    }

    /// Every message of [`STREAM`], in stream order: subject and JSON.
    pub fn stream_messages(&self) -> Vec<(String, Value)> {
        let count = self.stream_len();
        nats_runtime().block_on(async {
            let client = async_nats::connect(self.url()).await.expect("client");
            let stream = async_nats::jetstream::new(client)
                .get_stream(STREAM)
                .await
                .expect("stream");
            let mut messages = Vec::new();
            for sequence in 1..=count {
                let message = stream.get_raw_message(sequence).await.expect("message");
                messages.push((
                    message.subject.to_string(),
                    serde_json::from_slice(&message.payload).expect("JSON"),
                ));
            }
            messages
        })
    }

    /// Stops the server now (an outage); the store stays.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CNFlow records a sensor wrote to its records file in `dir`.
pub fn cnflow_records(dir: &Path) -> Vec<Value> {
    read_json_lines(&dir.join("records.jsonl"))
        .into_iter()
        .filter(|record| record["schema"] == "cipherlens.cnflow/v1")
        .collect()
}
