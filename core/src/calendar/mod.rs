//! Working-day calendar (工作日历): State Council holiday tables and deadline arithmetic in China time.
//!
//! A day is a working day when it is a weekend make-up day (调休上班), or when it is Monday to
//! Friday and not a statutory day off. The tables are data (`rules/calendar/YYYY.toml`) because the
//! State Council publishes each year's schedule only in the November (or December) before.
//!
//! Past the last official table the calendar can hold **provisional** years built from the law
//! ([`statutory`]): the statutory rest days and weekends, without the swaps a notice adds. Only the
//! `reckon_*` methods count on them, and every answer they give says whether it did
//! ([`Reckoned::provisional`]), so a deadline counted on a provisional year is always marked as
//! such. The plain methods count on official tables only and fail for any other year.
//!
//! All day logic happens in China time (UTC+8, no daylight saving); instants are UTC.

pub mod statutory;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// (month, day) from which a missing table for the next year is an alarm.
pub const NEXT_TABLE_EXPECTED: (u32, u32) = (11, 1);

/// Offset of China Standard Time from UTC, in seconds.
pub const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// Years outside this range are almost certainly typos (e.g. `20226`), and keeping them bounded
/// means date arithmetic next to a loaded year can never leave chrono's representable range.
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 9999;

/// Enough 64-bit words for one bit per day of a leap year (366 <= 384).
const YEAR_WORDS: usize = 6;

/// Evaluated at compile time, so an out-of-range offset would fail the build, not a request.
const CHINA_TZ: FixedOffset = match FixedOffset::east_opt(CHINA_OFFSET_SECS) {
    Some(tz) => tz,
    None => panic!("CHINA_OFFSET_SECS is outside the range of a UTC offset"),
};

/// China Standard Time as a fixed offset.
pub fn china_tz() -> FixedOffset {
    CHINA_TZ
}

/// The China-time calendar date of an instant.
///
/// Saturates at chrono's largest date for instants within 8 hours of the end of its range.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.naive_utc()
        .checked_add_signed(TimeDelta::seconds(i64::from(CHINA_OFFSET_SECS)))
        .map_or(NaiveDate::MAX, |local| local.date())
}

/// 00:00 China time of `d`, as a UTC instant (16:00 UTC of the previous date).
///
/// Saturates at chrono's smallest instant for the very first representable date.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN)
        .checked_sub_signed(TimeDelta::seconds(i64::from(CHINA_OFFSET_SECS)))
        .map_or(DateTime::<Utc>::MIN_UTC, |utc| utc.and_utc())
}

/// Unit of a configured deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    /// 工作日, counted on the loaded holiday tables.
    WorkingDays,
    /// 自然日, calendar days regardless of holidays.
    NaturalDays,
    /// Exact hours from the trigger instant.
    Hours,
}

/// Errors from loading the holiday tables or from working-day arithmetic.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot list calendar folder {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read calendar table {file}: {source}")]
    ReadFile {
        file: String,
        source: std::io::Error,
    },
    #[error("no calendar tables found in {origin}")]
    NoTables { origin: String },
    #[error("invalid calendar table {file}: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file}: {field} entry {value} is not a date, expected a \"YYYY-MM-DD\" string")]
    BadDate {
        file: String,
        field: &'static str,
        value: String,
    },
    #[error("{file}: year {year} is not plausible, expected {MIN_YEAR}..={MAX_YEAR}")]
    YearOutOfRange { file: String, year: i32 },
    #[error("{file}: {field} date {date} is outside the table's year {year}")]
    DateOutsideYear {
        file: String,
        field: &'static str,
        date: NaiveDate,
        year: i32,
    },
    #[error("{file}: {field} date {date} is listed twice")]
    DuplicateDate {
        file: String,
        field: &'static str,
        date: NaiveDate,
    },
    #[error(
        "{file}: off date {date} is a {weekday}, only Monday-Friday dates can be listed as off"
    )]
    OffOnWeekend {
        file: String,
        date: NaiveDate,
        weekday: Weekday,
    },
    #[error(
        "{file}: makeup date {date} is a {weekday}, only Saturday/Sunday dates can be make-up working days"
    )]
    MakeupOnWeekday {
        file: String,
        date: NaiveDate,
        weekday: Weekday,
    },
    #[error("{file}: {date} is listed both as off and as makeup")]
    OffAndMakeup { file: String, date: NaiveDate },
    #[error("{file}: year {year} declares {declared} working days but its dates give {computed}")]
    WorkingDaysMismatch {
        file: String,
        year: i32,
        declared: u32,
        computed: u32,
    },
    #[error("year {year} is defined twice, in {first} and in {second}")]
    DuplicateYear {
        year: i32,
        first: String,
        second: String,
    },
    #[error(
        "calendar years are not contiguous: {missing} is missing between {before} and {after}, its working days would be guessed"
    )]
    YearGap {
        missing: i32,
        before: String,
        after: String,
    },
    #[error(
        "no holiday table loaded for {year}: working-day arithmetic refuses to guess, load the official {year} table"
    )]
    YearNotLoaded { year: i32 },
    #[error("date arithmetic from {date} leaves the representable date range")]
    DateOverflow { date: NaiveDate },
    #[error("the statutory festival dates shipped with the platform are broken: {reason}")]
    Festivals { reason: String },
}

