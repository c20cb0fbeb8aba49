//! The helper functions every policy script may call: working-day arithmetic on the loaded
//! calendar, natural days, hours, China-time dates, and percent formatting of decimals.
//!
//! They are pure: each answer depends only on its arguments and the calendar the rules were
//! loaded with, never on the clock, so a decision replays exactly. Instants are RFC 3339 strings
//! (any offset in, UTC `Z` out); dates are `YYYY-MM-DD` in China time.
//!
//! Working-day helpers count on a provisional year where no official table is loaded (when the
//! calendar holds provisional years) and note it for the call under way ([`take_provisional`]),
//! so the decision is recorded as provisional.

use std::cell::Cell;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use rhai::{Dynamic, Engine, EvalAltResult, INT, Position};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::calendar::{self, Calendar, CalendarError};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// A calendar refusal travelling through the script as a runtime error, so that the host can
/// turn it back into [`CalendarError`] (keeping the year) instead of a string.
#[derive(Debug, Clone)]
pub(super) enum CalendarFault {
    YearNotLoaded(i32),
    DateOverflow(NaiveDate),
}

impl CalendarFault {
    pub(super) fn into_error(self) -> CalendarError {
        match self {
            CalendarFault::YearNotLoaded(year) => CalendarError::YearNotLoaded { year },
            CalendarFault::DateOverflow(date) => CalendarError::DateOverflow { date },
        }
    }

    fn raise(error: CalendarError) -> Box<EvalAltResult> {
        let fault = match error {
            CalendarError::YearNotLoaded { year } => CalendarFault::YearNotLoaded(year),
            CalendarError::DateOverflow { date } => CalendarFault::DateOverflow(date),
            // Loading errors cannot come out of arithmetic; keep the message if one ever does.
            other => return other.to_string().into(),
        };
        Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(fault),
            Position::NONE,
        ))
    }
}

thread_local! {
    /// The first provisional year a working-day helper counted on during the call under way on
    /// this thread. A hook call runs on one thread from start to end (the engine is synchronous).
    static PROVISIONAL_USED: Cell<Option<i32>> = const { Cell::new(None) };
}

fn note<T>(reckoned: calendar::Reckoned<T>) -> T {
    if let Some(year) = reckoned.provisional {
        PROVISIONAL_USED.with(|used| used.set(Some(used.get().map_or(year, |y| y.min(year)))));
    }
    reckoned.value
}

/// Forgets what earlier calls noted; called before a hook runs.
pub(super) fn reset_provisional() {
    PROVISIONAL_USED.with(|used| used.set(None));
}

/// The first provisional year the helpers counted on since [`reset_provisional`].
pub(super) fn take_provisional() -> Option<i32> {
    PROVISIONAL_USED.with(|used| used.take())
}

/// Registers every helper on the one policy engine.
pub(super) fn register(engine: &mut Engine, calendar: &Arc<Calendar>) {
    let cal = calendar.clone();
    engine.register_fn(
        "add_working_days",
        move |at: &str, n: INT| -> Fallible<String> {
            let at = instant("add_working_days", at)?;
            let n = count("add_working_days", n)?;
            cal.reckon_add_working_days(at, n)
                .map(note)
                .map(format_instant)
                .map_err(CalendarFault::raise)
        },
    );
    engine.register_fn("add_natural_days", |at: &str, n: INT| -> Fallible<String> {
        let at = instant("add_natural_days", at)?;
        let n = count("add_natural_days", n)?;
        Ok(format_instant(Calendar::add_natural_days(at, n)))
    });
    engine.register_fn("add_hours", |at: &str, n: INT| -> Fallible<String> {
        let at = instant("add_hours", at)?;
        let n = count("add_hours", n)?;
        Ok(format_instant(Calendar::add_hours(at, n)))
    });
    let cal = calendar.clone();
    engine.register_fn("is_working_day", move |day: &str| -> Fallible<bool> {
        let day = date("is_working_day", day)?;
        cal.reckon_working_day(day)
            .map(note)
            .map_err(CalendarFault::raise)
    });
    let cal = calendar.clone();
    engine.register_fn(
        "working_days_between",
        move |from: &str, to: &str| -> Fallible<INT> {
            let from = date("working_days_between", from)?;
            let to = date("working_days_between", to)?;
            cal.reckon_working_days_between(from, to)
                .map(note)
                .map(INT::from)
                .map_err(CalendarFault::raise)
        },
    );
    engine.register_fn("local_date", |at: &str| -> Fallible<String> {
        let at = instant("local_date", at)?;
        Ok(calendar::local_date(at).format("%Y-%m-%d").to_string())
    });
    engine.register_fn("local_hour", |at: &str| -> Fallible<INT> {
        let at = instant("local_hour", at)?;
        Ok(INT::from(at.with_timezone(&calendar::china_tz()).hour()))
    });
    engine.register_fn("weekday", |day: &str| -> Fallible<INT> {
        let day = date("weekday", day)?;
        Ok(INT::from(day.weekday().number_from_monday()))
    });
    engine.register_fn("seconds_between", |from: &str, to: &str| -> Fallible<INT> {
        let from = instant("seconds_between", from)?;
        let to = instant("seconds_between", to)?;
        Ok((to - from).num_seconds())
    });
    engine.register_fn(
        "percent",
        |value: Decimal, places: INT| -> Fallible<String> { percent(value, places) },
    );
    engine.register_fn("percent", |value: INT, places: INT| -> Fallible<String> {
        percent(Decimal::from(value), places)
    });
}

fn instant(helper: &str, text: &str) -> Fallible<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{helper}: {text:?} is not an RFC 3339 instant such as \"2026-02-13T02:00:00Z\""
            )
            .into()
        })
}

/// A date, or the China-time date of an instant.
fn date(helper: &str, text: &str) -> Fallible<NaiveDate> {
    let text = text.trim();
    if text.len() == 10 {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("{helper}: {text:?} is not a date such as \"2026-02-13\"").into())
    } else {
        instant(helper, text).map(calendar::local_date)
    }
}

fn count(helper: &str, n: INT) -> Fallible<u32> {
    u32::try_from(n).map_err(|_| format!("{helper}: {n} is not a count of 0 or more").into())
}

fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `percent(0.96, 1)` → `"96.0%"`: for reasons people read, rounded half away from zero.
fn percent(value: Decimal, places: INT) -> Fallible<String> {
    let places = u32::try_from(places)
        .ok()
        .filter(|p| *p <= 10)
        .ok_or_else(|| format!("percent: {places} decimal places, expected 0..=10"))?;
    let hundredfold = value
        .checked_mul(Decimal::ONE_HUNDRED)
        .ok_or_else(|| format!("percent: {value} is too large"))?;
    let rounded =
        hundredfold.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    Ok(format!("{rounded:.prec$}%", prec = places as usize))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::str::FromStr;

    #[test]
    fn percent_formats_fixed_places() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(percent(d("0.96"), 1).unwrap(), "96.0%");
        assert_eq!(percent(d("1"), 0).unwrap(), "100%");
        assert_eq!(percent(d("0.99995"), 2).unwrap(), "100.00%");
        assert_eq!(percent(d("0.12345"), 2).unwrap(), "12.35%");
        assert!(percent(d("1"), -1).is_err());
    }
}
