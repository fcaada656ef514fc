//! A plain (core NATS) subscription feeding the inventory.
//!
//! Core NATS delivers at most once and keeps nothing: records published
//! while no consumer listens are not seen, and a restart does not resume.
//! Use it where a JetStream stream is not available, or with a queue group
//! to spread a busy subject over consumers that each keep their own
//! database (merged later with `cipherlens inventory merge`). When ingest
//! falls behind, the client drops messages; each drop it reports is
//! counted (`slow_consumer_drops`), never silent. SIGTERM and SIGINT commit
//! what was read before exiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::Message;
use cipherlens_inventory::Inventory;
use futures_util::StreamExt as _;

use super::fold::Folder;
use super::round::Round;
use super::{BATCH_RECORDS, IngestReport, shutdown_signal, sleep_until};

/// Messages the client holds for the subscription before it drops (and
/// reports) them.
const CAPACITY: usize = 16_384;

pub(super) struct Subscriber<'a> {
    pub url: &'a str,
    pub subject: &'a str,
    pub queue_group: Option<&'a str>,
    pub idle_exit: Option<Duration>,
}

impl Subscriber<'_> {
    pub async fn run(
        &self,
        folder: &Folder<'_>,
        inventory: &mut Inventory,
        report: &mut IngestReport,
    ) -> anyhow::Result<()> {
        let drops = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&drops);
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(CAPACITY)
            .event_callback(move |event| {
                let counted = Arc::clone(&counted);
                async move {
                    match event {
                        async_nats::Event::SlowConsumer(_) => {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                        other => tracing::info!(event = %other, "NATS connection"),
                    }
                }
            })
            .connect(self.url)
            .await
            .with_context(|| format!("connecting to NATS at {}", self.url))?;
        let subject = self.subject.to_string();
        let mut subscription = match self.queue_group {
            Some(group) => client.queue_subscribe(subject, group.to_string()).await,
            None => client.subscribe(subject).await,
        }
        .with_context(|| format!("subscribing to {}", self.subject))?;
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        let mut round = Round::new(BATCH_RECORDS, self.idle_exit);
        let outcome = loop {
            let next = tokio::select! {
                result = &mut shutdown => break result,
                next = subscription.next() => Some(next),
                () = sleep_until(round.deadline()) => None,
            };
            match next {
                Some(Some(message)) => {
                    if !round.push(None, message) {
                        continue;
                    }
                }
                Some(None) => {
                    break Err(anyhow::anyhow!(
                        "the subscription to {} ended",
                        self.subject
                    ));
                }
                None if round.is_empty() => break Ok(()),
                None => {}
            }
            commit(folder, inventory, &mut round, report)?;
        };
        commit(folder, inventory, &mut round, report)?;
        report.slow_consumer_drops = Some(drops.load(Ordering::Relaxed));
        outcome
    }
}

fn commit(
    folder: &Folder<'_>,
    inventory: &mut Inventory,
    round: &mut Round<Message>,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    if !round.is_empty() {
        round.fold_and_commit(folder, inventory, None, report)?;
        round.clear();
    }
    Ok(())
}
