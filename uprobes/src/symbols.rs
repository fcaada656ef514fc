//! The symbols discovery looks for: functions to probe, and markers that
//! tell which TLS library (and which major version) a file carries.
//!
//! Names are the libraries' public API, the same in OpenSSL 1.1, 3.x and
//! BoringSSL unless said otherwise, so no per-version struct offsets are
//! needed to find them.

/// A function uprobes may attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsFunction {
    SslRead,
    SslWrite,
    /// OpenSSL 1.1.1+ (Python's `ssl` uses the `_ex` variants).
    SslReadEx,
    SslWriteEx,
    SslDoHandshake,
    SslConnect,
    SslAccept,
    SslSetFd,
    SslFree,
    /// libcrypto: decodes each certificate the peer sends (and CA files).
    D2iX509,
    /// BoringSSL's libcrypto: its libssl keeps the peer's chain as
    /// `CRYPTO_BUFFER`s made from the received bytes.
    CryptoBufferNewFromCbs,
}

impl TlsFunction {
    pub const ALL: [TlsFunction; 11] = [
        TlsFunction::SslRead,
        TlsFunction::SslWrite,
        TlsFunction::SslReadEx,
        TlsFunction::SslWriteEx,
        TlsFunction::SslDoHandshake,
        TlsFunction::SslConnect,
        TlsFunction::SslAccept,
        TlsFunction::SslSetFd,
        TlsFunction::SslFree,
        TlsFunction::D2iX509,
        TlsFunction::CryptoBufferNewFromCbs,
    ];

    /// The C symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            TlsFunction::SslRead => "SSL_read",
            TlsFunction::SslWrite => "SSL_write",
            TlsFunction::SslReadEx => "SSL_read_ex",
            TlsFunction::SslWriteEx => "SSL_write_ex",
            TlsFunction::SslDoHandshake => "SSL_do_handshake",
            TlsFunction::SslConnect => "SSL_connect",
            TlsFunction::SslAccept => "SSL_accept",
            TlsFunction::SslSetFd => "SSL_set_fd",
            TlsFunction::SslFree => "SSL_free",
            TlsFunction::D2iX509 => "d2i_X509",
            TlsFunction::CryptoBufferNewFromCbs => "CRYPTO_BUFFER_new_from_CBS",
        }
    }

    /// Whether it lives in libssl (else libcrypto).
    pub fn in_libssl(self) -> bool {
        !self.decodes_certificates()
    }

    /// Whether it decodes certificates (libcrypto).
    pub fn decodes_certificates(self) -> bool {
        matches!(
            self,
            TlsFunction::D2iX509 | TlsFunction::CryptoBufferNewFromCbs
        )
    }
}

/// Symbols whose presence tells the library apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marker {
    /// BoringSSL only.
    BoringSslSelfTest,
    /// OpenSSL 3.0+ (libcrypto).
    OpenSslVersionMajor,
    /// OpenSSL 3.0+ (libssl).
    SslGet1PeerCertificate,
    /// OpenSSL (any), LibreSSL and BoringSSL: `OpenSSL_version`.
    OpenSslVersion,
    /// OpenSSL 1.1.0+ (libssl).
    OpenSslInitSsl,
    /// LibreSSL only.
    LibreSslVersion,
    /// Go runtime: a Go binary's TLS is crypto/tls, not OpenSSL.
    GoRuntimeMain,
    /// rustls compiled in with its symbols.
    Rustls,
}

/// Whether a symbol string table may name anything [`classify`] knows.
/// Every name it knows contains one of these, so a table without them is
/// skipped without parsing its symbols: most files on a node (libc,
/// compilers, databases) have none, and a large table (tens of MB) costs
/// a search instead of a parse.
pub(crate) fn may_name_known(strings: &[u8]) -> bool {
    const NEEDLES: [&str; 7] = [
        "SSL_",
        "SSLeay",
        "d2i_X509",
        "CRYPTO_BUFFER_new_from_CBS",
        "_dl_debug_state",
        "runtime.main",
        "rustls",
    ];
    NEEDLES
        .iter()
        .any(|needle| memchr::memmem::find(strings, needle.as_bytes()).is_some())
}

/// What a symbol name is to discovery, if anything.
pub(crate) enum Known {
    Function(TlsFunction),
    Marker(Marker),
    /// glibc's dynamic loader's debugger hook, `_dl_debug_state`: called
    /// after libraries are mapped or unmapped.
    LoaderHook,
}

/// Whether a function belongs to libssl's code (as opposed to
/// libcrypto's), by OpenSSL's and BoringSSL's naming: the public `SSL_`
/// API and the internal `ssl_`, `ssl3_`, `tls_`, `tls1_`, `tls13_`,
/// `dtls1_` and `ossl_statem_` functions.
pub(crate) fn is_libssl_code(name: &str) -> bool {
    [
        "SSL_",
        "ssl_",
        "ssl3_",
        "tls_",
        "tls1_",
        "tls13_",
        "dtls1_",
        "ossl_statem_",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

/// Matches one symbol name.
pub(crate) fn classify(name: &str) -> Option<Known> {
    if let Some(function) = TlsFunction::ALL.iter().find(|f| f.symbol() == name) {
        return Some(Known::Function(*function));
    }
    if name == "_dl_debug_state" {
        return Some(Known::LoaderHook);
    }
    let marker = match name {
        "BORINGSSL_self_test" => Marker::BoringSslSelfTest,
        "OPENSSL_version_major" => Marker::OpenSslVersionMajor,
        "SSL_get1_peer_certificate" => Marker::SslGet1PeerCertificate,
        "OpenSSL_version" => Marker::OpenSslVersion,
        "OPENSSL_init_ssl" => Marker::OpenSslInitSsl,
        "LIBRESSL_VERSION_TEXT" | "SSLeay_version_libressl" => Marker::LibreSslVersion,
        "runtime.main" => Marker::GoRuntimeMain,
        _ if name.starts_with("_ZN6rustls")
            || name.starts_with("_RNvNtCs") && name.contains("rustls") =>
        {
            Marker::Rustls
        }
        _ => return None,
    };
    Some(Known::Marker(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every function and marker name classify() knows passes the
    /// pre-filter, so skipping a table can never lose one.
    #[test]
    fn the_prefilter_lets_every_known_name_through() {
        let mut names: Vec<&str> = TlsFunction::ALL.iter().map(|f| f.symbol()).collect();
        names.extend([
            "BORINGSSL_self_test",
            "OPENSSL_version_major",
            "SSL_get1_peer_certificate",
            "OpenSSL_version",
            "OPENSSL_init_ssl",
            "LIBRESSL_VERSION_TEXT",
            "SSLeay_version_libressl",
            "runtime.main",
            "_ZN6rustls6client3Foo",
            "_RNvNtCs123_6rustls4conn",
            "_dl_debug_state",
        ]);
        for name in names {
            assert!(classify(name).is_some(), "{name} is not known");
            assert!(
                may_name_known(format!("\0libc\0{name}\0").as_bytes()),
                "{name}"
            );
        }
        assert!(!may_name_known(b"\0malloc\0free\0memcpy\0"));
    }
}
