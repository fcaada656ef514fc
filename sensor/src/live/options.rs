//! What live capture is asked to do, and where its records go.

use std::time::Duration;

pub use cipherlens_control::config::AttachMode;

use super::interfaces::InterfaceFilter;
use crate::attribution::AttributionSources;
use crate::cnflow::CnFlowConfig;
use crate::directive::DirectiveRequest;
use crate::pipeline::PipelineConfig;
use crate::publish::Sink;
use crate::publish::nats::PublishStatsSource;

/// What live capture is asked to do.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interfaces: InterfaceFilter,
    /// Payload bytes copied per flow at most.
    pub flow_byte_budget: u32,
    /// Bytes of a TCP flow without a handshake after which it is no longer
    /// looked at for one (0: never stop).
    pub starttls_watch_bytes: u32,
    /// Size of the packet events ring buffer (a power of two of pages).
    pub ring_buffer_bytes: u32,
    /// Size of the TLS probes' ring buffer (a power of two of pages).
    pub tls_ring_buffer_bytes: u32,
    /// Period of the stats record on stderr (`None`: only at exit).
    pub stats_interval: Option<Duration>,
    pub attach_mode: AttachMode,
    pub attribution: AttributionSources,
    /// Where to serve `/metrics` and `/healthz` (off when `None`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// CNFlow records (off when `None`).
    pub cnflow: Option<CnFlowConfig>,
    /// How often the kernel's flow counters are read.
    pub cnflow_scan_interval: Duration,
    pub pipeline: PipelineConfig,
    /// Policy alerts (off when `None`).
    pub policy: Option<std::sync::Arc<crate::alerts::PolicyHandle>>,
    /// The node name records carry in `host.name` (`--node`; default: the
    /// host name). A DaemonSet passes the Kubernetes node name, which is
    /// what subjects and the inventory key by too.
    pub node: Option<String>,
    /// uprobes on the TLS libraries of local processes.
    pub tls_probes: super::tls::TlsProbeOptions,
    /// A TLS key log to follow (`--keylog-file`).
    pub keylog_file: Option<std::path::PathBuf>,
}

/// Where live capture's records go, and what operators ask of it.
pub struct LiveOutputs {
    pub sink: Box<dyn Sink>,
    /// The NATS publisher's counters, for the stats record.
    pub publish_stats: Option<PublishStatsSource>,
    /// Directives received over NATS.
    pub directives: Option<tokio::sync::mpsc::Receiver<DirectiveRequest>>,
    /// The node's inventory, kept as sessions are recorded (`--inventory-db`).
    pub inventory: Option<crate::inventory::InventoryStage>,
}
