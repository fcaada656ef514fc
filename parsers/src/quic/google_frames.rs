//! The frames of Google QUIC T050/T051 Initial packets.
//!
//! T050 and T051 carry a TLS 1.3 handshake in IETF-style long headers, but
//! keep Google QUIC's frame encoding: PADDING is 0x00, PING 0x07 and CRYPTO
//! 0x08 (offset and length as QUIC variable-length integers, then the data).
//! Their ACK and STREAM frames are laid out per bit flags of the type byte;
//! they are not needed for the handshake, so the walk stops at the first
//! frame it cannot size and keeps what it found before it. A client's
//! Initial carries CRYPTO and PADDING only.

use super::error::QuicError;
use super::frames::InitialFrame;
use super::reader::Reader;

const PADDING: u8 = 0x00;
const PING: u8 = 0x07;
const CRYPTO: u8 = 0x08;

/// The frames of a decrypted T050/T051 Initial payload, up to the first one
/// whose layout is not followed.
pub(crate) fn parse_google_initial_frames(
    payload: &[u8],
) -> Result<Vec<InitialFrame<'_>>, QuicError> {
    if payload.is_empty() {
        return Err(QuicError::EmptyPayload);
    }
    let mut reader = Reader::new(payload);
    let mut frames = Vec::new();
    while let Some(&kind) = reader.rest().first() {
        match kind {
            PADDING => {
                let len = reader.rest().iter().take_while(|b| **b == PADDING).count();
                reader.read_bytes(len as u64, "PADDING")?;
                frames.push(InitialFrame::Padding { len });
            }
            PING => {
                reader.read_u8("frame type")?;
                frames.push(InitialFrame::Ping);
            }
            CRYPTO => {
                reader.read_u8("frame type")?;
                let offset = reader.read_varint("CRYPTO offset")?;
                let data = reader.read_varint_prefixed("CRYPTO data")?;
                frames.push(InitialFrame::Crypto { offset, data });
            }
            _ => break,
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_then_padding_then_an_unfollowed_frame() {
        let payload = [CRYPTO, 0x00, 0x03, 1, 2, 3, PING, 0, 0, 0x45, 9, 9];
        let frames = parse_google_initial_frames(&payload).expect("frames");
        assert_eq!(
            frames,
            vec![
                InitialFrame::Crypto {
                    offset: 0,
                    data: &[1, 2, 3]
                },
                InitialFrame::Ping,
                InitialFrame::Padding { len: 2 },
            ]
        );
    }

    #[test]
    fn a_crypto_frame_longer_than_the_payload_is_an_error() {
        assert!(parse_google_initial_frames(&[CRYPTO, 0x00, 0x10, 1]).is_err());
        assert!(parse_google_initial_frames(&[]).is_err());
    }
}
