//! SSLv2-compatible ClientHello (RFC 5246 appendix E.2).
//!
//! Old clients (and some scanners) open with an SSLv2-format hello that
//! offers SSLv3/TLS. It is tolerated and reported: its TLS-mappable cipher
//! specs become cipher suites, and `sslv2_format` tells operators they saw one.

use super::HandshakeError;
use super::client_hello::ClientHello;
use super::reader::Reader;

/// SSLv2 message type CLIENT-HELLO.
const SSLV2_CLIENT_HELLO: u8 = 1;

/// Length of the two-byte SSLv2 record header, if `bytes` starts with one
/// that carries a CLIENT-HELLO: `(header_len, body_len)`.
pub(crate) fn sslv2_client_hello_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let (&first, &second, &message_type, &major) =
        (bytes.first()?, bytes.get(1)?, bytes.get(2)?, bytes.get(3)?);
    if first & 0x80 == 0 || message_type != SSLV2_CLIENT_HELLO {
        return None;
    }
    // Version 0x0002 (SSL 2.0) or 0x03xx (SSLv3/TLS offered in v2 format).
    if major != 0x00 && major != 0x03 {
        return None;
    }
    let length = (usize::from(first & 0x7F) << 8) | usize::from(second);
    (length >= 9).then_some((2, length))
}

/// Parses an SSLv2 CLIENT-HELLO body (starting at the message type byte).
pub fn parse_sslv2_client_hello(body: &[u8]) -> Result<ClientHello, HandshakeError> {
    let mut reader = Reader::new(body);
    let truncated = |e: super::reader::Truncated| HandshakeError::Truncated(e.field);
    let message_type = reader.u8("SSLv2 message type").map_err(truncated)?;
    if message_type != SSLV2_CLIENT_HELLO {
        return Err(HandshakeError::Malformed(
            "SSLv2 message is not CLIENT-HELLO",
        ));
    }
    let version = reader.u16("SSLv2 version").map_err(truncated)?;
    let cipher_specs_length = reader.u16("SSLv2 cipher specs length").map_err(truncated)?;
    let session_id_length = reader.u16("SSLv2 session id length").map_err(truncated)?;
    let challenge_length = reader.u16("SSLv2 challenge length").map_err(truncated)?;
    if cipher_specs_length % 3 != 0 {
        return Err(HandshakeError::Malformed(
            "SSLv2 cipher specs length not a multiple of 3",
        ));
    }
    let specs = reader
        .take(usize::from(cipher_specs_length), "SSLv2 cipher specs")
        .map_err(truncated)?;
    let session_id = reader
        .take(usize::from(session_id_length), "SSLv2 session id")
        .map_err(truncated)?;
    let challenge = reader
        .take(usize::from(challenge_length), "SSLv2 challenge")
        .map_err(truncated)?;
    // Specs with a zero first byte are TLS cipher suites; others are
    // SSLv2-only kinds, kept in the 24-bit space above u16 by dropping them
    // from the suite list (they have no TLS code point).
    let cipher_suites = specs
        .as_chunks::<3>()
        .0
        .iter()
        .filter(|[kind, _, _]| *kind == 0)
        .map(|[_, high, low]| u16::from_be_bytes([*high, *low]))
        .collect();
    Ok(ClientHello {
        legacy_version: version,
        random: challenge.into(),
        session_id: session_id.into(),
        cipher_suites,
        sslv2_format: true,
        ..ClientHello::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v2_hello_offering_tls10() {
        // Layout per RFC 5246 appendix E.2: type, version, three lengths, specs, sid, challenge.
        let mut body = vec![1, 0x03, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x10];
        body.extend_from_slice(&[0x00, 0x00, 0x2F, 0x07, 0x00, 0xC0]);
        body.extend_from_slice(&[0xAB; 16]);
        let hello = parse_sslv2_client_hello(&body).expect("valid");
        assert_eq!(hello.legacy_version, 0x0301);
        assert_eq!(hello.cipher_suites, vec![0x002F]);
        assert!(hello.sslv2_format);
        let mut record = vec![0x80, body.len() as u8];
        record.extend_from_slice(&body);
        assert_eq!(sslv2_client_hello_header(&record), Some((2, body.len())));
        for cut in 0..body.len() {
            assert!(parse_sslv2_client_hello(&body[..cut]).is_err());
        }
    }
}
