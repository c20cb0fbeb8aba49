//! Statutory rest days (法定节假日) of a year whose official holiday table is not published yet,
//! built from 《全国年节及纪念日放假办法》 (2024 revision), the law every annual notice applies.
//!
//! Article 2 fixes the holidays of all citizens: 元旦 (1 January), 春节 (除夕 and 正月初一 to
//! 初三, 4 days), 清明节 (the day of the 清明 solar term), 劳动节 (1–2 May), 端午节 (lunar 5/5),
//! 中秋节 (lunar 8/15) and 国庆节 (1–3 October): 13 days. Article 6 says a holiday that falls on
//! a Saturday or Sunday is made up by a day off on a working day (补假); the same holds for a
//! holiday that falls on another holiday (中秋 on 1–3 October), since each is owed in full.
//! Here a made-up day is the first weekday after the holiday that is not already off, which is
//! where every notice since 2008 has put it. What the law leaves to each notice, the weekend
//! swaps (调休) that bridge a holiday to a weekend, is unknown before publication and left out:
//! a provisional year always has exactly 13 weekday rest days.
//!
//! The lunar and solar-term dates come from `core/data/calendar/festivals.toml`, compiled in and
//! checked against an independent astronomical computation by the calendar tests.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::CalendarError;

/// What a provisional year names as its source, wherever a person reads it.
pub const PROVISIONAL_SOURCE: &str =
    "暂定：按《全国年节及纪念日放假办法》（2024年修订）法定节假日推算，不含调休";

const FESTIVALS_TOML: &str = include_str!("../../data/calendar/festivals.toml");

/// The movable holidays of one year, in China time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FestivalDates {
    pub year: i32,
    /// 除夕: the last day of the lunar year.
    pub chuxi: NaiveDate,
    /// 清明: the day of the solar term.
    pub qingming: NaiveDate,
    /// 端午节: lunar month 5, day 5.
    pub duanwu: NaiveDate,
    /// 中秋节: lunar month 8, day 15.
    pub zhongqiu: NaiveDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FestivalFile {
    year: Vec<FestivalDates>,
}

/// Every year of the shipped festival dates, ascending and contiguous; parsed once.
pub fn festival_years() -> Result<&'static [FestivalDates], CalendarError> {
    static PARSED: OnceLock<Result<Vec<FestivalDates>, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| parse_festivals(FESTIVALS_TOML))
        .as_deref()
        .map_err(|reason| CalendarError::Festivals {
            reason: reason.clone(),
        })
}

fn parse_festivals(text: &str) -> Result<Vec<FestivalDates>, String> {
    let file: FestivalFile = toml::from_str(text).map_err(|error| error.to_string())?;
    for pair in file.year.windows(2) {
        if let [a, b] = pair
            && b.year != a.year + 1
        {
            return Err(format!("year {} follows {}", b.year, a.year));
        }
    }
    for dates in &file.year {
        for (name, date) in [
            ("chuxi", dates.chuxi),
            ("qingming", dates.qingming),
            ("duanwu", dates.duanwu),
            ("zhongqiu", dates.zhongqiu),
        ] {
            if date.year() != dates.year {
                return Err(format!(
                    "{name} {date} is outside the entry's year {}",
                    dates.year
                ));
            }
        }
    }
    Ok(file.year)
}

/// The movable holidays of `year`, if the shipped data covers it.
pub fn festival_dates(year: i32) -> Result<Option<FestivalDates>, CalendarError> {
    Ok(festival_years()?
        .iter()
        .find(|dates| dates.year == year)
        .copied())
}

/// The last year the provisional calendar can be built for.
pub fn last_festival_year() -> Result<Option<i32>, CalendarError> {
    Ok(festival_years()?.last().map(|dates| dates.year))
}

