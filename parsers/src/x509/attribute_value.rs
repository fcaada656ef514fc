//! Turning a name attribute's ASN.1 value into text.
//!
//! Distinguished names mix several ASN.1 string types (PrintableString and
//! UTF8String mostly, but old CAs still use TeletexString, BMPString and
//! UniversalString), and x509-parser only decodes some of them. Inventory
//! output needs the readable text whatever the encoding, and RFC 4514 needs
//! the exact DER of values that are not text, so both live here.

use x509_parser::asn1_rs::{Any, Class, Tag};

/// The value as text, when it is one of the ASN.1 character string types
/// and its bytes are valid for that type; `None` otherwise.
pub(crate) fn attribute_text(value: &Any<'_>) -> Option<String> {
    if value.header.class() != Class::Universal || value.header.is_constructed() {
        return None;
    }
    let bytes = value.data;
    match value.header.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(bytes).ok().map(str::to_owned),
        // T.61 in practice carries ISO 8859-1 text (as OpenSSL assumes too).
        Tag::TeletexString => Some(bytes.iter().map(|&byte| char::from(byte)).collect()),
        Tag::BmpString => decode_utf16_big_endian(bytes),
        Tag::UniversalString => decode_utf32_big_endian(bytes),
        _ => None,
    }
}

/// RFC 4514 section 2.4 hex form of a value: `#` then the hex of its whole
/// DER encoding (identifier, length and contents).
pub(crate) fn hex_der_form(value: &Any<'_>) -> String {
    let mut der = Vec::with_capacity(value.data.len() + 6);
    push_identifier(value, &mut der);
    push_definite_length(value.data.len(), &mut der);
    der.extend_from_slice(value.data);
    format!("#{}", hex::encode_upper(der))
}

fn decode_utf16_big_endian(bytes: &[u8]) -> Option<String> {
    let (pairs, odd_byte) = bytes.as_chunks::<2>();
    if !odd_byte.is_empty() {
        return None;
    }
    let units = pairs.iter().map(|&pair| u16::from_be_bytes(pair));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn decode_utf32_big_endian(bytes: &[u8]) -> Option<String> {
    let (quads, leftover) = bytes.as_chunks::<4>();
    if !leftover.is_empty() {
        return None;
    }
    quads
        .iter()
        .map(|&quad| char::from_u32(u32::from_be_bytes(quad)))
        .collect()
}

/// X.690 8.1.2 identifier octets.
fn push_identifier(value: &Any<'_>, out: &mut Vec<u8>) {
    let class_bits = (value.header.class() as u8) << 6;
    let constructed_bit = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    let Tag(number) = value.header.tag();
    if number < 31 {
        // Fits in the low five bits (checked just above).
        out.push(class_bits | constructed_bit | number as u8);
        return;
    }
    out.push(class_bits | constructed_bit | 0x1f);
    push_base128(number, out);
}

/// Base-128 with the high bit set on every byte but the last (X.690 8.1.2.4.2).
fn push_base128(mut number: u32, out: &mut Vec<u8>) {
    let mut groups = Vec::with_capacity(5);
    loop {
        groups.push((number & 0x7f) as u8);
        number >>= 7;
        if number == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    for (index, group) in groups.iter().rev().enumerate() {
        out.push(if index == last { *group } else { group | 0x80 });
    }
}

/// X.690 10.1 definite length in the minimum number of octets.
fn push_definite_length(length: usize, out: &mut Vec<u8>) {
    if length < 0x80 {
        // Short form: below 128, so it fits in seven bits.
        out.push(length as u8);
        return;
    }
    let be = length.to_be_bytes();
    let significant = be.iter().skip_while(|&&byte| byte == 0).count();
    // At most size_of::<usize>() bytes, far below 127.
    out.push(0x80 | significant as u8);
    out.extend_from_slice(&be[be.len() - significant..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::asn1_rs::FromDer;

    fn any(der: &[u8]) -> Any<'_> {
        let (rest, value) = Any::from_der(der).expect("test DER is valid");
        assert!(rest.is_empty());
        value
    }

    #[test]
    fn printable_and_utf8_strings_are_text() {
        assert_eq!(attribute_text(&any(b"\x13\x02US")).as_deref(), Some("US"));
        assert_eq!(
            attribute_text(&any(b"\x0c\x03\xc3\xa9e")).as_deref(),
            Some("\u{e9}e")
        );
    }

    #[test]
    fn bmp_universal_and_teletex_strings_are_decoded() {
        assert_eq!(
            attribute_text(&any(b"\x1e\x04\x00A\x00\xe9")).as_deref(),
            Some("A\u{e9}")
        );
        assert_eq!(
            attribute_text(&any(b"\x1c\x04\x00\x01\xf6\x00")).as_deref(),
            Some("\u{1f600}")
        );
        assert_eq!(
            attribute_text(&any(b"\x14\x01\xe9")).as_deref(),
            Some("\u{e9}")
        );
    }

    #[test]
    fn odd_length_bmp_string_and_non_strings_are_not_text() {
        assert_eq!(attribute_text(&any(b"\x1e\x03\x00A\x00")), None);
        assert_eq!(attribute_text(&any(b"\x02\x01\x05")), None);
        assert_eq!(attribute_text(&any(b"\x0c\x01\xff")), None);
    }

    #[test]
    fn hex_form_reencodes_identifier_and_length() {
        assert_eq!(hex_der_form(&any(b"\x02\x01\x05")), "#020105");
        let long = [&[0x04, 0x81, 0x80][..], &[0xab; 128]].concat();
        assert!(hex_der_form(&any(&long)).starts_with("#048180ABAB"));
        assert_eq!(hex_der_form(&any(b"\x1f\x81\x00\x00")), "#1F810000");
    }
}
