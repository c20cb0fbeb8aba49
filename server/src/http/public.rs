//! Public disclosure (政务公开): an unauthenticated API under `/api/v1/public/` and server-rendered
//! pages under `/public` with the ratings, rates and rankings of regions, halls, departments and
//! service items, rectified bad reviews and the comments a reviewer published.
//!
//! What the public may see is decided here and nowhere else:
//! - only regions, halls, departments and items: windows and staff are never public units
//!   (a window is one or two people, so its figures are a person's);
//! - only periods that have ended (months, quarters, half-years, years): figures that change
//!   while the public watches would tell who just rated what;
//! - a unit with fewer than [`MIN_PUBLIC_RATINGS`] valid ratings in the period shows no number
//!   at all, only the reason; its comments, rectified reviews, score and rank are withheld too;
//! - a rating made invalid by an upheld appeal counts nowhere public;
//! - a comment appears only after a reviewer marked it `publish: true`; a rectified bad review
//!   shows its comment unless a reviewer marked it `publish: false`;
//! - every free text passes `app::disclosure::mask_public_text`; the evaluator's own name, phone and ID number
//!   are opened in memory only to be struck from it, never returned;
//! - rankings come from the latest frozen (published) assessment run, never from a live one;
//!   a withheld unit takes no place in them, so no gap in the numbering tells where it stood.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::ops::ControlFlow;

use super::extract::{Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::assessment::{AssessedUnit, AssessmentRun, Period};
use hcp_core::calendar::{china_tz, local_date};
use hcp_core::metrics::{Ratio, UnitMetrics};
use hcp_core::model::{Level, OrgKind, Rating};
use hcp_core::policy::PhaseKind;
use hcp_core::store::{Dim, RatingQuery};
use hcp_core::workflow::{ClosureOutcome, Disposition, EvaluationVia, Order, RectificationLevel};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::outreach::escape;
use super::{ApiError, blocking};
use crate::app::disclosure::{Answer, Freshness, evaluator_terms, known_names, mask_public_text};
use crate::app::platform::Platform;
use crate::app::ratings::each_first_rating;

#[derive(OpenApi)]
#[openapi(paths(regions, stats, rankings, rectified, comments))]
pub struct Doc;

pub fn routes(platform: &Platform) -> Router<Platform> {
    Router::new()
        .route("/api/v1/public/regions", get(regions))
        .route("/api/v1/public/stats", get(stats))
        .route("/api/v1/public/rankings", get(rankings))
        .route("/api/v1/public/rectified", get(rectified))
        .route("/api/v1/public/comments", get(comments))
        .route("/public", get(index_page))
        .route("/public/units/{dim}/{unit}", get(unit_page))
        .route_layer(axum::middleware::from_fn_with_state(
            platform.clone(),
            super::extract::public_reads,
        ))
}

/// A group with fewer valid ratings than this shows no figure: with a handful of ratings a
/// rate is one citizen's rating.
pub const MIN_PUBLIC_RATINGS: u64 = 5;
/// Items of a list page by default and at most.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 50;
/// Ratings looked at for one list page at most (the page then ends early, with a cursor).
const MAX_SCANNED: usize = 2000;
/// First 差评 looked at for the call-back timeliness at most; beyond, it is not shown.
const MAX_CALLBACK_ORDERS: usize = 20_000;
const CACHE_CONTROL: &str = "public, max-age=300";
const SUPPRESSED: &str = "本期有效评价少于 5 条，为保护评价人隐私，相关数据不予公开";

// ---------------------------------------------------------------------------------------------
// Units, periods, figures

/// The kinds of unit the public sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicDim {
    Region,
    Hall,
    Department,
    Item,
}

impl PublicDim {
    fn parse(text: &str) -> Result<PublicDim, ApiError> {
        Ok(match text {
            "region" => PublicDim::Region,
            "hall" => PublicDim::Hall,
            "department" => PublicDim::Department,
            "item" => PublicDim::Item,
            _ => {
                return Err(ApiError::NotFound(
                    "公开的统计对象只有地区（region）、大厅（hall）、部门（department）和事项（item）"
                        .into(),
                ));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            PublicDim::Region => "region",
            PublicDim::Hall => "hall",
            PublicDim::Department => "department",
            PublicDim::Item => "item",
        }
    }

    fn dim(self) -> Dim {
        match self {
            PublicDim::Region => Dim::Region,
            PublicDim::Hall => Dim::Hall,
            PublicDim::Department => Dim::Department,
            PublicDim::Item => Dim::Item,
        }
    }

    fn label(self) -> &'static str {
        match self {
            PublicDim::Region => "地区",
            PublicDim::Hall => "政务服务大厅",
            PublicDim::Department => "部门",
            PublicDim::Item => "政务服务事项",
        }
    }
}

fn kind_label(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::City => "市",
        OrgKind::County => "县（市、区）",
        OrgKind::Township => "乡镇（街道）",
        OrgKind::Village => "村（社区）",
        OrgKind::Hall => "政务服务大厅",
        OrgKind::ServicePoint => "便民服务站",
        OrgKind::Department => "部门",
        OrgKind::Window => "窗口",
    }
}

fn public_dim_of(kind: OrgKind) -> Option<PublicDim> {
    match kind {
        OrgKind::City | OrgKind::County | OrgKind::Township | OrgKind::Village => {
            Some(PublicDim::Region)
        }
        OrgKind::Hall | OrgKind::ServicePoint => Some(PublicDim::Hall),
        OrgKind::Department => Some(PublicDim::Department),
        OrgKind::Window => None,
    }
}

/// `A-Za-z0-9-._~` kept, everything else percent-encoded (for ids in paths and queries).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn page_link(dim: PublicDim, unit: &str, period: Option<&str>) -> String {
    let mut link = format!("/public/units/{}/{}", dim.as_str(), encode(unit));
    if let Some(period) = period {
        link.push_str(&format!("?period={}", encode(period)));
    }
    link
}

/// The name of a public unit; not found when it is not one (windows and staff never are).
fn unit_name(platform: &Platform, dim: PublicDim, unit: &str) -> Result<String, ApiError> {
    let store = &platform.store;
    let name = match dim {
        PublicDim::Item => store.item(unit)?.map(|item| item.name),
        _ => store
            .org_unit(unit)?
            .filter(|found| public_dim_of(found.kind) == Some(dim))
            .map(|found| found.name),
    };
    name.ok_or_else(|| ApiError::NotFound(format!("没有这个{}：{unit}", dim.label())))
}

fn root(platform: &Platform) -> Result<String, ApiError> {
    platform
        .root_unit()?
        .ok_or_else(|| ApiError::NotFound("尚未设置行政区划".into()))
}

/// The unit asked for, or the root region when none is.
fn resolve_unit(
    platform: &Platform,
    dim: Option<&str>,
    unit: Option<&str>,
) -> Result<(PublicDim, String, String), ApiError> {
    let dim = dim
        .map(PublicDim::parse)
        .transpose()?
        .unwrap_or(PublicDim::Region);
    let unit = match unit.map(str::trim).filter(|unit| !unit.is_empty()) {
        Some(unit) => unit.to_string(),
        None if dim == PublicDim::Region => root(platform)?,
        None => {
            return Err(ApiError::BadRequest(format!(
                "请指定{}（unit 参数）",
                dim.label()
            )));
        }
    };
    let name = unit_name(platform, dim, &unit)?;
    Ok((dim, unit, name))
}

/// A period that has ended, as `2026-03`, `2026-Q1`, `2026-H1` or `2026`; by default the last
/// month.
fn resolve_period(platform: &Platform, text: Option<&str>) -> Result<(String, Period), ApiError> {
    let today = local_date(platform.clock.now());
    let text = text
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(String::from)
        .unwrap_or_else(|| Period::previous_month(today));
    let period = parse_period(&text)?;
    if period.to >= today {
        // A well-formed period that has not ended yet: it depends on today, so 422.
        return Err(ApiError::invalid_range(format!(
            "统计期 {text} 尚未结束，数据在统计期结束后公开"
        )));
    }
    Ok((text, period))
}

