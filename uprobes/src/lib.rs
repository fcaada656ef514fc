//! TLS library discovery for plaintext uprobes.
//!
//! Not implemented yet: this crate will find `SSL_read`/`SSL_write` (and the
//! `_ex` variants) in shared libraries and statically linked binaries with
//! goblin, reached through `/proc/PID/root` and cached by build-id, and
//! produce an attach plan testable without root. It exists now so the
//! workspace has its final shape; see ARCHITECTURE.md.
#![forbid(unsafe_code)]
