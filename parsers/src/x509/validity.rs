//! Validity dates as RFC 3339 strings and a length in days.
//!
//! Inventory consumers sort and diff these, so one fixed format (UTC,
//! seconds, `Z`) is used whatever the certificate encoded (UTCTime or
//! GeneralizedTime). The civil date comes from the Unix timestamp through
//! `cipherlens_record::calendar`, so the output never depends on how a date
//! library formats.

use cipherlens_record::calendar::civil_from_days;
use x509_parser::time::ASN1Time;

const SECONDS_PER_DAY: i64 = 86_400;

/// `YYYY-MM-DDTHH:MM:SSZ` for an ASN.1 time (always UTC in X.509).
pub(crate) fn rfc3339_utc(time: &ASN1Time) -> String {
    let timestamp = time.timestamp();
    let days = timestamp.div_euclid(SECONDS_PER_DAY);
    let seconds_of_day = timestamp.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60
    )
}

/// Whole days from `start` to `end`, rounded down.
pub(crate) fn whole_days_between(start: &ASN1Time, end: &ASN1Time) -> i64 {
    end.timestamp()
        .saturating_sub(start.timestamp())
        .div_euclid(SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(timestamp: i64) -> ASN1Time {
        ASN1Time::from_timestamp(timestamp).expect("timestamp in range")
    }

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(rfc3339_utc(&at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(&at(1_490_227_200)), "2017-03-23T00:00:00Z");
        assert_eq!(rfc3339_utc(&at(1_589_371_200)), "2020-05-13T12:00:00Z");
    }

    #[test]
    fn leap_days_and_century_rules() {
        assert_eq!(rfc3339_utc(&at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(&at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_utc(&at(253_402_300_799)), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn dates_before_the_epoch() {
        assert_eq!(rfc3339_utc(&at(-1)), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(&at(-2_208_988_800)), "1900-01-01T00:00:00Z");
    }

    #[test]
    fn days_round_down_and_may_be_negative() {
        assert_eq!(
            whole_days_between(&at(1_490_227_200), &at(1_589_371_200)),
            1147
        );
        assert_eq!(whole_days_between(&at(86_400), &at(0)), -1);
        assert_eq!(whole_days_between(&at(0), &at(86_399)), 0);
    }
}
