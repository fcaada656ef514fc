//! Which TLS library an ELF image is (or carries), and whether it can be
//! hooked.

use crate::elf::{ElfImage, Segment};
use crate::symbols::{Marker, TlsFunction};

/// The TLS library family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavour {
    OpenSsl3,
    OpenSsl11,
    BoringSsl,
    LibreSsl,
    /// OpenSSL's API without a way to tell the version (1.0 and older
    /// lack `OPENSSL_init_ssl`).
    OpenSslUnknown,
}

impl Flavour {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::OpenSsl3 => "openssl-3",
            Flavour::OpenSsl11 => "openssl-1.1",
            Flavour::BoringSsl => "boringssl",
            Flavour::LibreSsl => "libressl",
            Flavour::OpenSslUnknown => "openssl-unknown",
        }
    }
}

/// What part of the library a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// libssl: the `SSL_*` functions.
    Ssl,
    /// libcrypto: `d2i_X509`.
    Crypto,
    /// Both, linked into an executable (node) or one shared object.
    Static,
}

/// Why a file with TLS in it is not hooked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotHooked {
    /// A Go program: its TLS is crypto/tls.
    Go,
    /// rustls: no C API to probe.
    Rustls,
    /// The library's text is there but its functions have no symbols.
    StrippedStatic,
    /// LibreSSL or OpenSSL older than 1.1: not supported.
    UnsupportedVersion,
}

impl NotHooked {
    pub fn as_str(self) -> &'static str {
        match self {
            NotHooked::Go => "go_crypto_tls",
            NotHooked::Rustls => "rustls",
            NotHooked::StrippedStatic => "static_without_symbols",
            NotHooked::UnsupportedVersion => "unsupported_version",
        }
    }
}

/// What discovery concludes about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No TLS library in it (libc, most executables).
    NotTls,
    /// A TLS library that can be hooked at these functions.
    Hookable(TlsLibrary),
    /// TLS is there but cannot be hooked, and why.
    Unhookable {
        reason: NotHooked,
        version_text: Option<String>,
    },
}

/// A hookable TLS library in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsLibrary {
    pub flavour: Flavour,
    pub role: Role,
    pub version_text: Option<String>,
    /// The functions found, with their file offsets.
    pub functions: Vec<(TlsFunction, u64)>,
    /// File offsets spanned by libssl's own functions (see
    /// [`TlsLibrary::is_handshake_code`]).
    pub libssl_span: Option<(u64, u64)>,
    /// The file's executable load segments.
    pub code: Vec<Segment>,
}

/// Who called a function of a library, judged from the call alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// This file's TLS handshake code (libssl, or its span in a static
    /// executable).
    HandshakeCode,
    /// Other code of this file (libcrypto's loaders, the application).
    OtherCode,
    /// Code of another file: which one, only the process's mappings say.
    OutsideFile,
}

impl TlsLibrary {
    /// Classifies a call to the function at `function_offset` (file
    /// offset) entered at address `function` from return address
    /// `caller`. A file's segments are mapped at fixed distances from one
    /// another, so the caller's place in the file follows from the two
    /// addresses, without the process's mappings.
    pub fn caller(&self, function_offset: u64, function: u64, caller: u64) -> Caller {
        let Some(function_vaddr) = self
            .code
            .iter()
            .find(|s| (s.offset..s.offset.saturating_add(s.file_size)).contains(&function_offset))
            .map(|s| s.vaddr + (function_offset - s.offset))
        else {
            return Caller::OutsideFile;
        };
        // Modular: a caller before the function is a negative distance;
        // one that lands outside every segment is outside the file.
        let caller_vaddr = function_vaddr.wrapping_add(caller.wrapping_sub(function));
        let caller_offset = self
            .code
            .iter()
            .find(|s| (s.vaddr..s.vaddr.saturating_add(s.file_size)).contains(&caller_vaddr))
            .map(|s| s.offset + (caller_vaddr - s.vaddr));
        match caller_offset {
            Some(offset) if self.is_handshake_code(offset) => Caller::HandshakeCode,
            Some(_) => Caller::OtherCode,
            None => Caller::OutsideFile,
        }
    }

