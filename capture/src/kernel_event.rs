//! Kernel packet events back into packets the pipeline understands.
//!
//! An event is headers (Ethernet to TCP/UDP) plus one payload chunk taken at
//! `payload_offset` within the packet's payload (large GSO packets come as
//! several chunks), laid out as `cipherlens_common::PacketEventOf`. Put
//! together they form a frame [`decode_frame`] decodes like any captured
//! frame, once the length fields describe the bytes actually present; the
//! TCP sequence number then moves forward by the chunk's offset. So live
//! capture and `replay` share every step after this one.
//!
//! The bytes come from the kernel's ring buffer, so every length in them is
//! checked against the event before use: a bad event is an [`EventError`],
//! never a panic.

use cipherlens_common::event_offsets as at;
use cipherlens_common::{
    DIRECTION_EGRESS, EVENT_OPENS_FLOW, HEADER_CAPACITY, PACKET_EVENT_HEADER_LEN,
};

use crate::decode::{DecodeError, Packet, Transport, decode_frame};
use crate::link_type::LinkType;

/// Kernel-only facts about an event's packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta {
    pub timestamp_monotonic_ns: u64,
    pub socket_cookie: u64,
    pub netns_cookie: u64,
    pub cgroup_id: u64,
    /// tgid in the high half, thread id in the low half; 0 when unknown.
    pub pid_tgid: u64,
    pub ifindex: u32,
    pub egress: bool,
    /// The packet made its flow's kernel entry (`EVENT_OPENS_FLOW`): a new
    /// connection, whatever the 4-tuple carried before.
    pub opens_flow: bool,
    /// The first time of the flow's kernel counters entry (CNFlow), when
    /// the packet was counted in one; 0 otherwise.
    pub flow_first_ns: u64,
}

/// Why an event could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event of {0} bytes is shorter than its fixed header")]
    Short(usize),
    #[error("event lengths do not fit the event (headers {header_len}, payload {payload_len})")]
    BadLengths {
        header_len: usize,
        payload_len: usize,
    },
    #[error("event headers do not decode: {0}")]
    Decode(DecodeError),
}

impl EventError {
    /// Stable name of the reason, for counters and metric labels.
    pub const fn reason(&self) -> &'static str {
        match self {
            EventError::Short(_) => "event shorter than its fixed header",
            EventError::BadLengths { .. } => "event lengths do not fit the event",
            EventError::Decode(_) => "event headers do not decode",
        }
    }
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_ne_bytes(field)
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_ne_bytes(field)
}

/// Rebuilds the frame of one event into `frame` and returns its metadata
/// and the chunk's offset within the payload.
pub fn event_frame(event: &[u8], frame: &mut Vec<u8>) -> Result<(EventMeta, u32), EventError> {
    if event.len() < PACKET_EVENT_HEADER_LEN {
        return Err(EventError::Short(event.len()));
    }
    let meta = EventMeta {
        timestamp_monotonic_ns: u64_at(event, at::TIMESTAMP_NS),
        socket_cookie: u64_at(event, at::SOCKET_COOKIE),
        netns_cookie: u64_at(event, at::NETNS_COOKIE),
        cgroup_id: u64_at(event, at::CGROUP_ID),
        pid_tgid: u64_at(event, at::PID_TGID),
        ifindex: u32_at(event, at::IFINDEX),
        egress: event[at::DIRECTION] == DIRECTION_EGRESS,
        opens_flow: event[at::FLAGS] & EVENT_OPENS_FLOW != 0,
        flow_first_ns: u64_at(event, at::FLOW_FIRST_NS),
    };
    let payload_offset = u32_at(event, at::PAYLOAD_OFFSET);
    let payload_len = u32_at(event, at::PAYLOAD_LEN) as usize;
    let header_len = usize::from(u16::from_ne_bytes([
        event[at::HEADER_LEN],
        event[at::HEADER_LEN + 1],
    ]));
    let data = &event[PACKET_EVENT_HEADER_LEN..];
    // Headers fill the start of the header area; the payload follows it.
    let headers = data
        .get(..header_len)
        .filter(|_| header_len <= HEADER_CAPACITY);
    let payload = HEADER_CAPACITY
        .checked_add(payload_len)
        .and_then(|end| data.get(HEADER_CAPACITY..end));
    let (Some(headers), Some(payload)) = (headers, payload) else {
        return Err(EventError::BadLengths {
            header_len,
            payload_len,
        });
    };
    frame.clear();
    frame.extend_from_slice(headers);
    frame.extend_from_slice(payload);
    fix_lengths(frame, header_len);
    Ok((meta, payload_offset))
}

/// Makes the IP and UDP length fields describe the bytes present: IP
/// lengths of 0 mean "to the end of the frame" to the decoder (the GSO
/// convention), and the UDP length is set from the payload.
fn fix_lengths(frame: &mut [u8], header_len: usize) {
    let mut offset = 12;
    let mut ether_type = be16(frame, offset);
    while matches!(ether_type, Some(0x8100 | 0x88A8)) {
        offset += 4;
        ether_type = be16(frame, offset);
    }
    let ip = offset + 2;
    let (protocol, l4) = match ether_type {
        Some(0x0800) => {
            set_be16(frame, ip + 2, 0);
            let ihl = frame.get(ip).map_or(0, |b| usize::from(b & 0x0F) * 4);
            (frame.get(ip + 9).copied(), ip + ihl)
        }
        Some(0x86DD) => {
            set_be16(frame, ip + 4, 0);
            (frame.get(ip + 6).copied(), ip + 40)
        }
        _ => (None, 0),
    };
    if protocol == Some(17) && l4 + 8 <= header_len {
        let udp_len = (frame.len() - l4).min(usize::from(u16::MAX)) as u16;
        set_be16(frame, l4 + 4, udp_len);
    }
}

