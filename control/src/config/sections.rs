//! The three sections: each option once, as clap argument and file key.
//!
//! Rules that keep [`super::overlay`] and the precedence test right:
//! the field name is the clap id and the file key (no `id =`, no serde
//! `rename`); the flag and the variable are named in `#[arg]`; a range is
//! checked by clap for the command line and environment and by [`within`]
//! for the file, both from the same constants.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use clap::{ArgAction, Args, ValueEnum};
use serde::{Deserialize, Deserializer};

use super::{Secret, defaults};

/// Payload bytes copied per flow: the allowed range.
pub const FLOW_BYTE_BUDGET: RangeInclusive<u64> = 1024..=16 * 1024 * 1024;
/// Default size of the packet ring buffer, in MiB. `scripts/bench-live.sh`
/// section 2 (20,000 handshakes as fast as two saturated cores make them,
/// sensor start-up and CNFlow scans included) measured a backlog peak of
/// 0.5-2.4 MiB once CNFlow records stopped blocking the loop; 8 MiB is over
/// three times that, and 4 MiB lost events in every run. A ring is
/// resident twice (the kernel maps its pages twice).
pub const DEFAULT_RING_BUFFER_MIB: u32 = 8;
/// Default size of the TLS probes' ring buffer, in MiB: certificate chains
/// of a few KiB per handshake of a probed library; plaintext capture of a
/// busy process wants more.
pub const DEFAULT_TLS_RING_BUFFER_MIB: u32 = 2;
/// Largest ring buffer, in MiB.
const MAX_RING_BUFFER_MIB: u32 = 1024;

/// A ring buffer size in MiB: a power of two (the kernel's rule for ring
/// buffers), 1 to 1024.
fn check_ring_buffer_mib(mib: u64) -> Result<u32, String> {
    if mib == 0 || mib > u64::from(MAX_RING_BUFFER_MIB) || !mib.is_power_of_two() {
        return Err(format!(
            "expected a power of two from 1 to {MAX_RING_BUFFER_MIB}, found {mib}"
        ));
    }
    Ok(mib as u32)
}

fn ring_buffer_mib(text: &str) -> Result<u32, String> {
    let mib: u64 = text
        .parse()
        .map_err(|_| format!("expected a number of MiB, found {text:?}"))?;
    check_ring_buffer_mib(mib)
}

fn deserialize_ring_buffer_mib<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u32, D::Error> {
    let mib = <u64 as serde::Deserialize>::deserialize(deserializer)?;
    check_ring_buffer_mib(mib).map_err(serde::de::Error::custom)
}

/// Seconds between reads of the kernel's flow counters: the allowed range.
const CNFLOW_SCAN_INTERVAL: RangeInclusive<u64> = 1..=3600;
/// Seconds without a packet after which a flow has ended: the allowed range.
const CNFLOW_IDLE_TIMEOUT: RangeInclusive<u64> = 1..=u64::MAX;

/// `range` as clap's parsers for types narrower than `u64` take it.
const fn signed(range: RangeInclusive<u64>) -> RangeInclusive<i64> {
    // The ranges here end far below `i64::MAX`.
    RangeInclusive::new(*range.start() as i64, *range.end() as i64)
}

/// The file's side of a range check: `T` within `MIN..=MAX`, else an error
/// that serde places at the value (line and column).
fn within<'de, D, T, const MIN: u64, const MAX: u64>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Copy + Into<u64>,
{
    let value = T::deserialize(deserializer)?;
    if (MIN..=MAX).contains(&value.into()) {
        Ok(value)
    } else if MAX == u64::MAX {
        Err(serde::de::Error::custom(format_args!(
            "{}: expected at least {MIN}",
            value.into()
        )))
    } else {
        Err(serde::de::Error::custom(format_args!(
            "{}: expected {MIN} to {MAX}",
            value.into()
        )))
    }
}

