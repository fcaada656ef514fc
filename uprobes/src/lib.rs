//! Which TLS library each process on the node uses, and where its
//! functions are: the attach plan for the sensor's uprobes.
//!
//! Discovery walks `/proc/PID/maps`, reads each mapped executable file
//! through `/proc/PID/root` (so a container's own libraries are read), and
//! finds OpenSSL 1.1 and 3.x (libssl and libcrypto), BoringSSL, and
//! executables that carry a TLS library statically (node), from `.dynsym`
//! and `.symtab` with goblin. The result is plain data: per file, the
//! functions and their file offsets (where a uprobe attaches), or why the
//! file cannot be hooked (Go, rustls, stripped static, unsupported
//! version). No aya and no root: the sensor attaches what this plans.
#![forbid(unsafe_code)]

pub mod discover;
pub mod elf;
pub mod error;
pub mod library;
pub mod maps;
pub mod source;
pub mod symbols;

pub use discover::{
    CodeMapping, Discovery, DiscoveryStats, FileId, FileVerdict, MappedFile, Probe, ProcessScan,
    ScanError,
};
pub use elf::{ElfImage, FunctionSymbol, ImageKind, Limits, Segment, SymbolTable};
pub use error::{ElfError, MapsError};
pub use library::{Caller, Flavour, NotHooked, Role, TlsLibrary, Verdict};
pub use maps::{Mapping, parse_maps};
pub use symbols::TlsFunction;
