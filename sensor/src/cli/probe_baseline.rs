//! `cipherlens probe-baseline` (hidden; for `scripts/bench-uprobes.sh`):
//! attaches an empty uprobe and uretprobe to functions of a library and
//! waits for SIGINT/SIGTERM. What the kernel's uprobe machinery costs by
//! itself, measured beside the sensor's own probes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use aya::Ebpf;
use aya::programs::UProbe;
use aya::programs::uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeScope};
use cipherlens_common::tls::programs;
use cipherlens_sensor::live::ebpf_object;
use cipherlens_uprobes::{ElfImage, Limits, TlsFunction, source::FileSource};
use clap::Args;

#[derive(Args)]
pub struct ProbeBaselineArgs {
    /// The library file (e.g. /usr/lib/x86_64-linux-gnu/libssl.so.3).
    #[arg(long)]
    library: PathBuf,
    /// Functions to probe (symbols, e.g. SSL_write; repeatable).
    #[arg(long = "symbol", required = true)]
    symbols: Vec<String>,
}

pub fn run(args: ProbeBaselineArgs) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(&args.library)
        .with_context(|| format!("opening {}", args.library.display()))?;
    let image = ElfImage::read(&FileSource::new(file)?, &Limits::default())
        .with_context(|| format!("reading {}", args.library.display()))?;
    let mut offsets = Vec::new();
    for symbol in &args.symbols {
        let Some(function) = TlsFunction::ALL.iter().find(|f| f.symbol() == symbol) else {
            bail!("{symbol} is not a function discovery knows");
        };
        let Some(found) = image.functions.get(function) else {
            bail!("{symbol} is not in {}", args.library.display());
        };
        offsets.push(found.file_offset);
    }
    let mut ebpf = Ebpf::load(ebpf_object::embedded()).context("loading the eBPF object")?;
    for name in [programs::EMPTY_ENTER, programs::EMPTY_EXIT] {
        let program: &mut UProbe = ebpf
            .program_mut(name)
            .with_context(|| format!("{name} missing"))?
            .try_into()?;
        program.load()?;
        let points = offsets.iter().map(|offset| UProbeAttachPoint {
            location: UProbeAttachLocation::AbsoluteOffset(*offset),
            cookie: None,
        });
        program.attach(points, &args.library, UProbeScope::AllProcesses)?;
    }
    eprintln!("attached");
    super::until_interrupted()?;
    Ok(ExitCode::SUCCESS)
}
