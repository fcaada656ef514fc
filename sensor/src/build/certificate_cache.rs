//! A bounded cache of certificate summaries, keyed by the certificate's DER.
//!
//! Why: a node sees the same few server certificates in most of its
//! handshakes (every client of a service gets the service's chain). Parsing
//! each one again, hashing it twice and rendering its names was the largest
//! single cost of building records (28% of replay time on the benchmark
//! capture). A summary depends only on the DER bytes, so it can be shared.
//! Bounded by entry count, in two generations (`super::generations`).

use std::sync::Arc;

use cipherlens_parsers::x509::{CertificateError, CertificateSummary, summarize_certificate};

use super::generations::{CacheStats, Generations};

/// A summary, or the parse error text, shared between records.
pub type CachedSummary = Result<Arc<CertificateSummary>, Arc<CertificateError>>;

/// Default entries per generation: a few thousand distinct certificates
/// at 1-2 KiB of DER each, a few MiB at most.
pub const DEFAULT_GENERATION_CAPACITY: usize = 2048;

/// See the module documentation.
#[derive(Debug)]
pub struct CertificateCache {
    summaries: Generations<u8, CachedSummary>,
}

impl Default for CertificateCache {
    fn default() -> Self {
        Self::new(DEFAULT_GENERATION_CAPACITY)
    }
}

impl CertificateCache {
    /// A cache holding at most `2 * generation_capacity` summaries
    /// (`0` disables caching: every lookup summarizes afresh).
    pub fn new(generation_capacity: usize) -> Self {
        Self {
            summaries: Generations::new(generation_capacity),
        }
    }

    /// The summary of `der`, from the cache or computed now.
    pub fn summarize(&mut self, der: &[u8]) -> CachedSummary {
        self.summaries.get_or_insert_with(der, || {
            summarize_certificate(der).map(Arc::new).map_err(Arc::new)
        })
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.summaries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.summaries.is_empty()
    }

    pub fn stats(&self) -> CacheStats {
        self.summaries.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/certs")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    fn fixture_ders() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/certs");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixtures/certs")
            .map(|entry| entry.expect("listing fixtures/certs").path())
            .filter(|path| path.extension().is_some_and(|e| e == "der"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| fixture(path.file_name().and_then(|n| n.to_str()).expect("name")))
            .collect()
    }

    #[test]
    fn cached_summaries_equal_fresh_ones_and_are_shared() {
        let ders = fixture_ders();
        assert!(ders.len() >= 3, "need several certificate fixtures");
        let mut cache = CertificateCache::new(16);
        for der in &ders {
            let first = cache.summarize(der).expect("fixture parses");
            let second = cache.summarize(der).expect("fixture parses");
            assert!(Arc::ptr_eq(&first, &second), "second lookup is a hit");
            assert_eq!(*first, summarize_certificate(der).expect("fixture parses"));
        }
        assert_eq!(cache.stats().misses, ders.len() as u64);
        assert_eq!(cache.stats().hits, ders.len() as u64);
    }

    #[test]
    fn the_bound_holds_and_recent_entries_survive() {
        let ders = fixture_ders();
        let mut cache = CertificateCache::new(2);
        for der in &ders {
            cache.summarize(der).expect("fixture parses");
            assert!(cache.len() <= 4);
        }
        let last = ders.last().expect("fixtures");
        let misses = cache.stats().misses;
        cache.summarize(last).expect("fixture parses");
        assert_eq!(cache.stats().misses, misses, "the newest entry is kept");
        assert!(cache.stats().generations_dropped > 0);
    }

    #[test]
    fn errors_are_cached_too_and_zero_capacity_disables_caching() {
        let mut cache = CertificateCache::new(4);
        let garbage = b"not a certificate".as_slice();
        let first = cache.summarize(garbage).expect_err("garbage");
        let second = cache.summarize(garbage).expect_err("garbage");
        assert_eq!(first, second);
        assert_eq!(cache.stats().hits, 1);

        let mut uncached = CertificateCache::new(0);
        uncached.summarize(garbage).expect_err("garbage");
        uncached.summarize(garbage).expect_err("garbage");
        assert_eq!(uncached.stats().misses, 2);
        assert!(uncached.is_empty());
    }
}
