//! JA3 (client) and JA3S (server) fingerprints.
//!
//! JA3 = MD5 of `SSLVersion,Ciphers,Extensions,EllipticCurves,ECPointFormats`
//! and JA3S = MD5 of `SSLVersion,Cipher,Extensions`, each list of decimal
//! values joined by `-`, GREASE values (RFC 8701) left out, as the JA3 authors
//! and Wireshark compute them. Versions are the hello's own version field.
//! SSLv2-format hellos have no JA3 (neither reference computes one).

use md5::{Digest, Md5};

use super::{ascii_string, push_decimal};
use crate::tls::names::is_grease;
use crate::tls::{ClientHello, ServerHello};

/// A JA3-family fingerprint: the full string and its MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    /// The comma-separated string that is hashed.
    pub full: String,
    /// Lowercase hex MD5 of `full`.
    pub hash: String,
}

impl Ja3 {
    fn from_full(full: Vec<u8>) -> Self {
        let digest = Md5::digest(&full);
        let mut hash = Vec::with_capacity(32);
        for byte in digest {
            super::push_hex_byte(&mut hash, byte);
        }
        Self {
            full: ascii_string(full),
            hash: ascii_string(hash),
        }
    }
}

/// Appends `values` as `-`-joined decimals, GREASE left out when asked.
fn push_decimal_list(out: &mut Vec<u8>, values: impl IntoIterator<Item = u16>, skip_grease: bool) {
    let mut first = true;
    for value in values
        .into_iter()
        .filter(|v| !(skip_grease && is_grease(*v)))
    {
        if !first {
            out.push(b'-');
        }
        first = false;
        push_decimal(out, value);
    }
}

/// JA3 of a ClientHello; `None` for SSLv2-format hellos.
pub fn ja3(hello: &ClientHello) -> Option<Ja3> {
    if hello.sslv2_format {
        return None;
    }
    let mut full = Vec::with_capacity(
        8 + 6
            * (hello.cipher_suites.len()
                + hello.extensions.len()
                + hello.supported_groups.len()
                + hello.ec_point_formats.len()),
    );
    push_decimal(&mut full, hello.legacy_version);
    full.push(b',');
    push_decimal_list(&mut full, hello.cipher_suites.iter().copied(), true);
    full.push(b',');
    push_decimal_list(
        &mut full,
        hello.extensions.iter().map(|e| e.extension_type),
        true,
    );
    full.push(b',');
    push_decimal_list(&mut full, hello.supported_groups.iter().copied(), true);
    full.push(b',');
    push_decimal_list(
        &mut full,
        hello.ec_point_formats.iter().map(|f| u16::from(*f)),
        false,
    );
    Some(Ja3::from_full(full))
}

/// JA3S of a ServerHello.
pub fn ja3s(hello: &ServerHello) -> Ja3 {
    let mut full = Vec::with_capacity(16 + 6 * hello.extensions.len());
    push_decimal(&mut full, hello.legacy_version);
    full.push(b',');
    push_decimal(&mut full, hello.cipher_suite);
    full.push(b',');
    push_decimal_list(
        &mut full,
        hello.extensions.iter().map(|e| e.extension_type),
        true,
    );
    Ja3::from_full(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::extensions::RawExtension;

    fn extension(extension_type: u16) -> RawExtension {
        RawExtension {
            extension_type,
            length: 0,
        }
    }

    #[test]
    fn ja3_string_layout_and_grease_removal() {
        // The JA3 README's example string and hash (salesforce/ja3).
        let hello = ClientHello {
            legacy_version: 769,
            cipher_suites: vec![
                0x0A0A, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4,
            ],
            extensions: [0, 10, 11].into_iter().map(extension).collect(),
            supported_groups: vec![0x1A1A, 23, 24, 25],
            ec_point_formats: [0].into_iter().collect(),
            ..ClientHello::default()
        };
        let fingerprint = ja3(&hello).expect("TLS hello");
        assert_eq!(
            fingerprint.full,
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(fingerprint.hash, "ada70206e40642a3e4461f35503241d5");
    }
}
