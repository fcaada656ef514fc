//! Fuzz body `elf_image`: the input as an ELF file read by uprobe discovery
//! (`ElfImage::read`, then the verdict), and its build-id alone.
//!
//! Why: discovery reads every executable file any process on the node has
//! mapped, containers included; a file can be truncated, hostile or huge,
//! and must give an error, never a panic or an allocation past the limits.

use cipherlens_uprobes::{ElfImage, Limits, elf};

/// Reads `data` as an ELF file with small limits.
pub fn run(data: &[u8]) {
    let limits = Limits {
        table_bytes: 1 << 20,
        note_bytes: 1 << 16,
        version_scan_bytes: 1 << 20,
    };
    if let Ok(image) = ElfImage::read(data, &limits) {
        let _ = image.verdict();
        for segment in &image.segments {
            let _ = image.file_offset(segment.vaddr);
        }
    }
    let _ = elf::build_id(data, &limits);
}
