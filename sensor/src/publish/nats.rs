//! Publishing records to NATS, with a bounded buffer that rides out outages.
//!
//! Records are queued by the record writer thread and published by a task on
//! this sink's own thread and runtime (so `replay` and `live` share it).
//! A record leaves the queue only once NATS has it: after a `flush` round
//! trip for core NATS, after the stream's ack with JetStream. While the
//! server is unreachable records wait, in order, up to the buffer bound;
//! records beyond it are dropped and counted (`dropped_buffer_full`), never
//! silently. A batch that failed half-way is sent again, so delivery is
//! at-least-once; with JetStream every message carries a `Nats-Msg-Id`
//! unique to this run, so the stream's duplicate window removes the repeats.
//!
//! At startup a wrong credential or a TLS failure is an error that stops
//! the sensor (it would never succeed); an unreachable server is not: the
//! sensor starts, buffers and keeps reconnecting with backoff.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::{ConnectErrorKind, ConnectOptions};
use bytes::Bytes;
use cipherlens_control::directive::parse_directive;
use serde::Serialize;

use super::Sink;
use super::subjects::{RecordKind, Subjects};
use crate::directive::{DirectiveRequest, error_reply};

/// Records published per round trip at most.
const BATCH: usize = 256;
/// How long one flush or ack may take before the batch is retried.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(5);
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// How to authenticate.
#[derive(Debug, Clone, Default)]
pub enum NatsCredentials {
    #[default]
    None,
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// An nkey seed (`SU...`).
    NkeySeed(String),
    /// A `.creds` file (JWT and nkey seed).
    CredsFile(PathBuf),
}

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// `nats://host:port` or `tls://host:port`; several comma-separated.
    pub url: String,
    pub prefix: String,
    /// This node's name (subject token).
    pub node: String,
    pub credentials: NatsCredentials,
    /// CA bundle to verify the server with (PEM).
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    pub tls_required: bool,
    /// Publish through JetStream and wait for the stream's acks.
    pub jetstream: bool,
    /// Records buffered at most while NATS cannot take them.
    pub buffer: usize,
    /// Listen for directives on `<prefix>.directive.<node>` and
    /// `<prefix>.directive.all` (live capture).
    pub directives: bool,
}

/// Directives queued for the live loop at most; more are refused as busy.
const DIRECTIVE_QUEUE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(
        "NATS at {url} refused the connection ({kind}); check the credentials and TLS settings"
    )]
    Refused {
        url: String,
        kind: ConnectErrorKind,
        source: async_nats::ConnectError,
    },
    #[error("connecting to NATS at {url}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("reading the NATS credentials file {path}")]
    CredsFile { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Subject(String),
    #[error("starting the NATS publisher: {0}")]
    Start(io::Error),
}

/// Counters of the publisher, for the stats record.
#[derive(Debug, Default)]
pub struct PublishCounters {
    pub published: AtomicU64,
    pub dropped_buffer_full: AtomicU64,
    pub dropped_at_shutdown: AtomicU64,
    pub failed_round_trips: AtomicU64,
    pub disconnects: AtomicU64,
    pub directives_received: AtomicU64,
    pub directives_refused: AtomicU64,
    /// Sum of publish latencies (queue to acknowledged), microseconds.
    pub latency_micros_total: AtomicU64,
}

/// A snapshot of [`PublishCounters`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishStats {
    pub published: u64,
    pub buffered: u64,
    pub dropped_buffer_full: u64,
    pub dropped_at_shutdown: u64,
    pub failed_round_trips: u64,
    pub disconnects: u64,
    pub directives_received: u64,
    /// Directives refused (malformed, or the sensor busy or stopping).
    pub directives_refused: u64,
    /// Mean time from queueing to acknowledgement, milliseconds.
    pub mean_latency_ms: f64,
}

struct Queued {
    kind: RecordKind,
    payload: Bytes,
    sequence: u64,
    queued_at: Instant,
}

struct Shared {
    queue: Mutex<VecDeque<Queued>>,
    wake: tokio::sync::Notify,
    closing: AtomicBool,
    deadline: Mutex<Option<Instant>>,
    capacity: usize,
    counters: PublishCounters,
}

