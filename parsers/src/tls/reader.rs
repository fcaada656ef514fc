//! A bounds-checked cursor over handshake bytes.
//!
//! Every length in a handshake message comes from the peer; every read goes
//! through here so that a lying length field yields [`Truncated`] naming the
//! field, never a panic or an over-read.

/// A field ended before its declared length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("truncated {field}")]
pub struct Truncated {
    /// The field being read.
    pub field: &'static str,
}

/// Cursor over a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], Truncated> {
        if len > self.rest.len() {
            return Err(Truncated { field });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Truncated> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Truncated> {
        let bytes = self.take(2, field)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A vector with a one-byte length prefix.
    pub(crate) fn vec8(&mut self, field: &'static str) -> Result<&'a [u8], Truncated> {
        let len = self.u8(field)?;
        self.take(usize::from(len), field)
    }

    /// A vector with a two-byte length prefix.
    pub(crate) fn vec16(&mut self, field: &'static str) -> Result<&'a [u8], Truncated> {
        let len = self.u16(field)?;
        self.take(usize::from(len), field)
    }

    /// Big-endian u16 list (an odd trailing byte is a truncation).
    pub(crate) fn u16_list<C: FromIterator<u16>>(
        bytes: &[u8],
        field: &'static str,
    ) -> Result<C, Truncated> {
        let (pairs, rest) = bytes.as_chunks::<2>();
        if !rest.is_empty() {
            return Err(Truncated { field });
        }
        Ok(pairs.iter().map(|pair| u16::from_be_bytes(*pair)).collect())
    }
}
