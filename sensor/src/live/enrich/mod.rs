//! TCP metrics for CNFlow records, looked up off the live loop.
//!
//! A lookup is a system call or two (the kernel's TCP metrics classifier
//! run on request, and for a namespace not seen before an rtnetlink round
//! trip for its id): not for the thread that drains the ring buffer, whose
//! latency is the sensor's. So the live loop hands each TCP record's lookup to one
//! worker thread through a bounded queue and never waits on it. When the
//! queue is full, or a lookup waited too long for the worker, the record
//! goes on without metrics (counted); a record is never dropped. Answers
//! come back on a channel the live loop selects on. Records wait here in the
//! order the scans made them until their lookups are answered, so CNFlow
//! records leave in scan order (an update never overtakes its flow's end)
//! and the record writer keeps a single producer, the live loop.
//!
//! An ended flow (RST, or FIN both ways) is not looked up: its sockets are
//! closed or in `time_wait`, which has no metrics. The worker thread is
//! [`worker`].

mod worker;

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use aya::Ebpf;

use self::worker::{KernelMetrics, Lookup, Socket};
use crate::cnflow::{FlowFacts, Reason, Side};
use crate::flow::IpProtocol;

pub(super) use self::worker::Answer;

/// Lookups waiting for the worker at most (a few hundred bytes each).
const QUEUE: usize = 8192;

/// What enrichment counted, for the stats record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct EnrichCounts {
    /// Sockets looked up without finding metrics (gone, or an error).
    pub misses: u64,
    /// Records sent without metrics because the worker was behind.
    pub skipped_busy: u64,
    /// End records not looked up (their sockets are closed).
    pub skipped_ended: u64,
    /// Sockets whose namespace had no id, or whose lookup failed to run,
    /// by reason.
    pub namespace_failures: BTreeMap<&'static str, u64>,
}

struct Pending {
    ticket: u64,
    facts: Box<FlowFacts>,
    waiting: bool,
}

/// The live loop's side: records in scan order and the worker's channels.
pub(super) struct Enricher {
    /// `None` without a worker (sock_diag unusable, or shutting down).
    lookups: Option<SyncSender<Lookup>>,
    answers: Option<mpsc::Receiver<Answer>>,
    records: VecDeque<Pending>,
    waiting: usize,
    next_ticket: u64,
    pub counts: EnrichCounts,
}

impl Enricher {
    /// Starts the worker thread with the kernel's TCP metrics classifier
    /// (its loaded object, which the thread owns); without an rtnetlink
    /// socket, records go on without metrics.
    pub fn start(program: Ebpf) -> Self {
        let source = match KernelMetrics::new(program) {
            Ok(source) => source,
            Err(error) => {
                tracing::warn!(%error, "no rtnetlink socket for namespace ids; CNFlow records without TCP metrics");
                return Self::without_lookups();
            }
        };
        match worker::spawn(source, QUEUE) {
            Ok((lookups, answers)) => Self::with_channels(Some(lookups), Some(answers)),
            Err(error) => {
                tracing::warn!(%error, "no enrichment thread; CNFlow records without TCP metrics");
                Self::without_lookups()
            }
        }
    }

    pub fn without_lookups() -> Self {
        Self::with_channels(None, None)
    }

    fn with_channels(
        lookups: Option<SyncSender<Lookup>>,
        answers: Option<mpsc::Receiver<Answer>>,
    ) -> Self {
        Self {
            lookups,
            answers,
            records: VecDeque::new(),
            waiting: 0,
            next_ticket: 0,
            counts: EnrichCounts::default(),
        }
    }

