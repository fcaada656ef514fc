//! Reassembly of the Initial CRYPTO stream (RFC 9000 sections 19.6 and 7.5).
//!
//! The ClientHello travels as CRYPTO frames that each say at which offset of
//! the handshake byte stream their data belongs. Clients split it into many
//! frames, send them out of order (Chrome shuffles them on purpose), spread
//! them over several packets and datagrams, and retransmit overlapping
//! pieces. A TLS parser wants the plain byte stream from offset 0, so this
//! module puts the pieces back in place.
//!
//! Memory is bounded: the stream refuses data that would end past a
//! configured number of bytes, with an error that says so. Bytes that arrive
//! twice must match what was already received; a mismatch is reported, since
//! it means either a broken peer or someone injecting packets.

use super::error::QuicError;
use super::{CryptoChunk, InitialPacket};

/// Default reassembly bound: 64 KiB is far more than any real ClientHello
/// (even with post-quantum key shares) or Initial-space server flight.
pub const DEFAULT_MAX_CRYPTO_BYTES: usize = 64 * 1024;

/// Handshake bytes of one direction, reassembled by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoStream {
    max_bytes: usize,
    /// Bytes at their stream offsets; positions not yet received are zero.
    data: Vec<u8>,
    /// Which positions of `data` have been received.
    received: Vec<bool>,
    /// Length of the gap-free prefix starting at offset 0.
    contiguous_len: usize,
    /// Number of distinct stream positions received.
    received_bytes: usize,
}

impl Default for CryptoStream {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CRYPTO_BYTES)
    }
}

