//! Long-header packet framing (RFC 9000 sections 17.2 and 12.2).
//!
//! A UDP datagram can carry several QUIC packets back to back ("coalesced"),
//! typically an Initial followed by a Handshake packet. This module finds
//! where each long-header packet starts and ends and what its cleartext
//! header fields say, without decrypting anything: the version, the
//! connection IDs, the Initial token and the Length field that delimits the
//! packet. Header protection and decryption happen in `protection`.

use super::error::QuicError;
use super::reader::Reader;
use super::version::{TypeBitLayout, VERSION_NEGOTIATION, max_connection_id_len, type_bit_layout};

/// Header form bit: set for long headers (RFC 9000 section 17.2).
const LONG_HEADER_FORM: u8 = 0x80;

/// The type of a long-header packet, after mapping the version's type bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongPacketType {
    /// Initial: carries the first CRYPTO data (ClientHello / ServerHello).
    Initial,
    /// 0-RTT: early application data.
    ZeroRtt,
    /// Handshake: the rest of the TLS handshake.
    Handshake,
    /// Retry: a server asks the client to repeat its Initial with a token.
    Retry,
    /// Version Negotiation (version field 0).
    VersionNegotiation,
    /// A version whose type-bit layout is unknown; `type_bits` are the raw
    /// two bits from the first byte.
    Unknown {
        /// Bits 4 and 5 of the first byte.
        type_bits: u8,
    },
}

impl LongPacketType {
    /// Maps the two type bits of the first byte for `version`.
    fn from_first_byte(version: u32, first_byte: u8) -> Self {
        let type_bits = (first_byte >> 4) & 0x03;
        if version == VERSION_NEGOTIATION {
            return Self::VersionNegotiation;
        }
        match (type_bit_layout(version), type_bits) {
            (Some(TypeBitLayout::V1), 0) | (Some(TypeBitLayout::V2), 1) => Self::Initial,
            (Some(TypeBitLayout::V1), 1) | (Some(TypeBitLayout::V2), 2) => Self::ZeroRtt,
            (Some(TypeBitLayout::V1), 2) | (Some(TypeBitLayout::V2), 3) => Self::Handshake,
            (Some(TypeBitLayout::V1), 3) | (Some(TypeBitLayout::V2), 0) => Self::Retry,
            _ => Self::Unknown { type_bits },
        }
    }

    /// Whether the packet carries a Length field (and so can be followed by
    /// coalesced packets).
    fn has_length_field(self) -> bool {
        matches!(self, Self::Initial | Self::ZeroRtt | Self::Handshake)
    }
}

/// The version-independent part of a long header, plus the packet type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader {
    /// The Version field.
    pub version: u32,
    /// The packet type as mapped for this version.
    pub packet_type: LongPacketType,
    /// Destination Connection ID.
    pub dcid: Vec<u8>,
    /// Source Connection ID.
    pub scid: Vec<u8>,
}

/// Reads a long header's first byte, version and connection IDs: the cheap
/// classification of a UDP payload that needs no keys.
///
/// Returns `None` if the payload does not start with a long header or its
/// connection IDs do not fit. Anything after the source connection ID is not
/// examined, so this also works on captures cut short by a snap length. The
/// fixed bit (0x40) is not required, since peers may grease it (RFC 9287).
pub fn peek_long_header(datagram: &[u8]) -> Option<LongHeader> {
    let mut reader = Reader::new(datagram);
    let prefix = read_header_prefix(&mut reader).ok()?;
    Some(LongHeader {
        version: prefix.version,
        packet_type: prefix.packet_type,
        dcid: prefix.dcid.to_vec(),
        scid: prefix.scid.to_vec(),
    })
}

/// One long-header packet located inside a datagram, still protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedPacket<'a> {
    /// The first byte as sent (its low bits are still header-protected).
    pub first_byte: u8,
    /// The Version field.
    pub version: u32,
    /// The packet type.
    pub packet_type: LongPacketType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// The Initial token (empty for other types).
    pub token: &'a [u8],
    /// The whole packet, first byte to last byte.
    pub bytes: &'a [u8],
    /// Where the protected packet number starts inside `bytes`, for packet
    /// types with a Length field; `None` for Retry, Version Negotiation and
    /// unknown versions.
    pub packet_number_offset: Option<usize>,
}

