//! JSON encoding of the records published per session and per flow.
//!
//! These are the bulk of what the sensor writes, several kilobytes each,
//! mostly short strings; serde_json escapes strings a byte at a time,
//! which was a fifth of the sensor's CPU under handshake load. sonic-rs
//! serializes the same serde data model with SIMD string scanning and
//! writes the same bytes (`tests/record_encoding.rs` compares the two on
//! every fixture's records). Rare records (stats, alerts, plaintext) stay
//! on serde_json.

use serde::Serialize;

/// Appends `record` as compact JSON to `out`.
pub fn encode_record(record: &impl Serialize, out: &mut Vec<u8>) -> std::io::Result<()> {
    sonic_rs::to_writer(out, record).map_err(std::io::Error::other)
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
    /// each control character, quotes, backslashes, DEL, non-ASCII and
    /// the JavaScript line separators are escaped (or not) exactly as
    /// serde_json does.
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
