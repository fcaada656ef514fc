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

use super::{HEX_DIGITS, Transport, ascii_string, push_hex_list, push_sha256_12};
use smallvec::SmallVec;

use crate::tls::ClientHello;
use crate::tls::extensions::{ALPN, SERVER_NAME};
use crate::tls::names::is_grease;

/// JA4 and its raw (unhashed) form: what the sensor reports by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4 {
    /// `a_b_c` with sorted lists hashed.
    pub ja4: String,
    /// Sorted lists, not hashed.
    pub ja4_r: String,
}

/// The original-order JA4 forms (`ja4_o`, `ja4_ro`): wire order, SNI and
/// ALPN kept. The spec offers them for research; they cost two more hashes
/// and a second list rendering, so they are computed only when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4OriginalOrder {
    /// Original order, hashed.
    pub ja4_o: String,
    /// Original order, not hashed.
    pub ja4_ro: String,
}

const EMPTY_HASH: &str = "000000000000";

/// JA4 of a ClientHello sent over `transport`.
///
/// The raw form is rendered once into one buffer and the hashed form hashes
/// slices of it, so each list is formatted exactly once.
pub fn ja4(hello: &ClientHello, transport: Transport) -> Ja4 {
    let lists = Lists::of(hello);
    let part_a = part_a(hello, transport, &lists);
    let mut sorted_ciphers = ShortList::from_slice(&lists.ciphers);
    sorted_ciphers.sort_unstable();
    let mut sorted_extensions: ShortList = lists
        .extensions
        .iter()
        .copied()
        .filter(|e| *e != SERVER_NAME && *e != ALPN)
        .collect();
    sorted_extensions.sort_unstable();
    let sorted = RawForm::new(
        &part_a,
        &sorted_ciphers,
        &sorted_extensions,
        &lists.signature_algorithms,
    );
    Ja4 {
        ja4: sorted.hashed(&part_a, sorted_extensions.is_empty()),
        ja4_r: ascii_string(sorted.text),
    }
}

/// The original-order forms of JA4 (see [`Ja4OriginalOrder`]).
pub fn ja4_original_order(hello: &ClientHello, transport: Transport) -> Ja4OriginalOrder {
    let lists = Lists::of(hello);
    let part_a = part_a(hello, transport, &lists);
    let original = RawForm::new(
        &part_a,
        &lists.ciphers,
        &lists.extensions,
        &lists.signature_algorithms,
    );
    Ja4OriginalOrder {
        ja4_o: original.hashed(&part_a, lists.extensions.is_empty()),
        ja4_ro: ascii_string(original.text),
    }
}

/// A list of code points that fits on the stack for real hellos (a few
/// dozen values) and spills to the heap only for unusual ones.
type ShortList = SmallVec<[u16; 64]>;

/// The hello's lists with GREASE removed, in wire order.
struct Lists {
    ciphers: ShortList,
    extensions: ShortList,
    signature_algorithms: ShortList,
}

impl Lists {
    fn of(hello: &ClientHello) -> Self {
        Self {
            ciphers: without_grease(hello.cipher_suites.iter().copied()),
            extensions: without_grease(hello.extensions.iter().map(|e| e.extension_type)),
            signature_algorithms: without_grease(hello.signature_algorithms.iter().copied()),
        }
    }
}

fn without_grease(values: impl Iterator<Item = u16>) -> ShortList {
    values.filter(|value| !is_grease(*value)).collect()
}

/// Part `a`: transport, version, SNI, counts (capped at 99), ALPN.
fn part_a(hello: &ClientHello, transport: Transport, lists: &Lists) -> [u8; 10] {
    let [version_first, version_second] = version_code(hello.highest_offered_version());
    let sni = if hello.has_extension(SERVER_NAME) {
        b'd'
    } else {
        b'i'
    };
    let [cipher_tens, cipher_units] = two_digits(lists.ciphers.len());
    let [extension_tens, extension_units] = two_digits(lists.extensions.len());
    let [alpn_first, alpn_last] = alpn_code(hello.alpn.first().map(Vec::as_slice));
    [
        transport.ja4_prefix() as u8,
        version_first,
        version_second,
        sni,
        cipher_tens,
        cipher_units,
        extension_tens,
        extension_units,
        alpn_first,
        alpn_last,
    ]
}

