//! The TLS probes' ring buffer events, read from bytes with every length
//! checked: the ring is kernel memory, but a layout mismatch must give a
//! counted drop, not a panic.

use std::mem::offset_of;

use cipherlens_common::tls::{
    TLS_BOUND_BY_CALL, TLS_BOUND_BY_THREAD, TLS_EVENT_HEADER_LEN, TLS_TRUNCATED, TlsEventHeader,
    TlsEventKind,
};
use cipherlens_common::{tgid_of, tid_of};
use cipherlens_record::session::CallBinding;

/// One event, borrowing its data from the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsEvent<'a> {
    pub kind: TlsEventKind,
    pub flags: u32,
    pub timestamp_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub ssl: u64,
    pub socket_cookie: u64,
    pub cgroup_id: u64,
    pub caller: u64,
    pub function: u64,
    pub probe: u64,
    pub result: i64,
    pub original_len: u32,
    pub comm: String,
    pub data: &'a [u8],
}

impl TlsEvent<'_> {
    /// How the call was tied to its socket, when it was.
    pub fn binding(&self) -> Option<CallBinding> {
        if self.socket_cookie == 0 {
            None
        } else if self.flags & TLS_BOUND_BY_CALL != 0 {
            Some(CallBinding::Call)
        } else if self.flags & TLS_BOUND_BY_THREAD != 0 {
            Some(CallBinding::Thread)
        } else {
            None
        }
    }

    pub fn truncated(&self) -> bool {
        self.flags & TLS_TRUNCATED != 0
    }
}

/// Why an event was dropped (a counter label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlsEventError {
    #[error("event shorter than its header")]
    Short,
    #[error("unknown event kind {0}")]
    UnknownKind(u32),
    #[error("data length beyond the event")]
    DataLength,
}

impl TlsEventError {
    pub fn reason(self) -> &'static str {
        match self {
            TlsEventError::Short => "tls_event_short",
            TlsEventError::UnknownKind(_) => "tls_event_unknown_kind",
            TlsEventError::DataLength => "tls_event_data_length",
        }
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_ne_bytes(raw)
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_ne_bytes(raw)
}

/// Reads one event.
pub fn decode(bytes: &[u8]) -> Result<TlsEvent<'_>, TlsEventError> {
    if bytes.len() < TLS_EVENT_HEADER_LEN {
        return Err(TlsEventError::Short);
    }
    let raw_kind = u32_at(bytes, offset_of!(TlsEventHeader, kind));
    let kind = TlsEventKind::from_u32(raw_kind).ok_or(TlsEventError::UnknownKind(raw_kind))?;
    let data_len = u32_at(bytes, offset_of!(TlsEventHeader, data_len)) as usize;
    let data = bytes
        .get(TLS_EVENT_HEADER_LEN..TLS_EVENT_HEADER_LEN.saturating_add(data_len))
        .ok_or(TlsEventError::DataLength)?;
    let pid_tgid = u64_at(bytes, offset_of!(TlsEventHeader, pid_tgid));
    let comm_at = offset_of!(TlsEventHeader, comm);
    let comm = &bytes[comm_at..comm_at + 16];
    let comm_len = comm.iter().position(|b| *b == 0).unwrap_or(16);
    Ok(TlsEvent {
        kind,
        flags: u32_at(bytes, offset_of!(TlsEventHeader, flags)),
        timestamp_ns: u64_at(bytes, offset_of!(TlsEventHeader, timestamp_ns)),
        pid: tgid_of(pid_tgid),
        tid: tid_of(pid_tgid),
        ssl: u64_at(bytes, offset_of!(TlsEventHeader, ssl)),
        socket_cookie: u64_at(bytes, offset_of!(TlsEventHeader, socket_cookie)),
        cgroup_id: u64_at(bytes, offset_of!(TlsEventHeader, cgroup_id)),
        caller: u64_at(bytes, offset_of!(TlsEventHeader, caller)),
        function: u64_at(bytes, offset_of!(TlsEventHeader, function)),
        probe: u64_at(bytes, offset_of!(TlsEventHeader, probe)),
        result: u64_at(bytes, offset_of!(TlsEventHeader, result)) as i64,
        original_len: u32_at(bytes, offset_of!(TlsEventHeader, original_len)),
        comm: String::from_utf8_lossy(&comm[..comm_len]).into_owned(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u32, data: &[u8], claimed: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; TLS_EVENT_HEADER_LEN];
        bytes[offset_of!(TlsEventHeader, kind)..][..4].copy_from_slice(&kind.to_ne_bytes());
        bytes[offset_of!(TlsEventHeader, flags)..][..4]
            .copy_from_slice(&TLS_BOUND_BY_CALL.to_ne_bytes());
        bytes[offset_of!(TlsEventHeader, pid_tgid)..][..8]
            .copy_from_slice(&((42u64 << 32) | 43).to_ne_bytes());
        bytes[offset_of!(TlsEventHeader, socket_cookie)..][..8]
            .copy_from_slice(&9u64.to_ne_bytes());
        bytes[offset_of!(TlsEventHeader, data_len)..][..4].copy_from_slice(&claimed.to_ne_bytes());
        bytes[offset_of!(TlsEventHeader, comm)..][..4].copy_from_slice(b"curl");
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn events_read_back_and_bad_ones_are_refused() {
        let bytes = event(1, b"\x30\x03abc", 5);
        let read = decode(&bytes).expect("event");
        assert_eq!(read.kind, TlsEventKind::Certificate);
        assert_eq!((read.pid, read.tid, read.comm.as_str()), (42, 43, "curl"));
        assert_eq!(read.data, b"\x30\x03abc");
        assert_eq!(read.binding(), Some(CallBinding::Call));
        assert_eq!(decode(&bytes[..40]), Err(TlsEventError::Short));
        assert_eq!(decode(&event(1, b"ab", 3)), Err(TlsEventError::DataLength));
        assert_eq!(
            decode(&event(99, b"", 0)),
            Err(TlsEventError::UnknownKind(99))
        );
        assert_eq!(
            decode(&event(1, b"", u32::MAX)),
            Err(TlsEventError::DataLength)
        );
    }
}
