//! RFC 3339 timestamps, converted to Unix epoch milliseconds.
//!
//! A hand-written parser (about 60 lines) instead of a date-time crate: the
//! library needs only this one conversion, and it must stay light.

/// Parses an RFC 3339 timestamp (`2026-01-05T08:00:00Z`,
/// `2026-01-05T09:00:00.250+01:00`) into Unix epoch milliseconds.
/// `t`/`z` may be lower case and a space may separate date and time, as RFC
/// 3339 allows. Fractions beyond milliseconds are truncated.
///
/// # Errors
/// A message saying what is wrong, for use in a config issue.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    parse(text).map_err(|problem| match problem {
        Problem::Syntax => {
            format!("`{text}` is not an RFC 3339 time (expected e.g. 2026-01-05T08:00:00Z)")
        }
        Problem::Calendar => format!("`{text}` is not a calendar date"),
        Problem::TimeOfDay => format!("`{text}` has a time of day out of range"),
        Problem::OutOfRange => format!("`{text}` is outside years 1 to 9999"),
    })
}

/// [`parse_rfc3339_ms`] without the message, and so without allocating:
/// for times read on a hot path (a context attribute compared with a date).
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    parse(text).ok()
}

/// What is wrong with a time.
enum Problem {
    Syntax,
    Calendar,
    TimeOfDay,
    OutOfRange,
}

fn parse(text: &str) -> Result<i64, Problem> {
    let bad = || Problem::Syntax;
    let b = text.as_bytes();
    if b.len() < 20 {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, Problem> {
        let digits = b.get(range).ok_or_else(bad)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let mut i = 19;
    let mut millis = 0;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        // Pad or truncate the fraction to exactly three digits.
        millis = (0..3).fold(0, |ms, k| {
            let digit = b
                .get(start + k)
                .filter(|_| start + k < i)
                .map_or(0, |d| d - b'0');
            ms * 10 + i64::from(digit)
        });
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let minutes = oh * 60 + om;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return Err(bad()),
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return Err(Problem::Calendar);
    }
    // Second 60 is a leap second; it is counted as the next second's start.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(Problem::TimeOfDay);
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    let ms = seconds * 1_000 + millis;
    // Year 0000 (and an offset across either end) is outside the range
    // that can be written back.
    if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        return Err(Problem::OutOfRange);
    }
    Ok(ms)
}

/// The first instant RFC 3339 can write, 0001-01-01T00:00:00Z, in Unix ms.
pub const MIN_TIME_MS: i64 = -62_135_596_800_000;
/// The last, 9999-12-31T23:59:59.999Z.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// Checks a time a caller gave in Unix milliseconds: years 1 to 9999, the
/// times RFC 3339 can write. Every time the library stores or shows can
/// then be written, and no window or period computed from one overflows.
///
/// # Errors
/// `InvalidArgument` naming `what`.
pub fn check_time_ms(what: &str, ms: i64) -> crate::Result<()> {
    if (MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        Ok(())
    } else {
        Err(crate::Error::invalid_argument(format!(
            "{what} {ms} is outside years 1 to 9999 ({MIN_TIME_MS} to {MAX_TIME_MS} Unix ms)"
        )))
    }
}

/// Formats Unix epoch milliseconds as RFC 3339 in UTC
/// (`2026-01-05T08:00:00.250Z`; the fraction only when not zero).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, frac) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000,
    );
    if frac == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{frac:03}Z")
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339_ms as p;

    #[test]
    fn known_instants() {
        assert_eq!(p("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(p("2000-03-01T00:00:00Z"), Ok(951_868_800_000));
        assert_eq!(p("2026-01-05T08:00:00Z"), Ok(1_767_600_000_000));
        assert_eq!(p("2026-01-05T09:00:00+01:00"), Ok(1_767_600_000_000));
        assert_eq!(p("2026-01-05t07:30:00.25-00:30"), Ok(1_767_600_000_250));
        assert_eq!(p("2026-01-05 08:00:00.123456z"), Ok(1_767_600_000_123));
        assert_eq!(p("1969-12-31T23:59:59.999Z"), Ok(-1));
        assert_eq!(p("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for text in [
            "",
            "2026-01-05",
            "2026-01-05T08:00:00",
            "2026-01-05T08:00Z",
            "2026-13-05T08:00:00Z",
            "2025-02-29T08:00:00Z",
            "2026-01-05T24:00:00Z",
            "2026-01-05T08:00:00+0100",
            "2026-01-05T08:00:00.Z",
            "next monday",
        ] {
            assert!(p(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn years_1_to_9999_and_no_others() {
        use super::{MAX_TIME_MS, MIN_TIME_MS, check_time_ms, format_rfc3339_ms};
        assert_eq!(p("0001-01-01T00:00:00Z"), Ok(MIN_TIME_MS));
        assert_eq!(p("9999-12-31T23:59:59.999Z"), Ok(MAX_TIME_MS));
        assert_eq!(format_rfc3339_ms(MIN_TIME_MS), "0001-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(MAX_TIME_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            p("0000-12-31T23:59:59Z"),
            Err("`0000-12-31T23:59:59Z` is outside years 1 to 9999".into())
        );
        // An offset can carry a time of year 1 or 9999 across either end.
        assert!(p("0001-01-01T00:30:00+01:00").is_err());
        assert!(p("9999-12-31T23:30:00-01:00").is_err());
        assert!(p("10000-01-01T00:00:00Z").is_err());
        assert!(check_time_ms("at_ms", MIN_TIME_MS).is_ok());
        assert!(check_time_ms("at_ms", MAX_TIME_MS).is_ok());
        assert!(check_time_ms("at_ms", 0).is_ok());
        let e = check_time_ms("at_ms", i64::MIN).unwrap_err();
        assert_eq!(
            e.message(),
            "at_ms -9223372036854775808 is outside years 1 to 9999 (-62135596800000 to 253402300799999 Unix ms)"
        );
        assert!(check_time_ms("at_ms", MAX_TIME_MS + 1).is_err());
        assert!(check_time_ms("at_ms", MIN_TIME_MS - 1).is_err());
    }
}