impl Shared {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // A panic while holding the lock cannot leave the queue torn.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The NATS sink: see the module docs.
pub struct NatsSink {
    shared: Arc<Shared>,
    next_sequence: u64,
    thread: Option<JoinHandle<()>>,
    directives: Option<tokio::sync::mpsc::Receiver<DirectiveRequest>>,
}

impl NatsSink {
    /// Connects (see the module docs for which failures stop startup) and
    /// starts the publisher.
    pub fn connect(options: NatsOptions) -> Result<Self, NatsError> {
        super::subjects::validate_prefix(&options.prefix).map_err(NatsError::Subject)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            closing: AtomicBool::new(false),
            deadline: Mutex::new(None),
            capacity: options.buffer.max(1),
            counters: PublishCounters::default(),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let publisher_shared = Arc::clone(&shared);
        let (directive_tx, directive_rx) = tokio::sync::mpsc::channel(DIRECTIVE_QUEUE);
        let directives = options.directives.then_some(directive_rx);
        let thread = std::thread::Builder::new()
            .name("nats-publisher".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(NatsError::Start(error)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let client = match connect(&options, &publisher_shared).await {
                        Ok(client) => {
                            let _ = ready_tx.send(Ok(()));
                            client
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return;
                        }
                    };
                    if options.directives {
                        let subjects = Subjects::new(&options.prefix, &options.node);
                        tokio::spawn(serve_directives(
                            client.clone(),
                            subjects,
                            directive_tx,
                            Arc::clone(&publisher_shared),
                        ));
                    }
                    publish_loop(client, &options, &publisher_shared).await;
                });
            })
            .map_err(NatsError::Start)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                shared,
                next_sequence: 0,
                thread: Some(thread),
                directives,
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(NatsError::Start(io::Error::other(
                "the NATS publisher thread ended during startup",
            ))),
        }
    }

    /// Directives for the live loop (once; `None` without `directives`).
    pub fn take_directives(&mut self) -> Option<tokio::sync::mpsc::Receiver<DirectiveRequest>> {
        self.directives.take()
    }

    /// The publisher's counters now.
    pub fn stats(&self) -> PublishStats {
        snapshot(&self.shared)
    }

    /// A handle to read the counters from elsewhere (the stats record).
    pub fn stats_source(&self) -> PublishStatsSource {
        PublishStatsSource(Arc::clone(&self.shared))
    }
}

/// Reads a [`NatsSink`]'s counters from another thread.
#[derive(Clone)]
pub struct PublishStatsSource(Arc<Shared>);

impl PublishStatsSource {
    pub fn stats(&self) -> PublishStats {
        snapshot(&self.0)
    }
}

fn snapshot(shared: &Shared) -> PublishStats {
    let counters = &shared.counters;
    let published = counters.published.load(Ordering::Relaxed);
    let latency = counters.latency_micros_total.load(Ordering::Relaxed);
    PublishStats {
        published,
        buffered: shared.queue().len() as u64,
        dropped_buffer_full: counters.dropped_buffer_full.load(Ordering::Relaxed),
        dropped_at_shutdown: counters.dropped_at_shutdown.load(Ordering::Relaxed),
        failed_round_trips: counters.failed_round_trips.load(Ordering::Relaxed),
        disconnects: counters.disconnects.load(Ordering::Relaxed),
        directives_received: counters.directives_received.load(Ordering::Relaxed),
        directives_refused: counters.directives_refused.load(Ordering::Relaxed),
        mean_latency_ms: if published == 0 {
            0.0
        } else {
            latency as f64 / published as f64 / 1000.0
        },
    }
}

impl Sink for NatsSink {
    fn publish(&mut self, kind: RecordKind, record: &[u8]) -> io::Result<()> {
        let mut queue = self.shared.queue();
        if queue.len() >= self.shared.capacity {
            self.shared
                .counters
                .dropped_buffer_full
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        queue.push_back(Queued {
            kind,
            payload: Bytes::copy_from_slice(record),
            sequence: self.next_sequence,
            queued_at: Instant::now(),
        });
        drop(queue);
        self.next_sequence += 1;
        self.shared.wake.notify_one();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn close(&mut self, drain_for: Duration) -> io::Result<()> {
        *self
            .shared
            .deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now() + drain_for);
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .map_err(|_| io::Error::other("the NATS publisher panicked"))?;
        }
        Ok(())
    }
}

