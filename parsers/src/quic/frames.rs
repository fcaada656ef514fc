//! The frames an Initial packet may carry (RFC 9000 sections 12.4 and 19).
//!
//! Only PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE may appear in Initial
//! packets, so after decryption the payload is walked frame by frame: ACK
//! frames are skipped with all their ranges and ECN counts, CRYPTO frames are
//! handed out for reassembly, and any other frame type is reported as a
//! protocol error instead of being guessed at. Every length is checked
//! against the remaining payload; every frame consumes at least one byte, so
//! the walk always ends.

use super::error::QuicError;
use super::reader::Reader;
use super::varint::VARINT_MAX;

/// PADDING (RFC 9000 section 19.1).
pub const FRAME_PADDING: u64 = 0x00;
/// PING (section 19.2).
pub const FRAME_PING: u64 = 0x01;
/// ACK without ECN counts (section 19.3).
pub const FRAME_ACK: u64 = 0x02;
/// ACK with ECN counts.
pub const FRAME_ACK_ECN: u64 = 0x03;
/// CRYPTO (section 19.6).
pub const FRAME_CRYPTO: u64 = 0x06;
/// CONNECTION_CLOSE for transport errors (section 19.19).
pub const FRAME_CONNECTION_CLOSE: u64 = 0x1c;
/// CONNECTION_CLOSE for application errors. RFC 9000 only lets endpoints
/// send it in 1-RTT packets, but it is accepted here: an observer reports
/// what it sees rather than enforcing what a peer should have done.
pub const FRAME_CONNECTION_CLOSE_APP: u64 = 0x1d;

/// A frame decoded from an Initial packet's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialFrame<'a> {
    /// A run of consecutive PADDING frames (one byte each).
    Padding {
        /// Number of PADDING bytes in the run.
        len: usize,
    },
    /// PING.
    Ping,
    /// ACK or ACK_ECN.
    Ack(AckFrame),
    /// CRYPTO: a slice of the TLS handshake byte stream.
    Crypto {
        /// Offset of `data` in the Initial CRYPTO stream.
        offset: u64,
        /// The handshake bytes.
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE (either type).
    ConnectionClose(ConnectionClose),
}

impl InitialFrame<'_> {
    /// The frame type number this frame was sent with.
    pub fn frame_type(&self) -> u64 {
        match self {
            Self::Padding { .. } => FRAME_PADDING,
            Self::Ping => FRAME_PING,
            Self::Ack(ack) if ack.ecn.is_some() => FRAME_ACK_ECN,
            Self::Ack(_) => FRAME_ACK,
            Self::Crypto { .. } => FRAME_CRYPTO,
            Self::ConnectionClose(close) if close.application => FRAME_CONNECTION_CLOSE_APP,
            Self::ConnectionClose(_) => FRAME_CONNECTION_CLOSE,
        }
    }
}

/// The parts of an ACK frame worth keeping; the ranges themselves are
/// validated and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckFrame {
    /// Largest Acknowledged.
    pub largest_acknowledged: u64,
    /// ACK Delay, still scaled by the peer's ack_delay_exponent.
    pub ack_delay: u64,
    /// Number of additional ACK ranges after the first.
    pub ack_range_count: u64,
    /// Smallest packet number acknowledged by any range.
    pub smallest_acknowledged: u64,
    /// ECN counts, present for frame type 0x03.
    pub ecn: Option<EcnCounts>,
}

/// ECN counts from an ACK_ECN frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcnCounts {
    /// ECT(0) count.
    pub ect0: u64,
    /// ECT(1) count.
    pub ect1: u64,
    /// ECN-CE count.
    pub ce: u64,
}

/// A CONNECTION_CLOSE frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionClose {
    /// True for type 0x1d (application error), false for 0x1c.
    pub application: bool,
    /// The error code (transport or application, see `application`).
    pub error_code: u64,
    /// For 0x1c, the type of the frame that triggered the error.
    pub frame_type: Option<u64>,
    /// The reason phrase, as sent (meant to be UTF-8, not checked).
    pub reason: Vec<u8>,
}

/// Iterates over the frames of a decrypted Initial payload.
///
/// Yields one error and then stops if the payload is malformed.
#[derive(Debug, Clone)]
pub struct InitialFrames<'a> {
    reader: Reader<'a>,
    failed: bool,
}