fn parse_period(text: &str) -> Result<Period, ApiError> {
    Period::parse(text).map_err(|_| {
        ApiError::BadRequest(format!(
            "统计期格式应为 2026-03（月）、2026-Q1（季度）、2026-H1（半年）或 2026（年），收到 {text:?}"
        ))
    })
}

/// The last month that has ended.
fn last_month(platform: &Platform) -> String {
    Period::previous_month(local_date(platform.clock.now()))
}

/// One level's count among the valid ratings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LevelCount {
    pub level: Level,
    pub label: String,
    pub count: u64,
}

/// A rate with its parts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicRate {
    pub name: String,
    pub label: String,
    #[serde(flatten)]
    pub ratio: Ratio,
    /// The value as a percentage with one decimal (`83.3%`), when there is one.
    pub percent: Option<String>,
}

/// The figures of a unit and period. Ratings invalid after an upheld appeal count nowhere here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicFigures {
    /// Services that should be rated (应评价服务).
    pub services: u64,
    /// Valid first ratings, default ratings included.
    pub valid_ratings: u64,
    /// Valid ratings the citizens gave themselves (not 系统默认).
    pub citizen_ratings: u64,
    /// Default ratings (系统默认评价) given when nobody rated in time.
    pub default_ratings: u64,
    pub by_level: Vec<LevelCount>,
    /// Valid 差评.
    pub bad_reviews: u64,
    /// Valid 差评 per 1,000 services.
    #[schema(value_type = Option<String>)]
    pub bad_per_thousand_services: Option<Decimal>,
    /// 主动评价率, 好评率, 差评率, 差评整改率, 按期整改率, 实名差评按期整改率, 回访率,
    /// 按期回访率 (when computed) and 整改满意率.
    pub rates: Vec<PublicRate>,
}

fn percent(ratio: &Ratio) -> Option<String> {
    ratio.value.map(|value| {
        format!(
            "{}%",
            (value * Decimal::from(100))
                .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .normalize()
        )
    })
}

fn rate(name: &str, label: &str, ratio: Ratio) -> PublicRate {
    PublicRate {
        name: name.into(),
        label: label.into(),
        percent: percent(&ratio),
        ratio,
    }
}

/// The public figures of computed metrics; `None` (suppressed) below [`MIN_PUBLIC_RATINGS`].
fn figures(metrics: &UnitMetrics, on_time_callbacks: Option<Ratio>) -> Option<PublicFigures> {
    if metrics.valid_ratings < MIN_PUBLIC_RATINGS {
        return None;
    }
    // An upheld appeal found the rating mistaken or malicious: it leaves participation too.
    // Only a 差评 can be appealed, and a default rating is never one, so the invalid ratings
    // are all among the active ones.
    let citizen_ratings = metrics.active_ratings.saturating_sub(metrics.invalid);
    let stored = |name: &str| {
        metrics
            .rates
            .get(name)
            .cloned()
            .unwrap_or_else(|| Ratio::new(0, 0))
    };
    let mut rates = vec![
        rate(
            "active_rate",
            "主动评价率",
            Ratio::new(citizen_ratings, metrics.services),
        ),
        rate("good_rate", "好评率", stored("good_rate")),
        rate("bad_rate", "差评率", stored("bad_rate")),
        rate("rectify_rate", "差评整改率", stored("rectify_rate")),
        rate(
            "on_time_rectify_rate",
            "按期整改率",
            stored("on_time_rectify_rate"),
        ),
        rate(
            "real_name_on_time_rectify_rate",
            "实名差评按期整改率",
            stored("real_name_on_time_rectify_rate"),
        ),
        rate("callback_rate", "回访率", stored("callback_rate")),
    ];
    if let Some(ratio) = on_time_callbacks {
        rates.push(rate("on_time_callback_rate", "按期回访率", ratio));
    }
    rates.push(rate(
        "rectify_satisfaction_rate",
        "整改满意率",
        stored("rectify_satisfaction_rate"),
    ));
    Some(PublicFigures {
        services: metrics.services,
        valid_ratings: metrics.valid_ratings,
        citizen_ratings,
        default_ratings: metrics.default_ratings,
        by_level: Level::ALL
            .iter()
            .map(|level| LevelCount {
                level: *level,
                label: level.label_zh().into(),
                count: metrics.by_level.get(level).copied().unwrap_or(0),
            })
            .collect(),
        bad_reviews: metrics.bad,
        bad_per_thousand_services: metrics.bad_per_thousand_services,
        rates,
    })
}

/// Every valid first 差评 of the unit in the period, with its work order.
fn bad_review_orders(
    platform: &Platform,
    dim: Dim,
    unit: &str,
    period: &Period,
    at_most: usize,
) -> Result<Option<Vec<Order>>, ApiError> {
    let mut orders = Vec::new();
    let store = &platform.store;
    let walked = each_first_rating(store, dim, unit, (period.from, period.to), true, |rating| {
        if orders.len() >= at_most {
            return Ok(ControlFlow::Break(()));
        }
        if let Some(order) = store.order_of_rating(rating.id)?
            && !appeal_upheld(&order)
        {
            orders.push(order);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(walked.is_continue().then_some(orders))
}

fn appeal_upheld(order: &Order) -> bool {
    order
        .closure
        .as_ref()
        .is_some_and(|closure| closure.outcome == ClosureOutcome::AppealUpheld)
}

/// 按期回访率: call-backs done before their deadline ÷ call-backs done or past their deadline,
/// over the period's valid 差评; `None` beyond [`MAX_CALLBACK_ORDERS`]. A deadline counted on a
/// provisional calendar is left out until the official holiday table confirms it.
fn on_time_callbacks(
    platform: &Platform,
    dim: Dim,
    unit: &str,
    period: &Period,
) -> Result<Option<Ratio>, ApiError> {
    let as_of = platform.clock.now();
    let Some(orders) = bad_review_orders(platform, dim, unit, period, MAX_CALLBACK_ORDERS)? else {
        return Ok(None);
    };
    let (mut on_time, mut due) = (0, 0);
    for order in &orders {
        if let Some(deadline) = order
            .deadline(PhaseKind::Callback)
            .filter(|deadline| !deadline.provisional)
        {
            match deadline.done_at {
                Some(done) => {
                    due += 1;
                    on_time += u64::from(done < deadline.due);
                }
                None if as_of >= deadline.due => due += 1,
                None => {}
            }
        }
    }
    Ok(Some(Ratio::new(on_time, due)))
}

/// A unit's public figures for a period, or why there are none.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicStats {
    pub dim: PublicDim,
    pub unit: String,
    pub name: String,
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Why no figures are shown (fewer than 5 valid ratings); `None` when they are.
    pub suppressed: Option<String>,
    pub figures: Option<PublicFigures>,
    /// The unit's page, its rectified bad reviews and its published comments.
    pub page_url: String,
    pub rectified_url: String,
    pub comments_url: String,
}

fn api_link(what: &str, dim: PublicDim, unit: &str, period: &str) -> String {
    format!(
        "/api/v1/public/{what}?dim={}&unit={}&period={}",
        dim.as_str(),
        encode(unit),
        encode(period)
    )
}

/// The unit's metrics for the period. Blocking.
fn unit_metrics(
    platform: &Platform,
    dim: PublicDim,
    unit: &str,
    period: &Period,
) -> Result<UnitMetrics, ApiError> {
    platform
        .store
        .unit_metrics(
            &[(dim.dim(), unit.to_string())],
            period.from,
            period.to,
            platform.clock.now(),
            &platform.metric_settings,
        )?
        .pop()
        .ok_or_else(|| ApiError::Internal("no metrics computed".into()))
}

fn public_stats(
    platform: &Platform,
    dim: PublicDim,
    unit: &str,
    name: &str,
    period_text: &str,
    period: &Period,
) -> Result<PublicStats, ApiError> {
    let metrics = unit_metrics(platform, dim, unit, period)?;
    let figures = if metrics.valid_ratings >= MIN_PUBLIC_RATINGS {
        let callbacks = on_time_callbacks(platform, dim.dim(), unit, period)?;
        figures(&metrics, callbacks)
    } else {
        None
    };
    Ok(PublicStats {
        dim,
        unit: unit.to_string(),
        name: name.to_string(),
        period: period_text.to_string(),
        from: period.from,
        to: period.to,
        suppressed: figures.is_none().then(|| SUPPRESSED.to_string()),
        figures,
        page_url: page_link(dim, unit, Some(period_text)),
        rectified_url: api_link("rectified", dim, unit, period_text),
        comments_url: api_link("comments", dim, unit, period_text),
    })
}

// ---------------------------------------------------------------------------------------------
// Regions

/// A node of the public org tree: regions, halls and departments (never windows).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicNode {
    pub id: String,
    pub dim: PublicDim,
    /// 市, 县（市、区）, 政务服务大厅, 部门 …
    pub kind_label: String,
    pub name: String,
    pub page_url: String,
    #[schema(no_recursion)]
    pub children: Vec<PublicNode>,
}

fn region_tree(platform: &Platform) -> Result<Option<PublicNode>, ApiError> {
    let units = platform.store.org_units()?;
    let mut children: BTreeMap<String, Vec<&hcp_core::model::OrgUnit>> = BTreeMap::new();
    let mut root = None;
    for unit in &units {
        if public_dim_of(unit.kind).is_none() {
            continue;
        }
        match &unit.parent {
            Some(parent) => children.entry(parent.clone()).or_default().push(unit),
            None => root = Some(unit),
        }
    }
    fn build(
        unit: &hcp_core::model::OrgUnit,
        children: &BTreeMap<String, Vec<&hcp_core::model::OrgUnit>>,
        depth: usize,
    ) -> Option<PublicNode> {
        let dim = public_dim_of(unit.kind)?;
        let mut below: Vec<&hcp_core::model::OrgUnit> = if depth < 16 {
            children.get(&unit.id).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        below.sort_by_key(|child| (order_of(child.kind), child.id.clone()));
        Some(PublicNode {
            id: unit.id.clone(),
            dim,
            kind_label: kind_label(unit.kind).into(),
            name: unit.name.clone(),
            page_url: page_link(dim, &unit.id, None),
            children: below
                .into_iter()
                .filter_map(|child| build(child, children, depth + 1))
                .collect(),
        })
    }
    Ok(root.and_then(|root| build(root, &children, 0)))
}

fn order_of(kind: OrgKind) -> u8 {
    match public_dim_of(kind) {
        Some(PublicDim::Region) => 0,
        Some(PublicDim::Hall) => 1,
        _ => 2,
    }
}

// ---------------------------------------------------------------------------------------------
// Rankings

/// One unit of a published ranking.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RankedUnit {
    pub unit: String,
    pub name: String,
    pub page_url: String,
    /// Place in the excellence ranking among the units shown: vetoed, unscored and withheld
    /// units take none.
    pub rank: Option<u32>,
    #[schema(value_type = Option<String>)]
    pub score: Option<Decimal>,
    /// `None` when withheld (fewer than 5 valid ratings).
    pub vetoed: Option<bool>,
    /// The veto policy's reasons as it states them (facts about rates, never about people).
    pub veto_reasons: Vec<String>,
    /// The result in words: 评优排名第 N 位, 一票否决 …
    pub outcome: String,
    pub suppressed: Option<String>,
    pub figures: Option<PublicFigures>,
}

/// The latest published (frozen) assessment of departments or halls for a period.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicRanking {
    /// `department` or `hall`.
    pub of: String,
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub scope: String,
    pub scope_name: String,
    /// The instant the published run read the data at.
    pub as_of: DateTime<Utc>,
    /// Ranked units by place, then vetoed and unscored ones, then those whose figures are
    /// withheld (by code, so that their order tells nothing).
    pub units: Vec<RankedUnit>,
    pub note: String,
}

