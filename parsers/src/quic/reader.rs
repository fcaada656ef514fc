//! A bounds-checked cursor over a byte slice.
//!
//! Header and frame parsing read many small fields in a row; doing that with
//! a cursor whose every read checks the remaining length keeps the parsers
//! free of index arithmetic that could go out of bounds.

use super::error::QuicError;
use super::varint::decode_varint;

/// Reads fields front to back from a borrowed buffer; never panics.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The unread rest of the buffer.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    pub(crate) fn read_u8(&mut self, field: &'static str) -> Result<u8, QuicError> {
        let bytes = self.read_bytes(1, field)?;
        Ok(bytes.first().copied().unwrap_or_default())
    }

    pub(crate) fn read_u32(&mut self, field: &'static str) -> Result<u32, QuicError> {
        let bytes = self.read_bytes(4, field)?;
        let mut array = [0u8; 4];
        array.copy_from_slice(bytes);
        Ok(u32::from_be_bytes(array))
    }

    pub(crate) fn read_varint(&mut self, field: &'static str) -> Result<u64, QuicError> {
        let (value, used) = decode_varint(self.rest(), field)?;
        self.pos += used;
        Ok(value)
    }

    /// Reads `len` bytes, where `len` may be an untrusted 64-bit length.
    pub(crate) fn read_bytes(
        &mut self,
        len: u64,
        field: &'static str,
    ) -> Result<&'a [u8], QuicError> {
        let rest = self.rest();
        let truncated = QuicError::Truncated {
            field,
            needed: len,
            available: rest.len(),
        };
        let len = usize::try_from(len).map_err(|_| truncated.clone())?;
        let bytes = rest.get(..len).ok_or(truncated)?;
        self.pos += len;
        Ok(bytes)
    }

    /// Reads a one-byte length followed by that many bytes.
    pub(crate) fn read_u8_prefixed(&mut self, field: &'static str) -> Result<&'a [u8], QuicError> {
        let len = self.read_u8(field)?;
        self.read_bytes(u64::from(len), field)
    }

    /// Reads a varint length followed by that many bytes.
    pub(crate) fn read_varint_prefixed(
        &mut self,
        field: &'static str,
    ) -> Result<&'a [u8], QuicError> {
        let len = self.read_varint(field)?;
        self.read_bytes(len, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut reader = Reader::new(&[0x01, 0x02, 0x03]);
        assert_eq!(reader.read_u8("a"), Ok(1));
        assert!(reader.read_u32("b").is_err());
        assert_eq!(reader.position(), 1, "a failed read consumes nothing");
        assert_eq!(reader.read_bytes(2, "c"), Ok(&[0x02, 0x03][..]));
        assert!(reader.is_empty());
        assert!(reader.read_bytes(u64::MAX, "d").is_err());
    }

    #[test]
    fn prefixed_lengths_are_checked() {
        assert!(Reader::new(&[0x05, 1, 2]).read_u8_prefixed("cid").is_err());
        assert!(
            Reader::new(&[0x44, 0x00, 1])
                .read_varint_prefixed("token")
                .is_err()
        );
    }
}
