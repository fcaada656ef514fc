//! Fuzz body `tls_record_stream`: both directions of one TLS connection, cut
//! into TCP-like segments, through a `HandshakeTracker`, then fingerprinted.
//!
//! Why this shape: the record layer is where lengths from the wire decide
//! how much is buffered, and real streams split records and handshake
//! messages at any byte. The first bytes of the input choose where the two
//! directions part and how finely each is cut, so the fuzzer explores split
//! points as well as contents.
//!
//! Input layout (big-endian):
//!
//! | bytes | meaning |
//! | --- | --- |
//! | 0..2 | length of the initiator's bytes (clamped to what follows) |
//! | 2 | initiator segment length (0: the whole direction in one push) |
//! | 3 | responder segment length (0: the whole direction in one push) |
//! | 4.. | initiator bytes, then responder bytes |
//!
//! Segments of the two directions are pushed alternately, as a conversation
//! would interleave them.

use cipherlens_parsers::fingerprint::{Transport, ja3, ja4};
use cipherlens_parsers::tls::{HandshakeTracker, Peer, RecordLimits};

/// Size of the header that steers the split.
pub const HEADER_LEN: usize = 4;

/// Splits `data` into two directions and feeds them to a tracker.
pub fn run(data: &[u8]) {
    let Some((header, streams)) = data.split_first_chunk::<HEADER_LEN>() else {
        return;
    };
    let initiator_len = usize::from(u16::from_be_bytes([header[0], header[1]])).min(streams.len());
    let (initiator, responder) = streams.split_at(initiator_len);
    let mut initiator_segments = initiator.chunks(segment_len(header[2], initiator.len()));
    let mut responder_segments = responder.chunks(segment_len(header[3], responder.len()));

    let mut tracker = HandshakeTracker::new(RecordLimits::default());
    loop {
        let initiator_segment = initiator_segments.next();
        let responder_segment = responder_segments.next();
        if initiator_segment.is_none() && responder_segment.is_none() {
            break;
        }
        // Keep pushing after errors and after `wants_more` turns false:
        // a stopped direction must stay stopped whatever comes next.
        if let Some(segment) = initiator_segment {
            let _ = tracker.push(Peer::Initiator, segment);
        }
        if let Some(segment) = responder_segment {
            let _ = tracker.push(Peer::Responder, segment);
        }
    }
    let _ = tracker.wants_more(Peer::Initiator);
    let _ = tracker.buffered_bytes();

    let summary = tracker.into_summary();
    let client_hellos = [&summary.client_hello, &summary.retry_client_hello];
    for hello in client_hellos.into_iter().flatten() {
        let _ = ja3::ja3(hello);
        let _ = ja4::ja4(hello, Transport::Tcp);
    }
    let server_hellos = [&summary.server_hello, &summary.hello_retry_request];
    for hello in server_hellos.into_iter().flatten() {
        let _ = ja3::ja3s(hello);
    }
    let _ = summary.resumed();
    let _ = summary.is_finished();
}

/// `chunks` needs a non-zero length; 0 means "do not split".
fn segment_len(header_byte: u8, direction_len: usize) -> usize {
    match header_byte {
        0 => direction_len.max(1),
        length => usize::from(length),
    }
}
