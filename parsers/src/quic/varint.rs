//! QUIC variable-length integers (RFC 9000 section 16).
//!
//! Almost every length, offset and type in a QUIC packet is one of these, so
//! decoding lives in one place that checks the buffer before every read. The
//! two most significant bits of the first byte give the encoded length (1, 2,
//! 4 or 8 bytes); the remaining bits are the big-endian value.

use super::error::QuicError;

/// The largest value a QUIC variable-length integer can hold: 2^62 - 1.
pub const VARINT_MAX: u64 = (1 << 62) - 1;

/// Decodes one variable-length integer from the start of `buf`.
///
/// Returns the value and the number of bytes it used. `field` names what is
/// being read, for the error message when `buf` is too short.
pub fn decode_varint(buf: &[u8], field: &'static str) -> Result<(u64, usize), QuicError> {
    let Some(&first) = buf.first() else {
        return Err(QuicError::Truncated {
            field,
            needed: 1,
            available: 0,
        });
    };
    let encoded_len = 1usize << (first >> 6);
    let Some(bytes) = buf.get(..encoded_len) else {
        return Err(QuicError::Truncated {
            field,
            needed: encoded_len as u64,
            available: buf.len(),
        });
    };
    let value = bytes
        .iter()
        .skip(1)
        .fold(u64::from(first & 0x3f), |acc, &byte| {
            (acc << 8) | u64::from(byte)
        });
    Ok((value, encoded_len))
}

/// Encodes `value` in the shortest form, or `None` if it exceeds
/// [`VARINT_MAX`]. Handy for building packets in tests and tools.
pub fn encode_varint(value: u64) -> Option<Vec<u8>> {
    let (len, prefix): (usize, u8) = match value {
        0..=63 => (1, 0x00),
        64..=16_383 => (2, 0x40),
        16_384..=1_073_741_823 => (4, 0x80),
        1_073_741_824..=VARINT_MAX => (8, 0xc0),
        _ => return None,
    };
    let be = value.to_be_bytes();
    let mut out = be.get(8 - len..)?.to_vec();
    if let Some(first) = out.first_mut() {
        *first |= prefix;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9000 Appendix A.1: 0xc2197c5eff14e88c decodes to
    // 151,288,809,941,952,652; 0x9d7f3e7d to 494,878,333; 0x7bbd to 15,293;
    // 0x25 to 37, as does the two-byte 0x4025.
    #[test]
    fn decodes_rfc9000_examples() {
        let cases: [(&[u8], u64, usize); 5] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
                8,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333, 4),
            (&[0x7b, 0xbd], 15_293, 2),
            (&[0x25], 37, 1),
            (&[0x40, 0x25], 37, 2),
        ];
        for (bytes, value, len) in cases {
            assert_eq!(decode_varint(bytes, "test"), Ok((value, len)));
        }
    }

    #[test]
    fn encodes_shortest_form() {
        assert_eq!(encode_varint(37), Some(vec![0x25]));
        assert_eq!(encode_varint(15_293), Some(vec![0x7b, 0xbd]));
        assert_eq!(
            encode_varint(494_878_333),
            Some(vec![0x9d, 0x7f, 0x3e, 0x7d])
        );
        assert_eq!(
            encode_varint(151_288_809_941_952_652),
            Some(vec![0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c])
        );
        assert_eq!(encode_varint(VARINT_MAX + 1), None);
    }

    #[test]
    fn truncated_varints_are_errors() {
        assert!(decode_varint(&[], "x").is_err());
        assert!(decode_varint(&[0x40], "x").is_err());
        assert!(decode_varint(&[0x80, 0, 0], "x").is_err());
        assert!(decode_varint(&[0xc0, 0, 0, 0, 0, 0, 0], "x").is_err());
    }
}
