//! JA3 (client) and JA3S (server) fingerprints.
//!
//! JA3 = MD5 of `SSLVersion,Ciphers,Extensions,EllipticCurves,ECPointFormats`
//! and JA3S = MD5 of `SSLVersion,Cipher,Extensions`, each list of decimal
//! values joined by `-`, GREASE values (RFC 8701) left out, as the JA3 authors
//! and Wireshark compute them. Versions are the hello's own version field.
//! SSLv2-format hellos have no JA3 (neither reference computes one).

use md5::{Digest, Md5};

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
    fn from_full(full: String) -> Self {
        let hash = hex::encode(Md5::digest(full.as_bytes()));
        Self { full, hash }
    }
}

fn decimal_list<T: Copy + Into<u16>>(values: &[T], skip_grease: bool) -> String {
    let mut text = String::new();
    for value in values
        .iter()
        .map(|v| (*v).into())
        .filter(|v| !(skip_grease && is_grease(*v)))
    {
        if !text.is_empty() {
            text.push('-');
        }
        text.push_str(&value.to_string());
    }
    text
}

/// JA3 of a ClientHello; `None` for SSLv2-format hellos.
pub fn ja3(hello: &ClientHello) -> Option<Ja3> {
    if hello.sslv2_format {
        return None;
    }
    let extensions: Vec<u16> = hello.extensions.iter().map(|e| e.extension_type).collect();
    let full = format!(
        "{},{},{},{},{}",
        hello.legacy_version,
        decimal_list(&hello.cipher_suites, true),
        decimal_list(&extensions, true),
        decimal_list(&hello.supported_groups, true),
        decimal_list(&hello.ec_point_formats, false),
    );
    Some(Ja3::from_full(full))
}

/// JA3S of a ServerHello.
pub fn ja3s(hello: &ServerHello) -> Ja3 {
    let extensions: Vec<u16> = hello.extensions.iter().map(|e| e.extension_type).collect();
    let full = format!(
        "{},{},{}",
        hello.legacy_version,
        hello.cipher_suite,
        decimal_list(&extensions, true)
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
            data: Vec::new(),
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
            ec_point_formats: vec![0],
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
