//! Community IDs of recent flows: a TLS session's record and its flow's
//! CNFlow record (and that flow's periodic updates) carry the same ID, and
//! its SHA-1 and base64 were a tenth of building the two records. Keyed by
//! the hash's input (seed, protocol, both endpoints), so a hit is exactly
//! what hashing would give; bounded by [`Generations`].

use std::net::IpAddr;

use crate::build::generations::{CacheStats, Generations};
use crate::flow::community_id::{CommunityIdInput, community_id_of};

/// Flows whose ID is kept, per generation.
pub const DEFAULT_GENERATION_CAPACITY: usize = 2048;

/// See the module documentation.
#[derive(Debug)]
pub struct CommunityIds {
    ids: Generations<u8, String>,
}

impl Default for CommunityIds {
    fn default() -> Self {
        Self::new(DEFAULT_GENERATION_CAPACITY)
    }
}

impl CommunityIds {
    /// At most `2 * generation_capacity` IDs (`0`: none, each computed).
    pub fn new(generation_capacity: usize) -> Self {
        Self {
            ids: Generations::new(generation_capacity),
        }
    }

    /// `crate::flow::community_id_v1` of the flow, from the cache or
    /// computed now.
    pub fn of(&mut self, seed: u16, protocol: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> String {
        let input = CommunityIdInput::new(seed, protocol, a, b);
        self.ids
            .get_or_insert_with(input.as_bytes(), || community_id_of(&input))
    }

    pub fn stats(&self) -> CacheStats {
        self.ids.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::community_id_v1;

    #[test]
    fn cached_ids_are_the_computed_ones_for_either_direction_and_seed() {
        let mut ids = CommunityIds::new(2);
        let flows: [((IpAddr, u16), (IpAddr, u16)); 3] = [
            (
                ("10.0.0.1".parse().unwrap(), 40000),
                ("10.0.0.2".parse().unwrap(), 443),
            ),
            (
                ("2001:db8::1".parse().unwrap(), 1),
                ("2001:db8::2".parse().unwrap(), 2),
            ),
            (
                ("::ffff:10.0.0.1".parse().unwrap(), 40000),
                ("10.0.0.2".parse().unwrap(), 443),
            ),
        ];
        for round in 0..3 {
            for (a, b) in flows {
                for seed in [0, 7] {
                    for protocol in [6, 17] {
                        let expected = community_id_v1(seed, protocol, a, b);
                        assert_eq!(ids.of(seed, protocol, a, b), expected, "round {round}");
                        assert_eq!(ids.of(seed, protocol, b, a), expected, "round {round}");
                    }
                }
            }
        }
        let stats = ids.stats();
        assert!(stats.hits > 0 && stats.generations_dropped > 0, "{stats:?}");
    }
}