/// How the TC programs are attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachMode {
    /// TCX links where the kernel has them (>= 6.6), netlink filters otherwise.
    #[default]
    Auto,
    /// TCX links (kernel >= 6.6).
    Tcx,
    /// Netlink filters on a clsact qdisc (any kernel; survive `kill -9`,
    /// cleaned up by the next start).
    Netlink,
}

/// `[capture]`: live capture on this node.
#[derive(Debug, Clone, PartialEq, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureSection {
    /// Attach only to interfaces matching this glob (repeatable; default: all, loopback included).
    #[arg(long = "interface", short = 'i', value_name = "INCLUDE")]
    pub interfaces: Vec<String>,
    /// Never attach to interfaces matching this glob (repeatable).
    #[arg(long = "exclude-interface", value_name = "EXCLUDE")]
    pub exclude_interfaces: Vec<String>,
    /// Payload bytes copied per flow at most (1 KiB to 16 MiB).
    #[arg(long, default_value_t = cipherlens_common::DEFAULT_FLOW_BYTE_BUDGET,
          value_parser = clap::value_parser!(u32).range(signed(FLOW_BYTE_BUDGET)))]
    #[serde(
        deserialize_with = "within::<_, _, { *FLOW_BYTE_BUDGET.start() }, { *FLOW_BYTE_BUDGET.end() }>"
    )]
    pub flow_byte_budget: u32,
    /// Bytes of a TCP connection without a TLS handshake after which its
    /// packets are no longer looked at for one starting (STARTTLS-style
    /// upgrades come within the first messages; needs CNFlow counting);
    /// 0: every packet is looked at.
    #[arg(long, value_name = "BYTES",
          default_value_t = cipherlens_common::DEFAULT_STARTTLS_WATCH_BYTES)]
    pub starttls_watch_bytes: u32,
    /// MiB of the ring buffer that carries handshake packets to user space
    /// (a power of two, 1 to 1024; resident twice, as the kernel maps it).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_RING_BUFFER_MIB,
          value_parser = ring_buffer_mib)]
    #[serde(deserialize_with = "deserialize_ring_buffer_mib")]
    pub ring_buffer_mib: u32,
    /// Seconds between stats records on stderr (0: only at exit).
    #[arg(
        long = "stats-interval",
        value_name = "STATS_INTERVAL",
        default_value_t = 60
    )]
    pub stats_interval_seconds: u64,
    /// How TC programs are attached: TCX links (kernel >= 6.6) or netlink
    /// clsact filters; `auto` picks TCX where the kernel has it.
    #[arg(long, value_enum, default_value_t = AttachMode::Auto)]
    pub attach_mode: AttachMode,
    /// No CNFlow flow records.
    #[arg(long = "no-cnflow", action = ArgAction::SetFalse)]
    pub cnflow: bool,
    /// Seconds between CNFlow update records of a flow that lasts (0: only at its end).
    #[arg(
        long = "cnflow-report-interval",
        value_name = "CNFLOW_REPORT_INTERVAL",
        default_value_t = 60
    )]
    pub cnflow_report_interval_seconds: u64,
    /// Seconds without a packet after which a flow has ended.
    #[arg(long = "cnflow-idle-timeout", value_name = "CNFLOW_IDLE_TIMEOUT",
          default_value_t = 120, value_parser = clap::value_parser!(u64).range(CNFLOW_IDLE_TIMEOUT))]
    #[serde(
        deserialize_with = "within::<_, _, { *CNFLOW_IDLE_TIMEOUT.start() }, { *CNFLOW_IDLE_TIMEOUT.end() }>"
    )]
    pub cnflow_idle_timeout_seconds: u64,
    /// Seconds between reads of the kernel's flow counters.
    #[arg(long = "cnflow-scan-interval", value_name = "CNFLOW_SCAN_INTERVAL",
          default_value_t = 5, value_parser = clap::value_parser!(u64).range(CNFLOW_SCAN_INTERVAL))]
    #[serde(
        deserialize_with = "within::<_, _, { *CNFLOW_SCAN_INTERVAL.start() }, { *CNFLOW_SCAN_INTERVAL.end() }>"
    )]
    pub cnflow_scan_interval_seconds: u64,
    /// Serve Prometheus /metrics and /healthz here (e.g. 127.0.0.1:9464; off by default).
    #[arg(long, env = "CIPHERLENS_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The kubelet's pod log directory (pod names and namespaces).
    #[arg(long, default_value = "/var/log/pods")]
    pub pods_log_dir: PathBuf,
    /// The kubelet's container log links (container names).
    #[arg(long, default_value = "/var/log/containers")]
    pub containers_log_dir: PathBuf,
    /// Write records to this file (default: stdout, unless NATS is configured).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Rotate the --output file when it reaches this many bytes (0: never).
    #[arg(long, default_value_t = 0)]
    pub output_max_bytes: u64,
    /// Rotated --output files kept (FILE.1 is the newest).
    #[arg(long, default_value_t = 5)]
    pub output_keep: u32,
    /// Attach no uprobes at all (no certificates from TLS libraries).
    #[arg(long = "no-tls-probes", action = ArgAction::SetFalse)]
    pub tls_probes: bool,
    /// MiB of the ring buffer that carries the TLS probes' certificates and
    /// plaintext (a power of two, 1 to 1024; resident twice). Raise it for
    /// plaintext capture of busy processes (`tls_probe_ring_buffer_full`).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_TLS_RING_BUFFER_MIB,
          value_parser = ring_buffer_mib)]
    #[serde(deserialize_with = "deserialize_ring_buffer_mib")]
    pub tls_ring_buffer_mib: u32,
    /// TLS probes only for these processes (repeatable; default: every process).
    #[arg(long = "tls-probe-pid", value_name = "PID")]
    pub tls_probe_pids: Vec<u32>,
    /// TLS probes never for these processes (repeatable).
    #[arg(long = "tls-probe-exclude-pid", value_name = "PID")]
    pub tls_probe_exclude_pids: Vec<u32>,
    /// TLS probes only for processes in containers whose id starts with this (repeatable).
    #[arg(long = "tls-probe-container", value_name = "ID")]
    pub tls_probe_containers: Vec<String>,
    /// TLS probes never for processes in containers whose id starts with this (repeatable).
    #[arg(long = "tls-probe-exclude-container", value_name = "ID")]
    pub tls_probe_exclude_containers: Vec<String>,
    /// TLS probes only for processes running this executable (path or file name; repeatable).
    #[arg(long = "tls-probe-executable", value_name = "EXE")]
    pub tls_probe_executables: Vec<String>,
    /// TLS probes never for processes running this executable (path or file name; repeatable).
    #[arg(long = "tls-probe-exclude-executable", value_name = "EXE")]
    pub tls_probe_exclude_executables: Vec<String>,
    /// Never attach to TLS library files whose path contains this (repeatable).
    #[arg(long = "tls-probe-exclude-library", value_name = "TEXT")]
    pub tls_probe_exclude_libraries: Vec<String>,
    /// Milliseconds a TLS 1.3 session's record may wait for the chain its
    /// local peer's TLS library is still decoding (0 to 10000).
    #[arg(long = "certificate-wait", value_name = "CERTIFICATE_WAIT_MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    #[serde(deserialize_with = "within::<_, _, 0, 10_000>")]
    pub certificate_wait_ms: u64,
    /// Capture the plaintext of TLS library calls (SSL_read/SSL_write):
    /// every process, unless --plaintext-pid/-container/-namespace/-sni
    /// narrow it. Records go to <prefix>.tls.plaintext.<node>.
    #[arg(long)]
    pub plaintext: bool,
    /// Plaintext only of this process (repeatable; needs --plaintext).
    #[arg(long = "plaintext-pid", value_name = "PID")]
    pub plaintext_pids: Vec<u32>,
    /// Plaintext only of containers whose id starts with this (repeatable; needs --plaintext).
    #[arg(long = "plaintext-container", value_name = "ID")]
    pub plaintext_containers: Vec<String>,
    /// Plaintext only of pods in this Kubernetes namespace (repeatable; needs --plaintext).
    #[arg(long = "plaintext-namespace", value_name = "NAMESPACE")]
    pub plaintext_namespaces: Vec<String>,
    /// Plaintext only of sessions with this server name (SNI; repeatable; needs --plaintext).
    #[arg(long = "plaintext-sni", value_name = "NAME")]
    pub plaintext_server_names: Vec<String>,
    /// Plaintext bytes kept per call at most (1 to 16384).
    #[arg(long = "plaintext-max-bytes", value_name = "PLAINTEXT_MAX_BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=16_384))]
    #[serde(deserialize_with = "within::<_, _, 1, 16_384>")]
    pub plaintext_max_bytes: u32,
    /// HTTP header fields whose values are redacted from plaintext (repeatable; replaces the default list).
    #[arg(long = "plaintext-redact-header", value_name = "NAME",
          default_values_t = ["Authorization".to_string(), "Cookie".to_string(), "Set-Cookie".to_string(), "Proxy-Authorization".to_string()])]
    pub plaintext_redact_headers: Vec<String>,
    /// Scope kinds a `plaintext` directive may enable on this node
    /// (repeatable; default: none, so directives cannot turn plaintext on).
    #[arg(long = "plaintext-directive", value_enum, value_name = "SCOPE")]
    pub plaintext_directive: Vec<PlaintextDirectiveScope>,
}

