//! Compact JSON written straight into a byte buffer, as serde_json writes
//! it: keys are literals made at compile time ([`key!`]), strings are
//! escaped exactly as serde_json escapes them, numbers go through `itoa`.
//!
//! The record types' hot parts are written with these by hand
//! (`session.rs`, `flow.rs`): no serializer state machine per field, no
//! escape scan of keys, which is where a serde serializer spends its time
//! on records made of many short fields.

use std::borrow::Cow;

use cipherlens_parsers::fingerprint::push_decimal;

/// `"name":` as a `&'static str`, for [`Obj::key`].
macro_rules! key {
    ($name:literal) => {
        concat!("\"", $name, "\":")
    };
}
pub(crate) use key;

/// How serde_json escapes each byte: 0 = as is, `u` = `\u00XX`, anything
/// else = a backslash and that character.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `text` as a JSON string, quotes included.
pub fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if needs_escape(bytes) {
        escaped(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether any byte of `word` is zero.
const fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

/// Whether any byte of `bytes` is one serde_json escapes. Names, hashes
/// and labels almost never hold one: eight bytes are checked at a time
/// (a control character, a quote or a backslash in any lane; exact, no
/// false positives), and the string is then copied in one go.
fn needs_escape(bytes: &[u8]) -> bool {
    let (words, tail) = bytes.as_chunks::<8>();
    for &word in words {
        let word = u64::from_ne_bytes(word);
        // A byte below 0x20: below 0x20 after clearing bit 7 and subtracting
        // 0x20 borrows; bytes with bit 7 set are excluded by `!word`.
        let control = word.wrapping_sub(u64::from_ne_bytes([0x20; 8])) & !word & HIGHS != 0;
        if control
            || has_zero_byte(word ^ u64::from_ne_bytes([b'"'; 8]))
            || has_zero_byte(word ^ u64::from_ne_bytes([b'\\'; 8]))
        {
            return true;
        }
    }
    tail.iter().any(|&byte| ESCAPE[usize::from(byte)] != 0)
}

/// The bytes of a string that holds a character to escape.
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..at]);
        start = at + 1;
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A value that writes itself as JSON.
pub trait Json {
    fn write(&self, out: &mut Vec<u8>);
}

impl Json for str {
    fn write(&self, out: &mut Vec<u8>) {
        string(out, self);
    }
}

impl Json for String {
    fn write(&self, out: &mut Vec<u8>) {
        string(out, self);
    }
}

impl Json for Cow<'_, str> {
    fn write(&self, out: &mut Vec<u8>) {
        string(out, self);
    }
}

impl Json for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

macro_rules! integers {
    ($($integer:ty),*) => {$(
        impl Json for $integer {
            fn write(&self, out: &mut Vec<u8>) {
                // Most numbers of a record (code points, ports, lengths,
                // counts) fit 16 bits: a fixed-size write, where a general
                // formatter's variable-length copy is a library call.
                match u16::try_from(*self) {
                    Ok(small) => push_decimal(out, small),
                    Err(_) => out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes()),
                }
            }
        }
    )*};
}
integers!(u8, u16, u32, u64, usize, i64);

impl<T: Json> Json for [T] {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        let mut items = self.iter();
        if let Some(first) = items.next() {
            first.write(out);
            for item in items {
                out.push(b',');
                item.write(out);
            }
        }
        out.push(b']');
    }
}

impl<T: Json> Json for Vec<T> {
    fn write(&self, out: &mut Vec<u8>) {
        self.as_slice().write(out);
    }
}

/// An object being written: `{`, then fields with commas between them.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Starts a field (`key` from [`key!`]); its value is written next,
    /// into the returned buffer.
    pub fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out
    }

    pub fn field(&mut self, key: &'static str, value: &(impl Json + ?Sized)) {
        value.write(self.key(key));
    }

    /// A field left out when absent (`skip_serializing_if = "Option::is_none"`).
    pub fn optional<T: Json>(&mut self, key: &'static str, value: &Option<T>) {
        if let Some(value) = value {
            self.field(key, value);
        }
    }

    /// Fields already written as JSON, without their braces (a flattened
    /// object); nothing when `fields` is empty.
    pub fn fields(&mut self, fields: &[u8]) {
        if fields.is_empty() {
            return;
        }
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(fields);
    }

    pub fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value a UTF-8 string can hold alone, and characters of
    /// every length: escaped exactly as serde_json escapes them.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("é中\u{2028}\u{2029}\u{10FFFF}\"\\/\u{7f}");
        for candidate in [text.as_str(), "", "plain", "\"", "\\\n", "end\u{1}"] {
            let mut out = Vec::new();
            string(&mut out, candidate);
            assert_eq!(
                out,
                serde_json::to_vec(candidate).expect("encodes"),
                "{candidate:?}"
            );
        }
    }

    /// The eight-at-a-time check against the byte-by-byte table: every
    /// ASCII byte in every lane of a word and in the tail, among bytes
    /// that need no escape and among non-ASCII ones.
    #[test]
    fn the_word_check_finds_every_byte_to_escape_in_every_lane() {
        for fill in ["abcdefghijklmnop", "éééééééé"] {
            let fill = fill.as_bytes();
            for byte in 0u8..0x80 {
                for at in 0..fill.len() {
                    let mut bytes = fill.to_vec();
                    bytes[at] = byte;
                    let expected = ESCAPE[usize::from(byte)] != 0;
                    assert_eq!(
                        needs_escape(&bytes),
                        expected,
                        "{byte:#x} at {at} in {fill:?}"
                    );
                    if let Ok(text) = std::str::from_utf8(&bytes) {
                        let mut out = Vec::new();
                        string(&mut out, text);
                        assert_eq!(out, serde_json::to_vec(text).expect("encodes"));
                    }
                }
            }
        }
    }

    /// Every 16-bit value, and the edges of the wider types.
    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        let mut out = Vec::new();
        for value in 0..=u16::MAX {
            out.clear();
            value.write(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).expect("encodes"));
        }
        for value in [
            65_535u64,
            65_536,
            99_999,
            100_000,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            out.clear();
            value.write(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).expect("encodes"));
        }
        for value in [-1i64, -65_536, i64::MIN, 0, 7] {
            out.clear();
            value.write(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).expect("encodes"));
        }
    }

    #[test]
    fn numbers_lists_and_objects_are_compact_json() {
        let mut out = Vec::new();
        let mut object = Obj::open(&mut out);
        object.optional(key!("absent"), &None::<u32>);
        object.field(key!("max"), &u64::MAX);
        object.field(key!("min"), &i64::MIN);
        object.field(key!("list"), &vec![1u8, 0, 255]);
        object.field(key!("empty"), &Vec::<u16>::new());
        object.fields(b"");
        object.fields(br#""flat":true"#);
        object.field(key!("no"), &false);
        object.close();
        let reference = serde_json::json!({
            "max": u64::MAX, "min": i64::MIN, "list": [1, 0, 255], "empty": [],
            "flat": true, "no": false,
        });
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).expect("valid JSON"),
            reference
        );
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            r#"{"max":18446744073709551615,"min":-9223372036854775808,"list":[1,0,255],"empty":[],"flat":true,"no":false}"#
        );
    }
}
