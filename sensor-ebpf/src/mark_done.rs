//! Marks flows done in the handshake-flow map, on request (see
//! `cipherlens_common::mark_done`).
//!
//! Never attached: user space runs it with `BPF_PROG_TEST_RUN` on a frame
//! of requests and reads which were marked from the frame it returns. A
//! request marks its flow's entry only if the entry was made by the time
//! the request names: a client port reused by a new connection has a newer
//! entry, which must go on being copied. The done bit is set atomically in
//! place (the classifiers set FIN bits in the same word on other CPUs).

use aya_ebpf::{bindings::TC_ACT_OK, macros::classifier, programs::TcContext};
use cipherlens_common::FLOW_DONE;
use cipherlens_common::mark_done::{DoneRequest, MARK_DONE_BATCH, done_offsets};

use crate::tc::{FLOWS, or_atomic};

#[classifier]
pub fn cipherlens_mark_done(ctx: TcContext) -> i32 {
    let Ok(count) = ctx.load::<u32>(done_offsets::COUNT) else {
        return TC_ACT_OK;
    };
    let mut marked = 0u64;
    for index in 0..MARK_DONE_BATCH {
        if index as u32 >= count {
            break;
        }
        let at = done_offsets::REQUESTS + index * core::mem::size_of::<DoneRequest>();
        let Ok(request) = ctx.load::<DoneRequest>(at) else {
            break;
        };
        let Some(state) = FLOWS.get_ptr_mut(&request.key) else {
            continue;
        };
        // SAFETY: a pointer to the flow's map value, valid for the run; the
        // flags word is set with an atomic OR, the budget with a plain store
        // (any racing writer only spends it).
        unsafe {
            if (*state).created_ns <= request.made_by_ns {
                or_atomic(&raw mut (*state).flags, FLOW_DONE);
                (*state).bytes_copied = u32::MAX;
                marked |= 1 << index;
            }
        }
    }
    let _ = ctx.store(done_offsets::MARKED, &marked, 0);
    TC_ACT_OK
}
