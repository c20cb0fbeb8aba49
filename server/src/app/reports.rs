//! Reports of a region's 好差评 work: the monthly 调度 bulletin (月度调度通报) and the semiannual
//! report (半年工作报告, due by 06-30 and 12-30). Both hold the assessment's rankings of the
//! regions, halls and departments under the region (one-vote vetoes marked, with their
//! reasons), every rate with its numerator, denominator and its change against the previous
//! period, the overdue and 督办/通报 work orders, the top problems of the period's 差评 and
//! orders, the confirmed systemic problems and their state, and the coverage of the windows; the
//! semiannual report adds the half-year's trend by month.
//!
//! One [`Report`] is built from the store as of an instant and rendered as an XLSX workbook
//! ([`to_xlsx`]) and as a printable HTML page ([`to_html`]) from the same [`Table`]s, so both show
//! the same numbers. Reports are made on demand (`/api/v1/reports/…`) and on schedule by the
//! sweep (`workers::reports::run_schedule`): on the 1st of each month the previous month's bulletin of the root
//! region and of each county, on 06-30 and 12-30 the half-year's report as of that day. Stored
//! reports go to `<data_dir>/reports/` (written aside, then renamed) after an audit entry
//! (`report_generated`) is durable; a report whose workbook exists is never generated again.
//!
//! Nothing about a person is in a report: units, items and order numbers only, no names of
//! evaluators or staff, no comments (only the hot words cut from them).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use hcp_core::analysis::{self, Facet, IndicatorCatalogue, Segmenter};
use hcp_core::assessment::{self, AssessmentRun, Period};
use hcp_core::calendar::{Calendar, china_tz, day_start, local_date};
use hcp_core::event::AuditEntry;
use hcp_core::metrics::{Ratio, UnitMetrics};
use hcp_core::model::{Channel, OrgKind, Rating};
use hcp_core::policy::PhaseKind;
use hcp_core::store::{Command, Dim, Store};
use hcp_core::workflow::{
    CauseClass, Deadline, FlagKind, Order, OrderKind, OrderState, Problem, ProblemState,
};
use rust_decimal::prelude::ToPrimitive as _;
use rust_decimal::{Decimal, RoundingStrategy};
use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::assessment::{Names, assess};
use crate::app::platform::Platform;
use crate::app::ratings::{Comments, each_first_rating};

/// 差评 one report analyses at most (each is read from the log); past that the top problems are
/// computed from the newest ones and the report says so.
const MAX_ANALYSED: usize = 50_000;
/// Rows of a top-problem list.
const TOP: usize = 10;
/// Work orders listed at most; the report says how many more there were.
const MAX_LISTED_ORDERS: usize = 2_000;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 月度调度通报: one month, compared with the month before.
    Bulletin,
    /// 半年工作报告: one half-year (`2026-H1`, `2026-H2`), compared with the half before.
    Semiannual,
}

impl ReportKind {
    /// The stored file names' prefix.
    pub fn slug(self) -> &'static str {
        match self {
            ReportKind::Bulletin => "bulletin",
            ReportKind::Semiannual => "semiannual",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ReportKind::Bulletin => "月度调度通报",
            ReportKind::Semiannual => "半年工作报告",
        }
    }

    /// The period's days; a bulletin takes a month (`2026-11`), a semiannual report a
    /// half-year (`2026-H1`).
    pub fn period(self, text: &str) -> Result<Period, AppError> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 7
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[4] == b'-'
            && match self {
                ReportKind::Bulletin => bytes[5..].iter().all(u8::is_ascii_digit),
                ReportKind::Semiannual => bytes[5] == b'H' && matches!(bytes[6], b'1' | b'2'),
            };
        if !well_formed {
            // A period, but not one this report covers: 422 (the parameter's own pattern
            // admits every period kind).
            return Err(AppError::invalid_range(match self {
                ReportKind::Bulletin => {
                    format!("period {text:?}: a bulletin covers a month, e.g. 2026-11")
                }
                ReportKind::Semiannual => {
                    format!("period {text:?}: a semiannual report covers 2026-H1 or 2026-H2")
                }
            }));
        }
        Period::parse(text).map_err(AppError::BadRequest)
    }

    /// The days of the period compared with ([`ReportKind::previous`]), worked out from the
    /// period's own days: the month before 2000-01 is a month like any other, though no period
    /// of the API names it.
    fn previous_days(self, period: Period) -> Result<Period, AppError> {
        let months = match self {
            ReportKind::Bulletin => 1,
            ReportKind::Semiannual => 6,
        };
        let from = period.from.checked_sub_months(chrono::Months::new(months));
        match (from, period.from.pred_opt()) {
            (Some(from), Some(to)) => Ok(Period { from, to }),
            _ => Err(AppError::invalid_range(format!(
                "no period before {}",
                period.from
            ))),
        }
    }

    /// The period compared with: the month or the half-year before.
    fn previous(self, period: Period) -> String {
        match self {
            ReportKind::Bulletin => Period::previous_month(period.from),
            ReportKind::Semiannual if period.from.month() == 1 => {
                format!("{}-H2", period.from.year() - 1)
            }
            ReportKind::Semiannual => format!("{}-H1", period.from.year()),
        }
    }
}

/// `2026年11月`, `2026年上半年`.
fn period_label(period: &str) -> String {
    match period.split_once('-') {
        Some((year, "H1")) => format!("{year}年上半年"),
        Some((year, "H2")) => format!("{year}年下半年"),
        Some((year, month)) => format!("{year}年{}月", month.trim_start_matches('0')),
        None => format!("{period}年"),
    }
}

/// How a report is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// An Excel workbook.
    #[default]
    Xlsx,
    /// A printable page.
    Html,
}

impl ReportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Xlsx => "xlsx",
            ReportFormat::Html => "html",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ReportFormat::Html => "text/html; charset=utf-8",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report's data

/// One unit's metrics in the period and in the period compared with.
#[derive(Debug, Clone)]
pub struct UnitFigures {
    /// 本级汇总, 县（市、区）, 政务服务大厅（便民服务站）, 部门.
    pub kind_label: String,
    pub unit: String,
    pub name: String,
    pub metrics: UnitMetrics,
    pub previous: UnitMetrics,
}

/// An assessment of one kind of unit under the region, with each unit's metrics of the period
/// compared with (same order as the run's units).
#[derive(Debug, Clone)]
pub struct Ranking {
    pub label: String,
    pub run: AssessmentRun,
    pub previous: Vec<UnitMetrics>,
}

/// A work order listed as overdue or escalated.
#[derive(Debug, Clone)]
pub struct ListedOrder {
    pub order: Order,
    /// The phase that is (or was) late.
    pub phase: Option<PhaseKind>,
    pub due: Option<DateTime<Utc>>,
    /// Still open and past that phase's due instant as of the report.
    pub late_now: bool,
    pub supervised: bool,
    pub noticed: bool,
    pub unit_name: String,
    pub department_name: String,
    pub item_name: String,
}

/// A counted thing: an indicator, a stage, an item, a department, an order category or a hot
/// word, with its count in the period and in the period compared with.
#[derive(Debug, Clone)]
pub struct CountRow {
    pub group: String,
    pub key: String,
    pub label: String,
    pub count: u64,
    pub share: Ratio,
    pub previous: u64,
    /// 新出现, 上升, 持平, 下降.
    pub trend: String,
}

/// A confirmed systemic problem relevant to the period.
#[derive(Debug, Clone)]
pub struct SystemicProblem {
    pub problem: Problem,
    pub owner_name: String,
    /// Open past its due date as of the report.
    pub overdue: bool,
}

/// Work orders of every kind within the region.
#[derive(Debug, Clone, Default)]
pub struct OrderFigures {
    /// Received in the period and in the period compared with, by kind.
    pub received: BTreeMap<&'static str, (u64, u64)>,
    /// With a 督办 (a 通报) raised during the period.
    pub supervised: u64,
    pub noticed: u64,
    /// Open with a phase past its due instant as of the report.
    pub late_now: u64,
    /// Listed (late now, or escalated in the period), most overdue first.
    pub listed: Vec<ListedOrder>,
    /// Orders that qualified but were left out of `listed`.
    pub not_listed: usize,
    /// Received in the period and in the period compared with, by problem category.
    pub by_category: BTreeMap<String, (u64, u64)>,
}

/// Windows able to take ratings on the spot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Coverage {
    /// Halls and service points.
    pub halls: u64,
    pub windows: u64,
    pub with_device: u64,
    pub with_qr_code: u64,
    /// With a device or a QR code.
    pub covered: u64,
}

/// Systemic problems relevant to the period.
#[derive(Debug, Clone, Default)]
pub struct ProblemFigures {
    /// Confirmed in the period.
    pub opened: u64,
    /// Completed in the period.
    pub fixed: u64,
    /// Open as of the report, and those among them past their due date.
    pub open: u64,
    pub open_overdue: u64,
    pub listed: Vec<SystemicProblem>,
}

