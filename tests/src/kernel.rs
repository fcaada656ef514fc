//! What the kernel says a process has attached, read from outside the
//! sensor: the BPF links and programs it holds (`/proc/<pid>/fdinfo`), the
//! links the kernel has at all (`bpftool link list`), and netlink TC filters
//! (`tc filter show`). The end-to-end tests compare the sensor's claims
//! (health, metrics, stats) with these.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::process::run;

/// A BPF link a process holds a descriptor of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLink {
    pub id: u64,
    /// `tcx`, `raw_tracepoint`, ...
    pub link_type: String,
    pub prog_id: u64,
    /// The interface of a TCX link.
    pub ifindex: Option<u32>,
    /// `ingress` or `egress` for a TCX link.
    pub hook: Option<String>,
}

/// The `key:\tvalue` lines of one fdinfo file.
fn fdinfo(pid: u32, fd: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// The process's descriptors whose target is `anon_inode:<kind>`.
fn anon_fds(pid: u32, kind: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let target = format!("anon_inode:{kind}");
    entries
        .flatten()
        .filter(|entry| {
            std::fs::read_link(entry.path()).is_ok_and(|link| link.as_os_str() == target.as_str())
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every BPF link `pid` holds (none once it has exited).
pub fn held_links(pid: u32) -> Vec<HeldLink> {
    let mut links: Vec<HeldLink> = anon_fds(pid, "bpf_link")
        .iter()
        .filter_map(|fd| {
            let fields = fdinfo(pid, fd);
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            Some(HeldLink {
                id: get("link_id")?.parse().ok()?,
                link_type: get("link_type")?.to_string(),
                prog_id: get("prog_id")?.parse().ok()?,
                ifindex: get("ifindex").and_then(|value| value.parse().ok()),
                // "46 (ingress)"
                hook: get("attach_type").and_then(|value| {
                    Some(value.split_once('(')?.1.trim_end_matches(')').to_string())
                }),
            })
        })
        .collect();
    links.sort_by_key(|link| link.id);
    links
}

/// Ids of the BPF programs `pid` holds descriptors of.
pub fn held_programs(pid: u32) -> BTreeSet<u64> {
    anon_fds(pid, "bpf-prog")
        .iter()
        .filter_map(|fd| {
            fdinfo(pid, fd)
                .into_iter()
                .find(|(key, _)| key == "prog_id")
                .and_then(|(_, value)| value.parse().ok())
        })
        .collect()
}

/// Ids of every BPF link the kernel has, whoever holds or pins it.
pub fn kernel_link_ids() -> BTreeSet<u64> {
    let links: Value =
        serde_json::from_str(&run("bpftool", &["-j", "link", "list"])).expect("bpftool json");
    links
        .as_array()
        .expect("link list")
        .iter()
        .filter_map(|link| link["id"].as_u64())
        .collect()
}

/// The kernel's index of a network interface, if it exists.
pub fn ifindex(interface: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/ifindex"))
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

/// A netlink (clsact) BPF filter on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetlinkFilter {
    /// `ingress` or `egress`.
    pub hook: String,
    /// The name the filter was attached under.
    pub name: String,
    pub prog_id: u64,
}

/// The BPF filters netlink shows on `interface`, ingress and egress.
pub fn netlink_filters(interface: &str) -> Vec<NetlinkFilter> {
    ["ingress", "egress"]
        .iter()
        .flat_map(|hook| {
            let listing: Value = serde_json::from_str(&run(
                "tc",
                &["-j", "filter", "show", "dev", interface, hook],
            ))
            .unwrap_or(Value::Array(Vec::new()));
            listing
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|filter| {
                    let options = &filter["options"];
                    Some(NetlinkFilter {
                        hook: (*hook).to_string(),
                        name: options["bpf_name"].as_str()?.to_string(),
                        prog_id: options["prog"]["id"].as_u64()?,
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The TC hooks of `interface` where programs of `pid` run, through TCX
/// links it holds or netlink filters running its programs; sorted, so a
/// sensor attached once shows `["egress", "ingress"]`.
pub fn tc_hooks(pid: u32, interface: &str) -> Vec<String> {
    let Some(index) = ifindex(interface) else {
        return Vec::new();
    };
    let programs = held_programs(pid);
    let mut hooks: Vec<String> = held_links(pid)
        .into_iter()
        .filter(|link| link.link_type == "tcx" && link.ifindex == Some(index))
        .filter_map(|link| link.hook)
        .chain(
            netlink_filters(interface)
                .into_iter()
                .filter(|filter| programs.contains(&filter.prog_id))
                .map(|filter| filter.hook),
        )
        .collect();
    hooks.sort();
    hooks
}

/// Attachments of `pid`'s programs the kernel has: the links it holds
/// (TCX, tracepoints) and the netlink filters on `interfaces` that run its
/// programs.
pub fn attachment_count(pid: u32, interfaces: &[&str]) -> usize {
    let programs = held_programs(pid);
    held_links(pid).len()
        + interfaces
            .iter()
            .flat_map(|interface| netlink_filters(interface))
            .filter(|filter| programs.contains(&filter.prog_id))
            .count()
}
