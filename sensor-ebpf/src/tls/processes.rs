//! New processes and newly loaded libraries, so their TLS libraries are
//! found within a second: a uprobe belongs to a file, so a process that
//! maps an already-probed library is covered at once, but a library file
//! not seen before must be read and attached by user space.
//!
//! - tp_btf `sched_process_exec`: a process ran a new program (tracefs is
//!   not needed, unlike classic tracepoints).
//! - glibc's `_dl_debug_state`: the dynamic loader calls it after mapping
//!   or unmapping libraries, at start and at every `dlopen` (the
//!   interface debuggers use). Cheaper and more precise than watching
//!   every `mmap`.

use aya_ebpf::{
    helpers::generated::bpf_get_current_pid_tgid,
    macros::{btf_tracepoint, uprobe, uretprobe},
    programs::{BtfTracePointContext, ProbeContext},
};
use cipherlens_common::tgid_of;
use cipherlens_common::tls::TlsEventKind;

use super::{Facts, config, emit};

#[btf_tracepoint(function = "sched_process_exec")]
pub fn cipherlens_process_exec(_ctx: BtfTracePointContext) -> i32 {
    report(TlsEventKind::ProcessExec);
    0
}

#[uprobe(multi)]
pub fn cipherlens_dl_debug_state(_ctx: ProbeContext) -> u32 {
    report(TlsEventKind::LibrariesChanged);
    0
}

fn report(kind: TlsEventKind) {
    // SAFETY: helper allowed in tracing programs and uprobes.
    let pid_tgid = unsafe { bpf_get_current_pid_tgid() };
    // Not filtered by the process marks: an exec changes what the process
    // is, and a process outside an include list is found by this.
    if tgid_of(pid_tgid) == config().own_tgid {
        return;
    }
    let facts = Facts {
        kind,
        pid_tgid,
        ssl: 0,
        socket_cookie: 0,
        flags: 0,
        caller: 0,
        function: 0,
        probe: 0,
        result: 0,
    };
    emit(facts, 0, 0, 0);
}

/// An empty entry probe: what a uprobe costs with nothing in it, the
/// baseline `scripts/bench-uprobes.sh` compares the plaintext probes with.
#[uprobe(multi)]
pub fn cipherlens_empty_enter(_ctx: ProbeContext) -> u32 {
    0
}

/// An empty return probe (see [`cipherlens_empty_enter`]).
#[uretprobe(multi)]
pub fn cipherlens_empty_exit(_ctx: aya_ebpf::programs::RetProbeContext) -> u32 {
    0
}
