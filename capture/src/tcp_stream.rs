//! One direction of a TCP connection reassembled into a byte stream.
//!
//! Why it exists: TLS records and handshake messages span TCP segments, and captures
//! contain segments out of order, retransmitted, overlapping or missing. The TLS parsers
//! need the bytes in order, once, with the holes that will never be filled made explicit.
//!
//! How: sequence numbers are mapped to 64-bit stream offsets (serial-number arithmetic,
//! RFC 1982, so 32-bit wraparound is transparent). Bytes that arrive in order go to a
//! ready buffer for [`StreamReassembler::take_ready`]; bytes that arrive early wait in a
//! bounded map of non-overlapping pieces. When bytes arrive twice, the first copy wins and
//! a differing second copy is counted as a conflicting overlap.

use std::collections::BTreeMap;

use tracing::{debug, trace};

/// Counters describing what a [`StreamReassembler`] has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Bytes that became contiguous (made available to `take_ready`).
    pub bytes_delivered: u64,
    /// Segments accepted by `push` (with or without payload).
    pub segments: u64,
    /// Segments with payload of which every byte had been received before.
    pub retransmitted_segments: u64,
    /// Segments that carried new bytes beyond a hole.
    pub out_of_order_segments: u64,
    /// Segments that carried new bytes and bytes received before.
    pub overlapping_segments: u64,
    /// Segments whose repeated bytes differ from the copy received first. Only bytes still
    /// held (not yet taken with `take_ready`) can be compared.
    pub conflicting_overlaps: u64,
    /// Holes jumped over with `skip_gap`.
    pub gaps: u64,
    /// Bytes missing in those holes.
    pub gap_bytes: u64,
    /// Segments refused with [`ReassemblyError::BufferFull`].
    pub buffer_full_rejections: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    #[error(
        "reassembly buffer full: {buffered} of {limit} bytes held, a segment with \
         {new_bytes} new bytes does not fit (take the ready bytes or skip the gap)"
    )]
    BufferFull {
        buffered: usize,
        limit: usize,
        new_bytes: usize,
    },
}

/// Reassembles one direction of a TCP connection.
#[derive(Debug)]
pub struct StreamReassembler {
    max_buffered_bytes: usize,
    /// Sequence number of stream offset 0: ISN + 1 after a SYN, or the first segment's.
    initial_seq: Option<u32>,
    syn_seen: bool,
    /// Stream offset of the next byte expected (bytes delivered plus gap bytes skipped).
    next_offset: u64,
    /// Contiguous bytes not yet taken by the caller.
    ready: Vec<u8>,
    /// Bytes received beyond a hole: non-overlapping, keyed by stream offset, every key
    /// greater than `next_offset`.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// Stream offset of the FIN, once seen.
    fin_offset: Option<u64>,
    stats: ReassemblyStats,
}

/// A run of new bytes of a segment: `segment_range` of its payload goes to stream `offset`.
struct NewPiece {
    offset: u64,
    segment_range: std::ops::Range<usize>,
}

impl StreamReassembler {
    /// A reassembler that holds at most `max_buffered_bytes` (ready plus out-of-order bytes).
    pub fn new(max_buffered_bytes: usize) -> Self {
        StreamReassembler {
            max_buffered_bytes,
            initial_seq: None,
            syn_seen: false,
            next_offset: 0,
            ready: Vec::new(),
            pending: BTreeMap::new(),
            pending_bytes: 0,
            fin_offset: None,
            stats: ReassemblyStats::default(),
        }
    }

    /// Adds one segment. `seq` is the TCP sequence number of the segment (of the SYN itself
    /// when `syn` is set). A segment whose new bytes would exceed the buffer bound is refused
    /// whole and nothing changes except that a FIN is still noted.
    pub fn push(
        &mut self,
        seq: u32,
        syn: bool,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), ReassemblyError> {
        // The SYN occupies one sequence number before the first data byte.
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if syn {
            self.syn_seen = true;
        }
        let initial_seq = *self.initial_seq.get_or_insert_with(|| {
            debug!(initial_seq = data_seq, from_syn = syn, "stream starts");
            data_seq
        });
        let start = self.offset_of(data_seq, initial_seq);
        let end = start + payload.len() as i64;
        if fin && self.fin_offset.is_none() {
            self.fin_offset = Some(end.max(0) as u64);
            debug!(fin_offset = end, "FIN seen");
        }
        if payload.is_empty() {
            self.stats.segments += 1;
            return Ok(());
        }

        let next_offset = self.next_offset as i64;
        // Bytes before `next_offset` were delivered already: compare what is still held.
        let already_delivered = (next_offset - start).clamp(0, payload.len() as i64) as usize;
        let mut conflicting = self.differs_from_ready(start, &payload[..already_delivered]);
        let new_start = start.max(next_offset) as u64;
        let new_end = end.max(next_offset) as u64;

        // The parts of [new_start, new_end) not already waiting in `pending`
        // (nearly always one: the segment itself, in order).
        let mut pieces: smallvec::SmallVec<[NewPiece; 2]> = smallvec::SmallVec::new();
        let mut cursor = new_start;
        let first_candidate = self
            .pending
            .range(..=new_start)
            .next_back()
            .map_or(new_start, |(&offset, _)| offset);
        for (&held_offset, held) in self.pending.range(first_candidate..new_end) {
            let held_end = held_offset + held.len() as u64;
            if held_end <= cursor {
                continue;
            }
            if held_offset > cursor {
                pieces.push(self.piece(start, cursor, held_offset));
            }
            let overlap_start = cursor.max(held_offset);
            let overlap_end = held_end.min(new_end);
            let held_part = &held[(overlap_start - held_offset) as usize..]
                [..(overlap_end - overlap_start) as usize];
            let segment_part = &payload[(overlap_start as i64 - start) as usize..]
                [..(overlap_end - overlap_start) as usize];
            conflicting |= held_part != segment_part;
            cursor = held_end;
        }
        if cursor < new_end {
            pieces.push(self.piece(start, cursor, new_end));
        }

        let new_bytes: usize = pieces.iter().map(|piece| piece.segment_range.len()).sum();
        let buffered = self.buffered_bytes();
        if buffered + new_bytes > self.max_buffered_bytes {
            self.stats.buffer_full_rejections += 1;
            debug!(
                seq,
                buffered,
                new_bytes,
                limit = self.max_buffered_bytes,
                "reassembly buffer full, segment refused"
            );
            return Err(ReassemblyError::BufferFull {
                buffered,
                limit: self.max_buffered_bytes,
                new_bytes,
            });
        }

        self.stats.segments += 1;
        if new_bytes == 0 {
            self.stats.retransmitted_segments += 1;
        } else {
            if new_bytes < payload.len() {
                self.stats.overlapping_segments += 1;
            }
            if new_start > self.next_offset {
                self.stats.out_of_order_segments += 1;
            }
        }
        if conflicting {
            self.stats.conflicting_overlaps += 1;
            debug!(
                seq,
                len = payload.len(),
                "overlapping bytes differ; first copy kept"
            );
        }
        trace!(
            seq,
            len = payload.len(),
            offset = start,
            new_bytes,
            next_offset = self.next_offset,
            "segment"
        );

        for piece in pieces {
            let bytes = &payload[piece.segment_range];
            if piece.offset == self.next_offset {
                self.deliver(bytes);
                self.deliver_contiguous_pending();
            } else {
                self.pending_bytes += bytes.len();
                self.pending.insert(piece.offset, bytes.to_vec());
            }
        }
        Ok(())
    }

