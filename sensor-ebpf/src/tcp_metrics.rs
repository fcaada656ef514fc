//! TCP metrics of one socket, on demand (see `cipherlens_common::tcp_metrics`).
//!
//! Never attached: user space runs it with `BPF_PROG_TEST_RUN` on a frame
//! holding the request and reads the reply from the frame it returns. The
//! socket is found by 4-tuple in the namespace the request names, read
//! through `bpf_tcp_sock` and released.

use aya_ebpf::{
    EbpfContext,
    bindings::{TC_ACT_OK, bpf_sock, bpf_sock_tuple},
    helpers::generated::{bpf_sk_lookup_tcp, bpf_sk_release, bpf_tcp_sock},
    macros::classifier,
    programs::TcContext,
};
use cipherlens_common::tcp_metrics::{
    TCP_METRICS_BAD_REQUEST, TCP_METRICS_FOUND, TCP_METRICS_NOT_FOUND, TcpMetricsReply,
    TcpMetricsRequest,
};

/// `TCP_LISTEN` in `include/net/tcp_states.h`: a lookup that finds no
/// established socket falls back to a listener, which is not the flow's.
const TCP_LISTEN: u32 = 10;

#[classifier]
pub fn cipherlens_tcp_metrics(ctx: TcContext) -> i32 {
    let reply = match ctx.load::<TcpMetricsRequest>(0) {
        Ok(request) => look_up(&ctx, &request),
        Err(_) => TcpMetricsReply {
            status: TCP_METRICS_BAD_REQUEST,
            ..TcpMetricsReply::default()
        },
    };
    let _ = ctx.store(core::mem::size_of::<TcpMetricsRequest>(), &reply, 0);
    TC_ACT_OK
}

fn look_up(ctx: &TcContext, request: &TcpMetricsRequest) -> TcpMetricsReply {
    let mut reply = TcpMetricsReply::default();
    // SAFETY: an all-zero `bpf_sock_tuple` (plain integers) is valid.
    let mut tuple: bpf_sock_tuple = unsafe { core::mem::zeroed() };
    // The tuple is that of a packet arriving at the socket: from the remote
    // end to the local one.
    let size = if request.family == 4 {
        // SAFETY: writes of plain integers into the union's ipv4 view.
        unsafe {
            let v4 = &mut tuple.__bindgen_anon_1.ipv4;
            v4.saddr = words(&request.remote_address)[0];
            v4.daddr = words(&request.local_address)[0];
            v4.sport = request.remote_port;
            v4.dport = request.local_port;
        }
        12
    } else if request.family == 6 {
        // SAFETY: as above, the ipv6 view.
        unsafe {
            let v6 = &mut tuple.__bindgen_anon_1.ipv6;
            v6.saddr = words(&request.remote_address);
            v6.daddr = words(&request.local_address);
            v6.sport = request.remote_port;
            v6.dport = request.local_port;
        }
        36
    } else {
        reply.status = TCP_METRICS_BAD_REQUEST;
        return reply;
    };
    // SAFETY: `tuple` is on this stack and `size` bytes long; the namespace
    // id is sign-extended as the helper expects (negative: the caller's).
    let sock: *mut bpf_sock = unsafe {
        bpf_sk_lookup_tcp(
            ctx.as_ptr(),
            &mut tuple,
            size,
            request.netns_id as i64 as u64,
            0,
        )
    }
    .cast();
    if sock.is_null() {
        reply.status = TCP_METRICS_NOT_FOUND;
        return reply;
    }
    // SAFETY: `sock` is the non-null socket the lookup returned, held until
    // the release below; `bpf_tcp_sock` takes it.
    let state = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*sock).state)) };
    // SAFETY: as above.
    let remote_port = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*sock).dst_port)) };
    let tcp = unsafe { bpf_tcp_sock(sock) };
    if tcp.is_null() || state == TCP_LISTEN || remote_port != request.remote_port {
        reply.status = TCP_METRICS_NOT_FOUND;
    } else {
        // The verifier checks each field access of a `bpf_tcp_sock` for its
        // exact size: volatile reads keep the compiler from merging two
        // u32 fields into one u64 load.
        macro_rules! field {
            ($name:ident) => {
                // SAFETY: `tcp` is non-null and valid while `sock` is held.
                unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*tcp).$name)) }
            };
        }
        reply = TcpMetricsReply {
            status: TCP_METRICS_FOUND,
            state,
            snd_cwnd: field!(snd_cwnd),
            srtt_us: field!(srtt_us),
            rtt_min: field!(rtt_min),
            mss_cache: field!(mss_cache),
            rate_delivered: field!(rate_delivered),
            rate_interval_us: field!(rate_interval_us),
            total_retrans: field!(total_retrans),
            segs_in: field!(segs_in),
            segs_out: field!(segs_out),
            lost_out: field!(lost_out),
            bytes_received: field!(bytes_received),
            bytes_acked: field!(bytes_acked),
        };
    }
    // SAFETY: releases the reference the lookup took, exactly once.
    unsafe { bpf_sk_release(sock.cast()) };
    reply
}

#[inline(always)]
fn words(address: &[u8; 16]) -> [u32; 4] {
    let word =
        |i: usize| u32::from_ne_bytes([address[i], address[i + 1], address[i + 2], address[i + 3]]);
    [word(0), word(4), word(8), word(12)]
}
