//! What discovery needs from one ELF file, read in bounded pieces with
//! goblin: load segments, the GNU build-id, the TLS functions and marker
//! symbols from `.dynsym` and `.symtab`, each function's file offset (what
//! a uprobe attaches at), and the library's version text.
//!
//! Nothing is read whole: headers, symbol tables and notes each have a size
//! limit, checked against the file's size before allocating, so a
//! truncated, hostile or huge file gives an [`ElfError`], never a panic or
//! an unbounded allocation.

use std::collections::{BTreeMap, HashSet};

use goblin::container::{Container, Ctx};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};
use goblin::elf::section_header::{self, SectionHeader};
use goblin::elf::sym::{self, Symtab};
use goblin::strtab::Strtab;

use crate::error::ElfError;
use crate::source::{Source, read_region};
use crate::symbols::{Known, Marker, TlsFunction, classify, is_libssl_code, may_name_known};

/// How much discovery reads of one file at most.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// One header table, symbol table or string table.
    pub table_bytes: u64,
    /// Notes (the build-id lives there).
    pub note_bytes: u64,
    /// Read-only data searched for the version text.
    pub version_scan_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            table_bytes: 64 << 20,
            note_bytes: 1 << 20,
            version_scan_bytes: 256 << 20,
        }
    }
}

/// `ET_EXEC` (fixed addresses) or `ET_DYN` (shared object or PIE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Executable,
    SharedObject,
}

/// Which table a symbol came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolTable {
    Dynsym,
    Symtab,
}

/// A TLS function found in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSymbol {
    pub vaddr: u64,
    /// Where the function's first instruction is in the file: the uprobe
    /// offset.
    pub file_offset: u64,
    pub table: SymbolTable,
}

/// A `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub offset: u64,
    pub file_size: u64,
    pub executable: bool,
}

/// What discovery read from one ELF file.
#[derive(Debug, Clone)]
pub struct ElfImage {
    pub kind: ImageKind,
    pub build_id: Option<Vec<u8>>,
    pub segments: Vec<Segment>,
    pub functions: BTreeMap<TlsFunction, FunctionSymbol>,
    pub markers: HashSet<Marker>,
    /// `OpenSSL 3.0.19 27 Jan 2026`, `LibreSSL 3.8.2`, or `BoringSSL`,
    /// from read-only data (only searched in files with TLS symbols).
    pub version_text: Option<String>,
    /// A `.go.buildinfo` section: a Go program.
    pub go_build_info: bool,
    /// Whether the file has a `.symtab` (not stripped).
    pub has_symtab: bool,
    /// The file calls TLS functions another file defines (it links libssl
    /// dynamically, like Python's `_ssl` module).
    pub imports_tls: bool,
    /// `_dl_debug_state` (a glibc dynamic loader): file offset.
    pub loader_hook: Option<u64>,
    /// File offsets spanned by libssl's functions (`SSL_*`, `tls_*`...):
    /// in an executable with both libraries linked in, a call from inside
    /// this span comes from the TLS code, not from libcrypto.
    pub libssl_span: Option<(u64, u64)>,
    /// File offset ranges of the functions named like libssl's.
    libssl_functions: Vec<(u64, u64)>,
}

const EHDR_READ: u64 = 64;
const VERSION_CHUNK: usize = 1 << 20;
const VERSION_TEXT_MAX: usize = 80;