impl CryptoStream {
    /// An empty stream that accepts data up to stream offset `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            data: Vec::new(),
            received: Vec::new(),
            contiguous_len: 0,
            received_bytes: 0,
        }
    }

    /// Places `data` at stream `offset`.
    ///
    /// Out-of-order, duplicate and overlapping pieces are fine. Fails, and
    /// changes nothing, if the piece would end past the bound
    /// (`CryptoLimitExceeded`) or disagrees with bytes already received at
    /// the same offsets (`CryptoDataConflict`).
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<(), QuicError> {
        let limit_exceeded = QuicError::CryptoLimitExceeded {
            offset,
            len: data.len(),
            max_bytes: self.max_bytes,
        };
        let start = usize::try_from(offset).map_err(|_| limit_exceeded.clone())?;
        let end = start
            .checked_add(data.len())
            .filter(|&end| end <= self.max_bytes)
            .ok_or(limit_exceeded)?;
        if data.is_empty() {
            return Ok(());
        }

        if let Some(conflict) = self.first_conflict(start, data) {
            return Err(QuicError::CryptoDataConflict {
                offset: conflict as u64,
            });
        }

        if self.data.len() < end {
            self.data.resize(end, 0);
            self.received.resize(end, false);
        }
        let (Some(slots), Some(flags)) = (
            self.data.get_mut(start..end),
            self.received.get_mut(start..end),
        ) else {
            return Ok(());
        };
        for ((slot, flag), &byte) in slots.iter_mut().zip(flags.iter_mut()).zip(data) {
            if !*flag {
                *slot = byte;
                *flag = true;
                self.received_bytes += 1;
            }
        }
        while self
            .received
            .get(self.contiguous_len)
            .copied()
            .unwrap_or(false)
        {
            self.contiguous_len += 1;
        }
        tracing::debug!(
            offset,
            len = data.len(),
            contiguous = self.contiguous_len,
            "CRYPTO data inserted"
        );
        Ok(())
    }

    /// Inserts one chunk from a decrypted packet.
    pub fn insert_chunk(&mut self, chunk: &CryptoChunk) -> Result<(), QuicError> {
        self.insert(chunk.offset, &chunk.data)
    }

    /// Inserts every CRYPTO chunk of a decrypted Initial packet.
    pub fn insert_packet(&mut self, packet: &InitialPacket) -> Result<(), QuicError> {
        packet
            .crypto
            .iter()
            .try_for_each(|chunk| self.insert_chunk(chunk))
    }

    /// The gap-free bytes from offset 0: what a TLS parser can consume now.
    pub fn contiguous(&self) -> &[u8] {
        self.data.get(..self.contiguous_len).unwrap_or_default()
    }

    /// Number of distinct stream bytes received so far.
    pub fn received_bytes(&self) -> usize {
        self.received_bytes
    }

    /// One past the highest stream offset received so far.
    pub fn highest_offset(&self) -> usize {
        self.data.len()
    }

    /// Whether some received bytes are not yet reachable from offset 0.
    pub fn has_gaps(&self) -> bool {
        self.contiguous_len < self.data.len()
    }

    /// The configured bound.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The first TLS handshake message (4-byte header: type, 24-bit length)
    /// once all of it is contiguous, e.g. the whole ClientHello.
    pub fn first_handshake_message(&self) -> Option<&[u8]> {
        let contiguous = self.contiguous();
        let header = contiguous.get(..4)?;
        let body_len = header
            .iter()
            .skip(1)
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        contiguous.get(..4 + body_len)
    }

    /// Whether [`first_handshake_message`](Self::first_handshake_message)
    /// is available.
    pub fn has_complete_first_message(&self) -> bool {
        self.first_handshake_message().is_some()
    }

    fn first_conflict(&self, start: usize, data: &[u8]) -> Option<usize> {
        let held = self.data.get(start..).unwrap_or_default();
        let flags = self.received.get(start..).unwrap_or_default();
        held.iter()
            .zip(flags)
            .zip(data)
            .position(|((&old, &was_received), &new)| was_received && old != new)
            .map(|index| start + index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_out_of_order_overlapping_and_duplicate_pieces() {
        let message = b"0123456789abcdef";
        let mut stream = CryptoStream::new(64);
        stream.insert(10, &message[10..]).expect("tail");
        assert_eq!(stream.contiguous(), b"");
        assert!(stream.has_gaps());
        stream.insert(2, &message[2..6]).expect("middle");
        stream.insert(0, &message[0..4]).expect("overlapping head");
        assert_eq!(stream.contiguous(), b"012345");
        stream.insert(0, &message[0..4]).expect("duplicate");
        stream.insert(5, &message[5..12]).expect("bridge");
        assert_eq!(stream.contiguous(), message);
        assert!(!stream.has_gaps());
        assert_eq!(stream.received_bytes(), message.len());
    }

    #[test]
    fn refuses_data_past_the_bound_without_changing_anything() {
        let mut stream = CryptoStream::new(8);
        stream.insert(0, b"abcdefgh").expect("exactly at the bound");
        assert_eq!(
            stream.insert(8, b"i"),
            Err(QuicError::CryptoLimitExceeded {
                offset: 8,
                len: 1,
                max_bytes: 8
            })
        );
        assert!(matches!(
            stream.insert(u64::MAX, b"x"),
            Err(QuicError::CryptoLimitExceeded { .. })
        ));
        assert!(matches!(
            stream.insert(9, b""),
            Err(QuicError::CryptoLimitExceeded { .. })
        ));
        assert_eq!(stream.contiguous(), b"abcdefgh");
    }

    #[test]
    fn conflicting_retransmissions_are_reported() {
        let mut stream = CryptoStream::default();
        stream.insert(4, b"wxyz").expect("first");
        assert_eq!(
            stream.insert(2, b"abwq"),
            Err(QuicError::CryptoDataConflict { offset: 5 })
        );
        assert_eq!(
            stream.received_bytes(),
            4,
            "rejected insert changed nothing"
        );
    }

    #[test]
    fn first_handshake_message_needs_all_its_bytes() {
        let mut stream = CryptoStream::default();
        stream
            .insert(0, &[0x01, 0x00, 0x00, 0x03, 0xaa])
            .expect("head");
        assert_eq!(stream.first_handshake_message(), None);
        stream.insert(5, &[0xbb, 0xcc, 0x02]).expect("rest");
        assert_eq!(
            stream.first_handshake_message(),
            Some(&[0x01, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc][..])
        );
    }
}
