//! The shipped holiday tables (`rules/calendar/`) checked date by date against the State Council
//! notices for 2025 and 2026, typed in below as literals so that a wrong TOML file cannot make its
//! own expectations pass. Expected deadlines were worked out by hand from these lists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use hcp_core::calendar::{
    CHINA_OFFSET_SECS, Calendar, CalendarError, DurationUnit, china_tz, day_start, local_date,
};

/// 国办发明电〔2024〕12号: Monday-Friday dates that are off.
const OFF_2025: &[&str] = &[
    "2025-01-01", //
    "2025-01-28",
    "2025-01-29",
    "2025-01-30",
    "2025-01-31",
    "2025-02-03",
    "2025-02-04", //
    "2025-04-04", //
    "2025-05-01",
    "2025-05-02",
    "2025-05-05", //
    "2025-06-02", //
    "2025-10-01",
    "2025-10-02",
    "2025-10-03",
    "2025-10-06",
    "2025-10-07",
    "2025-10-08",
];
/// 国办发明电〔2024〕12号: weekend dates that are working days (调休上班).
const MAKEUP_2025: &[&str] = &[
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
];
/// 2026 notice (2025-11-04): Monday-Friday dates that are off.
const OFF_2026: &[&str] = &[
    "2026-01-01",
    "2026-01-02", //
    "2026-02-16",
    "2026-02-17",
    "2026-02-18",
    "2026-02-19",
    "2026-02-20",
    "2026-02-23", //
    "2026-04-06", //
    "2026-05-01",
    "2026-05-04",
    "2026-05-05", //
    "2026-06-19", //
    "2026-09-25", //
    "2026-10-01",
    "2026-10-02",
    "2026-10-05",
    "2026-10-06",
    "2026-10-07",
];
/// 2026 notice (2025-11-04): weekend dates that are working days.
const MAKEUP_2026: &[&str] = &[
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
];

/// Holiday blocks as the notices state them (放假, weekends included): (name, first, last).
const BLOCKS: &[(&str, &str, &str)] = &[
    ("2025 元旦", "2025-01-01", "2025-01-01"),
    ("2025 春节", "2025-01-28", "2025-02-04"),
    ("2025 清明", "2025-04-04", "2025-04-06"),
    ("2025 劳动节", "2025-05-01", "2025-05-05"),
    ("2025 端午", "2025-05-31", "2025-06-02"),
    ("2025 国庆+中秋", "2025-10-01", "2025-10-08"),
    ("2026 元旦", "2026-01-01", "2026-01-03"),
    ("2026 春节", "2026-02-15", "2026-02-23"),
    ("2026 清明", "2026-04-04", "2026-04-06"),
    ("2026 劳动节", "2026-05-01", "2026-05-05"),
    ("2026 端午", "2026-06-19", "2026-06-21"),
    ("2026 中秋", "2026-09-25", "2026-09-27"),
    ("2026 国庆", "2026-10-01", "2026-10-07"),
];

fn cal() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/calendar");
        Calendar::load_dir(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
    })
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn set(dates: &[&[&str]]) -> BTreeSet<NaiveDate> {
    dates
        .iter()
        .flat_map(|l| l.iter())
        .map(|s| date(s))
        .collect()
}

/// The notices' rule, built from the literals above only.
fn official_is_working(d: NaiveDate) -> bool {
    static OFF: OnceLock<BTreeSet<NaiveDate>> = OnceLock::new();
    static MAKEUP: OnceLock<BTreeSet<NaiveDate>> = OnceLock::new();
    let off = OFF.get_or_init(|| set(&[OFF_2025, OFF_2026]));
    let makeup = MAKEUP.get_or_init(|| set(&[MAKEUP_2025, MAKEUP_2026]));
    makeup.contains(&d)
        || (!matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !off.contains(&d))
}

fn days(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first.iter_days().take_while(move |d| *d <= last)
}