fn be16(bytes: &[u8], offset: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *bytes.get(offset)?,
        *bytes.get(offset + 1)?,
    ]))
}

fn set_be16(bytes: &mut [u8], offset: usize, value: u16) {
    if let Some(field) = bytes.get_mut(offset..offset + 2) {
        field.copy_from_slice(&value.to_be_bytes());
    }
}

/// Decodes a rebuilt frame; a TCP chunk's sequence number moves forward by
/// its offset within the packet's payload.
pub fn decode_event_frame(frame: &[u8], payload_offset: u32) -> Result<Packet<'_>, EventError> {
    let mut packet = decode_frame(LinkType::ETHERNET, frame).map_err(EventError::Decode)?;
    if let Transport::Tcp(segment) = &mut packet.transport {
        segment.seq = segment.seq.wrapping_add(payload_offset);
    }
    Ok(packet)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event as the kernel lays it out, for a frame split at `header_len`.
    fn event(frame: &[u8], header_len: usize, payload_offset: u32, egress: bool) -> Vec<u8> {
        let payload = &frame[header_len..];
        let mut event = vec![0u8; PACKET_EVENT_HEADER_LEN + HEADER_CAPACITY + 2048];
        event[0..8].copy_from_slice(&7u64.to_ne_bytes());
        event[8..16].copy_from_slice(&99u64.to_ne_bytes());
        event[32..40].copy_from_slice(&((42u64 << 32) | 43).to_ne_bytes());
        event[40..44].copy_from_slice(&3u32.to_ne_bytes());
        event[48..52].copy_from_slice(&payload_offset.to_ne_bytes());
        event[52..56].copy_from_slice(&(payload.len() as u32).to_ne_bytes());
        event[56..58].copy_from_slice(&(header_len as u16).to_ne_bytes());
        event[58] = u8::from(egress);
        let data = PACKET_EVENT_HEADER_LEN;
        event[data..data + header_len].copy_from_slice(&frame[..header_len]);
        event[data + HEADER_CAPACITY..data + HEADER_CAPACITY + payload.len()]
            .copy_from_slice(payload);
        event
    }

    /// Ethernet + IPv4 + TCP (20-byte header) carrying `payload`, seq 1000.
    fn tcp_frame(payload: &[u8], ip_total_len: u16) -> Vec<u8> {
        let mut frame = vec![0u8; 14];
        frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&ip_total_len.to_be_bytes());
        frame.extend_from_slice(&ip);
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&443u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&50000u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x18;
        frame.extend_from_slice(&tcp);
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn a_later_chunk_of_a_large_packet_gets_its_sequence_number() {
        // The IP length describes the whole 64 KiB packet; the event holds one chunk.
        let frame = tcp_frame(b"chunk-bytes", 60_000);
        let raw = event(&frame, 54, 4096, true);
        let mut rebuilt = Vec::new();
        let (meta, offset) = event_frame(&raw, &mut rebuilt).expect("event");
        assert_eq!(offset, 4096);
        assert!(meta.egress);
        assert_eq!(meta.socket_cookie, 99);
        assert_eq!(meta.ifindex, 3);
        assert_eq!(cipherlens_common::tgid_of(meta.pid_tgid), 42);
        let packet = decode_event_frame(&rebuilt, offset).expect("decodes");
        let Transport::Tcp(segment) = packet.transport else {
            panic!("tcp expected");
        };
        assert_eq!(segment.seq, 1000 + 4096);
        assert_eq!(segment.payload, b"chunk-bytes");
    }

    #[test]
    fn short_or_inconsistent_events_are_errors() {
        let mut frame = Vec::new();
        assert_eq!(
            event_frame(&[0u8; 10], &mut frame),
            Err(EventError::Short(10))
        );
        let mut raw = event(&tcp_frame(b"x", 0), 54, 0, false);
        raw[52..56].copy_from_slice(&100_000u32.to_ne_bytes());
        assert!(matches!(
            event_frame(&raw, &mut frame),
            Err(EventError::BadLengths { .. })
        ));
        // Cut inside the header area, with no payload (found by the fuzzer).
        let mut raw = event(&tcp_frame(b"", 0), 54, 0, false);
        raw.truncate(PACKET_EVENT_HEADER_LEN + 60);
        assert_eq!(
            event_frame(&raw, &mut frame),
            Err(EventError::BadLengths {
                header_len: 54,
                payload_len: 0
            })
        );
        // Headers longer than the header area.
        let mut raw = event(&tcp_frame(b"x", 0), 54, 0, false);
        raw[56..58].copy_from_slice(&(HEADER_CAPACITY as u16 + 1).to_ne_bytes());
        assert!(matches!(
            event_frame(&raw, &mut frame),
            Err(EventError::BadLengths { .. })
        ));
    }

    #[test]
    fn headers_that_do_not_decode_keep_the_stats_key_they_always_had() {
        // An ARP EtherType: not IP.
        let mut raw = event(&tcp_frame(b"x", 0), 54, 0, false);
        raw[PACKET_EVENT_HEADER_LEN + 12..PACKET_EVENT_HEADER_LEN + 14]
            .copy_from_slice(&0x0806u16.to_be_bytes());
        let mut frame = Vec::new();
        let (_, offset) = event_frame(&raw, &mut frame).expect("lengths are fine");
        let error = decode_event_frame(&frame, offset).expect_err("not IP");
        assert_eq!(
            error,
            EventError::Decode(DecodeError::NotIp { ether_type: 0x0806 })
        );
        // Stats records counted this drop under the error text before its first ':'.
        let key_before = error.to_string().split(':').next().map(str::to_owned);
        assert_eq!(key_before.as_deref(), Some(error.reason()));
    }
}
