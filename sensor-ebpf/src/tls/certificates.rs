//! Certificates as the library decodes them. TLS 1.3 sends the peer's
//! chain encrypted, so the wire never shows it; the library decodes each
//! certificate from the bytes it received, with the DER in its arguments:
//! no struct offsets of any library version are needed.
//!
//! - OpenSSL: `d2i_X509(X509 **out, const unsigned char **in, long len)`.
//! - BoringSSL keeps a peer's chain as `CRYPTO_BUFFER`s made by
//!   `CRYPTO_BUFFER_new_from_CBS(const CBS *cbs, pool)`, `CBS` being
//!   `{const uint8_t *data; size_t len}`.
//!
//! The same functions also load CA bundles and the process's own
//! certificate. Every decode is reported with its caller (the return
//! address); user space keeps those called from the TLS library's
//! handshake code and drops the rest.

use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_get_current_pid_tgid},
    macros::uprobe,
    programs::ProbeContext,
};
use cipherlens_common::tgid_of;
use cipherlens_common::tls::{TLS_DATA_CAPACITY, TlsCounter, TlsEventKind};

use super::{Facts, TLS_THREADS, call_site, config, count, emit, process_marks};

#[uprobe(multi)]
pub fn cipherlens_d2i_x509(ctx: ProbeContext) -> u32 {
    let (Some(input), Some(length)) = (ctx.arg::<u64>(1), ctx.arg::<i64>(2)) else {
        return 0;
    };
    if input == 0 || length <= 0 {
        return 0;
    }
    // SAFETY: `input` is the caller's `const unsigned char **`, read with
    // the checked user-memory helper.
    let Ok(der) = (unsafe { bpf_probe_read_user(input as *const u64) }) else {
        count(TlsCounter::ReadFailed);
        return 0;
    };
    report(&ctx, der, length as u64);
    0
}

/// `CBS` as BoringSSL lays it out (a public struct of its API).
#[repr(C)]
#[derive(Clone, Copy)]
struct Cbs {
    data: u64,
    len: u64,
}

#[uprobe(multi)]
pub fn cipherlens_crypto_buffer_new(ctx: ProbeContext) -> u32 {
    let Some(cbs) = ctx.arg::<u64>(0) else {
        return 0;
    };
    // SAFETY: `cbs` is the caller's `const CBS *`, read with the checked
    // user-memory helper.
    let Ok(cbs) = (unsafe { bpf_probe_read_user(cbs as *const Cbs) }) else {
        count(TlsCounter::ReadFailed);
        return 0;
    };
    if cbs.data != 0 && cbs.len > 0 {
        report(&ctx, cbs.data, cbs.len);
    }
    0
}

fn report(ctx: &ProbeContext, der: u64, length: u64) {
    // SAFETY: helper allowed in uprobes.
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    if process_marks(tgid_of(pid_tgid), &config()).is_none() {
        return;
    }
    // SAFETY: a read of a map value for this program's run.
    let thread = unsafe { TLS_THREADS.get(&pid_tgid) }.copied();
    let mut facts = Facts::for_call(TlsEventKind::Certificate, pid_tgid, thread.as_ref());
    (facts.caller, facts.function, facts.probe) = call_site(ctx);
    count(TlsCounter::Certificates);
    emit(facts, der, length, TLS_DATA_CAPACITY as u32);
}
