//! The publisher: a bounded in-order queue filled by the record writer
//! thread, emptied in batches by a task on the NATS thread once NATS has
//! the records (a flush round trip, or JetStream's acks).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use bytes::Bytes;
use cipherlens_record::RecordKind;
pub use cipherlens_record::stats::PublishStats;

use super::NatsOptions;
use super::subjects::{Subjects, node_token};
use crate::error_chain::ErrorChain;

/// Records published per round trip at most.
const BATCH: usize = 256;
/// How long one flush or ack may take before the batch is retried.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(5);
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

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

pub(super) struct Queued {
    pub(super) kind: RecordKind,
    pub(super) payload: Bytes,
    pub(super) sequence: u64,
    pub(super) queued_at: Instant,
}

pub(super) struct Shared {
    pub(super) queue: Mutex<VecDeque<Queued>>,
    pub(super) wake: tokio::sync::Notify,
    pub(super) closing: AtomicBool,
    pub(super) deadline: Mutex<Option<Instant>>,
    pub(super) capacity: usize,
    pub(super) counters: PublishCounters,
}

impl Shared {
    pub(super) fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // A panic while holding the lock cannot leave the queue torn.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A snapshot of the counters, for the stats record.
pub(super) fn snapshot(shared: &Shared) -> PublishStats {
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

/// Why a batch did not make it (it is sent again).
#[derive(Debug, thiserror::Error)]
enum RoundTripError {
    #[error("publishing")]
    Publish(#[source] async_nats::PublishError),
    #[error("flushing")]
    Flush(#[source] async_nats::client::FlushError),
    #[error("publishing through JetStream")]
    JetStream(#[source] async_nats::jetstream::context::PublishError),
    #[error("no flush or ack within {ROUND_TRIP_LIMIT:?}")]
    TimedOut,
}

/// Publishes queued records until closed (see the module docs).
pub(super) async fn publish_loop(
    client: async_nats::Client,
    options: &NatsOptions,
    shared: &Shared,
) {
    let subjects = Subjects::new(&options.prefix, &options.node);
    let jetstream = options
        .jetstream
        .then(|| async_nats::jetstream::new(client.clone()));
    let run_id = crate::time::unix_now_nanos();
    let node = node_token(&options.node);
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
                tracing::warn!(error = %ErrorChain(&error), records = batch.len(), retry_in = ?retry, "publishing to NATS failed; will retry");
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
) -> Result<(), RoundTripError> {
    for (kind, payload, _, _) in batch {
        client
            .publish(subjects.of(*kind).to_string(), payload.clone())
            .await
            .map_err(RoundTripError::Publish)?;
    }
    match tokio::time::timeout(ROUND_TRIP_LIMIT, client.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(RoundTripError::Flush(error)),
        Err(_) => Err(RoundTripError::TimedOut),
    }
}

async fn publish_acknowledged(
    context: &async_nats::jetstream::Context,
    subjects: &Subjects,
    node: &str,
    run_id: u64,
    batch: &[(RecordKind, Bytes, u64, Instant)],
) -> Result<(), RoundTripError> {
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
            .map_err(RoundTripError::JetStream)?;
        acks.push(ack);
    }
    for ack in acks {
        match tokio::time::timeout(ROUND_TRIP_LIMIT, ack).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(RoundTripError::JetStream(error)),
            Err(_) => return Err(RoundTripError::TimedOut),
        }
    }
    Ok(())
}