/// One weekday off in a provisional year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestDay {
    pub date: NaiveDate,
    /// The holiday, as the 办法 names it (元旦, 春节, 清明节 …).
    pub holiday: &'static str,
    /// A day off in lieu (补假) of a holiday day that fell on a weekend or on another holiday.
    pub in_lieu: bool,
}

/// The weekdays off of `year` under the 办法, in date order; `None` when the shipped festival
/// dates do not cover the year.
pub fn rest_days(year: i32) -> Result<Option<Vec<RestDay>>, CalendarError> {
    let Some(festivals) = festival_dates(year)? else {
        return Ok(None);
    };
    let date = |month, day| {
        NaiveDate::from_ymd_opt(year, month, day).ok_or(CalendarError::DateOverflow {
            date: NaiveDate::MAX,
        })
    };
    let mut holidays: Vec<(NaiveDate, &'static str)> = vec![(date(1, 1)?, "元旦")];
    for offset in 0..4 {
        holidays.push((festivals.chuxi + chrono::Days::new(offset), "春节"));
    }
    holidays.push((festivals.qingming, "清明节"));
    holidays.push((date(5, 1)?, "劳动节"));
    holidays.push((date(5, 2)?, "劳动节"));
    holidays.push((festivals.duanwu, "端午节"));
    holidays.push((festivals.zhongqiu, "中秋节"));
    for day in 1..=3 {
        holidays.push((date(10, day)?, "国庆节"));
    }
    // Stable: on a shared date the holiday listed first keeps the date.
    holidays.sort_by_key(|(day, _)| *day);

    let mut off = BTreeSet::new();
    let mut days = Vec::with_capacity(holidays.len());
    let mut owed = Vec::new();
    for (day, holiday) in &holidays {
        if is_weekday(*day) && off.insert(*day) {
            days.push(RestDay {
                date: *day,
                holiday,
                in_lieu: false,
            });
        } else {
            owed.push((*day, *holiday));
        }
    }
    // Days in lieu only after every holiday day is placed, so that one never lands on a later
    // holiday of the same block (春节 on a weekend is made up after 初三, not on it).
    for (day, holiday) in owed {
        let mut candidate = day;
        loop {
            candidate = candidate
                .succ_opt()
                .ok_or(CalendarError::DateOverflow { date: candidate })?;
            if is_weekday(candidate) && !off.contains(&candidate) {
                break;
            }
        }
        off.insert(candidate);
        days.push(RestDay {
            date: candidate,
            holiday,
            in_lieu: true,
        });
    }
    days.sort_by_key(|rest| rest.date);
    Ok(Some(days))
}

fn is_weekday(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn broken_festival_data_is_named() {
        assert!(
            parse_festivals("[[year]]\nyear = 2027\nchuxi = \"2026-02-05\"\nqingming = \"2027-04-05\"\nduanwu = \"2027-06-09\"\nzhongqiu = \"2027-09-15\"\n")
                .unwrap_err()
                .contains("chuxi 2026-02-05")
        );
        let two = |second: i32| {
            format!(
                "[[year]]\nyear = 2027\nchuxi = \"2027-02-05\"\nqingming = \"2027-04-05\"\nduanwu = \"2027-06-09\"\nzhongqiu = \"2027-09-15\"\n\
                 [[year]]\nyear = {second}\nchuxi = \"{second}-01-25\"\nqingming = \"{second}-04-04\"\nduanwu = \"{second}-05-28\"\nzhongqiu = \"{second}-10-03\"\n"
            )
        };
        assert!(parse_festivals(&two(2028)).is_ok());
        assert!(
            parse_festivals(&two(2029))
                .unwrap_err()
                .contains("2029 follows 2027")
        );
        assert!(parse_festivals("[[year]]\nyear = 2027\n").is_err());
    }

    #[test]
    fn the_shipped_data_parses() {
        let years = festival_years().unwrap();
        assert!(years.first().unwrap().year <= 2027);
        assert!(years.last().unwrap().year >= 2035);
    }
}
