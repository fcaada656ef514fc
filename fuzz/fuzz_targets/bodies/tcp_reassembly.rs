//! Fuzz body `tcp_reassembly`: one direction of a TCP connection as a list
//! of segments, through a `StreamReassembler` with a small buffer bound.
//!
//! Why: sequence numbers, flags and lengths all come from the wire, and
//! real captures hold retransmitted, overlapping, out-of-order and
//! wrapped-around segments; the bound must hold whatever they say.
//!
//! Input layout, repeated until the input ends (big-endian):
//!
//! | bytes | meaning |
//! | --- | --- |
//! | 0..4 | sequence number |
//! | 4 | flags: 0x01 SYN, 0x02 FIN, 0x04 take the ready bytes after this segment, 0x08 give up the first hole after it |
//! | 5..7 | payload length (cut short if the input is) |
//! | 7.. | payload |
//!
//! At the end the remaining holes are skipped and the ready bytes taken, as
//! the sensor does when a connection closes.

use cipherlens_capture::StreamReassembler;

/// Small enough that `BufferFull` is reachable with fuzzer-sized inputs.
const MAX_BUFFERED_BYTES: usize = 16 * 1024;

const SYN: u8 = 0x01;
const FIN: u8 = 0x02;
const TAKE_READY: u8 = 0x04;
const SKIP_GAP: u8 = 0x08;

/// One segment as the input describes it.
pub struct Segment<'a> {
    pub seq: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

/// Feeds the segments of `data` to a reassembler.
pub fn run(data: &[u8]) {
    let mut reassembler = StreamReassembler::new(MAX_BUFFERED_BYTES);
    let mut delivered = Vec::new();
    for segment in segments(data) {
        let _ = reassembler.push(
            segment.seq,
            segment.flags & SYN != 0,
            segment.flags & FIN != 0,
            segment.payload,
        );
        if segment.flags & SKIP_GAP != 0 {
            let _ = reassembler.skip_gap();
        }
        if segment.flags & TAKE_READY != 0 {
            reassembler.drain_ready_into(&mut delivered);
            delivered.clear();
        }
    }
    // Each hole has at least one held byte after it, so there are at most
    // MAX_BUFFERED_BYTES holes; the bound keeps a reassembler bug from
    // turning into an endless loop here.
    for _ in 0..=MAX_BUFFERED_BYTES {
        if reassembler.skip_gap().is_none() {
            break;
        }
    }
    let _ = reassembler.take_ready();
    let _ = reassembler.stats();
    let _ = reassembler.is_complete();
    let _ = reassembler.next_seq();
}

/// Reads segments until the input ends.
pub fn segments(mut data: &[u8]) -> impl Iterator<Item = Segment<'_>> {
    std::iter::from_fn(move || {
        let (&[s0, s1, s2, s3, flags, l0, l1], rest) = data.split_first_chunk::<7>()?;
        let (payload, rest) =
            rest.split_at(usize::from(u16::from_be_bytes([l0, l1])).min(rest.len()));
        data = rest;
        Some(Segment {
            seq: u32::from_be_bytes([s0, s1, s2, s3]),
            flags,
            payload,
        })
    })
}
