//! Records as JSON lines: stdout, or a file rotated by size.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use cipherlens_record::RecordKind;

use super::Sink;

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
}
