//! Reading a session record's JSON, with its TLS sections parsed once per
//! distinct text.
//!
//! Two thirds of a record's bytes are its TLS sections (`tls` and
//! `cipherlens.tls`: the hellos' lists, the certificate chain), and reading
//! them into owned values is most of what ingest costs. On a node those
//! sections repeat byte for byte: every handshake of one client build with
//! one server carries the same hellos and chain. So the record is read with
//! both sections left as raw text; a section pair seen before is taken
//! from a small memo instead of being parsed again, and put back once the
//! record has been counted. The result is the same `SessionRecord` a full
//! parse gives (a test checks it on every real record); only the time to
//! get it differs. Distinct sections (a client that randomises its hello)
//! cost one parse, as before, plus a hash.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, BuildHasherDefault};

use cipherlens_record::attribution::HostInfo;
use cipherlens_record::session::{
    Cipherlens, Endpoint, Event, Network, Observation, SessionRecord, SessionSchema, SessionState,
    Tls, TlsDetail,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Section pairs kept at most; the memo is emptied when full (a node has a
/// few hundred distinct handshakes, not thousands).
const MEMO_ENTRIES: usize = 512;

/// A record with its TLS sections still as text.
#[derive(Deserialize)]
struct Split<'a> {
    schema: SessionSchema,
    event: Event,
    network: Network,
    client: Endpoint,
    server: Endpoint,
    #[serde(default)]
    host: Option<HostInfo>,
    #[serde(borrow)]
    tls: &'a RawValue,
    #[serde(borrow)]
    cipherlens: SplitCipherlens<'a>,
}

#[derive(Deserialize)]
struct SplitCipherlens<'a> {
    #[serde(default)]
    cnflow_id: Option<String>,
    session: SessionState,
    #[serde(borrow)]
    tls: &'a RawValue,
    #[serde(default)]
    quic: Option<cipherlens_record::session::QuicDetail>,
    #[serde(default)]
    observation: Option<Observation>,
}

/// One memo entry: the sections' text and, unless a record is using
/// them, their parsed values.
struct Entry {
    tls_text: Box<str>,
    detail_text: Box<str>,
    parsed: Option<(Tls, TlsDetail)>,
}

/// Parsed TLS sections by a hash of their text (the text is compared on a
/// hit, so a collision is a miss, never a wrong record), per thread.
#[derive(Default)]
pub(super) struct Memo {
    hasher: foldhash::quality::RandomState,
    entries: HashMap<u64, Entry, BuildHasherDefault<PassThrough>>,
}

/// A record read through the memo; [`Memo::finish`] takes its TLS
/// sections back.
pub(super) struct Decoded {
    pub record: SessionRecord,
    /// The memo entry the sections go back to.
    hash: Option<u64>,
}

impl Memo {
    /// Reads one record. `None` when the text is not a session record.
    pub fn decode(&mut self, text: &str) -> Option<Decoded> {
        let split: Split<'_> = serde_json::from_str(text).ok()?;
        let (tls_text, detail_text) = (split.tls.get(), split.cipherlens.tls.get());
        let hash = self.hasher.hash_one((tls_text, detail_text));
        let cached = self.entries.get_mut(&hash).and_then(|entry| {
            (*entry.tls_text == *tls_text && *entry.detail_text == *detail_text)
                .then(|| entry.parsed.take())
                .flatten()
        });
        let (tls, detail, hash) = match cached {
            Some((tls, detail)) => (tls, detail, Some(hash)),
            None => {
                let tls: Tls = serde_json::from_str(tls_text).ok()?;
                let detail: TlsDetail = serde_json::from_str(detail_text).ok()?;
                // A new text takes a free slot; a slot in use (the same
                // text, or a colliding one) is left alone.
                let free = !self.entries.contains_key(&hash);
                if free {
                    if self.entries.len() >= MEMO_ENTRIES {
                        self.entries.clear();
                    }
                    self.entries.insert(
                        hash,
                        Entry {
                            tls_text: tls_text.into(),
                            detail_text: detail_text.into(),
                            parsed: None,
                        },
                    );
                }
                (tls, detail, free.then_some(hash))
            }
        };
        let record = SessionRecord {
            schema: split.schema,
            event: split.event,
            network: split.network,
            client: split.client,
            server: split.server,
            host: split.host.map(std::sync::Arc::new),
            tls,
            cipherlens: Cipherlens {
                cnflow_id: split.cipherlens.cnflow_id,
                session: split.cipherlens.session,
                tls: detail,
                quic: split.cipherlens.quic,
                observation: split.cipherlens.observation,
            },
        };
        Some(Decoded { record, hash })
    }

    /// Takes a counted record's sections back for the next record with the
    /// same text.
    pub fn finish(&mut self, decoded: Decoded) {
        let Some(hash) = decoded.hash else {
            return;
        };
        if let Some(entry) = self.entries.get_mut(&hash) {
            entry.parsed = Some((decoded.record.tls, decoded.record.cipherlens.tls));
        }
    }
}

/// The keys are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every real record reads into the same value through the memo as by a
    /// full parse, the first time and when its sections come from the memo.
    #[test]
    fn a_memo_read_equals_a_full_parse() {
        let mut memo = Memo::default();
        let lines = super::super::test_lines(&[
            "live-node-a.jsonl",
            "live-node-b.jsonl",
            "replay-fixtures.jsonl",
            "replay-corpus.jsonl",
        ]);
        assert!(lines.len() > 50);
        for round in 0..3 {
            for line in &lines {
                let full: SessionRecord = serde_json::from_str(line).expect("a record");
                let decoded = memo.decode(line).expect("decoded");
                assert_eq!(
                    serde_json::to_value(&decoded.record).unwrap(),
                    serde_json::to_value(&full).unwrap(),
                    "round {round}"
                );
                memo.finish(decoded);
            }
        }
        // Same sections, other endpoints: the sections come from the memo,
        // the rest from the record.
        let mut other: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        other["server"]["port"] = 8443.into();
        let decoded = memo.decode(&other.to_string()).expect("decoded");
        assert_eq!(decoded.record.server.port, 8443);
        assert_eq!(
            memo.decode("{\"schema\":\"cipherlens.cnflow/v1\"}")
                .map(|_| ()),
            None
        );
    }
}
