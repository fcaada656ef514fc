//! Policy alerts: the record writer's policy step.
//!
//! Each session record, once enriched, is evaluated by the policy
//! (`cipherlens-policy`); a finding becomes a `cipherlens.alert/v1` record
//! unless the same finding (rule, server endpoint, client workload) was
//! published within the deduplication window, in which case it is counted
//! and the next alert for it, or a summary when its window runs out or the
//! sensor stops, carries the count. Time is the session's, so `replay` of a
//! capture gives the alerts live capture gave.
//!
//! The policy can be replaced while the sensor runs ([`PolicyHandle::reload`],
//! on SIGHUP or a `policy` directive): a file that does not load is refused
//! with its error and the policy in use stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use cipherlens_parsers::x509::{CertificateError, summarize_certificate};
use cipherlens_policy::{
    Decision, DedupKey, Deduplicator, Expired, OwnedKey, Policy, PolicyError, Timestamp,
    TrustAnchor, alert_record,
};
use cipherlens_record::session::SessionRecord;
use cipherlens_record::stats::PolicyStats;
use cipherlens_record::{AlertRecord, Publishable as _};

/// Keys the deduplication remembers at most (a new key beyond it is
/// published and not remembered: nothing is lost, only not deduplicated).
const MAX_DEDUP_KEYS: usize = 20_000;
/// How often (session time) windows that ran out are looked for.
const EXPIRE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a policy could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("reading the policy's CA bundle {path}")]
    CaBundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA bundle {path}: certificate {index} does not parse")]
    CaCertificate {
        path: PathBuf,
        index: usize,
        source: CertificateError,
    },
    #[error("CA bundle {path}: certificate {index} is not valid base64")]
    CaEncoding {
        path: PathBuf,
        index: usize,
        source: base64::DecodeError,
    },
    #[error("CA bundle {path} holds no certificate")]
    CaEmpty { path: PathBuf },
}

impl PolicyLoadError {
    /// Stable name of the reason, for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyLoadError::Policy(error) => error.reason(),
            PolicyLoadError::CaBundle { .. } => "ca_bundle_unreadable",
            PolicyLoadError::CaCertificate { .. } => "ca_certificate_invalid",
            PolicyLoadError::CaEncoding { .. } => "ca_certificate_encoding",
            PolicyLoadError::CaEmpty { .. } => "ca_bundle_empty",
        }
    }
}

/// The policy in use, shared by the thread that reloads it (the live loop)
/// and the record writer that evaluates it.
#[derive(Debug)]
pub struct PolicyHandle {
    /// The policy file (`None`: the built-in default policy).
    file: Option<PathBuf>,
    current: RwLock<Arc<Policy>>,
    /// Bumped by every reload that took effect.
    generation: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    alerts_published: AtomicU64,
    alerts_suppressed: AtomicU64,
}

impl PolicyHandle {
    /// Loads `file`, or the built-in default policy without one.
    pub fn load(file: Option<&Path>) -> Result<Arc<Self>, PolicyLoadError> {
        let policy = load_policy(file)?;
        Ok(Arc::new(PolicyHandle {
            file: file.map(Path::to_path_buf),
            current: RwLock::new(Arc::new(policy)),
            generation: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            alerts_published: AtomicU64::new(0),
            alerts_suppressed: AtomicU64::new(0),
        }))
    }

    /// Reads the policy file again; on an error the policy in use stays.
    pub fn reload(&self) -> Result<(), PolicyLoadError> {
        match load_policy(self.file.as_deref()) {
            Ok(policy) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(policy);
                self.generation.fetch_add(1, Ordering::Release);
                self.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(file = ?self.file, "policy reloaded");
                Ok(())
            }
            Err(error) => {
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(file = ?self.file, reason = error.reason(), error = %error,
                    "policy not reloaded; the one in use stays");
                Err(error)
            }
        }
    }

    /// The file the policy comes from (`None`: built in).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The policy in use and the generation it came with.
    pub fn current(&self) -> (u64, Arc<Policy>) {
        let generation = self.generation.load(Ordering::Acquire);
        let policy = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        (generation, policy)
    }

    /// Counters for the stats record.
    pub fn stats(&self) -> PolicyStats {
        PolicyStats {
            file: self.file.as_ref().map(|path| path.display().to_string()),
            reloads: self.reloads.load(Ordering::Relaxed),
            reload_failures: self.reload_failures.load(Ordering::Relaxed),
            alerts_published: self.alerts_published.load(Ordering::Relaxed),
            alerts_suppressed: self.alerts_suppressed.load(Ordering::Relaxed),
        }
    }
}

