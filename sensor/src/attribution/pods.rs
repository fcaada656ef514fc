//! Pod names from the node's kubelet log layout, without the API server.
//!
//! The kubelet writes container logs under
//! `/var/log/pods/<namespace>_<pod name>_<pod uid>/<container name>/N.log`
//! and links them as
//! `/var/log/containers/<pod name>_<namespace>_<container name>-<container id>.log`.
//! Namespaces, pod names and container names are DNS names (no `_`), so
//! both split cleanly. The index is rebuilt when a lookup misses, at most
//! once per [`REFRESH_INTERVAL`], so a new pod is known within a second of
//! its first log file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Shortest time between two rescans.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Directory entries read per scan at most (a node runs at most a few
/// hundred pods; this bounds a hostile or broken directory).
const MAX_ENTRIES: usize = 100_000;

/// A pod as the log layout names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodName {
    pub namespace: String,
    pub name: String,
    /// Container directories of the pod.
    pub containers: Vec<String>,
}

/// Index of `/var/log/pods` and `/var/log/containers`.
#[derive(Debug)]
pub struct PodDirectory {
    pods_dir: PathBuf,
    containers_dir: PathBuf,
    pods: HashMap<String, PodName>,
    /// Container id -> container name.
    containers: HashMap<String, String>,
    refreshed: Option<Instant>,
}

impl PodDirectory {
    pub fn new(pods_dir: PathBuf, containers_dir: PathBuf) -> Self {
        Self {
            pods_dir,
            containers_dir,
            pods: HashMap::new(),
            containers: HashMap::new(),
            refreshed: None,
        }
    }

    /// The pod with this uid, rescanning once if it is not known yet.
    pub fn pod(&mut self, uid: &str) -> Option<&PodName> {
        if !self.pods.contains_key(uid) {
            self.refresh_if_due();
        }
        self.pods.get(uid)
    }

    /// The container name of a container id in the pod with this uid.
    pub fn container_name(&mut self, uid: &str, container_id: &str) -> Option<String> {
        if !self.containers.contains_key(container_id) {
            self.refresh_if_due();
        }
        if let Some(name) = self.containers.get(container_id) {
            return Some(name.clone());
        }
        // Without the /var/log/containers links, a pod with one container
        // still says which it is.
        match self.pods.get(uid).map(|pod| pod.containers.as_slice()) {
            Some([only]) => Some(only.clone()),
            _ => None,
        }
    }

    fn refresh_if_due(&mut self) {
        if self
            .refreshed
            .is_some_and(|at| at.elapsed() < REFRESH_INTERVAL)
        {
            return;
        }
        self.refreshed = Some(Instant::now());
        self.pods = scan_pods(&self.pods_dir);
        self.containers = scan_containers(&self.containers_dir);
        tracing::debug!(
            pods = self.pods.len(),
            containers = self.containers.len(),
            "pod log directories indexed"
        );
    }
}

fn entry_names(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .take(MAX_ENTRIES)
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn scan_pods(dir: &std::path::Path) -> HashMap<String, PodName> {
    let mut pods = HashMap::new();
    for entry in entry_names(dir) {
        let Some((namespace, name, uid)) = split_pod_dir(&entry) else {
            continue;
        };
        let mut containers = entry_names(&dir.join(&entry));
        containers.sort();
        pods.insert(
            uid.to_string(),
            PodName {
                namespace: namespace.to_string(),
                name: name.to_string(),
                containers,
            },
        );
    }
    pods
}

fn scan_containers(dir: &std::path::Path) -> HashMap<String, String> {
    entry_names(dir)
        .iter()
        .filter_map(|entry| split_container_log(entry))
        .map(|(container, id)| (id.to_string(), container.to_string()))
        .collect()
}

/// `<namespace>_<pod>_<uid>`.
pub fn split_pod_dir(entry: &str) -> Option<(&str, &str, &str)> {
    let mut parts = entry.split('_');
    let (namespace, name, uid) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !namespace.is_empty() && !name.is_empty() && !uid.is_empty())
        .then_some((namespace, name, uid))
}

/// `<pod>_<namespace>_<container>-<64 hex id>.log` -> (container, id).
pub fn split_container_log(entry: &str) -> Option<(&str, &str)> {
    let stem = entry.strip_suffix(".log")?;
    let (rest, id) = stem.rsplit_once('-')?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut parts = rest.split('_');
    let (_pod, _namespace, container) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !container.is_empty()).then_some((container, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn names_split_as_the_kubelet_writes_them() {
        assert_eq!(
            split_pod_dir(
                "kube-system_coredns-5d78c9869d-abcde_5f3c9a4e-1b2d-4c8e-9f00-123456789abc"
            ),
            Some((
                "kube-system",
                "coredns-5d78c9869d-abcde",
                "5f3c9a4e-1b2d-4c8e-9f00-123456789abc"
            ))
        );
        assert_eq!(split_pod_dir("a_b"), None);
        assert_eq!(split_pod_dir("a_b_c_d"), None);
        assert_eq!(split_pod_dir("__"), None);
        let link = format!("web-7d4b9c-xk2lp_shop_nginx-proxy-{ID}.log");
        assert_eq!(split_container_log(&link), Some(("nginx-proxy", ID)));
        assert_eq!(
            split_container_log(&format!("a_b_c-{}.log", &ID[1..])),
            None
        );
        assert_eq!(split_container_log(&format!("a_b-{ID}.log")), None);
        assert_eq!(split_container_log("nothing"), None);
    }

    #[test]
    fn a_directory_tree_like_the_kubelets() {
        let root = std::env::temp_dir().join(format!("cipherlens-pods-{}", std::process::id()));
        let uid = "5f3c9a4e-1b2d-4c8e-9f00-123456789abc";
        let pod_dir = root.join("pods").join(format!("shop_web-1_{uid}"));
        for container in ["app", "sidecar"] {
            std::fs::create_dir_all(pod_dir.join(container)).expect("mkdir");
        }
        std::fs::create_dir_all(root.join("containers")).expect("mkdir");
        std::fs::write(
            root.join("containers")
                .join(format!("web-1_shop_sidecar-{ID}.log")),
            "",
        )
        .expect("link stand-in");
        let mut directory = PodDirectory::new(root.join("pods"), root.join("containers"));
        let pod = directory.pod(uid).expect("pod").clone();
        assert_eq!(
            (pod.namespace.as_str(), pod.name.as_str()),
            ("shop", "web-1")
        );
        assert_eq!(
            pod.containers,
            vec!["app".to_string(), "sidecar".to_string()]
        );
        assert_eq!(
            directory.container_name(uid, ID).as_deref(),
            Some("sidecar")
        );
        assert_eq!(
            directory.container_name(uid, &ID.replace('0', "f")),
            None,
            "two containers: unknown"
        );
        assert!(
            directory
                .pod("00000000-0000-0000-0000-000000000000")
                .is_none()
        );
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
