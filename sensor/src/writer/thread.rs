//! The record writer thread: a bounded, batched, in-order queue from the
//! packet thread to a thread that runs the record stages
//! ([`super::RecordStages`]) and the sink.
//!
//! Why a thread: building and encoding a record is about a third of the
//! work per session; on its own thread it overlaps with decoding and
//! parsing instead of adding to it. Items travel in batches of [`BATCH`]
//! (one wake-up per batch instead of per record); the queue of batches is
//! bounded, so a slow output slows the producer rather than growing memory.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::publish::Sink;

pub struct BackgroundWriter<T> {
    sender: Option<SyncSender<Vec<T>>>,
    thread: Option<JoinHandle<io::Result<u64>>>,
    pending: Vec<T>,
}

/// What the writer thread does with each item.
pub trait Stage<T>: Send {
    /// One item, written to `sink`.
    fn run(&mut self, item: T, sink: &mut dyn Sink) -> io::Result<()>;
    /// After the last item: write what the stage still holds.
    fn finish(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        let _ = sink;
        Ok(())
    }
}

impl<T, F> Stage<T> for F
where
    F: FnMut(T, &mut dyn Sink) -> io::Result<()> + Send,
{
    fn run(&mut self, item: T, sink: &mut dyn Sink) -> io::Result<()> {
        self(item, sink)
    }
}

/// Items per hand-over to the writer thread.
pub const BATCH: usize = 64;

/// The writer thread stopped (an output error); [`BackgroundWriter::finish`]
/// says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStopped;

impl<T: Send + 'static> BackgroundWriter<T> {
    /// Starts the thread, which runs `stage` for each item sent and
    /// finishes it when the last item is through; at most about `queue`
    /// items wait.
    pub fn spawn(
        sink: Box<dyn Sink>,
        queue: usize,
        drain_for: Duration,
        stage: impl Stage<T> + 'static,
    ) -> io::Result<Self> {
        let (sender, receiver) = sync_channel(queue.div_ceil(BATCH).max(1));
        let thread = std::thread::Builder::new()
            .name("record-writer".into())
            .spawn(move || write_all(sink, receiver, drain_for, stage))?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
            pending: Vec::with_capacity(BATCH),
        })
    }

    /// Queues one item; hands a full batch over, waiting while the queue
    /// is full.
    pub fn send(&mut self, item: T) -> Result<(), WriterStopped> {
        self.pending.push(item);
        if self.pending.len() >= BATCH {
            self.hand_over()
        } else {
            Ok(())
        }
    }

    /// Queues one item if that needs no wait: gives it back when a full
    /// batch is pending and the queue has no room for it. For records that
    /// may wait (CNFlow's, in bursts of thousands per scan), so the live
    /// loop never blocks on them and keeps draining the kernel's ring.
    pub fn offer(&mut self, item: T) -> Result<Option<T>, WriterStopped> {
        if self.pending.len() >= BATCH && !self.try_hand_over()? {
            return Ok(Some(item));
        }
        self.pending.push(item);
        Ok(None)
    }

    /// Whether items wait to be handed over.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Hands over what is pending if the queue has room now; `false` when
    /// it had none (the items stay pending).
    pub fn try_hand_over(&mut self) -> Result<bool, WriterStopped> {
        if self.pending.is_empty() {
            return Ok(true);
        }
        let Some(sender) = &self.sender else {
            return Err(WriterStopped);
        };
        let batch = std::mem::take(&mut self.pending);
        match sender.try_send(batch) {
            Ok(()) => {
                self.pending = Vec::with_capacity(BATCH);
                Ok(true)
            }
            Err(TrySendError::Full(batch)) => {
                self.pending = batch;
                Ok(false)
            }
            Err(TrySendError::Disconnected(_)) => Err(WriterStopped),
        }
    }

    /// Hands over what is pending now (call when items must not wait for a
    /// full batch, e.g. on a timer).
    pub fn hand_over(&mut self) -> Result<(), WriterStopped> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        match &self.sender {
            Some(sender) => sender.send(batch).map_err(|_| WriterStopped),
            None => Err(WriterStopped),
        }
    }

    /// Writes what is pending and queued, flushes, and returns the number of
    /// records written or the output error that stopped the thread.
    pub fn finish(mut self) -> io::Result<u64> {
        // A stopped writer's error comes from the join below.
        let _ = self.hand_over();
        self.sender = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the record writer thread panicked")),
            None => Ok(0),
        }
    }
}

fn write_all<T>(
    mut sink: Box<dyn Sink>,
    batches: Receiver<Vec<T>>,
    drain_for: Duration,
    mut stage: impl Stage<T>,
) -> io::Result<u64> {
    let mut written = 0;
    for batch in batches {
        for item in batch {
            stage.run(item, sink.as_mut())?;
            written += 1;
        }
        sink.flush()?;
    }
    stage.finish(sink.as_mut())?;
    sink.close(drain_for)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::json_lines::JsonLinesWriter;
    use std::path::Path;

    fn publish_json(value: serde_json::Value, sink: &mut dyn Sink) -> io::Result<()> {
        let encoded = serde_json::to_vec(&value).map_err(io::Error::other)?;
        sink.publish(cipherlens_record::RecordKind::TlsSession, &encoded)
    }

    #[test]
    fn background_writer_keeps_order_and_counts() {
        let path = std::env::temp_dir().join(format!("cipherlens-bw-{}.jsonl", std::process::id()));
        let mut writer = BackgroundWriter::spawn(
            Box::new(JsonLinesWriter::create(&path).expect("create")),
            2,
            Duration::ZERO,
            publish_json,
        )
        .expect("spawn");
        for value in 0..100u32 {
            writer
                .send(serde_json::json!({ "n": value }))
                .expect("send");
        }
        assert_eq!(writer.finish().expect("finish"), 100);
        let text = std::fs::read_to_string(&path).expect("read back");
        std::fs::remove_file(&path).ok();
        let numbers: Vec<u64> = text
            .lines()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).expect("json")["n"]
                    .as_u64()
                    .expect("n")
            })
            .collect();
        assert_eq!(numbers, (0..100).collect::<Vec<u64>>());
    }

    #[test]
    fn an_output_error_stops_the_writer_and_is_reported() {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let mut writer = BackgroundWriter::spawn(
            Box::new(JsonLinesWriter::create(Path::new("/dev/full")).expect("open /dev/full")),
            1,
            Duration::ZERO,
            publish_json,
        )
        .expect("spawn");
        let big = "x".repeat(64 * 1024);
        let mut stopped = false;
        for _ in 0..1024 {
            if writer.send(serde_json::json!({ "pad": big })).is_err() {
                stopped = true;
                break;
            }
        }
        let error = writer.finish().expect_err("writes to /dev/full fail");
        assert_eq!(error.raw_os_error(), Some(28), "ENOSPC, got {error}");
        assert!(stopped, "the producer learns that the writer stopped");
    }
}
