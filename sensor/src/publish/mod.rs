//! Where records go: one [`Sink`] trait for stdout, files and NATS.
//!
//! The record writer thread encodes each record once to JSON and hands the
//! bytes to the sink with the record's [`RecordKind`] (which picks the NATS
//! subject). Sinks never block the packet path: the writer thread sits
//! between them, and the NATS sink queues (bounded, drops counted).
//!
//! - [`json_lines`]: stdout, or a file rotated by size.
//! - [`nats`]: NATS core or JetStream, and directives in.
//! - [`Fanout`]: several sinks as one.

pub mod json_lines;
pub mod nats;

use std::io;
use std::time::Duration;

pub use cipherlens_record::RecordKind;
pub use json_lines::JsonLinesWriter;

/// A destination for encoded records.
pub trait Sink: Send {
    /// One record: a JSON object, without a trailing newline.
    fn publish(&mut self, kind: RecordKind, record: &[u8]) -> io::Result<()>;
    /// Pushes out what is buffered locally.
    fn flush(&mut self) -> io::Result<()>;
    /// Ends publishing, trying for at most `drain_for` to deliver what is
    /// still queued (what is left is counted).
    fn close(&mut self, drain_for: Duration) -> io::Result<()> {
        let _ = drain_for;
        self.flush()
    }
}

/// Several sinks as one (e.g. stdout and NATS).
pub struct Fanout(pub Vec<Box<dyn Sink>>);

impl Sink for Fanout {
    fn publish(&mut self, kind: RecordKind, record: &[u8]) -> io::Result<()> {
        for sink in &mut self.0 {
            sink.publish(kind, record)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        for sink in &mut self.0 {
            sink.flush()?;
        }
        Ok(())
    }

    fn close(&mut self, drain_for: Duration) -> io::Result<()> {
        for sink in &mut self.0 {
            sink.close(drain_for)?;
        }
        Ok(())
    }
}
