//! TLS: record and handshake reassembly per direction, hello parsing, names.
//!
//! Layers, bottom up:
//! - [`record::RecordStream`]: bytes of one direction -> records -> complete
//!   handshake messages, alerts, ChangeCipherSpec, and the point where the
//!   direction turns encrypted. Finds the start of TLS after a plaintext
//!   prefix (STARTTLS) and accepts an SSLv2-compatible hello.
//! - [`client_hello`], [`server_hello`], [`certificate`]: message bodies.
//! - [`session::HandshakeTracker`]: both directions of one connection,
//!   summarised for records and fingerprints.
//! - [`keylog`], [`decrypt`]: secrets from an NSS key log, and the TLS 1.3
//!   records they open (the encrypted part of the handshake).

pub mod certificate;
pub mod client_hello;
pub mod decrypt;
pub mod encrypted;
pub mod extensions;
pub mod keylog;
pub mod names;
mod reader;
pub mod record;
pub mod server_hello;
pub mod session;
pub mod sslv2;

pub use client_hello::{Bytes32, ClientHello, SmallBytes};
pub use reader::Truncated;
pub use record::{RecordError, RecordLimits, RecordStream, TlsEvent};
pub use server_hello::{ServerHello, ServerKeyExchange};
pub use session::{AlertSeen, HandshakeSummary, HandshakeTracker, Peer};

/// Handshake message types (RFC 8446 section 4 and RFC 5246 section 7.4).
pub mod handshake_type {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const HELLO_RETRY_REQUEST_DRAFT: u8 = 6;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const CERTIFICATE_STATUS: u8 = 22;
    pub const KEY_UPDATE: u8 = 24;
}

/// Record content types (RFC 8446 section 5.1, RFC 6520).
pub mod content_type {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

/// A handshake message body that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A length field points past the end of the message.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The message does not have the structure its type requires.
    #[error("malformed {0}")]
    Malformed(&'static str),
}
