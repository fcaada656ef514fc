//! `cipherlens tc-baseline` (hidden; for `scripts/bench-live.sh`): attaches
//! an empty classifier to an interface's ingress and egress and waits for
//! SIGINT/SIGTERM. What the kernel's TC hook and bpf_stats cost with nothing
//! in the program, measured beside the sensor's own classifiers.

use std::process::ExitCode;

use anyhow::Context as _;
use aya::Ebpf;
use aya::programs::tc::TcAttach;
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use cipherlens_common::TC_EMPTY_PROGRAM;
use cipherlens_sensor::live::ebpf_object;
use cipherlens_sensor::live::interfaces::list_interfaces;
use clap::Args;

#[derive(Args)]
pub struct TcBaselineArgs {
    /// The interface to attach to (TCX, kernel >= 6.6).
    #[arg(long, short = 'i')]
    interface: String,
}

pub fn run(args: TcBaselineArgs) -> anyhow::Result<ExitCode> {
    let index = list_interfaces()
        .context("listing interfaces")?
        .into_iter()
        .find(|interface| interface.name == args.interface)
        .with_context(|| format!("no interface {}", args.interface))?
        .index;
    let mut ebpf = Ebpf::load(ebpf_object::embedded()).context("loading the eBPF object")?;
    let program: &mut SchedClassifier = ebpf
        .program_mut(TC_EMPTY_PROGRAM)
        .with_context(|| format!("{TC_EMPTY_PROGRAM} missing"))?
        .try_into()?;
    program.load()?;
    let mut links = Vec::new();
    for attach_type in [TcAttachType::Ingress, TcAttachType::Egress] {
        let id = program.attach(
            index,
            TcAttach::Tcx {
                attach_type,
                order: LinkOrder::default(),
            },
        )?;
        links.push(program.take_link(id)?);
    }
    eprintln!("attached");
    super::until_interrupted()?;
    drop(links);
    Ok(ExitCode::SUCCESS)
}
