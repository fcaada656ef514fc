//! Flows user space is done with, marked in the handshake-flow map by a
//! classifier that is never attached.
//!
//! Marking a flow done from user space took two system calls per session
//! (a lookup, to check the entry is still the session's and not a newer
//! connection's on a reused 4-tuple, then an update, which an LRU map
//! serves by allocating a new element). Instead user space runs this
//! classifier with `BPF_PROG_TEST_RUN` on a frame holding up to
//! [`MARK_DONE_BATCH`] requests; it checks each entry's age and sets the
//! done bit in place: one system call per batch of sessions.

use crate::FlowKey;

/// The classifier's name in the object file.
pub const MARK_DONE_PROGRAM: &str = "cipherlens_mark_done";

/// Requests per run: the frame (3,104 bytes) stays within what a test run
/// of a classifier takes (a page less the skb's head and tail room).
pub const MARK_DONE_BATCH: usize = 64;

/// One flow to mark done: its handshake-flow entry, if that entry was made
/// no later than `made_by_ns` (kernel monotonic time), i.e. is the one the
/// session started with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoneRequest {
    pub key: FlowKey,
    pub made_by_ns: u64,
}
const _: () = assert!(core::mem::size_of::<DoneRequest>() == 48);

/// The frame a run takes and returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoneBatch {
    /// A test run parses the first 14 bytes as an Ethernet header; zero.
    pub ethernet: [u8; 14],
    pub _pad: [u8; 2],
    /// Requests in use, from the first.
    pub count: u32,
    pub _pad2: u32,
    /// Written by the classifier: bit `i` set when request `i`'s flow was
    /// marked.
    pub marked: u64,
    pub requests: [DoneRequest; MARK_DONE_BATCH],
}
const _: () = assert!(core::mem::size_of::<DoneBatch>() == 32 + 48 * MARK_DONE_BATCH);

/// Byte offsets of [`DoneBatch`]'s fields within the frame.
pub mod done_offsets {
    use super::DoneBatch;
    use core::mem::offset_of;
    pub const COUNT: usize = offset_of!(DoneBatch, count);
    pub const MARKED: usize = offset_of!(DoneBatch, marked);
    pub const REQUESTS: usize = offset_of!(DoneBatch, requests);
}
