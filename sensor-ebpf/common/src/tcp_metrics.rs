//! TCP metrics of one socket, asked for by user space.
//!
//! A classifier that is never attached answers: user space runs it with
//! `BPF_PROG_TEST_RUN` on a frame that holds a [`TcpMetricsRequest`], and
//! it writes a [`TcpMetricsReply`] after the request in the frame the run
//! returns. The lookup (`bpf_sk_lookup_tcp`) takes a network namespace id,
//! so a pod's socket is found without entering the pod's namespace, and
//! `bpf_tcp_sock` reads its counters from a stable kernel ABI, with no
//! struct offsets. One system call per socket.

/// The classifier's name in the object file.
pub const TCP_METRICS_PROGRAM: &str = "cipherlens_tcp_metrics";

/// `BPF_F_CURRENT_NETNS`: the caller's own network namespace.
pub const CURRENT_NETNS: i32 = -1;

/// What user space asks for: the socket of `local` talking to `remote` in
/// the namespace `netns_id` (an id of the caller's namespace, `ip netns
/// list-id`; [`CURRENT_NETNS`] for its own).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpMetricsRequest {
    /// A test run parses the first 14 bytes as an Ethernet header; zero.
    pub ethernet: [u8; 14],
    /// 4 or 6.
    pub family: u8,
    pub _pad: u8,
    pub netns_id: i32,
    /// Ports in network byte order, as in `struct bpf_sock_tuple`.
    pub local_port: u16,
    pub remote_port: u16,
    /// IPv4 in the first four bytes, or IPv6.
    pub local_address: [u8; 16],
    pub remote_address: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<TcpMetricsRequest>() == 56);

/// Found: the fields after `status` are the socket's.
pub const TCP_METRICS_FOUND: u32 = 1;
/// No established socket with that 4-tuple in that namespace (closed, or
/// the namespace id names no namespace).
pub const TCP_METRICS_NOT_FOUND: u32 = 2;
/// A family other than 4 or 6.
pub const TCP_METRICS_BAD_REQUEST: u32 = 3;

/// What the classifier answers: `struct bpf_tcp_sock` fields (see
/// `include/uapi/linux/bpf.h`) and the socket's state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpMetricsReply {
    pub status: u32,
    /// `include/net/tcp_states.h` numbering.
    pub state: u32,
    pub snd_cwnd: u32,
    /// Smoothed RTT in microseconds, shifted left by 3 (`tcp_sock.srtt_us`).
    pub srtt_us: u32,
    pub rtt_min: u32,
    pub mss_cache: u32,
    pub rate_delivered: u32,
    pub rate_interval_us: u32,
    pub total_retrans: u32,
    pub segs_in: u32,
    pub segs_out: u32,
    pub lost_out: u32,
    pub bytes_received: u64,
    pub bytes_acked: u64,
}
const _: () = assert!(core::mem::size_of::<TcpMetricsReply>() == 64);

/// The frame a test run takes and returns: request, then room for the reply.
pub const TCP_METRICS_FRAME_LEN: usize =
    core::mem::size_of::<TcpMetricsRequest>() + core::mem::size_of::<TcpMetricsReply>();
