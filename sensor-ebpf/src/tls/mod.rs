//! Probes on the TLS libraries (OpenSSL, BoringSSL) and the process
//! tracking that finds new ones. One file per hook family:
//!
//! - `handshake`: the handshake calls, which open the window in which a
//!   thread's syscalls are bound to the call's `SSL*`;
//! - `certificates`: each certificate as the library decodes it;
//! - `plaintext`: `SSL_read*`/`SSL_write*`, attached only when an operator
//!   turns plaintext on;
//! - `processes`: exec and the dynamic loader, so new libraries are found.
//!
//! This module holds their maps, the process filter and the one way an
//! event leaves: built in a per-CPU scratch (an event with 16 KiB of data
//! does not fit the 512-byte stack) and copied to the ring buffer at its
//! actual length.

mod certificates;
mod handshake;
mod plaintext;
mod processes;

use aya_ebpf::{
    helpers::generated::{
        bpf_get_attach_cookie, bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_ktime_get_ns,
        bpf_probe_read_user,
    },
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
    programs::ProbeContext,
};
use cipherlens_common::tgid_of;
use cipherlens_common::tls::{
    MAX_TLS_BINDINGS, MAX_TLS_PROCESSES, MAX_TLS_THREADS, PROCESS_EXCLUDED, PROCESS_INCLUDED,
    PendingCall, SslKey, TLS_BOUND_BY_CALL, TLS_BOUND_BY_THREAD, TLS_CONFIG_ALLOW_LIST,
    TLS_DATA_CAPACITY, TLS_EVENT_HEADER_LEN, TLS_IN_HANDSHAKE, TLS_TRUNCATED, ThreadTls, TlsConfig,
    TlsCounter, TlsEvent, TlsEventKind,
};

/// 8 MiB: room for bursts of certificates and plaintext without holding
/// up the packet ring.
#[map(name = "CIPHERLENS_TLS_EVENTS")]
static TLS_EVENTS: RingBuf = RingBuf::with_byte_size(8 * 1024 * 1024, 0);

#[map(name = "CIPHERLENS_TLS_THREADS")]
pub(crate) static TLS_THREADS: LruHashMap<u64, ThreadTls> =
    LruHashMap::with_max_entries(MAX_TLS_THREADS, 0);

#[map(name = "CIPHERLENS_TLS_BINDINGS")]
pub(crate) static TLS_BINDINGS: LruHashMap<SslKey, u64> =
    LruHashMap::with_max_entries(MAX_TLS_BINDINGS, 0);

#[map(name = "CIPHERLENS_TLS_PENDING")]
static TLS_PENDING: LruHashMap<u64, PendingCall> = LruHashMap::with_max_entries(MAX_TLS_THREADS, 0);

#[map(name = "CIPHERLENS_TLS_PROCESSES")]
static TLS_PROCESSES: HashMap<u32, u32> = HashMap::with_max_entries(MAX_TLS_PROCESSES, 0);

#[map(name = "CIPHERLENS_TLS_CONFIG")]
static TLS_CONFIG: Array<TlsConfig> = Array::with_max_entries(1, 0);

#[map(name = "CIPHERLENS_TLS_COUNTERS")]
static TLS_COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(TlsCounter::COUNT, 0);

#[map(name = "CIPHERLENS_TLS_SCRATCH")]
static TLS_SCRATCH: PerCpuArray<TlsEvent> = PerCpuArray::with_max_entries(1, 0);

/// Probed calls a thread may nest; deeper ones are not tracked.
const MAX_DEPTH: u32 = 8;

fn count(counter: TlsCounter) {
    if let Some(slot) = TLS_COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: per-CPU slot owned by this CPU for the program's run.
        unsafe { *slot += 1 };
    }
}

fn config() -> TlsConfig {
    TLS_CONFIG.get(0).copied().unwrap_or_default()
}

/// The process's filter marks when its calls are reported, `None` when
/// they are not (the sensor itself, excluded, or outside an include list).
fn process_marks(tgid: u32, config: &TlsConfig) -> Option<u32> {
    if tgid == config.own_tgid {
        return None;
    }
    // SAFETY: a read of a map value for this program's run.
    let marks = unsafe { TLS_PROCESSES.get(&tgid) }.copied().unwrap_or(0);
    if marks & PROCESS_EXCLUDED != 0
        || (config.flags & TLS_CONFIG_ALLOW_LIST != 0 && marks & PROCESS_INCLUDED == 0)
    {
        return None;
    }
    Some(marks)
}

/// A probed call on `ssl` starts on this thread.
fn enter(pid_tgid: u64, ssl: u64) {
    if let Some(thread) = TLS_THREADS.get_ptr_mut(&pid_tgid) {
        // SAFETY: the map value stays valid for this program's run.
        let thread = unsafe { &mut *thread };
        if thread.depth < MAX_DEPTH {
            thread.depth += 1;
            thread.ssl = ssl;
        }
        return;
    }
    let thread = ThreadTls {
        ssl,
        last_cookie: 0,
        depth: 1,
        _pad: 0,
    };
    if TLS_THREADS.insert(&pid_tgid, &thread, 0).is_err() {
        count(TlsCounter::MapFull);
    }
}

/// A probed call returns: the thread's state as it was during the call.
fn leave(pid_tgid: u64) -> Option<ThreadTls> {
    let thread = TLS_THREADS.get_ptr_mut(&pid_tgid)?;
    // SAFETY: the map value stays valid for this program's run.
    let thread = unsafe { &mut *thread };
    let during = *thread;
    if thread.depth > 0 {
        thread.depth -= 1;
    }
    if thread.depth == 0 {
        thread.ssl = 0;
    }
    Some(during)
}

