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

/// Lowercase hex of SHA-256, truncated to 12 characters (JA4's hash unit).
fn sha256_12(input: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    let mut text = hex::encode(digest.as_ref());
    text.truncate(12);
    text
}

/// Comma-joined four-digit lowercase hex (JA4's list form).
fn hex_list(values: &[u16]) -> String {
    let mut text = String::with_capacity(values.len() * 5);
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&format!("{value:04x}"));
    }
    text
}
