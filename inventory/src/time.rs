//! RFC 3339 times as the inventory stores them.
//!
//! First/last seen columns are compared as text by `min()`/`max()` in SQL, so
//! every stored session time has one shape: UTC with six fraction digits
//! (`2026-11-21T22:59:59.577504Z`). Text in that shape sorts in time order
//! and `sqlite3`'s date functions read it. The calendar arithmetic is the
//! proleptic Gregorian calendar (days counted from 1970-01-01).

use cipherlens_record::calendar::{civil_from_days, days_from_civil, days_in_month};

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// Reads an RFC 3339 date-time (`T` or space separator, `Z` or a numeric
    /// offset, up to nine fraction digits; digits past the sixth are cut).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let bytes = text.as_bytes();
        if bytes.len() < 20 {
            return None;
        }
        let year = digits(bytes, 0, 4)?;
        let month = digits(bytes, 5, 2)?;
        let day = digits(bytes, 8, 2)?;
        let hour = digits(bytes, 11, 2)?;
        let minute = digits(bytes, 14, 2)?;
        let second = digits(bytes, 17, 2)?;
        if bytes[4] != b'-'
            || bytes[7] != b'-'
            || !matches!(bytes[10], b'T' | b't' | b' ')
            || bytes[13] != b':'
            || bytes[16] != b':'
        {
            return None;
        }
        if !(1..=12).contains(&month)
            || day < 1
            || day > i64::from(days_in_month(year, month as u32))
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = &bytes[19..];
        let mut micros = 0i64;
        if let Some((b'.', fraction)) = rest.split_first() {
            let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if count == 0 || count > 9 {
                return None;
            }
            for (index, digit) in fraction[..count].iter().enumerate() {
                if index < 6 {
                    micros = micros * 10 + i64::from(digit - b'0');
                }
            }
            for _ in count..6 {
                micros *= 10;
            }
            rest = &fraction[count..];
        }
        let offset_seconds = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours = digits(&[*h1, *h2], 0, 2)?;
                let minutes = digits(&[*m1, *m2], 0, 2)?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = hours * 3600 + minutes * 60;
                if *sign == b'-' { -offset } else { offset }
            }
            _ => return None,
        };
        // Month and day were range-checked above.
        let days = days_from_civil(year, month as u32, day as u32);
        // A leap second (:60) is read as the first instant of the next minute.
        let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
        Some(Timestamp(seconds * MICROS_PER_SECOND + micros))
    }

    /// From seconds since the epoch.
    pub fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds.saturating_mul(MICROS_PER_SECOND))
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SECOND)
    }

    /// The stored shape: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub fn to_rfc3339_micros(self) -> String {
        let (date, seconds_of_day, micros) = self.split();
        format!("{date}T{}.{micros:06}Z", clock(seconds_of_day))
    }

    /// Whole seconds: `YYYY-MM-DDTHH:MM:SSZ` (for BOM metadata and reports).
    pub fn to_rfc3339_seconds(self) -> String {
        let (date, seconds_of_day, _) = self.split();
        format!("{date}T{}Z", clock(seconds_of_day))
    }

    /// The date alone: `YYYY-MM-DD`.
    pub fn date(self) -> String {
        self.split().0
    }

    fn split(self) -> (String, i64, i64) {
        let seconds = self.0.div_euclid(MICROS_PER_SECOND);
        let micros = self.0.rem_euclid(MICROS_PER_SECOND);
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let seconds_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        (
            format!("{year:04}-{month:02}-{day:02}"),
            seconds_of_day,
            micros,
        )
    }
}

/// Normalizes an RFC 3339 text to the stored shape.
pub fn normalize(text: &str) -> Option<String> {
    Timestamp::parse(text).map(Timestamp::to_rfc3339_micros)
}

fn clock(seconds_of_day: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

fn digits(bytes: &[u8], start: usize, count: usize) -> Option<i64> {
    let slice = bytes.get(start..start + count)?;
    slice.iter().try_fold(0i64, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected epoch values from `date -u -d <time> +%s` (GNU coreutils).
    #[test]
    fn reads_times_that_date_agrees_with() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:00:00Z", 951_825_600),
            ("2026-11-21T22:59:59Z", 1_795_301_999),
            ("1969-12-31T23:59:59Z", -1),
            ("2038-01-19T03:14:08Z", 2_147_483_648),
            ("2100-03-01T00:00:00Z", 4_107_542_400),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                Timestamp::parse(text).map(Timestamp::unix_seconds),
                Some(seconds),
                "{text}"
            );
            assert_eq!(
                Timestamp::from_unix_seconds(seconds).to_rfc3339_seconds(),
                text
            );
        }
    }

    #[test]
    fn normalizes_fractions_and_offsets_to_utc_micros() {
        assert_eq!(
            normalize("2026-11-21T22:59:59.5Z").as_deref(),
            Some("2026-11-21T22:59:59.500000Z")
        );
        assert_eq!(
            normalize("2026-11-21T23:59:59.123456789+01:00").as_deref(),
            Some("2026-11-21T22:59:59.123456Z")
        );
        // Whole seconds sort before the same second with a fraction once stored.
        let whole = normalize("2026-11-21T22:59:59Z").unwrap();
        let half = normalize("2026-11-21T22:59:59.5Z").unwrap();
        assert!(whole < half);
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for text in [
            "",
            "2026-11-21",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T22:59:59",
            "2026-11-21T22:59:59.Z",
            "2026-11-21T22:59:59.1234567890Z",
            "2026-11-21T22:59:59+0100",
            "２026-11-21T22:59:59Z",
        ] {
            assert_eq!(Timestamp::parse(text), None, "{text:?}");
        }
    }
}
