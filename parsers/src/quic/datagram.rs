//! Decrypting all Initial packets of one UDP datagram.
//!
//! This is where the pieces meet: `packet` splits the coalesced packets,
//! the right `keys` are chosen (given by the caller, or derived from the
//! DCID and cached for the rest of the datagram), `protection` decrypts, and
//! `frames` turns the plaintext into CRYPTO chunks and a frame list.
//!
//! Only the first packet of a datagram decides whether the datagram is QUIC
//! at all, so an error there is returned as an error. Packets after it that
//! are not Initials, or that fail, are skipped and reported: RFC 9000
//! section 12.2 has receivers process coalesced packets independently.

use super::error::QuicError;
use super::frames::{InitialFrame, parse_initial_frames};
use super::google_frames::parse_google_initial_frames;
use super::keys::InitialKeys;
use super::packet::{LongPacketType, ProtectedPacket, split_long_packet};
use super::protection::decrypt_packet;
use super::version::{FrameLayout, initial_secrets, is_supported_version};
use super::{CryptoChunk, InitialPacket, Side};

/// Everything found in one datagram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatagramInitials {
    /// The Initial packets that decrypted, in datagram order.
    pub initials: Vec<InitialPacket>,
    /// The packets that were skipped, in datagram order.
    pub skipped: Vec<SkippedPacket>,
}

/// A coalesced packet that was not returned as an Initial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPacket {
    /// Byte offset of the packet in the datagram.
    pub offset: usize,
    /// Length of the packet in bytes.
    pub len: usize,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a coalesced packet was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A long-header packet of another type (Handshake, 0-RTT, ...).
    NotInitial(LongPacketType),
    /// Bytes without the long-header form bit: a short-header (1-RTT) packet
    /// or zero padding after the last packet; either runs to the end.
    NotLongHeader,
    /// A packet after the first that failed to parse or decrypt.
    Invalid(QuicError),
}

/// Decrypts every Initial packet in `datagram`, sent by `sender`.
///
/// Keys: for `Side::Client`, each packet's own DCID is used unless
/// `original_dcid` is given; for `Side::Server` the client's original DCID
/// must be given (the server's packets carry the client's SCID as DCID).
/// Coalesced packets of other types are skipped (see
/// [`decrypt_datagram`] to get the list).
pub fn decrypt_initials(
    datagram: &[u8],
    sender: Side,
    original_dcid: Option<&[u8]>,
) -> Result<Vec<InitialPacket>, QuicError> {
    decrypt_datagram(datagram, sender, original_dcid).map(|found| found.initials)
}

/// Like [`decrypt_initials`], also reporting the packets it skipped.
pub fn decrypt_datagram(
    datagram: &[u8],
    sender: Side,
    original_dcid: Option<&[u8]>,
) -> Result<DatagramInitials, QuicError> {
    if sender == Side::Server && original_dcid.is_none() {
        return Err(QuicError::MissingOriginalDcid);
    }
    let mut keys = KeySource::Derived {
        fixed_dcid: original_dcid,
        cache: None,
    };
    walk_datagram(datagram, sender, &mut keys)
}

/// Decrypts every Initial packet in `datagram` with keys the caller derived
/// (and may cache per connection) with [`InitialKeys::derive`].
pub fn decrypt_initials_with(
    keys: &InitialKeys,
    datagram: &[u8],
    sender: Side,
) -> Result<Vec<InitialPacket>, QuicError> {
    decrypt_datagram_with(keys, datagram, sender).map(|found| found.initials)
}

/// Like [`decrypt_initials_with`], also reporting the packets it skipped.
pub fn decrypt_datagram_with(
    keys: &InitialKeys,
    datagram: &[u8],
    sender: Side,
) -> Result<DatagramInitials, QuicError> {
    walk_datagram(datagram, sender, &mut KeySource::Given(keys))
}

/// Where the keys for each packet come from.
enum KeySource<'k> {
    /// One set of keys from the caller.
    Given(&'k InitialKeys),
    /// Derived from `fixed_dcid`, or from each packet's DCID; the last
    /// derivation is kept, since coalesced packets share their DCID.
    Derived {
        fixed_dcid: Option<&'k [u8]>,
        cache: Option<Box<(Vec<u8>, InitialKeys)>>,
    },
}

