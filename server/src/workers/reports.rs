//! The report scheduler: which reports fall due on a day, and generating each once for the root
//! region and every county, catching up the days the platform was down. The sweep runs it.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use hcp_core::assessment::Period;
use hcp_core::calendar::local_date;
use hcp_core::model::OrgKind;
use hcp_core::store::Dim;

use crate::app::reports::{ReportKind, generate_stored};
use crate::app::work::SweepReport;
use crate::app::{AppError, Platform};

/// The reports falling due on a China date: the previous month's bulletin on the 1st, the
/// half-year's report on 06-30 and 12-30.
pub fn due_on(day: NaiveDate) -> Vec<(ReportKind, String)> {
    let mut due = Vec::new();
    if day.day() == 1 {
        due.push((ReportKind::Bulletin, Period::previous_month(day)));
    }
    match (day.month(), day.day()) {
        (6, 30) => due.push((ReportKind::Semiannual, format!("{}-H1", day.year()))),
        (12, 30) => due.push((ReportKind::Semiannual, format!("{}-H2", day.year()))),
        _ => {}
    }
    due
}

/// The regions reports are scheduled for: the root of the org tree and every county under it.
/// Blocking.
fn scheduled_scopes(platform: &Platform) -> Result<Vec<String>, AppError> {
    let Some(root) = platform.root_unit()? else {
        return Ok(Vec::new());
    };
    let store = &platform.store;
    let mut scopes = vec![root.clone()];
    for unit in store.org_units()? {
        if unit.kind == OrgKind::County
            && unit.id != root
            && store.within(Dim::Region, &unit.id, &root)?
        {
            scopes.push(unit.id);
        }
    }
    Ok(scopes)
}

/// Reports whose day fell in `since..=today`, oldest first, each once.
pub fn due_between(since: NaiveDate, today: NaiveDate) -> Vec<(ReportKind, String)> {
    let mut due = Vec::new();
    for day in since.iter_days().take_while(|day| *day <= today) {
        for report in due_on(day) {
            if !due.contains(&report) {
                due.push(report);
            }
        }
    }
    due
}

/// How far back a sweep catches up reports whose day passed while the platform was down.
const CATCH_UP_DAYS: u64 = 366;

/// The scheduled reports for the root region and each county, each generated once: those due
/// on the China date of `as_of`, and those whose day passed while the platform was down (since
/// its first recorded event, at most a year back), so a restart after the 1st still produces
/// last month's bulletin. Called by every sweep; a report that fails is named in the sweep's
/// errors and tried again by the next sweep. Blocking.
pub fn run_schedule(
    platform: &Platform,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    use hcp_core::store::EventLog as _;
    let today = local_date(as_of);
    let Some(first) = platform
        .store
        .read_after(0, 1)?
        .first()
        .map(|entry| local_date(entry.at))
    else {
        return Ok(());
    };
    let since = first.max(today - chrono::Days::new(CATCH_UP_DAYS));
    let due = due_between(since, today);
    if due.is_empty() {
        return Ok(());
    }
    let scopes = scheduled_scopes(platform).map_err(|error| anyhow::anyhow!("{error}"))?;
    for (kind, period) in due {
        for scope in &scopes {
            match generate_stored(platform, kind, &period, scope, as_of) {
                Ok(true) => report.reports_generated += 1,
                Ok(false) => {}
                Err(error) => {
                    report.fail(format!("report {} {period} of {scope}", kind.slug()), error)
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
    }

    #[test]
    fn reports_fall_due_on_the_first_and_on_june_and_december_30() {
        let check = |date: NaiveDate, expected: &[(ReportKind, &str)]| {
            let due = due_on(date);
            let due: Vec<(ReportKind, &str)> = due
                .iter()
                .map(|(kind, period)| (*kind, period.as_str()))
                .collect();
            assert_eq!(due, expected, "{date}");
        };
        check(day(2026, 12, 1), &[(ReportKind::Bulletin, "2026-11")]);
        check(day(2027, 1, 1), &[(ReportKind::Bulletin, "2026-12")]);
        check(day(2026, 6, 30), &[(ReportKind::Semiannual, "2026-H1")]);
        check(day(2026, 12, 30), &[(ReportKind::Semiannual, "2026-H2")]);
        check(day(2026, 12, 31), &[]);
        check(day(2026, 11, 2), &[]);
    }

    #[test]
    fn reports_missed_while_down_are_caught_up_once_each() {
        let due = |since, today| -> Vec<(ReportKind, String)> { due_between(since, today) };
        assert_eq!(due(day(2026, 11, 15), day(2026, 11, 30)), vec![]);
        assert_eq!(
            due(day(2026, 11, 15), day(2026, 12, 4)),
            vec![(ReportKind::Bulletin, "2026-11".to_string())]
        );
        assert_eq!(
            due(day(2026, 5, 20), day(2026, 8, 3)),
            vec![
                (ReportKind::Bulletin, "2026-05".to_string()),
                (ReportKind::Semiannual, "2026-H1".to_string()),
                (ReportKind::Bulletin, "2026-06".to_string()),
                (ReportKind::Bulletin, "2026-07".to_string()),
            ]
        );
    }
}
