//! Fingerprints of hellos, cached by the hello fields they are made from.
//!
//! Why: JA3 and JA3S are MD5 digests, and JA4 SHA-256 digests, of strings
//! rendered from a hello's lists; MD5 alone was 7% of building a TLS 1.3
//! record. A node's clients are a few programs sending the same hello over
//! and over, so the same inputs come again and again. Each fingerprint has
//! its own cache, keyed on exactly the fields it reads and nothing else
//! (not a digest of them: a collision would publish another client's
//! fingerprint). That matters for browsers: Chrome shuffles its extensions
//! and picks fresh GREASE values on every connection, which changes JA3
//! (order-sensitive) but not JA4 (sorted lists, GREASE dropped), so JA4 is
//! keyed on the sorted, GREASE-free lists and still hits. A hello whose
//! JA4 shape is known but whose JA3 is not comes from such a client (or
//! one that changed a list JA4 leaves out): its JA3 is computed and not
//! cached, as that order will not come again and would only push other
//! clients' entries out. Every cache is bounded in two generations
//! (`super::generations`).

use std::sync::Arc;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_parsers::fingerprint::ja3::{self, Ja3};
use cipherlens_parsers::fingerprint::ja4::{self, Ja4, Ja4OriginalOrder};
use cipherlens_parsers::tls::names::is_grease;
use cipherlens_parsers::tls::{ClientHello, ServerHello};

use super::generations::{CacheStats, Generations};

/// Entries per generation: distinct hellos (client programs and versions,
/// server configurations) a node sees in a while.
pub const DEFAULT_GENERATION_CAPACITY: usize = 1024;

/// A ClientHello's fingerprints (shared with the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFingerprints {
    /// None for an SSLv2-format hello (neither reference computes one).
    pub ja3: Option<Arc<Ja3>>,
    /// None for an SSLv2-format hello (as for JA3).
    pub ja4: Option<Arc<Ja4>>,
    /// Only when the original-order forms were asked for.
    pub ja4_original: Option<Arc<Ja4OriginalOrder>>,
}

