//! The handshake calls (`SSL_do_handshake`, `SSL_connect`, `SSL_accept`):
//! while one is on a thread's stack, the thread's sends and receives are
//! bound to its `SSL*` (see `crate::owner`), so the certificates decoded
//! during it find their socket. A successful return is reported, so user
//! space knows the chain is complete.

use aya_ebpf::{
    helpers::generated::bpf_get_current_pid_tgid,
    macros::{uprobe, uretprobe},
    programs::{ProbeContext, RetProbeContext},
};
use cipherlens_common::tgid_of;
use cipherlens_common::tls::TlsEventKind;

use super::{Facts, config, emit, enter, leave, process_marks};

#[uprobe(multi)]
pub fn cipherlens_ssl_handshake_enter(ctx: ProbeContext) -> u32 {
    let Some(ssl) = ctx.arg::<u64>(0) else {
        return 0;
    };
    // SAFETY: helper allowed in uprobes.
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    if process_marks(tgid_of(pid_tgid), &config()).is_some() {
        enter(pid_tgid, ssl);
    }
    0
}

#[uretprobe(multi)]
pub fn cipherlens_ssl_handshake_exit(ctx: RetProbeContext) -> u32 {
    // SAFETY: helper allowed in uretprobes.
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    let Some(during) = leave(pid_tgid) else {
        return 0;
    };
    // Only the outermost call's success ends the handshake (SSL_connect
    // calls SSL_do_handshake).
    let result = ctx.ret::<i32>() as i64;
    if during.depth == 1 && result == 1 {
        let mut facts = Facts::for_call(TlsEventKind::HandshakeDone, pid_tgid, Some(&during));
        facts.result = result;
        emit(facts, 0, 0, 0);
    }
    0
}