/// A scope kind a `plaintext` directive may be allowed to enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaintextDirectiveScope {
    /// `{"pid": N}`
    Pid,
    /// `{"container_id": "..."}`
    Container,
    /// `{"k8s_namespace": "..."}`
    Namespace,
    /// `{"k8s_pod": "..."}`
    Pod,
    /// `{"node": true}`: every process on the node.
    Node,
}

/// `[policy]`: alert records on weak crypto (off unless asked for).
#[derive(Debug, Clone, PartialEq, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySection {
    /// Evaluate this policy file (TOML, see docs/policy.md) on every session
    /// and publish alert records beside the session records; reloaded on
    /// SIGHUP and by the `policy` directive.
    #[arg(long = "policy", env = "CIPHERLENS_POLICY", value_name = "FILE")]
    pub policy_file: Option<PathBuf>,
    /// Publish alert records with the built-in default policy (implied by
    /// --policy).
    #[arg(long, env = "CIPHERLENS_ALERTS")]
    pub alerts: bool,
}

impl PolicySection {
    /// Whether alerts are on.
    pub fn enabled(&self) -> bool {
        self.alerts || self.policy_file.is_some()
    }
}

/// `[inventory]`: the node's crypto inventory, kept as the sensor runs.
#[derive(Debug, Clone, PartialEq, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventorySection {
    /// Fold every session record (and the policy's findings) into this
    /// SQLite inventory (see docs/inventory.md).
    #[arg(long, env = "CIPHERLENS_INVENTORY_DB", value_name = "FILE")]
    pub inventory_db: Option<PathBuf>,
}

