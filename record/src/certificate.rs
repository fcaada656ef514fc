//! One X.509 certificate as session records carry it
//! (`schema/x509-certificate.v1.json`).
//!
//! These types are what the sensor emits, so their serde shape is the
//! contract with crypto-inventory consumers: snake_case names, `None` fields
//! left out rather than written as `null`, and plain strings for names and
//! algorithms so a JSON reader needs no knowledge of ASN.1.

use serde::{Deserialize, Serialize};

/// What a crypto inventory needs to know about one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSummary {
    /// 1, 2 or 3.
    pub version: u8,
    /// The serial's DER integer bytes in uppercase hex without separators,
    /// with the leading `00` sign byte removed (as `openssl x509 -serial`).
    pub serial_number: String,
    /// RFC 4514 string of the subject: last RDN first, `,`-separated,
    /// RFC 4514 escaping (identical to `openssl -nameopt RFC2253,-esc_msb`).
    pub subject: String,
    /// Subject RDNs in DER order, such as `["C=US", "O=GitHub, Inc."]`;
    /// values are unescaped, multi-valued RDNs are joined with `+`.
    pub subject_rdns: Vec<String>,
    /// Value of the last `CN` attribute of the subject, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_common_name: Option<String>,
    /// RFC 4514 string of the issuer (see `subject`).
    pub issuer: String,
    /// Issuer RDNs in DER order (see `subject_rdns`).
    pub issuer_rdns: Vec<String>,
    /// Start of validity, RFC 3339 in UTC: `2017-03-23T00:00:00Z`.
    pub not_before: String,
    /// End of validity, RFC 3339 in UTC.
    pub not_after: String,
    /// Whole days from `not_before` to `not_after`, rounded down (negative
    /// if the dates are inverted).
    pub validity_days: i64,
    /// DNS, IP, URI and email subjectAltName entries; absent when the
    /// certificate has none of those four kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_alt_names: Option<SubjectAltNames>,
    /// Algorithm and strength of the subject public key.
    pub public_key: PublicKeySummary,
    /// Name of the certificate's signature algorithm, such as
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256` or `ML-DSA-65`; the
    /// dotted OID when the algorithm is not known.
    pub signature_algorithm: String,
    /// Dotted OID of the signature algorithm.
    pub signature_algorithm_oid: String,
    /// SHA-256 of the whole DER certificate, lowercase hex.
    pub fingerprint_sha256: String,
    /// SHA-1 of the whole DER certificate, lowercase hex.
    pub fingerprint_sha1: String,
    /// The basicConstraints extension, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_constraints: Option<BasicConstraints>,
    /// keyUsage bits that are set, by their RFC 5280 names
    /// (`digitalSignature`, `keyCertSign`, ...), when the extension is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<Vec<String>>,
    /// extKeyUsage purposes in certificate order, by RFC 5280 names
    /// (`serverAuth`, `clientAuth`, ...) or dotted OIDs, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_key_usage: Option<Vec<String>>,
    /// subjectKeyIdentifier, lowercase hex, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_key_identifier: Option<String>,
    /// keyIdentifier of the authorityKeyIdentifier extension, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_key_identifier: Option<String>,
    /// Subject and issuer are the same name and, when both key identifiers
    /// are present, the authority key identifier equals the subject key
    /// identifier. The signature is NOT verified.
    pub self_signed: bool,
}

/// subjectAltName entries of the four kinds an inventory reports; empty
/// lists are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectAltNames {
    /// dNSName entries as encoded (wildcards kept, no IDNA decoding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// iPAddress entries: dotted IPv4, RFC 5952 IPv6, or hex for a value
    /// that is neither 4 nor 16 bytes long.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip: Vec<String>,
    /// uniformResourceIdentifier entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uri: Vec<String>,
    /// rfc822Name entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<String>,
}

impl SubjectAltNames {
    /// True when none of the four lists has an entry.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ip.is_empty() && self.uri.is_empty() && self.email.is_empty()
    }
}

/// The subject public key's algorithm and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeySummary {
    /// `RSA`, `RSA-PSS`, `EC`, `Ed25519`, `Ed448`, `X25519`, `X448`, `DSA`,
    /// `DH`, `ML-DSA-44/65/87`, `SLH-DSA-...`, `ML-KEM-512/768/1024`, a
    /// composite ML-DSA name, or the dotted OID when unknown.
    pub algorithm: String,
    /// RSA modulus bits, EC curve bits (521 for P-521), DSA prime bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    /// Named curve of an EC key as a TLS group name (`secp256r1`,
    /// `secp384r1`, `secp521r1`, `brainpoolP256r1`, ...), or its dotted OID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
}

/// The basicConstraints extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicConstraints {
    /// The subject is a CA.
    pub ca: bool,
    /// pathLenConstraint, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_len: Option<u32>,
}
