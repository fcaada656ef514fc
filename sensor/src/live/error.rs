//! Why live capture could not start or stopped.

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "live capture needs {missing}; run as root or grant them (e.g. setcap cap_bpf,cap_perfmon,cap_net_admin+ep)"
    )]
    MissingCapabilities { missing: String },
    #[error("reading this process's capabilities: {0}")]
    Capabilities(std::io::Error),
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program or map {0} is missing from the object")]
    Missing(&'static str),
    #[error("eBPF program {name}: {source}")]
    Program {
        name: &'static str,
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map or program {name}: a second handle: {source}")]
    MapHandle {
        name: &'static str,
        source: std::io::Error,
    },
    #[error("eBPF map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("eBPF map {name}: batched access: {source}")]
    Batch {
        name: &'static str,
        source: cipherlens_bpf_batch::BatchError,
    },
    #[error("reading kernel BTF (/sys/kernel/btf/vmlinux): {0}")]
    Btf(#[source] aya::BtfError),
    #[error("counting the possible CPUs (/sys/devices/system/cpu/possible): {0}")]
    Cpus(std::io::Error),
    #[error("listing interfaces: {0}")]
    Interfaces(std::io::Error),
    #[error("waiting for ring buffer events: {0}")]
    Poll(std::io::Error),
    #[error("writing records: {0}")]
    Output(std::io::Error),
    #[error("serving metrics on {address}: {source}")]
    Metrics {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}