fn load_policy(file: Option<&Path>) -> Result<Policy, PolicyLoadError> {
    let Some(file) = file else {
        return Ok(Policy::default());
    };
    let policy = Policy::load(file)?;
    let Some(bundle) = policy.ca_bundle().map(Path::to_path_buf) else {
        return Ok(policy);
    };
    let anchors = trust_anchors(&bundle)?;
    Ok(policy.with_trust_anchors(anchors))
}

/// Largest CA bundle read.
const MAX_CA_BUNDLE: u64 = 16 << 20;

/// The certificates of a PEM bundle as trust anchors.
fn trust_anchors(path: &Path) -> Result<Vec<TrustAnchor>, PolicyLoadError> {
    use std::io::Read as _;
    let unreadable = |source| PolicyLoadError::CaBundle {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(MAX_CA_BUNDLE)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    let mut anchors = Vec::new();
    for (index, block) in pem_certificates(&text).enumerate() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(block)
            .map_err(|source| PolicyLoadError::CaEncoding {
                path: path.to_path_buf(),
                index,
                source,
            })?;
        let summary =
            summarize_certificate(&der).map_err(|source| PolicyLoadError::CaCertificate {
                path: path.to_path_buf(),
                index,
                source,
            })?;
        anchors.push(TrustAnchor {
            sha256: Some(summary.fingerprint_sha256),
            subject: Some(summary.subject),
            key_id: summary.subject_key_identifier,
        });
    }
    if anchors.is_empty() {
        return Err(PolicyLoadError::CaEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(anchors)
}

/// The base64 bodies (white space removed) of the `CERTIFICATE` blocks of
/// a PEM text (RFC 7468).
fn pem_certificates(text: &str) -> impl Iterator<Item = String> + '_ {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find(BEGIN)? + BEGIN.len();
        let end = start + rest[start..].find(END)?;
        let body: String = rest[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        rest = &rest[end + END.len()..];
        Some(body)
    })
}

/// The writer's policy step (see the module docs).
pub struct AlertStage {
    handle: Arc<PolicyHandle>,
    generation: u64,
    policy: Arc<Policy>,
    dedup: Deduplicator,
    /// Per key, the alert of its latest session (published or held back):
    /// a summary of held-back repeats is that alert with their count, so it
    /// names the latest session it stands for, as `event.last_seen` does.
    published: BTreeMap<OwnedKey, AlertRecord>,
    last_expire: Option<Timestamp>,
}

impl AlertStage {
    pub fn new(handle: Arc<PolicyHandle>) -> Self {
        let (generation, policy) = handle.current();
        let dedup = Deduplicator::new(policy.dedup_window()).with_max_keys(MAX_DEDUP_KEYS);
        AlertStage {
            handle,
            generation,
            policy,
            dedup,
            published: BTreeMap::new(),
            last_expire: None,
        }
    }

    /// The alerts `record` raises now, in rule order, after summaries of
    /// repeats whose window ran out by the session's time.
    pub fn evaluate(&mut self, record: &SessionRecord, alerts: &mut Vec<AlertRecord>) {
        if self.handle.generation.load(Ordering::Acquire) != self.generation {
            let (generation, policy) = self.handle.current();
            self.dedup.set_window(policy.dedup_window());
            self.generation = generation;
            self.policy = policy;
        }
        let Ok(time) = Timestamp::parse_rfc3339(&record.event.start) else {
            // Records carry RFC 3339 times; one that is not cannot be placed
            // in a window, so it is not deduplicated.
            self.publish_all(record, alerts);
            return;
        };
        if self
            .last_expire
            .is_none_or(|last| time >= last.saturating_add(EXPIRE_EVERY))
        {
            self.last_expire = Some(time);
            let expired = self.dedup.expire(time);
            self.summarize(expired, alerts);
        }
        let hits = self.policy.evaluate(record);
        for hit in &hits {
            let key = DedupKey::new(hit.rule(), record);
            match self.dedup.observe(&key, time) {
                Decision::Publish(decision) => {
                    let mut alert = alert_record(self.policy.finding(hit, record), record);
                    decision.apply(&mut alert);
                    self.published
                        .insert(OwnedKey::from_key(&key), alert.clone());
                    self.handle.alerts_published.fetch_add(1, Ordering::Relaxed);
                    alerts.push(alert);
                }
                Decision::Suppress => {
                    self.handle
                        .alerts_suppressed
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(latest) = self.published.get_mut(&OwnedKey::from_key(&key)) {
                        *latest = alert_record(self.policy.finding(hit, record), record);
                    }
                }
            }
        }
        if self.published.len() > MAX_DEDUP_KEYS {
            // Keys the deduplication no longer holds have nothing to
            // summarize; keep only those it does.
            self.published.clear();
        }
    }