/// 00:00 China time of the day after `d`, built with chrono alone rather than the module's helpers.
fn close_of(d: NaiveDate) -> DateTime<Utc> {
    let next = d.succ_opt().unwrap();
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .from_local_datetime(&next.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn literal_lists_are_self_consistent() {
    // Guards the typing of the literals themselves: the notices' own counts and weekday claims.
    assert_eq!((OFF_2025.len(), MAKEUP_2025.len()), (18, 5));
    assert_eq!((OFF_2026.len(), MAKEUP_2026.len()), (19, 6));
    for d in set(&[OFF_2025, OFF_2026]) {
        assert!(
            !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
            "off {d} is a weekend"
        );
    }
    for d in set(&[MAKEUP_2025, MAKEUP_2026]) {
        assert!(
            matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
            "makeup {d} is a weekday"
        );
    }
}

#[test]
fn loads_both_years() {
    let cal = cal();
    assert_eq!(cal.years(), vec![2025, 2026]);
    assert_eq!((cal.first_year(), cal.last_year()), (2025, 2026));
    assert!(cal.version().starts_with("2025-2026:"), "{}", cal.version());
    assert_eq!(cal.version(), cal.clone().version());
}

#[test]
fn calendar_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Calendar>();
}

#[test]
fn every_date_matches_the_official_predicate() {
    let cal = cal();
    let mut checked = 0;
    for d in days(date("2025-01-01"), date("2026-12-31")) {
        assert_eq!(
            cal.is_working_day(d).unwrap(),
            official_is_working(d),
            "{d} ({})",
            d.weekday()
        );
        checked += 1;
    }
    assert_eq!(checked, 365 + 365);
}

#[test]
fn each_year_has_248_working_days() {
    let cal = cal();
    for year in [2025, 2026] {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap();
        let by_predicate = days(first, last)
            .filter(|d| cal.is_working_day(*d).unwrap())
            .count();
        assert_eq!(by_predicate, 248, "{year}");
        assert_eq!(cal.working_days_in_year(year).unwrap(), 248, "{year}");
        let before = first.pred_opt().unwrap();
        // (2024-12-31, 2025-12-31] only touches 2025, so it needs no 2024 table.
        assert_eq!(
            cal.working_days_between(before, last).unwrap(),
            248,
            "{year}"
        );
    }
}

#[test]
fn every_makeup_weekend_is_a_working_day() {
    let cal = cal();
    for d in set(&[MAKEUP_2025, MAKEUP_2026]) {
        assert!(
            cal.is_working_day(d).unwrap(),
            "调休 {d} should be a working day"
        );
    }
}

#[test]
fn every_holiday_block_is_off_and_bounded_by_working_days() {
    let cal = cal();
    for (name, first, last) in BLOCKS {
        let (first, last) = (date(first), date(last));
        for d in days(first, last) {
            assert!(!cal.is_working_day(d).unwrap(), "{name}: {d} should be off");
        }
        // The block is exactly as long as the notice says: the neighbours work (2024 is not loaded).
        for edge in [first.pred_opt().unwrap(), last.succ_opt().unwrap()] {
            if edge.year() >= 2025 {
                assert!(
                    cal.is_working_day(edge).unwrap(),
                    "{name}: {edge} should be a working day"
                );
            }
        }
    }
}

#[test]
fn spring_festival_2026_is_nine_days_off() {
    let cal = cal();
    let block: Vec<NaiveDate> = days(date("2026-02-15"), date("2026-02-23")).collect();
    assert_eq!(block.len(), 9);
    assert!(block.iter().all(|d| !cal.is_working_day(*d).unwrap()));
    assert!(
        cal.is_working_day(date("2026-02-14")).unwrap(),
        "调休 Saturday before"
    );
    assert!(
        cal.is_working_day(date("2026-02-24")).unwrap(),
        "first day back"
    );
    assert!(
        cal.is_working_day(date("2026-02-28")).unwrap(),
        "调休 Saturday after"
    );
    assert!(
        !cal.is_working_day(date("2026-03-01")).unwrap(),
        "ordinary Sunday"
    );
}

/// (trigger, n, China-time date of the nth working day). The due instant is always the close of
/// that date; the trigger's own date never counts.
const WORKING_DAY_CASES: &[(&str, u32, &str)] = &[
    // Across the 2025 Spring Festival (off 01-28..=02-04, 调休 01-26 Sun and 02-08 Sat).
    ("2025-01-27T10:00:00+08:00", 1, "2025-02-05"),
    ("2025-01-27T10:00:00+08:00", 3, "2025-02-07"),
    ("2025-01-27T10:00:00+08:00", 4, "2025-02-08"),
    ("2025-01-27T10:00:00+08:00", 5, "2025-02-10"),
    ("2025-01-24T09:00:00+08:00", 1, "2025-01-26"),
    ("2025-01-24T09:00:00+08:00", 2, "2025-01-27"),
    ("2025-01-24T09:00:00+08:00", 3, "2025-02-05"),
    ("2025-01-20T09:00:00+08:00", 15, "2025-02-14"),
    // Across the 2026 nine-day Spring Festival.
    ("2026-02-10T14:00:00+08:00", 15, "2026-03-09"),
    // Starting on a 调休 Saturday: it is a working day, but the trigger day never counts.
    ("2025-02-08T11:00:00+08:00", 1, "2025-02-10"),
    ("2025-02-08T11:00:00+08:00", 5, "2025-02-14"),
    ("2026-02-14T11:00:00+08:00", 1, "2026-02-24"),
    ("2026-02-14T11:00:00+08:00", 4, "2026-02-27"),
    ("2026-02-14T11:00:00+08:00", 5, "2026-02-28"),
    ("2026-02-14T11:00:00+08:00", 6, "2026-03-02"),
    // Starting on a holiday.
    ("2026-02-18T08:00:00+08:00", 1, "2026-02-24"),
    ("2026-02-18T08:00:00+08:00", 3, "2026-02-26"),
    ("2025-10-03T08:00:00+08:00", 1, "2025-10-09"),
    ("2025-10-03T08:00:00+08:00", 2, "2025-10-10"),
    ("2025-10-03T08:00:00+08:00", 3, "2025-10-11"),
    ("2025-10-03T08:00:00+08:00", 4, "2025-10-13"),
    // Across 国庆+中秋 2025 (off 10-01..=10-08, 调休 09-28 Sun and 10-11 Sat).
    ("2025-09-26T16:00:00+08:00", 1, "2025-09-28"),
    ("2025-09-26T16:00:00+08:00", 2, "2025-09-29"),
    ("2025-09-26T16:00:00+08:00", 3, "2025-09-30"),
    ("2025-09-26T16:00:00+08:00", 4, "2025-10-09"),
    ("2025-09-26T16:00:00+08:00", 5, "2025-10-10"),
    ("2025-09-26T16:00:00+08:00", 6, "2025-10-11"),
    ("2025-09-26T16:00:00+08:00", 7, "2025-10-13"),
    ("2025-09-30T09:00:00+08:00", 1, "2025-10-09"),
    ("2025-09-30T09:00:00+08:00", 15, "2025-10-28"),
    // Across 中秋 and 国庆 2026 (off 09-25, 10-01..=10-07, 调休 09-20 Sun and 10-10 Sat).
    ("2026-09-18T09:00:00+08:00", 1, "2026-09-20"),
    ("2026-09-18T09:00:00+08:00", 5, "2026-09-24"),
    ("2026-09-18T09:00:00+08:00", 6, "2026-09-28"),
    ("2026-09-18T09:00:00+08:00", 8, "2026-09-30"),
    ("2026-09-18T09:00:00+08:00", 9, "2026-10-08"),
    ("2026-09-30T09:00:00+08:00", 1, "2026-10-08"),
    ("2026-09-30T09:00:00+08:00", 2, "2026-10-09"),
    ("2026-09-30T09:00:00+08:00", 3, "2026-10-10"),
    ("2026-09-30T09:00:00+08:00", 4, "2026-10-12"),
    ("2026-09-30T09:00:00+08:00", 5, "2026-10-13"),
    // Smaller holidays.
    ("2025-04-03T09:00:00+08:00", 1, "2025-04-07"),
    ("2025-04-25T09:00:00+08:00", 1, "2025-04-27"),
    ("2025-04-25T09:00:00+08:00", 5, "2025-05-06"),
    ("2025-05-30T09:00:00+08:00", 1, "2025-06-03"),
    ("2026-04-30T09:00:00+08:00", 1, "2026-05-06"),
    ("2026-04-30T09:00:00+08:00", 3, "2026-05-08"),
    ("2026-04-30T09:00:00+08:00", 4, "2026-05-09"),
    ("2026-04-30T09:00:00+08:00", 5, "2026-05-11"),
    // Across the year boundary into 2026 元旦 (off 01-01..=01-03, 调休 01-04 Sun).
    ("2025-12-31T09:00:00+08:00", 1, "2026-01-04"),
    ("2025-12-31T09:00:00+08:00", 2, "2026-01-05"),
    // The last working day that can be reached without a 2027 table.
    ("2026-12-24T09:00:00+08:00", 5, "2026-12-31"),
    // The trigger date is never consulted, so a 2024 trigger whose walk stays in 2025 works.
    ("2024-12-31T09:00:00+08:00", 1, "2025-01-02"),
    // Late evening China time: 23:30 +08:00 is 15:30 UTC on the same date.
    ("2025-09-28T15:30:00Z", 1, "2025-09-29"),
    ("2025-01-27T15:30:00Z", 1, "2025-02-05"),
    ("2025-09-30T15:59:59Z", 1, "2025-10-09"),
    // Just after midnight China time, still the previous date in UTC: the China date counts.
    // 2025-09-28T16:05Z is Monday 09-29 in China; by the UTC date (调休 Sunday) it would be 09-29.
    ("2025-09-28T16:05:00Z", 1, "2025-09-30"),
    ("2025-09-30T16:00:00Z", 1, "2025-10-09"),
    ("2026-02-13T16:30:00Z", 1, "2026-02-24"),
    // n = 0: the close of the trigger's own date, holiday or not.
    ("2025-10-01T10:00:00+08:00", 0, "2025-10-01"),
    ("2025-09-30T16:30:00Z", 0, "2025-10-01"),
    ("2026-12-31T15:30:00Z", 0, "2026-12-31"),
];

#[test]
fn add_working_days_matches_hand_computed_table() {
    let cal = cal();
    for &(trigger, n, nth) in WORKING_DAY_CASES {
        let t = instant(trigger);
        let want = close_of(date(nth));
        assert_eq!(
            cal.add_working_days(t, n).unwrap(),
            want,
            "{trigger} + {n} 工作日"
        );
        assert_eq!(
            cal.due(t, n, DurationUnit::WorkingDays).unwrap(),
            want,
            "{trigger} due {n}"
        );
        assert_eq!(
            cal.nth_working_day_after(local_date(t), n).unwrap(),
            date(nth),
            "{trigger} + {n}"
        );
        if n > 0 {
            assert!(
                official_is_working(date(nth)),
                "table error: {nth} is not a working day"
            );
        }
    }
}

#[test]
fn explicit_instants_for_time_zone_edges() {
    let cal = cal();
    // (trigger, n, due) with the due instant spelled out in UTC.
    let cases = [
        ("2025-01-27T23:30:00+08:00", 1, "2025-02-05T16:00:00Z"),
        ("2025-09-29T00:05:00+08:00", 1, "2025-09-30T16:00:00Z"),
        ("2025-09-28T23:30:00+08:00", 1, "2025-09-29T16:00:00Z"),
        ("2025-10-01T10:00:00+08:00", 0, "2025-10-01T16:00:00Z"),
    ];
    for (trigger, n, due) in cases {
        assert_eq!(
            cal.add_working_days(instant(trigger), n).unwrap(),
            instant(due),
            "{trigger}"
        );
    }
}

#[test]
fn nth_working_day_agrees_with_the_predicate_everywhere() {
    // Walk from every date of both years with the literal predicate and compare.
    let cal = cal();
    for start in days(date("2025-01-01"), date("2026-12-31")) {
        for n in [1u32, 2, 5, 10, 15] {
            let mut d = start;
            let mut left = n;
            let mut expected = None;
            while left > 0 {
                d = d.succ_opt().unwrap();
                if d.year() > 2026 {
                    break;
                }
                if official_is_working(d) {
                    left -= 1;
                }
            }
            if left == 0 {
                expected = Some(d);
            }
            match (cal.nth_working_day_after(start, n), expected) {
                (Ok(got), Some(want)) => {
                    assert_eq!(got, want, "{start} + {n}");
                    assert_eq!(
                        cal.working_days_between(start, got).unwrap(),
                        n,
                        "{start}..{got}"
                    );
                }
                (Err(e), None) => assert!(e.to_string().contains("2027"), "{start} + {n}: {e}"),
                (got, want) => panic!("{start} + {n}: got {got:?}, want {want:?}"),
            }
        }
    }
}

#[test]
fn walks_into_2027_are_refused() {
    let cal = cal();
    let cases = [
        ("2026-12-24T09:00:00+08:00", 6),
        ("2026-12-31T09:00:00+08:00", 1),
        ("2026-12-31T16:30:00Z", 1), // already 2027-01-01 in China
        ("2026-06-01T09:00:00+08:00", 400),
    ];
    for (trigger, n) in cases {
        let err = cal.add_working_days(instant(trigger), n).unwrap_err();
        assert!(
            matches!(err, CalendarError::YearNotLoaded { year: 2027 }),
            "{trigger}: {err:?}"
        );
        assert!(err.to_string().contains("2027"), "{trigger}: {err}");
        let err = cal
            .due(instant(trigger), n, DurationUnit::WorkingDays)
            .unwrap_err();
        assert!(err.to_string().contains("2027"), "{trigger}: {err}");
    }
    let err = cal.is_working_day(date("2027-01-01")).unwrap_err();
    assert!(err.to_string().contains("2027"), "{err}");
}

#[test]
fn dates_in_2024_are_refused() {
    let cal = cal();
    for d in ["2024-12-31", "2024-06-01", "2024-01-01"] {
        let err = cal.is_working_day(date(d)).unwrap_err();
        assert!(
            matches!(err, CalendarError::YearNotLoaded { year: 2024 }),
            "{d}: {err:?}"
        );
        assert!(err.to_string().contains("2024"), "{d}: {err}");
    }
    let err = cal
        .add_working_days(instant("2024-06-01T09:00:00+08:00"), 1)
        .unwrap_err();
    assert!(err.to_string().contains("2024"), "{err}");
    let err = cal
        .working_days_between(date("2024-12-30"), date("2025-01-02"))
        .unwrap_err();
    assert!(err.to_string().contains("2024"), "{err}");
}

#[test]
fn working_days_between_matches_hand_counts() {
    let cal = cal();
    // (from, to, working days in (from, to]).
    let cases = [
        ("2025-01-27", "2025-02-05", 1),
        ("2025-01-27", "2025-02-10", 5),
        ("2025-09-30", "2025-10-31", 18),
        ("2026-02-13", "2026-02-28", 6),
        ("2025-12-30", "2026-01-05", 3),
        ("2024-12-31", "2025-12-31", 248),
        ("2025-12-31", "2026-12-31", 248),
        ("2024-12-31", "2026-12-31", 496),
        ("2025-02-05", "2025-02-05", 0),
        ("2025-02-10", "2025-02-05", 0),
        ("2026-02-14", "2026-02-23", 0),
    ];
    for (from, to, want) in cases {
        assert_eq!(
            cal.working_days_between(date(from), date(to)).unwrap(),
            want,
            "({from}, {to}]"
        );
    }
    let err = cal
        .working_days_between(date("2026-06-01"), date("2027-01-04"))
        .unwrap_err();
    assert!(err.to_string().contains("2027"), "{err}");
}

#[test]
fn natural_days_and_hours_ignore_the_tables() {
    let cal = cal();
    // (trigger, amount, unit, due)
    let cases = [
        (
            "2025-01-27T23:30:00+08:00",
            7,
            DurationUnit::NaturalDays,
            "2025-02-04T00:00:00+08:00",
        ),
        (
            "2025-01-27T23:30:00+08:00",
            0,
            DurationUnit::NaturalDays,
            "2025-01-28T00:00:00+08:00",
        ),
        (
            "2025-09-28T16:05:00Z",
            1,
            DurationUnit::NaturalDays,
            "2025-10-01T00:00:00+08:00",
        ),
        (
            "2025-01-27T23:30:00+08:00",
            24,
            DurationUnit::Hours,
            "2025-01-28T23:30:00+08:00",
        ),
        (
            "2025-01-27T23:30:00+08:00",
            0,
            DurationUnit::Hours,
            "2025-01-27T23:30:00+08:00",
        ),
        // Beyond the loaded years: natural time needs no holiday table.
        (
            "2027-03-01T10:00:00+08:00",
            3,
            DurationUnit::NaturalDays,
            "2027-03-05T00:00:00+08:00",
        ),
        (
            "2026-12-31T20:00:00+08:00",
            48,
            DurationUnit::Hours,
            "2027-01-02T20:00:00+08:00",
        ),
    ];
    for (trigger, amount, unit, due) in cases {
        let t = instant(trigger);
        assert_eq!(
            cal.due(t, amount, unit).unwrap(),
            instant(due),
            "{trigger} + {amount} {unit:?}"
        );
    }
    assert_eq!(
        Calendar::add_natural_days(instant("2026-02-15T12:00:00+08:00"), 1),
        instant("2026-02-17T00:00:00+08:00")
    );
    assert_eq!(
        Calendar::add_hours(instant("2026-02-15T12:00:00+08:00"), 1),
        instant("2026-02-15T13:00:00+08:00")
    );
}

#[test]
fn china_time_helpers() {
    assert_eq!(CHINA_OFFSET_SECS, 28_800);
    assert_eq!(china_tz().local_minus_utc(), 28_800);
    let cases = [
        ("2025-09-28T15:59:59Z", "2025-09-28"),
        ("2025-09-28T16:00:00Z", "2025-09-29"),
        ("2025-12-31T16:00:00Z", "2026-01-01"),
        ("2026-01-01T00:00:00+08:00", "2026-01-01"),
    ];
    for (at, d) in cases {
        assert_eq!(local_date(instant(at)), date(d), "{at}");
    }
    assert_eq!(
        day_start(date("2026-01-01")),
        instant("2025-12-31T16:00:00Z")
    );
    assert_eq!(
        day_start(date("2026-02-24")) + TimeDelta::days(1),
        close_of(date("2026-02-24"))
    );
}

#[test]
fn duration_unit_serde_names() {
    // The enum is configured from TOML policies, so its spelling is part of the contract.
    #[derive(serde::Deserialize)]
    struct P {
        unit: DurationUnit,
    }
    for (text, unit) in [
        ("working_days", DurationUnit::WorkingDays),
        ("natural_days", DurationUnit::NaturalDays),
        ("hours", DurationUnit::Hours),
    ] {
        let p: P = toml::from_str(&format!("unit = \"{text}\"")).unwrap();
        assert_eq!(p.unit, unit);
    }
}

#[test]
fn load_dir_reports_the_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/calendar/2025.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("2025.toml"), &good).unwrap();
    std::fs::write(dir.path().join("README.md"), "not a table").unwrap();
    assert_eq!(Calendar::load_dir(dir.path()).unwrap().years(), vec![2025]);

    let bad = good.replace("\"2025-06-02\"", "\"2025-05-31\"");
    std::fs::write(
        dir.path().join("2026.toml"),
        bad.replace("year = 2025", "year = 2026"),
    )
    .unwrap();
    let err = Calendar::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("2026.toml"), "{err}");

    std::fs::write(dir.path().join("2026.toml"), &bad).unwrap();
    let err = Calendar::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("2026.toml") && err.contains("2025-05-31"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    assert!(Calendar::load_dir(empty.path()).is_err());
    assert!(Calendar::load_dir(&empty.path().join("missing")).is_err());
}