fn ranking_kind(of: Option<&str>) -> Result<PublicDim, ApiError> {
    match of.map(str::trim).unwrap_or("department") {
        "department" => Ok(PublicDim::Department),
        "hall" => Ok(PublicDim::Hall),
        _ => Err(ApiError::BadRequest(
            "排名对象 of 只能是 department（部门）或 hall（大厅）".into(),
        )),
    }
}

/// The published run of that kind: of the scope (default the root region) and period (default
/// the latest published). Blocking.
fn latest_run(
    platform: &Platform,
    of: PublicDim,
    period: Option<&str>,
    scope: Option<&str>,
) -> Result<Option<AssessmentRun>, ApiError> {
    crate::app::assessment::published_run(platform, of.as_str(), period, scope)
}

/// One unit of a published run as the public sees it. `places` counts the public places given
/// so far: a withheld unit takes none, so that no gap in the numbering tells where it stood.
fn ranked_unit(
    dim: PublicDim,
    period: &str,
    assessed: &AssessedUnit,
    places: &mut u32,
) -> RankedUnit {
    let page_url = page_link(dim, &assessed.unit, Some(period));
    let Some(figures) = figures(&assessed.metrics, None) else {
        return RankedUnit {
            unit: assessed.unit.clone(),
            name: assessed.name.clone(),
            page_url,
            rank: None,
            score: None,
            vetoed: None,
            veto_reasons: Vec::new(),
            outcome: "有效评价少于 5 条，得分、名次与考核结果不予公开".into(),
            suppressed: Some(SUPPRESSED.into()),
            figures: None,
        };
    };
    let veto_reasons: Vec<String> = if assessed.vetoed && assessed.vetoes.is_empty() {
        // The veto policy failed: the engine holds the unit out; its error is internal.
        vec!["否决规则未能完成评判，按规定暂不参加评优排名".into()]
    } else {
        assessed
            .vetoes
            .iter()
            .map(|veto| mask_public_text(&veto.reason, &[]))
            .collect()
    };
    let score = assessed.score.as_ref().map(|score| score.total.normalize());
    let rank = (assessed.rank.is_some() && !assessed.vetoed && score.is_some()).then(|| {
        *places += 1;
        *places
    });
    let outcome = match (score, assessed.vetoed, rank) {
        (None, _, _) => "本期未能计分".to_string(),
        (Some(_), true, _) => "一票否决，不参加评优排名".to_string(),
        (Some(_), false, Some(rank)) => format!("评优排名第 {rank} 位"),
        (Some(_), false, None) => "未参加评优排名".to_string(),
    };
    RankedUnit {
        unit: assessed.unit.clone(),
        name: assessed.name.clone(),
        page_url,
        rank,
        score,
        vetoed: Some(assessed.vetoed),
        veto_reasons,
        outcome,
        suppressed: None,
        figures: Some(figures),
    }
}

