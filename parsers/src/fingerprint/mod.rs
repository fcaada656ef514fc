//! Client and server fingerprints computed from parsed hellos.
//!
//! - [`ja3`]: JA3 and JA3S (Salesforce, BSD-3): MD5 over decimal fields.
//! - [`ja4`]: JA4 (FoxIO, BSD-3): the client fingerprint and its raw forms.
//! - `ja4plus` (feature): JA4S and JA4X, under the FoxIO License 1.1.

pub mod ja3;
pub mod ja4;
#[cfg(feature = "ja4plus")]
pub mod ja4plus;

/// Transport a hello travelled over; the first JA4 character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// TLS inside QUIC CRYPTO frames (`q`).
    Quic,
    /// DTLS (`d`).
    Dtls,
}

impl Transport {
    fn ja4_prefix(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
            Transport::Dtls => 'd',
        }
    }
}

// The text builders below write ASCII bytes into a `Vec<u8>`: pushing
// `char`s into a `String` one by one costs a UTF-8 encode per character,
// which was most of the fingerprinting time. `ascii_string` converts once.

/// Lowercase hex of SHA-256, truncated to 12 characters (JA4's hash unit),
/// appended to `out`. Only the six digest bytes that are shown get encoded.
fn push_sha256_12(out: &mut Vec<u8>, input: &[u8]) {
    let digest = ring::digest::digest(&ring::digest::SHA256, input);
    for byte in &digest.as_ref()[..6] {
        push_hex_byte(out, *byte);
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn push_hex_byte(out: &mut Vec<u8>, byte: u8) {
    out.extend_from_slice(&[
        HEX_DIGITS[usize::from(byte >> 4)],
        HEX_DIGITS[usize::from(byte & 0x0f)],
    ]);
}

/// Appends `separator` and then `values` as comma-joined four-digit
/// lowercase hex (JA4's list form). Each value goes out as one fixed-size
/// `,xxxx` write; the first comma is then overwritten by `separator`.
fn push_hex_list(out: &mut Vec<u8>, separator: u8, values: &[u16]) {
    let start = out.len();
    out.reserve(values.len() * 5 + 1);
    for value in values {
        let [high, low] = value.to_be_bytes();
        out.extend_from_slice(&[
            b',',
            HEX_DIGITS[usize::from(high >> 4)],
            HEX_DIGITS[usize::from(high & 0x0f)],
            HEX_DIGITS[usize::from(low >> 4)],
            HEX_DIGITS[usize::from(low & 0x0f)],
        ]);
    }
    match out.get_mut(start) {
        Some(first) => *first = separator,
        None => out.push(separator),
    }
}

/// `00`, `01`, ... `99`: two decimal digits per table entry.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut index = 0;
    while index < 100 {
        pairs[index] = [b'0' + (index / 10) as u8, b'0' + (index % 10) as u8];
        index += 1;
    }
    pairs
};

/// Appends the decimal form of `value` without going through `fmt`:
/// two table look-ups and one fixed-size write (fingerprint strings, and
/// the sensor's JSON encoder for the many small numbers of a record).
pub fn push_decimal(out: &mut Vec<u8>, value: u16) {
    let value = usize::from(value);
    let [high_0, high_1] = DIGIT_PAIRS[value / 100 % 100];
    let [low_0, low_1] = DIGIT_PAIRS[value % 100];
    match value {
        0..=9 => out.push(low_1),
        10..=99 => out.extend_from_slice(&[low_0, low_1]),
        100..=999 => out.extend_from_slice(&[high_1, low_0, low_1]),
        1_000..=9_999 => out.extend_from_slice(&[high_0, high_1, low_0, low_1]),
        _ => out.extend_from_slice(&[b'0' + (value / 10_000) as u8, high_0, high_1, low_0, low_1]),
    }
}

/// The builders' output as a `String`. They only write ASCII, so the
/// lossy branch is never taken; it exists so that no input can panic here.
fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// [`push_sha256_12`] into a new string.
#[cfg(feature = "ja4plus")]
fn sha256_12(input: &str) -> String {
    let mut out = Vec::with_capacity(12);
    push_sha256_12(&mut out, input.as_bytes());
    ascii_string(out)
}

/// [`push_hex_list`] into a new string.
#[cfg(feature = "ja4plus")]
fn hex_list(values: &[u16]) -> String {
    let mut out = Vec::new();
    push_hex_list(&mut out, b',', values);
    out.remove(0);
    ascii_string(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_helpers_match_std_formatting() {
        for value in (0..=u16::MAX)
            .step_by(7)
            .chain([9, 10, 99, 100, 999, 1000, 9999, 10_000, 65_535])
        {
            let mut decimal = Vec::new();
            push_decimal(&mut decimal, value);
            assert_eq!(ascii_string(decimal), value.to_string());
            let mut hex = Vec::new();
            push_hex_list(&mut hex, b'_', &[value, 0x0a0b]);
            assert_eq!(ascii_string(hex), format!("_{value:04x},0a0b"));
        }
        let mut empty = b"x".to_vec();
        push_hex_list(&mut empty, b'_', &[]);
        assert_eq!(empty, b"x_");
        let mut hash = Vec::new();
        push_sha256_12(&mut hash, b"abc");
        // FIPS 180-2 example: SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(ascii_string(hash), "ba7816bf8f01");
    }
}
