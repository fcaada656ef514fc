//! Kernel/user types of the TLS library probes (uprobes on OpenSSL and
//! BoringSSL) and the process tracking that finds new libraries.
//!
//! The kernel side reports facts (a certificate as the library decoded it,
//! a handshake that returned, plaintext of one call, a process that ran or
//! loaded a library); user space decides what they mean. A call is tied to
//! its socket without library struct offsets: while a probed call is on a
//! thread's stack, the socket-owner tp_btf programs see that thread send or
//! receive and record socket cookie for the call's `SSL*`.

/// Ring buffer of [`TlsEventHeader`] events.
pub const TLS_EVENTS_MAP: &str = "CIPHERLENS_TLS_EVENTS";
/// Per-thread state ([`ThreadTls`]), keyed by `pid_tgid`.
pub const TLS_THREADS_MAP: &str = "CIPHERLENS_TLS_THREADS";
/// `SSL*` (with the tgid) -> socket cookie of the latest syscall made
/// while a probed call on that `SSL*` was on the stack.
pub const TLS_BINDINGS_MAP: &str = "CIPHERLENS_TLS_BINDINGS";
/// Plaintext calls between entry and return ([`PendingCall`]), by `pid_tgid`.
pub const TLS_PENDING_MAP: &str = "CIPHERLENS_TLS_PENDING";
/// tgid -> [`PROCESS_EXCLUDED`] / [`PROCESS_INCLUDED`] / [`PROCESS_PLAINTEXT`].
pub const TLS_PROCESSES_MAP: &str = "CIPHERLENS_TLS_PROCESSES";
/// One-entry array holding [`TlsConfig`].
pub const TLS_CONFIG_MAP: &str = "CIPHERLENS_TLS_CONFIG";
/// Per-CPU counters indexed by [`TlsCounter`].
pub const TLS_COUNTERS_MAP: &str = "CIPHERLENS_TLS_COUNTERS";

/// Threads with TLS state at once (LRU).
pub const MAX_TLS_THREADS: u32 = 65_536;
/// `SSL*` bindings at once (LRU).
pub const MAX_TLS_BINDINGS: u32 = 131_072;
/// Processes with a filter entry at once.
pub const MAX_TLS_PROCESSES: u32 = 65_536;

/// Bytes of certificate or plaintext an event carries at most.
pub const TLS_DATA_CAPACITY: usize = 16_384;
const _: () = assert!(TLS_DATA_CAPACITY.is_power_of_two());

/// The uprobe programs: (program name, what it attaches to).
pub mod programs {
    /// Entry of `SSL_do_handshake`, `SSL_connect`, `SSL_accept`.
    pub const HANDSHAKE_ENTER: &str = "cipherlens_ssl_handshake_enter";
    /// Return of the same.
    pub const HANDSHAKE_EXIT: &str = "cipherlens_ssl_handshake_exit";
    /// Entry of `d2i_X509` (OpenSSL, BoringSSL's X509 layer).
    pub const D2I_X509: &str = "cipherlens_d2i_x509";
    /// Entry of `CRYPTO_BUFFER_new_from_CBS` (BoringSSL's peer chain).
    pub const CRYPTO_BUFFER: &str = "cipherlens_crypto_buffer_new";
    /// Entries of the plaintext calls, one program per signature.
    pub const READ_ENTER: &str = "cipherlens_ssl_read_enter";
    pub const WRITE_ENTER: &str = "cipherlens_ssl_write_enter";
    pub const READ_EX_ENTER: &str = "cipherlens_ssl_read_ex_enter";
    pub const WRITE_EX_ENTER: &str = "cipherlens_ssl_write_ex_enter";
    /// Return of any plaintext call.
    pub const READ_WRITE_EXIT: &str = "cipherlens_ssl_rw_exit";
    /// glibc's `_dl_debug_state`: called by the dynamic loader after it
    /// maps or unmaps libraries (the debugger interface).
    pub const LOADER: &str = "cipherlens_dl_debug_state";
    /// tp_btf `sched_process_exec`.
    pub const EXEC: &str = "cipherlens_process_exec";
    /// The tracepoint [`EXEC`] attaches to.
    pub const EXEC_TRACEPOINT: &str = "sched_process_exec";
    /// Empty entry and return probes: the benchmark's baseline.
    pub const EMPTY_ENTER: &str = "cipherlens_empty_enter";
    pub const EMPTY_EXIT: &str = "cipherlens_empty_exit";
}

