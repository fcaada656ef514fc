//! Saves the kernel programs' ring-buffer events as files, one per event.
//!
//! For the `kernel_event` fuzz seeds (`fuzz/kernel_event_seeds.py` runs it
//! in a scratch network namespace): the seeds must be events as the kernel
//! programs really write them. Attaches the TC programs of the embedded
//! object to one interface (TCX) and writes every event read within the
//! given time to `OUT_DIR/NNNN`. Needs root.
//!
//! Usage: dump_kernel_events OUT_DIR IFINDEX SECONDS

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use aya::Ebpf;
use aya::maps::{Array, RingBuf};
use aya::programs::tc::TcAttach;
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use cipherlens_common::{
    CONFIG_MAP, DEFAULT_FLOW_BYTE_BUDGET, EVENTS_MAP, KernelConfig, TC_EGRESS_PROGRAM,
    TC_INGRESS_PROGRAM,
};
use cipherlens_sensor::live::ebpf_object;

fn main() -> anyhow::Result<()> {
    let mut arguments = std::env::args().skip(1);
    let usage = || anyhow!("usage: dump_kernel_events OUT_DIR IFINDEX SECONDS");
    let out_dir = PathBuf::from(arguments.next().ok_or_else(usage)?);
    let ifindex: u32 = arguments.next().ok_or_else(usage)?.parse()?;
    let seconds: u64 = arguments.next().ok_or_else(usage)?.parse()?;

    let mut ebpf = Ebpf::load(ebpf_object::embedded())?;
    let mut config: Array<_, KernelConfig> =
        Array::try_from(ebpf.map_mut(CONFIG_MAP).context(CONFIG_MAP)?)?;
    let settings = KernelConfig {
        flow_byte_budget: DEFAULT_FLOW_BYTE_BUDGET,
        flags: 0,
        starttls_watch_bytes: 0,
        ring_wake_bytes: 0,
    };
    config.set(0, &settings, 0)?;
    let mut links = Vec::new();
    for (name, attach_type) in [
        (TC_INGRESS_PROGRAM, TcAttachType::Ingress),
        (TC_EGRESS_PROGRAM, TcAttachType::Egress),
    ] {
        let program: &mut SchedClassifier = ebpf.program_mut(name).context(name)?.try_into()?;
        program.load()?;
        let order = LinkOrder::default();
        let id = program.attach(ifindex, TcAttach::Tcx { attach_type, order })?;
        links.push(program.take_link(id)?);
    }
    let mut ring = RingBuf::try_from(ebpf.take_map(EVENTS_MAP).context(EVENTS_MAP)?)?;
    eprintln!("attached");

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut saved = 0usize;
    while Instant::now() < deadline {
        while let Some(event) = ring.next() {
            std::fs::write(out_dir.join(format!("{saved:04}")), &*event)?;
            saved += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("{saved} events");
    drop(links);
    Ok(())
}
