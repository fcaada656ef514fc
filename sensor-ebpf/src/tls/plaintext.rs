//! Plaintext: `SSL_read`, `SSL_write` and their `_ex` variants, entry and
//! return. Attached only when an operator turns plaintext on; the entry
//! keeps the buffer, the return knows how many bytes the call moved. The
//! entry also opens the binding window, so the socket the call reads or
//! writes is known by the return.

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_probe_read_user,
        generated::{bpf_get_attach_cookie, bpf_get_current_pid_tgid},
    },
    macros::{uprobe, uretprobe},
    programs::{ProbeContext, RetProbeContext},
};
use cipherlens_common::tgid_of;
use cipherlens_common::tls::{
    PROCESS_PLAINTEXT, PendingCall, TLS_CONFIG_PLAINTEXT, TLS_CONFIG_PLAINTEXT_SCOPED, TlsCounter,
    TlsEventKind,
};

use super::{Facts, TLS_PENDING, config, count, emit, enter, leave, process_marks};

#[uprobe(multi)]
pub fn cipherlens_ssl_read_enter(ctx: ProbeContext) -> u32 {
    start(&ctx, TlsEventKind::PlaintextRead, false);
    0
}

#[uprobe(multi)]
pub fn cipherlens_ssl_write_enter(ctx: ProbeContext) -> u32 {
    start(&ctx, TlsEventKind::PlaintextWrite, false);
    0
}

#[uprobe(multi)]
pub fn cipherlens_ssl_read_ex_enter(ctx: ProbeContext) -> u32 {
    start(&ctx, TlsEventKind::PlaintextRead, true);
    0
}

#[uprobe(multi)]
pub fn cipherlens_ssl_write_ex_enter(ctx: ProbeContext) -> u32 {
    start(&ctx, TlsEventKind::PlaintextWrite, true);
    0
}

/// `SSL_read(ssl, buf, num)` / `SSL_read_ex(ssl, buf, num, size_t *readbytes)`.
fn start(ctx: &ProbeContext, kind: TlsEventKind, ex: bool) {
    let (Some(ssl), Some(buffer)) = (ctx.arg::<u64>(0), ctx.arg::<u64>(1)) else {
        return;
    };
    let length_out = if ex {
        ctx.arg::<u64>(3).unwrap_or(0)
    } else {
        0
    };
    // SAFETY: helper allowed in uprobes.
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    let config = config();
    let Some(marks) = process_marks(tgid_of(pid_tgid), &config) else {
        return;
    };
    if config.flags & TLS_CONFIG_PLAINTEXT == 0
        || (config.flags & TLS_CONFIG_PLAINTEXT_SCOPED != 0 && marks & PROCESS_PLAINTEXT == 0)
    {
        return;
    }
    let call = PendingCall {
        ssl,
        buffer,
        length_out,
        kind: kind as u32,
        _pad: 0,
    };
    if TLS_PENDING.insert(&pid_tgid, &call, 0).is_err() {
        count(TlsCounter::MapFull);
        return;
    }
    enter(pid_tgid, ssl);
}

#[uretprobe(multi)]
pub fn cipherlens_ssl_rw_exit(ctx: RetProbeContext) -> u32 {
    // SAFETY: helper allowed in uretprobes.
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    // SAFETY: a read of a map value, copied out before the entry goes.
    let Some(call) = (unsafe { TLS_PENDING.get(&pid_tgid) }).copied() else {
        // Not started by this sensor's filter, or attached mid-call.
        return 0;
    };
    let _ = TLS_PENDING.remove(&pid_tgid);
    let Some(during) = leave(pid_tgid) else {
        count(TlsCounter::ReturnWithoutEntry);
        return 0;
    };
    let result = ctx.ret::<i32>() as i64;
    let moved = if call.length_out == 0 {
        result.max(0) as u64
    } else if result == 1 {
        // SAFETY: the caller's `size_t *`, read with the checked helper.
        unsafe { bpf_probe_read_user(call.length_out as *const u64) }.unwrap_or(0)
    } else {
        0
    };
    if moved == 0 {
        return 0;
    }
    let Some(kind) = TlsEventKind::from_u32(call.kind) else {
        return 0;
    };
    let mut facts = Facts::for_call(kind, pid_tgid, Some(&during));
    facts.ssl = call.ssl;
    facts.result = result;
    // SAFETY: the helper reads this attachment's cookie (which file).
    facts.probe = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    count(TlsCounter::PlaintextCalls);
    emit(facts, call.buffer, moved, config().plaintext_cap);
    0
}