/// One month of the semiannual report's trend.
#[derive(Debug, Clone)]
pub struct MonthFigures {
    pub label: String,
    pub metrics: UnitMetrics,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: ReportKind,
    pub period: String,
    pub title: String,
    pub scope: String,
    pub scope_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The last day with data: `to`, or the day of `as_of` when that is earlier.
    pub through: NaiveDate,
    pub previous_period: String,
    pub as_of: DateTime<Utc>,
    pub rules_version: String,
    pub calendar_version: String,
    /// The calendar alarm as of `as_of` (a holiday table that should be loaded is not), printed
    /// at the top.
    pub calendar_notice: Option<String>,
    pub summary: UnitFigures,
    pub rankings: Vec<Ranking>,
    pub orders: OrderFigures,
    /// The cap on the 差评 analysed cut them.
    pub analysis_truncated: bool,
    pub top_problems: Vec<CountRow>,
    pub categories: Vec<CountRow>,
    pub problems: ProblemFigures,
    pub coverage: Coverage,
    /// 应接尽接: the systems expected to report and which are connected, as of the report.
    pub systems: crate::app::coverage::SystemsCoverage,
    /// Semiannual reports: each month of the half up to `through`.
    pub trend: Vec<MonthFigures>,
}

impl Report {
    /// The stored files' name without extension: `bulletin-2026-11-410421`.
    pub fn stem(&self) -> String {
        stored_stem(self.kind, &self.period, &self.scope)
    }

    /// The name a person downloads it as: `宝丰县政务服务好差评月度调度通报（2026年11月）.xlsx`.
    pub fn download_name(&self, format: ReportFormat) -> String {
        download_name(self.kind, &self.period, &self.scope_name, format)
    }
}

pub fn stored_stem(kind: ReportKind, period: &str, scope: &str) -> String {
    format!("{}-{period}-{scope}", kind.slug())
}

pub fn download_name(
    kind: ReportKind,
    period: &str,
    scope_name: &str,
    format: ReportFormat,
) -> String {
    format!(
        "{scope_name}政务服务好差评{}（{}）.{}",
        kind.label(),
        period_label(period),
        format.extension()
    )
}

/// The unit's [`Names::of`]; `—` for an empty id (an order or a problem without one).
fn name_or_dash(names: &mut Names<'_>, dim: Dim, id: &str) -> Result<String, AppError> {
    if id.is_empty() {
        return Ok("—".into());
    }
    names.of(dim, id)
}

/// What the regions directly under a region are called.
fn region_children_label(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::City => "县（市、区）",
        OrgKind::County => "乡镇（街道）",
        OrgKind::Township => "村（社区）",
        _ => "下级区划",
    }
}

/// Builds the report of `scope` (a region) for a period, as of an instant. Blocking.
pub fn build(
    platform: &Platform,
    kind: ReportKind,
    period: &str,
    scope: &str,
    as_of: DateTime<Utc>,
) -> Result<Report, AppError> {
    let days = kind.period(period)?;
    let today = local_date(as_of);
    if days.from > today {
        return Err(AppError::invalid_range(format!(
            "period {period} has not begun on {today}"
        )));
    }
    let store = &platform.store;
    let region = store
        .org_unit(scope)?
        .filter(|unit| unit.kind.is_region())
        .ok_or_else(|| AppError::NotFound(format!("no region {scope}")))?;
    let previous_period = kind.previous(days);
    let before = kind.previous_days(days)?;
    let settings = &platform.metric_settings;
    // One version of the rules for every ranking, even if they are reloaded meanwhile.
    let set = platform.policies.active();
    let metrics_of = |keys: &[(Dim, String)], range: Period| {
        store.unit_metrics(keys, range.from, range.to, as_of, settings)
    };
    let whole = [(Dim::Region, scope.to_string())];
    let summary = UnitFigures {
        kind_label: "本级汇总".into(),
        unit: scope.to_string(),
        name: region.name.clone(),
        metrics: metrics_of(&whole, days)?
            .pop()
            .unwrap_or_else(empty_metrics),
        previous: metrics_of(&whole, before)?
            .pop()
            .unwrap_or_else(empty_metrics),
    };
    let mut rankings = Vec::new();
    for (dim, label) in [
        (Dim::Region, region_children_label(region.kind)),
        (Dim::Hall, "政务服务大厅（便民服务站）"),
        (Dim::Department, "部门"),
    ] {
        let run = assess(platform, &set, period, dim, scope, as_of)?;
        if run.units.is_empty() {
            continue;
        }
        let keys: Vec<(Dim, String)> = run
            .units
            .iter()
            .map(|unit| (dim, unit.unit.clone()))
            .collect();
        let previous = metrics_of(&keys, before)?;
        rankings.push(Ranking {
            label: label.to_string(),
            run,
            previous,
        });
    }
    let mut names = Names::new(store);
    let catalogue = IndicatorCatalogue::builtin()
        .map_err(|error| AppError::Internal(format!("analysis data: {error}")))?;
    let orders = order_figures(
        store,
        set.calendar(),
        &mut names,
        scope,
        days,
        before,
        as_of,
    )?;
    let categories = category_rows(catalogue, &orders.by_category);
    let (current, truncated) = bad_ratings(store, scope, days)?;
    let (earlier, earlier_truncated) = bad_ratings(store, scope, before)?;
    let top_problems = top_problems(store, &mut names, catalogue, &current, &earlier)?;
    let trend = match kind {
        ReportKind::Bulletin => Vec::new(),
        ReportKind::Semiannual => {
            let mut months = Vec::new();
            for month in days.from.month()..=today.min(days.to).month() {
                let text = format!("{}-{month:02}", days.from.year());
                let range = Period::parse(&text).map_err(AppError::BadRequest)?;
                months.push(MonthFigures {
                    label: format!("{month}月"),
                    metrics: metrics_of(&whole, range)?
                        .pop()
                        .unwrap_or_else(empty_metrics),
                });
            }
            months
        }
    };
    Ok(Report {
        kind,
        period: period.to_string(),
        title: format!(
            "{}政务服务“好差评”{}（{}）",
            region.name,
            kind.label(),
            period_label(period)
        ),
        scope: scope.to_string(),
        scope_name: region.name.clone(),
        from: days.from,
        to: days.to,
        through: days.to.min(today),
        previous_period,
        as_of,
        rules_version: set.version().to_string(),
        calendar_version: set.calendar().version(),
        calendar_notice: crate::app::calendar_alarm::bulletin_notice(set.calendar(), today),
        summary,
        rankings,
        orders,
        analysis_truncated: truncated || earlier_truncated,
        top_problems,
        categories,
        problems: problem_figures(store, &mut names, scope, days, as_of)?,
        coverage: coverage(store, scope)?,
        systems: crate::app::coverage::region_coverage(
            platform,
            scope,
            days.from,
            days.to.min(today),
            today,
        )?,
        trend,
    })
}

fn empty_metrics() -> UnitMetrics {
    UnitMetrics::compute(&Default::default(), Default::default(), &Default::default())
}

/// The instants a period's days span: China midnight of the first day to that of the day after
/// the last.
fn instants(days: Period) -> (DateTime<Utc>, DateTime<Utc>) {
    (day_start(days.from), day_start(days.to) + Duration::days(1))
}

/// The first phase of an open order past its due instant as of `as_of` whose timer runs: one
/// the sweep raised a 督办 on, or would raise one on now (the order's own rule: never the appeal
/// window, nothing while an appeal is decided, contact and verification only until verified).
fn late_phase<'a>(
    order: &'a Order,
    as_of: DateTime<Utc>,
    calendar: &Calendar,
) -> Option<&'a Deadline> {
    if !order.is_open() || order.state == OrderState::Appealing {
        return None;
    }
    // A provisional due is never late for 督办 until the official table confirms it; the flags
    // the sweep raised always count.
    let due_now = order.due_flags(as_of, calendar).due;
    order
        .deadlines
        .iter()
        .filter(|deadline| {
            deadline.done_at.is_none()
                && deadline.due <= as_of
                && (deadline.raised(FlagKind::Supervision)
                    || due_now.contains(&(deadline.phase, FlagKind::Supervision)))
        })
        .min_by_key(|deadline| deadline.due)
}

/// The first phase of an order with a flag of `kind` raised within `start..end`.
fn flagged(
    order: &Order,
    kind: FlagKind,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<&Deadline> {
    order.deadlines.iter().find(|deadline| {
        deadline
            .flags
            .iter()
            .any(|flag| flag.kind == kind && flag.at >= start && flag.at < end)
    })
}

fn order_kind_label(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::BadReview => "差评",
        OrderKind::Complaint => "投诉",
        OrderKind::Suggestion => "意见建议",
        OrderKind::Request => "诉求",
    }
}

fn order_state_label(state: OrderState) -> &'static str {
    match state {
        OrderState::Dispatched => "已派单",
        OrderState::Accepted => "已受理",
        OrderState::Verified => "已核实",
        OrderState::Rectifying => "整改中",
        OrderState::Appealing => "申诉中",
        OrderState::Rectified => "已整改待反馈",
        OrderState::FeedbackGiven => "已反馈",
        OrderState::CalledBack => "已回访",
        OrderState::Closed => "已结案",
    }
}

fn cause_label(cause: CauseClass) -> &'static str {
    match cause {
        CauseClass::Policy => "政策法规",
        CauseClass::Process => "办事流程",
        CauseClass::System => "系统故障",
        CauseClass::Attitude => "服务态度",
        CauseClass::Environment => "环境设施",
        CauseClass::Other => "其他",
    }
}

