//! What can go wrong reading an ELF file or a maps file. Every variant has
//! a stable `reason` for counters and metric labels.

use std::io;

/// An ELF file that cannot be read for discovery. Files come from any
/// process on the node, so every one of these is expected and counted,
/// never a panic.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("reading {what} at offset {offset}: {source}")]
    Io {
        what: &'static str,
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("not an ELF file")]
    NotElf,
    #[error("malformed ELF {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("{what} of {size} bytes is over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("{what} at {offset}+{size} is past the end of the file ({file_size} bytes)")]
    OutOfBounds {
        what: &'static str,
        offset: u64,
        size: u64,
        file_size: u64,
    },
}

impl ElfError {
    /// A fixed label for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            ElfError::Io { .. } => "io",
            ElfError::NotElf => "not_elf",
            ElfError::Malformed { .. } => "malformed",
            ElfError::TooLarge { .. } => "too_large",
            ElfError::OutOfBounds { .. } => "out_of_bounds",
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl ToString) -> Self {
        ElfError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

/// A `/proc/PID/maps` line that does not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MapsError {
    #[error("line {line}: {what}")]
    BadLine { line: usize, what: &'static str },
    #[error("more than {limit} mappings")]
    TooMany { limit: usize },
}

impl MapsError {
    pub fn reason(&self) -> &'static str {
        match self {
            MapsError::BadLine { .. } => "bad_line",
            MapsError::TooMany { .. } => "too_many",
        }
    }
}
