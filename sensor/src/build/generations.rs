//! A map bounded by entry count with two generations, for the build step's
//! caches (certificate summaries by DER, fingerprints by hello shape).
//!
//! Lookups hit the current or the previous generation (a hit in the
//! previous one is promoted); when the current generation is full it
//! becomes the previous one and the old previous generation is dropped.
//! That keeps what is in use, forgets what is not, and never holds more
//! than `2 * generation_capacity` entries. Keys come off the network, so
//! they are hashed with foldhash, randomly seeded (not predictable, and
//! much cheaper than SipHash over a few KiB).

use std::collections::HashMap;
use std::hash::Hash;

/// Lookups and what they found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Generations dropped to stay within the bound.
    pub generations_dropped: u64,
}

impl std::iter::Sum for CacheStats {
    fn sum<I: Iterator<Item = Self>>(stats: I) -> Self {
        stats.fold(Self::default(), |sum, one| Self {
            hits: sum.hits + one.hits,
            misses: sum.misses + one.misses,
            generations_dropped: sum.generations_dropped + one.generations_dropped,
        })
    }
}

type Generation<T, V> = HashMap<Box<[T]>, V, foldhash::fast::RandomState>;

/// See the module documentation.
#[derive(Debug)]
pub struct Generations<T, V> {
    current: Generation<T, V>,
    previous: Generation<T, V>,
    generation_capacity: usize,
    stats: CacheStats,
}

impl<T: Hash + Eq + Clone, V: Clone> Generations<T, V> {
    /// At most `2 * generation_capacity` entries (`0` disables caching:
    /// every lookup computes afresh).
    pub fn new(generation_capacity: usize) -> Self {
        Self {
            current: Generation::default(),
            previous: Generation::default(),
            generation_capacity,
            stats: CacheStats::default(),
        }
    }

    /// The value of `key`, from the cache or made now by `make`.
    pub fn get_or_insert_with(&mut self, key: &[T], make: impl FnOnce() -> V) -> V {
        match self.get(key) {
            Some(found) => found,
            None => {
                let value = make();
                self.remember(key, value.clone());
                value
            }
        }
    }

    /// The cached value of `key` (counted as a hit or a miss).
    pub fn get(&mut self, key: &[T]) -> Option<V> {
        if let Some(found) = self.current.get(key) {
            self.stats.hits += 1;
            return Some(found.clone());
        }
        if let Some((key, found)) = self.previous.remove_entry(key) {
            self.stats.hits += 1;
            self.insert(key, found.clone());
            return Some(found);
        }
        self.stats.misses += 1;
        None
    }

    /// Caches `value` for `key`, after [`Self::get`] missed it.
    pub fn remember(&mut self, key: &[T], value: V) {
        if self.generation_capacity > 0 {
            self.insert(key.into(), value);
        }
    }

    fn insert(&mut self, key: Box<[T]>, value: V) {
        if self.current.len() >= self.generation_capacity {
            self.previous = std::mem::take(&mut self.current);
            self.stats.generations_dropped += 1;
        }
        self.current.insert(key, value);
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }
}
