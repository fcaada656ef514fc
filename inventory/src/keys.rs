//! What identifies an inventory row, and its deterministic id.
//!
//! Every row is keyed by the node that saw it and the asset: a server
//! endpoint (transport, address, port, SNI), a client workload (executable,
//! container, pod; the address when nothing else is known), or the pair of
//! both. Ids are the first 8 bytes of a SHA-256 over the key's fields, so two
//! node databases give the same asset the same id and a merge is a plain
//! upsert. SNI and addresses come off the network: a cryptographic hash
//! keeps anyone from steering two assets onto one id (a chance collision
//! needs about 2^32 distinct assets in one inventory).

use cipherlens_record::attribution::EndpointAttribution;
use ring::digest;

/// A deterministic 64-bit id of a sequence of fields.
pub(crate) fn id_of(domain: &str, fields: &[&[u8]]) -> i64 {
    let mut context = digest::Context::new(&digest::SHA256);
    for field in std::iter::once(domain.as_bytes()).chain(fields.iter().copied()) {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        context.update(&(field.len() as u64).to_be_bytes());
        context.update(field);
    }
    let hash = context.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_ref()[..8]);
    i64::from_be_bytes(first)
}

/// An id as 16 lowercase hex digits (for JSON exports and BOM references).
pub fn id_hex(id: i64) -> String {
    format!("{:016x}", id as u64)
}

/// A server endpoint: where clients connected, and the name they asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointKey {
    pub node: String,
    /// `tcp` or `udp`.
    pub transport: String,
    pub address: String,
    pub port: u16,
    /// Server name the client sent; empty when it sent none.
    pub sni: String,
}

impl EndpointKey {
    pub fn id(&self) -> i64 {
        id_of(
            "endpoint",
            &[
                self.node.as_bytes(),
                self.transport.as_bytes(),
                self.address.as_bytes(),
                &self.port.to_be_bytes(),
                self.sni.as_bytes(),
            ],
        )
    }
}

/// A workload on a node: the process, container and pod that owned a
/// socket. When none of them is known (a remote client, or `replay`), the
/// workload is the client's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WorkloadKey {
    pub node: String,
    /// Process name (`comm`): what the kernel always knows, even when the
    /// process is gone before its executable's path could be read.
    pub executable: String,
    pub container_id: String,
    pub k8s_namespace: String,
    pub k8s_pod: String,
    pub k8s_container: String,
    /// Set only when nothing above is known.
    pub address: String,
}

impl WorkloadKey {
    pub fn id(&self) -> i64 {
        id_of(
            "workload",
            &[
                self.node.as_bytes(),
                self.executable.as_bytes(),
                self.container_id.as_bytes(),
                self.k8s_namespace.as_bytes(),
                self.k8s_pod.as_bytes(),
                self.k8s_container.as_bytes(),
                self.address.as_bytes(),
            ],
        )
    }

    /// A short name for people: `namespace/pod/container`, the container
    /// id, the executable, or the address, whichever is most specific.
    pub fn label(&self) -> String {
        workload_label(
            &self.executable,
            &self.container_id,
            &self.k8s_namespace,
            &self.k8s_pod,
            &self.k8s_container,
            &self.address,
        )
    }
}

/// See [`WorkloadKey::label`].
pub(crate) fn workload_label(
    executable: &str,
    container_id: &str,
    namespace: &str,
    pod: &str,
    container: &str,
    address: &str,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !pod.is_empty() {
        let mut name = format!("{namespace}/{pod}");
        if !container.is_empty() {
            name.push('/');
            name.push_str(container);
        }
        parts.push(name);
    } else if !container_id.is_empty() {
        let short: String = container_id.chars().take(12).collect();
        parts.push(format!("container {short}"));
    }
    if !executable.is_empty() {
        parts.push(executable.to_owned());
    }
    if parts.is_empty() {
        if address.is_empty() {
            return "unknown".to_owned();
        }
        return format!("client {address}");
    }
    parts.join(" ")
}