/// Splits the first long-header packet off `datagram`.
///
/// Returns the packet and the bytes that follow it (the next coalesced
/// packet, if any). Packets without a Length field (Retry, Version
/// Negotiation, unknown versions) extend to the end of the datagram.
pub fn split_long_packet(datagram: &[u8]) -> Result<(ProtectedPacket<'_>, &[u8]), QuicError> {
    if datagram.is_empty() {
        return Err(QuicError::EmptyDatagram);
    }
    let mut reader = Reader::new(datagram);
    let prefix = read_header_prefix(&mut reader)?;

    let token = if prefix.packet_type == LongPacketType::Initial {
        reader.read_varint_prefixed("Initial token")?
    } else {
        &[]
    };

    let packet_end;
    let mut packet_number_offset = None;
    if prefix.packet_type.has_length_field() {
        let length = reader.read_varint("packet Length field")?;
        let offset = reader.position();
        reader.read_bytes(length, "packet number and payload")?;
        packet_number_offset = Some(offset);
        packet_end = reader.position();
    } else {
        packet_end = datagram.len();
    }

    let (bytes, rest) = datagram
        .split_at_checked(packet_end)
        .unwrap_or((datagram, &[]));
    Ok((
        ProtectedPacket {
            first_byte: prefix.first_byte,
            version: prefix.version,
            packet_type: prefix.packet_type,
            dcid: prefix.dcid,
            scid: prefix.scid,
            token,
            bytes,
            packet_number_offset,
        },
        rest,
    ))
}

/// First byte through Source Connection ID.
struct HeaderPrefix<'a> {
    first_byte: u8,
    version: u32,
    packet_type: LongPacketType,
    dcid: &'a [u8],
    scid: &'a [u8],
}

fn read_header_prefix<'a>(reader: &mut Reader<'a>) -> Result<HeaderPrefix<'a>, QuicError> {
    let first_byte = reader.read_u8("first byte")?;
    if first_byte & LONG_HEADER_FORM == 0 {
        return Err(QuicError::NotLongHeader { first_byte });
    }
    let version = reader.read_u32("version")?;
    let max_cid_len = max_connection_id_len(version);
    let dcid = reader.read_u8_prefixed("destination connection ID")?;
    if dcid.len() > max_cid_len {
        return Err(QuicError::ConnectionIdTooLong {
            which: "destination",
            len: dcid.len(),
            max: max_cid_len,
        });
    }
    let scid = reader.read_u8_prefixed("source connection ID")?;
    if scid.len() > max_cid_len {
        return Err(QuicError::ConnectionIdTooLong {
            which: "source",
            len: scid.len(),
            max: max_cid_len,
        });
    }
    Ok(HeaderPrefix {
        first_byte,
        version,
        packet_type: LongPacketType::from_first_byte(version, first_byte),
        dcid,
        scid,
    })
}

/// Length in bytes of the packet number, from the low two bits of the
/// first byte *after* header protection has been removed.
pub fn packet_number_len(unprotected_first_byte: u8) -> usize {
    usize::from(unprotected_first_byte & 0x03) + 1
}

