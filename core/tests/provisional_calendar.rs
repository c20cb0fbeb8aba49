//! The provisional calendar of a year whose official holiday table is not published yet: its
//! rest days against literal lists worked out by hand from 《全国年节及纪念日放假办法》 (2024
//! revision), its festival dates against an independent astronomical computation, its rule
//! against the two published years, and the arithmetic that says when it was counted on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use hcp_core::calendar::statutory::{self, RestDay};
use hcp_core::calendar::{Calendar, CalendarError, DurationUnit};
use tyme4rs::tyme::Tyme;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn official() -> Calendar {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/calendar");
    Calendar::load_dir(&dir).unwrap()
}

fn with_provisional() -> Calendar {
    official().with_provisional().unwrap()
}

fn rest(year: i32) -> Vec<RestDay> {
    statutory::rest_days(year).unwrap().unwrap()
}

/// 2027 (1 January is a Friday): 除夕 02-05 (Fri) and 初一–初三 02-06..=02-08, the weekend two
/// made up on 02-09 and 02-10; 清明 04-05 (Mon); 劳动节 05-01/02 on a weekend, made up 05-03/04;
/// 端午 06-09 (Wed); 中秋 09-15 (Wed); 国庆 10-01 (Fri), 10-02/03 made up 10-04/05.
const REST_2027: &[(&str, &str, bool)] = &[
    ("2027-01-01", "元旦", false),
    ("2027-02-05", "春节", false),
    ("2027-02-08", "春节", false),
    ("2027-02-09", "春节", true),
    ("2027-02-10", "春节", true),
    ("2027-04-05", "清明节", false),
    ("2027-05-03", "劳动节", true),
    ("2027-05-04", "劳动节", true),
    ("2027-06-09", "端午节", false),
    ("2027-09-15", "中秋节", false),
    ("2027-10-01", "国庆节", false),
    ("2027-10-04", "国庆节", true),
    ("2027-10-05", "国庆节", true),
];

/// 2028 (a leap year; 1 January is a Saturday): 元旦 made up 01-03; 除夕 01-25 to 初三 01-28 all
/// weekdays; 清明 04-04 (Tue); 劳动节 05-01/02 (Mon, Tue); 端午 05-28 (Sun) made up 05-29; 中秋
/// falls on 10-03, the third day of 国庆 (10-01 a Sunday): both owed days made up 10-04/05.
const REST_2028: &[(&str, &str, bool)] = &[
    ("2028-01-03", "元旦", true),
    ("2028-01-25", "春节", false),
    ("2028-01-26", "春节", false),
    ("2028-01-27", "春节", false),
    ("2028-01-28", "春节", false),
    ("2028-04-04", "清明节", false),
    ("2028-05-01", "劳动节", false),
    ("2028-05-02", "劳动节", false),
    ("2028-05-29", "端午节", true),
    ("2028-10-02", "国庆节", false),
    ("2028-10-03", "中秋节", false),
    ("2028-10-04", "国庆节", true),
    ("2028-10-05", "国庆节", true),
];

fn literal(list: &[(&str, &str, bool)]) -> Vec<(NaiveDate, &'static str, bool)> {
    list.iter()
        .map(|(day, holiday, in_lieu)| {
            let holiday: &'static str = match *holiday {
                "元旦" => "元旦",
                "春节" => "春节",
                "清明节" => "清明节",
                "劳动节" => "劳动节",
                "端午节" => "端午节",
                "中秋节" => "中秋节",
                "国庆节" => "国庆节",
                other => panic!("unknown holiday {other}"),
            };
            (date(day), holiday, *in_lieu)
        })
        .collect()
}

fn listed(days: &[RestDay]) -> Vec<(NaiveDate, &'static str, bool)> {
    days.iter()
        .map(|day| (day.date, day.holiday, day.in_lieu))
        .collect()
}