impl ElfImage {
    /// Reads `source` within `limits`.
    pub fn read(source: &(impl Source + ?Sized), limits: &Limits) -> Result<ElfImage, ElfError> {
        let (header, ctx) = read_header(source)?;
        let kind = match header.e_type {
            header::ET_EXEC => ImageKind::Executable,
            header::ET_DYN => ImageKind::SharedObject,
            other => {
                return Err(ElfError::malformed(
                    "header",
                    format!("type {other} is not loadable"),
                ));
            }
        };
        let program_headers = program_headers(source, &header, ctx, limits)?;
        let segments: Vec<Segment> = program_headers
            .iter()
            .filter(|ph| ph.p_type == program_header::PT_LOAD)
            .map(|ph| Segment {
                vaddr: ph.p_vaddr,
                offset: ph.p_offset,
                file_size: ph.p_filesz,
                executable: ph.p_flags & program_header::PF_X != 0,
            })
            .collect();
        let mut image = ElfImage {
            kind,
            build_id: None,
            segments,
            functions: BTreeMap::new(),
            markers: HashSet::new(),
            version_text: None,
            go_build_info: false,
            has_symtab: false,
            imports_tls: false,
            loader_hook: None,
            libssl_span: None,
            libssl_functions: Vec::new(),
        };
        image.build_id = notes_build_id(source, &program_headers, ctx, limits)?;
        let sections = section_headers(source, &header, ctx, limits)?;
        let names = match sections.get(usize::from(header.e_shstrndx)) {
            Some(table) if !sections.is_empty() => Some(read_region(
                source,
                "section names",
                table.sh_offset,
                table.sh_size,
                limits.table_bytes,
            )?),
            _ => None,
        };
        // Parsed once: section names are looked up for every PROGBITS section.
        let names = names
            .as_ref()
            .and_then(|names| Strtab::parse(names, 0, names.len(), 0).ok());
        let name_of =
            |section: &SectionHeader| -> Option<&str> { names.as_ref()?.get_at(section.sh_name) };
        let mut rodata = None;
        for section in &sections {
            match section.sh_type {
                section_header::SHT_DYNSYM | section_header::SHT_SYMTAB => {
                    let table = if section.sh_type == section_header::SHT_DYNSYM {
                        SymbolTable::Dynsym
                    } else {
                        image.has_symtab = true;
                        SymbolTable::Symtab
                    };
                    image.read_symbols(source, &sections, section, table, ctx, limits)?;
                }
                section_header::SHT_PROGBITS => match name_of(section) {
                    Some(".go.buildinfo") => image.go_build_info = true,
                    Some(".rodata") => rodata = Some((section.sh_offset, section.sh_size)),
                    _ => {}
                },
                _ => {}
            }
        }
        image.libssl_span = densest_cluster(&mut image.libssl_functions);
        image.libssl_functions = Vec::new();
        // Every file's read-only data is searched (bounded, and once per
        // build-id): a library linked in without symbols is known only by
        // its version text.
        if let Some((offset, size)) = rodata {
            image.version_text = version_text(source, offset, size, limits)?;
        }
        Ok(image)
    }

    /// Whether the file has a marker symbol.
    pub(crate) fn has(&self, marker: Marker) -> bool {
        self.markers.contains(&marker)
    }

