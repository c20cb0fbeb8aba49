//! China time (UTC+08:00 all year, no daylight saving) and RFC 3339, converted by hand: the
//! few lines of calendar arithmetic below keep the SDK free of date crates and of any clock.

/// China Standard Time is UTC+08:00 all year round.
const CHINA_OFFSET_SECONDS: i64 = 8 * 3600;
const SECONDS_PER_DAY: i64 = 86_400;

/// A calendar date and wall-clock time, without an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CivilDateTime {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl CivilDateTime {
    /// Seconds since 1970-01-01T00:00:00 on the same wall clock.
    fn to_seconds(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * SECONDS_PER_DAY
            + self.hour * 3600
            + self.minute * 60
            + self.second
    }

    fn from_seconds(seconds: i64) -> Self {
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day % 3600 / 60,
            second: second_of_day % 60,
        }
    }

    /// `yyyy-MM-dd` + `separator` + `HH:mm:ss`.
    fn format(self, separator: char) -> String {
        format!(
            "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Converts China local time as the provincial interfaces write it (`yyyy-MM-dd HH:mm:ss`, for
/// example `2026-03-10 10:00:00`) into RFC 3339 with the `+08:00` offset
/// (`2026-03-10T10:00:00+08:00`). Every field is checked, including the day of the month.
pub fn china_time_to_rfc3339(text: &str) -> Result<String, String> {
    let civil = parse_china_time(text)
        .map_err(|reason| format!("invalid china time {text:?}: {reason}"))?;
    Ok(format!("{}+08:00", civil.format('T')))
}

/// Converts an RFC 3339 instant with any offset (`Z`, `+08:00`, `-05:30` …) into China local
/// time `yyyy-MM-dd HH:mm:ss`, the `assessTime` format of the provincial interfaces.
/// Fractions of a second are dropped (the provincial format has none).
pub fn rfc3339_to_china_time(text: &str) -> Result<String, String> {
    let seconds = parse_rfc3339(text)
        .map_err(|reason| format!("invalid rfc 3339 time {text:?}: {reason}"))?;
    let civil = CivilDateTime::from_seconds(seconds + CHINA_OFFSET_SECONDS);
    if !(0..=9999).contains(&civil.year) {
        return Err(format!(
            "rfc 3339 time {text:?} falls outside the years 0000 to 9999 in china time"
        ));
    }
    Ok(civil.format(' '))
}

/// Formats a Unix time (seconds since 1970-01-01T00:00:00Z, as device clocks count) as RFC 3339
/// in China time, e.g. `1773108000` → `2026-03-10T10:00:00+08:00`. A `u32` covers every instant
/// a 32-bit device clock can hold (up to 2106), so this cannot fail.
pub fn unix_to_rfc3339_china(seconds: u32) -> String {
    let civil = CivilDateTime::from_seconds(i64::from(seconds) + CHINA_OFFSET_SECONDS);
    format!("{}+08:00", civil.format('T'))
}

/// Parses exactly `yyyy-MM-dd HH:mm:ss`.
fn parse_china_time(text: &str) -> Result<CivilDateTime, String> {
    const SHAPE: &str = "expected yyyy-MM-dd HH:mm:ss";
    let bytes = text.as_bytes();
    if bytes.len() != 19 || bytes[10] != b' ' {
        return Err(SHAPE.to_owned());
    }
    let (year, month, day) = parse_date(&bytes[..10]).ok_or(SHAPE)?;
    let (hour, minute, second) = parse_time(&bytes[11..19]).ok_or(SHAPE)?;
    validate(year, month, day, hour, minute, second)
}

/// Parses an RFC 3339 `date-time` into seconds since the Unix epoch (UTC).
fn parse_rfc3339(text: &str) -> Result<i64, String> {
    const SHAPE: &str = "expected yyyy-MM-ddTHH:mm:ss[.fraction](Z|+HH:mm|-HH:mm)";
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err(SHAPE.to_owned());
    }
    let (year, month, day) = parse_date(&bytes[..10]).ok_or(SHAPE)?;
    let (hour, minute, second) = parse_time(&bytes[11..19]).ok_or(SHAPE)?;
    let civil = validate(year, month, day, hour, minute, second)?;

    let mut rest = &bytes[19..];
    if let [b'.', fraction @ ..] = rest {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(SHAPE.to_owned());
        }
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = two_digits(*h1, *h2).ok_or(SHAPE)?;
            let minutes = two_digits(*m1, *m2).ok_or(SHAPE)?;
            if hours > 23 || minutes > 59 {
                return Err(format!("offset {hours:02}:{minutes:02} out of range"));
            }
            let magnitude = hours * 3600 + minutes * 60;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return Err(SHAPE.to_owned()),
    };
    Ok(civil.to_seconds() - offset_seconds)
}

