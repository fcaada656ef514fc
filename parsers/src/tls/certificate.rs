//! TLS 1.0-1.2 Certificate message: the chain in the order sent.
//!
//! (TLS 1.3 sends Certificate encrypted; it is never seen here.)

use super::HandshakeError;

/// DER certificates of a Certificate message body, in the order sent.
pub fn parse_certificate_chain(body: &[u8]) -> Result<Vec<Vec<u8>>, HandshakeError> {
    // tls-parser wants the message with its header; rebuild it cheaply.
    let length =
        u32::try_from(body.len()).map_err(|_| HandshakeError::Malformed("Certificate length"))?;
    if length > 0x00FF_FFFF {
        return Err(HandshakeError::Malformed("Certificate length"));
    }
    let mut message = Vec::with_capacity(body.len() + 4);
    message.push(super::handshake_type::CERTIFICATE);
    message.extend_from_slice(&length.to_be_bytes()[1..]);
    message.extend_from_slice(body);
    match tls_parser::parse_tls_message_handshake(&message) {
        Ok((
            _,
            tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::Certificate(
                contents,
            )),
        )) => Ok(contents
            .cert_chain
            .iter()
            .map(|cert| cert.data.to_vec())
            .collect()),
        _ => Err(HandshakeError::Malformed("Certificate chain")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_chain_in_order_and_rejects_bad_lengths() {
        // certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1> (RFC 5246 section 7.4.2).
        let body = [0, 0, 10, 0, 0, 2, 0xAA, 0xBB, 0, 0, 2, 0xCC, 0xDD];
        assert_eq!(
            parse_certificate_chain(&body),
            Ok(vec![vec![0xAA, 0xBB], vec![0xCC, 0xDD]])
        );
        assert!(parse_certificate_chain(&[0, 0, 20, 0, 0, 2, 0xAA]).is_err());
    }
}
