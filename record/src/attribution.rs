//! Who an endpoint is on the node: process, container, Kubernetes pod,
//! and the node itself (OpenTelemetry `process.*`, `container.*`, `k8s.*`,
//! `host.*`). Live capture fills these in; `replay` cannot.

use serde::{Deserialize, Serialize};

/// OpenTelemetry `process.*`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<Executable>,
    /// Arguments joined by spaces, at most 4 KiB (then ending in `...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Account>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Account>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Executable {
    /// `comm`, the kernel's short name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// OpenTelemetry `container.*`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
}

/// OpenTelemetry `k8s.*`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct K8sInfo {
    pub pod: K8sPod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Named>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct K8sPod {
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Named {
    pub name: String,
}

/// Everything known about the local owner of one endpoint's socket.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointAttribution {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8sInfo>,
}

/// OpenTelemetry `host.*`: the node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostInfo {
    pub name: String,
    /// `/etc/machine-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Which runtime made a container's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Containerd,
    Crio,
    Podman,
}