    /// Queues a record, with a lookup of its TCP metrics when it has a
    /// local socket; never waits.
    pub fn submit(&mut self, facts: Box<FlowFacts>) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let sockets = sockets_of(&facts);
        let mut waiting = false;
        if sockets.iter().any(Option::is_some)
            && let Some(lookups) = &self.lookups
        {
            if facts.reason == Reason::End {
                self.counts.skipped_ended += 1;
            } else {
                let lookup = Lookup {
                    ticket,
                    queued: Instant::now(),
                    sockets,
                };
                match lookups.try_send(lookup) {
                    Ok(()) => waiting = true,
                    Err(TrySendError::Full(_)) => self.counts.skipped_busy += 1,
                    Err(TrySendError::Disconnected(_)) => {
                        self.counts.skipped_busy += 1;
                        self.worker_gone();
                    }
                }
            }
        }
        self.waiting += usize::from(waiting);
        self.records.push_back(Pending {
            ticket,
            facts,
            waiting,
        });
    }

    /// The next record whose turn it is, if its lookup is done.
    pub fn next_ready(&mut self) -> Option<Box<FlowFacts>> {
        if self.records.front()?.waiting {
            return None;
        }
        self.records.pop_front().map(|pending| pending.facts)
    }

    /// Whether a record is ready to go ([`Enricher::next_ready`]).
    pub fn has_ready(&self) -> bool {
        self.records.front().is_some_and(|pending| !pending.waiting)
    }

    /// Puts back a record taken by [`Enricher::next_ready`] that could not
    /// go yet: it is first again.
    pub fn put_back(&mut self, facts: Box<FlowFacts>) {
        // Below every queued ticket (they stay sorted for the answers'
        // search) and not waiting, so no answer is looked for by it.
        let ticket = self
            .records
            .front()
            .map_or(self.next_ticket, |pending| pending.ticket)
            .saturating_sub(1);
        self.records.push_front(Pending {
            ticket,
            facts,
            waiting: false,
        });
    }

    /// The worker's next answer (`None`: the worker is gone); pending
    /// forever while no record waits for one. Cancel-safe.
    pub async fn next_answer(&mut self) -> Option<Answer> {
        match &mut self.answers {
            Some(answers) if self.waiting > 0 => answers.recv().await,
            _ => std::future::pending().await,
        }
    }

    /// Takes an answer from [`Enricher::next_answer`] and any others that
    /// are ready.
    pub fn on_answer(&mut self, answer: Option<Answer>) {
        let Some(answer) = answer else {
            self.worker_gone();
            return;
        };
        self.apply(answer);
        while self.waiting > 0 {
            match self.answers.as_mut().map(mpsc::Receiver::try_recv) {
                Some(Ok(answer)) => self.apply(answer),
                Some(Err(mpsc::error::TryRecvError::Disconnected)) => self.worker_gone(),
                _ => break,
            }
        }
    }

    /// At exit: waits up to `within` for the answers still due, then lets
    /// the rest go without metrics.
    pub async fn finish(&mut self, within: Duration) {
        // The worker ends once it has answered what is queued.
        self.lookups = None;
        let deadline = tokio::time::Instant::now() + within;
        while self.waiting > 0 {
            match tokio::time::timeout_at(deadline, self.next_answer()).await {
                Ok(answer) => self.on_answer(answer),
                Err(_) => self.give_up(),
            }
        }
    }

    fn apply(&mut self, answer: Answer) {
        self.counts.misses += answer.misses;
        for reason in answer.namespace_failures {
            *self.counts.namespace_failures.entry(reason).or_default() += 1;
        }
        let Ok(index) = self
            .records
            .binary_search_by_key(&answer.ticket, |pending| pending.ticket)
        else {
            return;
        };
        let pending = &mut self.records[index];
        if !pending.waiting {
            return;
        }
        pending.waiting = false;
        self.waiting -= 1;
        if answer.late {
            self.counts.skipped_busy += 1;
        }
        pending.facts.tcp = answer.found.map(Box::new);
    }

    fn worker_gone(&mut self) {
        if self.lookups.is_some() {
            tracing::warn!(
                "the enrichment thread stopped; CNFlow records go on without TCP metrics"
            );
        }
        self.lookups = None;
        self.answers = None;
        self.give_up();
    }

    /// Lets every waiting record go without metrics.
    fn give_up(&mut self) {
        for pending in self.records.iter_mut().filter(|pending| pending.waiting) {
            pending.waiting = false;
            self.counts.skipped_busy += 1;
        }
        self.waiting = 0;
    }
}

