//! What identifies an inventory row, and its deterministic id.
//!
//! Every row is keyed by the node that saw it and the asset: a server
//! endpoint (transport, address, port, SNI), a client workload (executable,
//! container, pod; for a client not on the node, its TLS fingerprint), or the pair of
//! both. Ids are the first 8 bytes of a SHA-256 over the key's fields, so two
//! node databases give the same asset the same id and a merge is a plain
//! upsert. SNI and addresses come off the network: a cryptographic hash
//! keeps anyone from steering two assets onto one id (a chance collision
//! needs about 2^32 distinct assets in one inventory).

use std::borrow::Cow;

use ring::digest;

use crate::batch::facts::Attribution;

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
        endpoint_id(
            &self.node,
            &self.transport,
            &self.address,
            self.port,
            &self.sni,
        )
    }
}

/// [`EndpointKey::id`] of borrowed fields.
pub(crate) fn endpoint_id(node: &str, transport: &str, address: &str, port: u16, sni: &str) -> i64 {
    id_of(
        "endpoint",
        &[
            node.as_bytes(),
            transport.as_bytes(),
            address.as_bytes(),
            &port.to_be_bytes(),
            sni.as_bytes(),
        ],
    )
}

/// A workload on a node: the process, container and pod that owned a
/// socket. When none of them is known (a remote client, or `replay`), the
/// workload is the client's TLS fingerprint.
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
    /// For a client not on this node (nothing above is known): `ja4:<JA4>`
    /// of its ClientHello (`ja3:<JA3>` without one), which stands for its
    /// TLS stack. Keying remote clients by address would make a row per
    /// client IP of a public service.
    pub tls_fingerprint: String,
}

impl WorkloadKey {
    pub fn id(&self) -> i64 {
        WorkloadParts {
            node: &self.node,
            executable: Cow::Borrowed(&self.executable),
            container_id: &self.container_id,
            k8s_namespace: &self.k8s_namespace,
            k8s_pod: &self.k8s_pod,
            k8s_container: &self.k8s_container,
            tls_fingerprint: Cow::Borrowed(&self.tls_fingerprint),
        }
        .id()
    }

    /// A short name for people: `namespace/pod/container`, the container
    /// id, the executable, or the TLS fingerprint, whichever is most specific.
    pub fn label(&self) -> String {
        workload_label(
            &self.executable,
            &self.container_id,
            &self.k8s_namespace,
            &self.k8s_pod,
            &self.k8s_container,
            &self.tls_fingerprint,
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
    tls_fingerprint: &str,
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
        if tls_fingerprint.is_empty() {
            return "unknown client".to_owned();
        }
        return format!("remote client {tls_fingerprint}");
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

/// A [`WorkloadKey`] borrowed from a session, so a workload a batch
/// already has costs no allocation.
#[derive(Debug, Clone)]
pub(crate) struct WorkloadParts<'a> {
    pub node: &'a str,
    pub executable: Cow<'a, str>,
    pub container_id: &'a str,
    pub k8s_namespace: &'a str,
    pub k8s_pod: &'a str,
    pub k8s_container: &'a str,
    pub tls_fingerprint: Cow<'a, str>,
}

impl<'a> WorkloadParts<'a> {
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
                self.tls_fingerprint.as_bytes(),
            ],
        )
    }

    pub fn to_key(&self) -> WorkloadKey {
        WorkloadKey {
            node: self.node.to_owned(),
            executable: self.executable.clone().into_owned(),
            container_id: self.container_id.to_owned(),
            k8s_namespace: self.k8s_namespace.to_owned(),
            k8s_pod: self.k8s_pod.to_owned(),
            k8s_container: self.k8s_container.to_owned(),
            tls_fingerprint: self.tls_fingerprint.clone().into_owned(),
        }
    }

    /// The workload owning one side's socket, when anything about it is
    /// known on the node.
    pub fn local(node: &'a str, attribution: &Attribution<'a>) -> Option<WorkloadParts<'a>> {
        // The process name (`comm`) is known even when the process is gone
        // before its path could be read; a path alone gives the name the
        // kernel would have used (the file name, cut to 15 bytes).
        let executable = match (attribution.executable_name, attribution.executable_path) {
            (Some(name), _) => Cow::Borrowed(name),
            (None, Some(path)) => Cow::Borrowed(command_name(path)),
            (None, None) => Cow::Borrowed(""),
        };
        let parts = WorkloadParts {
            node,
            executable,
            container_id: attribution.container_id.unwrap_or(""),
            k8s_namespace: attribution.k8s_namespace.unwrap_or(""),
            k8s_pod: attribution.k8s_pod.unwrap_or(""),
            k8s_container: attribution.k8s_container.unwrap_or(""),
            tls_fingerprint: Cow::Borrowed(""),
        };
        let known = !(parts.executable.is_empty()
            && parts.container_id.is_empty()
            && parts.k8s_pod.is_empty());
        known.then_some(parts)
    }

    /// A client not on the node, known by its ClientHello's JA4 (else JA3).
    pub fn remote(node: &'a str, ja4: Option<&str>, ja3: Option<&str>) -> WorkloadParts<'a> {
        let tls_fingerprint = match (ja4, ja3) {
            (Some(ja4), _) => format!("ja4:{ja4}"),
            (None, Some(ja3)) => format!("ja3:{ja3}"),
            (None, None) => String::new(),
        };
        WorkloadParts {
            node,
            executable: Cow::Borrowed(""),
            container_id: "",
            k8s_namespace: "",
            k8s_pod: "",
            k8s_container: "",
            tls_fingerprint: Cow::Owned(tls_fingerprint),
        }
    }
}

/// The kernel's `comm` for an executable path: its file name, at most 15
/// bytes (TASK_COMM_LEN - 1), cut at a character boundary.
fn command_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    let mut end = file.len().min(15);
    while !file.is_char_boundary(end) {
        end -= 1;
    }
    &file[..end]
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
            tls_fingerprint: "ja4:t13d1516h2_8daaf6152771_02713d6af862".into(),
            ..WorkloadKey::default()
        };
        assert_eq!(
            remote.label(),
            "remote client ja4:t13d1516h2_8daaf6152771_02713d6af862"
        );
    }
}
