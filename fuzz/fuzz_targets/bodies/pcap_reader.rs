//! Fuzz body `pcap_reader`: the input as a whole capture file (pcap or
//! pcapng), every frame read and decoded down to TCP/UDP.
//!
//! Why: `cipherlens replay` opens files it did not write; record and block
//! lengths, link types and every header length inside a frame come from
//! the file.

use std::io::Cursor;

use cipherlens_capture::{CaptureReader, decode_frame};

/// Upper bound on frames read, so that the work per input stays bounded
/// even if a reader bug stopped consuming input.
const MAX_FRAMES: usize = 100_000;

/// Reads every frame of `data` and decodes it.
pub fn run(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(Cursor::new(data)) else {
        return;
    };
    let _ = reader.format();
    for _ in 0..MAX_FRAMES {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                let _ = decode_frame(frame.link_type, &frame.data);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = reader.bytes_read();
}