/// An answer of the calendar, and whether it was counted on a provisional year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reckoned<T> {
    pub value: T,
    /// The first year without an official table that the answer was counted on (its provisional
    /// table); `None` when every day counted lies in official tables.
    pub provisional: Option<i32>,
}

impl<T> Reckoned<T> {
    pub fn is_exact(&self) -> bool {
        self.provisional.is_none()
    }
}

/// The working-day calendar: contiguous years of official holiday tables, optionally followed by
/// provisional years.
///
/// Cheap to share (`Send + Sync`, immutable after loading); lookups are O(1) per date.
#[derive(Debug, Clone)]
pub struct Calendar {
    first_year: i32,
    /// `years[i]` is `first_year + i`; load-time validation guarantees there is no gap.
    years: Vec<YearTable>,
    /// The years right after the last official one, built from the statutory holidays; empty
    /// unless [`Calendar::with_provisional`] added them.
    provisional: Vec<YearTable>,
    version: String,
}

#[derive(Debug, Clone)]
struct YearTable {
    year: i32,
    source: String,
    /// Bit `ordinal0` set means that day is a working day.
    working: [u64; YEAR_WORDS],
    working_days: u32,
    provisional: bool,
}

impl YearTable {
    fn is_working(&self, ordinal0: u32) -> bool {
        let word = (ordinal0 / 64) as usize;
        self.working
            .get(word)
            .is_some_and(|bits| bits >> (ordinal0 % 64) & 1 == 1)
    }

    /// Working days among ordinals `lo..=hi` of this year.
    fn count(&self, lo: u32, hi: u32) -> u32 {
        // At most 366 probes per year: simpler than masking words and still negligible.
        (lo..=hi).map(|i| u32::from(self.is_working(i))).sum()
    }
}

/// One file as written by the operator; dates stay raw so errors can quote them verbatim.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    year: i32,
    source: String,
    off: Vec<toml::Value>,
    makeup: Vec<toml::Value>,
    working_days: u32,
}