/// One pass over the work orders: received per kind, escalated in the period, late now, and the
/// list of late or escalated orders. Blocking.
fn order_figures(
    store: &Store,
    calendar: &Calendar,
    names: &mut Names<'_>,
    scope: &str,
    days: Period,
    before: Period,
    as_of: DateTime<Utc>,
) -> Result<OrderFigures, AppError> {
    let (start, end) = instants(days);
    let escalation_end = end.min(as_of + Duration::milliseconds(1));
    let (previous_start, previous_end) = instants(before);
    let mut figures = OrderFigures::default();
    for kind in [
        OrderKind::BadReview,
        OrderKind::Complaint,
        OrderKind::Suggestion,
        OrderKind::Request,
    ] {
        figures.received.insert(order_kind_label(kind), (0, 0));
    }
    let listed = store.orders(None, usize::MAX, |order| {
        if !order.regions.iter().any(|region| region == scope) {
            return false;
        }
        let received = order.received_at;
        let category = figures
            .by_category
            .entry(order.category.clone())
            .or_default();
        if let Some(counts) = figures.received.get_mut(order_kind_label(order.kind)) {
            if received >= start && received < end {
                counts.0 += 1;
                category.0 += 1;
            } else if received >= previous_start && received < previous_end {
                counts.1 += 1;
                category.1 += 1;
            }
        }
        let supervised = flagged(order, FlagKind::Supervision, start, escalation_end).is_some();
        let noticed = flagged(order, FlagKind::Notice, start, escalation_end).is_some();
        let late = late_phase(order, as_of, calendar).is_some();
        figures.supervised += u64::from(supervised);
        figures.noticed += u64::from(noticed);
        figures.late_now += u64::from(late);
        late || supervised || noticed
    })?;
    let mut rows = Vec::with_capacity(listed.len());
    for order in listed {
        let late = late_phase(&order, as_of, calendar).cloned();
        let escalated = flagged(&order, FlagKind::Notice, start, escalation_end)
            .or_else(|| flagged(&order, FlagKind::Supervision, start, escalation_end))
            .cloned();
        let phase = late.as_ref().or(escalated.as_ref());
        rows.push(ListedOrder {
            phase: phase.map(|deadline| deadline.phase),
            due: phase.map(|deadline| deadline.due),
            late_now: late.is_some(),
            supervised: order
                .deadlines
                .iter()
                .any(|deadline| deadline.raised(FlagKind::Supervision)),
            noticed: order
                .deadlines
                .iter()
                .any(|deadline| deadline.raised(FlagKind::Notice)),
            unit_name: name_or_dash(names, Dim::Department, &order.unit)?,
            department_name: name_or_dash(names, Dim::Department, &order.department)?,
            item_name: name_or_dash(names, Dim::Item, &order.task_code)?,
            order,
        });
    }
    rows.sort_by_key(|row| (row.due, row.order.id));
    figures.not_listed = rows.len().saturating_sub(MAX_LISTED_ORDERS);
    rows.truncate(MAX_LISTED_ORDERS);
    figures.listed = rows;
    Ok(figures)
}

/// The problem category of orders (as the routing policy files them) in words: the name of the
/// catalogue's indicator of that category, else a fixed word.
fn category_label(catalogue: &IndicatorCatalogue, category: &str) -> String {
    if let Some(indicator) = catalogue
        .indicators
        .iter()
        .find(|indicator| !category.is_empty() && indicator.category == category)
    {
        return indicator.name.clone();
    }
    match category {
        "" => "未分类".into(),
        "suggestion" => "意见建议".into(),
        "other" => "其他".into(),
        other => other.to_string(),
    }
}

fn trend_label(count: u64, previous: u64) -> &'static str {
    if previous == 0 {
        if count == 0 { "—" } else { "新出现" }
    } else if count > previous {
        "上升"
    } else if count == previous {
        "持平"
    } else {
        "下降"
    }
}

fn count_row(
    group: &str,
    key: &str,
    label: String,
    count: u64,
    total: u64,
    previous: u64,
) -> CountRow {
    CountRow {
        group: group.to_string(),
        key: key.to_string(),
        label,
        count,
        share: Ratio::new(count, total),
        previous,
        trend: trend_label(count, previous).to_string(),
    }
}

