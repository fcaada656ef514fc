//! A finished session takes the chain a local process's TLS library gave
//! for its socket, or waits a bounded time for one still being decoded.
//!
//! Most chains are there already when the session is handed over: a TLS
//! 1.3 client decodes the server's certificates before it sends its
//! Finished, the packet that completes the session on the wire, and the
//! ring buffer is drained first. A session waits only when its local
//! peer's library is probed and its chain is missing or not yet complete
//! (a server still checking a client certificate, a memory-BIO
//! application that has not fed the bytes in yet); it goes out when the
//! chain completes or at the deadline, without a chain if none came.

use std::time::Instant;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_parsers::tls::Peer;
use cipherlens_record::session::{CertificateOrigin, CertificateSource, ChainSide};

use super::TlsProbes;
use super::chains::{CaughtChain, ChainKey};
use crate::pipeline::{FinishedSession, peer_index};

/// A session waiting for its chain.
pub struct Held {
    session: FinishedSession,
    deadline: Instant,
}

/// A local socket of a session: cookie, and the process and thread that
/// last used it.
#[derive(Clone, Copy)]
struct Local {
    cookie: u64,
    pid: Option<u32>,
    tid: Option<u32>,
}

impl Local {
    /// The keys its chain may be under: the socket, then its thread.
    fn keys(self) -> impl Iterator<Item = ChainKey> {
        let thread = match (self.pid, self.tid) {
            (Some(pid), Some(tid)) => {
                Some(ChainKey::Thread((u64::from(pid) << 32) | u64::from(tid)))
            }
            _ => None,
        };
        std::iter::once(ChainKey::Socket(self.cookie)).chain(thread)
    }
}

/// What a session's local sockets are.
struct LocalSockets {
    /// The client's socket, whose library receives the server's chain.
    client: Option<Local>,
    /// The server's socket (a client chain, mutual TLS).
    server: Option<Local>,
}

fn local_sockets(session: &FinishedSession) -> Option<LocalSockets> {
    let observation = session.context().observation.as_ref()?;
    let client_peer = session.summary().client.unwrap_or(Peer::Initiator);
    let socket = |peer: Peer| {
        observation.sockets[peer_index(peer)]
            .as_ref()
            .map(|socket| Local {
                cookie: socket.socket_cookie,
                pid: socket.pid,
                tid: socket.tid,
            })
    };
    Some(LocalSockets {
        client: socket(client_peer),
        server: socket(client_peer.other()),
    })
}

impl TlsProbes {
    /// Gives `session` its chain if one is there; returns the session when
    /// it can go, or keeps it when its chain may still come.
    pub fn settle(&mut self, mut session: FinishedSession) -> Option<FinishedSession> {
        if self.plaintext.active() {
            self.note_flows(&session);
        }
        if session.context().transport == Transport::Quic {
            return Some(session);
        }
        let Some(sockets) = local_sockets(&session) else {
            return Some(session);
        };
        if self.take_chains(&mut session, &sockets, false) {
            self.count("chains_merged_at_hand_over");
            return Some(session);
        }
        if self.may_still_come(&session, &sockets) && !self.options.certificate_wait.is_zero() {
            self.count("sessions_waited");
            // Its processes may be gone when the record is built.
            let attribution = session.context().observation.as_ref().map(|observation| {
                observation.sockets.each_ref().map(|socket| {
                    socket
                        .as_ref()
                        .and_then(|s| s.pid)
                        .map(|pid| self.attributor.attribute(pid))
                })
            });
            if let Some(attribution) = attribution {
                session.set_attribution(attribution);
            }
            self.held.push(Held {
                session,
                deadline: Instant::now() + self.options.certificate_wait,
            });
            return None;
        }
        self.note_emitted_without(&session, &sockets);
        Some(session)
    }