impl Calendar {
    /// Loads every `*.toml` file of `dir`, in file-name order.
    pub fn load_dir(dir: &Path) -> Result<Calendar, CalendarError> {
        let read_dir_err = |source| CalendarError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir_err)? {
            let path = entry.map_err(read_dir_err)?.path();
            if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        if paths.is_empty() {
            return Err(CalendarError::NoTables {
                origin: dir.display().to_string(),
            });
        }
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(&path).map_err(|source| CalendarError::ReadFile {
                    file: name.clone(),
                    source,
                })?;
            files.push((name, text));
        }
        Calendar::from_toml_tables(
            files
                .iter()
                .map(|(name, text)| (name.as_str(), text.as_str())),
        )
    }

    /// Builds a calendar from `(name, toml text)` pairs; `name` only appears in error messages.
    pub fn from_toml_tables<'a>(
        tables: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Calendar, CalendarError> {
        let mut parsed: Vec<(String, YearTable)> = Vec::new();
        for (name, text) in tables {
            let table = parse_table(name, text)?;
            if let Some((first, _)) = parsed.iter().find(|(_, t)| t.year == table.year) {
                return Err(CalendarError::DuplicateYear {
                    year: table.year,
                    first: first.clone(),
                    second: name.to_owned(),
                });
            }
            parsed.push((name.to_owned(), table));
        }
        parsed.sort_by_key(|(_, t)| t.year);
        for pair in parsed.windows(2) {
            if let [(before, a), (after, b)] = pair
                && b.year != a.year + 1
            {
                return Err(CalendarError::YearGap {
                    missing: a.year + 1,
                    before: before.clone(),
                    after: after.clone(),
                });
            }
        }
        let years: Vec<YearTable> = parsed.into_iter().map(|(_, t)| t).collect();
        let Some(first_year) = years.first().map(|t| t.year) else {
            return Err(CalendarError::NoTables {
                origin: "the given tables".to_owned(),
            });
        };
        let version = fingerprint(&years, &[]);
        Ok(Calendar {
            first_year,
            years,
            provisional: Vec::new(),
            version,
        })
    }

    /// Adds provisional years after the last official one, as far as the shipped festival dates
    /// reach (see [`statutory`]). Loading the official table of such a year later replaces it.
    pub fn with_provisional(mut self) -> Result<Calendar, CalendarError> {
        let Some(last) = statutory::last_festival_year()? else {
            return Ok(self);
        };
        let mut provisional = Vec::new();
        for year in self.last_year().saturating_add(1)..=last {
            if let Some(table) = provisional_table(year)? {
                provisional.push(table);
            }
        }
        self.version = fingerprint(&self.years, &provisional);
        self.provisional = provisional;
        Ok(self)
    }

    /// The provisional years (first and last), if any are held.
    pub fn provisional_years(&self) -> Option<(i32, i32)> {
        Some((
            self.provisional.first()?.year,
            self.provisional.last()?.year,
        ))
    }

    /// The first year whose official table should be loaded by `today` and is not: the current
    /// year, or from [`NEXT_TABLE_EXPECTED`] on (the State Council publishes the next year's
    /// arrangement in November or December) the next year. An operational alarm.
    pub fn missing_table(&self, today: NaiveDate) -> Option<i32> {
        let expected = if (today.month(), today.day()) >= NEXT_TABLE_EXPECTED {
            today.year().saturating_add(1)
        } else {
            today.year()
        };
        let last = self.last_year();
        (last < expected).then(|| last.saturating_add(1))
    }

    /// Whether `year` is counted on a provisional table (no official one is loaded).
    pub fn is_provisional(&self, year: i32) -> bool {
        self.provisional.iter().any(|table| table.year == year)
    }

    /// First loaded year.
    pub fn first_year(&self) -> i32 {
        self.first_year
    }

    /// Last year with an official table; plain working-day arithmetic past its 31 December
    /// fails, and the `reckon_*` methods go on in provisional years, saying so.
    pub fn last_year(&self) -> i32 {
        self.years.last().map_or(self.first_year, |t| t.year)
    }

    /// Years with an official table, ascending and contiguous.
    pub fn years(&self) -> Vec<i32> {
        self.years.iter().map(|t| t.year).collect()
    }

    /// The notice a year was copied from, or [`statutory::PROVISIONAL_SOURCE`] for a
    /// provisional year.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.any_table(year).ok().map(|t| t.source.as_str())
    }

    /// Working days of a year, official or provisional.
    pub fn working_days_in_year(&self, year: i32) -> Result<u32, CalendarError> {
        self.any_table(year).map(|t| t.working_days)
    }

    /// A stable fingerprint of the effective calendar, recorded next to each deadline decision so
    /// it can be replayed against the same tables.
    ///
    /// Form: `"{first}-{last}:{16 hex digits}"`, an FNV-1a 64 hash over the years and their
    /// working-day bitmaps. It ignores comments, layout and `source`, so only changes that move a
    /// deadline change it. It identifies a calendar; it is not a security hash.
    pub fn version(&self) -> String {
        self.version.clone()
    }

    /// Whether `d` is a working day; fails for a date outside the official years.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.table(d.year())?.is_working(d.ordinal0()))
    }

    /// Whether `d` is a working day, on a provisional table where no official one exists.
    pub fn reckon_working_day(&self, d: NaiveDate) -> Result<Reckoned<bool>, CalendarError> {
        let table = self.any_table(d.year())?;
        Ok(Reckoned {
            value: table.is_working(d.ordinal0()),
            provisional: table.provisional.then_some(table.year),
        })
    }

    /// The `n`th working day strictly after `d` (`d` itself never counts); `n = 0` returns `d`.
    ///
    /// Fails with [`CalendarError::YearNotLoaded`] as soon as the walk reaches a year without an
    /// official table.
    pub fn nth_working_day_after(&self, d: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.walk(d, n, Tables::Official).map(|day| day.value)
    }

    /// [`Calendar::nth_working_day_after`], going on in provisional years.
    pub fn reckon_nth_working_day_after(
        &self,
        d: NaiveDate,
        n: u32,
    ) -> Result<Reckoned<NaiveDate>, CalendarError> {
        self.walk(d, n, Tables::WithProvisional)
    }

    fn walk(
        &self,
        d: NaiveDate,
        n: u32,
        tables: Tables,
    ) -> Result<Reckoned<NaiveDate>, CalendarError> {
        let mut day = d;
        let mut left = n;
        let mut provisional = None;
        while left > 0 {
            day = day
                .succ_opt()
                .ok_or(CalendarError::DateOverflow { date: day })?;
            let table = self.lookup(day.year(), tables)?;
            if table.provisional {
                provisional = provisional.or(Some(table.year));
            }
            if table.is_working(day.ordinal0()) {
                left -= 1;
            }
        }
        Ok(Reckoned {
            value: day,
            provisional,
        })
    }

    /// Deadline for "`n` 个工作日内" from `trigger`: the end of the `n`th working day after the
    /// trigger's China-time date, as the exclusive instant `day_start(nth + 1 day)`.
    ///
    /// The trigger date never counts, even when it is a working day, because the rules say counting
    /// starts the next working day. `n = 0` gives the end of the trigger's own date.
    pub fn add_working_days(
        &self,
        trigger: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let nth = self.nth_working_day_after(local_date(trigger), n)?;
        end_of(nth)
    }

    /// [`Calendar::add_working_days`], going on in provisional years.
    pub fn reckon_add_working_days(
        &self,
        trigger: DateTime<Utc>,
        n: u32,
    ) -> Result<Reckoned<DateTime<Utc>>, CalendarError> {
        let nth = self.reckon_nth_working_day_after(local_date(trigger), n)?;
        Ok(Reckoned {
            value: end_of(nth.value)?,
            provisional: nth.provisional,
        })
    }

    /// Working days in the half-open range `(from, to]`, used to measure lateness; 0 when
    /// `to <= from`.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        self.count_between(from, to, Tables::Official)
            .map(|count| count.value)
    }

    /// [`Calendar::working_days_between`], counting provisional years where needed.
    pub fn reckon_working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Reckoned<u32>, CalendarError> {
        self.count_between(from, to, Tables::WithProvisional)
    }

    fn count_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        tables: Tables,
    ) -> Result<Reckoned<u32>, CalendarError> {
        let mut counted = Reckoned {
            value: 0,
            provisional: None,
        };
        if to <= from {
            return Ok(counted);
        }
        let start = from
            .succ_opt()
            .ok_or(CalendarError::DateOverflow { date: from })?;
        for year in start.year()..=to.year() {
            let table = self.lookup(year, tables)?;
            if table.provisional {
                counted.provisional = counted.provisional.or(Some(year));
            }
            let lo = if year == start.year() {
                start.ordinal0()
            } else {
                0
            };
            let hi = if year == to.year() {
                to.ordinal0()
            } else {
                365
            };
            counted.value += table.count(lo, hi);
        }
        Ok(counted)
    }

    /// End of the trigger's China-time date plus `n` calendar days (`n = 0`: end of that date).
    ///
    /// Natural days need no holiday table, so this never consults one and works for any year.
    /// Saturates at chrono's largest instant.
    pub fn add_natural_days(trigger: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        local_date(trigger)
            .checked_add_signed(TimeDelta::days(i64::from(n) + 1))
            .map_or(DateTime::<Utc>::MAX_UTC, day_start)
    }

    /// Exactly `n` hours after `trigger`; needs no holiday table. Saturates at chrono's largest
    /// instant.
    pub fn add_hours(trigger: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        trigger
            .checked_add_signed(TimeDelta::hours(i64::from(n)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Deadline `amount` `unit`s after `trigger`, on official tables only; only working days can
    /// fail.
    pub fn due(
        &self,
        trigger: DateTime<Utc>,
        amount: u32,
        unit: DurationUnit,
    ) -> Result<DateTime<Utc>, CalendarError> {
        match unit {
            DurationUnit::WorkingDays => self.add_working_days(trigger, amount),
            DurationUnit::NaturalDays => Ok(Calendar::add_natural_days(trigger, amount)),
            DurationUnit::Hours => Ok(Calendar::add_hours(trigger, amount)),
        }
    }

    /// [`Calendar::due`], going on in provisional years; natural days and hours are always exact.
    pub fn reckon_due(
        &self,
        trigger: DateTime<Utc>,
        amount: u32,
        unit: DurationUnit,
    ) -> Result<Reckoned<DateTime<Utc>>, CalendarError> {
        let exact = |value| Reckoned {
            value,
            provisional: None,
        };
        match unit {
            DurationUnit::WorkingDays => self.reckon_add_working_days(trigger, amount),
            DurationUnit::NaturalDays => Ok(exact(Calendar::add_natural_days(trigger, amount))),
            DurationUnit::Hours => Ok(exact(Calendar::add_hours(trigger, amount))),
        }
    }

    fn table(&self, year: i32) -> Result<&YearTable, CalendarError> {
        self.lookup(year, Tables::Official)
    }

    fn any_table(&self, year: i32) -> Result<&YearTable, CalendarError> {
        self.lookup(year, Tables::WithProvisional)
    }

    fn lookup(&self, year: i32, tables: Tables) -> Result<&YearTable, CalendarError> {
        let official = year
            .checked_sub(self.first_year)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.years.get(i));
        let provisional = || match tables {
            Tables::Official => None,
            Tables::WithProvisional => self.provisional.iter().find(|t| t.year == year),
        };
        official
            .or_else(provisional)
            .ok_or(CalendarError::YearNotLoaded { year })
    }
}

/// Which tables an answer may rest on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    Official,
    WithProvisional,
}