#[test]
fn rest_days_of_2027_and_2028_match_the_law_worked_by_hand() {
    assert_eq!(listed(&rest(2027)), literal(REST_2027));
    assert_eq!(listed(&rest(2028)), literal(REST_2028));
    // 2027 has 261 weekdays, 2028 has 260: 13 fewer working days each.
    let calendar = with_provisional();
    assert_eq!(calendar.working_days_in_year(2027).unwrap(), 248);
    assert_eq!(calendar.working_days_in_year(2028).unwrap(), 247);
    for (day, _, _) in literal(REST_2027).into_iter().chain(literal(REST_2028)) {
        assert!(!calendar.reckon_working_day(day).unwrap().value, "{day}");
    }
    // No swaps: the weekends around 春节 2027 stay off, the weekdays next to it stay working.
    assert!(
        !calendar
            .reckon_working_day(date("2027-02-06"))
            .unwrap()
            .value
    );
    assert!(
        calendar
            .reckon_working_day(date("2027-02-11"))
            .unwrap()
            .value
    );
    assert!(
        calendar
            .reckon_working_day(date("2027-02-04"))
            .unwrap()
            .value
    );
}

#[test]
fn every_provisional_year_has_the_thirteen_statutory_weekdays_off() {
    let years = statutory::festival_years().unwrap();
    assert!(years.first().unwrap().year <= 2027 && years.last().unwrap().year >= 2035);
    for dates in years {
        let days = rest(dates.year);
        assert_eq!(days.len(), 13, "{}: {days:?}", dates.year);
        let unique: BTreeSet<NaiveDate> = days.iter().map(|day| day.date).collect();
        assert_eq!(unique.len(), 13, "{}", dates.year);
        for day in &days {
            assert_eq!(day.date.year(), dates.year);
            assert!(
                !matches!(day.date.weekday(), Weekday::Sat | Weekday::Sun),
                "{day:?}"
            );
        }
        // The holidays named by the 办法, each with its days (made-up days included).
        for (holiday, count) in [
            ("元旦", 1),
            ("春节", 4),
            ("清明节", 1),
            ("劳动节", 2),
            ("端午节", 1),
            ("中秋节", 1),
            ("国庆节", 3),
        ] {
            assert_eq!(
                days.iter().filter(|day| day.holiday == holiday).count(),
                count,
                "{} {holiday}",
                dates.year
            );
        }
    }
}

/// The published notices of 2025 and 2026 give every statutory weekday off and every day made
/// up: the provisional rule, applied to those years, names only days that really were off.
#[test]
fn the_rule_agrees_with_the_published_years() {
    let calendar = official();
    for year in [2025, 2026] {
        for day in rest(year) {
            assert!(
                !calendar.is_working_day(day.date).unwrap(),
                "{year}: {day:?} was a working day in the official table"
            );
        }
    }
}

/// Every date of the shipped festival file against tyme4rs' astronomical computation (寿星
/// algorithms): 除夕 is the day before 正月初一, 清明 the solar term's day in China time.
#[test]
fn festival_dates_agree_with_an_astronomical_computation() {
    let show = |day: tyme4rs::tyme::solar::SolarDay| {
        date(&format!(
            "{:04}-{:02}-{:02}",
            day.get_year(),
            day.get_month(),
            day.get_day()
        ))
    };
    for dates in statutory::festival_years().unwrap() {
        let year = dates.year as isize;
        let spring = tyme4rs::tyme::lunar::LunarDay::from_ymd(year, 1, 1).get_solar_day();
        assert_eq!(dates.chuxi, show(spring.next(-1)), "{year} 除夕");
        let qingming = tyme4rs::tyme::solar::SolarTerm::from_name(year, "清明")
            .get_julian_day()
            .get_solar_day();
        assert_eq!(dates.qingming, show(qingming), "{year} 清明");
        let duanwu = tyme4rs::tyme::lunar::LunarDay::from_ymd(year, 5, 5).get_solar_day();
        assert_eq!(dates.duanwu, show(duanwu), "{year} 端午");
        let zhongqiu = tyme4rs::tyme::lunar::LunarDay::from_ymd(year, 8, 15).get_solar_day();
        assert_eq!(dates.zhongqiu, show(zhongqiu), "{year} 中秋");
    }
    // And the dates the issue names for 2027.
    let dates = statutory::festival_dates(2027).unwrap().unwrap();
    assert_eq!(
        (dates.chuxi, dates.qingming, dates.duanwu, dates.zhongqiu),
        (
            date("2027-02-05"),
            date("2027-04-05"),
            date("2027-06-09"),
            date("2027-09-15")
        )
    );
}

