//! ClientHello: the message every fingerprint and most inventory fields
//! come from.
//!
//! The fixed part is parsed by tls-parser; the extension block is split here
//! in wire order and each extension that matters is decoded (see
//! [`super::extensions`]).

use super::HandshakeError;
use super::extensions::{self as ext, KeyShareEntry, RawExtension};
use super::names::is_grease;
use super::reader::Truncated;
use smallvec::SmallVec;

/// A random or a session id (32 bytes at most; a ServerHello's too), held
/// inline: a hello's short fields are not worth an allocation each (a
/// hello is parsed on the packet path and dropped on another thread).
pub type Bytes32 = SmallVec<[u8; 32]>;

/// A list of one-byte codes (compression methods, point formats, PSK
/// modes): one to three entries in practice, held inline.
pub type SmallBytes = SmallVec<[u8; 4]>;

/// A parsed ClientHello (TLS 1.0-1.3, SSLv3, or an SSLv2-compatible hello).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (the version field of the hello itself).
    pub legacy_version: u16,
    /// Client random (32 bytes; SSLv2 challenge bytes for SSLv2 hellos).
    pub random: Bytes32,
    /// Session id sent by the client (non-empty: resumption attempt or TLS 1.3 compatibility).
    pub session_id: Bytes32,
    /// Offered cipher suites in wire order, GREASE included.
    pub cipher_suites: Vec<u16>,
    /// Offered compression methods.
    pub compression_methods: SmallBytes,
    /// Extensions in wire order, GREASE included.
    pub extensions: Vec<RawExtension>,
    /// First host_name of server_name.
    pub server_name: Option<String>,
    /// ALPN protocol ids in offered order.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions in offered order.
    pub supported_versions: SmallVec<[u16; 8]>,
    /// supported_groups (elliptic_curves) in offered order.
    pub supported_groups: Vec<u16>,
    /// key_share entries in offered order.
    pub key_shares: SmallVec<[KeyShareEntry; 4]>,
    /// signature_algorithms in offered order.
    pub signature_algorithms: Vec<u16>,
    /// signature_algorithms_cert in offered order.
    pub signature_algorithms_cert: Vec<u16>,
    /// ec_point_formats in offered order.
    pub ec_point_formats: SmallBytes,
    /// psk_key_exchange_modes in offered order.
    pub psk_key_exchange_modes: SmallBytes,
    /// compress_certificate algorithms in offered order.
    pub certificate_compression: Vec<u16>,
    /// Length of the session_ticket extension body, when present (non-zero: a ticket is presented).
    pub session_ticket_length: Option<usize>,
    /// The pre_shared_key extension is present (TLS 1.3 resumption or external PSK).
    pub has_pre_shared_key: bool,
    /// The early_data extension is present (0-RTT offered).
    pub has_early_data: bool,
    /// encrypted_client_hello is present (real ECH and GREASE ECH look alike on the wire).
    pub has_encrypted_client_hello: bool,
    /// renegotiation_info extension or the SCSV is present.
    pub has_renegotiation_info: bool,
    /// Extension types whose body did not decode (the hello is still reported).
    pub malformed_extensions: Vec<u16>,
    /// This hello came in SSLv2-compatible format.
    pub sslv2_format: bool,
}

impl ClientHello {
    /// Parses a ClientHello body (the handshake message without its
    /// four-byte header).
    pub fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        let (_, fixed) = tls_parser::parse_tls_handshake_client_hello(body)
            .map_err(|_| HandshakeError::Malformed("ClientHello fixed fields"))?;
        let mut hello = ClientHello {
            legacy_version: fixed.version.0,
            random: fixed.random.into(),
            session_id: fixed
                .session_id
                .map(Bytes32::from_slice)
                .unwrap_or_default(),
            cipher_suites: fixed.ciphers.iter().map(|suite| suite.0).collect(),
            compression_methods: fixed.comp.iter().map(|method| method.0).collect(),
            ..ClientHello::default()
        };
        if let Some(block) = fixed.ext {
            hello.extensions = ext::split_extensions(block, |extension_type, body| {
                hello.decode_extension_or_note(extension_type, body)
            })
            .map_err(|Truncated { field }| HandshakeError::Truncated(field))?;
        }
        hello.has_renegotiation_info |= hello.cipher_suites.contains(&0x00FF);
        Ok(hello)
    }

    fn decode_extension_or_note(&mut self, extension_type: u16, body: &[u8]) {
        if let Err(Truncated { field }) = self.decode_extension(extension_type, body) {
            tracing::debug!(
                extension = extension_type,
                field,
                "malformed ClientHello extension"
            );
            self.malformed_extensions.push(extension_type);
        }
    }

    fn decode_extension(&mut self, extension_type: u16, body: &[u8]) -> Result<(), Truncated> {
        match extension_type {
            ext::SERVER_NAME => self.server_name = ext::server_name(body)?,
            ext::ALPN => self.alpn = ext::alpn_protocols(body)?,
            ext::SUPPORTED_VERSIONS => {
                self.supported_versions = ext::u16_list8(body, "supported_versions")?
            }
            ext::SUPPORTED_GROUPS => {
                self.supported_groups = ext::u16_list16(body, "supported_groups")?
            }
            ext::KEY_SHARE => self.key_shares = ext::client_key_share_groups(body)?,
            ext::SIGNATURE_ALGORITHMS => {
                self.signature_algorithms = ext::u16_list16(body, "signature_algorithms")?;
            }
            ext::SIGNATURE_ALGORITHMS_CERT => {
                self.signature_algorithms_cert =
                    ext::u16_list16(body, "signature_algorithms_cert")?;
            }
            ext::EC_POINT_FORMATS => {
                self.ec_point_formats = ext::u8_list8(body, "ec_point_formats")?.into()
            }
            ext::PSK_KEY_EXCHANGE_MODES => {
                self.psk_key_exchange_modes = ext::u8_list8(body, "psk_key_exchange_modes")?.into();
            }
            ext::COMPRESS_CERTIFICATE => {
                self.certificate_compression = ext::u16_list8(body, "compress_certificate")?;
            }
            ext::SESSION_TICKET => self.session_ticket_length = Some(body.len()),
            ext::PRE_SHARED_KEY => self.has_pre_shared_key = true,
            ext::EARLY_DATA => self.has_early_data = true,
            ext::ENCRYPTED_CLIENT_HELLO => self.has_encrypted_client_hello = true,
            ext::RENEGOTIATION_INFO => self.has_renegotiation_info = true,
            _ => {}
        }
        Ok(())
    }

    /// Whether an extension of this type was sent.
    pub fn has_extension(&self, extension_type: u16) -> bool {
        self.extensions
            .iter()
            .any(|e| e.extension_type == extension_type)
    }

    /// The highest version offered: the largest non-GREASE supported_versions
    /// value when that extension is present, else `legacy_version`.
    pub fn highest_offered_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|version| !is_grease(*version))
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// Whether any offered group or key share is post-quantum.
    pub fn offers_post_quantum(&self) -> bool {
        self.supported_groups
            .iter()
            .chain(self.key_shares.iter().map(|share| &share.group))
            .any(|group| super::names::is_post_quantum_group(*group))
    }
}
