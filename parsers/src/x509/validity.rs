//! Validity dates as RFC 3339 strings and a length in days.
//!
//! Inventory consumers sort and diff these, so one fixed format (UTC,
//! seconds, `Z`) is used whatever the certificate encoded (UTCTime or
//! GeneralizedTime). The civil-date conversion is done here from the Unix
//! timestamp so the output never depends on how a date library formats.

use x509_parser::time::ASN1Time;

const SECONDS_PER_DAY: i64 = 86_400;

/// `YYYY-MM-DDTHH:MM:SSZ` for an ASN.1 time (always UTC in X.509).
pub(crate) fn rfc3339_utc(time: &ASN1Time) -> String {
    let timestamp = time.timestamp();
    let days = timestamp.div_euclid(SECONDS_PER_DAY);
    let seconds_of_day = timestamp.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_date_from_days(days);
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

/// Proleptic Gregorian (year, month, day) for a count of days since
/// 1970-01-01, using 400-year eras of 146 097 days that start on March 1st
/// so that the leap day falls at the end of each shifted year.
fn civil_date_from_days(days_since_epoch: i64) -> (i64, u32, u32) {
    const DAYS_PER_ERA: i64 = 146_097;
    // 1970-01-01 is 719 468 days after 0000-03-01.
    let days = days_since_epoch + 719_468;
    let era = days.div_euclid(DAYS_PER_ERA);
    let day_of_era = days.rem_euclid(DAYS_PER_ERA);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 = March .. 11 = February.
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (year, month as u32, day as u32)
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
