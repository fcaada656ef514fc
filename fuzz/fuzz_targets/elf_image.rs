//! libFuzzer entry for `elf_image`; the body is in `bodies/elf_image.rs`, shared with
//! the corpus replay test.
#![no_main]

#[path = "bodies/elf_image.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
