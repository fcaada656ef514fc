//! The enrichment worker thread: answers TCP metrics lookups in the order
//! they came, one at a time, until the live loop is gone.
//!
//! A lookup names the socket's network namespace by its id (from the
//! owning process, [`NamespaceIds`]) and runs the kernel's TCP metrics
//! classifier once (`BPF_PROG_TEST_RUN`): no namespace is entered. A lookup
//! that waited too long for its turn is answered at once without looking
//! (late): the worker is behind, and records wait for its answers. A
//! namespace without an id is logged the first time per reason and counted
//! every time.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use aya::Ebpf;
use aya::programs::SchedClassifier;
use cipherlens_common::tcp_metrics::TCP_METRICS_PROGRAM;
use tokio::sync::mpsc;

use crate::cnflow::Side;
use crate::cnflow::TcpMetrics;
use crate::cnflow::namespace_ids::NamespaceIds;
use crate::cnflow::tcp_metrics::{LookupError, metrics};
use crate::live::ebpf::run_tcp_metrics;
use cipherlens_capture::tcp_metrics_frame::FrameError;

/// A lookup that waited longer for the worker is skipped.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Milliseconds the worker waits before each socket lookup: a lookup
/// that answers slowly, for the end-to-end test that shows the live loop
/// does not wait for lookups (real lookups are too fast to show it apart
/// from the record writer's own pace). Unset, no wait.
const DELAY_VARIABLE: &str = "CIPHERLENS_TEST_TCP_INFO_DELAY_MS";

/// One socket to ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Socket {
    pub side: Side,
    pub pid: u32,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// A record's lookup: its client socket first, then its server socket.
#[derive(Debug)]
pub(super) struct Lookup {
    pub ticket: u64,
    pub queued: Instant,
    pub sockets: [Option<Socket>; 2],
}

/// The worker's answer to one lookup.
#[derive(Debug)]
pub(in crate::live) struct Answer {
    pub ticket: u64,
    pub found: Option<(Side, TcpMetrics)>,
    /// Sockets asked about without finding metrics.
    pub misses: u64,
    /// Not looked up: it waited longer than [`MAX_WAIT`].
    pub late: bool,
    /// Namespaces without an id to look up by, by reason.
    pub namespace_failures: Vec<&'static str>,
}

/// Where metrics come from: the kernel's classifier, or (in unit tests) a
/// stand-in.
pub(super) trait MetricsSource: Send + 'static {
    fn metrics(&mut self, socket: &Socket) -> Result<TcpMetrics, LookupError>;
}

/// The kernel's TCP metrics classifier (its object, with the program
/// loaded) and the namespace ids it looks up by.
pub(in crate::live) struct KernelMetrics {
    object: Ebpf,
    namespaces: NamespaceIds,
}

impl KernelMetrics {
    pub fn new(object: Ebpf) -> std::io::Result<Self> {
        Ok(Self {
            object,
            namespaces: NamespaceIds::new()?,
        })
    }

    fn program(&self) -> Result<&SchedClassifier, LookupError> {
        self.object
            .program(TCP_METRICS_PROGRAM)
            .and_then(|program| <&SchedClassifier>::try_from(program).ok())
            .ok_or_else(|| LookupError::Run(format!("{TCP_METRICS_PROGRAM} is not in its object")))
    }
}

impl MetricsSource for KernelMetrics {
    fn metrics(&mut self, socket: &Socket) -> Result<TcpMetrics, LookupError> {
        let (netns_id, inode) = self.namespaces.of_process(socket.pid)?;
        let reply = run_tcp_metrics(self.program()?, netns_id, socket.local, socket.remote);
        if matches!(reply, Err(LookupError::Frame(FrameError::NotFound))) && netns_id >= 0 {
            self.namespaces.forget(inode);
        }
        Ok(metrics(&reply?))
    }
}

/// Starts the worker; `queue` lookups wait for it at most.
pub(super) fn spawn(
    source: impl MetricsSource,
    queue: usize,
) -> std::io::Result<(SyncSender<Lookup>, mpsc::Receiver<Answer>)> {
    let (lookups, queued) = sync_channel(queue);
    let (answer, answers) = mpsc::channel(queue.max(1));
    let delay = std::env::var(DELAY_VARIABLE)
        .ok()
        .and_then(|millis| millis.parse().ok())
        .map(Duration::from_millis);
    std::thread::Builder::new()
        .name("cnflow-enrich".into())
        .spawn(move || work(source, queued, answer, delay))?;
    Ok((lookups, answers))
}

/// The worker thread: answers lookups in order until the live loop is gone.
fn work(
    mut source: impl MetricsSource,
    lookups: Receiver<Lookup>,
    answers: mpsc::Sender<Answer>,
    delay: Option<Duration>,
) {
    let mut logged = BTreeSet::new();
    for lookup in lookups {
        let answer = look_up(&mut source, &lookup, &mut logged, delay);
        if answers.blocking_send(answer).is_err() {
            return;
        }
    }
}

fn look_up(
    source: &mut impl MetricsSource,
    lookup: &Lookup,
    logged: &mut BTreeSet<&'static str>,
    delay: Option<Duration>,
) -> Answer {
    let mut answer = Answer {
        ticket: lookup.ticket,
        found: None,
        misses: 0,
        late: lookup.queued.elapsed() > MAX_WAIT,
        namespace_failures: Vec::new(),
    };
    if answer.late {
        return answer;
    }
    for socket in lookup.sockets.iter().flatten() {
        if let Some(delay) = delay {
            std::thread::sleep(delay);
        }
        match source.metrics(socket) {
            Ok(metrics) => {
                answer.found = Some((socket.side, metrics));
                break;
            }
            Err(error) => {
                answer.misses += 1;
                if let LookupError::Namespace(_) | LookupError::Run(_) = error {
                    let reason = error.reason();
                    answer.namespace_failures.push(reason);
                    if logged.insert(reason) {
                        tracing::warn!(
                            reason,
                            pid = socket.pid,
                            %error,
                            "no TCP metrics for a socket; further failures like this are only counted"
                        );
                    }
                }
            }
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the lookups it is asked for and finds nothing.
    struct Nothing(u32);

    impl MetricsSource for Nothing {
        fn metrics(&mut self, _: &Socket) -> Result<TcpMetrics, LookupError> {
            self.0 += 1;
            Err(LookupError::Frame(FrameError::NotFound))
        }
    }

    #[test]
    fn a_lookup_that_waited_too_long_is_skipped() {
        let mut source = Nothing(0);
        let queued = Instant::now()
            .checked_sub(MAX_WAIT * 2)
            .expect("a process older than MAX_WAIT*2 or a clock that allows it");
        let lookup = Lookup {
            ticket: 1,
            queued,
            sockets: [
                Some(Socket {
                    side: Side::Client,
                    pid: 1,
                    local: "10.0.0.2:40000".parse().expect("address"),
                    remote: "10.0.0.1:443".parse().expect("address"),
                }),
                None,
            ],
        };
        let answer = look_up(&mut source, &lookup, &mut BTreeSet::new(), None);
        assert!(answer.late && answer.found.is_none() && answer.misses == 0);
        assert_eq!(source.0, 0, "not looked up");
        let fresh = Lookup {
            queued: Instant::now(),
            ..lookup
        };
        let answer = look_up(&mut source, &fresh, &mut BTreeSet::new(), None);
        assert!(!answer.late && answer.found.is_none() && answer.misses == 1);
    }
}