/// The table of a year without an official one, from the statutory holidays; `None` when the
/// shipped festival dates do not reach the year.
fn provisional_table(year: i32) -> Result<Option<YearTable>, CalendarError> {
    let Some(rest) = statutory::rest_days(year)? else {
        return Ok(None);
    };
    let off: BTreeSet<NaiveDate> = rest.iter().map(|day| day.date).collect();
    let (Some(jan1), Some(next_jan1)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year.saturating_add(1), 1, 1),
    ) else {
        return Ok(None);
    };
    let mut working = [0u64; YEAR_WORDS];
    let mut working_days = 0u32;
    for date in jan1.iter_days().take_while(|d| *d < next_jan1) {
        if !is_weekend(date) && !off.contains(&date) {
            let i = date.ordinal0();
            if let Some(word) = working.get_mut((i / 64) as usize) {
                *word |= 1 << (i % 64);
            }
            working_days += 1;
        }
    }
    Ok(Some(YearTable {
        year,
        source: statutory::PROVISIONAL_SOURCE.to_owned(),
        working,
        working_days,
        provisional: true,
    }))
}

/// The exclusive end of a China-time date.
fn end_of(d: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
    d.succ_opt()
        .map(day_start)
        .ok_or(CalendarError::DateOverflow { date: d })
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn parse_table(file: &str, text: &str) -> Result<YearTable, CalendarError> {
    let raw: RawTable = toml::from_str(text).map_err(|e| CalendarError::Parse {
        file: file.to_owned(),
        reason: e.to_string().trim_end().to_owned(),
    })?;
    let year = raw.year;
    let (Some(jan1), Some(next_jan1)) = (
        NaiveDate::from_ymd_opt(year, 1, 1).filter(|_| (MIN_YEAR..=MAX_YEAR).contains(&year)),
        NaiveDate::from_ymd_opt(year.saturating_add(1), 1, 1),
    ) else {
        return Err(CalendarError::YearOutOfRange {
            file: file.to_owned(),
            year,
        });
    };
    let off = parse_dates(file, "off", year, &raw.off)?;
    let makeup = parse_dates(file, "makeup", year, &raw.makeup)?;

    for &date in &off {
        if is_weekend(date) {
            return Err(CalendarError::OffOnWeekend {
                file: file.to_owned(),
                date,
                weekday: date.weekday(),
            });
        }
        if makeup.contains(&date) {
            return Err(CalendarError::OffAndMakeup {
                file: file.to_owned(),
                date,
            });
        }
    }
    if let Some(&date) = makeup.iter().find(|d| !is_weekend(**d)) {
        return Err(CalendarError::MakeupOnWeekday {
            file: file.to_owned(),
            date,
            weekday: date.weekday(),
        });
    }

    let mut working = [0u64; YEAR_WORDS];
    let mut computed = 0u32;
    for date in jan1.iter_days().take_while(|d| *d < next_jan1) {
        let is_working = makeup.contains(&date) || (!is_weekend(date) && !off.contains(&date));
        if is_working {
            let i = date.ordinal0();
            if let Some(word) = working.get_mut((i / 64) as usize) {
                *word |= 1 << (i % 64);
            }
            computed += 1;
        }
    }
    if computed != raw.working_days {
        return Err(CalendarError::WorkingDaysMismatch {
            file: file.to_owned(),
            year,
            declared: raw.working_days,
            computed,
        });
    }
    Ok(YearTable {
        year,
        source: raw.source,
        working,
        working_days: computed,
        provisional: false,
    })
}

/// Accepts quoted `"YYYY-MM-DD"` strings and, since operators may well write them, bare TOML
/// local dates; anything else (a time, an offset, a number) is refused.
fn parse_dates(
    file: &str,
    field: &'static str,
    year: i32,
    values: &[toml::Value],
) -> Result<BTreeSet<NaiveDate>, CalendarError> {
    let mut dates = BTreeSet::new();
    for value in values {
        let parsed = match value {
            toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
            toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                }
                _ => None,
            },
            _ => None,
        };
        let Some(date) = parsed else {
            return Err(CalendarError::BadDate {
                file: file.to_owned(),
                field,
                value: value.to_string(),
            });
        };
        if date.year() != year {
            return Err(CalendarError::DateOutsideYear {
                file: file.to_owned(),
                field,
                date,
                year,
            });
        }
        if !dates.insert(date) {
            return Err(CalendarError::DuplicateDate {
                file: file.to_owned(),
                field,
                date,
            });
        }
    }
    Ok(dates)
}

