//! Policy exceptions: rules that do not apply to some sessions, chosen by
//! server name glob, server endpoint and Kubernetes namespace.
//!
//! Within one exception the kinds of criteria combine with AND and the
//! entries of one kind with OR: `sni = ["*.corp"]` with
//! `namespaces = ["legacy"]` exempts sessions to a `*.corp` name from or to
//! a pod in namespace `legacy`. A namespace matches when either endpoint's
//! pod is in it. The exceptions are only looked at when a rule fired.

use std::net::IpAddr;
use std::str::FromStr;

use cipherlens_record::SessionRecord;

use crate::glob::Glob;

/// `address[:port]` of a server: `10.0.0.5`, `10.0.0.5:8443`, `2001:db8::5`,
/// `[2001:db8::5]:8443`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerPattern {
    pub address: IpAddr,
    /// Any port when `None`.
    pub port: Option<u16>,
}

/// Why a server endpoint is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a server endpoint: expected an IP address with an optional port (10.0.0.5, 10.0.0.5:443, 2001:db8::5, [2001:db8::5]:443)"
)]
pub struct ServerPatternError;

impl FromStr for ServerPattern {
    type Err = ServerPatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(address) = text.parse::<IpAddr>() {
            return Ok(ServerPattern {
                address,
                port: None,
            });
        }
        let (address, port) = if let Some(bracketed) = text.strip_prefix('[') {
            let (address, rest) = bracketed.split_once(']').ok_or(ServerPatternError)?;
            let port = match rest {
                "" => None,
                _ => Some(rest.strip_prefix(':').ok_or(ServerPatternError)?),
            };
            let address: std::net::Ipv6Addr = address.parse().map_err(|_| ServerPatternError)?;
            (IpAddr::V6(address), port)
        } else {
            let (address, port) = text.rsplit_once(':').ok_or(ServerPatternError)?;
            let address: std::net::Ipv4Addr = address.parse().map_err(|_| ServerPatternError)?;
            (IpAddr::V4(address), Some(port))
        };
        let port = match port {
            None => None,
            Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                Some(port.parse().map_err(|_| ServerPatternError)?)
            }
            Some(_) => return Err(ServerPatternError),
        };
        Ok(ServerPattern { address, port })
    }
}

/// One compiled exception.
#[derive(Debug, Clone)]
pub(crate) struct Exception {
    /// Rule bits ([`crate::RuleId`]) it exempts.
    pub rules: u32,
    pub sni: Vec<Glob>,
    pub servers: Vec<ServerPattern>,
    pub namespaces: Vec<Box<str>>,
}

impl Exception {
    fn applies_to(&self, record: &SessionRecord, server_address: Option<IpAddr>) -> bool {
        let sni_ok = self.sni.is_empty()
            || record
                .tls
                .client
                .server_name
                .as_deref()
                .is_some_and(|name| self.sni.iter().any(|glob| glob.matches(name)));
        let server_ok = self.servers.is_empty()
            || server_address.is_some_and(|address| {
                self.servers.iter().any(|pattern| {
                    pattern.address == address
                        && pattern.port.is_none_or(|port| port == record.server.port)
                })
            });
        let namespace_ok = self.namespaces.is_empty()
            || [&record.client, &record.server]
                .into_iter()
                .any(|endpoint| {
                    endpoint
                        .attribution
                        .k8s
                        .as_ref()
                        .and_then(|k8s| k8s.namespace.as_ref())
                        .is_some_and(|namespace| {
                            self.namespaces
                                .iter()
                                .any(|wanted| **wanted == *namespace.name)
                        })
                });
        sni_ok && server_ok && namespace_ok
    }
}

/// Every exception of a policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exceptions {
    pub list: Vec<Exception>,
}

impl Exceptions {
    /// Bits of the rules that do not apply to `record`.
    pub fn exempt_rules(&self, record: &SessionRecord) -> u32 {
        if self.list.is_empty() {
            return 0;
        }
        let server_address = record.server.address.parse::<IpAddr>().ok();
        self.list
            .iter()
            .filter(|exception| exception.applies_to(record, server_address))
            .fold(0, |rules, exception| rules | exception.rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn server_patterns() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
        let v6: IpAddr = IpAddr::V6("2001:db8::5".parse::<Ipv6Addr>().unwrap());
        let cases = [
            ("10.0.0.5", v4, None),
            ("10.0.0.5:8443", v4, Some(8443)),
            ("2001:db8::5", v6, None),
            ("[2001:db8::5]", v6, None),
            ("[2001:db8::5]:443", v6, Some(443)),
        ];
        for (text, address, port) in cases {
            assert_eq!(text.parse(), Ok(ServerPattern { address, port }), "{text}");
        }
        for text in [
            "",
            "example.com",
            "example.com:443",
            "10.0.0.5:",
            "10.0.0.5:+1",
            "10.0.0.5:65536",
            "[2001:db8::5]443",
            "[10.0.0.5]:443",
            "2001:db8::5:443x",
        ] {
            assert_eq!(
                text.parse::<ServerPattern>(),
                Err(ServerPatternError),
                "{text}"
            );
        }
    }
}
