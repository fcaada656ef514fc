//! Socket owners: which process sends or receives on a socket.
//!
//! TC programs run without process context (and on a veth the skb may even
//! carry the peer namespace's socket), so they cannot know the process. These
//! tp_btf programs run in the context of the process calling send/recv and
//! remember socket cookie -> pid_tgid in an LRU map the TC programs read.
//! (fentry/kprobe are not available on the kernels this targets; tp_btf is.)

use aya_ebpf::{
    helpers::generated::{bpf_get_current_pid_tgid, bpf_get_socket_cookie},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};

use cipherlens_common::tgid_of;

use crate::tc::SOCKET_OWNERS;

/// `sock_send_length(struct sock *sk, int ret, int flags)`.
#[btf_tracepoint(function = "sock_send_length")]
pub fn cipherlens_sock_send(ctx: BtfTracePointContext) -> i32 {
    remember_owner(&ctx);
    0
}

/// `sock_recv_length(struct sock *sk, int ret, int flags)`.
#[btf_tracepoint(function = "sock_recv_length")]
pub fn cipherlens_sock_recv(ctx: BtfTracePointContext) -> i32 {
    remember_owner(&ctx);
    0
}

fn remember_owner(ctx: &BtfTracePointContext) {
    let sock: *mut core::ffi::c_void = ctx.arg(0);
    if sock.is_null() {
        return;
    }
    // SAFETY: `sock` is the tracepoint's `struct sock *` argument (BTF-typed
    // for the verifier); both helpers are allowed in tp_btf programs.
    let cookie = unsafe { bpf_get_socket_cookie(sock) };
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    if cookie == 0 || tgid_of(pid_tgid) == 0 {
        return;
    }
    // Bulk senders call send/recv tens of thousands of times a second on
    // one socket: a lookup is cheap, an LRU update takes a lock and a node,
    // so write only what changed.
    // SAFETY: a read of a map value for this program's run.
    if unsafe { SOCKET_OWNERS.get(&cookie) }.copied() != Some(pid_tgid) {
        let _ = SOCKET_OWNERS.insert(&cookie, &pid_tgid, 0);
    }
}