/// One raw JA4 string, `a_b_c`, and where its `b` and `c` parts lie.
struct RawForm {
    text: Vec<u8>,
    ciphers: std::ops::Range<usize>,
    extensions: std::ops::Range<usize>,
}

impl RawForm {
    fn new(
        part_a: &[u8],
        ciphers: &[u16],
        extensions: &[u16],
        signature_algorithms: &[u16],
    ) -> Self {
        let mut text = Vec::with_capacity(
            part_a.len() + 3 + 5 * (ciphers.len() + extensions.len() + signature_algorithms.len()),
        );
        text.extend_from_slice(part_a);
        let ciphers_start = text.len() + 1;
        push_hex_list(&mut text, b'_', ciphers);
        let ciphers_range = ciphers_start..text.len();
        let extensions_start = text.len() + 1;
        push_hex_list(&mut text, b'_', extensions);
        if !signature_algorithms.is_empty() {
            push_hex_list(&mut text, b'_', signature_algorithms);
        }
        let extensions_range = extensions_start..text.len();
        Self {
            text,
            ciphers: ciphers_range,
            extensions: extensions_range,
        }
    }

    /// The hashed form; an empty list hashes to `000000000000` (the spec).
    fn hashed(&self, part_a: &[u8], no_extensions: bool) -> String {
        let mut out = Vec::with_capacity(part_a.len() + 26);
        out.extend_from_slice(part_a);
        out.push(b'_');
        match self.text.get(self.ciphers.clone()) {
            Some(ciphers) if !ciphers.is_empty() => push_sha256_12(&mut out, ciphers),
            _ => out.extend_from_slice(EMPTY_HASH.as_bytes()),
        }
        out.push(b'_');
        match self.text.get(self.extensions.clone()) {
            Some(extensions) if !no_extensions => push_sha256_12(&mut out, extensions),
            _ => out.extend_from_slice(EMPTY_HASH.as_bytes()),
        }
        ascii_string(out)
    }
}

/// Two decimal digits, capped at 99 as the spec says.
fn two_digits(count: usize) -> [u8; 2] {
    let count = count.min(99) as u8;
    [b'0' + count / 10, b'0' + count % 10]
}

/// Two-character version code of the JA4 specification.
pub(crate) fn version_code(version: u16) -> [u8; 2] {
    match version {
        0x0304 => *b"13",
        0x0303 => *b"12",
        0x0302 => *b"11",
        0x0301 => *b"10",
        0x0300 => *b"s3",
        0x0002 | 0x0200 => *b"s2",
        0x0100 => *b"s1",
        0xFEFF => *b"d1",
        0xFEFD => *b"d2",
        0xFEFC => *b"d3",
        _ => *b"00",
    }
}

/// First and last character of the first ALPN protocol (`00` when absent);
/// the first and last hex digit of the protocol when either character is
/// not ASCII alphanumeric.
pub(crate) fn alpn_code(first_protocol: Option<&[u8]>) -> [u8; 2] {
    let Some((&first, &last)) = first_protocol.and_then(|p| Some((p.first()?, p.last()?))) else {
        return *b"00";
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [first, last]
    } else {
        [
            HEX_DIGITS[usize::from(first >> 4)],
            HEX_DIGITS[usize::from(last & 0x0f)],
        ]
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
                })
                .collect(),
            supported_versions: [0x2A2A, 0x0304, 0x0303].into_iter().collect(),
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
        let original = ja4_original_order(&spec_example(), Transport::Tcp);
        assert_eq!(fingerprint.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(original.ja4_o, "t13d1516h2_acb858a92679_18f69afefd3d");
        assert_eq!(
            fingerprint.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            original.ja4_ro,
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
        assert_eq!(&alpn_code(None), b"00");
        assert_eq!(&alpn_code(Some(b"")), b"00");
        assert_eq!(&alpn_code(Some(b"http/1.1")), b"h1");
        assert_eq!(&alpn_code(Some(b"h")), b"hh");
        assert_eq!(&alpn_code(Some(&[0xAB, 0xCD])), b"ad");
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
