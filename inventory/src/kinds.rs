//! The kinds of values the inventory counts, as stored in its `kind` and
//! `side` columns.

use cipherlens_record::alert::Severity;

/// What the sessions between one client workload and one server endpoint
/// used (`connection_usage.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageKind {
    /// Negotiated protocol version (`TLS 1.3`), with its code point.
    Version,
    /// Negotiated cipher suite (IANA name), with its code point.
    CipherSuite,
    /// Negotiated key-exchange group (IANA name), with its code point; a
    /// TLS 1.2 finite-field DH prime without a name is `dh_prime_<bits>`.
    Group,
    /// ALPN protocol the server chose.
    Alpn,
    /// JA3 of the ClientHello.
    Ja3,
    /// JA4 of the ClientHello.
    Ja4,
    /// JA3S of the ServerHello.
    Ja3s,
}

impl UsageKind {
    pub const ALL: [UsageKind; 7] = [
        UsageKind::Version,
        UsageKind::CipherSuite,
        UsageKind::Group,
        UsageKind::Alpn,
        UsageKind::Ja3,
        UsageKind::Ja4,
        UsageKind::Ja3s,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Version => "version",
            UsageKind::CipherSuite => "cipher_suite",
            UsageKind::Group => "group",
            UsageKind::Alpn => "alpn",
            UsageKind::Ja3 => "ja3",
            UsageKind::Ja4 => "ja4",
            UsageKind::Ja3s => "ja3s",
        }
    }

    pub fn parse(text: &str) -> Option<UsageKind> {
        UsageKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// What a client workload offered in its ClientHellos
/// (`workload_offers.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OfferKind {
    /// supported_versions (or the legacy version when there is none).
    Version,
    CipherSuite,
    /// supported_groups.
    Group,
    /// Groups the client sent a key share for.
    KeyShare,
    /// signature_algorithms.
    SignatureAlgorithm,
    Alpn,
}

impl OfferKind {
    pub const ALL: [OfferKind; 6] = [
        OfferKind::Version,
        OfferKind::CipherSuite,
        OfferKind::Group,
        OfferKind::KeyShare,
        OfferKind::SignatureAlgorithm,
        OfferKind::Alpn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::Version => "version",
            OfferKind::CipherSuite => "cipher_suite",
            OfferKind::Group => "group",
            OfferKind::KeyShare => "key_share",
            OfferKind::SignatureAlgorithm => "signature_algorithm",
            OfferKind::Alpn => "alpn",
        }
    }

    pub fn parse(text: &str) -> Option<OfferKind> {
        OfferKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// Which peer sent a certificate chain (`connection_certificates.side`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Server,
    Client,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }

    pub fn parse(text: &str) -> Option<Side> {
        match text {
            "server" => Some(Side::Server),
            "client" => Some(Side::Client),
            _ => None,
        }
    }
}

/// The severity of a stored finding.
pub(crate) fn parse_severity(text: &str) -> Option<Severity> {
    Severity::ALL
        .into_iter()
        .find(|severity| severity.as_str() == text)
}
