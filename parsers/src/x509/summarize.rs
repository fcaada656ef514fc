//! Builds a [`CertificateSummary`] from one DER certificate.
//!
//! This is the only place that drives x509-parser; the other modules each
//! turn one part of the parsed certificate into inventory fields. Parsing is
//! all-or-nothing: a certificate that does not decode cleanly yields an
//! error, never a partial summary that could be mistaken for a complete one.

use tracing::debug;
use x509_parser::asn1_rs::FromDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::error::BerError;
use x509_parser::error::X509Error;

use super::CertificateSummary;
use super::algorithms::signature_algorithm_name;
use super::digests::{fingerprint_sha1, fingerprint_sha256};
use super::distinguished_name::{RenderedName, render_name};
use super::error::CertificateError;
use super::extensions::{ReportedExtensions, read_reported_extensions};
use super::public_key::summarize_public_key;
use super::validity::{rfc3339_utc, whole_days_between};

pub(crate) fn summarize(der: &[u8]) -> Result<CertificateSummary, CertificateError> {
    if der.is_empty() {
        return Err(CertificateError::Empty);
    }
    if outer_sequence_is_cut_short(der) {
        debug!(
            len = der.len(),
            "certificate ends before its outer SEQUENCE does"
        );
        return Err(CertificateError::Truncated);
    }
    let (rest, certificate) = X509Certificate::from_der(der).map_err(parse_error)?;
    if !rest.is_empty() {
        return Err(CertificateError::TrailingData {
            trailing_bytes: rest.len(),
        });
    }
    let version = version_number(certificate.version().0)?;
    let subject = render_name(certificate.subject());
    let issuer = render_name(certificate.issuer());
    let validity = certificate.validity();
    let extensions = read_reported_extensions(certificate.extensions())?;
    let public_key = summarize_public_key(certificate.public_key())?;
    let signature_algorithm_oid = certificate.signature_algorithm.algorithm.to_id_string();
    let signature_algorithm = signature_algorithm_name(&signature_algorithm_oid)
        .map_or_else(|| signature_algorithm_oid.clone(), str::to_owned);
    let names_equal = certificate.subject().as_raw() == certificate.issuer().as_raw()
        || subject.rfc4514 == issuer.rfc4514;
    let self_signed = names_equal && key_identifiers_agree(&extensions);
    let RenderedName {
        rfc4514: subject,
        rdns: subject_rdns,
        common_name: subject_common_name,
    } = subject;
    Ok(CertificateSummary {
        version,
        serial_number: serial_number_hex(certificate.raw_serial()),
        subject,
        subject_rdns,
        subject_common_name,
        issuer: issuer.rfc4514,
        issuer_rdns: issuer.rdns,
        not_before: rfc3339_utc(&validity.not_before),
        not_after: rfc3339_utc(&validity.not_after),
        validity_days: whole_days_between(&validity.not_before, &validity.not_after),
        subject_alt_names: extensions.subject_alt_names,
        public_key,
        signature_algorithm,
        signature_algorithm_oid,
        fingerprint_sha256: fingerprint_sha256(der),
        fingerprint_sha1: fingerprint_sha1(der),
        basic_constraints: extensions.basic_constraints,
        key_usage: extensions.key_usage,
        extended_key_usage: extensions.extended_key_usage,
        subject_key_identifier: extensions.subject_key_identifier,
        authority_key_identifier: extensions.authority_key_identifier,
        self_signed,
    })
}

fn parse_error(error: x509_parser::nom::Err<X509Error>) -> CertificateError {
    use x509_parser::nom::Err;
    let converted = match error {
        Err::Incomplete(_) | Err::Error(X509Error::Der(BerError::Incomplete(_))) => {
            CertificateError::Truncated
        }
        Err::Failure(X509Error::Der(BerError::Incomplete(_))) => CertificateError::Truncated,
        Err::Error(error) | Err::Failure(error) => CertificateError::Malformed {
            reason: error.to_string(),
        },
    };
    debug!(error = %converted, "certificate does not parse");
    converted
}

/// True when the input starts like a DER SEQUENCE (as a certificate does)
/// whose header or declared length runs past the end of the input.
/// x509-parser reports such input as a generic end-of-input error, which
/// does not tell a cut-off capture from a malformed certificate.
fn outer_sequence_is_cut_short(der: &[u8]) -> bool {
    const SEQUENCE: u8 = 0x30;
    if der.first() != Some(&SEQUENCE) {
        return false;
    }
    let Some(&first_length_byte) = der.get(1) else {
        return true;
    };
    if first_length_byte < 0x80 {
        return 2 + usize::from(first_length_byte) > der.len();
    }
    let length_bytes = usize::from(first_length_byte & 0x7f);
    if length_bytes == 0 || length_bytes > std::mem::size_of::<usize>() {
        // Indefinite (not DER) or absurd: let the parser reject it.
        return false;
    }
    let Some(encoded_length) = der.get(2..2 + length_bytes) else {
        return true;
    };
    let content_length = encoded_length
        .iter()
        .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
    (2 + length_bytes)
        .checked_add(content_length)
        .is_none_or(|total| total > der.len())
}

/// The encoded version is 0-based (0 = v1).
fn version_number(raw_version: u32) -> Result<u8, CertificateError> {
    match raw_version {
        0 => Ok(1),
        1 => Ok(2),
        2 => Ok(3),
        _ => Err(CertificateError::UnsupportedVersion { raw_version }),
    }
}

/// Uppercase hex of the serial's DER integer bytes without the `00` sign
/// byte (kept when it is the only byte, i.e. serial 0).
fn serial_number_hex(integer_bytes: &[u8]) -> String {
    let magnitude = match integer_bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    };
    hex::encode_upper(magnitude)
}

/// RFC 5280 self-issued certificates carry AKI == SKI when both are present;
/// a mismatch means the same name was reused by another key.
fn key_identifiers_agree(extensions: &ReportedExtensions) -> bool {
    match (
        &extensions.subject_key_identifier,
        &extensions.authority_key_identifier,
    ) {
        (Some(subject_key), Some(authority_key)) => subject_key == authority_key,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_drops_only_the_sign_byte() {
        assert_eq!(serial_number_hex(&[0x00, 0x8f, 0x01]), "8F01");
        assert_eq!(serial_number_hex(&[0x08, 0x3a]), "083A");
        assert_eq!(serial_number_hex(&[0x00]), "00");
        assert_eq!(serial_number_hex(&[]), "");
    }

    #[test]
    fn cut_short_outer_sequence_is_detected() {
        assert!(outer_sequence_is_cut_short(&[0x30]));
        assert!(outer_sequence_is_cut_short(&[0x30, 0x03, 0x02, 0x01]));
        assert!(outer_sequence_is_cut_short(&[0x30, 0x82, 0x01]));
        assert!(outer_sequence_is_cut_short(&[0x30, 0x81, 0x80, 0x00]));
        assert!(!outer_sequence_is_cut_short(&[
            0x30, 0x03, 0x02, 0x01, 0x00
        ]));
        assert!(!outer_sequence_is_cut_short(&[0x30, 0x80, 0x00, 0x00]));
        assert!(!outer_sequence_is_cut_short(&[0x04, 0x05]));
        assert!(outer_sequence_is_cut_short(&[
            0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
        ]));
    }

    #[test]
    fn versions_are_one_based() {
        assert_eq!(version_number(0), Ok(1));
        assert_eq!(version_number(2), Ok(3));
        assert_eq!(
            version_number(3),
            Err(CertificateError::UnsupportedVersion { raw_version: 3 })
        );
    }
}
