//! A JetStream durable pull consumer feeding the inventory.
//!
//! Records arrive on a continuous pull (the client asks for the next
//! messages while a round is folded). A round ends when it is full, when
//! its first record is [`FLUSH_AFTER`] old, or at shutdown; its rows and
//! the last stream sequence are committed in one transaction, then the
//! round is acknowledged at once (AckAll). A message redelivered after a
//! crash between the two is recognised by its sequence and not counted
//! again, and a consumer left out of step by a crash is made again right
//! after the stored position (`durable_consumer`), so the ingest can be
//! killed at any moment.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, Message};
use cipherlens_inventory::Inventory;
use futures_util::StreamExt as _;

use super::fold::Folder;
use super::round::Round;
use super::{BATCH_RECORDS, IngestReport, shutdown_signal, sleep_until};

/// Unacknowledged messages the consumer allows when this tool creates it;
/// a round must fit, as it is acknowledged only once committed.
const MAX_ACK_PENDING: i64 = 4 * BATCH_RECORDS as i64;

/// Messages received ahead while a round is folded.
const PREFETCH: usize = 4_096;

/// Messages asked for per pull request.
const PULL_BATCH: usize = 1_000;

pub(super) struct Consumer<'a> {
    pub url: &'a str,
    pub stream: &'a str,
    pub durable: &'a str,
    pub filter_subject: Option<&'a str>,
    pub idle_exit: Option<Duration>,
}

impl Consumer<'_> {
    pub async fn run(
        &self,
        folder: &Folder<'_>,
        inventory: &mut Inventory,
        report: &mut IngestReport,
    ) -> anyhow::Result<()> {
        let client = async_nats::connect(self.url)
            .await
            .with_context(|| format!("connecting to NATS at {}", self.url))?;
        let context = jetstream::new(client);
        let stream = context
            .get_stream(self.stream)
            .await
            .with_context(|| format!("JetStream stream {}", self.stream))?;
        let source = format!("jetstream:{}:{}", self.stream, self.durable);
        let stored = inventory.position(&source)?;
        let consumer = self.durable_consumer(&stream, stored).await?;
        // A consumer made earlier (or by an operator) may allow fewer
        // unacknowledged messages than a full round: a round never waits
        // for more than the server will send before an acknowledgement.
        let round_limit = match consumer.cached_info().config.max_ack_pending {
            limit if limit > 0 => BATCH_RECORDS.min(usize::try_from(limit).unwrap_or(usize::MAX)),
            _ => BATCH_RECORDS,
        };
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH.min(round_limit))
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await
            .context("pulling from JetStream")?;
        // The pull is driven by a task of its own, so it keeps asking for
        // and receiving the next round while this one is folded.
        let (sender, mut incoming) = tokio::sync::mpsc::channel(PREFETCH.min(round_limit));
        let pump = tokio::spawn(async move {
            while let Some(next) = messages.next().await {
                if sender.send(next).await.is_err() {
                    break;
                }
            }
        });
        let _stop_pump = AbortOnDrop(pump);
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        let mut round = Round::new(round_limit, self.idle_exit);
        loop {
            let next = tokio::select! {
                result = &mut shutdown => {
                    result?;
                    break;
                }
                next = incoming.recv() => Some(next),
                () = sleep_until(round.deadline()) => None,
            };
            match next {
                Some(Some(Ok(message))) => {
                    let sequence = message
                        .info()
                        .map_err(|error| anyhow::anyhow!("reading a message's metadata: {error}"))?
                        .stream_sequence;
                    if !round.push(Some(sequence), message) {
                        continue;
                    }
                }
                Some(Some(Err(error))) => {
                    use async_nats::jetstream::consumer::pull::MessagesErrorKind as Kind;
                    match error.kind() {
                        // The client renews its pull after these; nothing is lost.
                        Kind::MissingHeartbeat | Kind::NoResponders | Kind::Pull => {
                            tracing::warn!(%error, "JetStream pull interrupted; retrying");
                            report.pull_interruptions += 1;
                            continue;
                        }
                        _ => {
                            commit(folder, inventory, &source, &mut round, report).await?;
                            return Err(anyhow::anyhow!("pulling from JetStream: {error}"));
                        }
                    }
                }
                Some(None) => break,
                None if round.is_empty() => return Ok(()),
                None => {}
            }
            commit(folder, inventory, &source, &mut round, report).await?;
        }
        commit(folder, inventory, &source, &mut round, report).await
    }

    /// The durable consumer, where the inventory's stored position says.
    ///
    /// The database, not the server, is the truth about what was counted.
    /// A consumer whose state disagrees with it (messages delivered to an
    /// ingest that died before acknowledging them, an acknowledgement
    /// floor other than the stored position, a database replaced) is made
    /// again to start right after the stored position. Otherwise messages
    /// delivered to a dead consumer would come back only after the ack wait,
    /// behind newer ones, and fall under the stored high-water mark. So one
    /// durable consumer serves one inventory database.
    async fn durable_consumer(
        &self,
        stream: &jetstream::stream::Stream,
        stored: Option<u64>,
    ) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
        use async_nats::jetstream::consumer::DeliverPolicy;
        if let Ok(info) = stream.consumer_info(self.durable).await {
            let in_step = info.num_ack_pending == 0
                && info.ack_floor.stream_sequence == stored.unwrap_or(0)
                && info.config.filter_subject == self.filter_subject.unwrap_or_default();
            if in_step {
                return stream.get_consumer(self.durable).await.map_err(|error| {
                    anyhow::anyhow!("durable consumer {}: {error}", self.durable)
                });
            }
            tracing::info!(
                durable = self.durable,
                ack_pending = info.num_ack_pending,
                ack_floor = info.ack_floor.stream_sequence,
                stored = ?stored,
                "durable consumer out of step with the inventory; starting it after the stored position"
            );
            stream
                .delete_consumer(self.durable)
                .await
                .with_context(|| format!("replacing durable consumer {}", self.durable))?;
        }
        let deliver_policy = match stored {
            Some(sequence) => DeliverPolicy::ByStartSequence {
                start_sequence: sequence + 1,
            },
            None => DeliverPolicy::All,
        };
        stream
            .create_consumer(pull::Config {
                durable_name: Some(self.durable.to_string()),
                ack_policy: AckPolicy::All,
                max_ack_pending: MAX_ACK_PENDING,
                deliver_policy,
                filter_subject: self.filter_subject.unwrap_or_default().to_string(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("durable consumer {}", self.durable))
    }
}

/// Folds and commits a round, then acknowledges it (AckAll on its last
/// message).
async fn commit(
    folder: &Folder<'_>,
    inventory: &mut Inventory,
    source: &str,
    round: &mut Round<Message>,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    let Some(last) = round.last() else {
        return Ok(());
    };
    round.fold_and_commit(folder, inventory, Some(source), report)?;
    if let Err(error) = last.ack().await {
        tracing::warn!(%error, "acknowledging a committed round failed; its redelivery will be skipped");
        report.ack_failures += 1;
    }
    round.clear();
    Ok(())
}

/// Stops the pull when the consumer stops, however it stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
