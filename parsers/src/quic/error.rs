//! The one error type of the QUIC module.
//!
//! Everything here parses bytes an attacker may have chosen, so every way the
//! input can be wrong has a variant with a message that says what was wrong
//! and where, instead of a panic or a silent `None`.

use super::packet::LongPacketType;

/// Why a QUIC datagram, packet, frame or CRYPTO chunk could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuicError {
    /// The datagram (or the part left after a coalesced packet) was empty.
    #[error("empty QUIC datagram")]
    EmptyDatagram,

    /// The first byte does not have the long-header form bit set.
    #[error("not a QUIC long header packet (first byte {first_byte:#04x})")]
    NotLongHeader {
        /// The offending first byte.
        first_byte: u8,
    },

    /// A field needed more bytes than were left in its enclosing buffer.
    #[error("truncated {field}: needs {needed} bytes, only {available} left")]
    Truncated {
        /// Which field was being read.
        field: &'static str,
        /// How many bytes the field needed.
        needed: u64,
        /// How many bytes were left.
        available: usize,
    },

    /// The packet's version has no known Initial salt (or packet types).
    #[error("unsupported QUIC version {0:#010x}")]
    UnsupportedVersion(u32),

    /// A connection ID longer than the version allows.
    #[error("{which} connection ID is {len} bytes, more than the {max} allowed")]
    ConnectionIdTooLong {
        /// "destination" or "source".
        which: &'static str,
        /// The length byte from the header.
        len: usize,
        /// The limit for this version.
        max: usize,
    },

    /// A packet too short to hold the 4-byte packet-number allowance plus the
    /// 16-byte header-protection sample (RFC 9001 section 5.4.2).
    #[error("packet payload of {available} bytes is too short for a header protection sample")]
    TooShortForHeaderProtection {
        /// Bytes from the start of the packet number to the packet's end.
        available: usize,
    },

    /// The AEAD tag did not verify: wrong keys (wrong DCID, wrong side,
    /// wrong version) or a corrupted packet.
    #[error("AEAD authentication failed for Initial packet (wrong keys or corrupted packet)")]
    DecryptionFailed,

    /// Deriving keys failed inside the crypto library (should not happen for
    /// the fixed lengths used here).
    #[error("initial key derivation failed")]
    KeyDerivationFailed,

    /// `decrypt_initials` was asked to decrypt server packets without the
    /// client's original Destination Connection ID.
    #[error(
        "decrypting server Initial packets needs the client's original destination connection ID"
    )]
    MissingOriginalDcid,

    /// Keys derived for one version were applied to a packet of another.
    #[error(
        "keys derived for version {keys_version:#010x} cannot decrypt a version {packet_version:#010x} packet"
    )]
    VersionMismatch {
        /// Version the keys were derived for.
        keys_version: u32,
        /// Version on the packet.
        packet_version: u32,
    },

    /// A single-packet API was given a packet that is not an Initial.
    #[error("expected an Initial packet, found {0:?}")]
    NotInitial(LongPacketType),

    /// A decrypted Initial packet carried no frames at all.
    #[error("Initial packet has an empty payload")]
    EmptyPayload,

    /// A frame type that RFC 9000 section 17.2.2 does not allow in Initial
    /// packets (or an unknown one).
    #[error("frame type {frame_type:#x} is not allowed in an Initial packet")]
    FrameNotAllowed {
        /// The frame type as decoded.
        frame_type: u64,
    },

    /// An ACK frame whose ranges would go below packet number 0.
    #[error("ACK frame range goes below packet number 0")]
    InvalidAckRange,

    /// A CRYPTO frame whose offset plus length passes 2^62 - 1.
    #[error("CRYPTO frame at offset {offset} with length {len} passes the maximum stream offset")]
    CryptoOffsetOverflow {
        /// Offset from the frame.
        offset: u64,
        /// Length from the frame.
        len: u64,
    },

    /// CRYPTO data would end past the reassembly bound.
    #[error(
        "CRYPTO data at offset {offset} with length {len} ends past the {max_bytes}-byte reassembly limit"
    )]
    CryptoLimitExceeded {
        /// Offset of the rejected chunk.
        offset: u64,
        /// Length of the rejected chunk.
        len: usize,
        /// The stream's configured bound.
        max_bytes: usize,
    },

    /// CRYPTO data that disagrees with bytes already received at the same
    /// offset (retransmissions must carry identical bytes).
    #[error("CRYPTO data at offset {offset} differs from bytes already received there")]
    CryptoDataConflict {
        /// Stream offset of the first differing byte.
        offset: u64,
    },
}