/// FNV-1a 64: stable across Rust releases (unlike `DefaultHasher`) and needs no dependency.
///
/// Form: `"{first}-{last}:{hash}"` over the official years, or `"{first}-{last}+{plast}p:{hash}"`
/// when provisional years follow them (the hash then covers those too), so a decision records
/// whether provisional years could have been counted on.
fn fingerprint(years: &[YearTable], provisional: &[YearTable]) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for table in years.iter().chain(provisional) {
        feed(&table.year.to_le_bytes());
        if table.provisional {
            // Official years hash as they always did, so their version never moves.
            feed(b"p");
        }
        for word in table.working {
            feed(&word.to_le_bytes());
        }
    }
    let first = years.first().map_or(0, |t| t.year);
    let last = years.last().map_or(0, |t| t.year);
    match provisional.last() {
        Some(table) => format!("{first}-{last}+{}p:{hash:016x}", table.year),
        None => format!("{first}-{last}:{hash:016x}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A 2025-like table with 2025's real dates, so each case below changes one thing.
    fn table_2025(off: &str, makeup: &str, working_days: u32) -> String {
        format!(
            "year = 2025\nsource = \"test\"\noff = [{off}]\nmakeup = [{makeup}]\nworking_days = {working_days}\n"
        )
    }

    const OFF_2025: &str = r#""2025-01-01", "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31",
        "2025-02-03", "2025-02-04", "2025-04-04", "2025-05-01", "2025-05-02", "2025-05-05",
        "2025-06-02", "2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07",
        "2025-10-08""#;
    const MAKEUP_2025: &str =
        r#""2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11""#;

    /// A table with no holidays: 2026 has 261 weekdays, 2027 has 261, 2028 has 260.
    fn plain(year: i32, working_days: u32) -> String {
        format!(
            "year = {year}\nsource = \"test\"\noff = []\nmakeup = []\nworking_days = {working_days}\n"
        )
    }

    /// Loads `tables` and asserts the outcome: `Ok(())` when `expected` is `None`, otherwise an
    /// error whose message contains every fragment of `expected`.
    fn check(case: &str, tables: &[(&str, &str)], expected: Option<&[&str]>) {
        let result = Calendar::from_toml_tables(tables.iter().copied());
        match (result, expected) {
            (Ok(_), None) => {}
            (Ok(_), Some(want)) => panic!("{case}: loaded, expected an error containing {want:?}"),
            (Err(e), None) => panic!("{case}: unexpected error: {e}"),
            (Err(e), Some(want)) => {
                let msg = e.to_string();
                for fragment in want {
                    assert!(msg.contains(fragment), "{case}: {msg:?} lacks {fragment:?}");
                }
                assert_eq!(msg, msg.trim_end_matches('.'), "{case}: trailing period");
                let first = msg.chars().next().unwrap();
                assert!(!first.is_uppercase(), "{case}: capitalised message {msg:?}");
            }
        }
    }

    /// (case name, (file name, toml text) tables, expected error fragments or `None` for success).
    type Case = (
        &'static str,
        Vec<(&'static str, String)>,
        Option<&'static [&'static str]>,
    );

    #[test]
    fn validation() {
        let good = table_2025(OFF_2025, MAKEUP_2025, 248);
        let p2026 = plain(2026, 261);
        let p2027 = plain(2027, 261);
        let cases: Vec<Case> = vec![
            ("official 2025", vec![("a.toml", good.clone())], None),
            (
                "two contiguous years",
                vec![("a.toml", good.clone()), ("b.toml", p2026.clone())],
                None,
            ),
            (
                "unsorted input",
                vec![("b.toml", p2026.clone()), ("a.toml", good.clone())],
                None,
            ),
            (
                "bare toml dates",
                vec![(
                    "a.toml",
                    table_2025(
                        &OFF_2025.replace('"', ""),
                        &MAKEUP_2025.replace('"', ""),
                        248,
                    ),
                )],
                None,
            ),
            ("no tables", vec![], Some(&["no calendar tables"])),
            (
                "duplicate year",
                vec![("a.toml", good.clone()), ("b.toml", good.clone())],
                Some(&["year 2025 is defined twice", "a.toml", "b.toml"]),
            ),
            (
                "gap year",
                vec![("a.toml", good.clone()), ("c.toml", p2027.clone())],
                Some(&["2026 is missing", "a.toml", "c.toml"]),
            ),
            (
                "date outside year",
                vec![("a.toml", table_2025(r#""2024-12-31""#, "", 260))],
                Some(&["a.toml", "off date 2024-12-31", "year 2025"]),
            ),
            (
                "makeup outside year",
                vec![("a.toml", table_2025("", r#""2026-01-03""#, 262))],
                Some(&["a.toml", "makeup date 2026-01-03"]),
            ),
            (
                "off on a saturday",
                vec![("a.toml", table_2025(r#""2025-05-03""#, "", 260))],
                Some(&["a.toml", "off date 2025-05-03 is a Sat"]),
            ),
            (
                "off on a sunday",
                vec![("a.toml", table_2025(r#""2025-10-05""#, "", 260))],
                Some(&["a.toml", "2025-10-05 is a Sun"]),
            ),
            (
                "makeup on a weekday",
                vec![("a.toml", table_2025("", r#""2025-01-27""#, 262))],
                Some(&["a.toml", "makeup date 2025-01-27 is a Mon"]),
            ),
            (
                "off and makeup",
                vec![(
                    "a.toml",
                    table_2025(r#""2025-01-27""#, r#""2025-01-27""#, 261),
                )],
                Some(&["a.toml", "2025-01-27"]),
            ),
            (
                "off and makeup weekend",
                vec![(
                    "a.toml",
                    table_2025(r#""2025-01-26""#, r#""2025-01-26""#, 261),
                )],
                Some(&["a.toml", "2025-01-26"]),
            ),
            (
                "duplicate date",
                vec![(
                    "a.toml",
                    table_2025(r#""2025-01-01", "2025-01-01""#, "", 260),
                )],
                Some(&["a.toml", "2025-01-01 is listed twice"]),
            ),
            (
                "count mismatch",
                vec![("a.toml", table_2025(OFF_2025, MAKEUP_2025, 249))],
                Some(&["a.toml", "declares 249", "give 248"]),
            ),
            (
                "not a date",
                vec![("a.toml", table_2025(r#""2025-02-30""#, "", 260))],
                Some(&["a.toml", "2025-02-30"]),
            ),
            (
                "datetime not date",
                vec![("a.toml", table_2025("2025-01-01T00:00:00", "", 260))],
                Some(&["a.toml", "off entry"]),
            ),
            (
                "number not date",
                vec![("a.toml", table_2025("20250101", "", 260))],
                Some(&["a.toml", "off entry 20250101"]),
            ),
            (
                "implausible year",
                vec![("a.toml", plain(20226, 0))],
                Some(&["a.toml", "year 20226"]),
            ),
            (
                "missing key",
                vec![(
                    "a.toml",
                    "year = 2025\noff = []\nmakeup = []\nworking_days = 261\n".to_owned(),
                )],
                Some(&["a.toml", "source"]),
            ),
            (
                "unknown key",
                vec![("a.toml", format!("{}extra = 1\n", plain(2026, 261)))],
                Some(&["a.toml", "extra"]),
            ),
            (
                "broken toml",
                vec![("a.toml", "year = ".to_owned())],
                Some(&["invalid calendar table a.toml"]),
            ),
        ];
        for (case, tables, expected) in &cases {
            let borrowed: Vec<(&str, &str)> =
                tables.iter().map(|(n, t)| (*n, t.as_str())).collect();
            check(case, &borrowed, *expected);
        }
    }

    #[test]
    fn version_tracks_dates_not_layout() {
        let a = table_2025(OFF_2025, MAKEUP_2025, 248);
        let b = format!(
            "# a comment\n{}",
            a.replace("source = \"test\"", "source = \"other\"")
        );
        let moved = table_2025(
            &OFF_2025.replace("2025-06-02", "2025-06-03"),
            MAKEUP_2025,
            248,
        );
        let version = |t: &str| Calendar::from_toml_tables([("x", t)]).unwrap().version();
        assert_eq!(version(&a), version(&b));
        assert_ne!(version(&a), version(&moved));
        assert!(version(&a).starts_with("2025-2025:"), "{}", version(&a));
    }

    #[test]
    fn out_of_range_years_are_refused() {
        let cal = Calendar::from_toml_tables([("a", plain(2026, 261).as_str())]).unwrap();
        let dec31 = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let err = cal.nth_working_day_after(dec31, 1).unwrap_err();
        assert!(
            matches!(err, CalendarError::YearNotLoaded { year: 2027 }),
            "{err}"
        );
        assert_eq!(cal.nth_working_day_after(dec31, 0).unwrap(), dec31);
        let err = cal
            .working_days_between(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(), dec31)
            .unwrap_err();
        assert!(err.to_string().contains("2025"), "{err}");
        assert!(cal.is_working_day(NaiveDate::MIN).is_err());
        assert!(cal.is_working_day(NaiveDate::MAX).is_err());
        assert_eq!(cal.working_days_in_year(2026).unwrap(), 261);
        assert_eq!(cal.source(2026), Some("test"));
        assert_eq!(cal.source(2025), None);
    }

    #[test]
    fn time_helpers_saturate_instead_of_panicking() {
        assert_eq!(
            Calendar::add_hours(DateTime::<Utc>::MAX_UTC, u32::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            Calendar::add_natural_days(DateTime::<Utc>::MAX_UTC, 1),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(local_date(DateTime::<Utc>::MAX_UTC), NaiveDate::MAX);
        assert_eq!(day_start(NaiveDate::MIN), DateTime::<Utc>::MIN_UTC);
        assert_eq!(china_tz().local_minus_utc(), CHINA_OFFSET_SECS);
    }
}
