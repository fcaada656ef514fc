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
//!
//! - [`connection`]: credentials, TLS, connecting.
//! - [`publisher`]: the bounded queue and the publishing task.
//! - [`directives`]: directives in, replies out.
//! - [`subjects`]: the subject of each record kind.

mod connection;
mod directives;
mod publisher;
pub mod subjects;

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::ConnectErrorKind;
use bytes::Bytes;
use cipherlens_record::RecordKind;

pub use connection::NatsCredentials;
pub use publisher::{PublishCounters, PublishStats};
pub use subjects::Subjects;

use super::Sink;
use crate::directive::DirectiveRequest;
use publisher::{Queued, Shared, snapshot};

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
    #[error(transparent)]
    Subject(#[from] subjects::InvalidPrefix),
    #[error("starting the NATS publisher: {0}")]
    Start(io::Error),
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
        subjects::validate_prefix(&options.prefix).map_err(NatsError::Subject)?;
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
                    let client = match connection::connect(&options, &publisher_shared).await {
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
                        tokio::spawn(directives::serve_directives(
                            client.clone(),
                            subjects,
                            directive_tx,
                            Arc::clone(&publisher_shared),
                        ));
                    }
                    publisher::publish_loop(client, &options, &publisher_shared).await;
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
