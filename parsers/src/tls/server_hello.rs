//! ServerHello and HelloRetryRequest: what the server chose.
//!
//! Parsed here rather than by tls-parser because deployed TLS 1.3 drafts
//! (before draft 22) use a different layout that tls-parser rejects for most
//! draft numbers, and captures of them exist in the wild.

use super::HandshakeError;
use super::client_hello::Bytes32;
use super::extensions::{self as ext, RawExtension};
use super::reader::{Reader, Truncated};

/// SHA-256("HelloRetryRequest"): the fixed random of a HelloRetryRequest
/// (RFC 8446 section 4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// A parsed ServerHello or HelloRetryRequest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// The version field of the message.
    pub legacy_version: u16,
    /// Server random.
    pub random: Bytes32,
    /// Session id echoed or assigned by the server.
    pub session_id: Bytes32,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// The chosen compression method (anything but 0 is a finding).
    pub compression_method: u8,
    /// Extensions in wire order.
    pub extensions: Vec<RawExtension>,
    /// supported_versions as chosen by the server (TLS 1.3).
    pub selected_version: Option<u16>,
    /// key_share group chosen (or requested, in a HelloRetryRequest).
    pub key_share_group: Option<u16>,
    /// ALPN protocol chosen.
    pub alpn: Option<Vec<u8>>,
    /// This message is a HelloRetryRequest.
    pub is_hello_retry_request: bool,
    /// pre_shared_key accepted (TLS 1.3 resumption).
    pub has_pre_shared_key: bool,
    /// Empty session_ticket extension: the server will issue a ticket.
    pub has_session_ticket: bool,
    /// extended_master_secret negotiated.
    pub has_extended_master_secret: bool,
    /// encrypt_then_mac negotiated.
    pub has_encrypt_then_mac: bool,
    /// renegotiation_info present.
    pub has_renegotiation_info: bool,
    /// Extension types whose body did not decode.
    pub malformed_extensions: Vec<u16>,
}

impl ServerHello {
    /// Parses a ServerHello body (without the four-byte handshake header).
    pub fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        Self::parse_fields(body).map_err(|Truncated { field }| HandshakeError::Truncated(field))
    }

    fn parse_fields(body: &[u8]) -> Result<Self, Truncated> {
        let mut reader = Reader::new(body);
        let legacy_version = reader.u16("ServerHello version")?;
        let random = Bytes32::from_slice(reader.take(32, "ServerHello random")?);
        let early_draft = is_early_tls13_draft(legacy_version);
        let session_id = if early_draft {
            Bytes32::new()
        } else {
            Bytes32::from_slice(reader.vec8("ServerHello session id")?)
        };
        let cipher_suite = reader.u16("ServerHello cipher suite")?;
        let compression_method = if early_draft {
            0
        } else {
            reader.u8("ServerHello compression")?
        };
        // SSLv3 and some TLS 1.0 servers omit the extension block entirely.
        let extension_block = if reader.is_empty() {
            None
        } else {
            Some(reader.vec16("ServerHello extensions")?)
        };
        let mut hello = ServerHello {
            legacy_version,
            is_hello_retry_request: random[..] == HELLO_RETRY_REQUEST_RANDOM,
            random,
            session_id,
            cipher_suite,
            compression_method,
            ..ServerHello::default()
        };
        if let Some(block) = extension_block {
            hello.extensions = ext::split_extensions(block, |extension_type, body| {
                hello.decode_extension_or_note(extension_type, body)
            })?;
        }
        Ok(hello)
    }

    fn decode_extension_or_note(&mut self, extension_type: u16, body: &[u8]) {
        if let Err(Truncated { field }) = self.decode_extension(extension_type, body) {
            tracing::debug!(
                extension = extension_type,
                field,
                "malformed ServerHello extension"
            );
            self.malformed_extensions.push(extension_type);
        }
    }

    fn decode_extension(&mut self, extension_type: u16, body: &[u8]) -> Result<(), Truncated> {
        let mut reader = Reader::new(body);
        match extension_type {
            ext::SUPPORTED_VERSIONS => {
                self.selected_version = Some(reader.u16("selected_version")?)
            }
            ext::KEY_SHARE => self.key_share_group = Some(reader.u16("key_share group")?),
            ext::ALPN => self.alpn = ext::alpn_protocols(body)?.into_iter().next(),
            ext::PRE_SHARED_KEY => self.has_pre_shared_key = true,
            ext::SESSION_TICKET => self.has_session_ticket = true,
            ext::EXTENDED_MASTER_SECRET => self.has_extended_master_secret = true,
            ext::ENCRYPT_THEN_MAC => self.has_encrypt_then_mac = true,
            ext::RENEGOTIATION_INFO => self.has_renegotiation_info = true,
            _ => {}
        }
        Ok(())
    }

    /// The negotiated protocol version: supported_versions when present,
    /// else the message's version field.
    pub fn negotiated_version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// TLS 1.3 drafts before 22 (0x7F00-0x7F15), Facebook's early drafts
