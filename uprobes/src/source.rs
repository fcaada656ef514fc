//! Bounded reads from an ELF file.
//!
//! Discovery reads only the parts of a file it needs (headers, symbol
//! tables, notes, read-only data), never the whole file: `/usr/bin/node` is
//! 99 MB and carries OpenSSL in it. Every read is checked against the file
//! size and a per-read limit before anything is allocated.

use std::fs::File;
use std::os::unix::fs::FileExt as _;

use crate::error::ElfError;

/// Something an ELF image can be read from: a file, or bytes in memory
/// (tests, fuzzing).
pub trait Source {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Fills `buffer` from `offset`; the caller has checked the bounds.
    fn read_exact_at(&self, buffer: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        let end = start
            .checked_add(buffer.len())
            .filter(|end| *end <= self.len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buffer.copy_from_slice(&self[start..end]);
        Ok(())
    }
}

/// A file and its size, taken once when it is opened.
pub struct FileSource {
    file: File,
    size: u64,
}

impl FileSource {
    pub fn new(file: File) -> std::io::Result<Self> {
        let size = file.metadata()?.len();
        Ok(FileSource { file, size })
    }
}

impl Source for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buffer, offset)
    }
}

/// Reads `size` bytes at `offset`, refusing reads past the end of the
/// source or over `limit` bytes.
pub(crate) fn read_region(
    source: &(impl Source + ?Sized),
    what: &'static str,
    offset: u64,
    size: u64,
    limit: u64,
) -> Result<Vec<u8>, ElfError> {
    if size > limit {
        return Err(ElfError::TooLarge { what, size, limit });
    }
    let file_size = source.size();
    if offset.checked_add(size).is_none_or(|end| end > file_size) {
        return Err(ElfError::OutOfBounds {
            what,
            offset,
            size,
            file_size,
        });
    }
    // Bounded by `limit` and by the file's real size above.
    let mut buffer = vec![0; size as usize];
    source
        .read_exact_at(&mut buffer, offset)
        .map_err(|source| ElfError::Io {
            what,
            offset,
            source,
        })?;
    Ok(buffer)
}
