//! Does a certificate name cover the server name the client asked for?
//! RFC 6125 section 6.4, for `tls.sni.mismatch`.
//!
//! - Names compare as ASCII case-insensitive (6.4.1); one trailing dot is
//!   ignored on either side. Internationalized names are compared in their
//!   A-label form as the certificate and SNI carry them.
//! - A wildcard is honoured only as the whole left-most label (`*.a.b`),
//!   where it matches exactly one non-empty label: `*.example.com` covers
//!   `www.example.com`, not `example.com` nor `a.b.example.com` (6.4.3).
//! - Partial-label wildcards (`f*.example.com`, `*x.example.com`) never
//!   match: RFC 6125 lets a client accept them but advises against it, RFC
//!   9525 (its successor) forbids them, and the CA/Browser Forum does not
//!   allow them in public certificates.
//! - A wildcard needs at least two labels after it (`*.com` covers
//!   nothing), so a wildcard never spans a whole top-level domain.
//! - A name that is an IP address is compared with the certificate's
//!   iPAddress entries (RFC 6066 forbids IP literals in SNI, but clients
//!   send them).

use std::net::IpAddr;

/// True when the DNS name `pattern` from a certificate covers `host`.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.contains('*') {
        return false;
    }
    match pattern.strip_prefix("*.") {
        None => !pattern.contains('*') && pattern.eq_ignore_ascii_case(host),
        Some(base) => {
            if base.contains('*')
                || base.split('.').count() < 2
                || base.split('.').any(str::is_empty)
            {
                return false;
            }
            match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest.eq_ignore_ascii_case(base),
                None => false,
            }
        }
    }
}

/// True when `host` is an IP address equal to one of `addresses` (as the
/// record writes iPAddress entries: dotted IPv4, RFC 5952 IPv6).
pub fn ip_matches<'a>(host: &str, addresses: impl IntoIterator<Item = &'a String>) -> bool {
    let Ok(wanted) = host.parse::<IpAddr>() else {
        return false;
    };
    addresses
        .into_iter()
        .any(|address| address.parse::<IpAddr>() == Ok(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_ignore_case_and_one_trailing_dot() {
        assert!(dns_name_matches("www.example.com", "www.example.com"));
        assert!(dns_name_matches("WWW.Example.COM", "www.example.com"));
        assert!(dns_name_matches("www.example.com.", "www.example.com"));
        assert!(dns_name_matches("www.example.com", "www.example.com."));
        assert!(!dns_name_matches("www.example.com", "example.com"));
        assert!(!dns_name_matches("example.com", "www.example.com"));
        assert!(!dns_name_matches("", ""));
    }

    /// The examples of RFC 6125 section 6.4.3 and of RFC 9525 section 6.3.
    #[test]
    fn wildcard_only_as_the_whole_left_most_label() {
        assert!(dns_name_matches("*.example.com", "foo.example.com"));
        assert!(dns_name_matches("*.Example.com", "FOO.example.COM"));
        assert!(!dns_name_matches("*.example.com", "bar.foo.example.com"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", ".example.com"));
        // Partial-label wildcards: allowed as a MAY by RFC 6125, refused here.
        assert!(!dns_name_matches("baz*.example.net", "baz1.example.net"));
        assert!(!dns_name_matches("*baz.example.net", "foobaz.example.net"));
        assert!(!dns_name_matches("b*z.example.net", "buuz.example.net"));
        // Not the left-most label, or more than one.
        assert!(!dns_name_matches(
            "www.*.example.com",
            "www.foo.example.com"
        ));
        assert!(!dns_name_matches("*.*.example.com", "a.b.example.com"));
        // Over a top-level domain, or alone.
        assert!(!dns_name_matches("*.com", "example.com"));
        assert!(!dns_name_matches("*", "localhost"));
        // A literal asterisk in the requested name matches nothing.
        assert!(!dns_name_matches("*.example.com", "*.example.com"));
    }

    #[test]
    fn ip_literals() {
        let addresses = vec!["192.0.2.1".to_owned(), "2001:db8::1".to_owned()];
        assert!(ip_matches("192.0.2.1", &addresses));
        assert!(ip_matches("2001:0db8:0:0:0:0:0:1", &addresses));
        assert!(!ip_matches("192.0.2.2", &addresses));
        assert!(!ip_matches("example.com", &addresses));
    }
}