/// Work orders received in the period by problem category, most first.
fn category_rows(
    catalogue: &IndicatorCatalogue,
    by_category: &BTreeMap<String, (u64, u64)>,
) -> Vec<CountRow> {
    let total = by_category.values().map(|(count, _)| count).sum();
    let mut rows: Vec<CountRow> = by_category
        .iter()
        .filter(|(_, (count, _))| *count > 0)
        .map(|(key, (count, previous))| {
            count_row(
                "工单问题类别",
                key,
                category_label(catalogue, key),
                *count,
                total,
                *previous,
            )
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    rows
}

/// The valid first-rating 差评 filed under the region in a period, newest first, at most
/// [`MAX_ANALYSED`] (the flag says when more were left out). Blocking.
fn bad_ratings(store: &Store, scope: &str, days: Period) -> Result<(Vec<Rating>, bool), AppError> {
    let mut ratings = Vec::new();
    let walked = each_first_rating(
        store,
        Dim::Region,
        scope,
        (days.from, days.to),
        true,
        |rating| {
            if store.rating_marks(rating.id)?.invalid.is_some() {
                return Ok(ControlFlow::Continue(()));
            }
            if ratings.len() >= MAX_ANALYSED {
                return Ok(ControlFlow::Break(()));
            }
            ratings.push(rating);
            Ok(ControlFlow::Continue(()))
        },
    )?;
    Ok((ratings, walked.is_break()))
}

/// The top indicators, stages, items and departments of the period's 差评 and the hot words of
/// their comments, each against the period compared with. Blocking.
fn top_problems(
    store: &Store,
    names: &mut Names<'_>,
    catalogue: &IndicatorCatalogue,
    current: &[Rating],
    earlier: &[Rating],
) -> Result<Vec<CountRow>, AppError> {
    let now = analysis::attribute(current, catalogue);
    let before = analysis::attribute(earlier, catalogue);
    let mut rows = Vec::new();
    for facet in [
        Facet::Indicator,
        Facet::Stage,
        Facet::Item,
        Facet::Department,
    ] {
        let (Some(breakdown), previous) = (now.breakdown(facet), before.breakdown(facet)) else {
            continue;
        };
        for bucket in breakdown.buckets.iter().take(TOP) {
            let previous = previous
                .and_then(|previous| {
                    previous
                        .buckets
                        .iter()
                        .find(|earlier| earlier.key == bucket.key)
                })
                .map_or(0, |earlier| earlier.count);
            let label = match facet {
                Facet::Item if !bucket.key.is_empty() => names.of(Dim::Item, &bucket.key)?,
                Facet::Department if !bucket.key.is_empty() => {
                    names.of(Dim::Department, &bucket.key)?
                }
                _ => bucket.label.clone(),
            };
            rows.push(count_row(
                &format!("差评{}", facet.label_zh()),
                &bucket.key,
                label,
                bucket.count,
                now.total,
                previous,
            ));
        }
    }
    let segmenter = Segmenter::builtin()
        .map_err(|error| AppError::Internal(format!("analysis data: {error}")))?;
    let (current, earlier) = (
        Comments::of(store.pii(), current)?,
        Comments::of(store.pii(), earlier)?,
    );
    let words = analysis::hot_words(segmenter, &current.borrowed(), &earlier.borrowed(), TOP);
    for word in words.words {
        rows.push(CountRow {
            group: "差评热词".into(),
            key: String::new(),
            label: word.word,
            count: word.count,
            share: word.share,
            previous: word.previous_count,
            trend: word.trend_label,
        });
    }
    Ok(rows)
}

/// Systemic problems of the region (its own, or owned by a unit in it) confirmed before the
/// period ended and open during it or completed in it. Blocking.
fn problem_figures(
    store: &Store,
    names: &mut Names<'_>,
    scope: &str,
    days: Period,
    as_of: DateTime<Utc>,
) -> Result<ProblemFigures, AppError> {
    let (start, end) = instants(days);
    let today = local_date(as_of);
    let mut figures = ProblemFigures::default();
    for problem in store.problems()? {
        let ours = store.within(Dim::Region, &problem.region, scope)?
            || store.within(Dim::Department, &problem.owner, scope)?;
        if !ours || problem.opened_at >= end || problem.opened_at > as_of {
            continue;
        }
        let done_at = problem.done_at.filter(|done| *done <= as_of);
        if done_at.is_some_and(|done| done < start) {
            continue;
        }
        figures.opened += u64::from(problem.opened_at >= start);
        let overdue = done_at.is_none() && problem.due < today;
        if done_at.is_some() {
            figures.fixed += 1;
        } else {
            figures.open += 1;
            figures.open_overdue += u64::from(overdue);
        }
        figures.listed.push(SystemicProblem {
            owner_name: name_or_dash(names, Dim::Department, &problem.owner)?,
            overdue,
            problem,
        });
    }
    figures.listed.sort_by_key(|listed| listed.problem.id);
    Ok(figures)
}

/// Halls and windows of the region, and how its windows take ratings. Blocking.
fn coverage(store: &Store, scope: &str) -> Result<Coverage, AppError> {
    let mut coverage = Coverage::default();
    for unit in store.org_units()? {
        let counted = matches!(
            unit.kind,
            OrgKind::Hall | OrgKind::ServicePoint | OrgKind::Window
        );
        if !counted || !store.within(Dim::Region, &unit.id, scope)? {
            continue;
        }
        if unit.kind == OrgKind::Window {
            coverage.windows += 1;
            coverage.with_device += u64::from(unit.has_device);
            coverage.with_qr_code += u64::from(unit.has_qr_code);
            coverage.covered += u64::from(unit.has_device || unit.has_qr_code);
        } else {
            coverage.halls += 1;
        }
    }
    Ok(coverage)
}

// ---------------------------------------------------------------------------------------------
// Tables: what both renderings show

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Count(u64),
    /// A change of a count: `+3`, `-1`, `0`.
    Change(i64),
    /// A score or an average, two decimals.
    Number(Decimal),
    /// A rate as a fraction (`0.85` shows as 85.00%); `None` when its denominator is zero.
    Rate(Option<Decimal>),
    /// A change of a rate in percentage points; the value is the difference of the fractions.
    Points(Option<Decimal>),
    Time(DateTime<Utc>),
    Date(NaiveDate),
    /// 是 / 否.
    Flag(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStyle {
    Normal,
    /// A heading row inside a table (its first cell spans the row).
    Section,
    /// Something to act on: a vetoed unit, an order still late.
    Alert,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub style: RowStyle,
}

impl Row {
    fn new(cells: Vec<Cell>) -> Row {
        Row {
            cells,
            style: RowStyle::Normal,
        }
    }

    fn styled(cells: Vec<Cell>, style: RowStyle) -> Row {
        Row { cells, style }
    }

    fn section(text: &str) -> Row {
        Row::styled(vec![Cell::Text(text.to_string())], RowStyle::Section)
    }
}

/// One sheet of the workbook and one section of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name.
    pub sheet: &'static str,
    /// The section's heading on the page.
    pub heading: &'static str,
    /// Column headers and widths (in characters of the workbook's default font).
    pub columns: Vec<(&'static str, f64)>,
    pub rows: Vec<Row>,
    /// Offer a filter on the header row (lists, not summaries).
    pub filter: bool,
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

fn rate_value(metrics: &UnitMetrics, name: &str) -> Option<Decimal> {
    metrics.rates.get(name).and_then(|ratio| ratio.value)
}

fn rate_change(now: Option<Decimal>, before: Option<Decimal>) -> Option<Decimal> {
    Some(now? - before?)
}

fn count_change(now: u64, before: u64) -> i64 {
    i64::try_from(now)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(before).unwrap_or(i64::MAX))
}

fn count_line(label: &str, now: u64, before: u64, note: &str) -> Row {
    Row::new(vec![
        text(label),
        Cell::Count(now),
        Cell::Count(before),
        Cell::Change(count_change(now, before)),
        text(note),
    ])
}

fn ratio_note(ratio: Option<&Ratio>) -> String {
    ratio.map_or_else(String::new, |ratio| {
        format!("{}/{}", ratio.numerator, ratio.denominator)
    })
}

/// The tables of a report, in order. The page shows the rates of the units compactly
/// (`compact_rates`); the workbook lists every rate of every unit with its parts.
pub fn tables(report: &Report, compact_rates: bool) -> Vec<Table> {
    let mut tables = vec![overview(report)];
    if report.kind == ReportKind::Semiannual {
        tables.push(trend_table(report));
    }
    tables.push(ranking_table(report));
    tables.push(if compact_rates {
        compact_rates_table(report)
    } else {
        rates_table(report)
    });
    tables.push(orders_table(report));
    tables.push(problems_table(report));
    tables.push(systemic_table(report));
    tables
}

fn overview(report: &Report) -> Table {
    let now = &report.summary.metrics;
    let before = &report.summary.previous;
    let mut rows: Vec<Row> = report
        .calendar_notice
        .iter()
        .map(|notice| Row::styled(vec![text(notice.clone())], RowStyle::Alert))
        .collect();
    rows.extend([
        Row::section("基本情况"),
        Row::new(vec![
            text("区划"),
            text(format!("{}（{}）", report.scope_name, report.scope)),
        ]),
        Row::new(vec![
            text("统计期间"),
            text(format!("{} 至 {}", report.from, report.through)),
            text(format!(
                "对比期间：{}",
                period_label(&report.previous_period)
            )),
        ]),
        Row::new(vec![text("数据截至"), Cell::Time(report.as_of)]),
        Row::new(vec![
            text("规则版本"),
            // The content hash, shortened as people quote it; the page's footer and the
            // workbook's properties carry it whole.
            text(report.rules_version.chars().take(12).collect::<String>()),
            text(format!("日历：{}", report.calendar_version)),
        ]),
        Row::section("评价情况"),
        count_line(
            "应评价服务数",
            now.services,
            before.services,
            "办件服务环节",
        ),
        count_line(
            "评价数",
            now.ratings,
            before.ratings,
            "首次评价，含系统默认评价",
        ),
        count_line("主动评价数", now.active_ratings, before.active_ratings, ""),
        count_line(
            "系统默认评价数",
            now.default_ratings,
            before.default_ratings,
            "",
        ),
        count_line(
            "申诉成立（无效）评价数",
            now.invalid,
            before.invalid,
            "不计入考核",
        ),
        count_line("有效评价数", now.valid_ratings, before.valid_ratings, ""),
        count_line("好评数", now.good, before.good, ""),
        count_line("差评数", now.bad, before.bad, "有效差评"),
        count_line("实名差评数", now.real_name_bad, before.real_name_bad, ""),
        count_line("追评数", now.follow_ups, before.follow_ups, ""),
        Row::new(vec![
            text("每千件服务差评数"),
            now.bad_per_thousand_services
                .map_or(Cell::Empty, Cell::Number),
            before
                .bad_per_thousand_services
                .map_or(Cell::Empty, Cell::Number),
        ]),
        Row::new(vec![
            text("平均分"),
            now.average_score.map_or(Cell::Empty, Cell::Number),
            before.average_score.map_or(Cell::Empty, Cell::Number),
        ]),
        Row::section("评价指标（率）"),
    ]);
    for (name, label) in assessment::RATE_LABELS {
        let value = rate_value(now, name);
        let previous = rate_value(before, name);
        rows.push(Row::new(vec![
            text(label),
            Cell::Rate(value),
            Cell::Rate(previous),
            Cell::Points(rate_change(value, previous)),
            text(ratio_note(now.rates.get(name))),
        ]));
    }
    rows.push(Row::section("差评整改"));
    let (orders, earlier) = (&now.orders, &before.orders);
    rows.extend([
        count_line(
            "差评工单数",
            orders.orders,
            earlier.orders,
            "按差评收到的期间统计",
        ),
        count_line("已整改", orders.rectified, earlier.rectified, ""),
        count_line(
            "按期整改",
            orders.rectified_on_time,
            earlier.rectified_on_time,
            "",
        ),
        count_line("已反馈", orders.fed_back, earlier.fed_back, ""),
        count_line("已回访", orders.called_back, earlier.called_back, ""),
        count_line("已结案", orders.closed, earlier.closed, ""),
        count_line("申诉成立", orders.appeal_upheld, earlier.appeal_upheld, ""),
        count_line(
            "超期未整改",
            now.overdue.orders,
            before.overdue.orders,
            "截至数据截至时刻",
        ),
        count_line(
            "其中实名差评超期未整改",
            now.overdue.real_name_orders,
            before.overdue.real_name_orders,
            "",
        ),
    ]);
    rows.push(Row::section("工单与督办"));
    for (label, (count, previous)) in &report.orders.received {
        rows.push(count_line(
            &format!("收到{label}工单"),
            *count,
            *previous,
            "",
        ));
    }
    rows.extend([
        Row::new(vec![
            text("本期督办工单"),
            Cell::Count(report.orders.supervised),
        ]),
        Row::new(vec![
            text("本期通报工单"),
            Cell::Count(report.orders.noticed),
        ]),
        Row::new(vec![
            text("当前超期未办结工单"),
            Cell::Count(report.orders.late_now),
            Cell::Empty,
            Cell::Empty,
            text("任一环节超过时限"),
        ]),
    ]);
    rows.push(Row::section("系统性问题整改"));
    let problems = &report.problems;
    rows.extend([
        Row::new(vec![
            text("本期确认系统性问题"),
            Cell::Count(problems.opened),
        ]),
        Row::new(vec![text("本期完成整改"), Cell::Count(problems.fixed)]),
        Row::new(vec![text("尚在整改"), Cell::Count(problems.open)]),
        Row::new(vec![
            text("其中逾期未完成"),
            Cell::Count(problems.open_overdue),
        ]),
    ]);
    rows.push(Row::section("覆盖情况"));
    let coverage = &report.coverage;
    let covered = Ratio::new(coverage.covered, coverage.windows);
    rows.extend([
        Row::new(vec![
            text("政务服务大厅（便民服务站）"),
            Cell::Count(coverage.halls),
        ]),
        Row::new(vec![text("窗口数"), Cell::Count(coverage.windows)]),
        Row::new(vec![
            text("配备评价器的窗口"),
            Cell::Count(coverage.with_device),
        ]),
        Row::new(vec![
            text("设置评价二维码的窗口"),
            Cell::Count(coverage.with_qr_code),
        ]),
        Row::new(vec![
            text("窗口评价覆盖率"),
            Cell::Rate(covered.value),
            Cell::Empty,
            Cell::Empty,
            text(ratio_note(Some(&covered))),
        ]),
    ]);
    let systems = &report.systems;
    rows.extend([
        Row::new(vec![
            text("应接入的业务系统和评价设备"),
            Cell::Count(systems.connected.denominator),
        ]),
        Row::new(vec![
            text("应接尽接率"),
            Cell::Rate(systems.connected.value),
            Cell::Empty,
            Cell::Empty,
            text(format!(
                "{}（超过 {} 个工作日无数据即为中断）",
                ratio_note(Some(&systems.connected)),
                systems.silent_after_working_days
            )),
        ]),
    ]);
    for source in systems
        .sources
        .iter()
        .filter(|source| source.expected && !source.connected)
    {
        let silence = match source.silent_working_days {
            Some(days) => format!("{days} 个工作日无数据"),
            None => "从未接入".to_string(),
        };
        rows.push(Row::styled(
            vec![
                text(format!("未接入或中断：{}", source.name)),
                text(source.kind.label_zh()),
                text(silence),
            ],
            RowStyle::Alert,
        ));
    }
    rows.push(Row::section("评价渠道"));
    for channel in Channel::ALL {
        let count = now.by_channel.get(&channel).copied().unwrap_or(0);
        let previous = before.by_channel.get(&channel).copied().unwrap_or(0);
        if count > 0 || previous > 0 {
            let share = Ratio::new(count, now.ratings);
            rows.push(count_line(
                channel.label_zh(),
                count,
                previous,
                &share
                    .value
                    .map(|value| format!("占 {}", percent(value)))
                    .unwrap_or_default(),
            ));
        }
    }
    Table {
        sheet: "概况",
        heading: "总体情况",
        columns: vec![
            ("项目", 28.0),
            ("本期", 16.0),
            ("上期", 16.0),
            ("环比变化（率为百分点）", 22.0),
            ("说明", 34.0),
        ],
        rows,
        filter: false,
    }
}

fn trend_table(report: &Report) -> Table {
    let rows = report
        .trend
        .iter()
        .map(|month| {
            let metrics = &month.metrics;
            Row::new(vec![
                text(month.label.clone()),
                Cell::Count(metrics.services),
                Cell::Count(metrics.ratings),
                Cell::Rate(rate_value(metrics, "active_rate")),
                Cell::Rate(rate_value(metrics, "rating_rate")),
                Cell::Rate(rate_value(metrics, "good_rate")),
                Cell::Count(metrics.bad),
                Cell::Rate(rate_value(metrics, "bad_rate")),
                Cell::Count(metrics.orders.orders),
                Cell::Rate(rate_value(metrics, "on_time_rectify_rate")),
                Cell::Rate(rate_value(metrics, "real_name_on_time_rectify_rate")),
                Cell::Rate(rate_value(metrics, "rectify_satisfaction_rate")),
                Cell::Count(metrics.overdue.orders),
            ])
        })
        .collect();
    Table {
        sheet: "月度趋势",
        heading: "月度趋势",
        columns: vec![
            ("月份", 8.0),
            ("应评价服务数", 12.0),
            ("评价数", 10.0),
            ("主动评价率", 12.0),
            ("评价率", 10.0),
            ("好评率", 10.0),
            ("差评数", 8.0),
            ("差评率", 10.0),
            ("差评工单", 10.0),
            ("按期整改率", 12.0),
            ("实名差评按期整改率", 18.0),
            ("整改满意率", 12.0),
            ("超期未整改", 12.0),
        ],
        rows,
        filter: false,
    }
}

fn ranking_table(report: &Report) -> Table {
    let mut rows = Vec::new();
    for ranking in &report.rankings {
        for unit in &ranking.run.units {
            let reasons: Vec<String> = unit
                .vetoes
                .iter()
                .map(|veto| veto.reason.clone())
                .chain(unit.error.clone())
                .collect();
            let metrics = &unit.metrics;
            rows.push(Row::styled(
                vec![
                    text(ranking.label.clone()),
                    unit.position
                        .map_or(Cell::Empty, |place| Cell::Count(place.into())),
                    unit.rank
                        .map_or(text(if unit.vetoed { "不参评" } else { "" }), |rank| {
                            Cell::Count(rank.into())
                        }),
                    text(unit.name.clone()),
                    text(unit.unit.clone()),
                    unit.score
                        .as_ref()
                        .map_or(Cell::Empty, |score| Cell::Number(score.total)),
                    Cell::Flag(unit.vetoed),
                    text(reasons.join("；")),
                    Cell::Rate(rate_value(metrics, "active_rate")),
                    Cell::Rate(rate_value(metrics, "good_rate")),
                    Cell::Rate(rate_value(metrics, "on_time_rectify_rate")),
                    Cell::Rate(rate_value(metrics, "real_name_on_time_rectify_rate")),
                    Cell::Count(metrics.bad),
                    Cell::Count(metrics.overdue.orders),
                ],
                if unit.vetoed {
                    RowStyle::Alert
                } else {
                    RowStyle::Normal
                },
            ));
        }
    }
    if rows.is_empty() {
        rows.push(Row::new(vec![text("本区划下无参加考核的单位")]));
    }
    Table {
        sheet: "排名",
        heading: "考核排名",
        columns: vec![
            ("单位类别", 22.0),
            ("得分位次", 9.0),
            ("评优排名", 9.0),
            ("单位名称", 28.0),
            ("单位编码", 22.0),
            ("得分", 9.0),
            ("一票否决", 9.0),
            ("否决原因", 36.0),
            ("主动评价率", 11.0),
            ("好评率", 10.0),
            ("按期整改率", 11.0),
            ("实名差评按期整改率", 18.0),
            ("差评数", 8.0),
            ("超期未整改", 10.0),
        ],
        rows,
        filter: true,
    }
}

/// Every unit of the report: the region itself, then the units of each ranking in its order.
fn units_of(report: &Report) -> Vec<(String, String, String, &UnitMetrics, &UnitMetrics)> {
    let summary = &report.summary;
    let mut units = vec![(
        summary.kind_label.clone(),
        summary.name.clone(),
        summary.unit.clone(),
        &summary.metrics,
        &summary.previous,
    )];
    for ranking in &report.rankings {
        for (unit, previous) in ranking.run.units.iter().zip(&ranking.previous) {
            units.push((
                ranking.label.clone(),
                unit.name.clone(),
                unit.unit.clone(),
                &unit.metrics,
                previous,
            ));
        }
    }
    units
}

fn rates_table(report: &Report) -> Table {
    let mut rows = Vec::new();
    for (kind, name, code, now, before) in units_of(report) {
        for (rate, label) in assessment::RATE_LABELS {
            let ratio = now.rates.get(rate);
            let value = ratio.and_then(|ratio| ratio.value);
            let previous = rate_value(before, rate);
            rows.push(Row::new(vec![
                text(kind.clone()),
                text(name.clone()),
                text(code.clone()),
                text(label),
                ratio.map_or(Cell::Empty, |ratio| Cell::Count(ratio.numerator)),
                ratio.map_or(Cell::Empty, |ratio| Cell::Count(ratio.denominator)),
                Cell::Rate(value),
                Cell::Rate(previous),
                Cell::Points(rate_change(value, previous)),
            ]));
        }
    }
    Table {
        sheet: "指标",
        heading: "各单位评价指标",
        columns: vec![
            ("单位类别", 22.0),
            ("单位名称", 28.0),
            ("单位编码", 22.0),
            ("指标", 20.0),
            ("分子", 9.0),
            ("分母", 9.0),
            ("本期", 10.0),
            ("上期", 10.0),
            ("环比变化（百分点）", 18.0),
        ],
        rows,
        filter: true,
    }
}

/// The rates that matter most, one row per unit, with their change against the period before.
const COMPACT_RATES: [&str; 6] = [
    "active_rate",
    "good_rate",
    "bad_rate",
    "on_time_rectify_rate",
    "real_name_on_time_rectify_rate",
    "callback_rate",
];

fn compact_rates_table(report: &Report) -> Table {
    let mut rows = Vec::new();
    for (kind, name, code, now, before) in units_of(report) {
        let mut cells = vec![text(kind), text(name), text(code)];
        for rate in COMPACT_RATES {
            let value = rate_value(now, rate);
            cells.push(Cell::Rate(value));
            cells.push(Cell::Points(rate_change(value, rate_value(before, rate))));
        }
        rows.push(Row::new(cells));
    }
    let mut columns = vec![("单位类别", 16.0), ("单位名称", 20.0), ("单位编码", 16.0)];
    for rate in COMPACT_RATES {
        columns.push((assessment::rate_label(rate).unwrap_or(rate), 10.0));
        columns.push(("环比", 8.0));
    }
    Table {
        sheet: "指标",
        heading: "各单位评价指标",
        columns,
        rows,
        filter: false,
    }
}

fn orders_table(report: &Report) -> Table {
    let mut rows: Vec<Row> = report
        .orders
        .listed
        .iter()
        .map(|listed| {
            let order = &listed.order;
            let late_days = listed.due.map(|due| {
                let until = if listed.late_now {
                    report.as_of
                } else {
                    order
                        .deadlines
                        .iter()
                        .find(|deadline| Some(deadline.phase) == listed.phase)
                        .and_then(|deadline| deadline.done_at)
                        .unwrap_or(report.as_of)
                };
                // Natural days begun past the due instant.
                let minutes = (until - due).num_minutes().max(0);
                u64::try_from((minutes + 1439) / 1440).unwrap_or(0)
            });
            Row::styled(
                vec![
                    Cell::Count(order.id),
                    text(order_kind_label(order.kind)),
                    text(listed.unit_name.clone()),
                    text(listed.department_name.clone()),
                    text(listed.item_name.clone()),
                    Cell::Time(order.received_at),
                    text(order_state_label(order.state)),
                    text(listed.phase.map_or("", hcp_core::workflow::phase_name)),
                    listed.due.map_or(Cell::Empty, Cell::Time),
                    late_days.map_or(Cell::Empty, Cell::Count),
                    text(if listed.late_now {
                        "超期未办结"
                    } else {
                        "逾期后已完成"
                    }),
                    Cell::Flag(listed.supervised),
                    Cell::Flag(listed.noticed),
                    Cell::Flag(order.real_name),
                ],
                if listed.late_now {
                    RowStyle::Alert
                } else {
                    RowStyle::Normal
                },
            )
        })
        .collect();
    if rows.is_empty() {
        rows.push(Row::new(vec![text("本期无超期、督办或通报工单")]));
    }
    if report.orders.not_listed > 0 {
        rows.push(Row::new(vec![text(format!(
            "另有 {} 件未列出",
            report.orders.not_listed
        ))]));
    }
    Table {
        sheet: "超期工单",
        heading: "超期及督办、通报工单",
        columns: vec![
            ("工单号", 9.0),
            ("类型", 9.0),
            ("责任单位", 26.0),
            ("被评价部门", 26.0),
            ("事项", 24.0),
            ("收到时间", 17.0),
            ("当前状态", 13.0),
            ("超期环节", 9.0),
            ("应完成时间", 17.0),
            ("超期天数", 9.0),
            ("办理情况", 16.0),
            ("督办", 6.0),
            ("通报", 6.0),
            ("实名", 6.0),
        ],
        rows,
        filter: true,
    }
}

fn problems_table(report: &Report) -> Table {
    let mut rows: Vec<Row> = report
        .top_problems
        .iter()
        .chain(&report.categories)
        .map(|row| {
            Row::new(vec![
                text(row.group.clone()),
                text(row.label.clone()),
                text(row.key.clone()),
                Cell::Count(row.count),
                Cell::Rate(row.share.value),
                Cell::Count(row.previous),
                Cell::Change(count_change(row.count, row.previous)),
                text(row.trend.clone()),
            ])
        })
        .collect();
    if rows.is_empty() {
        rows.push(Row::new(vec![text("本期无差评和工单")]));
    }
    if report.analysis_truncated {
        rows.push(Row::new(vec![text(format!(
            "差评超过 {MAX_ANALYSED} 条，仅分析最近的 {MAX_ANALYSED} 条"
        ))]));
    }
    Table {
        sheet: "问题",
        heading: "突出问题",
        columns: vec![
            ("类别", 16.0),
            ("名称", 28.0),
            ("编码", 22.0),
            ("本期数量", 10.0),
            ("占比", 10.0),
            ("上期数量", 10.0),
            ("增减", 8.0),
            ("趋势", 8.0),
        ],
        rows,
        filter: true,
    }
}

fn systemic_table(report: &Report) -> Table {
    let mut rows: Vec<Row> = report
        .problems
        .listed
        .iter()
        .map(|listed| {
            let problem = &listed.problem;
            let done = problem.done_at.filter(|done| *done <= report.as_of);
            let state = match (problem.state, done, listed.overdue) {
                (ProblemState::Done, Some(_), _) => "已完成",
                (_, _, true) => "逾期未完成",
                _ => "整改中",
            };
            Row::styled(
                vec![
                    Cell::Count(problem.id),
                    text(problem.title.clone()),
                    text(cause_label(problem.cause)),
                    text(problem.basis.clone()),
                    text(listed.owner_name.clone()),
                    text(problem.plan.clone()),
                    Cell::Date(problem.due),
                    text(state),
                    Cell::Count(problem.orders.len() as u64),
                    Cell::Time(problem.opened_at),
                    done.map_or(Cell::Empty, Cell::Time),
                    text(problem.action.clone().unwrap_or_default()),
                ],
                if listed.overdue {
                    RowStyle::Alert
                } else {
                    RowStyle::Normal
                },
            )
        })
        .collect();
    if rows.is_empty() {
        rows.push(Row::new(vec![text("本期无系统性问题")]));
    }
    Table {
        sheet: "系统性问题",
        heading: "系统性问题整改",
        columns: vec![
            ("编号", 8.0),
            ("问题", 30.0),
            ("原因分类", 10.0),
            ("归集依据", 18.0),
            ("牵头单位", 24.0),
            ("整改计划", 36.0),
            ("整改期限", 12.0),
            ("状态", 10.0),
            ("涉及工单", 9.0),
            ("确认时间", 17.0),
            ("完成时间", 17.0),
            ("整改措施", 30.0),
        ],
        rows,
        filter: true,
    }
}

// ---------------------------------------------------------------------------------------------
// XLSX

/// The workbook: one sheet per table, a title row, a frozen header row, number formats for
/// rates, counts and times, column widths, a filter on lists, landscape pages one page wide.
pub fn to_xlsx(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_timestamp(report.as_of.timestamp())?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(report.title.clone())
            .set_subject(format!("{}（{}）", report.kind.label(), report.period))
            .set_author("政务服务好差评平台")
            .set_comment(format!(
                "规则版本 {}；工作日历 {}",
                report.rules_version, report.calendar_version
            ))
            .set_creation_datetime(&created),
    );
    for table in tables(report, false) {
        workbook.push_worksheet(worksheet(report, &table)?);
    }
    workbook.save_to_buffer()
}

const ALERT_COLOR: u32 = 0xC0_0000;

fn cell_format(cell: &Cell, style: RowStyle) -> Format {
    let format = match cell {
        Cell::Count(_) => Format::new().set_num_format("#,##0"),
        Cell::Change(_) => Format::new().set_num_format("+#,##0;-#,##0;0"),
        Cell::Number(_) => Format::new().set_num_format("0.00"),
        Cell::Rate(Some(_)) => Format::new().set_num_format("0.00%"),
        Cell::Points(Some(_)) => Format::new().set_num_format("+0.00;-0.00;0.00"),
        Cell::Time(_) => Format::new().set_num_format("yyyy-mm-dd hh:mm"),
        Cell::Date(_) => Format::new().set_num_format("yyyy-mm-dd"),
        Cell::Rate(None) | Cell::Points(None) | Cell::Flag(_) => {
            Format::new().set_align(FormatAlign::Center)
        }
        Cell::Empty | Cell::Text(_) => Format::new(),
    };
    match style {
        RowStyle::Alert => format.set_font_color(ALERT_COLOR),
        RowStyle::Section => format.set_bold().set_background_color(0xF2_F2F2),
        RowStyle::Normal => format,
    }
}

/// China time as Excel's serial date-time.
fn excel_time(at: DateTime<Utc>) -> Result<ExcelDateTime, XlsxError> {
    let local = at.with_timezone(&china_tz()).naive_local();
    ExcelDateTime::from_timestamp(local.and_utc().timestamp())
}

fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    style: RowStyle,
) -> Result<(), XlsxError> {
    let format = cell_format(cell, style);
    let number = |value: Decimal| value.to_f64();
    match cell {
        Cell::Empty => {
            sheet.write_blank(row, col, &format)?;
        }
        Cell::Text(value) => {
            sheet.write_string_with_format(row, col, value, &format)?;
        }
        Cell::Count(value) => {
            // Counts stay far below 2^53.
            sheet.write_number_with_format(row, col, *value as f64, &format)?;
        }
        Cell::Change(value) => {
            sheet.write_number_with_format(row, col, *value as f64, &format)?;
        }
        Cell::Number(value) | Cell::Rate(Some(value)) => match number(*value) {
            Some(value) => {
                sheet.write_number_with_format(row, col, value, &format)?;
            }
            None => {
                sheet.write_string_with_format(row, col, value.to_string(), &format)?;
            }
        },
        Cell::Points(Some(value)) => match number(*value * Decimal::ONE_HUNDRED) {
            Some(value) => {
                sheet.write_number_with_format(row, col, value, &format)?;
            }
            None => {
                sheet.write_string_with_format(row, col, value.to_string(), &format)?;
            }
        },
        Cell::Rate(None) | Cell::Points(None) => {
            sheet.write_string_with_format(row, col, "—", &format)?;
        }
        Cell::Time(at) => {
            sheet.write_datetime_with_format(row, col, excel_time(*at)?, &format)?;
        }
        Cell::Date(day) => {
            let date = ExcelDateTime::from_ymd(
                u16::try_from(day.year()).unwrap_or(1900),
                u8::try_from(day.month()).unwrap_or(1),
                u8::try_from(day.day()).unwrap_or(1),
            )?;
            sheet.write_datetime_with_format(row, col, date, &format)?;
        }
        Cell::Flag(value) => {
            sheet.write_string_with_format(row, col, if *value { "是" } else { "否" }, &format)?;
        }
    }
    Ok(())
}

/// Row 0 holds the title, row 1 the headers (frozen, repeated on printed pages), data from
/// row 2.
fn worksheet(report: &Report, table: &Table) -> Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name(table.sheet)?;
    let last_col = u16::try_from(table.columns.len().saturating_sub(1)).unwrap_or(0);
    let title = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Left);
    sheet.merge_range(
        0,
        0,
        0,
        last_col.max(1),
        &format!("{}——{}", report.title, table.heading),
        &title,
    )?;
    sheet.set_row_height(0, 24)?;
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_background_color(0xDD_EBF7)
        .set_border(FormatBorder::Thin);
    for (col, (name, width)) in table.columns.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet.write_string_with_format(1, col, *name, &header)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(2, 0)?;
    let mut row_number = 2u32;
    for row in &table.rows {
        if row.style == RowStyle::Section {
            let heading = match row.cells.first() {
                Some(Cell::Text(heading)) => heading.as_str(),
                _ => "",
            };
            sheet.merge_range(
                row_number,
                0,
                row_number,
                last_col.max(1),
                heading,
                &cell_format(&Cell::Empty, RowStyle::Section),
            )?;
        } else {
            for (col, cell) in row.cells.iter().enumerate() {
                let col = u16::try_from(col).unwrap_or(u16::MAX);
                write_cell(&mut sheet, row_number, col, cell, row.style)?;
            }
        }
        row_number += 1;
    }
    if table.filter && row_number > 2 {
        sheet.autofilter(1, 0, row_number - 1, last_col)?;
    }
    sheet
        .set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0)
        .set_footer("&C第 &P 页，共 &N 页");
    sheet.set_repeat_rows(0, 1)?;
    Ok(sheet)
}

