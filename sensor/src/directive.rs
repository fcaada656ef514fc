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
        assert_eq!(sampled(hashes[7], 0.5), sampled(hashes[7], 0.5));
    }
}
