//! Dropping uprobe links without holding up the event loop: a detach
//! waits for a grace period in the kernel (a `uprobe_multi` link once, a
//! perf-event uprobe once per probe, about 100 ms each here). At run time
//! a reaper thread drops them; at exit they are dropped from several
//! threads, whose grace periods overlap.

use aya::Ebpf;
use aya::programs::uprobe::{UProbeLink, UProbeLinkId};

use super::attach::uprobe;

/// Takes the links out of their programs, for dropping elsewhere.
pub(super) fn take_all(
    ebpf: &mut Ebpf,
    links: &mut Vec<(&'static str, UProbeLinkId)>,
    into: &mut Vec<UProbeLink>,
) {
    for (name, link) in links.drain(..) {
        if let Ok(program) = uprobe(ebpf, name)
            && let Ok(link) = program.take_link(link)
        {
            into.push(link);
        }
    }
}

/// Drops links (each detach waits for a grace period) on a thread of its
/// own, so the event loop never waits for one.
#[derive(Debug)]
pub(super) struct Reaper {
    pub(super) links: std::sync::mpsc::Sender<Vec<UProbeLink>>,
}

impl Reaper {
    pub(super) fn spawn() -> Option<Self> {
        let (links, incoming) = std::sync::mpsc::channel::<Vec<UProbeLink>>();
        std::thread::Builder::new()
            .name("tls-detach".into())
            .spawn(move || {
                while let Ok(batch) = incoming.recv() {
                    drop_in_parallel(batch);
                }
            })
            .ok()?;
        Some(Self { links })
    }
}

/// Drops links from several threads: their grace periods overlap.
pub(super) fn drop_in_parallel(links: Vec<UProbeLink>) {
    const THREADS: usize = 16;
    let mut chunks: Vec<Vec<UProbeLink>> = (0..THREADS).map(|_| Vec::new()).collect();
    for (index, link) in links.into_iter().enumerate() {
        chunks[index % THREADS].push(link);
    }
    std::thread::scope(|scope| {
        for chunk in chunks.into_iter().filter(|chunk| !chunk.is_empty()) {
            scope.spawn(move || drop(chunk));
        }
    });
}