    /// At the end: summaries of every repeat not yet published.
    pub fn finish(&mut self, alerts: &mut Vec<AlertRecord>) {
        let expired = self.dedup.flush();
        self.summarize(expired, alerts);
    }

    fn publish_all(&mut self, record: &SessionRecord, alerts: &mut Vec<AlertRecord>) {
        for finding in self.policy.findings(record) {
            self.handle.alerts_published.fetch_add(1, Ordering::Relaxed);
            alerts.push(alert_record(finding, record));
        }
    }

    /// One alert per key whose repeats were held back: the alert of the
    /// latest of them with their count and time span.
    fn summarize(&mut self, expired: Vec<Expired>, alerts: &mut Vec<AlertRecord>) {
        for expired in expired {
            let Some(mut alert) = self.published.remove(&expired.key) else {
                continue;
            };
            alert.event.count = expired.count;
            alert.event.first_seen = expired.first_seen.to_string();
            alert.event.last_seen = expired.last_seen.to_string();
            self.handle.alerts_published.fetch_add(1, Ordering::Relaxed);
            debug_assert!(matches!(
                alert.kind(),
                cipherlens_record::RecordKind::Alert(_)
            ));
            alerts.push(alert);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real session (the policy crate's test data) that raises at least
    /// one finding under the default policy, started at `start` from
    /// client port `port`.
    fn session(start: &str, port: u16) -> SessionRecord {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/testdata/sessions.jsonl");
        let text = std::fs::read_to_string(&path).expect("policy test data");
        let first = text.lines().next().expect("a session");
        let mut record: SessionRecord = serde_json::from_str(first).expect("a session record");
        record.event.start = start.to_string();
        record.client.port = port;
        record
    }

    #[test]
    fn a_summary_of_held_back_repeats_names_the_latest_of_them() {
        let handle = PolicyHandle::load(None).expect("default policy");
        let mut stage = AlertStage::new(Arc::clone(&handle));
        let mut alerts = Vec::new();
        stage.evaluate(&session("2026-01-01T00:00:00.000000Z", 40000), &mut alerts);
        let rules = alerts.len();
        assert!(rules > 0, "the session raises findings");
        for (second, port) in [(1, 40001), (2, 40002)] {
            let start = format!("2026-01-01T00:00:0{second}.000000Z");
            stage.evaluate(&session(&start, port), &mut alerts);
        }
        assert_eq!(
            alerts.len(),
            rules,
            "repeats within the window are held back"
        );
        // 700 s later, past the default 600 s window.
        stage.evaluate(&session("2026-01-01T00:11:40.000000Z", 40003), &mut alerts);
        let summaries: Vec<&AlertRecord> = alerts[rules..]
            .iter()
            .filter(|alert| alert.event.count == 2)
            .collect();
        assert_eq!(summaries.len(), rules, "{alerts:#?}");
        for summary in summaries {
            assert_eq!(summary.event.first_seen, "2026-01-01T00:00:01.000000Z");
            assert_eq!(summary.event.last_seen, "2026-01-01T00:00:02.000000Z");
            assert_eq!(summary.session.start, summary.event.last_seen);
            assert_eq!(summary.client.port, 40002);
        }
        assert_eq!(handle.stats().alerts_suppressed, 2 * rules as u64);
    }

    #[test]
    fn pem_blocks_are_found_with_their_line_breaks_removed() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n\
                    -----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\r\nR0hJ\r\n-----END CERTIFICATE-----";
        let blocks: Vec<String> = pem_certificates(text).collect();
        assert_eq!(blocks, ["QUJDREVG", "R0hJ"]);
    }
}
