//! TCP metrics of a local socket, as the kernel keeps them.
//!
//! The kernel's `cipherlens_tcp_metrics` classifier reads a socket's
//! `bpf_tcp_sock` on request (the frames are
//! `cipherlens_capture::tcp_metrics_frame`); this module turns its reply
//! into the record's metrics the way `tcp_info` (`tcp_get_info` in
//! `net/ipv4/tcp.c`) derives them from the same socket fields, so they
//! compare with `ss -ti`. Fields `bpf_tcp_sock` does not carry (RTT
//! variance, bytes retransmitted, out-of-order packets, receive window)
//! are absent.

use cipherlens_capture::tcp_metrics_frame::FrameError;
use cipherlens_common::tcp_metrics::TcpMetricsReply;
use cipherlens_record::cnflow::{TcpMetrics, TcpState};

/// Why a lookup gave no metrics.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no network namespace id: {0}")]
    Namespace(#[from] super::namespace_ids::NamespaceIdError),
    #[error("running the TCP metrics program: {0}")]
    Run(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl LookupError {
    /// A stable label for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            LookupError::Namespace(error) => error.reason(),
            LookupError::Run(_) => "run",
            LookupError::Frame(FrameError::NotFound) => "not_found",
            LookupError::Frame(FrameError::Refused) => "refused",
            LookupError::Frame(FrameError::Short(_)) => "short_reply",
        }
    }
}

/// The record's metrics from a found socket's reply.
pub fn metrics(reply: &TcpMetricsReply) -> TcpMetrics {
    // tcp_get_info: rate = delivered * mss * USEC_PER_SEC / interval.
    let delivery_rate = (reply.rate_interval_us > 0).then(|| {
        u64::from(reply.rate_delivered) * u64::from(reply.mss_cache) * 1_000_000
            / u64::from(reply.rate_interval_us)
    });
    TcpMetrics {
        state: TcpState::from_kernel(u8::try_from(reply.state).unwrap_or(u8::MAX)),
        // tcp_get_info: tcpi_rtt = srtt_us >> 3.
        rtt_us: reply.srtt_us >> 3,
        rtt_var_us: None,
        min_rtt_us: Some(reply.rtt_min),
        segments_in: Some(reply.segs_in),
        segments_out: Some(reply.segs_out),
        retransmitted_segments: reply.total_retrans,
        retransmitted_bytes: None,
        lost_segments: reply.lost_out,
        out_of_order_packets: None,
        delivery_rate,
        receive_window: None,
        send_congestion_window: reply.snd_cwnd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_common::tcp_metrics::TCP_METRICS_FOUND;

    /// tcp_get_info's derivations: rtt is srtt_us >> 3; the delivery rate
    /// is delivered segments times the MSS per interval, in bytes/s.
    #[test]
    fn metrics_are_derived_as_tcp_info_derives_them() {
        let reply = TcpMetricsReply {
            status: TCP_METRICS_FOUND,
            state: 1,
            snd_cwnd: 10,
            srtt_us: 8 * 250,
            rtt_min: 120,
            mss_cache: 1448,
            rate_delivered: 10,
            rate_interval_us: 2000,
            total_retrans: 2,
            segs_in: 30,
            segs_out: 40,
            lost_out: 1,
            ..TcpMetricsReply::default()
        };
        let derived = metrics(&reply);
        assert_eq!(derived.state, TcpState::Established);
        assert_eq!(derived.rtt_us, 250);
        assert_eq!(derived.min_rtt_us, Some(120));
        assert_eq!(derived.delivery_rate, Some(10 * 1448 * 500));
        assert_eq!(
            (derived.segments_in, derived.segments_out),
            (Some(30), Some(40))
        );
        assert_eq!(
            (
                derived.retransmitted_segments,
                derived.lost_segments,
                derived.send_congestion_window
            ),
            (2, 1, 10)
        );
        let idle = metrics(&TcpMetricsReply {
            rate_interval_us: 0,
            ..reply
        });
        assert_eq!(idle.delivery_rate, None);
        let odd = metrics(&TcpMetricsReply {
            state: 300,
            ..reply
        });
        assert_eq!(odd.state, TcpState::Unknown);
    }
}