/// Per-thread state of the probed calls.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ThreadTls {
    /// The `SSL*` of the innermost probed call on the stack (0: none).
    pub ssl: u64,
    /// Socket cookie of the thread's latest send or receive.
    pub last_cookie: u64,
    /// Probed calls on the stack.
    pub depth: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<ThreadTls>() == 24);

/// Key of [`TLS_BINDINGS_MAP`]: an `SSL*` is an address in one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SslKey {
    pub ssl: u64,
    pub tgid: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<SslKey>() == 16);

/// A plaintext call between its entry and its return.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PendingCall {
    pub ssl: u64,
    pub buffer: u64,
    /// `size_t *` of the `_ex` variants (0 for `SSL_read`/`SSL_write`).
    pub length_out: u64,
    /// [`TlsEventKind::PlaintextRead`] or [`TlsEventKind::PlaintextWrite`].
    pub kind: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<PendingCall>() == 32);

/// What a [`TlsEventHeader`] reports.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsEventKind {
    /// `data` is one DER certificate as the library decoded it.
    Certificate = 1,
    /// A handshake call returned; `result` is its return value.
    HandshakeDone = 2,
    /// `data` is what `SSL_read*` returned to the application.
    PlaintextRead = 3,
    /// `data` is what `SSL_write*` took from the application.
    PlaintextWrite = 4,
    /// A process ran a new program.
    ProcessExec = 5,
    /// A process's dynamic loader mapped or unmapped libraries.
    LibrariesChanged = 6,
}

impl TlsEventKind {
    pub const fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            1 => Self::Certificate,
            2 => Self::HandshakeDone,
            3 => Self::PlaintextRead,
            4 => Self::PlaintextWrite,
            5 => Self::ProcessExec,
            6 => Self::LibrariesChanged,
            _ => return None,
        })
    }
}

/// [`TlsEventHeader::flags`]: the socket cookie came from a syscall made
/// during a probed call on the same `SSL*` (the nested-syscall binding).
pub const TLS_BOUND_BY_CALL: u32 = 1;
/// The socket cookie is the thread's latest send/receive socket (memory
/// BIOs: the application moves the bytes itself).
pub const TLS_BOUND_BY_THREAD: u32 = 2;
/// A handshake call was on the thread's stack.
pub const TLS_IN_HANDSHAKE: u32 = 4;
/// `data` holds fewer bytes than the call had (`original_len`).
pub const TLS_TRUNCATED: u32 = 8;

/// An event of the TLS probes; `data_len` bytes follow it in the ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsEventOf<const DATA: usize> {
    /// [`TlsEventKind`].
    pub kind: u32,
    /// `TLS_*` flags above.
    pub flags: u32,
    pub timestamp_ns: u64,
    pub pid_tgid: u64,
    pub ssl: u64,
    /// Socket cookie the call was bound to (0: unbound).
    pub socket_cookie: u64,
    pub cgroup_id: u64,
    /// Return address of the probed function (who called it).
    pub caller: u64,
    /// Address of the probed function in the process (the instruction
    /// pointer at entry): with `caller`, where the caller lies relative
    /// to the function, which needs no view of the process's mappings.
    pub function: u64,
    /// The attach cookie: which probed file (user space numbers them).
    pub probe: u64,
    /// Return value of the call (handshake, plaintext).
    pub result: i64,
    /// Bytes in `data`.
    pub data_len: u32,
    /// Bytes the call had (certificate length, plaintext byte count).
    pub original_len: u32,
    pub comm: [u8; 16],
    pub data: [u8; DATA],
}

