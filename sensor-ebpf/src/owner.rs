//! Socket owners: which process sends or receives on a socket.
//!
//! TC programs run without process context (and on a veth the skb may even
//! carry the peer namespace's socket), so they cannot know the process. These
//! tp_btf programs run in the context of the process calling send/recv and
//! remember socket cookie -> pid_tgid in an LRU map the TC programs read.
//! (fentry/kprobe are not available on the kernels this targets; tp_btf is.)
//!
//! A TCP client is known from its `connect`, before its SYN leaves: a
//! short-lived client (curl in a cron job) may exit right after its
//! handshake, and the sooner user space knows its pid, the likelier procfs
//! still describes it when attribution reads it.

use aya_ebpf::{
    helpers::generated::{bpf_get_current_pid_tgid, bpf_get_socket_cookie, bpf_jiffies64},
    macros::{btf_tracepoint, map},
    maps::PerCpuArray,
    programs::BtfTracePointContext,
};

use cipherlens_common::tgid_of;

use cipherlens_common::tls::SslKey;

use crate::tc::SOCKET_OWNERS;
use crate::tls::{TLS_BINDINGS, TLS_THREADS};

/// The socket owner a CPU wrote or found last, and the tick it did.
#[repr(C)]
#[derive(Clone, Copy)]
struct OwnerSeen {
    cookie: u64,
    pid_tgid: u64,
    tick: u64,
}

/// Each CPU's last socket owner: a bulk transfer calls send or recv tens of
/// thousands of times a second on one socket, from one CPU, and a repeat
/// within the same clock tick skips the owners map's hash lookup. Once a
/// tick the map is asked again, so an entry the LRU evicted comes back.
#[map(name = "CIPHERLENS_OWNER_SEEN")]
static OWNER_SEEN: PerCpuArray<OwnerSeen> = PerCpuArray::with_max_entries(1, 0);

/// `sock_send_length(struct sock *sk, int ret, int flags)`.
#[btf_tracepoint(function = "sock_send_length")]
pub fn cipherlens_sock_send(ctx: BtfTracePointContext) -> i32 {
    remember_owner(&ctx);
    0
}

/// `sock_recv_length(struct sock *sk, int ret, int flags)`.
#[btf_tracepoint(function = "sock_recv_length")]
pub fn cipherlens_sock_recv(ctx: BtfTracePointContext) -> i32 {
    if let Some((pid_tgid, cookie)) = remember_owner(&ctx) {
        bind_tls_call(pid_tgid, cookie);
    }
    0
}

/// `TCP_SYN_SENT` in `include/net/tcp_states.h`.
const TCP_SYN_SENT: i32 = 2;

/// `inet_sock_set_state(const struct sock *sk, const int oldstate, const int
/// newstate)`. Only the move to SYN_SENT runs in the connecting process's
/// context (`connect`); every other change may run in softirq, on behalf of
/// whichever task was interrupted, and is left alone.
#[btf_tracepoint(function = "inet_sock_set_state")]
pub fn cipherlens_sock_connect(ctx: BtfTracePointContext) -> i32 {
    let newstate: i32 = ctx.arg(2);
    if newstate == TCP_SYN_SENT {
        remember_owner(&ctx);
    }
    0
}

/// Remembers the socket's owner; returns (pid_tgid, cookie).
fn remember_owner(ctx: &BtfTracePointContext) -> Option<(u64, u64)> {
    let sock: *mut core::ffi::c_void = ctx.arg(0);
    if sock.is_null() {
        return None;
    }
    // SAFETY: `sock` is the tracepoint's `struct sock *` argument (BTF-typed
    // for the verifier); both helpers are allowed in tp_btf programs.
    let cookie = unsafe { bpf_get_socket_cookie(sock) };
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    if cookie == 0 || tgid_of(pid_tgid) == 0 {
        return None;
    }
    // SAFETY: a helper without arguments (the verifier inlines it).
    let tick = unsafe { bpf_jiffies64() };
    let seen = OWNER_SEEN.get_ptr_mut(0);
    if let Some(seen) = seen {
        // SAFETY: this CPU's slot, valid for the program's run; tp_btf
        // programs do not nest on a CPU.
        let seen = unsafe { &*seen };
        if seen.cookie == cookie && seen.pid_tgid == pid_tgid && seen.tick == tick {
            return Some((pid_tgid, cookie));
        }
    }
    // A lookup is cheap, an LRU update takes a lock and a node, so write
    // only what changed.
    // SAFETY: a read of a map value for this program's run.
    if unsafe { SOCKET_OWNERS.get(&cookie) }.copied() != Some(pid_tgid) {
        let _ = SOCKET_OWNERS.insert(&cookie, &pid_tgid, 0);
    }
    if let Some(seen) = seen {
        // SAFETY: as above.
        unsafe {
            seen.write(OwnerSeen {
                cookie,
                pid_tgid,
                tick,
            })
        };
    }
    Some((pid_tgid, cookie))
}

/// On receives only: a thread that entered a probed TLS call has state; its
/// latest receiving socket is kept (memory BIOs: the application moves the
/// bytes itself, outside the library's calls), and while a probed call is
/// on its stack this receive is that call's, so the call's `SSL*` is bound
/// to the socket. Every handshake receives the peer's flight, so receives
/// suffice, and a bulk sender (an `SSL_write` loop) pays nothing here.
/// Other threads pay one failed lookup per receive.
fn bind_tls_call(pid_tgid: u64, cookie: u64) {
    let Some(thread) = TLS_THREADS.get_ptr_mut(&pid_tgid) else {
        return;
    };
    // SAFETY: the map value stays valid for this program's run.
    let thread = unsafe { &mut *thread };
    if thread.last_cookie != cookie {
        thread.last_cookie = cookie;
    }
    if thread.depth == 0 || thread.ssl == 0 {
        return;
    }
    let key = SslKey {
        ssl: thread.ssl,
        tgid: tgid_of(pid_tgid),
        _pad: 0,
    };
    // SAFETY: a read of a map value for this program's run.
    if unsafe { TLS_BINDINGS.get(&key) }.copied() != Some(cookie) {
        let _ = TLS_BINDINGS.insert(&key, &cookie, 0);
    }
}