impl Drop for NatsSink {
    fn drop(&mut self) {
        let _ = self.close(Duration::ZERO);
    }
}

async fn connect(
    options: &NatsOptions,
    shared: &Arc<Shared>,
) -> Result<async_nats::Client, NatsError> {
    let first = connect_options(options, shared)
        .await?
        .connect(options.url.as_str())
        .await;
    match first {
        Ok(client) => Ok(client),
        Err(source) => match source.kind() {
            kind @ (ConnectErrorKind::AuthorizationViolation
            | ConnectErrorKind::Authentication
            | ConnectErrorKind::Tls
            | ConnectErrorKind::ServerParse) => Err(NatsError::Refused {
                url: options.url.clone(),
                kind,
                source,
            }),
            // rustls reports a certificate it does not trust as an I/O
            // error of kind InvalidData: a setting to fix, not an outage.
            ConnectErrorKind::Io if is_invalid_data(&source) => Err(NatsError::Refused {
                url: options.url.clone(),
                kind: ConnectErrorKind::Tls,
                source,
            }),
            _ => {
                tracing::warn!(url = %options.url, error = %source,
                    "NATS unreachable at start; buffering and retrying");
                connect_options(options, shared)
                    .await?
                    .retry_on_initial_connect()
                    .connect(options.url.as_str())
                    .await
                    .map_err(|source| NatsError::Connect {
                        url: options.url.clone(),
                        source,
                    })
            }
        },
    }
}

fn is_invalid_data(error: &async_nats::ConnectError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::InvalidData;
        }
        cause = current.source();
    }
    false
}

async fn connect_options(
    options: &NatsOptions,
    shared: &Arc<Shared>,
) -> Result<ConnectOptions, NatsError> {
    let mut connect = match &options.credentials {
        NatsCredentials::None => ConnectOptions::new(),
        NatsCredentials::UserPassword { user, password } => {
            ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        NatsCredentials::Token(token) => ConnectOptions::with_token(token.clone()),
        NatsCredentials::NkeySeed(seed) => ConnectOptions::with_nkey(seed.clone()),
        NatsCredentials::CredsFile(path) => ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|source| NatsError::CredsFile {
                path: path.clone(),
                source,
            })?,
    };
    if let Some(ca) = &options.tls_ca {
        connect = connect.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &options.tls_client {
        connect = connect.add_client_certificate(cert.clone(), key.clone());
    }
    let events = Arc::clone(shared);
    Ok(connect
        .require_tls(options.tls_required)
        .name(format!("cipherlens {}", options.node))
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let events = Arc::clone(&events);
            async move {
                match event {
                    async_nats::Event::Disconnected => {
                        events.counters.disconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("NATS disconnected; buffering");
                    }
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::info!(event = %other, "NATS"),
                }
            }
        }))
}

