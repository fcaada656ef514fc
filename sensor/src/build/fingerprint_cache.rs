//! Fingerprints of hellos, cached by the hello fields they are made from.
//!
//! Why: JA3 and JA3S are MD5 digests, and JA4 SHA-256 digests, of strings
//! rendered from a hello's lists; MD5 alone was 7% of building a TLS 1.3
//! record. A node's clients are a few programs sending the same hello over
//! and over, so the same inputs come again and again. The key is every
//! field a fingerprint reads, exactly (not a digest of them: a collision
//! would publish another client's fingerprint); bounded in two generations
//! (`super::generations`).

use std::sync::Arc;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_parsers::fingerprint::ja3::{self, Ja3};
use cipherlens_parsers::fingerprint::ja4::{self, Ja4, Ja4OriginalOrder};
use cipherlens_parsers::tls::{ClientHello, ServerHello};

use super::generations::{CacheStats, Generations};

/// Entries per generation: distinct hellos (client programs and versions,
/// server configurations) a node sees in a while.
pub const DEFAULT_GENERATION_CAPACITY: usize = 1024;

/// A ClientHello's fingerprints.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFingerprints {
    /// None for an SSLv2-format hello (as for JA4 forms).
    pub ja3: Option<Ja3>,
    pub ja4: Option<Ja4>,
    /// Only when the original-order forms were asked for.
    pub ja4_original: Option<Ja4OriginalOrder>,
}