    /// Whether code at `file_offset` of this file is the TLS library's
    /// handshake side (libssl), so a certificate it decodes came from a
    /// peer, not from a CA bundle (decoded by libcrypto's PEM and file
    /// loaders).
    pub fn is_handshake_code(&self, file_offset: u64) -> bool {
        match self.role {
            Role::Ssl => true,
            Role::Crypto => false,
            Role::Static => self
                .libssl_span
                .is_some_and(|(start, end)| (start..end).contains(&file_offset)),
        }
    }
}

impl ElfImage {
    /// What this file is to discovery.
    pub fn verdict(&self) -> Verdict {
        if self.go_build_info || self.has(Marker::GoRuntimeMain) {
            return Verdict::Unhookable {
                reason: NotHooked::Go,
                version_text: None,
            };
        }
        let ssl = self.functions.keys().any(|f| f.in_libssl());
        let crypto = self.functions.keys().any(|f| f.decodes_certificates());
        let flavour = self.flavour();
        if !ssl && !crypto {
            if self.has(Marker::Rustls) {
                return Verdict::Unhookable {
                    reason: NotHooked::Rustls,
                    version_text: None,
                };
            }
            // A library's version text, its functions in no symbol table,
            // and no calls into another file's: linked in and stripped.
            if let (Some(text), Some(_), false) = (&self.version_text, flavour, self.imports_tls) {
                return Verdict::Unhookable {
                    reason: NotHooked::StrippedStatic,
                    version_text: Some(text.clone()),
                };
            }
            return Verdict::NotTls;
        }
        let flavour = flavour.unwrap_or(Flavour::OpenSslUnknown);
        if matches!(flavour, Flavour::LibreSsl | Flavour::OpenSslUnknown) {
            return Verdict::Unhookable {
                reason: NotHooked::UnsupportedVersion,
                version_text: self.version_text.clone(),
            };
        }
        let role = match (ssl, crypto) {
            (true, true) => Role::Static,
            (true, false) => Role::Ssl,
            _ => Role::Crypto,
        };
        Verdict::Hookable(TlsLibrary {
            flavour,
            role,
            version_text: self.version_text.clone(),
            functions: self
                .functions
                .iter()
                .map(|(function, symbol)| (*function, symbol.file_offset))
                .collect(),
            libssl_span: self.libssl_span,
            code: self
                .segments
                .iter()
                .filter(|segment| segment.executable)
                .cloned()
                .collect(),
        })
    }

    /// The family, from marker symbols first and the version text second
    /// (BoringSSL's text says "OpenSSL 1.1.1 (compatible; BoringSSL)").
    fn flavour(&self) -> Option<Flavour> {
        let text = self.version_text.as_deref().unwrap_or_default();
        if self.has(Marker::BoringSslSelfTest) || text == "BoringSSL" || text.contains("BoringSSL")
        {
            return Some(Flavour::BoringSsl);
        }
        if self.has(Marker::LibreSslVersion) || text.starts_with("LibreSSL ") {
            return Some(Flavour::LibreSsl);
        }
        if self.has(Marker::OpenSslVersionMajor)
            || self.has(Marker::SslGet1PeerCertificate)
            || text.starts_with("OpenSSL 3.")
        {
            return Some(Flavour::OpenSsl3);
        }
        if text.starts_with("OpenSSL 1.1.") || self.has(Marker::OpenSslInitSsl) {
            return Some(Flavour::OpenSsl11);
        }
        if self.has(Marker::OpenSslVersion) || text.starts_with("OpenSSL ") {
            return Some(Flavour::OpenSslUnknown);
        }
        None
    }
}
