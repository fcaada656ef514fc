//! Instants as records write them: RFC 3339 UTC text
//! (`2026-03-15T10:00:00.123456Z`, or whole seconds in certificates).
//!
//! Rules compare certificate dates with the session's own start time, and
//! the deduplication window runs on session time, never on the wall clock,
//! so a replayed capture gives the same findings and alerts as the live
//! sensor did. Days are counted by `cipherlens_record::calendar`, which the
//! inventory's times share.

use cipherlens_record::calendar::{civil_from_days, days_from_civil, days_in_month};
use std::fmt;
use std::time::Duration;

/// An instant in UTC, to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    seconds: i64,
    nanos: u32,
}

/// Why a time string is not one the records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z")]
    Shape,
    #[error("a date or time field is out of range")]
    Range,
}

pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// The instant `seconds` after the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp { seconds, nanos: 0 }
    }

    /// Midnight UTC at the start of a calendar day, if the date exists.
    pub fn from_date(year: i64, month: u32, day: u32) -> Result<Self, TimeError> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(TimeError::Range);
        }
        Ok(Timestamp::from_unix_seconds(
            days_from_civil(year, month, day) * SECONDS_PER_DAY,
        ))
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub const fn unix_seconds(self) -> i64 {
        self.seconds
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f...]Z`, with 1 to 9 fraction digits.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimeError> {
        let bytes = text.as_bytes();
        if bytes.len() < 20 || bytes[bytes.len() - 1] != b'Z' {
            return Err(TimeError::Shape);
        }
        for (index, separator) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
            if bytes[index] != separator {
                return Err(TimeError::Shape);
            }
        }
        let year = i64::from(digits(&bytes[0..4])?);
        let month = digits(&bytes[5..7])?;
        let day = digits(&bytes[8..10])?;
        let hour = i64::from(digits(&bytes[11..13])?);
        let minute = i64::from(digits(&bytes[14..16])?);
        let second = i64::from(digits(&bytes[17..19])?);
        let nanos = match &bytes[19..bytes.len() - 1] {
            [] => 0,
            [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
                digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
            }
            _ => return Err(TimeError::Shape),
        };
        // RFC 3339 allows a leap second (60); it counts as the next second.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(TimeError::Range);
        }
        let midnight = Timestamp::from_date(year, month, day)?;
        Ok(Timestamp {
            seconds: midnight.seconds + hour * 3600 + minute * 60 + second,
            nanos,
        })
    }

    /// `self + duration`, saturating.
    pub fn saturating_add(self, duration: Duration) -> Self {
        let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        let mut result = Timestamp {
            seconds: self.seconds.saturating_add(seconds),
            nanos: self.nanos + duration.subsec_nanos(),
        };
        if result.nanos >= 1_000_000_000 {
            result.nanos -= 1_000_000_000;
            result.seconds = result.seconds.saturating_add(1);
        }
        result
    }

    /// Whole seconds from `earlier` to `self`, rounded toward minus infinity
    /// (negative when `earlier` is later).
    pub(crate) fn seconds_since(self, earlier: Timestamp) -> i64 {
        let whole = self.seconds.saturating_sub(earlier.seconds);
        if self.nanos < earlier.nanos {
            whole.saturating_sub(1)
        } else {
            whole
        }
    }
}

/// RFC 3339 UTC with microseconds (as the sensor writes session times), or
/// nanoseconds when the instant has them.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = self.seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            second_of_day / 3600,
            (second_of_day / 60) % 60,
            second_of_day % 60
        )?;
        if self.nanos.is_multiple_of(1000) {
            write!(f, ".{:06}Z", self.nanos / 1000)
        } else {
            write!(f, ".{:09}Z", self.nanos)
        }
    }
}

fn digits(bytes: &[u8]) -> Result<u32, TimeError> {
    bytes.iter().try_fold(0u32, |value, &byte| {
        if byte.is_ascii_digit() {
            Ok(value * 10 + u32::from(byte - b'0'))
        } else {
            Err(TimeError::Shape)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Unix times from `date -u -d ... +%s` (GNU coreutils).
    #[test]
    fn parses_known_instants() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2020-09-01T00:00:00Z", 1_598_918_400),
            ("2026-03-15T00:00:00Z", 1_773_532_800),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("1969-12-31T23:59:59Z", -1),
            ("1950-06-15T00:00:00Z", -616_896_000),
        ];
        for (text, seconds) in cases {
            let parsed = Timestamp::parse_rfc3339(text).expect(text);
            assert_eq!(parsed.unix_seconds(), seconds, "{text}");
        }
    }

    #[test]
    fn fractions_and_display() {
        let parsed = Timestamp::parse_rfc3339("2026-11-21T10:00:00.123456Z").unwrap();
        assert_eq!(parsed.unix_seconds(), 1_795_255_200);
        assert_eq!(parsed.to_string(), "2026-11-21T10:00:00.123456Z");
        let nanos = Timestamp::parse_rfc3339("1969-12-31T23:59:59.000000001Z").unwrap();
        assert_eq!(nanos.to_string(), "1969-12-31T23:59:59.000000001Z");
        assert!(nanos > Timestamp::parse_rfc3339("1969-12-31T23:59:59Z").unwrap());
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for text in [
            "",
            "2026-11-21 10:00:00Z",
            "2026-11-21T10:00:00",
            "2026-11-21T10:00:00+00:00",
            "2026-11-21T10:00:00.Z",
            "2026-11-21T10:00:00.1234567890Z",
            "2026-1a-21T10:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Err(TimeError::Shape),
                "{text}"
            );
        }
        for text in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Err(TimeError::Range),
                "{text}"
            );
        }
    }

    #[test]
    fn seconds_since_rounds_down() {
        let a = Timestamp::parse_rfc3339("2026-01-01T00:00:00.5Z").unwrap();
        let b = Timestamp::parse_rfc3339("2026-01-01T00:00:10Z").unwrap();
        assert_eq!(b.seconds_since(a), 9);
        assert_eq!(a.seconds_since(b), -10);
    }
}