// ---------------------------------------------------------------------------------------------
// HTML

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// `85.71%` from 0.857142.
pub fn percent(value: Decimal) -> String {
    format!(
        "{:.2}%",
        (value * Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// `+1.25` percentage points from a change of 0.0125.
fn points(value: Decimal) -> String {
    let points = (value * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if points > Decimal::ZERO {
        format!("+{points:.2}")
    } else {
        format!("{points:.2}")
    }
}

fn china_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&china_tz())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A cell's text on the page and whether it is a number (right-aligned).
fn cell_text(cell: &Cell) -> (String, bool) {
    match cell {
        Cell::Empty => (String::new(), false),
        Cell::Text(value) => (escape(value), false),
        Cell::Count(value) => (value.to_string(), true),
        Cell::Change(value) if *value > 0 => (format!("+{value}"), true),
        Cell::Change(value) => (value.to_string(), true),
        Cell::Number(value) => (
            format!(
                "{:.2}",
                value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            ),
            true,
        ),
        Cell::Rate(Some(value)) => (percent(*value), true),
        Cell::Points(Some(value)) => (points(*value), true),
        Cell::Rate(None) | Cell::Points(None) => ("—".into(), true),
        Cell::Time(at) => (china_time(*at), false),
        Cell::Date(day) => (day.to_string(), false),
        Cell::Flag(value) => ((if *value { "是" } else { "否" }).into(), false),
    }
}

/// The printable page's one script, its print button's handler: allowed by its hash in the
/// content policy (`http::headers`), as is [`PAGE_STYLE`].
pub const PRINT_ONCLICK: &str = "window.print()";

/// The printable page's style.
pub const PAGE_STYLE: &str = r#"
@page { size: A4 landscape; margin: 12mm 10mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "SimSun", sans-serif; font-size: 12px; color: #222; margin: 24px auto; max-width: 1200px; line-height: 1.5; }
h1 { font-size: 22px; text-align: center; margin: 0 0 4px; }
.meta { text-align: center; color: #555; margin: 0 0 16px; }
.summary { border: 1px solid #bbb; background: #fafafa; padding: 8px 12px; margin: 0 0 16px; }
h2 { font-size: 16px; margin: 18px 0 6px; border-left: 4px solid #1f4e79; padding-left: 8px; break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 0 0 12px; }
th, td { border: 1px solid #999; padding: 3px 6px; vertical-align: top; }
th { background: #ddebf7; font-weight: bold; text-align: center; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.section td { background: #f2f2f2; font-weight: bold; }
tr.alert td { color: #c00000; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.print { float: right; }
footer { color: #777; font-size: 11px; margin-top: 16px; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5px; }
  .print { display: none; }
  th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// One paragraph with the key figures, as a bulletin opens.
fn summary_paragraph(report: &Report) -> String {
    let now = &report.summary.metrics;
    let before = &report.summary.previous;
    let rate = |name: &str| {
        let value = rate_value(now, name);
        let change = rate_change(value, rate_value(before, name));
        match (value, change) {
            (Some(value), Some(change)) => {
                format!("{}（环比 {} 个百分点）", percent(value), points(change))
            }
            (Some(value), None) => percent(value),
            (None, _) => "—（无分母）".into(),
        }
    };
    format!(
        "本期{}应评价服务 {} 件，收到评价 {} 条（主动评价 {} 条，系统默认评价 {} 条），主动评价率 {}，好评率 {}；有效差评 {} 条（实名 {} 条），差评工单 {} 件，按期整改率 {}，实名差评按期整改率 {}；超期未整改 {} 件，本期督办 {} 件、通报 {} 件；系统性问题本期完成整改 {} 个、尚在整改 {} 个。",
        escape(&report.scope_name),
        now.services,
        now.ratings,
        now.active_ratings,
        now.default_ratings,
        rate("active_rate"),
        rate("good_rate"),
        now.bad,
        now.real_name_bad,
        now.orders.orders,
        rate("on_time_rectify_rate"),
        rate("real_name_on_time_rectify_rate"),
        now.overdue.orders,
        report.orders.supervised,
        report.orders.noticed,
        report.problems.fixed,
        report.problems.open,
    )
}

const NUMERALS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// The printable page: Simplified Chinese, inline styles with print rules, no external assets.
pub fn to_html(report: &Report) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n<button class=\"print\" onclick=\"{PRINT_ONCLICK}\">打印</button>\n<h1>{title}</h1>\n<p class=\"meta\">统计期间：{from} 至 {through}　对比期间：{previous}　数据截至：{as_of}</p>\n<p class=\"summary\">{summary}</p>\n",
        title = escape(&report.title),
        from = report.from,
        through = report.through,
        previous = escape(&period_label(&report.previous_period)),
        as_of = china_time(report.as_of),
        summary = summary_paragraph(report),
    );
    for (index, table) in tables(report, true).iter().enumerate() {
        let numeral = NUMERALS.get(index).copied().unwrap_or("");
        let _ = write!(
            page,
            "<section>\n<h2>{numeral}、{}</h2>\n<table>\n<thead><tr>",
            escape(table.heading)
        );
        for (name, _) in &table.columns {
            let _ = write!(page, "<th>{}</th>", escape(name));
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        for row in &table.rows {
            let class = match row.style {
                RowStyle::Normal => "",
                RowStyle::Section => " class=\"section\"",
                RowStyle::Alert => " class=\"alert\"",
            };
            let _ = write!(page, "<tr{class}>");
            if row.style == RowStyle::Section || row.cells.len() == 1 {
                let (content, _) = row.cells.first().map(cell_text).unwrap_or_default();
                let _ = write!(
                    page,
                    "<td colspan=\"{}\">{content}</td>",
                    table.columns.len()
                );
            } else {
                for index in 0..table.columns.len() {
                    let (content, numeric) =
                        row.cells.get(index).map(cell_text).unwrap_or_default();
                    if numeric {
                        let _ = write!(page, "<td class=\"num\">{content}</td>");
                    } else {
                        let _ = write!(page, "<td>{content}</td>");
                    }
                }
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</tbody>\n</table>\n</section>\n");
    }
    let _ = write!(
        page,
        "<footer>规则版本 {}；工作日历 {}。评价率、好评率等的分子、分母见 Excel 版“指标”表；一票否决的单位保留得分，不参加评优排名。</footer>\n</body>\n</html>\n",
        escape(&report.rules_version),
        escape(&report.calendar_version),
    );
    page
}

// ---------------------------------------------------------------------------------------------
// Stored reports and the schedule

/// `filename*` of a `Content-Disposition` header (RFC 5987/6266): UTF-8, percent-encoded
/// except the attr-chars, beside a plain ASCII `filename` for old clients.
pub fn content_disposition(disposition: &str, ascii_name: &str, name: &str) -> String {
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            )
        {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    let fallback: String = ascii_name
        .chars()
        .filter(|ch| ch.is_ascii_graphic() && *ch != '"' && *ch != '\\')
        .collect();
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A stored report's file name, parsed: `bulletin-2026-11-410421.xlsx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredName {
    pub kind: ReportKind,
    pub period: String,
    pub scope: String,
    pub format: ReportFormat,
}

impl StoredName {
    /// `None` for any name the platform does not write (so no path ever leaves the folder).
    pub fn parse(name: &str) -> Option<StoredName> {
        let (stem, format) = if let Some(stem) = name.strip_suffix(".xlsx") {
            (stem, ReportFormat::Xlsx)
        } else {
            (name.strip_suffix(".html")?, ReportFormat::Html)
        };
        let (kind, rest) = if let Some(rest) = stem.strip_prefix("bulletin-") {
            (ReportKind::Bulletin, rest)
        } else {
            (ReportKind::Semiannual, stem.strip_prefix("semiannual-")?)
        };
        let period = rest.get(..7)?;
        let scope = rest.get(7..)?.strip_prefix('-')?;
        if scope.is_empty() || !scope.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return None;
        }
        kind.period(period).ok()?;
        Some(StoredName {
            kind,
            period: period.to_string(),
            scope: scope.to_string(),
            format,
        })
    }

    pub fn file_name(&self) -> String {
        format!(
            "{}.{}",
            stored_stem(self.kind, &self.period, &self.scope),
            self.format.extension()
        )
    }
}

/// A stored report file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub name: StoredName,
    pub bytes: u64,
    pub modified_at: Option<DateTime<Utc>>,
}

/// Every report file the platform stored in `dir`. Blocking.
pub fn stored(dir: &Path) -> std::io::Result<Vec<StoredFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().and_then(StoredName::parse) else {
            continue;
        };
        let metadata = entry.metadata()?;
        files.push(StoredFile {
            name,
            bytes: metadata.len(),
            modified_at: metadata.modified().ok().map(DateTime::<Utc>::from),
        });
    }
    Ok(files)
}

/// Where a file is written before it is renamed into place: `<name>.part`.
fn aside(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn internal(what: &str) -> impl Fn(std::io::Error) -> AppError + '_ {
    move |error| AppError::Internal(format!("{what}: {error}"))
}

/// Records that a report was generated, in the chained log; returns once it is durable.
/// Blocking.
pub fn audit(
    platform: &Platform,
    actor: &str,
    target: &str,
    detail: String,
) -> Result<(), AppError> {
    platform.record(Command::Audit {
        entry: AuditEntry {
            actor: actor.to_string(),
            action: "report_generated".into(),
            target: target.to_string(),
            detail,
        },
    })?;
    Ok(())
}

/// Generates and stores a report unless its workbook is already stored: both files written
/// aside, the audit entry made durable, then the files renamed into place (the workbook last,
/// since its presence means "generated"). `Ok(false)` when it was there already. Blocking.
pub fn generate_stored(
    platform: &Platform,
    kind: ReportKind,
    period: &str,
    scope: &str,
    as_of: DateTime<Utc>,
) -> Result<bool, AppError> {
    let dir = &platform.reports_dir;
    let stem = stored_stem(kind, period, scope);
    let xlsx_path = dir.join(format!("{stem}.xlsx"));
    if xlsx_path.exists() {
        return Ok(false);
    }
    let report = build(platform, kind, period, scope, as_of)?;
    let workbook =
        to_xlsx(&report).map_err(|error| AppError::Internal(format!("xlsx: {error}")))?;
    let page = to_html(&report);
    std::fs::create_dir_all(dir).map_err(internal("creating the reports folder"))?;
    let html_path = dir.join(format!("{stem}.html"));
    let files = [(&html_path, page.into_bytes()), (&xlsx_path, workbook)];
    for (path, bytes) in &files {
        std::fs::write(aside(path), bytes).map_err(internal("writing a report"))?;
    }
    let detail = format!(
        "scheduled; {}; as of {}; {stem}.xlsx {} bytes, {stem}.html {} bytes",
        report.title,
        as_of.to_rfc3339(),
        files[1].1.len(),
        files[0].1.len(),
    );
    if let Err(error) = audit(platform, "system", &stem, detail) {
        for (path, _) in &files {
            let _ = std::fs::remove_file(aside(path));
        }
        return Err(error);
    }
    for (path, _) in &files {
        std::fs::rename(aside(path), path).map_err(internal("storing a report"))?;
    }
    tracing::info!(report = %stem, "report generated");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_compared_with_is_the_one_before_even_before_2000() {
        for (kind, period) in [
            (ReportKind::Bulletin, "2026-03"),
            (ReportKind::Bulletin, "2026-01"),
            (ReportKind::Semiannual, "2026-H1"),
            (ReportKind::Semiannual, "2026-H2"),
        ] {
            let days = Period::parse(period).unwrap_or_else(|error| panic!("{error}"));
            let named = Period::parse(&kind.previous(days)).ok();
            assert_eq!(kind.previous_days(days).ok(), named, "{period}");
        }
        let first = Period::parse("2000-01").unwrap_or_else(|error| panic!("{error}"));
        let before = ReportKind::Bulletin.previous_days(first).ok();
        assert_eq!(
            before.map(|days| (days.from.to_string(), days.to.to_string())),
            Some(("1999-12-01".into(), "1999-12-31".into()))
        );
    }

    fn day(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
    }

    #[test]
    fn periods_of_each_kind() {
        let check = |kind: ReportKind,
                     text: &str,
                     expected: Option<(NaiveDate, NaiveDate, &str)>| {
            let got = kind
                .period(text)
                .ok()
                .map(|period| (period.from, period.to, kind.previous(period)));
            let expected = expected.map(|(from, to, previous)| (from, to, previous.to_string()));
            assert_eq!(got, expected, "{kind:?} {text}");
        };
        check(
            ReportKind::Bulletin,
            "2026-11",
            Some((day(2026, 11, 1), day(2026, 11, 30), "2026-10")),
        );
        check(
            ReportKind::Bulletin,
            "2026-01",
            Some((day(2026, 1, 1), day(2026, 1, 31), "2025-12")),
        );
        check(
            ReportKind::Semiannual,
            "2026-H1",
            Some((day(2026, 1, 1), day(2026, 6, 30), "2025-H2")),
        );
        check(
            ReportKind::Semiannual,
            "2026-H2",
            Some((day(2026, 7, 1), day(2026, 12, 31), "2026-H1")),
        );
        for (kind, bad) in [
            (ReportKind::Bulletin, "2026-H1"),
            (ReportKind::Bulletin, "2026-13"),
            (ReportKind::Bulletin, "2026"),
            (ReportKind::Semiannual, "2026-11"),
            (ReportKind::Semiannual, "2026-Q1"),
            (ReportKind::Semiannual, "2026-H3"),
        ] {
            check(kind, bad, None);
        }
    }

    #[test]
    fn stored_names_round_trip_and_refuse_anything_else() {
        for name in [
            "bulletin-2026-11-410421.xlsx",
            "bulletin-2026-11-410400.html",
            "semiannual-2026-H2-410421.xlsx",
        ] {
            let parsed = StoredName::parse(name);
            assert_eq!(
                parsed.map(|parsed| parsed.file_name()).as_deref(),
                Some(name)
            );
        }
        for name in [
            "bulletin-2026-11-../x.xlsx",
            "bulletin-2026-11-.xlsx",
            "bulletin-2026-H1-410421.xlsx",
            "semiannual-2026-11-410421.xlsx",
            "bulletin-2026-11-410421.xlsx.part",
            "bulletin-2026-11-410421.pdf",
            "other-2026-11-410421.xlsx",
            "bulletin-2026-11-4104/21.html",
        ] {
            assert_eq!(StoredName::parse(name), None, "{name}");
        }
    }

    #[test]
    fn chinese_file_names_are_encoded_per_rfc_5987() {
        let header = content_disposition(
            "attachment",
            "bulletin-2026-11-410421.xlsx",
            "宝丰县（2026年11月）.xlsx",
        );
        assert_eq!(
            header,
            "attachment; filename=\"bulletin-2026-11-410421.xlsx\"; filename*=UTF-8''%E5%AE%9D%E4%B8%B0%E5%8E%BF%EF%BC%882026%E5%B9%B411%E6%9C%88%EF%BC%89.xlsx"
        );
        assert!(header.is_ascii());
    }

    #[test]
    fn rates_and_changes_read_as_people_write_them() {
        assert_eq!(percent(Decimal::new(571_429, 6)), "57.14%");
        assert_eq!(percent(Decimal::ONE), "100.00%");
        assert_eq!(points(Decimal::new(125, 4)), "+1.25");
        assert_eq!(points(Decimal::new(-5, 2)), "-5.00");
        assert_eq!(points(Decimal::ZERO), "0.00");
        assert_eq!(period_label("2026-11"), "2026年11月");
        assert_eq!(period_label("2026-01"), "2026年1月");
        assert_eq!(period_label("2026-H1"), "2026年上半年");
        assert_eq!(trend_label(3, 0), "新出现");
        assert_eq!(trend_label(3, 5), "下降");
    }
}
