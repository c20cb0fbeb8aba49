//! Attribution analysis of bad reviews over HTTP (差评归因): a unit's valid 差评 broken down by
//! indicator, stage, item, department, window, staff, channel and time; the hot words of their
//! comments with the trend against the previous period; and alerts on the org units of a
//! subtree whose bad-review rate jumped against their own baseline. Every number comes with the
//! rating ids or the query behind it. Scoped to the caller's subtree; window staff, who see
//! their own results only, do not use it. Comment text leaves only with digit runs masked.

use std::collections::{BTreeSet, VecDeque};
use std::ops::ControlFlow;

use super::extract::{Json, Query};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{Days, NaiveDate};
use hcp_core::analysis::{
    self, AlertRule, AlertStatus, AlertWindows, Breakdown, Facet, HotWord, IndicatorCatalogue,
    JumpCheck, RateCounts, Segmenter,
};
use hcp_core::auth::{Permission, Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::model::{OrgKind, Rating};
use hcp_core::store::{Dim, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::read::UnitRange;
use super::{ApiError, Auth, blocking};
use crate::app::assessment::{Names, dim_name};
use crate::app::platform::Platform;
use crate::app::ratings::{Comments, each_first_rating};

#[derive(OpenApi)]
#[openapi(
    paths(attribution, hot_words, alerts),
    tags((name = "analysis", description = "Attribution of bad reviews, hot words of comments, alerts on jumps of the bad-review rate"))
)]
pub struct Doc;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/api/v1/analysis/attribution", get(attribution))
        .route("/api/v1/analysis/hot-words", get(hot_words))
        .route("/api/v1/analysis/alerts", get(alerts))
}

/// Ratings one analysis reads at most (each is read from the log); a wider question is refused
/// with a request to narrow it rather than answered in part.
const MAX_RATINGS: usize = 50_000;
/// Days an analysed range spans at most.
const MAX_DAYS: i64 = 366;
/// Org units one alert check covers at most.
const MAX_UNITS: usize = 5_000;
const DEFAULT_TOP: usize = 20;
const MAX_TOP: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HotWordOptions {
    /// Words to return, 1..=200 (default 20).
    #[param(minimum = 1, maximum = 200)]
    pub top: Option<usize>,
    /// Comments of 差评 only (default true); `false` takes every rating's comment.
    pub bad_only: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Dimension of `unit` (default `region`): `region`, `hall`, `department` or `window`.
    #[param(value_type = Option<String>, pattern = "^(region|hall|department|window)$")]
    pub dim: Option<Dim>,
    /// The org unit whose subtree is checked (itself included); default the caller's scope.
    pub unit: Option<String>,
    /// Last day of the recent window (China time), default today.
    pub as_of: Option<NaiveDate>,
    /// Days of the recent window, 1..=31 (default 7).
    #[param(minimum = 1, maximum = 31)]
    pub recent_days: Option<u32>,
    /// Weeks of the baseline before it, 1..=26 (default 4).
    #[param(minimum = 1, maximum = 26)]
    pub baseline_weeks: Option<u32>,
}

/// The bad reviews of a unit broken down along every facet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttributionView {
    pub dim: Dim,
    pub unit: String,
    pub unit_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Valid first-rating 差评 analysed: the denominator of every share.
    pub total: u64,
    /// Version of the indicator catalogue that labelled the indicators.
    pub catalogue_version: String,
    /// One per facet: indicator, stage, item, department, window, staff, channel, hour,
    /// weekday, day; each bucket with its count, share and rating ids.
    pub breakdowns: Vec<Breakdown>,
    /// 差评 of the range left out because an upheld appeal made them invalid.
    pub invalid_excluded: Vec<u64>,
    /// Every 差评 filed under the unit in the range (invalid ones included).
    pub ratings_link: String,
}

/// The hot words of a unit's comments and their trend.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HotWordsView {
    pub dim: Dim,
    pub unit: String,
    pub unit_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The period of equal length just before, that trends compare with.
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
    /// Whether only comments of 差评 were taken.
    pub bad_only: bool,
    /// Non-empty comments of valid first ratings in the period: the denominator of `share`.
    pub comments: u64,
    pub previous_comments: u64,
    /// Comments of the period erased (past the retention of free text, or their writers'
    /// erasure): not counted in `comments`.
    pub erased_comments: u64,
    pub previous_erased_comments: u64,
    /// Content hash of the user dictionary and stop words used.
    pub segmenter_version: String,
    /// Most used first.
    pub words: Vec<HotWord>,
    /// The ratings whose comments were read (invalid ones included).
    pub ratings_link: String,
}