impl KeySource<'_> {
    fn keys_for(&mut self, packet: &ProtectedPacket<'_>) -> Result<&InitialKeys, QuicError> {
        if !is_supported_version(packet.version) {
            return Err(QuicError::UnsupportedVersion(packet.version));
        }
        match self {
            Self::Given(keys) if keys.version() != packet.version => {
                Err(QuicError::VersionMismatch {
                    keys_version: keys.version(),
                    packet_version: packet.version,
                })
            }
            Self::Given(keys) => Ok(*keys),
            Self::Derived { fixed_dcid, cache } => {
                let dcid = fixed_dcid.unwrap_or(packet.dcid);
                let reusable = cache.as_deref().is_some_and(|(cached_dcid, keys)| {
                    keys.version() == packet.version && cached_dcid.as_slice() == dcid
                });
                if !reusable {
                    let derived = InitialKeys::derive(packet.version, dcid)?;
                    *cache = Some(Box::new((dcid.to_vec(), derived)));
                }
                cache
                    .as_deref()
                    .map(|(_, keys)| keys)
                    .ok_or(QuicError::KeyDerivationFailed)
            }
        }
    }
}

fn walk_datagram(
    datagram: &[u8],
    sender: Side,
    keys: &mut KeySource<'_>,
) -> Result<DatagramInitials, QuicError> {
    if datagram.is_empty() {
        return Err(QuicError::EmptyDatagram);
    }
    let mut found = DatagramInitials::default();
    let mut rest = datagram;
    let mut offset = 0usize;
    // Every round consumes at least the packet's header, or ends the loop.
    while let Some(&first_byte) = rest.first() {
        let is_first_packet = offset == 0;
        if first_byte & 0x80 == 0 {
            if is_first_packet {
                return Err(QuicError::NotLongHeader { first_byte });
            }
            skip(&mut found, offset, rest.len(), SkipReason::NotLongHeader);
            break;
        }
        let (packet, next) = match split_long_packet(rest) {
            Ok(split) => split,
            Err(error) if is_first_packet => return Err(error),
            Err(error) => {
                skip(&mut found, offset, rest.len(), SkipReason::Invalid(error));
                break;
            }
        };
        let outcome = match packet.packet_type {
            LongPacketType::Initial => decrypt_initial(&packet, sender, keys).map(Some),
            LongPacketType::Unknown { .. } => Err(QuicError::UnsupportedVersion(packet.version)),
            _ => Ok(None),
        };
        match outcome {
            Ok(Some(initial)) => found.initials.push(initial),
            Ok(None) => skip(
                &mut found,
                offset,
                packet.bytes.len(),
                SkipReason::NotInitial(packet.packet_type),
            ),
            Err(error) if is_first_packet => return Err(error),
            Err(error) => skip(
                &mut found,
                offset,
                packet.bytes.len(),
                SkipReason::Invalid(error),
            ),
        }
        offset += packet.bytes.len();
        rest = next;
    }
    Ok(found)
}

fn skip(found: &mut DatagramInitials, offset: usize, len: usize, reason: SkipReason) {
    tracing::debug!(offset, len, reason = ?reason, "skipping coalesced QUIC packet");
    found.skipped.push(SkippedPacket {
        offset,
        len,
        reason,
    });
}

fn decrypt_initial(
    packet: &ProtectedPacket<'_>,
    sender: Side,
    keys: &mut KeySource<'_>,
) -> Result<InitialPacket, QuicError> {
    let keys = keys.keys_for(packet)?;
    let decrypted = decrypt_packet(packet, keys.sent_by(sender))?;
    let frames = match initial_secrets(packet.version)?.frames {
        FrameLayout::Ietf => parse_initial_frames(&decrypted.payload)?,
        FrameLayout::Google => parse_google_initial_frames(&decrypted.payload)?,
    };

    let mut crypto = Vec::new();
    let mut frame_types = Vec::with_capacity(frames.len());
    let mut connection_close = None;
    for frame in &frames {
        frame_types.push(frame.frame_type());
        match frame {
            InitialFrame::Crypto { offset, data } => crypto.push(CryptoChunk {
                offset: *offset,
                data: data.to_vec(),
            }),
            InitialFrame::ConnectionClose(close) => connection_close = Some(close.clone()),
            _ => {}
        }
    }
    tracing::debug!(
        version = format_args!("{:#010x}", packet.version),
        dcid = %hex::encode(packet.dcid),
        packet_number = decrypted.packet_number,
        frames = frame_types.len(),
        crypto_chunks = crypto.len(),
        "decrypted QUIC Initial packet"
    );
    Ok(InitialPacket {
        version: packet.version,
        dcid: packet.dcid.to_vec(),
        scid: packet.scid.to_vec(),
        token: packet.token.to_vec(),
        packet_number: decrypted.packet_number,
        packet_number_len: decrypted.packet_number_len,
        crypto,
        frame_types,
        connection_close,
    })
}
