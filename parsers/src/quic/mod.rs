//! QUIC v1 (RFC 9000/9001) and v2 (RFC 9369) Initial packets, and those of
//! the versions before them still seen (drafts 23 to 34, mvfst, T050/T051).
//!
//! A QUIC connection starts with Initial packets whose payload is encrypted
//! with keys derived from public values: the version's salt and the
//! client's original Destination Connection ID. A passive sensor can
//! therefore decrypt them and read the TLS ClientHello and ServerHello they
//! carry in CRYPTO frames, which is what this module is for. Nothing past the
//! Initial packet number space is (or can be) decrypted.
//!
//! Typical use for client traffic:
//! ```
//! use cipherlens_parsers::quic::{CryptoStream, Side, decrypt_initials, peek_long_header};
//!
//! fn on_udp_payload(payload: &[u8], stream: &mut CryptoStream) {
//!     if peek_long_header(payload).is_none() {
//!         return; // not a QUIC long header
//!     }
//!     if let Ok(initials) = decrypt_initials(payload, Side::Client, None) {
//!         for packet in &initials {
//!             let _ = stream.insert_packet(packet);
//!         }
//!     }
//!     if let Some(client_hello) = stream.first_handshake_message() {
//!         // hand the ClientHello to the TLS parser
//!         let _ = client_hello;
//!     }
//! }
//! # on_udp_payload(&[], &mut CryptoStream::default());
//! ```
//!
//! Submodules, one job each:
//! - `varint` and `reader`: bounded decoding of QUIC integers and fields.
//! - `version`: per-version salts, labels and packet type bits.
//! - `keys`: the Initial key schedule ([`InitialKeys`]).
//! - `packet`: long-header framing and coalesced packets.
//! - `protection`: header protection removal and AEAD decryption.
//! - `frames`: the frames allowed in Initial packets; `google_frames`:
//!   those of Google's T050/T051.
//! - `crypto_stream`: CRYPTO data reassembly ([`CryptoStream`]).
//! - `datagram`: all of the above for one UDP datagram.
//! - `handshake`: Handshake packets opened with a key log's secrets.

mod crypto_stream;
mod datagram;
mod error;
mod frames;
mod google_frames;
mod handshake;
mod keys;
mod packet;
mod protection;
mod reader;
mod varint;
mod version;

pub use crypto_stream::{CryptoStream, DEFAULT_MAX_CRYPTO_BYTES};
pub use datagram::{
    DatagramInitials, SkipReason, SkippedPacket, decrypt_datagram, decrypt_datagram_with,
    decrypt_initials, decrypt_initials_with,
};
pub use error::QuicError;
pub use frames::{
    AckFrame, ConnectionClose, EcnCounts, FRAME_ACK, FRAME_ACK_ECN, FRAME_CONNECTION_CLOSE,
    FRAME_CONNECTION_CLOSE_APP, FRAME_CRYPTO, FRAME_PADDING, FRAME_PING, InitialFrame,
    InitialFrames, initial_frames, parse_initial_frames,
};
pub use handshake::{HandshakeCrypto, HandshakeKeys, has_handshake_packet, open_handshake_packets};
pub use keys::{HP_KEY_LEN, IV_LEN, InitialKeys, KEY_LEN, PacketKeys, SAMPLE_LEN, SECRET_LEN};
pub use packet::{
    LongHeader, LongPacketType, ProtectedPacket, decode_packet_number, packet_number_len,
    peek_long_header, split_long_packet,
};
pub use protection::{DecryptedPacket, PacketProtection, decrypt_packet};
pub use varint::{VARINT_MAX, decode_varint, encode_varint};
pub use version::{
    GOOGLE_T050, GOOGLE_T051, QUIC_V1, QUIC_V2, VERSION_NEGOTIATION, is_greased_version,
    is_supported_version, version_name,
};

/// Which endpoint sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that opened the connection.
    Client,
    /// The endpoint that accepted it.
    Server,
}

/// A contiguous piece of the CRYPTO stream, from one CRYPTO frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoChunk {
    /// Offset of `data` in the Initial CRYPTO stream.
    pub offset: u64,
    /// The handshake bytes.
    pub data: Vec<u8>,
}

/// A decrypted Initial packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialPacket {
    /// The Version field.
    pub version: u32,
    /// Destination Connection ID.
    pub dcid: Vec<u8>,
    /// Source Connection ID.
    pub scid: Vec<u8>,
    /// The token (from a Retry or NEW_TOKEN); empty if none.
    pub token: Vec<u8>,
    /// The packet number as sent (truncated to `packet_number_len` bytes);
    /// expand with [`decode_packet_number`] if the largest earlier one is known.
    pub packet_number: u64,
    /// Length of the packet number field in bytes (1 to 4).
    pub packet_number_len: usize,
    /// The CRYPTO frames' data, in packet order (not stream order).
    pub crypto: Vec<CryptoChunk>,
    /// The type of every frame, in packet order; a run of PADDING bytes is
    /// listed once.
    pub frame_types: Vec<u64>,
    /// The CONNECTION_CLOSE frame, if the packet carried one.
    pub connection_close: Option<ConnectionClose>,
}
