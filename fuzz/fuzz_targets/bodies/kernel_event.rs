//! Fuzz body `kernel_event`: the input as one event from the sensor's ring
//! buffer (`cipherlens_common::PacketEventOf`: a 64-byte header of cookies,
//! ids, lengths and direction in host byte order, then a 192-byte header
//! area and the payload chunk), rebuilt into a frame and decoded.
//!
//! Why: every length in an event (header length, payload length, the IP and
//! UDP lengths inside the copied headers) is read from bytes the kernel
//! wrote; a kernel program bug or a layout change must become a counted
//! error, not a panic or an out-of-bounds frame.

use cipherlens_capture::Transport;
use cipherlens_capture::kernel_event::{decode_event_frame, event_frame};

/// Rebuilds and decodes `data` as one event.
pub fn run(data: &[u8]) {
    let mut frame = Vec::new();
    let Ok((_meta, payload_offset)) = event_frame(data, &mut frame) else {
        return;
    };
    // The frame is the event's header area cut to the header length plus the
    // payload: never more bytes than the event holds.
    assert!(frame.len() <= data.len(), "frame larger than its event");
    if let Ok(packet) = decode_event_frame(&frame, payload_offset) {
        let payload = match packet.transport {
            Transport::Tcp(segment) => segment.payload,
            Transport::Udp(datagram) => datagram.payload,
            Transport::Other(_) => &[],
        };
        assert!(payload.len() <= frame.len(), "payload outside the frame");
    }
}
