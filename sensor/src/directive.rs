//! Directives inside the sensor: handing a parsed directive to the live
//! loop, replies, and the per-flow sampling decision.
//!
//! What a directive is and how it is parsed and checked is
//! `cipherlens_control::directive`; this module holds what needs the
//! kernel's flow key or the runtime.

use cipherlens_control::directive::Directive;

/// A refusal as a reply.
pub fn error_reply(error: &impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({ "ok": false, "error": error.to_string() })
}

/// Whether a flow is in a sample of `rate`: a hash of its (direction-free)
/// identity against the rate, so a flow is either always in or always out.
pub fn sampled(flow_hash: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    // Top 53 bits as a fraction in [0, 1).
    let fraction = (flow_hash >> 11) as f64 / (1u64 << 53) as f64;
    fraction < rate
}

/// A stable 64-bit hash of a flow's direction-free identity (FNV-1a, then
/// the SplitMix64 finalizer to spread it): the same on every node and run.
pub fn flow_hash(key: &cipherlens_common::FlowKey) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = key
        .low_address
        .iter()
        .chain(&key.high_address)
        .copied()
        .chain(key.low_port.to_be_bytes())
        .chain(key.high_port.to_be_bytes())
        .chain([key.protocol]);
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// A parsed directive waiting for the live loop, and where its reply goes.
#[derive(Debug)]
pub struct DirectiveRequest {
    pub directive: Directive,
    pub respond: tokio::sync::oneshot::Sender<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_about_the_rate_and_is_stable_per_flow() {
        let hashes: Vec<u64> = (0..100_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let kept = hashes.iter().filter(|h| sampled(**h, 0.25)).count();
        assert!((23_000..27_000).contains(&kept), "{kept}");
        assert!(hashes.iter().all(|h| sampled(*h, 1.0)));
        assert!(!hashes.iter().any(|h| sampled(*h, 0.0)));
        // Raising the rate only adds flows: one in at 0.25 stays in at 0.5.
        assert!(
            hashes
                .iter()
                .filter(|h| sampled(**h, 0.25))
                .all(|h| sampled(*h, 0.5))
        );
    }

    #[test]
    fn a_flow_hashes_alike_in_both_directions_and_on_every_node() {
        let mapped = |a: [u8; 4]| {
            let mut address = [0u8; 16];
            address[10..12].copy_from_slice(&[0xff, 0xff]);
            address[12..].copy_from_slice(&a);
            address
        };
        let (client, server) = (mapped([10, 0, 0, 1]), mapped([10, 0, 0, 2]));
        let outbound = cipherlens_common::FlowKey::new(
            cipherlens_common::IPPROTO_TCP,
            client,
            51000,
            server,
            443,
        );
        let inbound = cipherlens_common::FlowKey::new(
            cipherlens_common::IPPROTO_TCP,
            server,
            443,
            client,
            51000,
        );
        assert_eq!(flow_hash(&outbound), flow_hash(&inbound));
        // FNV-1a 64 over the key's bytes, then SplitMix64's finalizer,
        // computed independently (a few lines of Python from the two
        // algorithms' published constants): every node agrees on it.
        assert_eq!(flow_hash(&outbound), 0x2d03_9c7d_aefa_02a1);
    }
}
