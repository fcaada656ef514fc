//! Truncated, corrupted and huge ELF files give an error with a reason,
//! never a panic, and discovery never reads more than its limits.

use std::cell::Cell;

use cipherlens_uprobes::source::Source;
use cipherlens_uprobes::{ElfError, ElfImage, Limits, TlsFunction, Verdict};

const LIBSSL: &str = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

fn small_limits() -> Limits {
    Limits {
        table_bytes: 1 << 20,
        note_bytes: 1 << 16,
        version_scan_bytes: 1 << 20,
    }
}

#[test]
fn every_truncation_of_a_real_library_is_an_error_or_a_smaller_answer() {
    let bytes = std::fs::read(LIBSSL).expect("libssl (scripts/setup.sh installs openssl)");
    let whole = ElfImage::read(&bytes[..], &Limits::default()).expect("the whole file reads");
    assert!(matches!(whole.verdict(), Verdict::Hookable(_)));
    let mut errors = 0;
    for length in (0..bytes.len()).step_by(997).chain([0, 1, 4, 63, 64]) {
        match ElfImage::read(&bytes[..length], &Limits::default()) {
            Ok(image) => {
                // Whatever was read is what the whole file says.
                for (function, symbol) in &image.functions {
                    assert_eq!(whole.functions.get(function), Some(symbol));
                }
            }
            Err(error) => {
                assert!(!error.reason().is_empty());
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
    assert!(matches!(
        ElfImage::read(&bytes[..0], &Limits::default()),
        Err(ElfError::NotElf)
    ));
}

/// Overwrites `width` little-endian bytes at `offset`.
fn patch(bytes: &mut [u8], offset: usize, value: u64, width: usize) {
    bytes[offset..offset + width].copy_from_slice(&value.to_le_bytes()[..width]);
}

#[test]
fn corrupted_headers_are_errors_not_panics() {
    let original = std::fs::read(LIBSSL).expect("libssl");
    // ELF64 header field offsets (System V ABI).
    let cases: [(&str, usize, u64, usize); 8] = [
        ("e_phoff past the end", 0x20, u64::MAX / 2, 8),
        ("e_shoff past the end", 0x28, u64::MAX - 8, 8),
        ("e_phentsize wrong", 0x36, 7, 2),
        ("e_phnum huge", 0x38, 0xffff, 2),
        ("e_shentsize wrong", 0x3a, 3, 2),
        ("e_shnum huge", 0x3c, 0xffff, 2),
        ("e_shstrndx out of range", 0x3e, 0xfffe, 2),
        ("class unknown", 0x04, 9, 1),
    ];
    for (what, offset, value, width) in cases {
        let mut bytes = original.clone();
        patch(&mut bytes, offset, value, width);
        let result = ElfImage::read(&bytes[..], &Limits::default());
        if let Ok(image) = &result {
            // Only an out-of-range name index may still read (names are
            // then unknown); functions keep their offsets.
            assert_eq!(what, "e_shstrndx out of range", "{what} was accepted");
            assert!(image.functions.contains_key(&TlsFunction::SslRead));
        }
    }
    // Every section header of the file turned into a symbol table that
    // claims to be huge: refused by size, before any allocation.
    let mut bytes = original.clone();
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(bytes[0x3c..0x3e].try_into().unwrap()) as usize;
    for index in 1..shnum {
        let header = shoff + index * 64;
        patch(&mut bytes, header + 4, 11, 4); // sh_type = SHT_DYNSYM
        patch(&mut bytes, header + 0x20, 1 << 40, 8); // sh_size
        patch(&mut bytes, header + 0x38, 24, 8); // sh_entsize
    }
    let error = ElfImage::read(&bytes[..], &small_limits()).unwrap_err();
    assert_eq!(error.reason(), "too_large", "{error}");
}

/// A source that says it is a terabyte and counts what is read from it.
struct Huge {
    image: Vec<u8>,
    read: Cell<u64>,
}

impl Source for Huge {
    fn size(&self) -> u64 {
        1 << 40
    }

    fn read_exact_at(&self, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.read.set(self.read.get() + buffer.len() as u64);
        for (index, byte) in buffer.iter_mut().enumerate() {
            *byte = usize::try_from(offset)
                .ok()
                .and_then(|offset| self.image.get(offset + index))
                .copied()
                .unwrap_or(0);
        }
        Ok(())
    }
}

#[test]
fn a_huge_file_is_read_only_where_the_headers_point() {
    let image = std::fs::read(LIBSSL).expect("libssl");
    let length = image.len() as u64;
    let huge = Huge {
        image,
        read: Cell::new(0),
    };
    let read = ElfImage::read(&huge, &Limits::default()).expect("reads");
    assert!(read.functions.contains_key(&TlsFunction::SslWrite));
    assert!(
        huge.read.get() < length,
        "read {} bytes of a {length}-byte library",
        huge.read.get()
    );
}

#[test]
fn the_tiny_seed_library_is_a_hookable_libssl() {
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/elf_image/tiny-libssl.so");
    let bytes = std::fs::read(seed).expect("seed");
    let image = ElfImage::read(&bytes[..], &small_limits()).expect("reads");
    assert_eq!(
        image.version_text.as_deref(),
        Some("OpenSSL 3.0.19 27 Jan 2026")
    );
    let Verdict::Hookable(library) = image.verdict() else {
        panic!("not hookable");
    };
    let functions: Vec<TlsFunction> = library.functions.iter().map(|(f, _)| *f).collect();
    assert_eq!(functions, [TlsFunction::SslRead, TlsFunction::SslWrite]);
}
