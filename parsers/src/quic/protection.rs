//! Removing header protection and decrypting one long-header packet
//! (RFC 9001 sections 5.3 and 5.4).
//!
//! The packet number and the low bits of the first byte are masked with AES
//! output taken from a sample of the ciphertext; only after unmasking them is
//! it known where the header ends and which nonce to use. This module does
//! exactly that for one packet that `packet` has already delimited, and
//! leaves the plaintext frames to `frames`.

use super::error::QuicError;
use super::keys::{PacketKeys, SAMPLE_LEN};

/// What removes a packet's protection: header protection and the AEAD.
/// Initial keys ([`PacketKeys`]) and Handshake keys from a key log
/// ([`super::HandshakeKeys`]) both do.
pub trait PacketProtection {
    /// The 5-byte header protection mask for a 16-byte `sample`.
    fn header_mask(&self, sample: &[u8]) -> Result<[u8; 5], QuicError>;
    /// Decrypts `ciphertext_and_tag` in place, `header` as associated data.
    fn open_in_place<'buf>(
        &self,
        packet_number: u64,
        header: &[u8],
        ciphertext_and_tag: &'buf mut [u8],
    ) -> Result<&'buf mut [u8], QuicError>;
}

impl PacketProtection for PacketKeys {
    fn header_mask(&self, sample: &[u8]) -> Result<[u8; 5], QuicError> {
        PacketKeys::header_mask(self, sample)
    }

    fn open_in_place<'buf>(
        &self,
        packet_number: u64,
        header: &[u8],
        ciphertext_and_tag: &'buf mut [u8],
    ) -> Result<&'buf mut [u8], QuicError> {
        PacketKeys::open_in_place(self, packet_number, header, ciphertext_and_tag)
    }
}
use super::packet::{ProtectedPacket, packet_number_len};

/// Bits of a long header's first byte covered by header protection.
const LONG_HEADER_PROTECTED_BITS: u8 = 0x0f;
/// Reserved bits of a long header's first byte, which must be zero.
const LONG_HEADER_RESERVED_BITS: u8 = 0x0c;
/// The sample starts this many bytes after the start of the packet number,
/// whatever the packet number's real length (RFC 9001 section 5.4.2).
const SAMPLE_OFFSET_FROM_PN: usize = 4;

/// A long-header packet with header protection removed and payload decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedPacket {
    /// The first byte with header protection removed.
    pub first_byte: u8,
    /// The truncated packet number as sent (see
    /// [`decode_packet_number`](super::decode_packet_number) to expand it).
    pub packet_number: u64,
    /// Length of the packet number field in bytes (1 to 4).
    pub packet_number_len: usize,
    /// The unprotected header, first byte through packet number.
    pub header: Vec<u8>,
    /// The decrypted frames.
    pub payload: Vec<u8>,
}

/// Removes header protection from `packet` and decrypts its payload with
/// `keys`. Fails with `DecryptionFailed` if the AEAD tag does not verify.
pub fn decrypt_packet(
    packet: &ProtectedPacket<'_>,
    keys: &impl PacketProtection,
) -> Result<DecryptedPacket, QuicError> {
    let pn_offset = packet
        .packet_number_offset
        .ok_or(QuicError::NotInitial(packet.packet_type))?;
    let after_pn = packet.bytes.get(pn_offset..).unwrap_or_default();
    let sample = after_pn
        .get(SAMPLE_OFFSET_FROM_PN..SAMPLE_OFFSET_FROM_PN + SAMPLE_LEN)
        .ok_or(QuicError::TooShortForHeaderProtection {
            available: after_pn.len(),
        })?;
    let mask = keys.header_mask(sample)?;

    let first_byte = packet.first_byte ^ (mask[0] & LONG_HEADER_PROTECTED_BITS);
    let pn_len = packet_number_len(first_byte);
    let header_len = pn_offset + pn_len;

    let mut buf = packet.bytes.to_vec();
    if let Some(first) = buf.first_mut() {
        *first = first_byte;
    }
    let mut packet_number = 0u64;
    if let Some(pn_bytes) = buf.get_mut(pn_offset..header_len) {
        for (byte, mask_byte) in pn_bytes.iter_mut().zip(mask.iter().skip(1)) {
            *byte ^= mask_byte;
            packet_number = (packet_number << 8) | u64::from(*byte);
        }
    }

    let (header, body) =
        buf.split_at_mut_checked(header_len)
            .ok_or(QuicError::TooShortForHeaderProtection {
                available: after_pn.len(),
            })?;
    let plaintext_len = keys.open_in_place(packet_number, header, body)?.len();

    if first_byte & LONG_HEADER_RESERVED_BITS != 0 {
        // A protocol violation for an endpoint; a passive observer just notes it.
        tracing::debug!(
            first_byte = format_args!("{first_byte:#04x}"),
            "QUIC long header reserved bits are not zero"
        );
    }

    buf.truncate(header_len + plaintext_len);
    let payload = buf.split_off(header_len);
    Ok(DecryptedPacket {
        first_byte,
        packet_number,
        packet_number_len: pn_len,
        header: buf,
        payload,
    })
}
