//! The reader's input: a buffer that holds at most one record plus one read chunk, and
//! what an error needs to say how far reading got.

use std::io::{self, Read};

use super::{CaptureError, MAX_RECORD_BYTES};

/// How much is asked of the underlying reader at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// What an error needs to say how far reading got.
#[derive(Clone, Copy)]
pub(super) struct ReadContext {
    pub(super) frames_read: u64,
}

impl ReadContext {
    pub(super) fn truncated(self, byte_offset: u64) -> CaptureError {
        CaptureError::Truncated {
            frames_read: self.frames_read,
            byte_offset,
        }
    }

    pub(super) fn malformed(self, byte_offset: u64, reason: impl Into<String>) -> CaptureError {
        CaptureError::Malformed {
            frames_read: self.frames_read,
            byte_offset,
            reason: reason.into(),
        }
    }

    pub(super) fn io(self, byte_offset: u64, source: io::Error) -> CaptureError {
        CaptureError::Io {
            frames_read: self.frames_read,
            byte_offset,
            source,
        }
    }

    pub(super) fn too_large(self, byte_offset: u64, claimed_len: u64) -> CaptureError {
        CaptureError::RecordTooLarge {
            frames_read: self.frames_read,
            byte_offset,
            claimed_len,
            limit: MAX_RECORD_BYTES,
        }
    }

    /// Makes sure the `record_len` bytes of the record at the read position are buffered.
    pub(super) fn require<R: Read>(
        self,
        input: &mut BufferedInput<R>,
        record_len: usize,
    ) -> Result<(), CaptureError> {
        let record_start = input.consumed_offset;
        match input.fill_to(record_len) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.truncated(record_start)),
            Err(source) => Err(self.io(record_start + input.available().len() as u64, source)),
        }
    }

    /// Like [`ReadContext::require`], but a clean end of input before the record is `Ok(false)`.
    pub(super) fn require_unless_end<R: Read>(
        self,
        input: &mut BufferedInput<R>,
        record_len: usize,
    ) -> Result<bool, CaptureError> {
        let record_start = input.consumed_offset;
        match input.fill_to(record_len) {
            Ok(true) => Ok(true),
            Ok(false) if input.available().is_empty() => Ok(false),
            Ok(false) => Err(self.truncated(record_start)),
            Err(source) => Err(self.io(record_start + input.available().len() as u64, source)),
        }
    }
}

/// A read buffer over the source that holds at most one record plus one read chunk.
pub(super) struct BufferedInput<R> {
    source: R,
    /// Allocated (and zeroed) once per size; `start..end` holds the unconsumed bytes.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buffer[start]`.
    pub(super) consumed_offset: u64,
    at_end: bool,
}

impl<R: Read> BufferedInput<R> {
    pub(super) fn new(source: R) -> Self {
        BufferedInput {
            source,
            buffer: Vec::new(),
            start: 0,
            end: 0,
            consumed_offset: 0,
            at_end: false,
        }
    }

    pub(super) fn available(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Reads until at least `wanted` unconsumed bytes are buffered; `Ok(false)` when the
    /// source ends first.
    pub(super) fn fill_to(&mut self, wanted: usize) -> io::Result<bool> {
        while self.end - self.start < wanted {
            if self.at_end {
                return Ok(false);
            }
            if self.buffer.len() - self.start < wanted || self.end == self.buffer.len() {
                // Move the unconsumed bytes to the front, then grow if still too small.
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let needed = wanted.max(self.end + READ_CHUNK_BYTES);
                if self.buffer.len() < needed {
                    self.buffer.resize(needed, 0);
                }
            }
            match self.source.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.at_end = true,
                Ok(received) => self.end += received,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(true)
    }

    pub(super) fn consume(&mut self, len: usize) {
        debug_assert!(len <= self.end - self.start);
        self.start += len;
        self.consumed_offset += len as u64;
    }
}
