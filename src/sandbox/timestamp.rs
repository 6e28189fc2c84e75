//! Instants for API token expiry, in milliseconds since the Unix epoch: parsing what a
//! client or a seed may write for `expires_at` (an ISO 8601 date, or a date-time with
//! an optional fraction and offset), formatting as the service serializes times (UTC,
//! milliseconds, `Z`: `2027-06-30T23:59:59.000Z`), and the calendar-year arithmetic of
//! the one-year default and the five-year ceiling. Written by hand because the project
//! has no date library and needs only this much of one.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// One instant, UTC, to the millisecond; years 0000 to 9999 when parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timestamp(i64);

impl Timestamp {
    /// The system clock; an instant before 1970 (a broken clock) reads as the epoch.
    pub(crate) fn now() -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        Timestamp(millis)
    }

    /// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z`, an
    /// offset `±HH[:MM]` or nothing (read as UTC, as Rails reads a bare time in a UTC
    /// application). `T` may be a space. `None` for anything else, out-of-range fields
    /// (February 30th, hour 24) included.
    pub(crate) fn parse(text: &str) -> Option<Timestamp> {
        let bytes = text.trim().as_bytes();
        let mut cursor = Cursor { bytes, at: 0 };
        let year = cursor.digits(4)?;
        cursor.expect(b'-')?;
        let month = cursor.digits(2)?;
        cursor.expect(b'-')?;
        let day = cursor.digits(2)?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        let date = days_from_civil(year, month, day) * MS_PER_DAY;
        if cursor.done() {
            return Some(Timestamp(date));
        }
        match cursor.next()? {
            b'T' | b't' | b' ' => {}
            _ => return None,
        }
        let hour = cursor.digits(2)?;
        cursor.expect(b':')?;
        let minute = cursor.digits(2)?;
        let mut second = 0;
        let mut millis = 0;
        if cursor.peek() == Some(b':') {
            cursor.next();
            second = cursor.digits(2)?;
            if matches!(cursor.peek(), Some(b'.' | b',')) {
                cursor.next();
                millis = cursor.fraction_millis()?;
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let offset = match cursor.next() {
            None => 0,
            Some(b'Z' | b'z') => 0,
            Some(sign @ (b'+' | b'-')) => {
                let hours = cursor.digits(2)?;
                let minutes = if cursor.done() {
                    0
                } else {
                    if cursor.peek() == Some(b':') {
                        cursor.next();
                    }
                    cursor.digits(2)?
                };
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = hours * MS_PER_HOUR + minutes * MS_PER_MINUTE;
                if sign == b'+' {
                    offset
                } else {
                    -offset
                }
            }
            Some(_) => return None,
        };
        if !cursor.done() {
            return None;
        }
        let time = hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND + millis;
        Some(Timestamp(date + time - offset))
    }

    /// The same time of day `years` calendar years later, as Rails' `n.years.from_now`:
    /// February 29th becomes the 28th in a year that has none.
    pub(crate) fn plus_years(self, years: i64) -> Timestamp {
        let days = self.0.div_euclid(MS_PER_DAY);
        let time_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let year = year.saturating_add(years);
        let day = day.min(days_in_month(year, month));
        Timestamp(
            days_from_civil(year, month, day)
                .saturating_mul(MS_PER_DAY)
                .saturating_add(time_of_day),
        )
    }
}

/// The service's form: `2027-06-30T23:59:59.000Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let time = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            time / MS_PER_HOUR,
            time % MS_PER_HOUR / MS_PER_MINUTE,
            time % MS_PER_MINUTE / MS_PER_SECOND,
            time % MS_PER_SECOND
        )
    }
}

/// Reads ASCII fields off the bytes of the text; any other byte simply fails to match,
/// so no input can split a character or index out of bounds.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Exactly `count` decimal digits.
    fn digits(&mut self, count: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..count {
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(byte - b'0');
        }
        Some(value)
    }

    /// One or more digits of a fraction of a second, truncated to milliseconds.
    fn fraction_millis(&mut self) -> Option<i64> {
        let mut millis = 0;
        let mut count = 0;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            self.at += 1;
            if count < 3 {
                millis = millis * 10 + i64::from(byte - b'0');
            }
            count += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..3 {
            millis *= 10;
        }
        Some(millis)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of `days_from_civil`: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<String> {
        Timestamp::parse(text).map(|instant| instant.to_string())
    }

    #[test]
    fn parses_dates_and_date_times_into_the_service_form() {
        for (text, expected) in [
            ("2027-06-30T23:59:59.000Z", "2027-06-30T23:59:59.000Z"),
            ("2027-06-30T23:59:59Z", "2027-06-30T23:59:59.000Z"),
            ("2027-06-30T23:59:59", "2027-06-30T23:59:59.000Z"),
            ("2027-06-30 23:59", "2027-06-30T23:59:00.000Z"),
            ("2027-06-30t23:59:59.5z", "2027-06-30T23:59:59.500Z"),
            (
                "2027-06-30T23:59:59,123456+00:00",
                "2027-06-30T23:59:59.123Z",
            ),
            ("2027-06-30T23:59:59+02:00", "2027-06-30T21:59:59.000Z"),
            ("2027-06-30T23:59:59-0130", "2027-07-01T01:29:59.000Z"),
            ("2027-06-30T01:00:00+05", "2027-06-29T20:00:00.000Z"),
            ("2027-06-30", "2027-06-30T00:00:00.000Z"),
            ("  2028-02-29  ", "2028-02-29T00:00:00.000Z"),
            ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
            ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
            ("0000-01-01", "0000-01-01T00:00:00.000Z"),
            ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(parsed(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_iso_8601_instant() {
        for text in [
            "",
            "tomorrow",
            "2027",
            "2027-06",
            "27-06-30",
            "2027-6-30",
            "2027-13-01",
            "2027-00-01",
            "2027-02-29",
            "2027-04-31",
            "2027-06-30T",
            "2027-06-30T24:00",
            "2027-06-30T23:60",
            "2027-06-30T23:59:60",
            "2027-06-30T23",
            "2027-06-30T23:59:59.",
            "2027-06-30T23:59:59+",
            "2027-06-30T23:59:59+24:00",
            "2027-06-30T23:59:59+02:",
            "2027-06-30T23:59:59Zjunk",
            "2027-06-30X23:59",
            "2027-06-30T23:59:59 UTC",
            "２０２７-06-30",
            "2027-06-30T23:59:5é",
            "+2027-06-30",
        ] {
            assert_eq!(parsed(text), None, "{text:?}");
        }
    }

    #[test]
    fn years_are_calendar_years() {
        let start = Timestamp::parse("2026-03-15T10:20:30.400Z").unwrap();
        assert_eq!(start.plus_years(1).to_string(), "2027-03-15T10:20:30.400Z");
        assert_eq!(start.plus_years(5).to_string(), "2031-03-15T10:20:30.400Z");
        let leap = Timestamp::parse("2028-02-29T12:00:00Z").unwrap();
        assert_eq!(leap.plus_years(1).to_string(), "2029-02-28T12:00:00.000Z");
        assert_eq!(leap.plus_years(4).to_string(), "2032-02-29T12:00:00.000Z");
        assert!(Timestamp::now() > Timestamp::parse("2020-01-01").unwrap());
    }

    #[test]
    fn the_calendar_round_trips_day_by_day() {
        for days in -800_000..800_000 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
            assert!((1..=days_in_month(year, month)).contains(&day));
        }
    }
}