    /// Sessions whose chain completed, or whose wait is over (`all`: every
    /// held session, at shutdown).
    pub fn released(&mut self, all: bool) -> Vec<FinishedSession> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        let mut out = Vec::new();
        let mut still = Vec::with_capacity(self.held.len());
        for mut held in std::mem::take(&mut self.held) {
            let Some(sockets) = local_sockets(&held.session) else {
                out.push(held.session);
                continue;
            };
            // Certificates of the client waiting for its process's scan
            // extend the wait (the scan answers within that bound, or
            // fails when the process is gone, which decides them too).
            let scanning = sockets
                .client
                .and_then(|local| local.pid)
                .is_some_and(|pid| self.undecided.contains_key(&pid));
            let due = all
                || (now >= held.deadline && !scanning)
                || now >= held.deadline + super::certificates::UNDECIDED_WAIT;
            if self.take_chains(&mut held.session, &sockets, due) {
                self.count("chains_merged_after_wait");
                out.push(held.session);
            } else if due {
                self.count("waits_expired_without_chain");
                self.note_emitted_without(&held.session, &sockets);
                out.push(held.session);
            } else {
                still.push(held);
            }
        }
        self.held = still;
        out
    }

    /// When the next held session or plaintext record is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.held
            .iter()
            .map(|held| held.deadline)
            .chain(self.plaintext.next_deadline())
            .min()
    }

    /// Merges the chains the session's local sockets have (complete ones,
    /// or any with `force`). Returns whether one was merged.
    fn take_chains(
        &mut self,
        session: &mut FinishedSession,
        sockets: &LocalSockets,
        force: bool,
    ) -> bool {
        let mut merged = false;
        for (socket, side) in [
            (sockets.client, ChainSide::Server),
            (sockets.server, ChainSide::Client),
        ] {
            let Some(local) = socket else { continue };
            // A chain is whole when its handshake call returned. A client
            // that drives the handshake from calls not probed (memory BIOs,
            // `SSL_read` first) reports no return; it decoded the server's
            // chain before it sent its Finished, which completed the
            // session, so what is there is all.
            let whole = |chain: &CaughtChain| {
                chain.complete
                    || force
                    || (side == ChainSide::Server
                        && chain.origin.binding == cipherlens_record::session::CallBinding::Thread)
            };
            // The socket's chain first; the thread's only when the socket
            // has none.
            let Some(key) = local
                .keys()
                .find(|key| self.chains.get(*key).is_some())
                .filter(|key| self.chains.get(*key).is_some_and(whole))
            else {
                continue;
            };
            let Some(chain) = self.chains.take(key) else {
                continue;
            };
            let CaughtChain {
                certificates,
                origin,
                ..
            } = chain;
            let source = CertificateSource {
                chain: side,
                origin: CertificateOrigin::TlsLibrary,
                pid: origin.pid,
                comm: (!origin.comm.is_empty()).then_some(origin.comm),
                library: origin.library.to_owned(),
                version: origin.version,
                path: origin.path,
                binding: origin.binding,
            };
            if session.add_library_chain(certificates, source) {
                merged = true;
            } else {
                self.count("chains_wire_had_it");
            }
        }
        merged
    }

    /// Whether a chain for the session may still arrive: TLS 1.3 hid the
    /// chain from the wire, and a local peer that receives one is covered.
    fn may_still_come(&self, session: &FinishedSession, sockets: &LocalSockets) -> bool {
        let summary = session.summary();
        let tls13 = summary
            .server_hello
            .as_ref()
            .is_some_and(|hello| hello.negotiated_version() == 0x0304);
        // A resumed session (PSK) sends no certificate at all.
        if !tls13 || summary.resumed() {
            return false;
        }
        // A chain is being caught but is not whole yet.
        let partial = |socket: Option<Local>| {
            socket.is_some_and(|local| local.keys().any(|key| self.chains.get(key).is_some()))
        };
        if partial(sockets.client) || partial(sockets.server) {
            return true;
        }
        let covered = |socket: Option<Local>| {
            socket.is_some_and(|local| {
                local.keys().any(|key| self.chains.get(key).is_some())
                    || local.pid.is_some_and(|pid| {
                        self.is_covered(pid) || self.undecided.contains_key(&pid)
                    })
            })
        };
        (summary.server_certificates.is_empty() && covered(sockets.client))
            || (summary.certificate_requested
                && summary.client_certificates.is_empty()
                && covered(sockets.server))
    }

    fn note_emitted_without(&mut self, session: &FinishedSession, sockets: &LocalSockets) {
        if session.summary().server_certificates.is_empty()
            && let Some(Local {
                cookie,
                pid: Some(pid),
                ..
            }) = sockets.client
            && self.is_covered(pid)
        {
            self.emitted_without.insert(cookie, Instant::now());
        }
    }

    fn is_covered(&self, pid: u32) -> bool {
        self.processes
            .get(&pid)
            .and_then(|process| process.coverage.as_ref())
            .is_some_and(|coverage| coverage.hooked)
    }
}
