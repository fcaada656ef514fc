//! Fuzz body `quic_initial`: one UDP datagram as a client's QUIC Initial
//! datagram, and the same bytes as a list of CRYPTO frame pieces.
//!
//! Why two readings: decryption authenticates the payload, so mutated
//! datagrams almost never get past the AEAD and the fuzzer would never reach
//! the CRYPTO reassembly or the frame parser behind it. Reading the input
//! also as raw frames and as `[offset: u32 BE][length: u8][bytes]` pieces
//! puts fuzzer-chosen offsets, overlaps and conflicts into a `CryptoStream`
//! directly. Whatever becomes contiguous is handled as the sensor handles a
//! QUIC connection's handshake bytes.

use cipherlens_parsers::fingerprint::{Transport, ja3, ja4};
use cipherlens_parsers::quic::{CryptoStream, Side, decrypt_initials, parse_initial_frames};
use cipherlens_parsers::tls::{ClientHello, HandshakeTracker, Peer, RecordLimits, handshake_type};

/// Bound for the CRYPTO stream built from raw pieces: small, so that the
/// limit is reached, yet larger than a real ClientHello.
const PIECES_MAX_BYTES: usize = 8 * 1024;

/// Runs both readings of `data`.
pub fn run(data: &[u8]) {
    let mut decrypted = CryptoStream::default();
    if let Ok(packets) = decrypt_initials(data, Side::Client, None) {
        for packet in &packets {
            let _ = decrypted.insert_packet(packet);
        }
    }
    handle_handshake_bytes(&decrypted);

    let _ = parse_initial_frames(data);

    let mut pieces = CryptoStream::new(PIECES_MAX_BYTES);
    for (offset, bytes) in crypto_pieces(data) {
        let _ = pieces.insert(offset, bytes);
    }
    handle_handshake_bytes(&pieces);
}

/// What the sensor does with a QUIC connection's Initial CRYPTO bytes.
fn handle_handshake_bytes(stream: &CryptoStream) {
    let _ = stream.has_gaps();
    if let Some([message_type, _, _, _, body @ ..]) = stream.first_handshake_message()
        && *message_type == handshake_type::CLIENT_HELLO
        && let Ok(hello) = ClientHello::parse(body)
    {
        let _ = ja3::ja3(&hello);
        let _ = ja4::ja4(&hello, Transport::Quic);
    }
    let mut tracker = HandshakeTracker::new(RecordLimits::default());
    let _ = tracker.push_handshake_messages(Peer::Initiator, stream.contiguous());
}

/// Reads `[offset: u32 BE][length: u8][bytes]` pieces until the input ends;
/// the last piece is cut short if the input is.
fn crypto_pieces(mut data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    std::iter::from_fn(move || {
        let (&[o0, o1, o2, o3, length], rest) = data.split_first_chunk::<5>()?;
        let (bytes, rest) = rest.split_at(usize::from(length).min(rest.len()));
        data = rest;
        Some((u64::from(u32::from_be_bytes([o0, o1, o2, o3])), bytes))
    })
}
