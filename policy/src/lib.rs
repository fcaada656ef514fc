//! The cipherlens policy engine: session records in, findings out.
//!
//! Pure: no I/O except [`Policy::load`], no clock (time is the session's),
//! no threads, so it runs the same in the live sensor, in `replay` and in
//! any consumer of stored records. `docs/policy.md` describes every rule and
//! compares them with nDPI, Zeek, Suricata and testssl.sh.
//!
//! # Use
//!
//! ```
//! use cipherlens_policy::{Decision, DedupKey, Deduplicator, Policy, Timestamp, alert_record};
//! # fn send(_: cipherlens_record::AlertRecord) {}
//! # fn run(records: &[cipherlens_record::SessionRecord]) -> Result<(), cipherlens_policy::PolicyError> {
//! let policy = Policy::from_toml("[thresholds]\nexpiring_days = 14\n", "policy.toml")?;
//! let mut dedup = Deduplicator::new(policy.dedup_window());
//! for record in records {
//!     let hits = policy.evaluate(record); // no allocation
//!     if hits.is_empty() {
//!         continue;
//!     }
//!     let Ok(time) = Timestamp::parse_rfc3339(&record.event.start) else { continue };
//!     for hit in &hits {
//!         let key = DedupKey::new(hit.rule(), record);
//!         if let Decision::Publish(decision) = dedup.observe(&key, time) {
//!             let mut alert = alert_record(policy.finding(hit, record), record);
//!             decision.apply(&mut alert);
//!             send(alert);
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Rules
//!
//! | id | fires when | default severity |
//! |---|---|---|
//! | `tls.version.obsolete` | SSL 2.0/3.0 negotiated; TLS 1.0/1.1 negotiated; no version negotiated and the client offered at most TLS 1.1 | critical (levels `ssl2`, `ssl3`); high (`tls1.0`, `tls1.1`); low (`offered`) |
//! | `tls.cipher.insecure` | negotiated suite with NULL, EXPORT or anonymous; RC4, DES, RC2; 3DES, IDEA, SEED | critical (`null`, `export`, `anonymous`); high (`rc4`, `des`, `rc2`); medium (`3des`, `idea`, `seed`) |
//! | `tls.kex.no-forward-secrecy` | RSA key transport (`RSA`, `RSA_EXPORT`, `RSA_PSK`) or static (EC)DH suite negotiated | high |
//! | `tls.cipher.cbc` | CBC suite negotiated in TLS 1.2; with an HMAC-SHA-1 (or MD5) MAC | low (`cbc`); medium (`sha1-mac`) |
//! | `tls.kex.weak-group` | finite-field DH prime under `dh_min_bits`; EC group under `ec_group_min_bits` | high (`ffdh`, `ec`) |
//! | `tls.kex.quantum-vulnerable` | TLS 1.3/QUIC with a classical group; the client offered ML-KEM or a hybrid but the server chose classical | info (`classical`); low (`refused`) |
//! | `x509.key.weak` | RSA/DSA key under `rsa_min_bits`/`dsa_min_bits`, EC under `ec_min_bits`, in any chain certificate | high |
//! | `x509.signature.weak` | MD2/MD4/MD5; SHA-1 signature on a non-root certificate | critical (`md2`, `md4`, `md5`); medium (`sha1`) |
//! | `x509.expired` / `x509.not-yet-valid` | leaf or intermediate outside its validity at the session's start | high |
//! | `x509.expiring` | leaf expires within `expiring_days` of the session (that day included) | medium |
//! | `x509.validity.too-long` | leaf validity period over the limit for its issue date | low |
//! | `x509.self-signed` | leaf is self-issued | high |
//! | `x509.untrusted` | server chain does not lead to a trust anchor (off without anchors) | high |
//! | `tls.sni.mismatch` | SNI not covered by the leaf's names (RFC 6125) | high |
//! | `tls.sni.missing` | ClientHello without SNI | low |
//! | `tls.fingerprint.denied` | JA3, JA4 (first or second ClientHello) or JA3S on a deny list | high |
//! | `tls.fingerprint.unlisted` | JA3 or JA4 not on the allow list, when one is set | medium |
//! | `tls.alert.fatal` | a fatal alert in clear | low |
//!
//! # Policy file
//!
//! TOML, every table with unknown keys refused. A file that does not parse
//! or holds a bad value is refused as a whole with a [`PolicyError`]
//! naming the file, line and column, so the caller keeps the policy it had.
//!
//! - `version = 1` (optional).
//! - `[rules."<id>"]`: `enabled` (bool), `severity` (every level of the
//!   rule), `severities = { <level> = "<severity>" }` (rules with levels).
//! - `[thresholds]`: `expiring_days` (30); certificate keys `rsa_min_bits`
//!   (2048), `dsa_min_bits` (2048), `ec_min_bits` (224); key exchange
//!   `dh_min_bits` (2048, also DH certificate keys), `ec_group_min_bits`
//!   (224).
//! - `[[validity_limits]]`: rows of `issued_from` (a TOML date, compared
//!   with the leaf's notBefore) and `max_days`; the row with the latest
//!   `issued_from` on or before notBefore applies. When present they
//!   replace the default, which is one row: 398 days from 2020-09-01.
//! - `[fingerprints]`: `deny_ja3`, `deny_ja4`, `deny_ja3s`, `allow_ja3`,
//!   `allow_ja4`.
//! - `[trust]`: `ca_bundle` (a path the caller reads, see
//!   [`Policy::ca_bundle`]), `anchor_sha256`, `anchor_key_ids`.
//! - `[[exceptions]]`: `rules` (default: all), `sni` (globs: `*` any run of
//!   characters, `?` one), `servers` (`address[:port]`, IPv6 in brackets
//!   with a port), `namespaces` (either endpoint's pod namespace), `reason`.
//!   The criteria given must all match; at least one is required.
//! - `[alerts]`: `dedup_window_seconds` (600; 0 publishes every finding).
//!
//! A complete example (`policy/policy.example.toml`):
//!
#![doc = concat!("```toml\n", include_str!("../policy.example.toml"), "```")]
#![forbid(unsafe_code)]

mod alert;
mod dedup;
mod error;
mod evaluate;
mod exceptions;
mod file;
mod glob;
mod groups;
mod hostname;
mod policy;
mod rules;
mod suites;
mod time;
mod trust;

pub use alert::alert_record;
pub use dedup::{
    DEFAULT_MAX_KEYS, Decision, DedupKey, Deduplicator, Expired, OwnedKey, Publish, Workload,
};
pub use error::{Location, PolicyError, Problem};
pub use evaluate::{Hit, Hits};
pub use exceptions::{ServerPattern, ServerPatternError};
pub use glob::{Glob, GlobError};
pub use hostname::dns_name_matches;
pub use policy::{Policy, Thresholds};
pub use rules::{Level, RuleId, UnknownRule};
pub use time::{TimeError, Timestamp};
pub use trust::TrustAnchor;

/// Classification tables the rules use, for tools that report on them
/// (inventory, CBOM).
pub mod classify {
    pub use crate::groups::{Group, GroupKind, group};
    pub use crate::suites::{KeyExchange, Mac, Suite, Weakness, classify as suite};
}