/// The id of a (server endpoint, client workload) pair.
pub(crate) fn connection_id(endpoint_id: i64, workload_id: i64) -> i64 {
    id_of(
        "connection",
        &[&endpoint_id.to_be_bytes(), &workload_id.to_be_bytes()],
    )
}

/// The workload owning an endpoint's socket, when anything about it is known.
/// Also returns the executable's path ('' when unknown), which is not part
/// of the key.
pub(crate) fn workload_key(
    node: &str,
    attribution: &EndpointAttribution,
) -> Option<(WorkloadKey, String)> {
    let executable = attribution
        .process
        .as_ref()
        .and_then(|process| process.executable.as_ref());
    let path = executable
        .and_then(|executable| executable.path.clone())
        .unwrap_or_default();
    // The process name (`comm`) is known even when the process is gone
    // before its path could be read; a path alone gives the name the kernel
    // would have used (the file name, cut to 15 bytes).
    let name = executable
        .and_then(|executable| executable.name.clone())
        .unwrap_or_else(|| command_name(&path));
    let container_id = attribution
        .container
        .as_ref()
        .map(|container| container.id.clone())
        .unwrap_or_default();
    let (k8s_namespace, k8s_pod, k8s_container) = attribution
        .k8s
        .as_ref()
        .map(|k8s| {
            (
                k8s.namespace
                    .as_ref()
                    .map(|named| named.name.clone())
                    .unwrap_or_default(),
                k8s.pod.name.clone().unwrap_or_else(|| k8s.pod.uid.clone()),
                k8s.container
                    .as_ref()
                    .map(|named| named.name.clone())
                    .unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let key = WorkloadKey {
        node: node.to_owned(),
        executable: name,
        container_id,
        k8s_namespace,
        k8s_pod,
        k8s_container,
        address: String::new(),
    };
    let known =
        !(key.executable.is_empty() && key.container_id.is_empty() && key.k8s_pod.is_empty());
    known.then_some((key, path))
}

/// The kernel's `comm` for an executable path: its file name, at most 15
/// bytes (TASK_COMM_LEN - 1), cut at a character boundary.
fn command_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let mut end = file.len().min(15);
    while !file.is_char_boundary(end) {
        end -= 1;
    }
    file[..end].to_owned()
}

pub(crate) fn runtime_name(runtime: cipherlens_record::attribution::Runtime) -> &'static str {
    use cipherlens_record::attribution::Runtime;
    match runtime {
        Runtime::Docker => "docker",
        Runtime::Containerd => "containerd",
        Runtime::Crio => "crio",
        Runtime::Podman => "podman",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_when_a_field_moves_between_neighbours() {
        assert_ne!(id_of("x", &[b"ab", b"c"]), id_of("x", &[b"a", b"bc"]));
        assert_ne!(id_of("x", &[b"a"]), id_of("y", &[b"a"]));
    }

    #[test]
    fn id_is_the_first_eight_bytes_of_sha256() {
        // SHA-256 of the length-prefixed fields, computed with coreutils:
        // printf '\0\0\0\0\0\0\0\x01x\0\0\0\0\0\0\0\x01a' | sha256sum
        assert_eq!(id_hex(id_of("x", &[b"a"])), "e8368cae49c25d85");
    }

    #[test]
    fn labels_prefer_the_pod_then_the_container_then_the_process() {
        let mut key = WorkloadKey {
            node: "n".into(),
            address: String::new(),
            executable: "curl".into(),
            ..WorkloadKey::default()
        };
        assert_eq!(key.label(), "curl");
        key.container_id = "0123456789abcdef0123".into();
        assert_eq!(key.label(), "container 0123456789ab curl");
        key.k8s_namespace = "shop".into();
        key.k8s_pod = "cart-7d9f".into();
        key.k8s_container = "app".into();
        assert_eq!(key.label(), "shop/cart-7d9f/app curl");
        let remote = WorkloadKey {
            node: "n".into(),
            address: "10.0.0.7".into(),
            ..WorkloadKey::default()
        };
        assert_eq!(remote.label(), "client 10.0.0.7");
    }
}
