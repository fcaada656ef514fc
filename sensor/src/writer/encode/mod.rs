//! JSON encoding of the records published per session and per flow.
//!
//! These are the bulk of what the sensor writes: several kilobytes per
//! handshake, made of many short fields. Under a handshake load, encoding
//! them with a serde serializer was a fifth of the sensor's CPU, spent in
//! the serializer's per-field calls and in escape scans of keys. So their
//! hot parts are written by hand ([`json`], `session.rs`, `flow.rs`), the
//! parts many records share (process attribution, certificate summaries)
//! are written once and copied ([`fragments`]), and the rare parts (a
//! tunnel, QUIC facts, alerts, TCP metrics) go through serde (sonic-rs).
//!
//! The bytes are serde_json's for the same record: serde's derive is the
//! definition of the layout, enum names are read from it ([`variant`]),
//! and `tests/record_encoding.rs` compares the two on every session and
//! flow of every fixture and third-party capture, and on records with
//! every optional part. Rare records (stats, alerts, plaintext) stay on
//! serde_json.

mod flow;
pub mod fragments;
pub mod json;
mod session;
pub mod variant;

use std::io;
use std::sync::Arc;

use cipherlens_record::attribution::EndpointAttribution;
use cipherlens_record::certificate::CertificateSummary;
use cipherlens_record::{CnFlowRecord, SessionRecord};
use serde::Serialize;

use fragments::Fragments;

/// Distinct processes whose attribution JSON is kept.
const ATTRIBUTIONS_KEPT: usize = 1024;
/// Distinct certificates whose summary JSON is kept.
const CERTIFICATES_KEPT: usize = 512;

/// Appends `record` as compact JSON to `out`, through serde (sonic-rs,
/// SIMD string escaping): the shared and the rare parts of records.
pub fn encode_record(record: &(impl Serialize + ?Sized), out: &mut Vec<u8>) -> io::Result<()> {
    sonic_rs::to_writer(out, record).map_err(io::Error::other)
}

/// The record writer's encoder for session and flow records.
pub struct RecordEncoder {
    attributions: Fragments<EndpointAttribution>,
    certificates: Fragments<CertificateSummary>,
    /// The first failure of a part written through serde, reported when
    /// the record is done.
    failed: Option<io::Error>,
}

impl Default for RecordEncoder {
    fn default() -> Self {
        Self {
            attributions: Fragments::new(ATTRIBUTIONS_KEPT),
            certificates: Fragments::new(CERTIFICATES_KEPT),
            failed: None,
        }
    }
}

impl RecordEncoder {
    /// Appends `record` as compact JSON to `out`.
    pub fn session(&mut self, record: &SessionRecord, out: &mut Vec<u8>) -> io::Result<()> {
        self.session_record(record, out);
        self.result()
    }

    /// Appends `record` as compact JSON to `out`.
    pub fn flow(&mut self, record: &CnFlowRecord, out: &mut Vec<u8>) -> io::Result<()> {
        self.flow_record(record, out);
        self.result()
    }

    fn result(&mut self) -> io::Result<()> {
        match self.failed.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// A part written through serde.
    fn serde(&mut self, out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
        if let Err(error) = encode_record(value, out) {
            self.failed.get_or_insert(error);
        }
    }

    /// A unit enum variant, by the name its `Serialize` gives.
    fn variant(&mut self, out: &mut Vec<u8>, value: &impl Serialize) {
        match variant::name(value) {
            Some(name) => json::string(out, name),
            None => self.serde(out, value),
        }
    }

    /// An endpoint's attribution as the fields it flattens into.
    fn attribution(&mut self, attribution: &Arc<EndpointAttribution>) -> &[u8] {
        if **attribution == EndpointAttribution::default() {
            // Remote endpoints and replayed sessions: nothing to add.
            return b"";
        }
        let written = self.attributions.get_or_write(attribution, |value, json| {
            encode_record(value, json)?;
            // `{...}` without its braces: the endpoint's own fields follow.
            json.pop();
            json.remove(0);
            Ok(())
        });
        match written {
            Ok(fields) => fields,
            Err(error) => {
                self.failed.get_or_insert(error);
                b""
            }
        }
    }

    /// A list of certificate summaries.
    fn certificates(&mut self, out: &mut Vec<u8>, chain: &[Arc<CertificateSummary>]) {
        out.push(b'[');
        for (at, certificate) in chain.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            let written = self.certificates.get_or_write(certificate, encode_record);
            match written {
                Ok(summary) => out.extend_from_slice(summary),
                Err(error) => {
                    self.failed.get_or_insert(error);
                }
            }
        }
        out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Sample {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        absent: Option<u32>,
        numbers: (u8, u16, u32, u64, i64),
        map: BTreeMap<String, u64>,
        list: Vec<Option<bool>>,
    }

    /// Command lines, names and certificate fields carry any character:
    /// the serde path escapes each control character, quotes, backslashes,
    /// DEL, non-ASCII and the JavaScript line separators (or not) exactly
    /// as serde_json does.
    #[test]
    fn every_character_is_escaped_as_serde_json_escapes_it() {
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("é中\u{2028}\u{2029}\u{10FFFF}\"\\/");
        let sample = Sample {
            text: text.clone(),
            absent: None,
            numbers: (u8::MAX, u16::MAX, u32::MAX, u64::MAX, i64::MIN),
            map: BTreeMap::from([(text, 1), ("a\nb".into(), 0)]),
            list: vec![Some(true), None, Some(false)],
        };
        let mut encoded = Vec::new();
        encode_record(&sample, &mut encoded).expect("encodes");
        assert_eq!(
            String::from_utf8(encoded).expect("UTF-8"),
            serde_json::to_string(&sample).expect("encodes")
        );
    }
}