/// Publishes queued records until closed (see the module docs).
async fn publish_loop(client: async_nats::Client, options: &NatsOptions, shared: &Shared) {
    let subjects = Subjects::new(&options.prefix, &options.node);
    let jetstream = options
        .jetstream
        .then(|| async_nats::jetstream::new(client.clone()));
    let run_id = crate::time::unix_now_nanos();
    let node = super::subjects::node_token(&options.node);
    let mut retry = RETRY_FIRST;
    loop {
        let closing = shared.closing.load(Ordering::SeqCst);
        let past_deadline = closing
            && shared
                .deadline
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .is_none_or(|deadline| Instant::now() >= deadline);
        let batch: Vec<(RecordKind, Bytes, u64, Instant)> = shared
            .queue()
            .iter()
            .take(BATCH)
            .map(|q| (q.kind, q.payload.clone(), q.sequence, q.queued_at))
            .collect();
        if batch.is_empty() || past_deadline {
            if closing {
                let left = shared.queue().len() as u64;
                shared
                    .counters
                    .dropped_at_shutdown
                    .fetch_add(left, Ordering::Relaxed);
                if left > 0 {
                    tracing::warn!(records = left, "NATS publisher stopped with records unsent");
                }
                return;
            }
            // Woken by a new record, or a periodic look at `closing`.
            let _ = tokio::time::timeout(Duration::from_millis(200), shared.wake.notified()).await;
            continue;
        }
        if client.connection_state() != State::Connected {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let sent = match &jetstream {
            Some(context) => publish_acknowledged(context, &subjects, &node, run_id, &batch).await,
            None => publish_flushed(&client, &subjects, &batch).await,
        };
        match sent {
            Ok(()) => {
                let now = Instant::now();
                let latency: u64 = batch
                    .iter()
                    .map(|(_, _, _, at)| now.duration_since(*at).as_micros() as u64)
                    .sum();
                let mut queue = shared.queue();
                let done = batch.len().min(queue.len());
                queue.drain(..done);
                drop(queue);
                let counters = &shared.counters;
                counters
                    .published
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                counters
                    .latency_micros_total
                    .fetch_add(latency, Ordering::Relaxed);
                retry = RETRY_FIRST;
            }
            Err(error) => {
                shared
                    .counters
                    .failed_round_trips
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, records = batch.len(), retry_in = ?retry, "publishing to NATS failed; will retry");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn publish_flushed(
    client: &async_nats::Client,
    subjects: &Subjects,
    batch: &[(RecordKind, Bytes, u64, Instant)],
) -> Result<(), String> {
    for (kind, payload, _, _) in batch {
        client
            .publish(subjects.of(*kind).to_string(), payload.clone())
            .await
            .map_err(|error| error.to_string())?;
    }
    match tokio::time::timeout(ROUND_TRIP_LIMIT, client.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("flush timed out".to_string()),
    }
}

async fn publish_acknowledged(
    context: &async_nats::jetstream::Context,
    subjects: &Subjects,
    node: &str,
    run_id: u64,
    batch: &[(RecordKind, Bytes, u64, Instant)],
) -> Result<(), String> {
    let mut acks = Vec::with_capacity(batch.len());
    for (kind, payload, sequence, _) in batch {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{node}-{run_id}-{sequence}").as_str(),
        );
        let ack = context
            .publish_with_headers(subjects.of(*kind).to_string(), headers, payload.clone())
            .await
            .map_err(|error| error.to_string())?;
        acks.push(ack);
    }
    for ack in acks {
        match tokio::time::timeout(ROUND_TRIP_LIMIT, ack).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => return Err("JetStream ack timed out".to_string()),
        }
    }
    Ok(())
}

/// Receives directives, refuses malformed ones at once, hands the rest to
/// the live loop and publishes its reply to the request's reply subject.
async fn serve_directives(
    client: async_nats::Client,
    subjects: Subjects,
    to_loop: tokio::sync::mpsc::Sender<DirectiveRequest>,
    shared: Arc<Shared>,
) {
    use futures_util::StreamExt;
    let Subjects {
        directive: node_subject,
        directive_all: all_subject,
        ..
    } = subjects;
    let (mut node, mut all) = match (
        client.subscribe(node_subject.clone()).await,
        client.subscribe(all_subject.clone()).await,
    ) {
        (Ok(node), Ok(all)) => (node, all),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "subscribing to directives failed; directives are off");
            return;
        }
    };
    tracing::info!(subject = %node_subject, broadcast = %all_subject, "listening for directives");
    loop {
        let message = tokio::select! {
            message = node.next() => message,
            message = all.next() => message,
        };
        let Some(message) = message else { return };
        shared
            .counters
            .directives_received
            .fetch_add(1, Ordering::Relaxed);
        let reply = match parse_directive(&message.payload) {
            Err(error) => {
                tracing::warn!(%error, "directive refused");
                shared
                    .counters
                    .directives_refused
                    .fetch_add(1, Ordering::Relaxed);
                error_reply(&error)
            }
            Ok(directive) => {
                tracing::info!(?directive, "directive");
                let (respond, answer) = tokio::sync::oneshot::channel();
                match to_loop.try_send(DirectiveRequest { directive, respond }) {
                    Ok(()) => answer
                        .await
                        .unwrap_or_else(|_| error_reply(&"the sensor is stopping")),
                    Err(_) => {
                        shared
                            .counters
                            .directives_refused
                            .fetch_add(1, Ordering::Relaxed);
                        error_reply(&"the sensor is busy with earlier directives; try again")
                    }
                }
            }
        };
        if let Some(subject) = message.reply {
            let payload = serde_json::to_vec(&reply).unwrap_or_default();
            if let Err(error) = client.publish(subject, payload.into()).await {
                tracing::warn!(%error, "directive reply not sent");
            }
        }
    }
}