impl ClientFingerprints {
    /// Computed, not cached.
    pub fn of(hello: &ClientHello, transport: Transport, original_order: bool) -> Self {
        let tls = !hello.sslv2_format;
        Self {
            ja3: ja3::ja3(hello),
            ja4: tls.then(|| ja4::ja4(hello, transport)),
            ja4_original: (tls && original_order)
                .then(|| ja4::ja4_original_order(hello, transport)),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct FingerprintCache {
    clients: Generations<u16, Arc<ClientFingerprints>>,
    servers: Generations<u16, Arc<Ja3>>,
    /// The key being built (reused).
    key: Vec<u16>,
}

impl Default for FingerprintCache {
    fn default() -> Self {
        Self::new(DEFAULT_GENERATION_CAPACITY)
    }
}

impl FingerprintCache {
    /// At most `2 * generation_capacity` hellos of each side (`0`: none).
    pub fn new(generation_capacity: usize) -> Self {
        Self {
            clients: Generations::new(generation_capacity),
            servers: Generations::new(generation_capacity),
            key: Vec::with_capacity(256),
        }
    }

    /// JA3, JA4 (and the original-order forms if asked) of a ClientHello.
    pub fn client(
        &mut self,
        hello: &ClientHello,
        transport: Transport,
        original_order: bool,
    ) -> Arc<ClientFingerprints> {
        client_key(&mut self.key, hello, transport, original_order);
        self.clients.get_or_insert_with(&self.key, || {
            Arc::new(ClientFingerprints::of(hello, transport, original_order))
        })
    }

    /// JA3S of a ServerHello (or a HelloRetryRequest).
    pub fn server(&mut self, hello: &ServerHello) -> Arc<Ja3> {
        let key = &mut self.key;
        key.clear();
        key.extend([hello.legacy_version, hello.cipher_suite]);
        key.extend(hello.extensions.iter().map(|e| e.extension_type));
        self.servers
            .get_or_insert_with(&self.key, || Arc::new(ja3::ja3s(hello)))
    }

    /// Client and server lookups together.
    pub fn stats(&self) -> CacheStats {
        let (clients, servers) = (self.clients.stats(), self.servers.stats());
        CacheStats {
            hits: clients.hits + servers.hits,
            misses: clients.misses + servers.misses,
            generations_dropped: clients.generations_dropped + servers.generations_dropped,
        }
    }
}

/// Every ClientHello field JA3 and JA4 read, each list after its length.
fn client_key(key: &mut Vec<u16>, hello: &ClientHello, transport: Transport, original: bool) {
    key.clear();
    let transport = match transport {
        Transport::Tcp => 0,
        Transport::Quic => 1,
        Transport::Dtls => 2,
    };
    key.extend([
        transport,
        u16::from(original),
        u16::from(hello.sslv2_format),
        hello.legacy_version,
    ]);
    push_list(key, hello.supported_versions.iter().copied());
    push_list(key, hello.cipher_suites.iter().copied());
    push_list(key, hello.extensions.iter().map(|e| e.extension_type));
    push_list(key, hello.supported_groups.iter().copied());
    push_list(key, hello.ec_point_formats.iter().map(|f| u16::from(*f)));
    push_list(key, hello.signature_algorithms.iter().copied());
    key.push(list_len(hello.alpn.len()));
    for protocol in &hello.alpn {
        push_list(key, protocol.iter().map(|byte| u16::from(*byte)));
    }
}

/// `values` after their count, so adjacent lists cannot run into each other.
fn push_list(key: &mut Vec<u16>, values: impl ExactSizeIterator<Item = u16>) {
    key.push(list_len(values.len()));
    key.extend(values);
}

/// Hello lists are bounded by 16-bit lengths on the wire.
fn list_len(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_parsers::tls::extensions::RawExtension;

    fn hello() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            supported_versions: vec![0x0304, 0x0303],
            cipher_suites: vec![0x1301, 0x1302, 0xc02f],
            extensions: [0, 10, 11, 13, 16, 43, 51]
                .into_iter()
                .map(|extension_type| RawExtension {
                    extension_type,
                    length: 0,
                })
                .collect(),
            supported_groups: vec![0x11ec, 29, 23],
            ec_point_formats: vec![0],
            signature_algorithms: vec![0x0403, 0x0804],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            ..ClientHello::default()
        }
    }

    /// Every field a fingerprint reads, changed one at a time: each change
    /// must miss the cache and give what a fresh computation gives.
    #[test]
    fn cached_fingerprints_are_those_computed_afresh_for_every_field() {
        type Change = fn(&mut ClientHello);
        let changes: [Change; 9] = [
            |h| h.legacy_version = 0x0301,
            |h| h.supported_versions.pop().map(drop).unwrap_or(()),
            |h| h.cipher_suites.swap(0, 1),
            |h| h.extensions.rotate_left(1),
            |h| h.supported_groups.push(24),
            |h| h.ec_point_formats.push(1),
            |h| h.signature_algorithms.push(0x0503),
            |h| h.alpn[0] = b"h3".to_vec(),
            |h| h.alpn.reverse(),
        ];
        let mut cache = FingerprintCache::new(64);
        let base = hello();
        let first = cache.client(&base, Transport::Tcp, false);
        assert_eq!(*first, ClientFingerprints::of(&base, Transport::Tcp, false));
        for (index, change) in changes.iter().enumerate() {
            let mut changed = hello();
            change(&mut changed);
            let misses = cache.stats().misses;
            let cached = cache.client(&changed, Transport::Tcp, false);
            assert_eq!(cache.stats().misses, misses + 1, "change {index} must miss");
            assert_eq!(
                *cached,
                ClientFingerprints::of(&changed, Transport::Tcp, false),
                "change {index}"
            );
        }
        // The transport and the original-order forms are part of the key.
        for (transport, original) in [(Transport::Quic, false), (Transport::Tcp, true)] {
            let cached = cache.client(&base, transport, original);
            assert_eq!(*cached, ClientFingerprints::of(&base, transport, original));
        }
        // The same hello again is a hit, shared.
        let again = cache.client(&base, Transport::Tcp, false);
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn server_fingerprints_follow_version_cipher_and_extensions() {
        let mut cache = FingerprintCache::new(8);
        let mut server = ServerHello {
            legacy_version: 0x0303,
            cipher_suite: 0x1301,
            extensions: [43, 51]
                .into_iter()
                .map(|extension_type| RawExtension {
                    extension_type,
                    length: 0,
                })
                .collect(),
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
