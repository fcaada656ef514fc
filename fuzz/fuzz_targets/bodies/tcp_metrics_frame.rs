//! Fuzz body `tcp_metrics_frame`: the input as the frame a test run of the
//! kernel's TCP metrics classifier returned (request, then reply, host byte
//! order; any length).
//!
//! Why: the frame's length is what the run says it wrote; a short or odd
//! frame must give an error, never a read past its end.

use cipherlens_capture::tcp_metrics_frame::{FrameError, decode_reply};
use cipherlens_common::tcp_metrics::{TCP_METRICS_FOUND, TCP_METRICS_FRAME_LEN};

pub fn run(data: &[u8]) {
    match decode_reply(data) {
        Ok(reply) => {
            assert!(data.len() >= TCP_METRICS_FRAME_LEN);
            assert_eq!(reply.status, TCP_METRICS_FOUND);
        }
        Err(FrameError::Short(length)) => assert!(length < TCP_METRICS_FRAME_LEN),
        Err(_) => assert!(data.len() >= TCP_METRICS_FRAME_LEN),
    }
}
