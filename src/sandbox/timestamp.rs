//! Instants for API token expiry, to the millisecond as the service keeps them: parsing
//! what a client or a seed may write for `expires_at` (an ISO 8601 date, or a date-time
//! with an optional fraction and offset), formatting as the service serializes times
//! (UTC, milliseconds, `Z`: `2027-06-30T23:59:59.000Z`), and the calendar-year
//! arithmetic of the one-year default and the five-year ceiling. jiff, which the tool
//! uses for its own dates, reads the text and does the calendar; this holds the
//! service's rules. An instant is kept as the civil date-time in UTC, which reaches
//! 9999-12-31 where jiff's `Timestamp` stops a day short.

use std::fmt;

use jiff::civil::{DateTime, Time};
use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;
use jiff::ToSpan;

/// One instant, UTC, truncated to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timestamp(DateTime);

impl Timestamp {
    /// The system clock.
    pub(crate) fn now() -> Timestamp {
        Timestamp::truncated(Offset::UTC.to_datetime(jiff::Timestamp::now()))
    }

    fn truncated(utc: DateTime) -> Timestamp {
        let millis = utc.subsec_nanosecond() / 1_000_000 * 1_000_000;
        Timestamp(utc.with().subsec_nanosecond(millis).build().unwrap_or(utc))
    }

    /// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z`, an
    /// offset `±HH[:MM]` or nothing (read as UTC, as Rails reads a bare time in a UTC
    /// application). `T` may be a space. `None` for anything else, out-of-range fields
    /// (February 30th, hour 24) included.
    pub(crate) fn parse(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        // jiff reads more than the service does: here a year has four digits and no
        // sign, a time its minutes, and there is no leap second nor time zone annotation.
        let (date, time) = match text.find(['T', 't', ' ']) {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        let four_digit_year = date.len() == 10 && date.bytes().take(4).all(|b| b.is_ascii_digit());
        let plain_time = time.is_none_or(|time| {
            time.as_bytes().get(2) == Some(&b':')
                && time.get(5..8) != Some(":60")
                && !time.contains('[')
        });
        if !four_digit_year || !plain_time {
            return None;
        }
        let pieces = Pieces::parse(text).ok()?;
        let local = pieces
            .date()
            .to_datetime(pieces.time().unwrap_or(Time::midnight()));
        let offset = pieces.to_numeric_offset().unwrap_or(Offset::UTC);
        if offset.seconds().abs() >= 24 * 3600 {
            return None; // jiff allows offsets up to 25 hours; ISO 8601 stops at 23:59.
        }
        let utc = local.checked_sub(offset.seconds().seconds()).ok()?;
        Some(Timestamp::truncated(utc))
    }

    /// The same time of day `years` calendar years later, as Rails' `n.years.from_now`:
    /// February 29th becomes the 28th in a year that has none.
    pub(crate) fn plus_years(self, years: i64) -> Timestamp {
        Timestamp(self.0.checked_add(years.years()).unwrap_or(DateTime::MAX))
    }
}

/// The service's form: `2027-06-30T23:59:59.000Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
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
}