/// `[pipeline]`: the session pipeline, shared by every input.
#[derive(Debug, Clone, PartialEq, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineSection {
    /// Largest TLS handshake message accepted, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_handshake_message: usize,
    /// Out-of-order bytes held per TCP direction before a hole is given up.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_reassembly_bytes: usize,
    /// Also report the original-order JA4 forms (ja4_o, ja4_ro).
    #[arg(long)]
    pub ja4_original_order: bool,
    /// Seed of network.community_id; use your other tools' seed (Zeek's
    /// and Suricata's default is 0) so the ids join.
    #[arg(long, default_value_t = 0)]
    pub community_id_seed: u16,
    /// TLS secrets in the NSS key log format (SSLKEYLOGFILE): TLS 1.3
    /// handshakes whose secrets it holds are decrypted (certificates,
    /// EncryptedExtensions). `live` follows the file as it grows.
    #[arg(long, value_name = "FILE", env = "CIPHERLENS_KEYLOG_FILE")]
    pub keylog_file: Option<PathBuf>,
}

/// `[nats]`: publishing to NATS (records then go to NATS, and to `--output`
/// if given).
#[derive(Debug, Clone, PartialEq, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSection {
    /// NATS server URL(s), comma-separated (nats://host:4222, tls://host:4222).
    #[arg(
        long = "nats-url",
        value_name = "NATS_URL",
        env = "CIPHERLENS_NATS_URL"
    )]
    pub url: Option<String>,
    /// First subject tokens: records go to <prefix>.tls.session.<node> etc.
    #[arg(
        long = "nats-prefix",
        value_name = "NATS_PREFIX",
        env = "CIPHERLENS_NATS_PREFIX",
        default_value = "cipherlens"
    )]
    pub prefix: String,
    /// Node name in subjects and in live records' `host.name` (default: the
    /// host name; a DaemonSet passes the Kubernetes node name).
    #[arg(long, env = "CIPHERLENS_NODE")]
    pub node: Option<String>,
    #[arg(
        long = "nats-user",
        value_name = "NATS_USER",
        env = "CIPHERLENS_NATS_USER",
        requires = "password_file"
    )]
    pub user: Option<String>,
    /// The password (in the file: `password_file`, a file holding it).
    #[arg(long = "nats-password", value_name = "NATS_PASSWORD",
          env = "CIPHERLENS_NATS_PASSWORD", hide_env_values = true, value_parser = Secret::given)]
    pub password_file: Option<Secret>,
    /// The token (in the file: `token_file`, a file holding it).
    #[arg(long = "nats-token", value_name = "NATS_TOKEN",
          env = "CIPHERLENS_NATS_TOKEN", hide_env_values = true, value_parser = Secret::given)]
    pub token_file: Option<Secret>,
    /// File holding an nkey seed (SU...).
    #[arg(
        long = "nats-nkey-seed-file",
        value_name = "NATS_NKEY_SEED_FILE",
        env = "CIPHERLENS_NATS_NKEY_SEED_FILE"
    )]
    pub nkey_seed_file: Option<PathBuf>,
    /// A .creds file (JWT and seed).
    #[arg(
        long = "nats-creds",
        value_name = "NATS_CREDS",
        env = "CIPHERLENS_NATS_CREDS"
    )]
    pub creds: Option<PathBuf>,
    /// CA bundle (PEM) to verify the NATS server.
    #[arg(long = "nats-ca", value_name = "NATS_CA", env = "CIPHERLENS_NATS_CA")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(
        long = "nats-cert",
        value_name = "NATS_CERT",
        env = "CIPHERLENS_NATS_CERT",
        requires = "key"
    )]
    pub cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(
        long = "nats-key",
        value_name = "NATS_KEY",
        env = "CIPHERLENS_NATS_KEY",
        requires = "cert"
    )]
    pub key: Option<PathBuf>,
    /// Require TLS to the server.
    #[arg(long = "nats-tls")]
    pub tls: bool,
    /// Publish through JetStream and wait for acks (a stream must cover the subjects).
    #[arg(long = "nats-jetstream")]
    pub jetstream: bool,
    /// Records buffered at most while NATS is unreachable; more are dropped and counted.
    #[arg(
        long = "nats-buffer",
        value_name = "NATS_BUFFER",
        default_value_t = 100_000
    )]
    pub buffer: usize,
}

impl NatsSection {
    /// The secrets read from their files (where the file named one), so
    /// every later use sees the secret itself.
    pub fn read_secrets(mut self) -> Result<Self, super::ConfigError> {
        for secret in [&mut self.password_file, &mut self.token_file]
            .into_iter()
            .flatten()
        {
            *secret = Secret::Given(secret.read()?);
        }
        Ok(self)
    }
}

impl Default for CaptureSection {
    fn default() -> Self {
        defaults()
    }
}

impl Default for PipelineSection {
    fn default() -> Self {
        defaults()
    }
}

impl Default for NatsSection {
    fn default() -> Self {
        defaults()
    }
}

impl Default for InventorySection {
    fn default() -> Self {
        defaults()
    }
}

impl Default for PolicySection {
    fn default() -> Self {
        defaults()
    }
}
