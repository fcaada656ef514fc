//! Record output as JSON lines (stdout or a file).
//!
//! NATS and rotating files arrive with the publishing issue behind the same
//! shape: something that takes records and can fail loudly.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::publish::{Publishable, RecordKind, Sink};

/// Writes one JSON object per line.
pub struct JsonLinesWriter {
    /// Records arrive encoded (the writer thread encodes each once, for
    /// every sink), so this only buffers and writes them.
    out: BufWriter<Box<dyn Write + Send>>,
    rotation: Option<Rotation>,
}

/// Size-based rotation of a record file: `path` is the newest, `path.1`
/// the one before, up to `path.<keep>`; older files are deleted. Files are
/// cut only between records, so every file holds whole JSON lines.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub path: std::path::PathBuf,
    /// A file is closed once it holds at least this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep: u32,
    /// Bytes in the current file.
    current: u64,
}

impl Rotation {
    pub fn new(path: &Path, max_bytes: u64, keep: u32) -> Self {
        Self {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1),
            keep,
            current: 0,
        }
    }

    fn numbered(&self, n: u32) -> std::path::PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        name.into()
    }

    /// Shifts `path.N` to `path.N+1` (dropping the oldest) and `path` to `path.1`.
    fn shift(&self) -> io::Result<()> {
        if self.keep == 0 {
            return std::fs::remove_file(&self.path).or_else(ignore_missing);
        }
        std::fs::remove_file(self.numbered(self.keep)).or_else(ignore_missing)?;
        for n in (1..self.keep).rev() {
            std::fs::rename(self.numbered(n), self.numbered(n + 1)).or_else(ignore_missing)?;
        }
        std::fs::rename(&self.path, self.numbered(1))
    }
}

fn ignore_missing(error: io::Error) -> io::Result<()> {
    if error.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(error)
    }
}

impl JsonLinesWriter {
    /// Creates (or truncates) `path`, rotating it by size.
    pub fn create_rotating(path: &Path, max_bytes: u64, keep: u32) -> io::Result<Self> {
        let mut writer = Self::create(path)?;
        writer.rotation = Some(Rotation::new(path, max_bytes, keep));
        Ok(writer)
    }

    /// After a record: closes the file and starts a new one when it is full.
    fn rotate_if_full(&mut self, written: usize) -> io::Result<()> {
        let Some(rotation) = &mut self.rotation else {
            return Ok(());
        };
        rotation.current += written as u64;
        if rotation.current < rotation.max_bytes {
            return Ok(());
        }
        self.out.flush()?;
        rotation.shift()?;
        rotation.current = 0;
        let file = File::create(&rotation.path)?;
        self.out = BufWriter::with_capacity(256 * 1024, Box::new(file));
        tracing::debug!(path = %rotation.path.display(), "record file rotated");
        Ok(())
    }
    /// Writes to standard output.
    pub fn stdout() -> Self {
        Self::new(Box::new(io::stdout()))
    }

    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(Self::new(Box::new(File::create(path)?)))
    }

    fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: BufWriter::with_capacity(256 * 1024, out),
            rotation: None,
        }
    }
}

impl Sink for JsonLinesWriter {
    /// Stats records are not written: they go to stderr (and NATS), so a
    /// record file or stdout holds session and CNFlow records only (told
    /// apart by their `schema`).
    fn publish(&mut self, kind: RecordKind, record: &[u8]) -> io::Result<()> {
        if kind == RecordKind::Stats {
            return Ok(());
        }
        self.out.write_all(record)?;
        self.out.write_all(b"\n")?;
        self.rotate_if_full(record.len() + 1)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Prepares (e.g. builds), serializes and writes records on a thread of
/// its own.
///
/// Why: building and encoding a record is about a third of the work per
/// session; on its own thread it overlaps with capture decoding and parsing
/// instead of adding to it. Records keep their order (one FIFO queue).
/// Items travel in batches of `BATCH` (one wake-up of the writer per batch
/// instead of per record); the queue of batches is bounded, so a slow
/// output slows the producer rather than growing memory.
pub struct BackgroundWriter<T> {
    sender: Option<SyncSender<Vec<T>>>,
    thread: Option<JoinHandle<io::Result<u64>>>,
    pending: Vec<T>,
}

/// Items per hand-over to the writer thread.
const BATCH: usize = 64;

/// The writer thread stopped (an output error); [`BackgroundWriter::finish`]
/// says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStopped;

impl<T: Send + 'static> BackgroundWriter<T> {
    /// Starts the thread, which writes `prepare(item)` for each item sent;
    /// at most about `queue` items wait.
    pub fn spawn<R: Publishable>(
        sink: Box<dyn Sink>,
        queue: usize,
        drain_for: Duration,
        prepare: impl FnMut(T) -> R + Send + 'static,
    ) -> io::Result<Self> {
        let (sender, receiver) = sync_channel(queue.div_ceil(BATCH).max(1));
        let thread = std::thread::Builder::new()
            .name("record-writer".into())
            .spawn(move || write_all(sink, receiver, drain_for, prepare))?;
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

fn write_all<T, R: Publishable>(
    mut sink: Box<dyn Sink>,
    batches: Receiver<Vec<T>>,
    drain_for: Duration,
    mut prepare: impl FnMut(T) -> R,
) -> io::Result<u64> {
    let mut encoded = Vec::with_capacity(16 * 1024);
    let mut written = 0;
    for batch in batches {
        for item in batch {
            let record = prepare(item);
            encoded.clear();
            serde_json::to_writer(&mut encoded, &record).map_err(io::Error::other)?;
            sink.publish(record.kind(), &encoded)?;
            written += 1;
        }
        sink.flush()?;
    }
    sink.close(drain_for)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotating_file_keeps_whole_lines_in_order_and_the_newest_files() {
        let dir = std::env::temp_dir().join(format!("cipherlens-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("records.jsonl");
        let mut writer = JsonLinesWriter::create_rotating(&path, 1000, 2).expect("create");
        for n in 0..100u32 {
            let record = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(80));
            writer
                .publish(RecordKind::TlsSession, record.as_bytes())
                .expect("write");
        }
        Sink::flush(&mut writer).expect("flush");
        let mut numbers = Vec::new();
        for name in ["records.jsonl.2", "records.jsonl.1", "records.jsonl"] {
            let text = std::fs::read_to_string(dir.join(name)).expect(name);
            assert!(text.len() < 1000 + 200, "{name}: {} bytes", text.len());
            for line in text.lines() {
                let value: serde_json::Value = serde_json::from_str(line).expect("whole lines");
                numbers.push(value["n"].as_u64().expect("n"));
            }
        }
        assert!(
            !dir.join("records.jsonl.3").exists(),
            "only two rotated files kept"
        );
        assert_eq!(
            numbers.last(),
            Some(&99),
            "the newest record is in the current file"
        );
        assert!(
            numbers.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, none missing in between"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn background_writer_keeps_order_and_counts() {
        let path = std::env::temp_dir().join(format!("cipherlens-bw-{}.jsonl", std::process::id()));
        let mut writer = BackgroundWriter::spawn(
            Box::new(JsonLinesWriter::create(&path).expect("create")),
            2,
            Duration::ZERO,
            |value: serde_json::Value| value,
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
            |value: serde_json::Value| value,
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