/// The flow's local sockets: the client's, then the server's (a socket is
/// local when the kernel saw its process).
fn sockets_of(facts: &FlowFacts) -> [Option<Socket>; 2] {
    if facts.protocol != IpProtocol::Tcp {
        return [None, None];
    }
    [
        (Side::Client, 0, facts.client, facts.server),
        (Side::Server, 1, facts.server, facts.client),
    ]
    .map(|(side, index, local, remote)| {
        facts.pids[index].map(|pid| Socket {
            side,
            pid,
            local,
            remote,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnflow::TcpMetrics;
    use cipherlens_record::cnflow::TcpState;
    use std::sync::mpsc::{Receiver, sync_channel};

    fn facts(protocol: IpProtocol, reason: Reason, pids: [Option<u32>; 2]) -> Box<FlowFacts> {
        Box::new(FlowFacts {
            id: String::new(),
            reason,
            protocol,
            client: facts_client(),
            server: facts_server(),
            opening_seen: true,
            first_ns: 0,
            last_ns: 0,
            ifindex: 1,
            interface: None,
            packets: [1, 1],
            bytes: [60, 60],
            tcp_flags: [0, 0],
            socket_cookies: [11, 22],
            pids,
            tcp: None,
        })
    }

    fn facts_client() -> std::net::SocketAddr {
        "10.0.0.2:40000".parse().expect("address")
    }

    fn facts_server() -> std::net::SocketAddr {
        "10.0.0.1:443".parse().expect("address")
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    /// An enricher whose worker is the test: it reads the lookups and
    /// writes the answers.
    fn by_hand(queue: usize) -> (Enricher, Receiver<Lookup>, mpsc::Sender<Answer>) {
        let (lookups, queued) = sync_channel(queue);
        let (answer, answers) = mpsc::channel(queue.max(1));
        (
            Enricher::with_channels(Some(lookups), Some(answers)),
            queued,
            answer,
        )
    }

    fn answer(ticket: u64, found: Option<(Side, TcpMetrics)>) -> Answer {
        Answer {
            ticket,
            misses: u64::from(found.is_none()),
            found,
            late: false,
            namespace_failures: Vec::new(),
        }
    }

    fn ready(enricher: &mut Enricher) -> Vec<(u16, bool)> {
        std::iter::from_fn(|| enricher.next_ready())
            .map(|facts| (facts.client.port(), facts.tcp.is_some()))
            .collect()
    }

    #[test]
    fn records_leave_in_scan_order_once_their_metrics_are_in() {
        let (mut enricher, queued, answers) = by_hand(8);
        enricher.submit(facts(IpProtocol::Tcp, Reason::Update, [Some(7), Some(8)]));
        let mut udp = facts(IpProtocol::Udp, Reason::Update, [Some(7), None]);
        udp.client.set_port(40001);
        enricher.submit(udp);
        assert_eq!(ready(&mut enricher), [], "the UDP record waits its turn");

        let lookup = queued.try_recv().expect("a lookup for the TCP record");
        assert!(queued.try_recv().is_err(), "none for UDP");
        let [Some(client), Some(server)] = lookup.sockets else {
            panic!("both sockets: {lookup:?}")
        };
        assert_eq!(
            (client.side, client.pid, client.local, client.remote),
            (Side::Client, 7, facts_client(), facts_server())
        );
        assert_eq!(
            (server.side, server.pid, server.local, server.remote),
            (Side::Server, 8, facts_server(), facts_client())
        );
        let metrics = TcpMetrics {
            state: TcpState::Established,
            ..TcpMetrics::default()
        };
        answers
            .try_send(answer(lookup.ticket, Some((Side::Client, metrics))))
            .expect("answer");
        let next = runtime().block_on(enricher.next_answer());
        enricher.on_answer(next);
        assert_eq!(ready(&mut enricher), [(40000, true), (40001, false)]);
        assert_eq!(enricher.counts, EnrichCounts::default());
    }

    #[test]
    fn a_full_queue_sends_the_record_on_without_metrics() {
        let (mut enricher, queued, answers) = by_hand(1);
        enricher.submit(facts(IpProtocol::Tcp, Reason::Update, [Some(7), None]));
        let mut second = facts(IpProtocol::Tcp, Reason::Idle, [None, Some(8)]);
        second.client.set_port(40001);
        enricher.submit(second);
        assert_eq!(enricher.counts.skipped_busy, 1);
        let lookup = queued.try_recv().expect("the first lookup");
        assert_eq!(lookup.sockets[0].map(|s| s.pid), Some(7));
        assert!(queued.try_recv().is_err(), "the second was not queued");
        answers
            .try_send(answer(lookup.ticket, None))
            .expect("answer");
        let next = runtime().block_on(enricher.next_answer());
        enricher.on_answer(next);
        assert_eq!(ready(&mut enricher), [(40000, false), (40001, false)]);
        assert_eq!(enricher.counts.misses, 1);
    }

    #[test]
    fn ended_and_foreign_flows_are_not_looked_up() {
        let (mut enricher, queued, _answers) = by_hand(8);
        enricher.submit(facts(IpProtocol::Tcp, Reason::End, [Some(7), Some(8)]));
        enricher.submit(facts(IpProtocol::Tcp, Reason::Update, [None, None]));
        assert!(queued.try_recv().is_err());
        assert_eq!(ready(&mut enricher), [(40000, false), (40000, false)]);
        assert_eq!(enricher.counts.skipped_ended, 1);
    }

    #[test]
    fn a_late_answer_counts_as_busy_and_a_gone_worker_frees_every_record() {
        let (mut enricher, queued, answers) = by_hand(8);
        for _ in 0..3 {
            enricher.submit(facts(IpProtocol::Tcp, Reason::Update, [Some(7), None]));
        }
        let first = queued.try_recv().expect("lookup");
        let mut late = answer(first.ticket, None);
        (late.late, late.misses) = (true, 0);
        answers.try_send(late).expect("answer");
        drop(answers);
        let runtime = runtime();
        let next = runtime.block_on(enricher.next_answer());
        enricher.on_answer(next);
        assert_eq!(
            ready(&mut enricher).len(),
            3,
            "none waits for a gone worker"
        );
        assert_eq!(enricher.counts.skipped_busy, 3);
        // Later records go on at once.
        enricher.submit(facts(IpProtocol::Tcp, Reason::Update, [Some(7), None]));
        assert_eq!(ready(&mut enricher).len(), 1);
    }

    #[test]
    fn exit_waits_a_little_then_lets_the_records_go() {
        let (mut enricher, _queued, _answers) = by_hand(8);
        enricher.submit(facts(IpProtocol::Tcp, Reason::Shutdown, [Some(7), None]));
        let started = Instant::now();
        runtime().block_on(enricher.finish(Duration::from_millis(50)));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(ready(&mut enricher), [(40000, false)]);
        assert_eq!(enricher.counts.skipped_busy, 1);
    }
}
