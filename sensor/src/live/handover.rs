//! Hand-over of finished sessions: each is marked done in the kernel's
//! flow map (so its packets are no longer copied; a batch at a time), checked against the
//! sensor's own traffic and the sampling rate, tied to its CNFlow record,
//! and sent to the record writer.

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_record::StatsRecord;

use super::flows::FlowScanner;
use super::mark_done::DoneMarker;
use super::tls::TlsProbes;
use crate::directive::{flow_hash, sampled};
use crate::flow::{FlowKey, IpProtocol, flow_key};
use crate::pipeline::FinishedSession;
use crate::writer::{BackgroundWriter, Outgoing, WriterStopped};

/// Where finished sessions go and what decides about them.
pub(super) struct HandOver<'a> {
    pub writer: &'a mut BackgroundWriter<Outgoing>,
    pub marker: &'a mut DoneMarker,
    pub flow_scanner: &'a FlowScanner,
    pub stats: &'a mut StatsRecord,
    pub sampling_rate: f64,
    pub own_pid: u32,
    /// Nanoseconds from the kernel's monotonic clock to Unix time.
    pub monotonic_to_unix: u64,
    /// The TLS probes, whose chains sessions take (or wait for).
    pub tls: Option<&'a mut TlsProbes>,
}

impl HandOver<'_> {
    /// Sends `sessions` on; live records do not wait for a full batch.
    pub fn send(&mut self, sessions: Vec<FinishedSession>) -> Result<(), WriterStopped> {
        // Every flow is marked done first, in one run per 64 sessions,
        // whatever becomes of its record.
        for session in &sessions {
            // Only the entry this session started with: a client port
            // reused by a new connection before this hand-over has a newer
            // entry, which must keep copying. The session's first packet
            // made the entry, a few microseconds apart from the event's
            // timestamp; a new connection's entry is at least one round
            // trip younger.
            let started = session
                .context()
                .start_unix_nanos
                .saturating_sub(self.monotonic_to_unix);
            self.marker
                .request(kernel_key(session), started.saturating_add(SAME_ENTRY_NS));
        }
        if let Err(error) = self.marker.flush(&mut self.stats.flows_marked_done) {
            // Unmarked flows go on being copied, up to their byte budget.
            tracing::warn!(%error, "flows not marked done");
        }
        for mut session in sessions {
            let key = kernel_key(&session);
            // A socket's first packets can pass before the kernel knows its
            // process (the owner map is filled after the send); by the end
            // of the session it is known.
            if is_own_session(&session, self.own_pid) {
                self.stats.own_traffic_sessions += 1;
                continue;
            }
            if !sampled(flow_hash(&key), self.sampling_rate) {
                self.stats.sampled_out += 1;
                continue;
            }
            let first_ns = session
                .context()
                .observation
                .as_ref()
                .map_or(0, |seen| seen.flow_first_ns);
            if let Some(id) = self.flow_scanner.id_of(&key, first_ns) {
                session.set_cnflow_id(id);
            }
            let session = match self.tls.as_deref_mut() {
                Some(tls) => match tls.settle(session) {
                    Some(session) => session,
                    None => continue,
                },
                None => session,
            };
            self.writer.send(Outgoing::Session(session))?;
        }
        self.release(false)
    }

    /// Sends the sessions that waited for a chain and may go now (`all`:
    /// every one, at shutdown).
    pub fn release(&mut self, all: bool) -> Result<(), WriterStopped> {
        if let Some(tls) = self.tls.as_deref_mut() {
            for session in tls.released(all) {
                self.writer.send(Outgoing::Session(session))?;
            }
        }
        self.writer.hand_over()
    }
}

/// How much later than a session's first packet its flow entry may have
/// been made (the entry and the event take their clocks separately).
const SAME_ENTRY_NS: u64 = 1_000_000;

/// The kernel flow map's key of a session.
fn kernel_key(session: &FinishedSession) -> FlowKey {
    let context = session.context();
    let protocol = match context.transport {
        Transport::Quic => IpProtocol::Udp,
        _ => IpProtocol::Tcp,
    };
    flow_key(protocol, context.initiator, context.responder)
}

fn is_own_session(session: &FinishedSession, own_pid: u32) -> bool {
    session.context().observation.as_ref().is_some_and(|seen| {
        seen.sockets
            .iter()
            .flatten()
            .any(|socket| socket.pid == Some(own_pid))
    })
}
