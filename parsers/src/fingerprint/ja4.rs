//! JA4: the TLS client fingerprint (FoxIO, BSD-3-Clause).
//!
//! Follows the JA4 technical specification text (FoxIO-LLC/ja4,
//! `technical_details/JA4.md`). Where implementations disagree, the text
//! wins; the choices are listed in ARCHITECTURE.md ("JA4 choices"):
//! - version: highest non-GREASE supported_versions value, else the hello's
//!   version; TLS 1.3 draft code points are not in the spec's table -> `00`;
//! - ALPN: first and last character of the first protocol; if either is not
//!   ASCII alphanumeric, the first and last character of its hex form;
//! - extension hash: no trailing `_` when there are no signature algorithms;
//!   `000000000000` for an empty cipher or extension list;
//! - GREASE is dropped from every list, signature algorithms included.

use super::{Transport, hex_list, sha256_12};
use crate::tls::ClientHello;
use crate::tls::extensions::{ALPN, SERVER_NAME};
use crate::tls::names::is_grease;

/// JA4 and its raw forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4 {
    /// `a_b_c` with sorted lists hashed.
    pub ja4: String,
    /// Sorted lists, not hashed.
    pub ja4_r: String,
    /// Original order (SNI and ALPN kept), hashed.
    pub ja4_o: String,
    /// Original order, not hashed.
    pub ja4_ro: String,
}

const EMPTY_HASH: &str = "000000000000";

/// JA4 of a ClientHello sent over `transport`.
pub fn ja4(hello: &ClientHello, transport: Transport) -> Ja4 {
    let ciphers: Vec<u16> = hello
        .cipher_suites
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let extensions: Vec<u16> = hello
        .extensions
        .iter()
        .map(|e| e.extension_type)
        .filter(|e| !is_grease(*e))
        .collect();
    let signature_algorithms: Vec<u16> = hello
        .signature_algorithms
        .iter()
        .copied()
        .filter(|s| !is_grease(*s))
        .collect();

    let part_a = format!(
        "{}{}{}{:02}{:02}{}",
        transport.ja4_prefix(),
        version_code(hello.highest_offered_version()),
        if hello.has_extension(SERVER_NAME) {
            'd'
        } else {
            'i'
        },
        ciphers.len().min(99),
        extensions.len().min(99),
        alpn_code(hello.alpn.first().map(Vec::as_slice)),
    );

    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort_unstable();
    let mut sorted_extensions: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|e| *e != SERVER_NAME && *e != ALPN)
        .collect();
    sorted_extensions.sort_unstable();

    let sorted_c = with_signature_algorithms(hex_list(&sorted_extensions), &signature_algorithms);
    let original_c = with_signature_algorithms(hex_list(&extensions), &signature_algorithms);
    let sorted_b = hex_list(&sorted_ciphers);
    let original_b = hex_list(&ciphers);

    let hash_or_empty = |list_is_empty: bool, text: &str| {
        if list_is_empty {
            EMPTY_HASH.to_string()
        } else {
            sha256_12(text)
        }
    };
    Ja4 {
        ja4: format!(
            "{part_a}_{}_{}",
            hash_or_empty(ciphers.is_empty(), &sorted_b),
            hash_or_empty(sorted_extensions.is_empty(), &sorted_c)
        ),
        ja4_r: format!("{part_a}_{sorted_b}_{sorted_c}"),
        ja4_o: format!(
            "{part_a}_{}_{}",
            hash_or_empty(ciphers.is_empty(), &original_b),
            hash_or_empty(extensions.is_empty(), &original_c)
        ),
        ja4_ro: format!("{part_a}_{original_b}_{original_c}"),
    }
}

fn with_signature_algorithms(mut extensions: String, signature_algorithms: &[u16]) -> String {
    if !signature_algorithms.is_empty() {
        extensions.push('_');
        extensions.push_str(&hex_list(signature_algorithms));
    }
    extensions
}

/// Two-character version code of the JA4 specification.
pub(crate) fn version_code(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 | 0x0200 => "s2",
        0x0100 => "s1",
        0xFEFF => "d1",
        0xFEFD => "d2",
        0xFEFC => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN protocol (`00` when absent).
pub(crate) fn alpn_code(first_protocol: Option<&[u8]>) -> String {
    let Some(protocol) = first_protocol.filter(|p| !p.is_empty()) else {
        return "00".to_string();
    };
    let (first, last) = (protocol[0], protocol[protocol.len() - 1]);
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        format!("{}{}", first as char, last as char)
    } else {
        let hex = hex::encode(protocol);
        let mut code = String::with_capacity(2);
        code.extend(hex.chars().next());
        code.extend(hex.chars().last());
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::extensions::RawExtension;

    /// The worked example of the JA4 specification text.
    fn spec_example() -> ClientHello {
        let extensions = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: extensions
                .into_iter()
                .map(|extension_type| RawExtension {
                    extension_type,
                    length: 0,
                    data: Vec::new(),
                })
                .collect(),
            supported_versions: vec![0x2A2A, 0x0304, 0x0303],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..ClientHello::default()
        }
    }

    #[test]
    fn matches_the_specification_example() {
        let fingerprint = ja4(&spec_example(), Transport::Tcp);
        assert_eq!(fingerprint.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(fingerprint.ja4_o, "t13d1516h2_acb858a92679_18f69afefd3d");
        assert_eq!(
            fingerprint.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            fingerprint.ja4_ro,
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601"
        );
    }

    #[test]
    fn no_signature_algorithms_means_no_underscore() {
        let mut hello = spec_example();
        hello.signature_algorithms.clear();
        // The specification: "...,4469,ff01 = 6d807ffa2a79".
        assert!(ja4(&hello, Transport::Tcp).ja4.ends_with("_6d807ffa2a79"));
    }

    #[test]
    fn alpn_and_empty_edge_cases() {
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_code(Some(b"h")), "hh");
        assert_eq!(alpn_code(Some(&[0xAB, 0xCD])), "ad");
        let empty = ClientHello {
            legacy_version: 0x0301,
            ..ClientHello::default()
        };
        assert_eq!(
            ja4(&empty, Transport::Quic).ja4,
            "q10i000000_000000000000_000000000000"
        );
    }
}