fn public_ranking(
    platform: &Platform,
    dim: PublicDim,
    run: &AssessmentRun,
) -> Result<PublicRanking, ApiError> {
    let mut shown = Vec::new();
    let mut withheld = Vec::new();
    let mut places = 0;
    for assessed in &run.units {
        let unit = ranked_unit(dim, &run.period, assessed, &mut places);
        if unit.suppressed.is_some() {
            withheld.push(unit);
        } else {
            shown.push(unit);
        }
    }
    // The run lists units by score; a withheld unit's place would tell its score.
    withheld.sort_by(|a, b| a.unit.cmp(&b.unit));
    shown.extend(withheld);
    let scope_name = platform
        .store
        .org_unit(&run.scope)?
        .map(|unit| unit.name)
        .unwrap_or_else(|| run.scope.clone());
    Ok(PublicRanking {
        of: dim.as_str().into(),
        period: run.period.clone(),
        from: run.from,
        to: run.to,
        scope: run.scope.clone(),
        scope_name,
        as_of: run.as_of,
        units: shown,
        note: "排名取自已发布的考核结果，发布后不随数据变化。名次为公开单位之间的评优排序：一票否决的单位保留得分、不参加评优排名；有效评价少于 5 条的单位不公开得分、名次与分项数据，也不占名次。".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Rectified bad reviews and published comments

/// A bad review whose work order was closed after rectification (or explanation), as the public
/// sees it: no name, number, staff member or handler's note.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RectifiedReview {
    pub received_on: NaiveDate,
    pub level: Level,
    pub level_label: String,
    pub item: Option<String>,
    pub department: Option<String>,
    pub hall: Option<String>,
    /// Indicator codes (`evalDetail`).
    pub indicators: Vec<String>,
    /// The comment, masked; `None` when there was none or a reviewer kept it internal.
    pub comment: Option<String>,
    /// 立行立改, 限期整改, 解释说明 or 系统性问题整改.
    pub disposition: String,
    /// What was done, masked.
    pub action_taken: String,
    pub rectified_on: Option<NaiveDate>,
    /// Rectified before the deadline.
    pub on_time: Option<bool>,
    pub closed_on: NaiveDate,
    /// The citizen's rating of the rectification: 满意, 基本满意 or 不满意.
    pub citizen_rating: Option<String>,
    /// How it was given: 跟踪链接, 追评 or 电话回访.
    pub citizen_rating_via: Option<String>,
}

/// A comment a reviewer published.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicComment {
    pub rated_on: NaiveDate,
    pub level: Level,
    pub level_label: String,
    /// A 追评 (the follow-up rating after rectification).
    pub follow_up: bool,
    pub item: Option<String>,
    pub department: Option<String>,
    /// Masked.
    pub comment: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RectifiedPage {
    pub dim: PublicDim,
    pub unit: String,
    pub name: String,
    pub period: String,
    pub suppressed: Option<String>,
    pub items: Vec<RectifiedReview>,
    /// Pass back as `cursor` for the next page; a page may hold fewer items than asked.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommentPage {
    pub dim: PublicDim,
    pub unit: String,
    pub name: String,
    pub period: String,
    pub suppressed: Option<String>,
    pub items: Vec<PublicComment>,
    pub next_cursor: Option<String>,
}

fn disposition_label(disposition: Option<&Disposition>) -> &'static str {
    match disposition {
        Some(Disposition::Immediate { .. }) => "立行立改",
        Some(Disposition::Scheduled { .. }) => "限期整改",
        Some(Disposition::Explained { .. }) => "解释说明",
        Some(Disposition::Systemic { .. }) => "系统性问题整改",
        None => "整改",
    }
}

fn rectification_label(level: RectificationLevel) -> &'static str {
    match level {
        RectificationLevel::Satisfied => "满意",
        RectificationLevel::BasicallySatisfied => "基本满意",
        RectificationLevel::Dissatisfied => "不满意",
    }
}

fn via_label(via: EvaluationVia) -> &'static str {
    match via {
        EvaluationVia::Link => "跟踪链接",
        EvaluationVia::FollowUp => "追评",
        EvaluationVia::Callback => "电话回访",
    }
}

/// Names of items and org units, looked up once per request.
struct Names<'a> {
    platform: &'a Platform,
    items: HashMap<String, Option<String>>,
    units: HashMap<String, Option<String>>,
}

impl<'a> Names<'a> {
    fn new(platform: &'a Platform) -> Names<'a> {
        Names {
            platform,
            items: HashMap::new(),
            units: HashMap::new(),
        }
    }

    fn item(&mut self, code: &str) -> Result<Option<String>, ApiError> {
        if !self.items.contains_key(code) {
            let name = self.platform.store.item(code)?.map(|item| item.name);
            self.items.insert(code.to_string(), name);
        }
        Ok(self.items.get(code).cloned().flatten())
    }

    fn unit(&mut self, id: &str) -> Result<Option<String>, ApiError> {
        if !self.units.contains_key(id) {
            let name = self.platform.store.org_unit(id)?.map(|unit| unit.name);
            self.units.insert(id.to_string(), name);
        }
        Ok(self.units.get(id).cloned().flatten())
    }
}

/// A list request after its checks.
struct ListRequest {
    dim: PublicDim,
    unit: String,
    name: String,
    period_text: String,
    period: Period,
    cursor: Option<String>,
    limit: usize,
}

fn list_request(platform: &Platform, query: &ListQuery) -> Result<ListRequest, ApiError> {
    let (dim, unit, name) = resolve_unit(platform, query.dim.as_deref(), query.unit.as_deref())?;
    let (period_text, period) = resolve_period(platform, query.period.as_deref())?;
    let cursor = query
        .cursor
        .as_deref()
        .map(str::trim)
        .filter(|cursor| !cursor.is_empty())
        .map(|cursor| {
            super::page::to_store(cursor)
                .ok_or_else(|| ApiError::BadRequest("翻页参数 cursor 无效".into()))
        })
        .transpose()?;
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| ApiError::BadRequest("每页条数 limit 应为 1 到 50 的整数".into()))?,
    };
    Ok(ListRequest {
        dim,
        unit,
        name,
        period_text,
        period,
        cursor,
        limit,
    })
}