/// One org unit's recent bad-review rate against its baseline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnitAlert {
    pub dim: Dim,
    pub unit: String,
    pub name: String,
    pub kind: OrgKind,
    pub check: JumpCheck,
    /// The unit's 差评 of the recent window and of the baseline (raw: invalid ones included).
    pub recent_ratings_link: String,
    pub baseline_ratings_link: String,
    /// Why: the attribution of the recent window's 差评.
    pub attribution_link: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertsView {
    pub dim: Dim,
    pub unit: String,
    pub as_of: NaiveDate,
    pub windows: AlertWindows,
    /// The thresholds applied (see `hcp_core::analysis` for the rule).
    pub rule: AlertRule,
    /// Org units checked: the unit and every region, hall, department and window below it.
    pub checked: u64,
    /// Units whose rate jumped, highest z first.
    pub alerts: Vec<UnitAlert>,
    /// The other units checked, in tree order: no jump, or too little data to tell.
    pub others: Vec<UnitAlert>,
}

/// Analysis is for supervisors, departments and reviewers; window staff see their own results
/// through the query API only.
fn analyst(auth: &Auth) -> Result<Principal, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?;
    if principal.role == Role::WindowStaff {
        return Err(ApiError::Forbidden(
            "window staff see their own results only".into(),
        ));
    }
    Ok(principal.clone())
}

/// The unit (within the caller's scope) and the days to analyse. Blocking.
fn resolve(
    platform: &Platform,
    principal: &Principal,
    range: &UnitRange,
) -> Result<(Dim, String, NaiveDate, NaiveDate), ApiError> {
    let today = local_date(platform.clock.now());
    let to = range.to.unwrap_or(today);
    let from = range
        .from
        .unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
    if from > to {
        return Err(ApiError::invalid_range("from must not be after to"));
    }
    if to.signed_duration_since(from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid_range(format!(
            "a range spans at most {MAX_DAYS} days"
        )));
    }
    let unit = range
        .unit
        .clone()
        .unwrap_or_else(|| principal.scope.clone());
    let dim = match range.dim {
        Some(dim) => dim,
        None => crate::app::scope::default_dim(&platform.store, &unit)?,
    };
    platform.scope().ensure_unit(principal, dim, &unit)?;
    Ok((dim, unit, from, to))
}