/// The fixed part of an event.
pub type TlsEventHeader = TlsEventOf<0>;
/// The largest event: the per-CPU scratch the kernel builds events in.
pub type TlsEvent = TlsEventOf<TLS_DATA_CAPACITY>;
/// Bytes before `data`.
pub const TLS_EVENT_HEADER_LEN: usize = 104;
const _: () = assert!(core::mem::size_of::<TlsEventHeader>() == TLS_EVENT_HEADER_LEN);
const _: () = assert!(core::mem::size_of::<TlsEvent>() == TLS_EVENT_HEADER_LEN + TLS_DATA_CAPACITY);

/// [`TLS_PROCESSES_MAP`] values.
pub const PROCESS_EXCLUDED: u32 = 1;
/// The process passes an include list (with [`TLS_CONFIG_ALLOW_LIST`]).
pub const PROCESS_INCLUDED: u32 = 2;
/// Plaintext may be captured from the process (with [`TLS_CONFIG_PLAINTEXT`]).
pub const PROCESS_PLAINTEXT: u32 = 4;

/// Settings user space writes before attaching and when directives change them.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// `TLS_CONFIG_*` switches.
    pub flags: u32,
    /// Plaintext bytes copied per call at most (<= [`TLS_DATA_CAPACITY`]).
    pub plaintext_cap: u32,
    /// The sensor's own tgid: its calls are never reported.
    pub own_tgid: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<TlsConfig>() == 16);

/// Only processes marked [`PROCESS_INCLUDED`] are reported.
pub const TLS_CONFIG_ALLOW_LIST: u32 = 1;
/// Plaintext capture is on (for processes marked [`PROCESS_PLAINTEXT`]
/// when [`TLS_CONFIG_PLAINTEXT_SCOPED`] is set, else for all).
pub const TLS_CONFIG_PLAINTEXT: u32 = 2;
/// Plaintext only from processes marked [`PROCESS_PLAINTEXT`].
pub const TLS_CONFIG_PLAINTEXT_SCOPED: u32 = 4;

/// Indices into the TLS probes' per-CPU counter array.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsCounter {
    /// Certificates reported.
    Certificates = 0,
    /// Plaintext calls reported.
    PlaintextCalls = 1,
    /// Events lost because the ring buffer was full.
    RingBufferFull = 2,
    /// Certificate or plaintext bytes that did not fit an event.
    Truncated = 3,
    /// Reads of the application's memory that failed.
    ReadFailed = 4,
    /// Calls with no socket: no syscall on the `SSL*` and none on the thread.
    Unbound = 5,
    /// A thread's state or a binding could not be stored (map full).
    MapFull = 6,
    /// Plaintext returns whose entry was not seen.
    ReturnWithoutEntry = 7,
}

impl TlsCounter {
    pub const COUNT: u32 = 8;
    pub const ALL: [TlsCounter; Self::COUNT as usize] = [
        TlsCounter::Certificates,
        TlsCounter::PlaintextCalls,
        TlsCounter::RingBufferFull,
        TlsCounter::Truncated,
        TlsCounter::ReadFailed,
        TlsCounter::Unbound,
        TlsCounter::MapFull,
        TlsCounter::ReturnWithoutEntry,
    ];

    /// Stable name in stats records and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            TlsCounter::Certificates => "tls_probe_certificates",
            TlsCounter::PlaintextCalls => "tls_probe_plaintext_calls",
            TlsCounter::RingBufferFull => "tls_probe_ring_buffer_full",
            TlsCounter::Truncated => "tls_probe_truncated",
            TlsCounter::ReadFailed => "tls_probe_read_failed",
            TlsCounter::Unbound => "tls_probe_unbound",
            TlsCounter::MapFull => "tls_probe_map_full",
            TlsCounter::ReturnWithoutEntry => "tls_probe_return_without_entry",
        }
    }
}