/// Walks the unit's ratings of the period newest first from the cursor, keeping what `pick`
/// makes of them, until `limit` items or [`MAX_SCANNED`] ratings. Store pages are asked for at
/// most the items still missing, so the store's cursor is exactly where the page ends.
fn walk<T>(
    platform: &Platform,
    request: &ListRequest,
    bad_only: bool,
    mut pick: impl FnMut(&Rating) -> Result<Option<T>, ApiError>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut items = Vec::new();
    let mut cursor = request.cursor.clone();
    let mut scanned = 0;
    while items.len() < request.limit {
        let page = platform.store.ratings(&RatingQuery {
            dim: request.dim.dim(),
            unit: request.unit.clone(),
            from: request.period.from,
            to: request.period.to,
            level: None,
            channel: None,
            bad_only,
            real_name_only: false,
            cursor: cursor.clone(),
            limit: request.limit - items.len(),
        })?;
        scanned += page.items.len();
        for rating in &page.items {
            if let Some(item) = pick(rating)? {
                items.push(item);
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() || scanned >= MAX_SCANNED {
            break;
        }
    }
    Ok((items, cursor.as_deref().map(super::page::from_store)))
}

/// Whether the unit's period has enough valid ratings to show anything of it. Blocking.
fn shown(platform: &Platform, request: &ListRequest) -> Result<bool, ApiError> {
    Ok(
        unit_metrics(platform, request.dim, &request.unit, &request.period)?.valid_ratings
            >= MIN_PUBLIC_RATINGS,
    )
}

fn rectified_page(platform: &Platform, request: &ListRequest) -> Result<RectifiedPage, ApiError> {
    let mut page = RectifiedPage {
        dim: request.dim,
        unit: request.unit.clone(),
        name: request.name.clone(),
        period: request.period_text.clone(),
        suppressed: None,
        items: Vec::new(),
        next_cursor: None,
    };
    if !shown(platform, request)? {
        page.suppressed = Some(SUPPRESSED.into());
        return Ok(page);
    }
    let names_of_people = known_names(platform)?;
    let mut names = Names::new(platform);
    let (items, next_cursor) = walk(platform, request, true, |rating| {
        if rating.assess_number != 1 {
            return Ok(None);
        }
        let Some(order) = platform.store.order_of_rating(rating.id)? else {
            return Ok(None);
        };
        let Some(closure) = order
            .closure
            .as_ref()
            .filter(|closure| closure.outcome == ClosureOutcome::Resolved)
        else {
            return Ok(None);
        };
        let marks = platform.store.rating_marks(rating.id)?;
        if marks.invalid.is_some() {
            return Ok(None);
        }
        let withheld = marks
            .moderation
            .as_ref()
            .is_some_and(|moderation| !moderation.publish);
        // Without the evaluator's own values nothing they or the handler wrote can be checked
        // for them: both texts are withheld.
        let evaluator = evaluator_terms(platform, rating);
        let mut strike = names_of_people.clone();
        if let Some(terms) = &evaluator {
            strike.extend(terms.iter().cloned());
        }
        let comment = crate::app::ratings::comment(platform, rating)?
            .filter(|text| !withheld && evaluator.is_some() && !text.trim().is_empty())
            .map(|text| mask_public_text(&text, &strike));
        let action_taken = if evaluator.is_some() {
            mask_public_text(&closure.action_taken, &strike)
        } else {
            "（未公开）".to_string()
        };
        let rectify = order.deadline(PhaseKind::Rectify);
        Ok(Some(RectifiedReview {
            received_on: local_date(order.received_at),
            level: rating.level,
            level_label: rating.level.label_zh().into(),
            item: names.item(&order.task_code)?,
            department: names.unit(&order.department)?,
            hall: match &order.hall {
                Some(hall) => names.unit(hall)?,
                None => None,
            },
            // Codes come from devices and systems: masked like text, in case one carries a
            // number it should not.
            indicators: rating
                .indicators
                .iter()
                .map(|code| mask_public_text(code, &[]))
                .collect(),
            comment,
            disposition: disposition_label(order.disposition.as_ref()).into(),
            action_taken,
            rectified_on: rectify.and_then(|d| d.done_at).map(local_date),
            on_time: rectify.and_then(|d| d.on_time()),
            closed_on: local_date(closure.closed_at),
            citizen_rating: order
                .evaluation
                .as_ref()
                .map(|evaluation| rectification_label(evaluation.level).into()),
            citizen_rating_via: order
                .evaluation
                .as_ref()
                .map(|evaluation| via_label(evaluation.via).into()),
        }))
    })?;
    page.items = items;
    page.next_cursor = next_cursor;
    Ok(page)
}

fn comment_page(platform: &Platform, request: &ListRequest) -> Result<CommentPage, ApiError> {
    let mut page = CommentPage {
        dim: request.dim,
        unit: request.unit.clone(),
        name: request.name.clone(),
        period: request.period_text.clone(),
        suppressed: None,
        items: Vec::new(),
        next_cursor: None,
    };
    if !shown(platform, request)? {
        page.suppressed = Some(SUPPRESSED.into());
        return Ok(page);
    }
    let names_of_people = known_names(platform)?;
    let mut names = Names::new(platform);
    let (items, next_cursor) = walk(platform, request, false, |rating| {
        if rating.text.is_none() {
            return Ok(None);
        }
        let Some(text) =
            crate::app::ratings::comment(platform, rating)?.filter(|text| !text.trim().is_empty())
        else {
            return Ok(None);
        };
        let marks = platform.store.rating_marks(rating.id)?;
        let published = marks
            .moderation
            .as_ref()
            .is_some_and(|moderation| moderation.publish);
        if !published || marks.invalid.is_some() {
            return Ok(None);
        }
        let Some(terms) = evaluator_terms(platform, rating) else {
            return Ok(None);
        };
        let mut strike = names_of_people.clone();
        strike.extend(terms);
        Ok(Some(PublicComment {
            rated_on: local_date(rating.rated_at),
            level: rating.level,
            level_label: rating.level.label_zh().into(),
            follow_up: rating.assess_number == 2,
            item: names.item(&rating.attribution.task_code)?,
            department: names.unit(&rating.attribution.department)?,
            comment: mask_public_text(&text, &strike),
        }))
    })?;
    page.items = items;
    page.next_cursor = next_cursor;
    Ok(page)
}

// ---------------------------------------------------------------------------------------------
// Responses: cache-friendly, the same for everyone

fn etag(body: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{:x}\"", hasher.finish(), body.len())
}

/// A 200 with `Cache-Control` and an `ETag`, or a 304 when the client holds it already; and
/// `X-Cache: hit` when the answer came from the platform's cache ([`crate::app::disclosure::AnswerCache`]), `miss`
/// when it was computed. Nothing in a public response depends on who asks, so shared caches
/// may keep it.
fn respond(request: &HeaderMap, answer: &Answer, html: bool, hit: bool) -> Response {
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|candidate| candidate.trim() == answer.etag)
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type),
            )],
            answer.body.to_string(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if let Ok(value) = HeaderValue::from_str(&answer.etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::HeaderName::from_static("x-cache"),
        HeaderValue::from_static(if hit { "hit" } else { "miss" }),
    );
    // The content policy and the other security headers are `http::headers`'.
    if !html {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    response
}

/// A public answer from the cache, or computed (blocking) by `compute` and kept as long as
/// the freshness it reports allows. `asked` names what was asked (the route and its parsed
/// parameters: parameters the route does not take make no new entry); today's date is added,
/// since defaults depend on it. Errors are answered, never kept.
async fn serve<F>(
    platform: Platform,
    request: &HeaderMap,
    asked: String,
    html: bool,
    compute: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&Platform) -> Result<(String, Freshness), ApiError> + Send + 'static,
{
    let key = format!("{asked}#{}", local_date(platform.clock.now()));
    // Comments are in public answers: none is served after its text was erased.
    let before = platform
        .store
        .pii()
        .ring()
        .map_or(0, |ring| ring.destructions());
    platform.public_cache.sync(before);
    if let Some(answer) = platform.public_cache.get(&key) {
        return Ok(respond(request, &answer, html, true));
    }
    let cache = platform.public_cache.clone();
    let (body, freshness) = blocking(move || compute(&platform)).await?;
    let answer = Answer {
        etag: etag(&body),
        body: body.into(),
        content_type: if html {
            "text/html; charset=utf-8"
        } else {
            "application/json"
        },
    };
    cache.put(key, answer.clone(), freshness, before);
    Ok(respond(request, &answer, html, false))
}

fn json_of<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|error| ApiError::Internal(error.to_string()))
}

/// What a request asked for, as part of a cache key: its parameters, trimmed, in a fixed order.
fn asked(route: &str, parameters: &[Option<&str>]) -> String {
    let mut key = route.to_string();
    for parameter in parameters {
        key.push('|');
        key.push_str(parameter.map(str::trim).unwrap_or("-"));
    }
    key
}

/// The freshness of an answer about `period`.
fn freshness(platform: &Platform, period: &Period) -> Freshness {
    Freshness::of_period(period.to, local_date(platform.clock.now()))
}

// ---------------------------------------------------------------------------------------------
// API handlers

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// `region` (default), `hall`, `department` or `item`.
    pub dim: Option<String>,
    /// The unit's code; default the root region.
    pub unit: Option<String>,
    /// `2026-03`, `2026-Q1`, `2026-H1` or `2026`, ended; default the last month.
    #[param(pattern = "^\\s*((20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?)?\\s*$")]
    pub period: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// `department` (default) or `hall`.
    #[param(pattern = "^(department|hall)$")]
    pub of: Option<String>,
    /// The period of the published run; default the latest run published.
    #[param(pattern = "^\\s*((20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?)?\\s*$")]
    pub period: Option<String>,
    /// The region whose units were assessed; default the root region (the city).
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `region` (default), `hall`, `department` or `item`.
    pub dim: Option<String>,
    /// The unit's code; default the root region.
    pub unit: Option<String>,
    /// An ended period; default the last month.
    #[param(pattern = "^\\s*((20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?)?\\s*$")]
    pub period: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^([a-p][a-p])*$", max_length = 1024)]
    pub cursor: Option<String>,
    /// Items per page, 1 to 50 (default 20; empty, as a form sends it, is the default).
    #[param(pattern = "^\\s*([1-9]|[1-4][0-9]|50)?\\s*$")]
    pub limit: Option<String>,
}

/// The public org tree: regions, halls and departments with their names and pages.
#[utoipa::path(
    get, path = "/api/v1/public/regions", tag = "public",
    responses((status = 200, body = PublicNode), (status = 404, body = super::ErrorBody))
)]
pub async fn regions(
    State(platform): State<Platform>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(
        platform,
        &headers,
        asked("regions", &[]),
        false,
        |platform| {
            let tree = region_tree(platform)?
                .ok_or_else(|| ApiError::NotFound("尚未设置行政区划".into()))?;
            Ok((json_of(&tree)?, Freshness::Recent))
        },
    )
    .await
}

/// A region's, hall's, department's or item's public figures for an ended period: ratings,
/// 主动评价率, 好评率, 差评率, 差评 per 1,000 services, on-time rectification, call-backs and
/// their timeliness, and the citizens' satisfaction with the rectification. Fewer than 5 valid
/// ratings: no figure, and the reason.
#[utoipa::path(
    get, path = "/api/v1/public/stats", tag = "public", params(StatsQuery),
    responses((status = 200, body = PublicStats), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody))
)]
pub async fn stats(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Query(query): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    let key = asked(
        "stats",
        &[
            query.dim.as_deref(),
            query.unit.as_deref(),
            query.period.as_deref(),
        ],
    );
    serve(platform, &headers, key, false, move |platform| {
        let (dim, unit, name) =
            resolve_unit(platform, query.dim.as_deref(), query.unit.as_deref())?;
        let (period_text, period) = resolve_period(platform, query.period.as_deref())?;
        let view = public_stats(platform, dim, &unit, &name, &period_text, &period)?;
        Ok((json_of(&view)?, freshness(platform, &period)))
    })
    .await
}

