//! Kernel/user shared types for cipherlens.
//!
//! Everything here crosses the kernel boundary as raw bytes, so every type is
//! `#[repr(C)]`, uses no `bool`, has explicit padding, and has its size
//! asserted at compile time: a layout change on one side that the other side
//! does not see fails the build instead of corrupting events.
#![no_std]
#![forbid(unsafe_code)]

/// Indices into the kernel's per-CPU counter array.
///
/// The user side sums the per-CPU values and reports them by name; see
/// [`Counter::name`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Packets the classifiers looked at.
    PacketsSeen = 0,
    /// Packets whose TCP payload starts with a TLS handshake record header.
    TlsHandshakeRecords = 1,
    /// Packets that look like a QUIC long-header Initial.
    QuicInitials = 2,
}

impl Counter {
    /// Number of counters; the size of the kernel's counter array.
    pub const COUNT: u32 = 3;

    /// Every counter, in index order.
    pub const ALL: [Counter; Self::COUNT as usize] = [
        Counter::PacketsSeen,
        Counter::TlsHandshakeRecords,
        Counter::QuicInitials,
    ];

    /// Stable name used in stats records and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::PacketsSeen => "packets_seen",
            Counter::TlsHandshakeRecords => "tls_handshake_records",
            Counter::QuicInitials => "quic_initials",
        }
    }
}

/// Name of the per-CPU counter array in the eBPF object.
pub const COUNTERS_MAP: &str = "CIPHERLENS_COUNTERS";
/// Names of the TC programs in the eBPF object.
pub const TC_INGRESS_PROGRAM: &str = "cipherlens_tc_ingress";
/// See [`TC_INGRESS_PROGRAM`].
pub const TC_EGRESS_PROGRAM: &str = "cipherlens_tc_egress";

/// TLS record content type of a handshake record (RFC 8446 section 5.1).
pub const TLS_CONTENT_HANDSHAKE: u8 = 22;
/// Major version byte of every TLS/SSLv3 record header.
pub const TLS_MAJOR_VERSION: u8 = 3;
