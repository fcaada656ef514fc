//! JA4S (server) and JA4X (certificate) fingerprints.
//!
//! LICENCE: JA4S and JA4X are part of JA4+ and licensed by FoxIO under the
//! FoxIO License 1.1, which does not permit every commercial use. This module
//! is only compiled with the non-default `ja4plus` feature; enabling it means
//! accepting that licence. JA4 itself (see [`super::ja4`]) is BSD-3-Clause.
//!
//! JA4S = `{t|q}{version}{extension count}{alpn}_{cipher}_{sha256_12(extensions in order)}`.
//! JA4X = `{sha256_12(issuer RDN OIDs)}_{sha256_12(subject RDN OIDs)}_{sha256_12(extension OIDs)}`,
//! OIDs as lowercase hex of their DER content bytes, comma-separated, in certificate order.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::ja4::{alpn_code, version_code};
use super::{Transport, hex_list, sha256_12};
use crate::tls::ServerHello;

const EMPTY_HASH: &str = "000000000000";

/// JA4S and its raw form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4s {
    pub ja4s: String,
    pub ja4s_r: String,
}

/// JA4S of a ServerHello.
pub fn ja4s(hello: &ServerHello, transport: Transport) -> Ja4s {
    let extensions: Vec<u16> = hello.extensions.iter().map(|e| e.extension_type).collect();
    let prefix = format!(
        "{}{}{:02}{}_{:04x}",
        transport.ja4_prefix(),
        String::from_utf8_lossy(&version_code(hello.negotiated_version())),
        extensions.len().min(99),
        String::from_utf8_lossy(&alpn_code(hello.alpn.as_deref())),
        hello.cipher_suite,
    );
    let list = hex_list(&extensions);
    let hash = if extensions.is_empty() {
        EMPTY_HASH.to_string()
    } else {
        sha256_12(&list)
    };
    Ja4s {
        ja4s: format!("{prefix}_{hash}"),
        ja4s_r: format!("{prefix}_{list}"),
    }
}

/// JA4X of a DER certificate; `None` when it does not parse.
pub fn ja4x(der: &[u8]) -> Option<String> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let tbs = &certificate.tbs_certificate;
    let name_oids = |name: &x509_parser::x509::X509Name<'_>| -> Vec<String> {
        name.iter_attributes()
            .map(|attribute| hex::encode(attribute.attr_type().as_bytes()))
            .collect()
    };
    let extension_oids: Vec<String> = tbs
        .extensions()
        .iter()
        .map(|ext| hex::encode(ext.oid.as_bytes()))
        .collect();
    let part = |oids: Vec<String>| {
        if oids.is_empty() {
            EMPTY_HASH.to_string()
        } else {
            sha256_12(&oids.join(","))
        }
    };
    Some(format!(
        "{}_{}_{}",
        part(name_oids(&tbs.issuer)),
        part(name_oids(&tbs.subject)),
        part(extension_oids)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::extensions::RawExtension;

    #[test]
    fn ja4s_layout() {
        // ServerHello: TLS 1.3 via supported_versions, ALPN h2, two extensions.
        let hello = ServerHello {
            legacy_version: 0x0303,
            cipher_suite: 0x1301,
            selected_version: Some(0x0304),
            alpn: Some(b"h2".to_vec()),
            extensions: [0x002b, 0x0033]
                .into_iter()
                .map(|extension_type| RawExtension {
                    extension_type,
                    length: 0,
                })
                .collect(),
            ..ServerHello::default()
        };
        let fingerprint = ja4s(&hello, Transport::Tcp);
        assert_eq!(fingerprint.ja4s_r, "t1302h2_1301_002b,0033");
        assert_eq!(
            fingerprint.ja4s,
            format!("t1302h2_1301_{}", sha256_12("002b,0033"))
        );
    }
}
