//! The v3 extensions an inventory reports: subjectAltName, basicConstraints,
//! keyUsage, extKeyUsage and the two key identifiers.
//!
//! A summary that silently drops a malformed or repeated extension would
//! misreport the certificate, so for these six extensions a decoding error
//! or a duplicate (forbidden by RFC 5280 4.2) rejects the certificate.
//! Every other extension is ignored.

use std::net::{Ipv4Addr, Ipv6Addr};

use tracing::debug;
use x509_parser::asn1_rs::{FromDer, Oid};
use x509_parser::extensions::{
    GeneralName, KeyUsage, ParsedExtension, SubjectAlternativeName, X509Extension,
};

use super::algorithms::extended_key_usage_name;
use super::error::CertificateError;
use super::{BasicConstraints, SubjectAltNames};

/// What the reported extensions say, each `None` when absent.
#[derive(Debug, Default)]
pub(crate) struct ReportedExtensions {
    pub(crate) subject_alt_names: Option<SubjectAltNames>,
    pub(crate) basic_constraints: Option<BasicConstraints>,
    pub(crate) key_usage: Option<Vec<String>>,
    pub(crate) extended_key_usage: Option<Vec<String>>,
    pub(crate) subject_key_identifier: Option<String>,
    pub(crate) authority_key_identifier: Option<String>,
}

/// One reported extension: its name for messages and its OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ExtensionKind {
    name: &'static str,
    oid: &'static str,
}

const SUBJECT_ALT_NAME: ExtensionKind = ExtensionKind {
    name: "subjectAltName",
    oid: "2.5.29.17",
};
const BASIC_CONSTRAINTS: ExtensionKind = ExtensionKind {
    name: "basicConstraints",
    oid: "2.5.29.19",
};
const KEY_USAGE: ExtensionKind = ExtensionKind {
    name: "keyUsage",
    oid: "2.5.29.15",
};
const EXTENDED_KEY_USAGE: ExtensionKind = ExtensionKind {
    name: "extKeyUsage",
    oid: "2.5.29.37",
};
const SUBJECT_KEY_IDENTIFIER: ExtensionKind = ExtensionKind {
    name: "subjectKeyIdentifier",
    oid: "2.5.29.14",
};
const AUTHORITY_KEY_IDENTIFIER: ExtensionKind = ExtensionKind {
    name: "authorityKeyIdentifier",
    oid: "2.5.29.35",
};

const REPORTED: [ExtensionKind; 6] = [
    SUBJECT_ALT_NAME,
    BASIC_CONSTRAINTS,
    KEY_USAGE,
    EXTENDED_KEY_USAGE,
    SUBJECT_KEY_IDENTIFIER,
    AUTHORITY_KEY_IDENTIFIER,
];

