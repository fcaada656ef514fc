//! Algorithm and strength of a certificate's subject public key.
//!
//! Key size is the number an audit ranks by, so it is computed exactly:
//! RSA and DSA sizes are the bit length of the modulus / prime (not the byte
//! length times eight), and EC sizes come from the named curve (P-521 is 521
//! bits although its coordinates take 66 bytes).

use tracing::debug;
use x509_parser::asn1_rs::{FromDer, Tag};
use x509_parser::der_parser::der::parse_der_integer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::PublicKeySummary;
use super::algorithms::{named_curve, public_key_algorithm_name};
use super::error::CertificateError;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const EC_DH_PUBLIC_KEY: &str = "1.3.132.1.12";
const DSA: &str = "1.2.840.10040.4.1";

pub(crate) fn summarize_public_key(
    spki: &SubjectPublicKeyInfo<'_>,
) -> Result<PublicKeySummary, CertificateError> {
    let oid = spki.algorithm.algorithm.to_id_string();
    let algorithm = public_key_algorithm_name(&oid).map_or_else(
        || {
            debug!(%oid, "unknown public key algorithm, reporting its OID");
            oid.clone()
        },
        str::to_owned,
    );
    let (bits, curve) = match oid.as_str() {
        RSA_ENCRYPTION | RSASSA_PSS => (Some(rsa_modulus_bits(spki, &algorithm)?), None),
        EC_PUBLIC_KEY | EC_DH_PUBLIC_KEY => ec_curve(spki),
        DSA => (dsa_prime_bits(spki), None),
        _ => (None, None),
    };
    Ok(PublicKeySummary {
        algorithm,
        bits,
        curve,
    })
}

/// Bit length of an unsigned big-endian integer: leading zero bytes (the
/// DER sign byte included) and leading zero bits do not count.
pub(crate) fn bit_length(big_endian: &[u8]) -> u32 {
    let Some(first_nonzero) = big_endian.iter().position(|&byte| byte != 0) else {
        return 0;
    };
    let Some((&top_byte, lower_bytes)) = big_endian[first_nonzero..].split_first() else {
        return 0;
    };
    let lower_bits = u32::try_from(lower_bytes.len())
        .unwrap_or(u32::MAX)
        .saturating_mul(8);
    lower_bits.saturating_add(8 - top_byte.leading_zeros())
}

fn rsa_modulus_bits(
    spki: &SubjectPublicKeyInfo<'_>,
    algorithm: &str,
) -> Result<u32, CertificateError> {
    let key_bytes: &[u8] = &spki.subject_public_key.data;
    match RSAPublicKey::from_der(key_bytes) {
        Ok((_, key)) => Ok(bit_length(key.modulus)),
        Err(error) => {
            debug!(%error, "RSA public key does not decode");
            Err(CertificateError::MalformedPublicKey {
                algorithm: algorithm.to_owned(),
            })
        }
    }
}

/// Curve name and size from the `namedCurve` parameter. Unknown named
/// curves are reported by OID without a size; explicit curve parameters
/// (forbidden by RFC 5480 but seen in the wild) yield neither.
fn ec_curve(spki: &SubjectPublicKeyInfo<'_>) -> (Option<u32>, Option<String>) {
    let Some(parameters) = spki.algorithm.parameters.as_ref() else {
        debug!("EC public key without curve parameters");
        return (None, None);
    };
    if parameters.header.tag() != Tag::Oid {
        debug!(tag = ?parameters.header.tag(), "EC public key with explicit curve parameters");
        return (None, None);
    }
    match parameters.as_oid() {
        Ok(curve_oid) => {
            let curve_oid = curve_oid.to_id_string();
            match named_curve(&curve_oid) {
                Some(curve) => (Some(curve.bits), Some(curve.name.to_owned())),
                None => {
                    debug!(%curve_oid, "unknown named curve, reporting its OID");
                    (None, Some(curve_oid))
                }
            }
        }
        Err(error) => {
            debug!(%error, "EC curve OID does not decode");
            (None, None)
        }
    }
}

/// Size of the prime `p` in `Dss-Parms ::= SEQUENCE { p, q, g }` (RFC 3279).
/// Absent parameters (inherited from the issuer) give no size.
fn dsa_prime_bits(spki: &SubjectPublicKeyInfo<'_>) -> Option<u32> {
    let parameters = spki.algorithm.parameters.as_ref()?;
    if parameters.header.tag() != Tag::Sequence {
        debug!("DSA public key parameters are not a SEQUENCE");
        return None;
    }
    let (_, prime) = match parse_der_integer(parameters.data) {
        Ok(parsed) => parsed,
        Err(error) => {
            debug!(%error, "DSA prime does not decode");
            return None;
        }
    };
    prime.as_slice().ok().map(bit_length)
}

#[cfg(test)]
mod tests {
    use super::bit_length;

    #[test]
    fn bit_length_ignores_sign_byte_and_leading_zero_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x7f, 0xff]), 15);
        let mut modulus = vec![0x00, 0xc0];
        modulus.extend_from_slice(&[0xff; 255]);
        assert_eq!(bit_length(&modulus), 2048);
    }
}