#[test]
fn answers_say_when_they_were_counted_on_a_provisional_year() {
    let calendar = with_provisional();
    assert_eq!(calendar.last_year(), 2026);
    assert_eq!(
        calendar.provisional_years().map(|(first, _)| first),
        Some(2027)
    );
    assert!(calendar.is_provisional(2027) && !calendar.is_provisional(2026));
    assert!(
        calendar.version().starts_with("2025-2026+"),
        "{}",
        calendar.version()
    );
    assert_ne!(calendar.version(), official().version());
    assert!(calendar.source(2027).unwrap().starts_with("暂定"));

    // Inside the official tables: exact.
    let inside = calendar
        .reckon_due(
            instant("2026-12-04T10:00:00+08:00"),
            15,
            DurationUnit::WorkingDays,
        )
        .unwrap();
    assert_eq!(inside.value, instant("2026-12-26T00:00:00+08:00"));
    assert!(inside.is_exact());
    // Across the year end: provisional, naming the year.
    let across = calendar
        .reckon_due(
            instant("2026-12-04T10:00:00+08:00"),
            20,
            DurationUnit::WorkingDays,
        )
        .unwrap();
    assert_eq!(across.value, instant("2027-01-05T00:00:00+08:00"));
    assert_eq!(across.provisional, Some(2027));
    // Hours and natural days never need a table.
    let hours = calendar
        .reckon_due(instant("2026-12-31T20:00:00+08:00"), 8, DurationUnit::Hours)
        .unwrap();
    assert!(hours.is_exact());
    // The plain methods still refuse to guess.
    assert!(matches!(
        calendar.add_working_days(instant("2026-12-04T10:00:00+08:00"), 20),
        Err(CalendarError::YearNotLoaded { year: 2027 })
    ));
    assert!(calendar.is_working_day(date("2027-01-04")).is_err());
    let between = calendar
        .reckon_working_days_between(date("2026-12-30"), date("2027-01-05"))
        .unwrap();
    // 12-31, 01-04, 01-05 (01-01 is 元旦, 01-02/03 a weekend).
    assert_eq!((between.value, between.provisional), (3, Some(2027)));
    // Beyond the shipped festival dates nothing is guessed at all.
    let last = statutory::last_festival_year().unwrap().unwrap();
    assert!(matches!(
        calendar.reckon_working_day(NaiveDate::from_ymd_opt(last + 1, 3, 1).unwrap()),
        Err(CalendarError::YearNotLoaded { .. })
    ));
}

#[test]
fn an_official_table_takes_the_place_of_the_provisional_year() {
    let tables = [
        (
            "2026.toml",
            "year = 2026\nsource = \"test\"\noff = []\nmakeup = []\nworking_days = 261\n",
        ),
        (
            "2027.toml",
            "year = 2027\nsource = \"test\"\noff = [\"2027-01-01\"]\nmakeup = []\nworking_days = 260\n",
        ),
    ];
    let calendar = Calendar::from_toml_tables(tables)
        .unwrap()
        .with_provisional()
        .unwrap();
    assert_eq!(calendar.last_year(), 2027);
    assert_eq!(
        calendar.provisional_years().map(|(first, _)| first),
        Some(2028)
    );
    assert_eq!(calendar.source(2027), Some("test"));
    let due = calendar
        .reckon_due(
            instant("2026-12-04T10:00:00+08:00"),
            20,
            DurationUnit::WorkingDays,
        )
        .unwrap();
    assert!(due.is_exact());
}

#[test]
fn the_alarm_starts_on_the_first_of_november() {
    let calendar = official();
    assert_eq!(calendar.missing_table(date("2026-10-31")), None);
    assert_eq!(calendar.missing_table(date("2026-11-01")), Some(2027));
    assert_eq!(calendar.missing_table(date("2026-12-04")), Some(2027));
    assert_eq!(calendar.missing_table(date("2027-03-01")), Some(2027));
    // Provisional years do not silence it: only an official table does.
    assert_eq!(
        with_provisional().missing_table(date("2026-12-04")),
        Some(2027)
    );
    // At today's date it is either due or not, but never names a year already loaded.
    let today = hcp_core::calendar::local_date(Utc::now());
    if let Some(year) = calendar.missing_table(today) {
        assert!(year > calendar.last_year());
    }
}