pub(crate) fn read_reported_extensions(
    extensions: &[X509Extension<'_>],
) -> Result<ReportedExtensions, CertificateError> {
    let mut reported = ReportedExtensions::default();
    let mut seen: Vec<ExtensionKind> = Vec::with_capacity(REPORTED.len());
    for extension in extensions {
        let oid = extension.oid.to_id_string();
        let Some(kind) = REPORTED.iter().copied().find(|kind| kind.oid == oid) else {
            continue;
        };
        if seen.contains(&kind) {
            return Err(CertificateError::DuplicateExtension {
                name: kind.name,
                oid: kind.oid,
            });
        }
        seen.push(kind);
        read_one(kind, extension, &mut reported)?;
    }
    Ok(reported)
}

fn read_one(
    kind: ExtensionKind,
    extension: &X509Extension<'_>,
    reported: &mut ReportedExtensions,
) -> Result<(), CertificateError> {
    let malformed = || {
        debug!(extension = kind.name, parsed = ?extension.parsed_extension(), "extension does not decode");
        CertificateError::MalformedExtension {
            name: kind.name,
            oid: kind.oid,
        }
    };
    match (kind, extension.parsed_extension()) {
        (SUBJECT_ALT_NAME, ParsedExtension::SubjectAlternativeName(names)) => {
            let names = subject_alt_names(names);
            reported.subject_alt_names = (!names.is_empty()).then_some(names);
        }
        (BASIC_CONSTRAINTS, ParsedExtension::BasicConstraints(constraints)) => {
            reported.basic_constraints = Some(BasicConstraints {
                ca: constraints.ca,
                path_len: constraints.path_len_constraint,
            });
        }
        (KEY_USAGE, ParsedExtension::KeyUsage(usage)) => {
            reported.key_usage = Some(key_usage_names(usage));
        }
        (EXTENDED_KEY_USAGE, ParsedExtension::ExtendedKeyUsage(_)) => {
            reported.extended_key_usage =
                Some(extended_key_usage_in_order(extension.value).ok_or_else(malformed)?);
        }
        (SUBJECT_KEY_IDENTIFIER, ParsedExtension::SubjectKeyIdentifier(key_id)) => {
            reported.subject_key_identifier = Some(hex::encode(key_id.0));
        }
        (AUTHORITY_KEY_IDENTIFIER, ParsedExtension::AuthorityKeyIdentifier(authority)) => {
            reported.authority_key_identifier = authority
                .key_identifier
                .as_ref()
                .map(|key_id| hex::encode(key_id.0));
        }
        _ => return Err(malformed()),
    }
    Ok(())
}

fn subject_alt_names(extension: &SubjectAlternativeName<'_>) -> SubjectAltNames {
    let mut names = SubjectAltNames::default();
    for name in &extension.general_names {
        match name {
            GeneralName::DNSName(dns) => names.dns.push((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => names.ip.push(ip_address_text(bytes)),
            GeneralName::URI(uri) => names.uri.push((*uri).to_owned()),
            GeneralName::RFC822Name(email) => names.email.push((*email).to_owned()),
            // Not valid UTF-8: keep the entry visible rather than drop it.
            GeneralName::Invalid(tag, bytes) => {
                debug!(
                    tag = tag.0,
                    "subjectAltName entry is not valid text, keeping it lossily"
                );
                let text = String::from_utf8_lossy(bytes).into_owned();
                match tag.0 {
                    1 => names.email.push(text),
                    2 => names.dns.push(text),
                    6 => names.uri.push(text),
                    _ => {}
                }
            }
            other => debug!(name = ?other, "subjectAltName entry of an unreported kind"),
        }
    }
    names
}

/// Dotted IPv4, RFC 5952 IPv6, or the hex of a value of any other length.
fn ip_address_text(bytes: &[u8]) -> String {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(octets).to_string()
    } else if let Ok(octets) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(octets).to_string()
    } else {
        hex::encode(bytes)
    }
}

/// RFC 5280 4.2.1.3 names of the bits that are set, in bit order.
fn key_usage_names(usage: &KeyUsage) -> Vec<String> {
    let bits = [
        (usage.digital_signature(), "digitalSignature"),
        (usage.non_repudiation(), "nonRepudiation"),
        (usage.key_encipherment(), "keyEncipherment"),
        (usage.data_encipherment(), "dataEncipherment"),
        (usage.key_agreement(), "keyAgreement"),
        (usage.key_cert_sign(), "keyCertSign"),
        (usage.crl_sign(), "cRLSign"),
        (usage.encipher_only(), "encipherOnly"),
        (usage.decipher_only(), "decipherOnly"),
    ];
    bits.iter()
        .filter(|(is_set, _)| *is_set)
        .map(|(_, name)| (*name).to_owned())
        .collect()
}

/// The purposes in certificate order (x509-parser's own result is a set of
/// flags, which loses the order). `None` when the value does not decode.
fn extended_key_usage_in_order(value: &[u8]) -> Option<Vec<String>> {
    let (rest, purposes) = <Vec<Oid<'_>>>::from_der(value).ok()?;
    if !rest.is_empty() {
        return None;
    }
    Some(
        purposes
            .iter()
            .map(|purpose| {
                let oid = purpose.to_id_string();
                extended_key_usage_name(&oid).map_or(oid, str::to_owned)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_render_by_length() {
        assert_eq!(ip_address_text(&[192, 0, 2, 1]), "192.0.2.1");
        let mut v6 = [0u8; 16];
        v6[..2].copy_from_slice(&[0x20, 0x01]);
        v6[2..4].copy_from_slice(&[0x0d, 0xb8]);
        v6[15] = 1;
        assert_eq!(ip_address_text(&v6), "2001:db8::1");
        assert_eq!(
            ip_address_text(&[10, 0, 0, 0, 255, 0, 0, 0]),
            "0a000000ff000000"
        );
    }

    #[test]
    fn extended_key_usage_keeps_order_and_unknown_oids() {
        // SEQUENCE { clientAuth, 1.2.3.4, serverAuth }
        let der = [
            0x30, 0x19, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02, 0x06, 0x03,
            0x2a, 0x03, 0x04, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01,
        ];
        assert_eq!(
            extended_key_usage_in_order(&der),
            Some(vec![
                "clientAuth".to_owned(),
                "1.2.3.4".to_owned(),
                "serverAuth".to_owned()
            ])
        );
        assert_eq!(extended_key_usage_in_order(&der[..10]), None);
    }
}
