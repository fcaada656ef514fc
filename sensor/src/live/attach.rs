//! TC attachment lifecycle: which interfaces carry the classifiers, as
//! links come, get renamed and go, and as directives change the filter.
//!
//! TCX links (kernel >= 6.6) belong to this process: they go away with it,
//! even after `kill -9`. Older kernels (or `--attach-mode netlink`) get
//! netlink filters on a clsact qdisc; those outlive a killed process, so
//! before attaching the sensor deletes filters bearing its program names
//! that an earlier run left behind. The qdisc itself is left in place:
//! other tools may share it.

use std::collections::{BTreeMap, BTreeSet};

use aya::Ebpf;
use aya::programs::tc::{
    NlOptions, SchedClassifierLink, TcAttach, qdisc_add_clsact, qdisc_detach_program,
};
use aya::programs::{LinkOrder, TcAttachType};
use aya::util::KernelVersion;
use cipherlens_common::{TC_EGRESS_PROGRAM, TC_INGRESS_PROGRAM};
use cipherlens_record::stats::AttachKind;

use super::ebpf::classifier;
use super::interfaces::{Interface, InterfaceFilter};
use super::{AttachMode, LiveError};
use cipherlens_capture::link_message::LinkChange;

/// The loaded programs and the links of attached interfaces.
pub struct Attachments {
    /// Owns the programs (and the socket-owner links).
    ebpf: Ebpf,
    /// Links per ifindex: dropping them detaches the programs.
    links: BTreeMap<u32, (String, Vec<SchedClassifierLink>)>,
    /// Interfaces that could not be attached.
    pub failures: u64,
    kind: AttachKind,
    /// Netlink filters of an earlier run deleted before attaching.
    pub stale_filters_removed: u64,
}

impl Attachments {
    /// Nothing attached yet; `mode` picks TCX or netlink.
    pub fn new(ebpf: Ebpf, mode: AttachMode) -> Self {
        let tcx = match mode {
            AttachMode::Tcx => true,
            AttachMode::Netlink => false,
            AttachMode::Auto => {
                KernelVersion::current().is_ok_and(|version| version >= KernelVersion::new(6, 6, 0))
            }
        };
        Self {
            ebpf,
            links: BTreeMap::new(),
            failures: 0,
            kind: if tcx {
                AttachKind::Tcx
            } else {
                AttachKind::Netlink
            },
            stale_filters_removed: 0,
        }
    }

    /// The loaded object, for the TLS probes' uprobe attachments.
    pub(super) fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// TCX links or netlink filters.
    pub fn kind(&self) -> AttachKind {
        self.kind
    }

    /// Applies link notifications: attach to new admitted links, follow
    /// renames, forget deleted ones.
    pub fn apply(&mut self, changes: Vec<LinkChange>, filter: &InterfaceFilter) {
        for change in changes {
            match change {
                LinkChange::Gone { index } => self.forget(index),
                LinkChange::Present { index, name } => {
                    let known = self.links.get(&index).map(|(known, _)| known.clone());
                    match known {
                        Some(known) if known == name => {}
                        Some(_) if !filter.admits(&name) => self.forget(index),
                        Some(_) => {
                            if let Some(entry) = self.links.get_mut(&index) {
                                tracing::info!(from = %entry.0, to = %name, index, "interface renamed");
                                entry.0 = name;
                            }
                        }
                        None => self.attach_if_admitted(&Interface { index, name }, filter),
                    }
                }
            }
        }
    }

    /// Drops links of interfaces the filter no longer admits.
    pub fn retain_admitted(&mut self, filter: &InterfaceFilter) {
        let refused: Vec<u32> = self
            .links
            .iter()
            .filter(|(_, (name, _))| !filter.admits(name))
            .map(|(index, _)| *index)
            .collect();
        for index in refused {
            if let Some((name, _links)) = self.links.remove(&index) {
                tracing::info!(interface = %name, index, "detached by directive");
            }
        }
    }

    fn forget(&mut self, index: u32) {
        if let Some((name, _links)) = self.links.remove(&index) {
            tracing::info!(interface = %name, index, "interface gone; its links dropped");
        }
    }

    fn attach_if_admitted(&mut self, interface: &Interface, filter: &InterfaceFilter) {
        if self.links.contains_key(&interface.index) || !filter.admits(&interface.name) {
            return;
        }
        match self.attach(interface.index) {
            Ok(links) => {
                tracing::info!(interface = %interface.name, index = interface.index, "attached");
                self.links
                    .insert(interface.index, (interface.name.clone(), links));
            }
            Err(error) => {
                self.failures += 1;
                tracing::warn!(interface = %interface.name, %error, "could not attach");
            }
        }
    }

    /// Attaches to new admitted interfaces and forgets vanished ones.
    pub fn sync(&mut self, current: &[Interface], filter: &InterfaceFilter) {
        let present: BTreeSet<u32> = current.iter().map(|i| i.index).collect();
        let vanished: Vec<u32> = self
            .links
            .keys()
            .copied()
            .filter(|index| !present.contains(index))
            .collect();
        for index in vanished {
            self.forget(index);
        }
        for interface in current {
            self.attach_if_admitted(interface, filter);
        }
    }

    fn attach(&mut self, index: u32) -> Result<Vec<SchedClassifierLink>, LiveError> {
        if self.kind == AttachKind::Netlink {
            // Netlink filters need a clsact qdisc; one that exists already
            // is fine. It is left in place on exit: other tools may share it.
            if let Err(error) = qdisc_add_clsact(index) {
                tracing::debug!(index, %error, "clsact qdisc (may exist already)");
            }
        }
        let mut links = Vec::with_capacity(2);
        for (name, attach_type) in [
            (TC_INGRESS_PROGRAM, TcAttachType::Ingress),
            (TC_EGRESS_PROGRAM, TcAttachType::Egress),
        ] {
            let attach = if self.kind == AttachKind::Tcx {
                TcAttach::Tcx {
                    attach_type,
                    order: LinkOrder::default(),
                }
            } else {
                self.remove_stale_filters(index, attach_type, name);
                TcAttach::Netlink {
                    parent: attach_type.into(),
                    options: NlOptions::default(),
                }
            };
            let program = classifier(&mut self.ebpf, name)?;
            let id = program
                .attach(index, attach)
                .map_err(|source| LiveError::Program { name, source })?;
            let link = program
                .take_link(id)
                .map_err(|source| LiveError::Program { name, source })?;
            links.push(link);
        }
        Ok(links)
    }

    /// Deletes netlink filters named like this program, left on the
    /// interface by a run that was killed before it could detach.
    fn remove_stale_filters(&mut self, index: u32, attach_type: TcAttachType, name: &str) {
        match qdisc_detach_program(index, attach_type.into(), name) {
            Ok(()) => {
                self.stale_filters_removed += 1;
                tracing::info!(
                    index,
                    program = name,
                    "removed a filter an earlier run left behind"
                );
            }
            Err(aya::programs::tc::TcError::IoError(error))
                if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(index, program = name, %error, "looking for stale filters")
            }
        }
    }

    /// Every attached interface's name by index (a snapshot).
    pub fn names_by_index(&self) -> std::collections::HashMap<u32, String> {
        self.links
            .iter()
            .map(|(index, (name, _))| (*index, name.clone()))
            .collect()
    }

    pub fn attached_names(&self) -> Vec<String> {
        self.links.values().map(|(name, _)| name.clone()).collect()
    }

    /// The name of an attached interface, borrowed (per event).
    pub fn interface(&self, index: u32) -> Option<&str> {
        self.links.get(&index).map(|(name, _)| name.as_str())
    }
}