/// Recovers a full packet number from its truncated encoding
/// (RFC 9000 section 17.1 and Appendix A.3).
///
/// `largest_pn` is the largest packet number successfully processed so far
/// in the same packet number space, `None` if none. For the first Initial of
/// a connection (`None`), the result is the truncated value itself.
pub fn decode_packet_number(largest_pn: Option<u64>, truncated_pn: u64, pn_len: usize) -> u64 {
    let pn_bits = 8 * pn_len.clamp(1, 4) as u32;
    let pn_win = 1u64 << pn_bits;
    let pn_hwin = pn_win / 2;
    let pn_mask = pn_win - 1;
    let expected = largest_pn.map_or(0, |largest| largest.saturating_add(1));
    let candidate = (expected & !pn_mask) | (truncated_pn & pn_mask);
    let below_window = expected
        .checked_sub(pn_hwin)
        .is_some_and(|low| candidate <= low);
    if below_window && candidate < (1u64 << 62) - pn_win {
        return candidate + pn_win;
    }
    if candidate > expected.saturating_add(pn_hwin) && candidate >= pn_win {
        return candidate - pn_win;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::version::{QUIC_V1, QUIC_V2};

    #[test]
    fn packet_number_decoding_matches_rfc9000_example() {
        // RFC 9000 section 17.1: largest 0xa82f30ea, 16-bit 0x9b32 -> 0xa82f9b32.
        assert_eq!(
            decode_packet_number(Some(0xa82f_30ea), 0x9b32, 2),
            0xa82f_9b32
        );
        assert_eq!(decode_packet_number(None, 2, 4), 2);
        assert_eq!(decode_packet_number(None, 0xff, 1), 0xff);
    }

    #[test]
    fn type_bits_differ_between_v1_and_v2() {
        assert_eq!(
            LongPacketType::from_first_byte(QUIC_V1, 0xc0),
            LongPacketType::Initial
        );
        assert_eq!(
            LongPacketType::from_first_byte(QUIC_V2, 0xc0),
            LongPacketType::Retry
        );
        assert_eq!(
            LongPacketType::from_first_byte(QUIC_V2, 0xd0),
            LongPacketType::Initial
        );
        assert_eq!(
            LongPacketType::from_first_byte(QUIC_V1, 0xe0),
            LongPacketType::Handshake
        );
        assert_eq!(
            LongPacketType::from_first_byte(QUIC_V2, 0xf0),
            LongPacketType::Handshake
        );
        assert_eq!(
            LongPacketType::from_first_byte(0x1234_5678, 0xd0),
            LongPacketType::Unknown { type_bits: 1 }
        );
        assert_eq!(
            LongPacketType::from_first_byte(0, 0xd0),
            LongPacketType::VersionNegotiation
        );
    }

    #[test]
    fn splits_coalesced_packets_by_length() {
        // Initial (token "ab", Length 3) followed by a Handshake (Length 1).
        let datagram = [
            0xc0, 0, 0, 0, 1, 1, 0xaa, 0, 2, b'a', b'b', 3, 9, 9, 9, // Initial
            0xe0, 0, 0, 0, 1, 1, 0xaa, 0, 1, 7, // Handshake
        ];
        let (first, rest) = split_long_packet(&datagram).expect("first");
        assert_eq!(first.packet_type, LongPacketType::Initial);
        assert_eq!(first.token, b"ab");
        assert_eq!(first.dcid, &[0xaa]);
        assert_eq!(first.packet_number_offset, Some(12));
        assert_eq!(first.bytes.len(), 15);
        let (second, rest) = split_long_packet(rest).expect("second");
        assert_eq!(second.packet_type, LongPacketType::Handshake);
        assert_eq!(second.bytes.len(), 10);
        assert!(rest.is_empty());
    }

    #[test]
    fn rejects_long_connection_ids_for_v1() {
        let mut datagram = vec![0xc0, 0, 0, 0, 1, 21];
        datagram.extend([0u8; 21]);
        datagram.push(0);
        assert!(matches!(
            split_long_packet(&datagram),
            Err(QuicError::ConnectionIdTooLong { len: 21, .. })
        ));
        assert_eq!(peek_long_header(&datagram), None);
    }

    #[test]
    fn peek_reads_short_prefixes_only() {
        let header = peek_long_header(&[0xc3, 0, 0, 0, 1, 2, 1, 2, 1, 9]).expect("peek");
        assert_eq!(header.packet_type, LongPacketType::Initial);
        assert_eq!(header.dcid, [1, 2]);
        assert_eq!(header.scid, [9]);
        assert_eq!(peek_long_header(&[0x40, 0, 0, 0, 1]), None);
        assert_eq!(peek_long_header(&[0xc3, 0, 0]), None);
    }
}
