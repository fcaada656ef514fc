//! What the encrypted part of a TLS 1.3 handshake holds, once its records
//! are opened with a key log's secret: EncryptedExtensions (RFC 8446
//! section 4.3.1), Certificate in its TLS 1.3 layout (section 4.4.2),
//! CertificateRequest, CertificateVerify and Finished.
//!
//! Why a module: the records are kept sealed while the connection runs
//! ([`super::record::TlsEvent::SealedRecord`]) and opened when the secrets
//! are at hand; [`open_handshake`] turns one direction's sealed records into
//! its handshake messages, up to its Finished (later records use traffic
//! keys a handshake secret does not give).

use super::HandshakeError;
use super::decrypt::{DecryptError, RecordOpener};
use super::extensions as ext;
use super::handshake_type as ht;
use super::reader::{Reader, Truncated};
use super::record::{TlsEvent, drain_handshake_messages};

/// A record as it was sent: its 5-byte header and its encrypted body.
pub type SealedRecord = ([u8; 5], Vec<u8>);

/// The server's EncryptedExtensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptedExtensions {
    /// Extension types, in the order sent.
    pub extension_types: Vec<u16>,
    /// The application protocol the server chose (ALPN).
    pub alpn: Option<Vec<u8>>,
}

impl EncryptedExtensions {
    pub fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        let truncated = |Truncated { field }| HandshakeError::Truncated(field);
        let mut reader = Reader::new(body);
        let mut extensions = Reader::new(reader.vec16("extensions").map_err(truncated)?);
        let mut parsed = Self::default();
        while !extensions.is_empty() {
            let extension_type = extensions.u16("extension type").map_err(truncated)?;
            let data = extensions.vec16("extension data").map_err(truncated)?;
            parsed.extension_types.push(extension_type);
            if extension_type == ext::ALPN {
                parsed.alpn = ext::alpn_protocols(data)
                    .map_err(truncated)?
                    .into_iter()
                    .next();
            }
        }
        Ok(parsed)
    }
}

/// DER certificates of a TLS 1.3 Certificate message, in the order sent:
/// a request context, then entries of certificate data and extensions.
pub fn parse_tls13_certificate(body: &[u8]) -> Result<Vec<Vec<u8>>, HandshakeError> {
    let truncated = |Truncated { field }| HandshakeError::Truncated(field);
    let mut reader = Reader::new(body);
    reader
        .vec8("certificate_request_context")
        .map_err(truncated)?;
    let list_length = u24(&mut reader)?;
    let list = reader
        .take(list_length, "certificate_list")
        .map_err(truncated)?;
    let mut entries = Reader::new(list);
    let mut chain = Vec::new();
    while !entries.is_empty() {
        let length = u24(&mut entries)?;
        let data = entries.take(length, "cert_data").map_err(truncated)?;
        entries
            .vec16("certificate entry extensions")
            .map_err(truncated)?;
        if data.is_empty() {
            return Err(HandshakeError::Malformed("empty certificate"));
        }
        chain.push(data.to_vec());
    }
    Ok(chain)
}

fn u24(reader: &mut Reader<'_>) -> Result<usize, HandshakeError> {
    let bytes = reader
        .take(3, "24-bit length")
        .map_err(|Truncated { field }| HandshakeError::Truncated(field))?;
    Ok(usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]))
}

/// What opening one direction gave.
#[derive(Debug, Default)]
pub struct Opened {
    /// Handshake messages (type, body), in order, up to Finished.
    pub messages: Vec<(u8, Vec<u8>)>,
    /// Records opened.
    pub records: usize,
    /// Records that did not open with this secret (0-RTT data, or wrong
    /// keys); they are passed over.
    pub unopened: usize,
    /// Why the direction could not be opened at all.
    pub error: Option<DecryptError>,
    /// A message the direction's handshake stream could not frame.
    pub framing_error: Option<String>,
}

/// Opens `records` with `secret` under `cipher_suite` and collects the
/// handshake messages they carry, up to and including Finished.
pub fn open_handshake(
    records: &[SealedRecord],
    cipher_suite: u16,
    secret: &[u8],
    max_message: usize,
) -> Opened {
    let mut opened = Opened::default();
    let mut opener = match RecordOpener::new(cipher_suite, secret) {
        Ok(opener) => opener,
        Err(error) => {
            opened.error = Some(error);
            return opened;
        }
    };
    let mut pending = Vec::new();
    let mut events = Vec::new();
    for (header, body) in records {
        let (content_type, content) = match opener.open(*header, body) {
            Ok(inner) => inner,
            Err(_) => {
                opened.unopened += 1;
                continue;
            }
        };
        opened.records += 1;
        if content_type != super::content_type::HANDSHAKE {
            // An alert (or application data) ends the handshake part.
            break;
        }
        pending.extend_from_slice(&content);
        if let Err(error) = drain_handshake_messages(&mut pending, max_message, &mut events) {
            opened.framing_error = Some(error.to_string());
            break;
        }
        let mut finished = false;
        for event in events.drain(..) {
            if let TlsEvent::Handshake { message_type, body } = event {
                finished |= message_type == ht::FINISHED;
                opened.messages.push((message_type, body));
            }
        }
        if finished {
            break;
        }
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_extensions_and_a_tls13_certificate() {
        // ALPN "h2", then server_name (empty), per RFC 8446 4.3.1.
        let body = [0, 13, 0, 16, 0, 5, 0, 3, 2, b'h', b'2', 0, 0, 0, 0];
        let parsed = EncryptedExtensions::parse(&body).expect("EE");
        assert_eq!(parsed.extension_types, vec![16, 0]);
        assert_eq!(parsed.alpn.as_deref(), Some(&b"h2"[..]));
        assert!(EncryptedExtensions::parse(&[0, 9, 0, 16]).is_err());

        // Empty context; two entries, the first with an empty extension list.
        let body = [
            0, 0, 0, 14, 0, 0, 2, 0xAA, 0xBB, 0, 0, 0, 0, 1, 0xCC, 0, 0, 0,
        ];
        assert!(parse_tls13_certificate(&body).is_err());
        let body = [0, 0, 0, 13, 0, 0, 2, 0xAA, 0xBB, 0, 0, 0, 0, 1, 0xCC, 0, 0];
        assert_eq!(
            parse_tls13_certificate(&body),
            Ok(vec![vec![0xAA, 0xBB], vec![0xCC]])
        );
    }
}
