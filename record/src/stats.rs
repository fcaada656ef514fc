//! The sensor's counters (`cipherlens.stats/v1`, `schema/stats-record.v1.json`).
//!
//! Written to stderr periodically and at exit, published to
//! `<prefix>.stats.<node>`, and rendered as Prometheus metrics. Every loss
//! the sensor knows of is counted here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

crate::schema_id!(
    /// `cipherlens.stats/v1`.
    StatsSchema = "cipherlens.stats/v1"
);

/// Counters of live capture.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsRecord {
    pub schema: StatsSchema,
    /// When the counters were read, RFC 3339 UTC.
    pub time: String,
    /// Kernel counters summed over CPUs, by name. A counter that could not
    /// be read is absent here and named in `kernel_unreadable`.
    pub kernel: BTreeMap<String, u64>,
    /// Kernel counters that could not be read this time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_unreadable: Vec<String>,
    /// Kernel counters that mean lost data, summed (readable ones only).
    pub kernel_losses: u64,
    pub events_read: u64,
    /// The most event bytes found waiting in the ring buffer (live capture),
    /// measured by the kernel right after each event went in: how far
    /// behind the sensor got, against the ring's size.
    #[serde(default)]
    pub ring_buffer_peak_bytes: u64,
    /// The ring buffer's size in bytes (`--ring-buffer-mib`).
    #[serde(default)]
    pub ring_buffer_bytes: u64,
    /// Events that did not decode (user-side drops), by reason.
    pub events_dropped: BTreeMap<String, u64>,
    /// Events of the sensor's own sockets, never recorded.
    pub own_traffic_events: u64,
    /// Sessions of the sensor's own sockets, dropped at emission.
    pub own_traffic_sessions: u64,
    pub interfaces_attached: Vec<String>,
    pub attach_failures: u64,
    pub attach_mode: AttachKind,
    /// Netlink filters of an earlier run (killed before it could clean up)
    /// deleted before attaching.
    pub stale_filters_removed: u64,
    /// Link notifications that did not decode.
    pub malformed_link_notifications: u64,
    pub flows_marked_done: u64,
    pub pipeline: PipelineStats,
    /// CNFlow records sent, by reason (`end`, `idle`, `update`, `shutdown`).
    pub cnflow_records: BTreeMap<String, u64>,
    /// Kernel flow entries at the last scan.
    pub cnflow_tracked: u64,
    /// Flow entries that could not be read during a scan.
    pub cnflow_read_errors: u64,
    /// Flows whose counts in the kernel's per-CPU flow caches could not be
    /// read consistently with their entry; reported without them.
    pub cnflow_cache_unsettled: u64,
    /// Local sockets of CNFlow records looked up without finding TCP
    /// metrics (closed by then, or the lookup failed).
    pub tcp_info_misses: u64,
    /// CNFlow records sent without TCP metrics because the lookup worker
    /// was behind.
    pub tcp_info_skipped_busy: u64,
    /// End records of TCP flows not looked up: their sockets are closed.
    pub tcp_info_skipped_ended: u64,
    /// Sockets whose network namespace had no id, or whose TCP metrics
    /// lookup failed to run, by reason.
    pub tcp_info_namespace_failures: BTreeMap<String, u64>,
    /// Sessions not recorded because of a sampling directive.
    pub sampled_out: u64,
    pub directives_applied: u64,
    /// The NATS publisher, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishStats>,
    /// Policy alerts, when they are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyStats>,
    /// The TLS library probes (uprobes), when they are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_probes: Option<TlsProbeStats>,
}

/// The TLS library probes: what is attached, what is covered, what was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsProbeStats {
    /// Library files carrying probes.
    pub files_attached: u64,
    /// Probes (functions) attached over those files.
    pub probes_attached: u64,
    /// Files whose probes could not be attached, by reason.
    pub attach_failures: BTreeMap<String, u64>,
    /// Plaintext capture is on.
    pub plaintext: bool,
    /// Processes with TLS in them, grouped by what they use and whether
    /// it is hooked.
    pub coverage: Vec<TlsCoverage>,
    /// Kernel and user-side counters, by name (losses included).
    pub counters: BTreeMap<String, u64>,
}

/// Processes that use one TLS library version, hooked or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TlsCoverage {
    /// Library family (`openssl-3`, `boringssl`...), or what the TLS is
    /// when it cannot be hooked (`go_crypto_tls`...).
    pub library: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub hooked: bool,
    /// Why not, when not hooked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub processes: u64,
}

/// Counters of the policy step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyStats {
    /// The policy file (absent: the built-in default policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Reloads that took effect (SIGHUP, `policy` directive).
    pub reloads: u64,
    /// Reloads refused (the policy in use stayed).
    pub reload_failures: u64,
    /// Alert records published (summaries of held-back repeats included).
    pub alerts_published: u64,
    /// Findings held back as repeats within the deduplication window.
    pub alerts_suppressed: u64,
}

/// How the TC programs are attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachKind {
    /// TCX links (kernel >= 6.6), owned by the sensor's process.
    #[default]
    Tcx,
    /// Netlink filters on a clsact qdisc.
    Netlink,
}

/// Counters of the session pipeline (live and replay).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineStats {
    pub packets: u64,
    pub tcp_segments: u64,
    pub udp_datagrams: u64,
    pub other_packets: u64,
    pub flows_created: u64,
    /// New flows refused because the flow table was full.
    pub flows_dropped_table_full: u64,
    pub tls_sessions: u64,
    pub quic_sessions: u64,
    pub records_emitted: u64,
    /// QUIC datagrams that looked like Initials but did not decrypt or parse.
    pub quic_undecryptable: u64,
    /// TLS 1.3 sessions whose encrypted handshake a key log opened.
    #[serde(default)]
    pub handshakes_decrypted: u64,
    /// TLS 1.3 sessions kept for a key log that had no secrets for them.
    #[serde(default)]
    pub handshakes_without_keys: u64,
    /// TCP sessions replaced by a new connection on their 4-tuple before
    /// the sensor saw them end: a recorded or closed one by a ClientHello
    /// the kernel says opened its flow (the new SYN was not seen), or one
    /// whose client had sent data by a new SYN. The new handshake is not
    /// taken for a late packet of the old connection.
    #[serde(default)]
    pub flows_replaced_unseen_end: u64,
}

/// Counters of the NATS publisher.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishStats {
    pub published: u64,
    pub buffered: u64,
    pub dropped_buffer_full: u64,
    pub dropped_at_shutdown: u64,
    pub failed_round_trips: u64,
    pub disconnects: u64,
    pub directives_received: u64,
    /// Directives refused (malformed, or the sensor busy or stopping).
    pub directives_refused: u64,
    /// Mean time from queueing to acknowledgement, milliseconds.
    pub mean_latency_ms: f64,
}