/// The socket a call on `ssl` belongs to, and how that is known.
fn binding(pid_tgid: u64, ssl: u64, thread: Option<&ThreadTls>) -> (u64, u32) {
    let key = SslKey {
        ssl,
        tgid: tgid_of(pid_tgid),
        _pad: 0,
    };
    if ssl != 0 {
        // SAFETY: a read of a map value for this program's run.
        if let Some(cookie) = unsafe { TLS_BINDINGS.get(&key) } {
            return (*cookie, TLS_BOUND_BY_CALL);
        }
    }
    match thread {
        Some(thread) if thread.last_cookie != 0 => (thread.last_cookie, TLS_BOUND_BY_THREAD),
        _ => {
            count(TlsCounter::Unbound);
            (0, 0)
        }
    }
}

/// What an event says besides its data.
struct Facts {
    kind: TlsEventKind,
    pid_tgid: u64,
    ssl: u64,
    socket_cookie: u64,
    flags: u32,
    caller: u64,
    function: u64,
    probe: u64,
    result: i64,
}

impl Facts {
    /// Facts about a call on this thread, bound to its socket.
    fn for_call(kind: TlsEventKind, pid_tgid: u64, thread: Option<&ThreadTls>) -> Facts {
        let ssl = thread.map_or(0, |thread| if thread.depth > 0 { thread.ssl } else { 0 });
        let (socket_cookie, mut flags) = binding(pid_tgid, ssl, thread);
        if ssl != 0 {
            flags |= TLS_IN_HANDSHAKE;
        }
        Facts {
            kind,
            pid_tgid,
            ssl,
            socket_cookie,
            flags,
            caller: 0,
            function: 0,
            probe: 0,
            result: 0,
        }
    }
}

/// Where a probed function was entered from: (return address, the
/// function's own address, the attach cookie naming the file).
fn call_site(ctx: &ProbeContext) -> (u64, u64, u64) {
    // SAFETY: `regs` is the probe's register set; on entry `rsp` points at
    // the return address (read with the checked user-memory helper) and
    // `rip` at the function.
    unsafe {
        let regs = &*ctx.regs;
        let caller = aya_ebpf::helpers::bpf_probe_read_user(regs.rsp as *const u64).unwrap_or(0);
        let probe = bpf_get_attach_cookie(ctx.regs.cast());
        (caller, regs.rip, probe)
    }
}

/// Sends an event with up to `cap` bytes of the application's memory at
/// `source` (`length` bytes there).
fn emit(facts: Facts, source: u64, length: u64, cap: u32) {
    let Some(event) = TLS_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's scratch slot, used by this program run only.
    let event = unsafe { &mut *event };
    event.kind = facts.kind as u32;
    event.flags = facts.flags;
    // SAFETY: helpers allowed in uprobe and tracing programs.
    event.timestamp_ns = unsafe { bpf_ktime_get_ns() };
    event.pid_tgid = facts.pid_tgid;
    event.ssl = facts.ssl;
    event.socket_cookie = facts.socket_cookie;
    // SAFETY: as above.
    event.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    event.caller = facts.caller;
    event.function = facts.function;
    event.probe = facts.probe;
    event.result = facts.result;
    event.original_len = length.min(u32::MAX as u64) as u32;
    // SAFETY: `comm` is 16 writable bytes.
    unsafe { bpf_get_current_comm(event.comm.as_mut_ptr().cast(), 16) };
    let wanted = length.min(cap as u64).min(TLS_DATA_CAPACITY as u64) as usize;
    if wanted < length as usize {
        event.flags |= TLS_TRUNCATED;
        count(TlsCounter::Truncated);
    }
    let copied = copy_user(event.data.as_mut_ptr(), source, wanted);
    if wanted > 0 && copied == 0 {
        count(TlsCounter::ReadFailed);
    }
    event.data_len = copied as u32;
    let size = if copied == 0 {
        TLS_EVENT_HEADER_LEN
    } else {
        TLS_EVENT_HEADER_LEN + bounded(copied)
    };
    // SAFETY: `size` bytes of the scratch slot are initialised (header and
    // the copied data); the slice lives for this call.
    let bytes =
        unsafe { core::slice::from_raw_parts((event as *const TlsEvent).cast::<u8>(), size) };
    if TLS_EVENTS.output(bytes, 0).is_err() {
        count(TlsCounter::RingBufferFull);
    }
}

/// `len` (1..=TLS_DATA_CAPACITY) in a form the verifier can bound:
/// `((len - 1) & mask) + 1` on a value the compiler cannot see through (it
/// drops a plain `min` as redundant).
#[inline(always)]
fn bounded(len: usize) -> usize {
    // SAFETY: a read of a local.
    let opaque = unsafe { core::ptr::read_volatile(&len) };
    (opaque.wrapping_sub(1) & (TLS_DATA_CAPACITY - 1)) + 1
}

/// Copies `len` (at most [`TLS_DATA_CAPACITY`]) bytes of user memory;
/// returns the bytes copied (0 on failure).
fn copy_user(dst: *mut u8, source: u64, len: usize) -> usize {
    if len == 0 || source == 0 {
        return 0;
    }
    let bounded = bounded(len);
    // SAFETY: `dst` has TLS_DATA_CAPACITY writable bytes; the helper checks
    // the user address.
    let result = unsafe { bpf_probe_read_user(dst.cast(), bounded as u32, source as *const _) };
    if result == 0 { bounded } else { 0 }
}
