//! Alert deduplication: one alert per (rule, server endpoint, client
//! workload) per window, with a count, so a busy service does not raise an
//! alert per handshake.
//!
//! The key is the rule, the server's address, port and requested name
//! (SNI), and the client's workload: its container id, else its pod uid,
//! else its executable, else its address. Time is the session's time,
//! passed in by the caller, never the wall clock, so a replay makes the
//! same alerts as the live sensor did.
//!
//! For each finding [`Deduplicator::observe`] says: publish (the first in a
//! window, or the first after the window ran out, counting the repeats
//! suppressed since the last publication), or suppress (and count it). A
//! published count therefore covers every session since the previous
//! alert for the key, and the counts of a key's alerts add up to its
//! sessions. [`Deduplicator::expire`] forgets keys whose window ran out and
//! returns those with repeats not yet published, for the caller to report
//! (at shutdown, or on a timer).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use cipherlens_record::SessionRecord;

use crate::rules::RuleId;
use crate::time::Timestamp;

/// Who the client is, in the order of preference of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload<'a> {
    /// `container.id`.
    Container(&'a str),
    /// `k8s.pod.uid`.
    Pod(&'a str),
    /// `process.executable.path`, else its `name`.
    Executable(&'a str),
    /// `client.address`.
    Address(&'a str),
}

impl<'a> Workload<'a> {
    /// The client workload of a session.
    pub fn of_client(record: &'a SessionRecord) -> Self {
        let client = &record.client;
        let attribution = &client.attribution;
        if let Some(container) = &attribution.container {
            return Workload::Container(&container.id);
        }
        if let Some(k8s) = &attribution.k8s {
            return Workload::Pod(&k8s.pod.uid);
        }
        let executable = attribution
            .process
            .as_ref()
            .and_then(|process| process.executable.as_ref())
            .and_then(|executable| executable.path.as_deref().or(executable.name.as_deref()));
        match executable {
            Some(executable) => Workload::Executable(executable),
            None => Workload::Address(&client.address),
        }
    }

    fn parts(self) -> (u8, &'a str) {
        match self {
            Workload::Container(id) => (0, id),
            Workload::Pod(uid) => (1, uid),
            Workload::Executable(path) => (2, path),
            Workload::Address(address) => (3, address),
        }
    }
}

/// What alerts are deduplicated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupKey<'a> {
    pub rule: RuleId,
    pub server_address: &'a str,
    pub server_port: u16,
    pub server_name: Option<&'a str>,
    pub workload: Workload<'a>,
}

impl<'a> DedupKey<'a> {
    /// The key of a finding of `rule` on `record`.
    pub fn new(rule: RuleId, record: &'a SessionRecord) -> Self {
        DedupKey {
            rule,
            server_address: &record.server.address,
            server_port: record.server.port,
            server_name: record.tls.client.server_name.as_deref(),
            workload: Workload::of_client(record),
        }
    }

    fn hash_value(&self) -> u64 {
        // Fixed keys: the same key hashes the same in every process.
        let mut hasher = DefaultHasher::new();
        let (kind, workload) = self.workload.parts();
        (self.rule, self.server_address, self.server_port).hash(&mut hasher);
        (self.server_name, kind, workload).hash(&mut hasher);
        hasher.finish()
    }
}

/// A key as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedKey {
    pub rule: RuleId,
    pub server_address: Box<str>,
    pub server_port: u16,
    pub server_name: Option<Box<str>>,
    /// 0 container id, 1 pod uid, 2 executable, 3 client address.
    workload_kind: u8,
    pub workload: Box<str>,
}

impl OwnedKey {
    /// The stored form of `key`.
    pub fn from_key(key: &DedupKey<'_>) -> Self {
        let (workload_kind, workload) = key.workload.parts();
        OwnedKey {
            rule: key.rule,
            server_address: key.server_address.into(),
            server_port: key.server_port,
            server_name: key.server_name.map(Into::into),
            workload_kind,
            workload: workload.into(),
        }
    }

    fn matches(&self, key: &DedupKey<'_>) -> bool {
        let (kind, workload) = key.workload.parts();
        self.rule == key.rule
            && self.server_port == key.server_port
            && *self.server_address == *key.server_address
            && self.server_name.as_deref() == key.server_name
            && self.workload_kind == kind
            && *self.workload == *workload
    }

    /// The client workload as a borrowed [`Workload`].
    pub fn workload(&self) -> Workload<'_> {
        match self.workload_kind {
            0 => Workload::Container(&self.workload),
            1 => Workload::Pod(&self.workload),
            2 => Workload::Executable(&self.workload),
            _ => Workload::Address(&self.workload),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: OwnedKey,
    /// When the last alert for the key was published.
    window_start: Timestamp,
    /// Sessions since then.
    suppressed: u64,
    first_suppressed: Timestamp,
    last_suppressed: Timestamp,
}

/// Publish an alert now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// Sessions this alert stands for: this one and the repeats suppressed
    /// since the key's previous alert.
    pub count: u64,
    /// Time of the first of them.
    pub first_seen: Timestamp,
    /// Time of this session.
    pub last_seen: Timestamp,
}

/// What to do with one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Publish(Publish),
    /// A repeat within the window: counted, not published.
    Suppress,
}

