//! What `openssl x509` says about a certificate file: the oracle for the
//! certificate fields the sensor's records and alerts carry, in the
//! records' spelling (RFC 4514 names, RFC 3339 UTC times, lower-case hex
//! key identifiers, `RSA`/`EC` key algorithms).

use crate::process::run;

/// A certificate as `openssl x509 -text` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// RFC 4514 (`CN=example.test`).
    pub subject: String,
    pub issuer: String,
    /// RFC 3339 UTC, whole seconds (`2026-01-01T00:00:00Z`).
    pub not_before: String,
    pub not_after: String,
    /// `RSA`, `EC`, or OpenSSL's name for anything else.
    pub key_algorithm: String,
    pub key_bits: u32,
    /// OpenSSL's name of the signature algorithm (`ecdsa-with-SHA1`).
    pub signature_algorithm: String,
    /// The authority key identifier, lower-case hex without colons.
    pub authority_key_id: Option<String>,
}

impl CertificateFacts {
    /// Reads the PEM certificate file `pem`.
    pub fn read(pem: &str) -> Self {
        let text = run(
            "openssl",
            &[
                "x509", "-in", pem, "-noout", "-subject", "-issuer", "-dates", "-dateopt",
                "iso_8601", "-nameopt", "RFC2253", "-text",
            ],
        );
        let after = |prefix: &str| -> String {
            text.lines()
                .find_map(|line| line.trim().strip_prefix(prefix))
                .unwrap_or_else(|| panic!("openssl x509 printed no {prefix}: {text}"))
                .trim()
                .to_string()
        };
        // `2026-01-01 00:00:00Z` -> `2026-01-01T00:00:00Z`
        let date = |prefix: &str| after(prefix).replacen(' ', "T", 1);
        let key_algorithm = match after("Public Key Algorithm:").as_str() {
            "rsaEncryption" => "RSA".to_string(),
            "id-ecPublicKey" => "EC".to_string(),
            other => other.to_string(),
        };
        let key_bits = after("Public-Key: (")
            .trim_end_matches(" bit)")
            .parse()
            .expect("key size");
        let mut lines = text.lines();
        let authority_key_id = lines
            .by_ref()
            .find(|line| line.contains("X509v3 Authority Key Identifier"))
            .and_then(|_| lines.next())
            .map(|line| {
                line.trim()
                    .trim_start_matches("keyid:")
                    .replace(':', "")
                    .to_ascii_lowercase()
            });
        CertificateFacts {
            subject: after("subject="),
            issuer: after("issuer="),
            not_before: date("notBefore="),
            not_after: date("notAfter="),
            key_algorithm,
            key_bits,
            signature_algorithm: after("Signature Algorithm:"),
            authority_key_id,
        }
    }

    /// Whole days from notBefore to notAfter.
    pub fn validity_days(&self) -> i64 {
        (unix_seconds(&self.not_after) - unix_seconds(&self.not_before)).div_euclid(86_400.0) as i64
    }
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time
/// (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`).
pub fn unix_seconds(time: &str) -> f64 {
    let numbers: Vec<f64> = time
        .strip_suffix('Z')
        .unwrap_or_else(|| panic!("not an RFC 3339 UTC time: {time}"))
        .split(['-', 'T', ':'])
        .map(|part| {
            part.parse()
                .unwrap_or_else(|_| panic!("not an RFC 3339 UTC time: {time}"))
        })
        .collect();
    let &[year, month, day, hour, minute, second] = numbers.as_slice() else {
        panic!("not an RFC 3339 UTC time: {time}");
    };
    let days = days_from_civil(year as i64, month as i64, day as i64);
    days as f64 * 86_400.0 + hour * 3_600.0 + minute * 60.0 + second
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::unix_seconds;

    #[test]
    fn rfc3339_times_are_read_as_unix_seconds() {
        // `date -u -d 2000-03-01T00:00:00Z +%s` = 951868800
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), 0.0);
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), 951_868_800.0);
        assert_eq!(unix_seconds("2026-11-29T04:22:33.5Z"), 1_795_926_153.5);
    }
}