/// Walks the frames of a decrypted Initial packet payload.
pub fn initial_frames(payload: &[u8]) -> InitialFrames<'_> {
    InitialFrames {
        reader: Reader::new(payload),
        failed: false,
    }
}

/// Decodes every frame of a decrypted Initial payload, failing on the first
/// malformed or disallowed frame, or on a payload without frames.
pub fn parse_initial_frames(payload: &[u8]) -> Result<Vec<InitialFrame<'_>>, QuicError> {
    if payload.is_empty() {
        return Err(QuicError::EmptyPayload);
    }
    initial_frames(payload).collect()
}

impl<'a> Iterator for InitialFrames<'a> {
    type Item = Result<InitialFrame<'a>, QuicError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.is_empty() {
            return None;
        }
        let frame = self.read_frame();
        self.failed = frame.is_err();
        Some(frame)
    }
}

impl<'a> InitialFrames<'a> {
    fn read_frame(&mut self) -> Result<InitialFrame<'a>, QuicError> {
        let padding_run = self.reader.rest().iter().take_while(|&&b| b == 0).count();
        if padding_run > 0 {
            self.reader.read_bytes(padding_run as u64, "PADDING")?;
            return Ok(InitialFrame::Padding { len: padding_run });
        }
        let frame_type = self.reader.read_varint("frame type")?;
        match frame_type {
            // Only reachable through a non-minimal encoding such as 0x4000.
            FRAME_PADDING => Ok(InitialFrame::Padding { len: 1 }),
            FRAME_PING => Ok(InitialFrame::Ping),
            FRAME_ACK | FRAME_ACK_ECN => self.read_ack(frame_type == FRAME_ACK_ECN),
            FRAME_CRYPTO => self.read_crypto(),
            FRAME_CONNECTION_CLOSE | FRAME_CONNECTION_CLOSE_APP => {
                self.read_connection_close(frame_type == FRAME_CONNECTION_CLOSE_APP)
            }
            other => Err(QuicError::FrameNotAllowed { frame_type: other }),
        }
    }

    fn read_ack(&mut self, with_ecn: bool) -> Result<InitialFrame<'a>, QuicError> {
        let largest_acknowledged = self.reader.read_varint("ACK Largest Acknowledged")?;
        let ack_delay = self.reader.read_varint("ACK Delay")?;
        let ack_range_count = self.reader.read_varint("ACK Range Count")?;
        let first_ack_range = self.reader.read_varint("ACK First ACK Range")?;
        let mut smallest = largest_acknowledged
            .checked_sub(first_ack_range)
            .ok_or(QuicError::InvalidAckRange)?;

        // Each further range takes at least two bytes; refuse absurd counts
        // before looping over them.
        let available = self.reader.rest().len();
        if ack_range_count > (available / 2) as u64 {
            return Err(QuicError::Truncated {
                field: "ACK Ranges",
                needed: ack_range_count.saturating_mul(2),
                available,
            });
        }
        for _ in 0..ack_range_count {
            let gap = self.reader.read_varint("ACK Gap")?;
            let range_len = self.reader.read_varint("ACK Range Length")?;
            // RFC 9000 section 19.3.1: largest = previous smallest - gap - 2.
            smallest = smallest
                .checked_sub(gap)
                .and_then(|v| v.checked_sub(2))
                .and_then(|largest| largest.checked_sub(range_len))
                .ok_or(QuicError::InvalidAckRange)?;
        }

        let ecn = if with_ecn {
            Some(EcnCounts {
                ect0: self.reader.read_varint("ACK ECT0 Count")?,
                ect1: self.reader.read_varint("ACK ECT1 Count")?,
                ce: self.reader.read_varint("ACK ECN-CE Count")?,
            })
        } else {
            None
        };
        Ok(InitialFrame::Ack(AckFrame {
            largest_acknowledged,
            ack_delay,
            ack_range_count,
            smallest_acknowledged: smallest,
            ecn,
        }))
    }

    fn read_crypto(&mut self) -> Result<InitialFrame<'a>, QuicError> {
        let offset = self.reader.read_varint("CRYPTO Offset")?;
        let data = self.reader.read_varint_prefixed("CRYPTO Data")?;
        let len = data.len() as u64;
        if offset.checked_add(len).is_none_or(|end| end > VARINT_MAX) {
            return Err(QuicError::CryptoOffsetOverflow { offset, len });
        }
        Ok(InitialFrame::Crypto { offset, data })
    }

    fn read_connection_close(&mut self, application: bool) -> Result<InitialFrame<'a>, QuicError> {
        let error_code = self.reader.read_varint("CONNECTION_CLOSE Error Code")?;
        let frame_type = if application {
            None
        } else {
            Some(self.reader.read_varint("CONNECTION_CLOSE Frame Type")?)
        };
        let reason = self
            .reader
            .read_varint_prefixed("CONNECTION_CLOSE Reason Phrase")?
            .to_vec();
        Ok(InitialFrame::ConnectionClose(ConnectionClose {
            application,
            error_code,
            frame_type,
            reason,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_padding_ping_ack_crypto_close() {
        let payload = [
            0x00, 0x00, 0x00, // three PADDING
            0x01, // PING
            0x03, 0x0a, 0x00, 0x01, 0x02, 0x01, 0x01, 0x05, 0x06, 0x07, // ACK_ECN
            0x06, 0x40, 0x10, 0x02, 0xab, 0xcd, // CRYPTO offset 16, 2 bytes
            0x1c, 0x0a, 0x06, 0x02, b'n', b'o', // CONNECTION_CLOSE
        ];
        let frames = parse_initial_frames(&payload).expect("frames");
        assert_eq!(
            frames,
            vec![
                InitialFrame::Padding { len: 3 },
                InitialFrame::Ping,
                InitialFrame::Ack(AckFrame {
                    largest_acknowledged: 10,
                    ack_delay: 0,
                    ack_range_count: 1,
                    // 10 - 2 = 8, gap 1 -> next largest 8 - 1 - 2 = 5, length 1 -> 4
                    smallest_acknowledged: 4,
                    ecn: Some(EcnCounts {
                        ect0: 5,
                        ect1: 6,
                        ce: 7
                    }),
                }),
                InitialFrame::Crypto {
                    offset: 16,
                    data: &[0xab, 0xcd]
                },
                InitialFrame::ConnectionClose(ConnectionClose {
                    application: false,
                    error_code: 10,
                    frame_type: Some(6),
                    reason: b"no".to_vec(),
                }),
            ]
        );
        let types: Vec<u64> = frames.iter().map(InitialFrame::frame_type).collect();
        assert_eq!(types, [0x00, 0x01, 0x03, 0x06, 0x1c]);
    }

    #[test]
    fn rejects_frames_not_allowed_in_initial() {
        // STREAM (0x08) and NEW_TOKEN (0x07) are 1-RTT frames.
        for frame_type in [0x07u8, 0x08, 0x1e, 0x3f] {
            assert_eq!(
                parse_initial_frames(&[0x01, frame_type, 0, 0]),
                Err(QuicError::FrameNotAllowed {
                    frame_type: u64::from(frame_type)
                })
            );
        }
    }

    #[test]
    fn ack_ranges_below_zero_are_errors() {
        assert_eq!(
            parse_initial_frames(&[0x02, 0x01, 0x00, 0x00, 0x02]),
            Err(QuicError::InvalidAckRange)
        );
        // First range ends at 0; a gap would go negative.
        assert_eq!(
            parse_initial_frames(&[0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00]),
            Err(QuicError::InvalidAckRange)
        );
    }

    #[test]
    fn absurd_counts_and_lengths_are_errors_not_loops() {
        // ACK Range Count of 2^62 - 1.
        let absurd_ack = [
            0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ];
        assert!(matches!(
            parse_initial_frames(&absurd_ack),
            Err(QuicError::Truncated {
                field: "ACK Ranges",
                ..
            })
        ));
        // CRYPTO length of 2^62 - 1.
        let absurd_crypto = [0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            parse_initial_frames(&absurd_crypto),
            Err(QuicError::Truncated {
                field: "CRYPTO Data",
                ..
            })
        ));
        // CRYPTO offset at the maximum, one byte of data: passes 2^62 - 1.
        let overflowing = [
            0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xaa,
        ];
        assert!(matches!(
            parse_initial_frames(&overflowing),
            Err(QuicError::CryptoOffsetOverflow { .. })
        ));
        assert_eq!(parse_initial_frames(&[]), Err(QuicError::EmptyPayload));
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut frames = initial_frames(&[0x01, 0x08, 0x01]);
        assert_eq!(frames.next(), Some(Ok(InitialFrame::Ping)));
        assert!(matches!(frames.next(), Some(Err(_))));
        assert_eq!(frames.next(), None);
    }
}
