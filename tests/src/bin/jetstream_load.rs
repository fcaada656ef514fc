//! Fills a JetStream stream with real session records, or drains one, for
//! `scripts/bench-inventory.sh`.
//!
//! - `fill URL STREAM COUNT FILE...`: creates STREAM over `cipherlens.>`
//!   when missing and publishes COUNT records, cycling through the JSON
//!   lines of the files, to `cipherlens.tls.session.<node>` where the node
//!   is the record's `host.name` (or `bench`). Publishes are pipelined:
//!   acknowledgements are awaited in windows, not one by one.
//! - `drain URL STREAM`: reads the whole stream through an ephemeral pull
//!   consumer, reading each message as JSON and dropping it, and prints
//!   messages per second: what NATS and JSON alone cost, beside what
//!   `cipherlens inventory ingest` achieves on the same stream.

use std::time::Instant;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt as _;

const WINDOW: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("fill") if args.len() >= 5 => {
            let count: usize = args[3].parse()?;
            runtime.block_on(fill(&args[1], &args[2], count, &args[4..]))
        }
        Some("drain") if args.len() == 3 => runtime.block_on(drain(&args[1], &args[2])),
        _ => Err("usage: jetstream-load fill URL STREAM COUNT FILE... | drain URL STREAM".into()),
    }
}

async fn fill(
    url: &str,
    name: &str,
    count: usize,
    files: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut lines = Vec::new();
    for file in files {
        for line in std::fs::read_to_string(file)?.lines() {
            let record: serde_json::Value = serde_json::from_str(line)?;
            if record["schema"] != "cipherlens.session/v1" {
                continue;
            }
            let node = record["host"]["name"]
                .as_str()
                .unwrap_or("bench")
                .to_owned();
            lines.push((format!("cipherlens.tls.session.{node}"), line.to_owned()));
        }
    }
    if lines.is_empty() {
        return Err("no session records in the files".into());
    }
    let client = async_nats::connect(url).await?;
    let context = jetstream::new(client);
    context
        .get_or_create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec!["cipherlens.>".to_owned()],
            ..Default::default()
        })
        .await?;
    let started = Instant::now();
    let mut pending = Vec::with_capacity(WINDOW);
    for index in 0..count {
        let (subject, line) = &lines[index % lines.len()];
        pending.push(
            context
                .publish(subject.clone(), line.clone().into())
                .await?,
        );
        if pending.len() == WINDOW {
            for ack in pending.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in pending {
        ack.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"published\":{count},\"seconds\":{seconds:.3},\"per_second\":{:.0}}}",
        count as f64 / seconds
    );
    Ok(())
}

async fn drain(url: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = async_nats::connect(url).await?;
    let context = jetstream::new(client);
    let mut stream = context.get_stream(name).await?;
    let total = stream.info().await?.state.messages;
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1_000)
        .messages()
        .await?;
    let started = Instant::now();
    let mut read = 0u64;
    let mut bytes = 0usize;
    while read < total {
        let Some(message) = messages.next().await else {
            break;
        };
        let message = message?;
        let _: serde::de::IgnoredAny = serde_json::from_slice(&message.payload)?;
        bytes += message.payload.len();
        read += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"drained\":{read},\"bytes\":{bytes},\"seconds\":{seconds:.3},\"per_second\":{:.0}}}",
        read as f64 / seconds
    );
    Ok(())
}