/// `yyyy-MM-dd` → (year, month, day), digits and dashes only.
fn parse_date(bytes: &[u8]) -> Option<(i64, i64, i64)> {
    match bytes {
        [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] => Some((
            two_digits(*y1, *y2)? * 100 + two_digits(*y3, *y4)?,
            two_digits(*m1, *m2)?,
            two_digits(*d1, *d2)?,
        )),
        _ => None,
    }
}

/// `HH:mm:ss` → (hour, minute, second), digits and colons only.
fn parse_time(bytes: &[u8]) -> Option<(i64, i64, i64)> {
    match bytes {
        [h1, h2, b':', m1, m2, b':', s1, s2] => Some((
            two_digits(*h1, *h2)?,
            two_digits(*m1, *m2)?,
            two_digits(*s1, *s2)?,
        )),
        _ => None,
    }
}

fn two_digits(tens: u8, ones: u8) -> Option<i64> {
    if tens.is_ascii_digit() && ones.is_ascii_digit() {
        Some(i64::from(tens - b'0') * 10 + i64::from(ones - b'0'))
    } else {
        None
    }
}

fn validate(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Result<CivilDateTime, String> {
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} out of range"));
    }
    let last_day = days_in_month(year, month);
    if !(1..=last_day).contains(&day) {
        return Err(format!(
            "day {day} out of range for {year:04}-{month:02} (1 to {last_day})"
        ));
    }
    if hour > 23 {
        return Err(format!("hour {hour} out of range"));
    }
    if minute > 59 {
        return Err(format!("minute {minute} out of range"));
    }
    // Leap seconds (60) are refused: neither device clocks nor the provincial format have them.
    if second > 59 {
        return Err(format!("second {second} out of range"));
    }
    Ok(CivilDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    })
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_china(input: &str, expected: Result<&str, &str>) {
        let actual = china_time_to_rfc3339(input);
        assert_eq!(
            actual.as_deref(),
            expected.map_err(str::to_owned).as_deref(),
            "{input}"
        );
    }

    fn check_to_china(input: &str, expected: Result<&str, &str>) {
        let actual = rfc3339_to_china_time(input);
        assert_eq!(
            actual.as_deref(),
            expected.map_err(str::to_owned).as_deref(),
            "{input}"
        );
    }

    #[test]
    fn china_time_gets_the_china_offset() {
        check_china("2026-03-10 10:00:00", Ok("2026-03-10T10:00:00+08:00"));
        check_china("2024-02-29 23:59:59", Ok("2024-02-29T23:59:59+08:00"));
        check_china("2000-02-29 00:00:00", Ok("2000-02-29T00:00:00+08:00"));
    }

    #[test]
    fn china_time_fields_are_validated() {
        check_china(
            "2026-02-29 10:00:00",
            Err(
                "invalid china time \"2026-02-29 10:00:00\": day 29 out of range for 2026-02 (1 to 28)",
            ),
        );
        check_china(
            "1900-02-29 10:00:00",
            Err(
                "invalid china time \"1900-02-29 10:00:00\": day 29 out of range for 1900-02 (1 to 28)",
            ),
        );
        check_china(
            "2026-13-01 10:00:00",
            Err("invalid china time \"2026-13-01 10:00:00\": month 13 out of range"),
        );
        check_china(
            "2026-04-31 10:00:00",
            Err(
                "invalid china time \"2026-04-31 10:00:00\": day 31 out of range for 2026-04 (1 to 30)",
            ),
        );
        check_china(
            "2026-03-10 24:00:00",
            Err("invalid china time \"2026-03-10 24:00:00\": hour 24 out of range"),
        );
        check_china(
            "2026-03-10 10:60:00",
            Err("invalid china time \"2026-03-10 10:60:00\": minute 60 out of range"),
        );
        check_china(
            "2026-03-10 10:00:60",
            Err("invalid china time \"2026-03-10 10:00:60\": second 60 out of range"),
        );
        for shape in [
            "2026-03-10T10:00:00",
            "2026-3-10 10:00:00",
            "2026-03-10 10:00",
            "2026-03-10 10:00:00 ",
            "２026-03-10 10:00:00",
            "",
        ] {
            check_china(
                shape,
                Err(&format!(
                    "invalid china time {shape:?}: expected yyyy-MM-dd HH:mm:ss"
                )),
            );
        }
    }

    #[test]
    fn rfc3339_converts_any_offset_to_china_time() {
        check_to_china("2026-03-10T10:00:00+08:00", Ok("2026-03-10 10:00:00"));
        check_to_china("2026-03-10T02:00:00Z", Ok("2026-03-10 10:00:00"));
        check_to_china("2026-03-10t02:00:00z", Ok("2026-03-10 10:00:00"));
        check_to_china("2026-03-10 02:00:00.999Z", Ok("2026-03-10 10:00:00"));
        // Across a day, a month, a year, and a leap day.
        check_to_china("2026-03-09T20:30:00-05:30", Ok("2026-03-10 10:00:00"));
        check_to_china("2025-12-31T16:00:00Z", Ok("2026-01-01 00:00:00"));
        check_to_china("2024-02-28T16:00:00Z", Ok("2024-02-29 00:00:00"));
        check_to_china("2026-03-01T01:00:00+09:00", Ok("2026-03-01 00:00:00"));
        check_to_china("2026-03-01T00:59:59+09:00", Ok("2026-02-28 23:59:59"));
        check_to_china("1969-12-31T16:00:00Z", Ok("1970-01-01 00:00:00"));
        check_to_china("1960-06-01T00:00:00+08:00", Ok("1960-06-01 00:00:00"));
    }

    #[test]
    fn rfc3339_errors_say_what_is_wrong() {
        check_to_china(
            "2026-03-10T10:00:00",
            Err(
                "invalid rfc 3339 time \"2026-03-10T10:00:00\": expected yyyy-MM-ddTHH:mm:ss[.fraction](Z|+HH:mm|-HH:mm)",
            ),
        );
        check_to_china(
            "2026-03-10T10:00:00.+08:00",
            Err(
                "invalid rfc 3339 time \"2026-03-10T10:00:00.+08:00\": expected yyyy-MM-ddTHH:mm:ss[.fraction](Z|+HH:mm|-HH:mm)",
            ),
        );
        check_to_china(
            "2026-03-10T10:00:00+24:00",
            Err("invalid rfc 3339 time \"2026-03-10T10:00:00+24:00\": offset 24:00 out of range"),
        );
        check_to_china(
            "2026-02-30T10:00:00Z",
            Err(
                "invalid rfc 3339 time \"2026-02-30T10:00:00Z\": day 30 out of range for 2026-02 (1 to 28)",
            ),
        );
        check_to_china(
            "9999-12-31T20:00:00Z",
            Err(
                "rfc 3339 time \"9999-12-31T20:00:00Z\" falls outside the years 0000 to 9999 in china time",
            ),
        );
    }

    #[test]
    fn unix_time_is_shown_in_china_time() {
        assert_eq!(unix_to_rfc3339_china(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(
            unix_to_rfc3339_china(1_773_108_000),
            "2026-03-10T10:00:00+08:00"
        );
        assert_eq!(
            unix_to_rfc3339_china(1_709_222_399),
            "2024-02-29T23:59:59+08:00"
        );
        assert_eq!(unix_to_rfc3339_china(u32::MAX), "2106-02-07T14:28:15+08:00");
    }

    #[test]
    fn the_calendar_round_trips_day_by_day() {
        // Every day from 1900 to 2200: the day count and the date agree, and dates are
        // consecutive (catches any month-length or leap-year slip).
        let mut previous = civil_from_days(days_from_civil(1900, 1, 1) - 1);
        for days in days_from_civil(1900, 1, 1)..=days_from_civil(2200, 12, 31) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
            assert!(day >= 1 && day <= days_in_month(year, month));
            let (p_year, p_month, p_day) = previous;
            let next_expected = if p_day < days_in_month(p_year, p_month) {
                (p_year, p_month, p_day + 1)
            } else if p_month < 12 {
                (p_year, p_month + 1, 1)
            } else {
                (p_year + 1, 1, 1)
            };
            assert_eq!((year, month, day), next_expected);
            previous = (year, month, day);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 3, 10), 20_522);
    }

    #[test]
    fn china_and_rfc3339_round_trip() {
        for text in [
            "2026-03-10 10:00:00",
            "2026-12-31 23:59:59",
            "2027-01-01 00:00:00",
            "2028-02-29 08:00:00",
        ] {
            let rfc3339 = china_time_to_rfc3339(text).unwrap();
            assert_eq!(rfc3339_to_china_time(&rfc3339).unwrap(), text);
        }
    }
}
