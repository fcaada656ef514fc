//! Refuse to start without the capabilities live capture needs, and say
//! which one is missing (instead of an opaque EPERM from the first bpf call).

/// Capabilities needed to load and attach TC programs and read ring buffers.
const NEEDED: [(u32, &str); 3] = [(39, "CAP_BPF"), (38, "CAP_PERFMON"), (12, "CAP_NET_ADMIN")];
/// CAP_SYS_ADMIN covers CAP_BPF and CAP_PERFMON on kernels that have them.
const CAP_SYS_ADMIN: u32 = 21;

/// The effective capability mask of this process (`CapEff` in /proc/self/status).
pub fn effective_capabilities() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_cap_eff(&status)
        .ok_or_else(|| std::io::Error::other("no CapEff line in /proc/self/status"))
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("CapEff:"))?;
    u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
}

/// Names of the needed capabilities missing from `effective`.
pub fn missing_capabilities(effective: u64) -> Vec<&'static str> {
    let has = |bit: u32| effective & (1u64 << bit) != 0;
    NEEDED
        .iter()
        .filter(|(bit, name)| {
            let covered_by_sys_admin = *name != "CAP_NET_ADMIN" && has(CAP_SYS_ADMIN);
            !has(*bit) && !covered_by_sys_admin
        })
        .map(|(_, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_is_missing() {
        let status = "Name:\tx\nCapEff:\t0000000000001000\n";
        let effective = parse_cap_eff(status).expect("CapEff");
        assert_eq!(effective, 1 << 12);
        assert_eq!(
            missing_capabilities(effective),
            vec!["CAP_BPF", "CAP_PERFMON"]
        );
        assert_eq!(
            missing_capabilities(0),
            vec!["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"]
        );
        assert!(missing_capabilities((1 << 21) | (1 << 12)).is_empty());
        assert!(missing_capabilities((1 << 39) | (1 << 38) | (1 << 12)).is_empty());
        // Full root mask.
        assert!(missing_capabilities(0x000001ffffffffff).is_empty());
    }
}
