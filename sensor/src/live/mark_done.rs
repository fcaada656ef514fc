//! Flows the sensor is done with, marked in the kernel a batch at a time:
//! requests gather while a batch of finished sessions is handed over, and
//! one run of the kernel's `cipherlens_mark_done` classifier marks up to 64
//! of them (see `cipherlens_common::mark_done`).

use cipherlens_bpf_batch::{BatchError, ProgramRun};
use cipherlens_common::FlowKey;
use cipherlens_common::mark_done::{DoneBatch, DoneRequest, MARK_DONE_BATCH, done_offsets};

/// The frame's length.
const FRAME_LEN: usize = size_of::<DoneBatch>();

pub(super) struct DoneMarker {
    program: ProgramRun,
    pending: Vec<DoneRequest>,
}

impl DoneMarker {
    pub(super) fn new(program: ProgramRun) -> Self {
        Self {
            program,
            pending: Vec::with_capacity(MARK_DONE_BATCH),
        }
    }

    /// Asks for `key`'s handshake-flow entry to be marked done, if it was
    /// made by `made_by_ns` (kernel monotonic time).
    pub(super) fn request(&mut self, key: FlowKey, made_by_ns: u64) {
        self.pending.push(DoneRequest { key, made_by_ns });
    }

    /// Marks what was asked, adding to `marked` the entries marked (the
    /// others were gone, or newer than asked), those of the runs that
    /// worked when one failed. Requests are dropped either way: a flow
    /// left unmarked is copied until its byte budget is spent.
    pub(super) fn flush(&mut self, marked: &mut u64) -> Result<(), BatchError> {
        let mut frame = [0u8; FRAME_LEN];
        let mut out = [0u8; FRAME_LEN];
        let mut result = Ok(());
        for batch in self.pending.chunks(MARK_DONE_BATCH) {
            encode(batch, &mut frame);
            // Only the requests in use: the kernel copies the frame in and
            // out, and the classifier stops at the count (or the end).
            let len = used_len(batch.len());
            match self.program.run(&frame[..len], &mut out[..len]) {
                Ok((_, written)) if written >= done_offsets::MARKED + 8 => {
                    *marked += u64::from(marked_of(&out).count_ones());
                }
                Ok(_) => {}
                Err(error) => result = Err(error),
            }
        }
        self.pending.clear();
        result
    }
}

/// Writes `requests` (at most [`MARK_DONE_BATCH`]) into `frame` as
/// [`DoneBatch`] lays it out.
fn encode(requests: &[DoneRequest], frame: &mut [u8; FRAME_LEN]) {
    frame.fill(0);
    let count = requests.len().min(MARK_DONE_BATCH);
    frame[done_offsets::COUNT..][..4].copy_from_slice(&(count as u32).to_ne_bytes());
    for (index, request) in requests.iter().take(count).enumerate() {
        let at = done_offsets::REQUESTS + index * size_of::<DoneRequest>();
        let slot = &mut frame[at..at + size_of::<DoneRequest>()];
        let key = &request.key;
        slot[..16].copy_from_slice(&key.low_address);
        slot[16..32].copy_from_slice(&key.high_address);
        slot[32..34].copy_from_slice(&key.low_port.to_ne_bytes());
        slot[34..36].copy_from_slice(&key.high_port.to_ne_bytes());
        slot[36] = key.protocol;
        slot[40..48].copy_from_slice(&request.made_by_ns.to_ne_bytes());
    }
}

/// The frame's length with `count` requests.
fn used_len(count: usize) -> usize {
    done_offsets::REQUESTS + count.min(MARK_DONE_BATCH) * size_of::<DoneRequest>()
}

fn marked_of(frame: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&frame[done_offsets::MARKED..done_offsets::MARKED + 8]);
    u64::from_ne_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    /// The hand-written encoding follows the `repr(C)` layouts the kernel
    /// program reads.
    #[test]
    fn the_frame_follows_the_kernel_layout() {
        assert_eq!(offset_of!(FlowKey, low_address), 0);
        assert_eq!(offset_of!(FlowKey, high_address), 16);
        assert_eq!(offset_of!(FlowKey, low_port), 32);
        assert_eq!(offset_of!(FlowKey, high_port), 34);
        assert_eq!(offset_of!(FlowKey, protocol), 36);
        assert_eq!(offset_of!(DoneRequest, key), 0);
        assert_eq!(offset_of!(DoneRequest, made_by_ns), 40);
        let key = FlowKey::new(6, [1; 16], 40_000, [2; 16], 443);
        let mut frame = [0u8; FRAME_LEN];
        encode(
            &[
                DoneRequest::default(),
                DoneRequest {
                    key,
                    made_by_ns: 77,
                },
            ],
            &mut frame,
        );
        assert_eq!(frame[done_offsets::COUNT..][..4], 2u32.to_ne_bytes());
        assert_eq!(used_len(2), FRAME_LEN - 62 * 48, "two requests' worth");
        assert_eq!(used_len(MARK_DONE_BATCH + 1), FRAME_LEN);
        let second = &frame[done_offsets::REQUESTS + 48..][..48];
        assert_eq!(second[..16], key.low_address);
        assert_eq!(second[32..34], key.low_port.to_ne_bytes());
        assert_eq!(second[36], 6);
        assert_eq!(second[40..48], 77u64.to_ne_bytes());
    }
}
