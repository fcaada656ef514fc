//! Capture input for cipherlens: everything between a capture file and the TLS/QUIC parsers.
//!
//! - [`file`](mod@file): read frames from classic pcap and pcapng files ([`CaptureReader`]).
//! - [`decode`]: decode a frame's link, IP and TCP/UDP headers ([`decode_frame`]), through
//!   the [`tunnel`] headers of overlays, GRE/ERSPAN, IP-in-IP, GTP-U and MPLS.
//! - [`tcp_stream`]: reassemble one direction of a TCP connection ([`StreamReassembler`]).
//! - [`kernel_event`]: the sensor's kernel ring-buffer events back into frames.
//! - [`link_message`]: rtnetlink link notifications (interfaces appearing and going).
//! - [`namespace_id_message`]: rtnetlink network namespace id requests and replies.
//! - [`tcp_metrics_frame`]: the frames the kernel's TCP metrics classifier takes and returns.
//!
//! `cipherlens replay` chains the first three; the live sensor rebuilds frames from kernel
//! events, then decodes and reassembles them the same way. The kernel's bytes are untrusted
//! input like a capture file, so their decoders live here, pure and fuzzed, and the sensor
//! keeps only the I/O (ring buffer, netlink socket).
#![forbid(unsafe_code)]

pub mod decode;
pub mod file;
pub mod kernel_event;
pub mod link_message;
pub mod link_type;
pub mod namespace_id_message;
pub mod tcp_metrics_frame;
pub mod tcp_stream;
pub mod tunnel;

pub use decode::{
    DecodeError, Layer, Packet, TcpFlags, TcpSegment, Transport, UdpDatagram, decode_frame,
};
pub use file::{CaptureError, CaptureFormat, CaptureReader, Frame, MAX_RECORD_BYTES};
pub use link_type::LinkType;
pub use tcp_stream::{ReassemblyError, ReassemblyStats, StreamReassembler};
pub use tunnel::{Tunnel, TunnelKind};
