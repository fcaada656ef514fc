//! Container and pod identity from a process's cgroup paths.
//!
//! Every container runtime puts a container's processes in a cgroup whose
//! path names the container id, and the kubelet puts a pod's containers
//! under a cgroup named after the pod uid. The layouts differ by runtime and
//! cgroup driver (systemd or cgroupfs), and cgroup v1 repeats them once per
//! controller hierarchy. Known layouts:
//!
//! | runtime | systemd driver | cgroupfs driver |
//! | --- | --- | --- |
//! | docker | `/system.slice/docker-<id>.scope` | `/docker/<id>` |
//! | containerd (Kubernetes) | `.../kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope` | `/kubepods/<qos>/pod<uid>/<id>` |
//! | CRI-O | `.../kubepods-<qos>-pod<uid_>.slice/crio-<id>.scope` | `/kubepods/<qos>/pod<uid>/crio-<id>` |
//! | podman | `/machine.slice/libpod-<id>.scope` (also under `user@N.service`) | `/libpod_parent/libpod-<id>` |
//!
//! `<id>` is 64 lowercase hex digits. In the systemd layout the pod uid's
//! dashes are underscores (systemd unit names reserve `-`); it is given back
//! with dashes. Runtime helper processes (`crio-conmon-<id>`,
//! `libpod-conmon-<id>`) are not the container and are not reported as it.

pub use cipherlens_record::attribution::Runtime;

/// What a cgroup path says about its processes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupIdentity {
    /// Container id and runtime, when the path names a container.
    pub container: Option<(String, Option<Runtime>)>,
    /// Kubernetes pod uid (with dashes), when under a pod's cgroup.
    pub pod_uid: Option<String>,
}

const CONTAINER_ID_LEN: usize = 64;

/// Reads a cgroup path (one line's path of `/proc/PID/cgroup`).
pub fn identify(path: &str) -> CgroupIdentity {
    let mut identity = CgroupIdentity::default();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if let Some(uid) = pod_uid(component) {
            identity.pod_uid = Some(uid);
        }
        if let Some(container) = container(component, identity.pod_uid.is_some(), path) {
            identity.container = Some(container);
        }
    }
    identity
}

/// The identity from the whole of `/proc/PID/cgroup`: the unified (v2) line
/// if it names a container or pod, else the first v1 hierarchy that does.
pub fn identify_process(proc_cgroup: &str) -> CgroupIdentity {
    let mut fallback = CgroupIdentity::default();
    for line in proc_cgroup.lines() {
        // `hierarchy-id:controllers:path`; the path may contain ':'.
        let mut fields = line.splitn(3, ':');
        let (Some(hierarchy), Some(_controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let identity = identify(path);
        if identity == CgroupIdentity::default() {
            continue;
        }
        if hierarchy == "0" {
            return identity;
        }
        if fallback == CgroupIdentity::default() {
            fallback = identity;
        }
    }
    fallback
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_>.slice` /
/// `kubepods-pod<uid_>.slice` (systemd).
fn pod_uid(component: &str) -> Option<String> {
    let candidate = if let Some(rest) = component.strip_suffix(".slice") {
        rest.rsplit_once("-pod")?.1
    } else {
        component.strip_prefix("pod")?
    };
    let uid = candidate.replace('_', "-");
    is_uuid(&uid).then_some(uid)
}

fn container(component: &str, under_pod: bool, path: &str) -> Option<(String, Option<Runtime>)> {
    let unit = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
        ("libpod-", Runtime::Podman),
    ] {
        if let Some(id) = unit.strip_prefix(prefix) {
            // `crio-conmon-<id>` / `libpod-conmon-<id>` fail the id check.
            return is_container_id(id).then(|| (id.to_string(), Some(runtime)));
        }
    }
    if !is_container_id(component) {
        return None;
    }
    // A bare id: its parent says whose. Under a pod it is the kubelet's
    // cgroupfs layout, whose runtime the path does not name.
    let runtime = if under_pod {
        None
    } else if path.contains("/docker/") {
        Some(Runtime::Docker)
    } else {
        None
    };
    Some((component.to_string(), runtime))
}

fn is_container_id(text: &str) -> bool {
    text.len() == CONTAINER_ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const UID: &str = "5f3c9a4e-1b2d-4c8e-9f00-123456789abc";
    const UID_: &str = "5f3c9a4e_1b2d_4c8e_9f00_123456789abc";

    fn container_of(path: &str) -> Option<(String, Option<Runtime>)> {
        identify(path).container
    }

    #[test]
    fn runtimes_and_drivers() {
        let cases = [
            (
                format!("/system.slice/docker-{ID}.scope"),
                Some(Runtime::Docker),
                None,
            ),
            (format!("/docker/{ID}"), Some(Runtime::Docker), None),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{ID}.scope"
                ),
                Some(Runtime::Containerd),
                Some(UID),
            ),
            (
                format!("/kubepods.slice/kubepods-pod{UID_}.slice/crio-{ID}.scope"),
                Some(Runtime::Crio),
                Some(UID),
            ),
            (
                format!("/kubepods/besteffort/pod{UID}/{ID}"),
                None,
                Some(UID),
            ),
            (
                format!("/kubepods/pod{UID}/crio-{ID}"),
                Some(Runtime::Crio),
                Some(UID),
            ),
            (
                format!("/machine.slice/libpod-{ID}.scope"),
                Some(Runtime::Podman),
                None,
            ),
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
                ),
                Some(Runtime::Podman),
                None,
            ),
            (
                format!("/libpod_parent/libpod-{ID}"),
                Some(Runtime::Podman),
                None,
            ),
        ];
        for (path, runtime, uid) in cases {
            let identity = identify(&path);
            assert_eq!(
                identity.container,
                Some((ID.to_string(), runtime)),
                "{path}"
            );
            assert_eq!(identity.pod_uid.as_deref(), uid, "{path}");
        }
    }

    #[test]
    fn helpers_hosts_and_lookalikes_are_not_containers() {
        for path in [
            "/".to_string(),
            "/user.slice/user-0.slice/session-3.scope".to_string(),
            "/system.slice/containerd.service".to_string(),
            format!("/kubepods.slice/kubepods-pod{UID_}.slice/crio-conmon-{ID}.scope"),
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            format!("/docker/{}", &ID[..63]),
            format!("/docker/{}", ID.to_uppercase()),
        ] {
            assert_eq!(container_of(&path), None, "{path}");
        }
        // A pod's own cgroup (no container yet) still names the pod.
        let pod = identify(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice"
        ));
        assert_eq!((pod.container, pod.pod_uid.as_deref()), (None, Some(UID)));
        assert_eq!(identify("/kubepods/podnot-a-uid").pod_uid, None);
    }

    #[test]
    fn proc_cgroup_prefers_the_unified_line_and_falls_back_to_v1() {
        let hybrid = format!(
            "12:pids:/docker/{ID}\n4:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"
        );
        assert_eq!(
            identify_process(&hybrid).container,
            Some((ID.to_string(), Some(Runtime::Docker)))
        );
        let unified =
            format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope\n");
        let identity = identify_process(&unified);
        assert_eq!(identity.pod_uid.as_deref(), Some(UID));
        assert_eq!(
            identity.container,
            Some((ID.to_string(), Some(Runtime::Containerd)))
        );
        // Garbage lines are skipped, not trusted.
        assert_eq!(
            identify_process("nonsense\n::\n7\n"),
            CgroupIdentity::default()
        );
    }
}
