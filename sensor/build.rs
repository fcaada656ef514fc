//! Builds the kernel programs (`sensor-ebpf`) for the BPF target with the
//! pinned nightly and bpf-linker, and drops the object in OUT_DIR where
//! `live::ebpf_object::embedded` embeds it. Toolchain pins: see scripts/setup.sh.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};

/// Must match `EBPF_TOOLCHAIN` in scripts/setup.sh.
const EBPF_TOOLCHAIN: &str = "nightly-2026-06-30";

fn main() -> anyhow::Result<()> {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("sensor crate has no parent directory"))?
        .join("sensor-ebpf");
    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("non UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "cipherlens-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(EBPF_TOOLCHAIN),
    )
}
