//! The frames of the kernel's TCP metrics classifier: the request the
//! sensor writes, and the reply the kernel writes after it in the frame a
//! test run returns (layout in `cipherlens_common::tcp_metrics`).
//!
//! The returned frame is read with its length checked; a reply whose
//! status is not "found" says why.

use std::net::{IpAddr, SocketAddr};

use cipherlens_common::tcp_metrics::{
    TCP_METRICS_BAD_REQUEST, TCP_METRICS_FOUND, TCP_METRICS_FRAME_LEN, TcpMetricsReply,
    TcpMetricsRequest,
};

const REPLY_OFFSET: usize = core::mem::size_of::<TcpMetricsRequest>();

/// Why a returned frame holds no metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// No open socket with these addresses in that namespace.
    #[error("no open socket with these addresses")]
    NotFound,
    #[error("the TCP metrics program refused the request")]
    Refused,
    #[error("the TCP metrics program returned {0} bytes")]
    Short(usize),
}

/// The frame asking for the socket `local` <-> `remote` in namespace
/// `netns_id`.
pub fn request_frame(
    netns_id: i32,
    local: SocketAddr,
    remote: SocketAddr,
) -> [u8; TCP_METRICS_FRAME_LEN] {
    let mut frame = [0u8; TCP_METRICS_FRAME_LEN];
    let family = match (local.ip(), remote.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => 4,
        (IpAddr::V6(_), IpAddr::V6(_)) => 6,
        // Mixed families name no socket; the program refuses family 0.
        _ => 0,
    };
    frame[14] = family;
    frame[16..20].copy_from_slice(&netns_id.to_ne_bytes());
    frame[20..22].copy_from_slice(&local.port().to_be_bytes());
    frame[22..24].copy_from_slice(&remote.port().to_be_bytes());
    let octets = |address: IpAddr| match address {
        IpAddr::V4(v4) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            bytes
        }
        IpAddr::V6(v6) => v6.octets(),
    };
    frame[24..40].copy_from_slice(&octets(local.ip()));
    frame[40..56].copy_from_slice(&octets(remote.ip()));
    frame
}