/// A key whose window ran out with repeats that were not published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub key: OwnedKey,
    /// Suppressed sessions since the key's last alert.
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// Keys kept at most by default; a new key beyond it is published and not
/// remembered (so nothing is lost, only not deduplicated).
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The deduplication state.
#[derive(Debug, Clone)]
pub struct Deduplicator {
    window: Duration,
    max_keys: usize,
    buckets: HashMap<u64, Vec<Entry>>,
    keys: usize,
    untracked: u64,
}

impl Deduplicator {
    pub fn new(window: Duration) -> Self {
        Deduplicator {
            window,
            max_keys: DEFAULT_MAX_KEYS,
            buckets: HashMap::new(),
            keys: 0,
            untracked: 0,
        }
    }

    /// At most `max_keys` keys are remembered.
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Changes the window (on policy reload); the state is kept.
    pub fn set_window(&mut self, window: Duration) {
        self.window = window;
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Findings published without being remembered because the key limit
    /// was reached.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Decides on one finding with `key` seen at session time `time`.
    pub fn observe(&mut self, key: &DedupKey<'_>, time: Timestamp) -> Decision {
        let window = self.window;
        let hash = key.hash_value();
        let existing = self
            .buckets
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|entry| entry.key.matches(key)));
        if let Some(entry) = existing {
            if time < entry.window_start.saturating_add(window) {
                if entry.suppressed == 0 {
                    entry.first_suppressed = time;
                    entry.last_suppressed = time;
                } else {
                    entry.first_suppressed = entry.first_suppressed.min(time);
                    entry.last_suppressed = entry.last_suppressed.max(time);
                }
                entry.suppressed += 1;
                return Decision::Suppress;
            }
            let publish = Publish {
                count: entry.suppressed + 1,
                first_seen: if entry.suppressed > 0 {
                    entry.first_suppressed.min(time)
                } else {
                    time
                },
                last_seen: time,
            };
            entry.window_start = time;
            entry.suppressed = 0;
            return Decision::Publish(publish);
        }
        if self.keys >= self.max_keys {
            self.untracked += 1;
        } else {
            self.buckets.entry(hash).or_default().push(Entry {
                key: OwnedKey::from_key(key),
                window_start: time,
                suppressed: 0,
                first_suppressed: time,
                last_suppressed: time,
            });
            self.keys += 1;
        }
        Decision::Publish(Publish {
            count: 1,
            first_seen: time,
            last_seen: time,
        })
    }

    /// Forgets every key whose window ended by `now`; returns those with
    /// suppressed repeats, oldest window first (then by key).
    pub fn expire(&mut self, now: Timestamp) -> Vec<Expired> {
        let window = self.window;
        let mut expired = Vec::new();
        let mut removed = 0;
        self.buckets.retain(|_, bucket| {
            bucket.retain(|entry| {
                if now < entry.window_start.saturating_add(window) {
                    return true;
                }
                removed += 1;
                if entry.suppressed > 0 {
                    expired.push((
                        entry.window_start,
                        Expired {
                            key: entry.key.clone(),
                            count: entry.suppressed,
                            first_seen: entry.first_suppressed,
                            last_seen: entry.last_suppressed,
                        },
                    ));
                }
                false
            });
            !bucket.is_empty()
        });
        self.keys -= removed;
        expired.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
        expired.into_iter().map(|(_, expired)| expired).collect()
    }

    /// Forgets every key; returns those with suppressed repeats (at
    /// shutdown).
    pub fn flush(&mut self) -> Vec<Expired> {
        let far_future = Timestamp::from_unix_seconds(i64::MAX);
        let window = self.window;
        self.window = Duration::ZERO;
        let expired = self.expire(far_future);
        self.window = window;
        expired
    }
}