    /// Takes the bytes that became contiguous since the last call.
    pub fn take_ready(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.ready)
    }

    /// Moves the bytes that became contiguous to the end of `out`.
    pub fn drain_ready_into(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.ready);
    }

    /// Gives up on the hole before the first out-of-order bytes held: continues the stream
    /// there and returns the number of bytes skipped, or `None` when nothing is held beyond
    /// a hole. Call it when the hole will not be filled (FIN, RST, end of capture, buffer full).
    pub fn skip_gap(&mut self) -> Option<u64> {
        let (&first_held, _) = self.pending.first_key_value()?;
        let gap = first_held - self.next_offset;
        self.stats.gaps += 1;
        self.stats.gap_bytes += gap;
        debug!(
            gap_bytes = gap,
            at_offset = self.next_offset,
            "skipping gap"
        );
        self.next_offset = first_held;
        self.deliver_contiguous_pending();
        Some(gap)
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// True once a segment with the FIN flag was pushed.
    pub fn fin_seen(&self) -> bool {
        self.fin_offset.is_some()
    }

    /// True once a FIN was seen and every byte before it was delivered or skipped.
    pub fn is_complete(&self) -> bool {
        self.fin_offset
            .is_some_and(|fin_offset| self.next_offset >= fin_offset)
    }

    /// True once a SYN was pushed (the stream start is then known, not guessed).
    pub fn syn_seen(&self) -> bool {
        self.syn_seen
    }

    /// Sequence number of the next byte expected, once the first segment was pushed.
    pub fn next_seq(&self) -> Option<u32> {
        self.initial_seq
            .map(|initial| initial.wrapping_add(self.next_offset as u32))
    }

    /// Stream offset of the next byte expected: bytes delivered plus gap bytes skipped.
    pub fn stream_offset(&self) -> u64 {
        self.next_offset
    }

    /// Bytes held: ready bytes not yet taken plus out-of-order bytes.
    pub fn buffered_bytes(&self) -> usize {
        self.ready.len() + self.pending_bytes
    }

    /// Stream offset of `seq`, taken as the closest offset to `next_offset` with that
    /// sequence number (serial-number arithmetic: within 2^31 either way).
    fn offset_of(&self, seq: u32, initial_seq: u32) -> i64 {
        let next_seq = initial_seq.wrapping_add(self.next_offset as u32);
        self.next_offset as i64 + i64::from(seq.wrapping_sub(next_seq) as i32)
    }

    fn piece(&self, segment_start: i64, from: u64, to: u64) -> NewPiece {
        let first = (from as i64 - segment_start) as usize;
        let last = (to as i64 - segment_start) as usize;
        NewPiece {
            offset: from,
            segment_range: first..last,
        }
    }

    /// Whether `bytes`, which start at stream offset `start` before `next_offset`, differ
    /// from the delivered bytes still in the ready buffer.
    fn differs_from_ready(&self, start: i64, bytes: &[u8]) -> bool {
        let ready_start = self.next_offset as i64 - self.ready.len() as i64;
        let compare_from = start.max(ready_start);
        let compare_to = start + bytes.len() as i64;
        if compare_from >= compare_to {
            return false;
        }
        let in_segment = &bytes[(compare_from - start) as usize..];
        let in_ready = &self.ready[(compare_from - ready_start) as usize..][..in_segment.len()];
        in_segment != in_ready
    }

    fn deliver(&mut self, bytes: &[u8]) {
        self.ready.extend_from_slice(bytes);
        self.next_offset += bytes.len() as u64;
        self.stats.bytes_delivered += bytes.len() as u64;
    }

    fn deliver_contiguous_pending(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.next_offset {
                break;
            }
            let bytes = entry.remove();
            self.pending_bytes -= bytes.len();
            if self.ready.is_empty() {
                self.next_offset += bytes.len() as u64;
                self.stats.bytes_delivered += bytes.len() as u64;
                self.ready = bytes;
            } else {
                self.deliver(&bytes);
            }
        }
    }
}