/// The latest published (frozen) assessment of departments or halls: places, scores, one-vote
/// vetoes with the policy's stated reason, and each unit's public figures as published.
#[utoipa::path(
    get, path = "/api/v1/public/rankings", tag = "public", params(RankingQuery),
    responses((status = 200, body = PublicRanking), (status = 404, body = super::ErrorBody))
)]
pub async fn rankings(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Query(query): Query<RankingQuery>,
) -> Result<Response, ApiError> {
    let key = asked(
        "rankings",
        &[
            query.of.as_deref(),
            query.period.as_deref(),
            query.scope.as_deref(),
        ],
    );
    serve(platform, &headers, key, false, move |platform| {
        let of = ranking_kind(query.of.as_deref())?;
        let period = query
            .period
            .as_deref()
            .map(str::trim)
            .filter(|period| !period.is_empty());
        if let Some(period) = period {
            parse_period(period)?;
        }
        let scope = query
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let run = latest_run(platform, of, period, scope)?
            .ok_or_else(|| ApiError::NotFound("暂无已发布的考核结果".into()))?;
        // Without a period, the latest run may be a newer one tomorrow.
        let fresh = match period {
            Some(_) => Freshness::of_period(run.to, local_date(platform.clock.now())),
            None => Freshness::Recent,
        };
        Ok((json_of(&public_ranking(platform, of, &run)?)?, fresh))
    })
    .await
}

fn list_key(route: &str, query: &ListQuery) -> String {
    asked(
        route,
        &[
            query.dim.as_deref(),
            query.unit.as_deref(),
            query.period.as_deref(),
            query.cursor.as_deref(),
            query.limit.as_deref(),
        ],
    )
}

/// Rectified bad reviews of a unit and ended period, newest first: the masked comment, how it
/// was handled, what was done, the dates and the citizen's rating of the rectification.
#[utoipa::path(
    get, path = "/api/v1/public/rectified", tag = "public", params(ListQuery),
    responses((status = 200, body = RectifiedPage), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody))
)]
pub async fn rectified(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let key = list_key("rectified", &query);
    serve(platform, &headers, key, false, move |platform| {
        let request = list_request(platform, &query)?;
        let page = rectified_page(platform, &request)?;
        Ok((json_of(&page)?, freshness(platform, &request.period)))
    })
    .await
}

/// Comments a reviewer published, of a unit and ended period, newest first, masked.
#[utoipa::path(
    get, path = "/api/v1/public/comments", tag = "public", params(ListQuery),
    responses((status = 200, body = CommentPage), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody))
)]
pub async fn comments(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let key = list_key("comments", &query);
    serve(platform, &headers, key, false, move |platform| {
        let request = list_request(platform, &query)?;
        let page = comment_page(platform, &request)?;
        Ok((json_of(&page)?, freshness(platform, &request.period)))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Pages

/// A disclosure page in the citizens' look ([`super::citizen`]): the shared header with the
/// elderly-mode switch (to `path` in the other mode), the wide column, open to search engines.
fn html(big: bool, path: &str, title: &str, body: &str) -> String {
    let frame = super::citizen::Frame {
        big,
        switch: Some(path),
        public: true,
    };
    super::citizen::html(
        frame,
        &format!("{title} · 政务服务“好差评”公开"),
        &format!(
            "<nav class=\"crumbs muted\"><a href=\"/public\">政务服务“好差评”公开</a></nav>{body}<footer><p class=\"muted\">本页面公开的数据不含任何个人信息：评价人姓名、电话、证件号码及工作人员信息一律不予公开，\
             评价内容中的数字串、姓名等已作隐去处理；有效评价少于 5 条的统计对象不公开数据。</p></footer>"
        ),
    )
}

fn error_page(error: ApiError) -> Response {
    let (status, message) = match &error {
        ApiError::NotFound(message) => (StatusCode::NOT_FOUND, message.clone()),
        ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message.clone()),
        // The page answers a period that has not ended as before: the visitor fixes the form.
        ApiError::Unprocessable(reason) => (StatusCode::BAD_REQUEST, reason.message.clone()),
        _ => {
            tracing::error!(%error, "public page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "系统繁忙，请稍后再试".to_string(),
            )
        }
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(html(
            false,
            "/public",
            "无法显示",
            &format!(
                "<h1>无法显示</h1><p class=\"notice\">{}</p><p><a href=\"/public\">返回首页</a></p>",
                escape(&message)
            ),
        )),
    )
        .into_response()
}

fn figures_html(
    caption: &str,
    figures: Option<&PublicFigures>,
    suppressed: Option<&str>,
) -> String {
    let Some(figures) = figures else {
        return format!(
            "<p class=\"notice\">{}</p>",
            escape(suppressed.unwrap_or(SUPPRESSED))
        );
    };
    let mut rows = String::new();
    let mut row = |label: &str, value: String, detail: String| {
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"figure\">{}</td><td class=\"muted\">{}</td></tr>",
            escape(label),
            escape(&value),
            escape(&detail)
        ));
    };
    row("应评价服务", figures.services.to_string(), "件".into());
    row(
        "有效评价",
        figures.valid_ratings.to_string(),
        format!(
            "群众主动评价 {} 条，系统默认评价 {} 条",
            figures.citizen_ratings, figures.default_ratings
        ),
    );
    row(
        "有效差评",
        figures.bad_reviews.to_string(),
        figures
            .bad_per_thousand_services
            .map(|value| format!("每千件服务差评 {value} 条"))
            .unwrap_or_else(|| "无应评价服务".into()),
    );
    for rate in &figures.rates {
        row(
            &rate.label,
            rate.percent.clone().unwrap_or_else(|| "—".into()),
            format!("{} / {}", rate.ratio.numerator, rate.ratio.denominator),
        );
    }
    let levels = figures
        .by_level
        .iter()
        .map(|level| format!("{} {}", level.label, level.count))
        .collect::<Vec<_>>()
        .join("，");
    row("评价等级分布", levels, String::new());
    format!(
        "<table><caption>{}</caption><thead><tr><th scope=\"col\">指标</th><th scope=\"col\">数值</th>\
         <th scope=\"col\">构成</th></tr></thead><tbody>{rows}</tbody></table>",
        escape(caption)
    )
}

fn ranking_html(title: &str, ranking: Option<&PublicRanking>) -> String {
    let Some(ranking) = ranking else {
        return format!(
            "<h2>{}</h2><p class=\"muted\">暂无已发布的考核结果。</p>",
            escape(title)
        );
    };
    let rate_of = |unit: &RankedUnit, name: &str| {
        unit.figures
            .as_ref()
            .and_then(|figures| figures.rates.iter().find(|rate| rate.name == name))
            .and_then(|rate| rate.percent.clone())
            .unwrap_or_else(|| "—".into())
    };
    let mut rows = String::new();
    for unit in &ranking.units {
        let per_thousand = unit
            .figures
            .as_ref()
            .and_then(|figures| figures.bad_per_thousand_services)
            .map(|value| value.to_string())
            .unwrap_or_else(|| "—".into());
        let mut outcome = escape(&unit.outcome);
        if !unit.veto_reasons.is_empty() {
            outcome.push_str(&format!(
                "<br><span class=\"muted\">否决事由：{}</span>",
                escape(&unit.veto_reasons.join("；"))
            ));
        }
        rows.push_str(&format!(
            "<tr><td>{}</td><th scope=\"row\"><a href=\"{}\">{}</a></th><td class=\"figure\">{}</td>\
             <td class=\"figure\">{}</td><td class=\"figure\">{}</td><td class=\"figure\">{}</td>\
             <td class=\"figure\">{}</td><td class=\"figure\">{}</td><td>{}</td></tr>",
            unit.rank.map(|rank| rank.to_string()).unwrap_or_else(|| "—".into()),
            escape(&unit.page_url),
            escape(&unit.name),
            unit.score.map(|score| score.to_string()).unwrap_or_else(|| "—".into()),
            rate_of(unit, "active_rate"),
            rate_of(unit, "good_rate"),
            per_thousand,
            rate_of(unit, "on_time_rectify_rate"),
            rate_of(unit, "rectify_satisfaction_rate"),
            outcome,
        ));
    }
    format!(
        "<h2>{title}</h2><p class=\"muted\">{scope} · 统计期 {period}（{from} 至 {to}）· 数据截至 {as_of}</p>\
         <table><caption>{title}（已发布）</caption><thead><tr><th scope=\"col\">名次</th><th scope=\"col\">单位</th>\
         <th scope=\"col\">得分</th><th scope=\"col\">主动评价率</th><th scope=\"col\">好评率</th>\
         <th scope=\"col\">每千件服务差评</th><th scope=\"col\">按期整改率</th><th scope=\"col\">整改满意率</th>\
         <th scope=\"col\">考核结果</th></tr></thead><tbody>{rows}</tbody></table><p class=\"muted\">{note}</p>",
        title = escape(title),
        scope = escape(&ranking.scope_name),
        period = escape(&ranking.period),
        from = ranking.from,
        to = ranking.to,
        as_of = ranking
            .as_of
            .with_timezone(&china_tz())
            .format("%Y-%m-%d %H:%M"),
        note = escape(&ranking.note),
    )
}