impl ClientFingerprints {
    /// Computed, not cached.
    pub fn of(hello: &ClientHello, transport: Transport, original_order: bool) -> Self {
        let tls = !hello.sslv2_format;
        Self {
            ja3: ja3::ja3(hello).map(Arc::new),
            ja4: tls.then(|| Arc::new(ja4::ja4(hello, transport))),
            ja4_original: (tls && original_order)
                .then(|| Arc::new(ja4::ja4_original_order(hello, transport))),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct FingerprintCache {
    ja3: Generations<u16, Option<Arc<Ja3>>>,
    ja4: Generations<u16, Arc<Ja4>>,
    ja4_original: Generations<u16, Arc<Ja4OriginalOrder>>,
    ja3s: Generations<u16, Arc<Ja3>>,
    /// The key being built (reused).
    key: Vec<u16>,
}

impl Default for FingerprintCache {
    fn default() -> Self {
        Self::new(DEFAULT_GENERATION_CAPACITY)
    }
}

impl FingerprintCache {
    /// At most `2 * generation_capacity` hellos per fingerprint (`0`: none).
    pub fn new(generation_capacity: usize) -> Self {
        Self {
            ja3: Generations::new(generation_capacity),
            ja4: Generations::new(generation_capacity),
            ja4_original: Generations::new(generation_capacity),
            ja3s: Generations::new(generation_capacity),
            key: Vec::with_capacity(256),
        }
    }

    /// JA3, JA4 (and the original-order forms if asked) of a ClientHello.
    pub fn client(
        &mut self,
        hello: &ClientHello,
        transport: Transport,
        original_order: bool,
    ) -> ClientFingerprints {
        let tls = !hello.sslv2_format;
        let mut shape_known = false;
        let ja4 = tls.then(|| {
            ja4_key(&mut self.key, hello, transport, Order::Sorted);
            if let Some(known) = self.ja4.get(&self.key) {
                shape_known = true;
                return known;
            }
            let ja4 = Arc::new(ja4::ja4(hello, transport));
            self.ja4.remember(&self.key, ja4.clone());
            ja4
        });
        ja3_key(&mut self.key, hello);
        let ja3 = self.ja3.get(&self.key).unwrap_or_else(|| {
            let ja3 = ja3::ja3(hello).map(Arc::new);
            if !shape_known {
                self.ja3.remember(&self.key, ja3.clone());
            }
            ja3
        });
        let ja4_original = (tls && original_order).then(|| {
            ja4_key(&mut self.key, hello, transport, Order::Wire);
            self.ja4_original.get_or_insert_with(&self.key, || {
                Arc::new(ja4::ja4_original_order(hello, transport))
            })
        });
        ClientFingerprints {
            ja3,
            ja4,
            ja4_original,
        }
    }

    /// JA3S of a ServerHello (or a HelloRetryRequest).
    pub fn server(&mut self, hello: &ServerHello) -> Arc<Ja3> {
        let key = &mut self.key;
        key.clear();
        key.extend([hello.legacy_version, hello.cipher_suite]);
        key.extend(hello.extensions.iter().map(|e| e.extension_type));
        self.ja3s
            .get_or_insert_with(&self.key, || Arc::new(ja3::ja3s(hello)))
    }

    /// Every fingerprint's lookups together.
    pub fn stats(&self) -> CacheStats {
        [
            self.ja3.stats(),
            self.ja4.stats(),
            self.ja4_original.stats(),
            self.ja3s.stats(),
        ]
        .into_iter()
        .sum()
    }
}

/// What JA3 reads: the SSLv2 flag, the hello's version, ciphers, extension
/// types and groups without GREASE, point formats; each list in wire order.
fn ja3_key(key: &mut Vec<u16>, hello: &ClientHello) {
    key.clear();
    key.extend([u16::from(hello.sslv2_format), hello.legacy_version]);
    push_list(key, without_grease(&hello.cipher_suites));
    push_list(key, without_grease(extension_types(hello)));
    push_list(key, without_grease(&hello.supported_groups));
    push_list(key, hello.ec_point_formats.iter().map(|f| u16::from(*f)));
}

/// How a JA4 key holds the cipher and extension lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Sorted, as JA4 hashes them (its count and SNI letter come from the
    /// same set).
    Sorted,
    /// As on the wire, for the original-order forms.
    Wire,
}

/// What JA4 reads: the transport, the highest offered version, ciphers and
/// extension types (GREASE dropped; sorted unless `order` is `Wire`),
/// signature algorithms in wire order without GREASE, the first ALPN
/// protocol.
fn ja4_key(key: &mut Vec<u16>, hello: &ClientHello, transport: Transport, order: Order) {
    key.clear();
    let transport = match transport {
        Transport::Tcp => 0,
        Transport::Quic => 1,
        Transport::Dtls => 2,
    };
    key.extend([transport, hello.highest_offered_version()]);
    push_ordered_list(key, without_grease(&hello.cipher_suites), order);
    push_ordered_list(key, without_grease(extension_types(hello)), order);
    push_list(key, without_grease(&hello.signature_algorithms));
    let first_alpn = hello.alpn.first().map(Vec::as_slice).unwrap_or_default();
    push_list(key, first_alpn.iter().map(|byte| u16::from(*byte)));
}

fn extension_types(hello: &ClientHello) -> impl Iterator<Item = &u16> {
    hello.extensions.iter().map(|e| &e.extension_type)
}

fn without_grease<'a>(values: impl IntoIterator<Item = &'a u16>) -> impl Iterator<Item = u16> {
    values
        .into_iter()
        .copied()
        .filter(|value| !is_grease(*value))
}

/// `values` after their count, so adjacent lists cannot run into each other.
fn push_list(key: &mut Vec<u16>, values: impl Iterator<Item = u16>) {
    let count_at = key.len();
    key.push(0);
    key.extend(values);
    let count = list_len(key.len() - count_at - 1);
    if let Some(slot) = key.get_mut(count_at) {
        *slot = count;
    }
}

/// Like [`push_list`], the values sorted when `order` says so.
fn push_ordered_list(key: &mut Vec<u16>, values: impl Iterator<Item = u16>, order: Order) {
    let start = key.len() + 1;
    push_list(key, values);
    if let (Order::Sorted, Some(values)) = (order, key.get_mut(start..)) {
        values.sort_unstable();
    }
}

/// Hello lists are bounded by 16-bit lengths on the wire.
fn list_len(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_parsers::tls::extensions::RawExtension;

    /// Extensions of the given types (their bodies are not read here).
    fn extensions(types: impl IntoIterator<Item = u16>) -> Vec<RawExtension> {
        types
            .into_iter()
            .map(|extension_type| RawExtension {
                extension_type,
                length: 0,
            })
            .collect()
    }

    fn hello() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            supported_versions: [0x0304, 0x0303].into_iter().collect(),
            cipher_suites: vec![0x1301, 0x1302, 0xc02f],
            extensions: extensions([0, 10, 11, 13, 16, 43, 51]),
            supported_groups: vec![0x11ec, 29, 23],
            ec_point_formats: [0].into_iter().collect(),
            signature_algorithms: vec![0x0403, 0x0804],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            ..ClientHello::default()
        }
    }

    /// Every field a fingerprint reads, changed one at a time: each change
    /// must miss a cache and give what a fresh computation gives.
    #[test]
    fn cached_fingerprints_are_those_computed_afresh_for_every_field() {
        type Change = fn(&mut ClientHello);
        let changes: [Change; 11] = [
            |h| h.legacy_version = 0x0301,
            |h| h.supported_versions = [0x0303].into_iter().collect(),
            |h| h.cipher_suites.swap(0, 1),
            |h| h.cipher_suites.push(0x009c),
            |h| h.extensions.rotate_left(1),
            |h| h.extensions.truncate(3),
            |h| h.supported_groups.push(24),
            |h| h.ec_point_formats.push(1),
            |h| h.signature_algorithms.reverse(),
            |h| h.alpn[0] = b"h3".to_vec(),
            |h| h.sslv2_format = true,
        ];
        let mut cache = FingerprintCache::new(64);
        let base = hello();
        let first = cache.client(&base, Transport::Tcp, false);
        assert_eq!(first, ClientFingerprints::of(&base, Transport::Tcp, false));
        for (index, change) in changes.iter().enumerate() {
            let mut changed = hello();
            change(&mut changed);
            let misses = cache.stats().misses;
            let cached = cache.client(&changed, Transport::Tcp, false);
            assert!(cache.stats().misses > misses, "change {index} must miss");
            assert_eq!(
                cached,
                ClientFingerprints::of(&changed, Transport::Tcp, false),
                "change {index}"
            );
        }
        // The transport and the original-order forms are part of the key.
        for (transport, original) in [(Transport::Quic, false), (Transport::Tcp, true)] {
            let cached = cache.client(&base, transport, original);
            assert_eq!(cached, ClientFingerprints::of(&base, transport, original));
        }
        // The same hello again is a hit, shared.
        let again = cache.client(&base, Transport::Tcp, false);
        let (Some(first), Some(again)) = (&first.ja4, &again.ja4) else {
            panic!("a TLS hello has a JA4");
        };
        assert!(Arc::ptr_eq(first, again));
    }

    /// A browser's next connection: extensions shuffled, fresh GREASE
    /// values. JA4 is the same fingerprint and comes from the cache; JA3
    /// is order-sensitive and is computed for the new order.
    #[test]
    fn shuffled_extensions_and_new_grease_still_hit_for_ja4() {
        let mut cache = FingerprintCache::new(64);
        let mut chrome = hello();
        chrome.cipher_suites.insert(0, 0x0a0a);
        chrome.extensions.splice(0..0, extensions([0x1a1a]));
        let first = cache.client(&chrome, Transport::Tcp, false);
        let mut next = chrome.clone();
        next.cipher_suites[0] = 0x5a5a;
        next.extensions[0].extension_type = 0x8a8a;
        next.extensions.reverse();
        let hits = cache.stats().hits;
        let second = cache.client(&next, Transport::Tcp, false);
        assert_eq!(second, ClientFingerprints::of(&next, Transport::Tcp, false));
        assert_eq!(cache.stats().hits, hits + 1, "JA4 hits, JA3 misses");
        let (Some(a), Some(b)) = (&first.ja4, &second.ja4) else {
            panic!("a TLS hello has a JA4");
        };
        assert!(Arc::ptr_eq(a, b));
        assert_ne!(first.ja3, second.ja3, "JA3 follows the wire order");
        // New GREASE alone, same order: JA3 hits too.
        let mut regreased = chrome.clone();
        regreased.cipher_suites[0] = 0xfafa;
        let hits = cache.stats().hits;
        assert_eq!(cache.client(&regreased, Transport::Tcp, false), first);
        assert_eq!(cache.stats().hits, hits + 2);
    }

    /// A client that shuffles its extensions on every connection: each
    /// JA3 is the one computed afresh for its order, and after the first
    /// connection none is cached (each order is new, and would evict
    /// other clients' entries), while a client that keeps its order is
    /// served from the cache.
    #[test]
    fn a_shuffling_client_does_not_fill_the_ja3_cache() {
        let mut cache = FingerprintCache::new(64);
        let mut shuffled = hello();
        for round in 0..40 {
            shuffled.extensions.rotate_left(1 + round % 3);
            shuffled.extensions.swap(0, round % 7);
            assert_eq!(
                cache.client(&shuffled, Transport::Tcp, false),
                ClientFingerprints::of(&shuffled, Transport::Tcp, false),
                "round {round}"
            );
            assert_eq!(cache.ja3.len(), 1, "round {round}");
        }
        let steady = ClientHello {
            cipher_suites: vec![0x1301],
            ..hello()
        };
        cache.client(&steady, Transport::Tcp, false);
        let hits = cache.stats().hits;
        assert_eq!(
            cache.client(&steady, Transport::Tcp, false),
            ClientFingerprints::of(&steady, Transport::Tcp, false)
        );
        assert_eq!(cache.stats().hits, hits + 2, "JA3 and JA4 both hit");
        assert_eq!(cache.ja3.len(), 2);
    }

    /// Many random hellos drawn from small pools, so that keys meet often:
    /// whatever the cache answers must be what a fresh computation gives.
    /// A key that left out a field a fingerprint reads would fail here.
    #[test]
    fn random_hellos_through_the_cache_match_fresh_computation() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let pick = |next: &mut dyn FnMut(u64) -> u64, pool: &[u16], most: u64| -> Vec<u16> {
            (0..next(most + 1))
                .map(|_| pool[next(pool.len() as u64) as usize])
                .collect()
        };
        let mut cache = FingerprintCache::new(256);
        for _ in 0..5_000 {
            let types = pick(&mut next, &[0, 16, 43, 0x2a2a], 3);
            let hello = ClientHello {
                legacy_version: [0x0301, 0x0303][next(2) as usize],
                supported_versions: pick(&mut next, &[0x0304, 0x7a7a], 1).into(),
                cipher_suites: pick(&mut next, &[0x1301, 0xc02f, 0x0a0a], 2),
                extensions: extensions(types),
                supported_groups: pick(&mut next, &[29, 0x4a4a], 1),
                ec_point_formats: [vec![], vec![0], vec![0, 1]][next(3) as usize]
                    .clone()
                    .into(),
                signature_algorithms: pick(&mut next, &[0x0403, 0x3a3a], 1),
                alpn: [
                    vec![],
                    vec![b"h2".to_vec()],
                    vec![b"h2".to_vec(), b"x".to_vec()],
                ][next(3) as usize]
                    .clone(),
                sslv2_format: next(8) == 0,
                ..ClientHello::default()
            };
            let transport = [Transport::Tcp, Transport::Quic][next(2) as usize];
            let original = next(2) == 0;
            assert_eq!(
                cache.client(&hello, transport, original),
                ClientFingerprints::of(&hello, transport, original),
                "{hello:?} {transport:?} original={original}"
            );
        }
        let stats = cache.stats();
        assert!(stats.hits > 2_000 && stats.misses > 2_000, "{stats:?}");
    }

    #[test]
    fn server_fingerprints_follow_version_cipher_and_extensions() {
        let mut cache = FingerprintCache::new(8);
        let mut server = ServerHello {
            legacy_version: 0x0303,
            cipher_suite: 0x1301,
            extensions: extensions([43, 51]),
            ..ServerHello::default()
        };
        assert_eq!(*cache.server(&server), ja3::ja3s(&server));
        server.cipher_suite = 0x1302;
        assert_eq!(*cache.server(&server), ja3::ja3s(&server));
        server.extensions.reverse();
        assert_eq!(*cache.server(&server), ja3::ja3s(&server));
        assert_eq!(cache.stats().misses, 3);
        assert_eq!(*cache.server(&server), ja3::ja3s(&server));
        assert_eq!(cache.stats().hits, 1);
    }
}
