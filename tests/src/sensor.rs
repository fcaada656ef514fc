//! A `cipherlens live` under test: started with its metrics endpoint on a
//! free loopback port, ready when `/healthz` answers 200 and the kernel
//! shows its programs on the interface the test cares about (never a log
//! line's wording), stopped with SIGINT into its records and final stats.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::kernel::tc_hooks;
use crate::process::{free_port, signal, wait_exit};
use crate::schema;

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

/// `cipherlens replay ARGS PCAP`: its session records (replay prints
/// CNFlow records too), in order. Requires success.
pub fn replay_sessions(args: &[&str], pcap: &Path) -> Vec<serde_json::Value> {
    let output = Command::new(sensor_binary())
        .arg("replay")
        .args(args)
        .arg(pcap)
        .output()
        .expect("cipherlens replay");
    assert!(
        output.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON record"))
        .filter(|record| record["schema"] == "cipherlens.session/v1")
        .collect()
}

/// How long a sensor may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running sensor, its records file, its stderr and its metrics address.
pub struct Sensor {
    pub child: Option<Child>,
    pub records: PathBuf,
    pub stderr: PathBuf,
    /// `127.0.0.1:<port>` of `/metrics` and `/healthz`.
    pub metrics_address: String,
    pub started: Instant,
}

impl Sensor {
    /// Starts `cipherlens live` on the given interface globs (records to
    /// `dir/records.jsonl`) and waits until it is healthy and attached to
    /// `wait_for` (an interface name) at ingress and egress.
    pub fn start(dir: &Path, interfaces: &[&str], wait_for: &str, extra: &[&str]) -> Self {
        Self::start_with_env(dir, interfaces, wait_for, extra, &[])
    }

    /// [`Sensor::start`] with extra environment variables.
    pub fn start_with_env(
        dir: &Path,
        interfaces: &[&str],
        wait_for: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch(
            Command::new(sensor_binary()),
            dir,
            interfaces,
            wait_for,
            extra,
            env,
        )
    }

    /// [`Sensor::start`] without the given capabilities (`setpriv` names,
    /// e.g. `sys_admin`): out of the bounding set, so root cannot have them.
    pub fn start_without(
        capabilities: &[&str],
        dir: &Path,
        interfaces: &[&str],
        wait_for: &str,
        extra: &[&str],
    ) -> Self {
        let dropped = capabilities
            .iter()
            .map(|capability| format!("-{capability}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--bounding-set={dropped}"))
            .arg(format!("--inh-caps={dropped}"))
            .arg("--")
            .arg(sensor_binary());
        Self::launch(command, dir, interfaces, wait_for, extra, &[])
    }

    /// `command` (the sensor binary, or a wrapper that execs it) with the
    /// test's arguments, ready.
    fn launch(
        mut command: Command,
        dir: &Path,
        interfaces: &[&str],
        wait_for: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let records = dir.join("records.jsonl");
        let stderr = dir.join("sensor.err");
        let metrics_address = format!("127.0.0.1:{}", free_port());
        command.arg("live").arg("-o").arg(&records);
        for interface in interfaces {
            command.args(["-i", interface]);
        }
        command.args(["--metrics-listen", &metrics_address]);
        command.args(extra);
        command.env("CIPHERLENS_LOG", "info");
        command.envs(env.iter().copied());
        let started = Instant::now();
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start the sensor");
        let mut sensor = Sensor {
            child: Some(child),
            records,
            stderr,
            metrics_address,
            started,
        };
        sensor.wait_healthy();
        sensor.wait_attached(wait_for, READY_WITHIN);
        sensor
    }

    /// The sensor's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Takes the process out of the guard (to signal and reap it by hand).
    pub fn into_child(mut self) -> Child {
        self.child.take().expect("running")
    }

    /// Waits until `/healthz` answers 200; fails at once if the sensor exits.
    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "sensor exited ({status}) before it was ready: {}",
                    self.log()
                );
            }
            if self
                .get("/healthz")
                .is_some_and(|(status, _)| status == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("/healthz never answered 200: {}", self.log());
    }

    /// Waits until the kernel shows the sensor's programs at ingress and
    /// egress of `interface`; returns how long that took.
    pub fn wait_attached(&self, interface: &str, limit: Duration) -> Duration {
        let asked = Instant::now();
        let deadline = asked + limit;
        loop {
            let hooks = tc_hooks(self.pid(), interface);
            if hooks == ["egress", "ingress"] {
                return asked.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "not attached to {interface} within {limit:?} (hooks {hooks:?}): {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A GET on the metrics endpoint: status code and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.metrics_address, path)
    }

    /// The Prometheus exposition from `/metrics`.
    pub fn metrics(&self) -> String {
        match self.get("/metrics") {
            Some((200, body)) => body,
            other => panic!("/metrics: {other:?}"),
        }
    }

    /// The value of one sample (`name` with its labels, as exposed).
    pub fn metric(&self, sample: &str) -> Option<f64> {
        metric_value(&self.metrics(), sample)
    }

    /// The sensor's stderr so far.
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
        // Session records; CNFlow, alert and plaintext records (in the same file) are
        // checked against their schemas and left to `cnflow_records` and
        // the caller.
        let mut records = read_json_lines(&self.records);
        for record in &records {
            match record["schema"].as_str() {
                Some("cipherlens.cnflow/v1") => schema::assert_valid_cnflow_record(record),
                Some("cipherlens.alert/v1") => schema::assert_valid_alert_record(record),
                Some("cipherlens.plaintext/v1") => schema::assert_valid_plaintext_record(record),
                _ => schema::assert_valid_session_record(record),
            }
        }
        records.retain(|record| record["schema"] == "cipherlens.session/v1");
        let stats = self
            .stats_records()
            .pop()
            .expect("a final stats record on stderr");
        schema::assert_valid_stats_record(&stats);
        (records, stats, took)
    }

    /// The stats records on stderr so far, oldest first.
    pub fn stats_records(&self) -> Vec<Value> {
        self.log()
            .lines()
            .filter(|line| line.starts_with('{'))
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|value| value["schema"] == "cipherlens.stats/v1")
            .collect()
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

/// One HTTP/1.1 GET: status code and body (`None` if nothing answers).
pub fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The value of `sample` (metric name with labels) in a Prometheus text
/// exposition.
pub fn metric_value(exposition: &str, sample: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
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

/// The CNFlow records a sensor wrote to its records file in `dir`.
pub fn cnflow_records(dir: &Path) -> Vec<Value> {
    read_json_lines(&dir.join("records.jsonl"))
        .into_iter()
        .filter(|record| record["schema"] == "cipherlens.cnflow/v1")
        .collect()
}