fn tree_html(node: &PublicNode, period: &str, out: &mut String) {
    out.push_str(&format!(
        "<li><a href=\"{}\">{}</a> <span class=\"muted\">{}</span>",
        escape(&page_link(node.dim, &node.id, Some(period))),
        escape(&node.name),
        escape(&node.kind_label)
    ));
    if !node.children.is_empty() {
        out.push_str("<ul class=\"tree\">");
        for child in &node.children {
            tree_html(child, period, out);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

/// What the figures mean; 好评 names the levels it counts as configured.
fn explanation(platform: &Platform) -> String {
    let good = if platform.metric_settings.basic_counts_as_good {
        "非常满意、满意、基本满意"
    } else {
        "非常满意、满意"
    };
    format!(
        "<h2>指标说明</h2><dl>\
<dt>主动评价率</dt><dd>群众主动作出的有效评价 ÷ 应评价服务数，反映评价的参与程度（系统默认评价不计入）。</dd>\
<dt>好评率 / 差评率</dt><dd>好评（{good}）或差评（不满意、非常不满意）÷ 有效评价。好评率普遍接近 100%，请结合主动评价率、每千件服务差评数、按期回访率和整改满意率一并看待。</dd>\
<dt>每千件服务差评</dt><dd>有效差评 ÷ 应评价服务数 × 1000。</dd>\
<dt>按期整改率 / 实名差评按期整改率</dt><dd>在时限内完成整改的差评 ÷ 已整改或已超过整改时限的差评。</dd>\
<dt>回访率 / 按期回访率</dt><dd>已回访 ÷ 已反馈；在回访时限内完成的回访 ÷ 已回访或已超过回访时限的差评。</dd>\
<dt>整改满意率</dt><dd>评价人对整改结果评价为满意或基本满意 ÷ 评价人作出评价的整改，是群众对整改的核验。</dd>\
<dt>有效评价</dt><dd>经申诉复核认定为误评、恶意评价的，不计入任何公开数据。</dd></dl>"
    )
}

/// `/public`: the latest published rankings, the root region's figures for the last month (or
/// the ranking's period) and the directory of units.
/// The elderly-mode switch of the index (`?big=1`).
#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    big: Option<u8>,
}

pub async fn index_page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Query(query): Query<IndexQuery>,
) -> Response {
    let big = query.big == Some(1);
    let key = asked("index", &[big.then_some("big")]);
    serve(platform, &headers, key, true, move |platform| {
        Ok((render_index(platform, big)?, Freshness::Recent))
    })
    .await
    .unwrap_or_else(error_page)
}

fn render_index(platform: &Platform, big: bool) -> Result<String, ApiError> {
    let departments = match latest_run(platform, PublicDim::Department, None, None)? {
        Some(run) => Some(public_ranking(platform, PublicDim::Department, &run)?),
        None => None,
    };
    let halls = match latest_run(platform, PublicDim::Hall, None, None)? {
        Some(run) => Some(public_ranking(platform, PublicDim::Hall, &run)?),
        None => None,
    };
    let today = local_date(platform.clock.now());
    let period_text = departments
        .as_ref()
        .filter(|ranking| ranking.to < today)
        .map(|ranking| ranking.period.clone())
        .unwrap_or_else(|| last_month(platform));
    let (period_text, period) = resolve_period(platform, Some(&period_text))?;
    let root = root(platform)?;
    let root_name = unit_name(platform, PublicDim::Region, &root)?;
    let headline = public_stats(
        platform,
        PublicDim::Region,
        &root,
        &root_name,
        &period_text,
        &period,
    )?;
    let mut tree = String::new();
    if let Some(node) = region_tree(platform)? {
        tree.push_str("<ul class=\"tree\">");
        tree_html(&node, &period_text, &mut tree);
        tree.push_str("</ul>");
    }
    let body = format!(
        "<h1>{root_name}政务服务“好差评”公开</h1>\
         <h2>{root_name} {period} 概况</h2>{figures}\
         <p><a href=\"{root_page}\">查看{root_name}详情、整改公示与群众评价</a></p>\
         {departments}{halls}\
         <h2>单位目录</h2><nav aria-label=\"单位目录\">{tree}</nav>{explanation}\
         <h2>数据接口</h2><ul>\
         <li><a href=\"/api/v1/public/regions\">单位目录（JSON）</a></li>\
         <li><a href=\"{stats}\">统计数据（JSON）</a></li>\
         {ranking_links}\
         <li><a href=\"{rectified}\">整改公示（JSON）</a></li>\
         <li><a href=\"{comments}\">群众评价（JSON）</a></li></ul>",
        root_name = escape(&root_name),
        explanation = explanation(platform),
        period = escape(&period_text),
        figures = figures_html(
            &format!("{root_name} {period_text} 主要指标"),
            headline.figures.as_ref(),
            headline.suppressed.as_deref()
        ),
        root_page = escape(&headline.page_url),
        ranking_links = [
            ("department", "部门排名", &departments),
            ("hall", "大厅排名", &halls)
        ]
        .into_iter()
        .filter(|(_, _, ranking)| ranking.is_some())
        .map(|(of, label, _)| {
            format!("<li><a href=\"/api/v1/public/rankings?of={of}\">{label}（JSON）</a></li>")
        })
        .collect::<String>(),
        departments = ranking_html("部门考核排名", departments.as_ref()),
        halls = ranking_html("大厅考核排名", halls.as_ref()),
        stats = escape(&api_link("stats", PublicDim::Region, &root, &period_text)),
        rectified = escape(&headline.rectified_url),
        comments = escape(&headline.comments_url),
    );
    Ok(html(big, "/public", "首页", &body))
}

#[derive(Debug, Deserialize)]
pub struct UnitPageQuery {
    period: Option<String>,
    /// 1: the elderly mode.
    big: Option<u8>,
    rectified_cursor: Option<String>,
    comments_cursor: Option<String>,
}

/// `/public/units/{dim}/{unit}`: one unit's figures for an ended period, the units below it,
/// its rectified bad reviews and its published comments.
pub async fn unit_page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Path((dim, unit)): Path<(String, String)>,
    Query(query): Query<UnitPageQuery>,
) -> Response {
    let key = asked(
        "unit",
        &[
            Some(&dim),
            Some(&unit),
            query.period.as_deref(),
            query.rectified_cursor.as_deref(),
            query.comments_cursor.as_deref(),
            (query.big == Some(1)).then_some("big"),
        ],
    );
    serve(platform, &headers, key, true, move |platform| {
        render_unit_page(platform, &dim, &unit, &query)
    })
    .await
    .unwrap_or_else(error_page)
}

