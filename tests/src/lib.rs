//! Helpers for the privileged end-to-end tests in `tests/tests/e2e/` (and
//! the guards the sensor's own tests and benchmarks share).
//!
//! A test starts from a [`TestBed`]: its own network namespace joined to
//! the host by a veth pair whose host end the sensor attaches to, like a
//! pod's veth on a node. Expectations come from outside the sensor: the
//! clients' configuration, tshark on a parallel tcpdump capture, the kernel
//! (`/proc/<pid>/fdinfo`, bpftool, tc, ss) and the published JSON Schemas.

pub mod authority;
pub mod bed;
pub mod cbom;
pub mod certificate;
pub mod cgroup;
pub mod deploy;
pub mod insecure_tls;
pub mod kernel;
pub mod link;
pub mod nats;
pub mod oracle;
pub mod peers;
pub mod process;
pub mod schema;
pub mod sensor;
pub mod x509;

pub use authority::{Authority, Leaf, Validity};
pub use bed::{Server, TestBed};
pub use certificate::{Certificate, KeyType};
pub use cgroup::Cgroup;
pub use link::Link;
pub use nats::{NatsServer, STREAM};
pub use oracle::{Tcpdump, tshark_fields, tshark_fields_decoding};
pub use peers::{python_tls_server, s_server, wait_listening};
pub use process::{
    Background, Scratch, capabilities, free_port, free_udp_port, privileged, require_root, run,
    signal, status_field, wait_exit,
};
pub use sensor::{Sensor, cnflow_records, read_json_lines, replay_sessions, sensor_binary};
pub use x509::CertificateFacts;

/// The repository root (this crate is its `tests/` directory).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate has a parent directory")
        .to_path_buf()
}