/// (0x7E01-0x7EFF) and the earliest drafts that sent 0x0304 itself used a
/// ServerHello without session id and compression. (RFC 8446 servers always
/// send 0x0303 here, so 0x0304 only ever means such a draft.)
fn is_early_tls13_draft(version: u16) -> bool {
    // 0x7E01-0x7EFF and 0x7F00-0x7F15 are adjacent ranges.
    matches!(version, 0x7E01..=0x7F15 | 0x0304)
}

/// Parameters visible in a ServerKeyExchange (RFC 8422 section 5.4, RFC 5246 section 7.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerKeyExchange {
    /// Named group of an ECDHE exchange.
    pub named_group: Option<u16>,
    /// Size of the finite-field DH prime in bits, for DHE exchanges.
    pub dh_prime_bits: Option<u32>,
}

/// Key exchange family of the chosen suite, which decides how to read a ServerKeyExchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchangeFamily {
    /// ECDHE / ECDH_anon: ServerECDHParams.
    EllipticCurve,
    /// DHE / DH_anon: ServerDHParams.
    FiniteField,
    /// Anything else (RSA, PSK, SRP...).
    Other,
}

impl KeyExchangeFamily {
    /// Family of a cipher suite from tls-parser's IANA table.
    pub fn of_cipher_suite(suite: u16) -> Self {
        use tls_parser::TlsCipherKx;
        match tls_parser::TlsCipherSuite::from_id(suite).map(|s| s.kx) {
            Some(TlsCipherKx::Ecdhe | TlsCipherKx::Ecdh | TlsCipherKx::Aecdh) => {
                Self::EllipticCurve
            }
            Some(TlsCipherKx::Dhe | TlsCipherKx::Dh) => Self::FiniteField,
            _ => Self::Other,
        }
    }
}

impl ServerKeyExchange {
    /// Reads the visible parameters of a ServerKeyExchange body.
    pub fn parse(body: &[u8], family: KeyExchangeFamily) -> Result<Self, HandshakeError> {
        let truncated = |e: Truncated| HandshakeError::Truncated(e.field);
        let mut reader = Reader::new(body);
        match family {
            KeyExchangeFamily::EllipticCurve => {
                const NAMED_CURVE: u8 = 3;
                let curve_type = reader.u8("ECParameters curve_type").map_err(truncated)?;
                if curve_type != NAMED_CURVE {
                    return Ok(Self::default());
                }
                let group = reader.u16("ECParameters named_curve").map_err(truncated)?;
                Ok(Self {
                    named_group: Some(group),
                    dh_prime_bits: None,
                })
            }
            KeyExchangeFamily::FiniteField => {
                let prime = reader.vec16("ServerDHParams dh_p").map_err(truncated)?;
                let significant = prime.iter().skip_while(|byte| **byte == 0).count();
                let leading_bits = prime
                    .iter()
                    .find(|byte| **byte != 0)
                    .map_or(0, |byte| 8 - byte.leading_zeros());
                let bits = significant.saturating_sub(1) * 8 + leading_bits as usize;
                Ok(Self {
                    named_group: None,
                    dh_prime_bits: u32::try_from(bits).ok(),
                })
            }
            KeyExchangeFamily::Other => Ok(Self::default()),
        }
    }
}