fn render_unit_page(
    platform: &Platform,
    dim: &str,
    unit: &str,
    query: &UnitPageQuery,
) -> Result<(String, Freshness), ApiError> {
    let (dim, unit, name) = resolve_unit(platform, Some(dim), Some(unit))?;
    let (period_text, period) = resolve_period(platform, query.period.as_deref())?;
    let stats = public_stats(platform, dim, &unit, &name, &period_text, &period)?;
    let store = &platform.store;

    // Where it sits: the public units above it.
    let mut crumbs = Vec::new();
    for id in store.ancestors(dim.dim(), &unit)?.iter().rev() {
        if let Some(above) = store.org_unit(id)?
            && let Some(above_dim) = public_dim_of(above.kind)
            && !(above_dim == dim && above.id == unit)
        {
            crumbs.push(format!(
                "<a href=\"{}\">{}</a>",
                escape(&page_link(above_dim, &above.id, Some(&period_text))),
                escape(&above.name)
            ));
        }
    }

    // What lies below it.
    let mut below = Vec::new();
    match dim {
        PublicDim::Region | PublicDim::Hall => {
            let mut children = store.org_children(&unit)?;
            children.sort_by_key(|child| (order_of(child.kind), child.id.clone()));
            for child in children {
                if let Some(child_dim) = public_dim_of(child.kind) {
                    below.push(format!(
                        "<li><a href=\"{}\">{}</a> <span class=\"muted\">{}</span></li>",
                        escape(&page_link(child_dim, &child.id, Some(&period_text))),
                        escape(&child.name),
                        kind_label(child.kind)
                    ));
                }
            }
        }
        PublicDim::Department => {
            for item in store.items()? {
                if item.department == unit {
                    below.push(format!(
                        "<li><a href=\"{}\">{}</a> <span class=\"muted\">{}</span></li>",
                        escape(&page_link(
                            PublicDim::Item,
                            &item.task_code,
                            Some(&period_text)
                        )),
                        escape(&item.name),
                        escape(&item.task_type)
                    ));
                }
            }
        }
        PublicDim::Item => {}
    }
    let below = if below.is_empty() {
        String::new()
    } else {
        format!("<h2>下属单位与事项</h2><ul>{}</ul>", below.join(""))
    };

    let list = |cursor: &Option<String>| ListQuery {
        dim: Some(dim.as_str().into()),
        unit: Some(unit.clone()),
        period: Some(period_text.clone()),
        cursor: cursor.clone(),
        limit: None,
    };
    let rectified = rectified_page(
        platform,
        &list_request(platform, &list(&query.rectified_cursor))?,
    )?;
    let comments = comment_page(
        platform,
        &list_request(platform, &list(&query.comments_cursor))?,
    )?;
    let here = page_link(dim, &unit, Some(&period_text));
    let pager = |key: &str, next: &Option<String>| {
        next.as_ref()
            .map(|next| {
                format!(
                    "<nav class=\"pager\" aria-label=\"翻页\"><a href=\"{}\">下一页</a></nav>",
                    escape(&format!("{here}&{key}={}", encode(next)))
                )
            })
            .unwrap_or_default()
    };

    let rectified_html = if let Some(reason) = &rectified.suppressed {
        format!("<p class=\"notice\">{}</p>", escape(reason))
    } else if rectified.items.is_empty() {
        "<p class=\"muted\">本期没有已办结的差评整改。</p>".to_string()
    } else {
        let mut rows = String::new();
        for review in &rectified.items {
            let about = [
                review.item.as_deref(),
                review.department.as_deref(),
                review.hall.as_deref(),
            ]
            .into_iter()
            .flatten()
            .map(escape)
            .collect::<Vec<_>>()
            .join("<br>");
            let rectified_on = match (review.rectified_on, review.on_time) {
                (Some(day), Some(true)) => format!("{day}（按期）"),
                (Some(day), _) => format!("{day}（超期）"),
                (None, _) => "—".into(),
            };
            let citizen = match (&review.citizen_rating, &review.citizen_rating_via) {
                (Some(level), Some(via)) => format!("{level}（{via}）"),
                (Some(level), None) => level.clone(),
                _ => "未评价".into(),
            };
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}<br><span class=\"muted\">{}</span></td><td>{}</td>\
                 <td>{}：{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                review.received_on,
                escape(&review.level_label),
                review
                    .comment
                    .as_deref()
                    .map(escape)
                    .unwrap_or_else(|| "（未公开评价内容）".into()),
                review.indicators.iter().map(|code| escape(code)).collect::<Vec<_>>().join(" "),
                about,
                escape(&review.disposition),
                escape(&review.action_taken),
                rectified_on,
                review.closed_on,
                escape(&citizen),
            ));
        }
        format!(
            "<table><caption>整改公示</caption><thead><tr><th scope=\"col\">收到日期</th><th scope=\"col\">评价</th>\
             <th scope=\"col\">评价内容与指标</th><th scope=\"col\">事项与单位</th><th scope=\"col\">处理方式与整改措施</th>\
             <th scope=\"col\">整改完成</th><th scope=\"col\">办结日期</th><th scope=\"col\">群众对整改的评价</th></tr></thead>\
             <tbody>{rows}</tbody></table>{}",
            pager("rectified_cursor", &rectified.next_cursor)
        )
    };

    let comments_html = if let Some(reason) = &comments.suppressed {
        format!("<p class=\"notice\">{}</p>", escape(reason))
    } else if comments.items.is_empty() {
        "<p class=\"muted\">本期暂无经审核公开的评价内容。</p>".to_string()
    } else {
        let mut items = String::new();
        for comment in &comments.items {
            let about = [comment.item.as_deref(), comment.department.as_deref()]
                .into_iter()
                .flatten()
                .map(escape)
                .collect::<Vec<_>>()
                .join(" · ");
            items.push_str(&format!(
                "<li><p class=\"muted\">{} · {}{} · {}</p><blockquote>{}</blockquote></li>",
                comment.rated_on,
                escape(&comment.level_label),
                if comment.follow_up {
                    "（追评）"
                } else {
                    ""
                },
                about,
                escape(&comment.comment)
            ));
        }
        format!(
            "<ul>{items}</ul>{}",
            pager("comments_cursor", &comments.next_cursor)
        )
    };

    let body = format!(
        "<nav class=\"crumbs\" aria-label=\"所属单位\">{crumbs}</nav>\
         <h1>{name}</h1><p class=\"muted\">{kind} · 统计期 {period}（{from} 至 {to}）</p>\
         <form class=\"period\" method=\"get\" action=\"{action}\"><label for=\"period\">统计期</label>\
         <input id=\"period\" name=\"period\" value=\"{period}\" pattern=\"[0-9]{{4}}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?\" \
         aria-describedby=\"period-hint\"><button type=\"submit\">查询</button>\
         <span id=\"period-hint\" class=\"muted\">如 2026-03、2026-Q1、2026-H1、2026，仅限已结束的统计期</span></form>\
         <h2>主要指标</h2>{figures}{below}\
         <h2>整改公示</h2>{rectified_html}\
         <h2>群众评价（经审核公开）</h2>{comments_html}{explanation}\
         <h2>数据接口</h2><ul><li><a href=\"{stats_url}\">统计数据（JSON）</a></li>\
         <li><a href=\"{rectified_url}\">整改公示（JSON）</a></li><li><a href=\"{comments_url}\">群众评价（JSON）</a></li></ul>",
        crumbs = crumbs.join(" › "),
        explanation = explanation(platform),
        name = escape(&name),
        kind = dim.label(),
        period = escape(&period_text),
        from = period.from,
        to = period.to,
        action = escape(&page_link(dim, &unit, None)),
        figures = figures_html(
            &format!("{name} {period_text} 主要指标"),
            stats.figures.as_ref(),
            stats.suppressed.as_deref()
        ),
        stats_url = escape(&api_link("stats", dim, &unit, &period_text)),
        rectified_url = escape(&stats.rectified_url),
        comments_url = escape(&stats.comments_url),
    );
    let path = page_link(dim, &unit, None);
    Ok((
        html(query.big == Some(1), &path, &name, &body),
        freshness(platform, &period),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_for_links() {
        assert_eq!(encode("H-BF"), "H-BF");
        assert_eq!(encode("a b&c"), "a%20b%26c");
        assert_eq!(
            page_link(PublicDim::Department, "91X", Some("2026-Q1")),
            "/public/units/department/91X?period=2026-Q1"
        );
    }
}
