//! Capture input for cipherlens: everything between a capture file and the TLS/QUIC parsers.
//!
//! - [`file`](mod@file): read frames from classic pcap and pcapng files ([`CaptureReader`]).
//! - [`decode`]: decode a frame's link, IP and TCP/UDP headers ([`decode_frame`]).
//! - [`tcp_stream`]: reassemble one direction of a TCP connection ([`StreamReassembler`]).
//!
//! `cipherlens replay` chains the three; the live sensor uses the last two on frames the
//! kernel hands it.
#![forbid(unsafe_code)]

pub mod decode;
pub mod file;
pub mod link_type;
pub mod tcp_stream;

pub use decode::{
    DecodeError, Layer, Packet, TcpFlags, TcpSegment, Transport, UdpDatagram, decode_frame,
};
pub use file::{CaptureError, CaptureFormat, CaptureReader, Frame, MAX_RECORD_BYTES};
pub use link_type::LinkType;
pub use tcp_stream::{ReassemblyError, ReassemblyStats, StreamReassembler};