    fn read_symbols(
        &mut self,
        source: &(impl Source + ?Sized),
        sections: &[SectionHeader],
        section: &SectionHeader,
        table: SymbolTable,
        ctx: Ctx,
        limits: &Limits,
    ) -> Result<(), ElfError> {
        let entry_size = sym::Sym::size(ctx.container) as u64;
        if section.sh_entsize != entry_size {
            return Err(ElfError::malformed(
                "symbol table",
                format!("entry size {} (expected {entry_size})", section.sh_entsize),
            ));
        }
        let Some(strings) = sections.get(section.sh_link as usize) else {
            return Err(ElfError::malformed(
                "symbol table",
                "string table index out of range",
            ));
        };
        let strings = read_region(
            source,
            "string table",
            strings.sh_offset,
            strings.sh_size,
            limits.table_bytes,
        )?;
        if !may_name_known(&strings) {
            return Ok(());
        }
        let symbols = read_region(
            source,
            "symbol table",
            section.sh_offset,
            section.sh_size,
            limits.table_bytes,
        )?;
        let count = symbols.len() / entry_size as usize;
        let symtab = Symtab::parse(&symbols, 0, count, ctx)
            .map_err(|e| ElfError::malformed("symbol table", e))?;
        let strtab = Strtab::parse(&strings, 0, strings.len(), 0)
            .map_err(|e| ElfError::malformed("string table", e))?;
        for symbol in symtab.iter() {
            let Some(name) = strtab.get_at(symbol.st_name) else {
                continue;
            };
            if symbol.st_shndx == section_header::SHN_UNDEF as usize {
                if let Some(Known::Function(_)) = classify(name) {
                    self.imports_tls = true;
                }
                continue;
            }
            let is_code = matches!(symbol.st_type(), sym::STT_FUNC | sym::STT_GNU_IFUNC);
            if is_code && symbol.st_size > 0 && is_libssl_code(name) {
                self.widen_libssl_span(symbol.st_value, symbol.st_size);
            }
            match classify(name) {
                Some(Known::Function(function)) => {
                    if !is_code || self.functions.contains_key(&function) {
                        continue;
                    }
                    if let Some(file_offset) = self.file_offset(symbol.st_value) {
                        self.functions.insert(
                            function,
                            FunctionSymbol {
                                vaddr: symbol.st_value,
                                file_offset,
                                table,
                            },
                        );
                    }
                }
                Some(Known::Marker(marker)) => {
                    self.markers.insert(marker);
                }
                Some(Known::LoaderHook) if is_code => {
                    self.loader_hook = self.file_offset(symbol.st_value);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn widen_libssl_span(&mut self, vaddr: u64, size: u64) {
        if let (Some(start), Some(end)) = (
            self.file_offset(vaddr),
            vaddr
                .checked_add(size - 1)
                .and_then(|last| self.file_offset(last))
                .map(|last| last + 1),
        ) {
            self.libssl_functions.push((start, end));
        }
    }

    /// The file offset of a virtual address in an executable segment.
    pub fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments
            .iter()
            .filter(|segment| segment.executable)
            .find(|segment| vaddr >= segment.vaddr && vaddr - segment.vaddr < segment.file_size)
            .and_then(|segment| segment.offset.checked_add(vaddr - segment.vaddr))
    }
}

/// The GNU build-id alone: the header, the program headers and the notes.
pub fn build_id(
    source: &(impl Source + ?Sized),
    limits: &Limits,
) -> Result<Option<Vec<u8>>, ElfError> {
    let (header, ctx) = read_header(source)?;
    let program_headers = program_headers(source, &header, ctx, limits)?;
    notes_build_id(source, &program_headers, ctx, limits)
}

fn read_header(source: &(impl Source + ?Sized)) -> Result<(Header, Ctx), ElfError> {
    let head = read_region(
        source,
        "ELF header",
        0,
        EHDR_READ.min(source.size()),
        EHDR_READ,
    )?;
    if head.len() < header::SELFMAG || &head[..header::SELFMAG] != header::ELFMAG {
        return Err(ElfError::NotElf);
    }
    let header =
        goblin::elf::Elf::parse_header(&head).map_err(|e| ElfError::malformed("header", e))?;
    let ctx = context(&header)?;
    Ok((header, ctx))
}

fn notes_build_id(
    source: &(impl Source + ?Sized),
    program_headers: &[ProgramHeader],
    ctx: Ctx,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, ElfError> {
    for note in program_headers
        .iter()
        .filter(|ph| ph.p_type == program_header::PT_NOTE)
    {
        let bytes = read_region(
            source,
            "note",
            note.p_offset,
            note.p_filesz,
            limits.note_bytes,
        )?;
        if let Some(id) = gnu_build_id(&bytes, ctx.le) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

fn context(header: &Header) -> Result<Ctx, ElfError> {
    let container = match header.e_ident[header::EI_CLASS] {
        header::ELFCLASS64 => Container::Big,
        header::ELFCLASS32 => Container::Little,
        other => return Err(ElfError::malformed("header", format!("class {other}"))),
    };
    let le = match header.e_ident[header::EI_DATA] {
        header::ELFDATA2LSB => goblin::container::Endian::Little,
        header::ELFDATA2MSB => goblin::container::Endian::Big,
        other => {
            return Err(ElfError::malformed(
                "header",
                format!("data encoding {other}"),
            ));
        }
    };
    Ok(Ctx::new(container, le))
}

fn program_headers(
    source: &(impl Source + ?Sized),
    header: &Header,
    ctx: Ctx,
    limits: &Limits,
) -> Result<Vec<ProgramHeader>, ElfError> {
    if header.e_phnum == 0 {
        return Ok(Vec::new());
    }
    let entry = ProgramHeader::size(ctx) as u64;
    if u64::from(header.e_phentsize) != entry {
        return Err(ElfError::malformed(
            "program headers",
            format!("entry size {}", header.e_phentsize),
        ));
    }
    let size = entry * u64::from(header.e_phnum);
    let bytes = read_region(
        source,
        "program headers",
        header.e_phoff,
        size,
        limits.table_bytes,
    )?;
    ProgramHeader::parse(&bytes, 0, usize::from(header.e_phnum), ctx)
        .map_err(|e| ElfError::malformed("program headers", e))
}

fn section_headers(
    source: &(impl Source + ?Sized),
    header: &Header,
    ctx: Ctx,
    limits: &Limits,
) -> Result<Vec<SectionHeader>, ElfError> {
    if header.e_shoff == 0 || header.e_shnum == 0 {
        return Ok(Vec::new());
    }
    let entry = SectionHeader::size(ctx) as u64;
    if u64::from(header.e_shentsize) != entry {
        return Err(ElfError::malformed(
            "section headers",
            format!("entry size {}", header.e_shentsize),
        ));
    }
    let size = entry * u64::from(header.e_shnum);
    let bytes = read_region(
        source,
        "section headers",
        header.e_shoff,
        size,
        limits.table_bytes,
    )?;
    SectionHeader::parse_from(&bytes, 0, usize::from(header.e_shnum), ctx)
        .map_err(|e| ElfError::malformed("section headers", e))
}

/// The descriptor of an `NT_GNU_BUILD_ID` note in a note segment.
fn gnu_build_id(notes: &[u8], endian: goblin::container::Endian) -> Option<Vec<u8>> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = notes.get(at..at + 4)?.try_into().ok()?;
        Some(if endian.is_little() {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        })
    };
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut at = 0;
    while at + 12 <= notes.len() {
        let name_size = word(at)? as usize;
        let desc_size = word(at + 4)? as usize;
        let kind = word(at + 8)?;
        let name_start = at + 12;
        let desc_start = name_start.checked_add(align4(name_size)?)?;
        let desc_end = desc_start.checked_add(desc_size)?;
        if desc_end > notes.len() {
            return None;
        }
        if kind == NT_GNU_BUILD_ID && notes.get(name_start..name_start + name_size)? == b"GNU\0" {
            return Some(notes[desc_start..desc_end].to_vec());
        }
        at = desc_start.checked_add(align4(desc_size)?)?;
    }
    None
}

/// The first `OpenSSL <digit>…`, `LibreSSL <digit>…` or `BoringSSL` text in
/// read-only data, read in chunks.
fn version_text(
    source: &(impl Source + ?Sized),
    offset: u64,
    size: u64,
    limits: &Limits,
) -> Result<Option<String>, ElfError> {
    let size = size.min(limits.version_scan_bytes);
    let mut boringssl = false;
    let mut at = 0;
    while at < size {
        let chunk = (size - at).min(VERSION_CHUNK as u64 + VERSION_TEXT_MAX as u64);
        let bytes = read_region(
            source,
            "read-only data",
            offset + at,
            chunk,
            VERSION_CHUNK as u64 * 2,
        )?;
        for prefix in [&b"OpenSSL "[..], b"LibreSSL "] {
            let mut from = 0;
            while let Some(found) = find(&bytes[from..], prefix) {
                let start = from + found;
                let text = &bytes[start..];
                let end = text.iter().take(VERSION_TEXT_MAX).position(|b| *b == 0);
                if let Some(end) = end
                    && is_version_text(&text[..end], prefix)
                {
                    return Ok(Some(String::from_utf8_lossy(&text[..end]).into_owned()));
                }
                from = start + 1;
            }
        }
        boringssl |= find(&bytes, b"BoringSSL\0").is_some();
        at += VERSION_CHUNK as u64;
    }
    Ok(boringssl.then(|| "BoringSSL".to_string()))
}

/// `OpenSSL 3.0.19 27 Jan 2026`, `OpenSSL 1.1.1w  11 Sep 2023` (the
/// library's `OPENSSL_VERSION_TEXT`: version, then the release date), or
/// `LibreSSL 3.8.2`; not other texts that start the same way
/// (`OpenSSL 3.0 legacy provider`).
fn is_version_text(text: &[u8], prefix: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    let Some(rest) = text.strip_prefix(std::str::from_utf8(prefix).unwrap_or_default()) else {
        return false;
    };
    let mut words = rest.split_whitespace();
    let version = words.next().unwrap_or_default();
    let numbers: Vec<&str> = version
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '-')
        .split('.')
        .collect();
    let numeric = numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return false;
    }
    if prefix.starts_with(b"LibreSSL") {
        return true;
    }
    let date: Vec<&str> = words.collect();
    date.len() >= 3
        && date[0].len() <= 2
        && date[0].bytes().all(|b| b.is_ascii_digit())
        && date[1].len() == 3
        && date[1].bytes().all(|b| b.is_ascii_alphabetic())
        && date[2].len() == 4
        && date[2].bytes().all(|b| b.is_ascii_digit())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A gap between libssl-named functions wider than this splits them.
const LIBSSL_GAP: u64 = 64 << 10;

/// The span of the largest run of functions without a gap over
/// [`LIBSSL_GAP`]: a static link places libssl's objects together, while a
/// few functions of libcrypto (or the application) carry libssl-like
/// names (`tls1_cbc_remove_padding_and_mac` lives in OpenSSL 3's
/// providers) and must not stretch the span over libcrypto.
fn densest_cluster(functions: &mut [(u64, u64)]) -> Option<(u64, u64)> {
    functions.sort_unstable();
    let mut best: Option<(usize, (u64, u64))> = None;
    let mut index = 0;
    while index < functions.len() {
        let (start, mut end) = functions[index];
        let mut count = 1;
        index += 1;
        while index < functions.len() && functions[index].0 <= end.saturating_add(LIBSSL_GAP) {
            end = end.max(functions[index].1);
            count += 1;
            index += 1;
        }
        if best.is_none_or(|(known, _)| count > known) {
            best = Some((count, (start, end)));
        }
    }
    best.map(|(_, span)| span)
}
