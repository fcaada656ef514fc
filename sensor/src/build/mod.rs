//! Builds the published records (`cipherlens-record`) from what the
//! pipeline and the kernel found. Runs on the record writer thread.
//!
//! - [`session`]: a finished TLS/QUIC session -> `SessionRecord`
//!   (fingerprints, IANA names, certificate summaries).
//! - [`cnflow`]: one flow's kernel counters -> `CnFlowRecord`.
//! - [`certificate_cache`]: certificate summaries cached by DER;
//!   [`fingerprint_cache`]: fingerprints cached by hello fields; both
//!   bounded by [`generations`].

pub mod certificate_cache;
pub mod cnflow;
pub mod fingerprint_cache;
pub mod generations;
pub mod session;

pub use certificate_cache::CertificateCache;
pub use cnflow::cnflow_record;
pub use fingerprint_cache::FingerprintCache;
pub use session::{build_session_record, session_record};

/// What building session records keeps from one record to the next.
#[derive(Debug, Default)]
pub struct BuildCaches {
    pub certificates: CertificateCache,
    pub fingerprints: FingerprintCache,
}

/// The attribution of an endpoint nothing is known about yet (remote, or
/// until the enrich step): one shared value rather than an allocation per
/// endpoint of every record.
pub fn unattributed() -> std::sync::Arc<cipherlens_record::attribution::EndpointAttribution> {
    static EMPTY: std::sync::LazyLock<
        std::sync::Arc<cipherlens_record::attribution::EndpointAttribution>,
    > = std::sync::LazyLock::new(Default::default);
    std::sync::Arc::clone(&EMPTY)
}

/// An address as records write it (`Display`: dotted IPv4, RFC 5952
/// IPv6). IPv4, the common case, is written without the formatting
/// machinery, which was a tenth of building a record's fields.
pub fn address_text(address: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = address else {
        return address.to_string();
    };
    let mut text = String::with_capacity(15);
    let mut digits = itoa::Buffer::new();
    for (at, octet) in v4.octets().into_iter().enumerate() {
        if at > 0 {
            text.push('.');
        }
        text.push_str(digits.format(octet));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut octets = 0x0102_0304u32;
        for _ in 0..10_000 {
            octets = octets.wrapping_mul(0x9e37_79b9).wrapping_add(0x7f4a_7c15);
            let address = IpAddr::V4(Ipv4Addr::from(octets));
            assert_eq!(address_text(address), address.to_string());
        }
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "::1",
            "2001:db8::ff00:42:8329",
            "::ffff:10.0.0.1",
        ] {
            let address: IpAddr = text.parse().expect("address");
            assert_eq!(address_text(address), address.to_string(), "{text}");
        }
    }
}