/// The valid first ratings filed under a unit in a range (only 差评 when `bad_only`), and the
/// ids of those left out as invalid. Follow-up ratings (追评) rate a rectification, not the
/// service, so they are not analysed. Blocking.
fn load_ratings(
    store: &Store,
    dim: Dim,
    unit: &str,
    (from, to): (NaiveDate, NaiveDate),
    bad_only: bool,
) -> Result<(Vec<Rating>, Vec<u64>), ApiError> {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    // Never breaks off: too many ratings is an error instead.
    let _ = each_first_rating(store, dim, unit, (from, to), bad_only, |rating| {
        if valid.len() + invalid.len() >= MAX_RATINGS {
            return Err(ApiError::BadRequest(format!(
                "more than {MAX_RATINGS} ratings in the range: narrow the unit or the days"
            )));
        }
        if store.rating_marks(rating.id)?.invalid.is_some() {
            invalid.push(rating.id);
        } else {
            valid.push(rating);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    invalid.sort_unstable();
    Ok((valid, invalid))
}

/// Percent-encodes a query value (ids are codes, but nothing stops one from holding `&`).
fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn unit_query(dim: Dim, unit: &str, from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "dim={}&unit={}&from={from}&to={to}",
        dim_name(dim),
        query_value(unit)
    )
}

fn ratings_link(dim: Dim, unit: &str, from: NaiveDate, to: NaiveDate, bad_only: bool) -> String {
    let mut link = format!("/api/v1/ratings?{}", unit_query(dim, unit, from, to));
    if bad_only {
        link.push_str("&bad_only=true");
    }
    link
}

fn analysis_error(error: analysis::AnalysisError) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// The valid 差评 of a unit over a day range broken down by indicator (评价指标), service stage
/// (服务环节), item, department, window, staff, channel, hour, weekday and day; each bucket
/// with its count, its share of all the 差评 analysed and the ids of its ratings.
#[utoipa::path(
    get, path = "/api/v1/analysis/attribution", tag = "analysis",
    params(UnitRange),
    responses(
        (status = 200, body = AttributionView),
        (status = 400, description = "bad range, or too many ratings", body = super::ErrorBody),
        (status = 403, description = "unit outside the caller's scope, or window staff", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn attribution(
    State(platform): State<Platform>,
    auth: Auth,
    Query(range): Query<UnitRange>,
) -> Result<Json<AttributionView>, ApiError> {
    let principal = analyst(&auth)?;
    blocking(move || {
        let (dim, unit, from, to) = resolve(&platform, &principal, &range)?;
        let store = &platform.store;
        let (ratings, invalid_excluded) = load_ratings(store, dim, &unit, (from, to), true)?;
        let catalogue = IndicatorCatalogue::builtin().map_err(analysis_error)?;
        let mut report = analysis::attribute(&ratings, catalogue);
        let mut names = Names::new(store);
        for breakdown in &mut report.breakdowns {
            let named = match breakdown.facet {
                Facet::Item => Dim::Item,
                Facet::Department => Dim::Department,
                Facet::Window => Dim::Window,
                Facet::Staff => Dim::Staff,
                _ => continue,
            };
            for bucket in &mut breakdown.buckets {
                if !bucket.key.is_empty() {
                    bucket.label = names.of(named, &bucket.key)?;
                }
            }
        }
        Ok(Json(AttributionView {
            unit_name: names.of(dim, &unit)?,
            ratings_link: ratings_link(dim, &unit, from, to, true),
            dim,
            unit,
            from,
            to,
            total: report.total,
            catalogue_version: report.catalogue_version,
            breakdowns: report.breakdowns,
            invalid_excluded,
        }))
    })
    .await
}

/// The hot words (热词) of the comments of a unit's valid ratings (差评 only by default) over a
/// day range, cut by a Chinese segmenter with a 政务 user dictionary and stop words, each with
/// its trend against the previous period of equal length, the ids of the ratings using it and
/// a few examples (digit runs masked).
#[utoipa::path(
    get, path = "/api/v1/analysis/hot-words", tag = "analysis",
    params(UnitRange, HotWordOptions),
    responses(
        (status = 200, body = HotWordsView),
        (status = 400, description = "bad range or top, or too many ratings", body = super::ErrorBody),
        (status = 403, description = "unit outside the caller's scope, or window staff", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn hot_words(
    State(platform): State<Platform>,
    auth: Auth,
    Query(range): Query<UnitRange>,
    Query(options): Query<HotWordOptions>,
) -> Result<Json<HotWordsView>, ApiError> {
    let principal = analyst(&auth)?;
    let top = options.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(ApiError::BadRequest(format!(
            "top must lie in 1..={MAX_TOP}"
        )));
    }
    let bad_only = options.bad_only.unwrap_or(true);
    blocking(move || {
        let (dim, unit, from, to) = resolve(&platform, &principal, &range)?;
        let (previous_from, previous_to) = analysis::previous_period(from, to)
            .ok_or_else(|| ApiError::invalid_range("no period before this range"))?;
        let store = &platform.store;
        let (current, _) = load_ratings(store, dim, &unit, (from, to), bad_only)?;
        let (previous, _) =
            load_ratings(store, dim, &unit, (previous_from, previous_to), bad_only)?;
        let current = Comments::of(store.pii(), &current)?;
        let previous = Comments::of(store.pii(), &previous)?;
        let segmenter = Segmenter::builtin().map_err(analysis_error)?;
        let words = analysis::hot_words(segmenter, &current.borrowed(), &previous.borrowed(), top);
        Ok(Json(HotWordsView {
            unit_name: Names::new(store).of(dim, &unit)?,
            ratings_link: ratings_link(dim, &unit, from, to, bad_only),
            dim,
            unit,
            from,
            to,
            previous_from,
            previous_to,
            bad_only,
            comments: words.comments,
            previous_comments: words.previous_comments,
            erased_comments: current.erased,
            previous_erased_comments: previous.erased,
            segmenter_version: words.segmenter_version,
            words: words.words,
        }))
    })
    .await
}

/// The dimension org units of a kind are indexed under.
fn org_dim(kind: OrgKind) -> Dim {
    match kind {
        OrgKind::City | OrgKind::County | OrgKind::Township | OrgKind::Village => Dim::Region,
        OrgKind::Hall | OrgKind::ServicePoint => Dim::Hall,
        OrgKind::Department => Dim::Department,
        OrgKind::Window => Dim::Window,
    }
}

/// The unit and every org unit below it, breadth first (regions, halls and service points,
/// departments, windows). Blocking.
fn subtree(store: &Store, root: &str) -> Result<Vec<hcp_core::model::OrgUnit>, ApiError> {
    let root = store
        .org_unit(root)?
        .ok_or_else(|| ApiError::NotFound(format!("no org unit {root}")))?;
    let mut seen = BTreeSet::from([root.id.clone()]);
    let mut queue = VecDeque::from([root]);
    let mut units = Vec::new();
    while let Some(unit) = queue.pop_front() {
        for child in store.org_children(&unit.id)? {
            if seen.insert(child.id.clone()) {
                queue.push_back(child);
            }
        }
        units.push(unit);
        if units.len() > MAX_UNITS {
            return Err(ApiError::BadRequest(format!(
                "more than {MAX_UNITS} org units below: check a smaller unit"
            )));
        }
    }
    Ok(units)
}

/// Org units of a subtree whose bad-review rate (valid 差评 ÷ valid first ratings) over the
/// recent window jumped against their own baseline: at least `min_bad` 差评, at least
/// `min_ratio` times and `min_increase` above the baseline rate, and a one-sided two-proportion
/// z-test of at least `min_z`, against a baseline of at least `min_baseline_ratings` ratings.
#[utoipa::path(
    get, path = "/api/v1/analysis/alerts", tag = "analysis",
    params(AlertQuery),
    responses(
        (status = 200, body = AlertsView),
        (status = 400, description = "not an org dimension, bad window, or too many units", body = super::ErrorBody),
        (status = 403, description = "unit outside the caller's scope, or window staff", body = super::ErrorBody),
        (status = 404, description = "no such org unit", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn alerts(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<AlertQuery>,
) -> Result<Json<AlertsView>, ApiError> {
    let principal = analyst(&auth)?;
    let defaults = AlertRule::default();
    let rule = AlertRule {
        recent_days: query.recent_days.unwrap_or(defaults.recent_days),
        baseline_weeks: query.baseline_weeks.unwrap_or(defaults.baseline_weeks),
        ..defaults
    };
    if !(1..=31).contains(&rule.recent_days) || !(1..=26).contains(&rule.baseline_weeks) {
        return Err(ApiError::BadRequest(
            "recent_days must lie in 1..=31 and baseline_weeks in 1..=26".into(),
        ));
    }
    let dim = query.dim.unwrap_or(Dim::Region);
    if matches!(dim, Dim::Staff | Dim::Item) {
        return Err(ApiError::BadRequest(
            "alerts are checked on org units: region, hall, department or window".into(),
        ));
    }
    blocking(move || {
        let store = &platform.store;
        let as_of = query
            .as_of
            .unwrap_or_else(|| local_date(platform.clock.now()));
        let windows = rule
            .windows(as_of)
            .ok_or_else(|| ApiError::BadRequest(format!("no baseline before {as_of}")))?;
        let unit = query
            .unit
            .clone()
            .unwrap_or_else(|| principal.scope.clone());
        platform.scope().ensure_unit(&principal, dim, &unit)?;
        let units = subtree(store, &unit)?;
        let keys: Vec<(Dim, String)> = units
            .iter()
            .map(|unit| (org_dim(unit.kind), unit.id.clone()))
            .collect();
        let now = platform.clock.now();
        let settings = &platform.metric_settings;
        let recent =
            store.unit_metrics(&keys, windows.recent_from, windows.recent_to, now, settings)?;
        let baseline = store.unit_metrics(
            &keys,
            windows.baseline_from,
            windows.baseline_to,
            now,
            settings,
        )?;
        let mut flagged = Vec::new();
        let mut others = Vec::new();
        for ((org, recent), baseline) in units.into_iter().zip(recent).zip(baseline) {
            let unit_dim = org_dim(org.kind);
            let check = analysis::check_jump(
                RateCounts {
                    bad: recent.bad,
                    ratings: recent.valid_ratings,
                },
                RateCounts {
                    bad: baseline.bad,
                    ratings: baseline.valid_ratings,
                },
                &rule,
            );
            let alert = UnitAlert {
                recent_ratings_link: ratings_link(
                    unit_dim,
                    &org.id,
                    windows.recent_from,
                    windows.recent_to,
                    true,
                ),
                baseline_ratings_link: ratings_link(
                    unit_dim,
                    &org.id,
                    windows.baseline_from,
                    windows.baseline_to,
                    true,
                ),
                attribution_link: format!(
                    "/api/v1/analysis/attribution?{}",
                    unit_query(unit_dim, &org.id, windows.recent_from, windows.recent_to)
                ),
                dim: unit_dim,
                unit: org.id,
                name: org.name,
                kind: org.kind,
                check,
            };
            if alert.check.status == AlertStatus::Alert {
                flagged.push(alert);
            } else {
                others.push(alert);
            }
        }
        flagged.sort_by(|a, b| b.check.z.cmp(&a.check.z).then_with(|| a.unit.cmp(&b.unit)));
        Ok(Json(AlertsView {
            dim,
            unit,
            as_of,
            windows,
            rule,
            checked: (flagged.len() + others.len()) as u64,
            alerts: flagged,
            others,
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("W-BF-01"), "W-BF-01");
        assert_eq!(query_value("a&b c"), "a%26b%20c");
        assert_eq!(query_value("窗"), "%E7%AA%97");
    }
}