/// The reply in a returned frame (`frame`: as many bytes as the run wrote).
pub fn decode_reply(frame: &[u8]) -> Result<TcpMetricsReply, FrameError> {
    let reply = frame
        .get(REPLY_OFFSET..TCP_METRICS_FRAME_LEN)
        .ok_or(FrameError::Short(frame.len()))?;
    let u32_at = |at: usize| {
        reply
            .get(at..at + 4)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, u32::from_ne_bytes)
    };
    let u64_at = |at: usize| {
        reply
            .get(at..at + 8)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, u64::from_ne_bytes)
    };
    let status = u32_at(0);
    match status {
        TCP_METRICS_FOUND => {}
        TCP_METRICS_BAD_REQUEST => return Err(FrameError::Refused),
        _ => return Err(FrameError::NotFound),
    }
    Ok(TcpMetricsReply {
        status,
        state: u32_at(4),
        snd_cwnd: u32_at(8),
        srtt_us: u32_at(12),
        rtt_min: u32_at(16),
        mss_cache: u32_at(20),
        rate_delivered: u32_at(24),
        rate_interval_us: u32_at(28),
        total_retrans: u32_at(32),
        segs_in: u32_at(36),
        segs_out: u32_at(40),
        lost_out: u32_at(44),
        bytes_received: u64_at(48),
        bytes_acked: u64_at(56),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_common::tcp_metrics::TCP_METRICS_NOT_FOUND;
    use core::mem::offset_of;

    /// A returned frame with `reply` where the shared layout puts it.
    fn frame_with(reply: &TcpMetricsReply) -> [u8; TCP_METRICS_FRAME_LEN] {
        let mut frame = request_frame(
            -1,
            "10.0.0.2:40000".parse().expect("address"),
            "10.0.0.1:443".parse().expect("address"),
        );
        let mut put = |at: usize, bytes: &[u8]| {
            frame[REPLY_OFFSET + at..REPLY_OFFSET + at + bytes.len()].copy_from_slice(bytes)
        };
        put(
            offset_of!(TcpMetricsReply, status),
            &reply.status.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, state),
            &reply.state.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, snd_cwnd),
            &reply.snd_cwnd.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, srtt_us),
            &reply.srtt_us.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, rtt_min),
            &reply.rtt_min.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, mss_cache),
            &reply.mss_cache.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, rate_delivered),
            &reply.rate_delivered.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, rate_interval_us),
            &reply.rate_interval_us.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, total_retrans),
            &reply.total_retrans.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, segs_in),
            &reply.segs_in.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, segs_out),
            &reply.segs_out.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, lost_out),
            &reply.lost_out.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, bytes_received),
            &reply.bytes_received.to_ne_bytes(),
        );
        put(
            offset_of!(TcpMetricsReply, bytes_acked),
            &reply.bytes_acked.to_ne_bytes(),
        );
        frame
    }

    #[test]
    fn requests_put_each_field_where_the_shared_layout_has_it() {
        let frame = request_frame(
            7,
            "[2001:db8::2]:40000".parse().expect("address"),
            "[2001:db8::1]:443".parse().expect("address"),
        );
        assert_eq!(frame[offset_of!(TcpMetricsRequest, family)], 6);
        let at = offset_of!(TcpMetricsRequest, netns_id);
        assert_eq!(frame[at..at + 4], 7i32.to_ne_bytes());
        let at = offset_of!(TcpMetricsRequest, local_port);
        assert_eq!(frame[at..at + 2], 40000u16.to_be_bytes());
        let at = offset_of!(TcpMetricsRequest, remote_port);
        assert_eq!(frame[at..at + 2], 443u16.to_be_bytes());
        let at = offset_of!(TcpMetricsRequest, local_address);
        assert_eq!(frame[at..at + 3], [0x20, 0x01, 0x0d]);
        assert_eq!(frame[at + 15], 2);
        let at = offset_of!(TcpMetricsRequest, remote_address);
        assert_eq!(frame[at + 15], 1);
        let v4 = request_frame(
            -1,
            "10.0.0.2:1".parse().expect("address"),
            "10.0.0.1:2".parse().expect("address"),
        );
        assert_eq!(v4[offset_of!(TcpMetricsRequest, family)], 4);
        let at = offset_of!(TcpMetricsRequest, local_address);
        assert_eq!(
            v4[at..at + 16],
            [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let mixed = request_frame(
            -1,
            "10.0.0.2:1".parse().expect("address"),
            "[::1]:2".parse().expect("address"),
        );
        assert_eq!(mixed[offset_of!(TcpMetricsRequest, family)], 0);
    }

    #[test]
    fn a_found_reply_comes_back_field_for_field() {
        let reply = TcpMetricsReply {
            status: TCP_METRICS_FOUND,
            state: 1,
            snd_cwnd: 10,
            srtt_us: 2000,
            rtt_min: 120,
            mss_cache: 1448,
            rate_delivered: 10,
            rate_interval_us: 2000,
            total_retrans: 2,
            segs_in: 30,
            segs_out: 40,
            lost_out: 1,
            bytes_received: 1 << 40,
            bytes_acked: 5,
        };
        assert_eq!(decode_reply(&frame_with(&reply)), Ok(reply));
    }

    #[test]
    fn a_miss_a_refusal_or_a_short_frame_is_an_error() {
        let miss = frame_with(&TcpMetricsReply {
            status: TCP_METRICS_NOT_FOUND,
            ..TcpMetricsReply::default()
        });
        assert_eq!(decode_reply(&miss), Err(FrameError::NotFound));
        let refused = frame_with(&TcpMetricsReply {
            status: TCP_METRICS_BAD_REQUEST,
            ..TcpMetricsReply::default()
        });
        assert_eq!(decode_reply(&refused), Err(FrameError::Refused));
        for cut in 0..TCP_METRICS_FRAME_LEN {
            assert_eq!(decode_reply(&miss[..cut]), Err(FrameError::Short(cut)));
        }
    }
}
