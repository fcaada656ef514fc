//! Certificates as the libraries decoded them: whose decode it was (the
//! peer's, during a handshake, or a CA bundle's or the application's),
//! waiting for a process's scan when only its mappings can tell, and the
//! chain each kept certificate joins.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cipherlens_record::session::CallBinding;
use cipherlens_uprobes::{Caller, FileVerdict, Verdict};

use super::chains::{ChainKey, ChainOrigin, looks_like_certificate};
use super::events::TlsEvent;
use super::{TlsProbes, coverage, scanner};

/// Certificates waiting for their process's scan, at most.
pub(super) const MAX_UNDECIDED: usize = 4096;
/// How long a certificate waits for its process's scan.
pub(super) const UNDECIDED_WAIT: Duration = Duration::from_secs(2);

/// A certificate whose caller lies in a file of a process not scanned yet.
pub(super) struct Undecided {
    header: TlsEvent<'static>,
    data: Vec<u8>,
    since: Instant,
}

impl TlsProbes {
    /// Decides the certificates that waited too long for their scan.
    pub(super) fn decide_overdue(&mut self, now: Instant) {
        let overdue: Vec<u32> = self
            .undecided
            .iter()
            .filter(|(_, waiting)| {
                waiting
                    .first()
                    .is_some_and(|first| now.duration_since(first.since) >= UNDECIDED_WAIT)
            })
            .map(|(pid, _)| *pid)
            .collect();
        for pid in overdue {
            self.decide_waiting(pid, true);
        }
    }

    pub(super) fn on_certificate(&mut self, event: &TlsEvent<'_>, now: Instant) {
        if event.truncated() {
            return self.count("certificates_truncated");
        }
        if self.files.probed(event.probe).is_none() {
            return self.count("certificates_from_detached_file");
        }
        // The kernel filters a process by its marks once it has been
        // scanned; until then its certificates wait for the scan, which
        // also says whether the filter leaves it out.
        if !self.processes.contains_key(&event.pid) {
            return self.defer(event, now);
        }
        match self.classify(event) {
            Some(from_handshake) => self.decided(event, from_handshake, now),
            None => self.defer(event, now),
        }
    }

    /// Whether a decode was the TLS library's handshake code's (a peer's
    /// certificate) rather than a CA bundle loader's or the application's;
    /// `None` when the process's mappings must say and do not cover the
    /// caller yet.
    fn classify(&self, event: &TlsEvent<'_>) -> Option<bool> {
        let (probed, function) = self.files.probed(event.probe)?;
        let library = &probed.library;
        let offset = library
            .functions
            .iter()
            .find(|(known, _)| Some(*known) == function)
            .map(|(_, offset)| *offset);
        let caller = offset.map(|offset| library.caller(offset, event.function, event.caller));
        match caller {
            Some(Caller::HandshakeCode) => Some(true),
            Some(Caller::OtherCode) | None => Some(false),
            // libcrypto called from another file: libssl, or the
            // application; the process's mappings say which.
            Some(Caller::OutsideFile) => self.caller_file_decides(event),
        }
    }

    /// Keeps a certificate the caller check let through.
    fn decided(&mut self, event: &TlsEvent<'_>, from_handshake: bool, now: Instant) {
        if self
            .processes
            .get(&event.pid)
            .is_some_and(|process| process.excluded)
        {
            return self.count("certificates_excluded_process");
        }
        if !from_handshake {
            return self.count("certificates_not_from_handshake");
        }
        if !looks_like_certificate(event.data) {
            return self.count("certificates_not_x509");
        }
        let Some((probed, _)) = self.files.probed(event.probe) else {
            return self.count("certificates_from_detached_file");
        };
        let library = Arc::clone(&probed.library);
        let path = probed.path.clone();
        if event.socket_cookie != 0 && self.emitted_without.remove(&event.socket_cookie).is_some() {
            return self.count("chains_late");
        }
        let origin = ChainOrigin {
            pid: event.pid,
            comm: event.comm.clone(),
            library: library.flavour.as_str(),
            version: library
                .version_text
                .as_deref()
                .and_then(coverage::version_number),
            path,
            binding: event.binding().unwrap_or(CallBinding::Thread),
        };
        self.chains.add(chain_key(event), event.data, origin, now);
    }

    /// Keeps a certificate until its process's scan says who called.
    fn defer(&mut self, event: &TlsEvent<'_>, now: Instant) {
        let waiting: usize = self.undecided.values().map(Vec::len).sum();
        if waiting >= MAX_UNDECIDED {
            return self.count("certificates_undecided_dropped");
        }
        self.scanner.ask(scanner::Request::Scan(event.pid));
        self.undecided
            .entry(event.pid)
            .or_default()
            .push(Undecided {
                header: TlsEvent {
                    data: &[],
                    ..event.clone()
                },
                data: event.data.to_vec(),
                since: now,
            });
    }

    /// Decides the certificates of `pid` that waited for its scan. Without
    /// one (the process is gone) libssl is the likely caller: libcrypto's
    /// own loaders (PEM files, CA directories) call from inside libcrypto
    /// and were told apart already, and applications rarely decode
    /// certificates themselves; counted.
    pub(super) fn decide_waiting(&mut self, pid: u32, force: bool) {
        let Some(waiting) = self.undecided.remove(&pid) else {
            return;
        };
        let now = Instant::now();
        for undecided in waiting {
            let event = TlsEvent {
                data: &undecided.data,
                ..undecided.header.clone()
            };
            // Decided as if it had just arrived; only a caller in another
            // file needs the scan, and without one libssl is assumed.
            let from_handshake = match self.classify(&event) {
                Some(decided) => decided,
                None => {
                    self.count(if force {
                        "certificates_caller_assumed_libssl"
                    } else {
                        "certificates_caller_unmapped"
                    });
                    true
                }
            };
            self.decided(&event, from_handshake, now);
        }
    }

    /// Whether the code at the event's caller, in another file, is a TLS
    /// library's handshake code; `None` when the process's last scan does
    /// not cover the address.
    fn caller_file_decides(&self, event: &TlsEvent<'_>) -> Option<bool> {
        let process = self.processes.get(&event.pid)?;
        let (file, offset) = process.scan.code_at(event.caller)?;
        Some(match &*file.verdict {
            FileVerdict::Read {
                verdict: Verdict::Hookable(library),
                ..
            } => library.is_handshake_code(offset),
            _ => false,
        })
    }
}

/// Where an event's chain is kept: its socket, else its thread.
pub(super) fn chain_key(event: &TlsEvent<'_>) -> ChainKey {
    if event.socket_cookie != 0 {
        ChainKey::Socket(event.socket_cookie)
    } else {
        ChainKey::Thread((u64::from(event.pid) << 32) | u64::from(event.tid))
    }
}
