//! Metrics and assessment over HTTP: any unit's metrics for any period with the numerators and
//! denominators and a drill-down link for each; the same for every unit of a kind under a
//! scope (for rankings); assessment runs (metrics → county assessment policy → veto policy →
//! the engine's ranking), frozen runs, and the explanation of one unit's score.

use super::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::NaiveDate;
use hcp_core::assessment::{self, AssessedUnit, AssessmentRun};
use hcp_core::auth::{Permission, Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::metrics::{Ratio, UnitMetrics};
use hcp_core::model::OrgKind;
use hcp_core::store::Dim;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::page::{MAX_SCAN, Page, PageQuery, verdict};
use super::{ApiError, Auth, blocking};
use crate::app::assessment::{RunView, dim_name, run_assessment, unit_name, units_under};
use crate::app::platform::Platform;
use crate::app::scope::Target;

#[derive(OpenApi)]
#[openapi(paths(
    unit_stats,
    live,
    days,
    children,
    run,
    frozen,
    frozen_run,
    explain,
    sources_coverage
))]
pub struct Doc;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/api/v1/stats", get(unit_stats))
        .route("/api/v1/live", get(live))
        .route("/api/v1/stats/days", get(days))
        .route("/api/v1/stats/children", get(children))
        .route("/api/v1/coverage/sources", get(sources_coverage))
        .route("/api/v1/assessments", get(frozen).post(run))
        .route("/api/v1/assessments/{seq}", get(frozen_run))
        .route("/api/v1/assessments/{seq}/units/{unit}", get(explain))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Dimension of `unit`; default the unit's own (a region's `region`, a hall's `hall`, a
    /// department's `department`, a window's `window`).
    pub dim: Option<Dim>,
    /// Default: the caller's scope.
    pub unit: Option<String>,
    /// First day (China time); default the first of this month.
    pub from: Option<NaiveDate>,
    /// Last day; default today.
    pub to: Option<NaiveDate>,
}

/// A rate with its label and where its parts come from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RateView {
    pub name: String,
    pub label: String,
    #[serde(flatten)]
    pub ratio: Ratio,
    /// The records behind the numerator (ratings or work orders).
    pub drill_down: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsView {
    pub dim: Dim,
    pub unit: String,
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub metrics: UnitMetrics,
    pub rates: Vec<RateView>,
    /// The ratings of the period, the 差评 among them, and the work orders.
    pub ratings_url: String,
    pub bad_reviews_url: String,
    pub orders_url: String,
    /// How the unit's windows take ratings and how many of their devices are online now (for
    /// regions, halls and departments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

/// Coverage of a unit's windows, as of now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Coverage {
    pub windows: u64,
    pub with_device: u64,
    pub with_qr_code: u64,
    /// Windows with a rating device or a QR code ÷ windows.
    pub covered: Ratio,
    /// Devices heard from within `[devices] online_minutes` ÷ devices of these windows.
    pub devices_online: Ratio,
    /// For regions: the business systems and device fleets expected to report that are
    /// connected (应接尽接), as of today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systems: Option<SystemsSummary>,
}

/// The systems connected of a region, in short; the whole list is at `sources_url`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SystemsSummary {
    /// Expected sources connected ÷ expected sources.
    pub connected: Ratio,
    /// Expected sources silent for more than `silent_after_working_days` working days.
    pub silent: Vec<String>,
    pub silent_after_working_days: u32,
    /// Every source of the region with its activity.
    pub sources_url: String,
}

/// The coverage of a region's, hall's or department's windows. Blocking.
fn coverage(platform: &Platform, dim: Dim, unit: &str) -> Result<Option<Coverage>, ApiError> {
    let store = &platform.store;
    if !matches!(dim, Dim::Region | Dim::Hall | Dim::Department) {
        return Ok(None);
    }
    let mut windows = std::collections::BTreeSet::new();
    let (mut with_device, mut with_qr_code, mut covered) = (0, 0, 0);
    for window in store.org_units()? {
        if window.kind != OrgKind::Window {
            continue;
        }
        let belongs = match dim {
            Dim::Department => window.department.as_deref() == Some(unit),
            _ => store.within(Dim::Region, &window.id, unit)?,
        };
        if !belongs {
            continue;
        }
        with_device += u64::from(window.has_device);
        with_qr_code += u64::from(window.has_qr_code);
        covered += u64::from(window.has_device || window.has_qr_code);
        windows.insert(window.id);
    }
    let now = platform.clock.now();
    let (mut devices, mut online) = (0, 0);
    for device in store.devices()? {
        if !windows.contains(&device.window) {
            continue;
        }
        devices += 1;
        online += u64::from(
            store
                .device_state(&device.id)?
                .last_seen
                .is_some_and(|seen| now - seen <= platform.device_online),
        );
    }
    let count = windows.len() as u64;
    let systems = if dim == Dim::Region {
        let today = local_date(now);
        let systems = crate::app::coverage::region_coverage(
            platform,
            unit,
            crate::app::coverage::recent(today, 30),
            today,
            today,
        )?;
        Some(SystemsSummary {
            connected: systems.connected,
            silent: systems.silent,
            silent_after_working_days: systems.silent_after_working_days,
            sources_url: format!("/api/v1/coverage/sources?unit={unit}"),
        })
    } else {
        None
    };
    Ok(Some(Coverage {
        windows: count,
        with_device,
        with_qr_code,
        covered: Ratio::new(covered, count),
        devices_online: Ratio::new(online, devices),
        systems,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// A region; default the caller's scope.
    pub unit: Option<String>,
    /// First day of the activity counted; default 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day; default today.
    pub to: Option<NaiveDate>,
}

/// 应接尽接: every business system and device fleet reporting for a region, with what it
/// delivered and had refused in the period (by day), when it last delivered, how many working
/// days it has been silent, and whether it counts as connected; the region's ratio of expected
/// sources connected and the silent ones.
#[utoipa::path(
    get, path = "/api/v1/coverage/sources", tag = "stats", params(CoverageQuery),
    responses(
        (status = 200, body = crate::app::coverage::SystemsCoverage),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody)
    ),
    security(("session" = []))
)]
pub async fn sources_coverage(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<CoverageQuery>,
) -> Result<Json<crate::app::coverage::SystemsCoverage>, ApiError> {
    let principal = auth.0.clone();
    if !matches!(principal.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::Forbidden(format!(
            "role {:?} may not see the systems connected",
            principal.role
        )));
    }
    blocking(move || {
        let unit = query.unit.unwrap_or_else(|| principal.scope.clone());
        platform
            .scope()
            .ensure_unit(&principal, Dim::Region, &unit)?;
        let region = platform.store.org_unit(&unit)?;
        if !region.is_some_and(|unit| unit.kind.is_region()) {
            return Err(ApiError::Unprocessable(hcp_core::validate::Reason {
                code: "not_a_region".into(),
                message: format!("{unit} is not a region"),
            }));
        }
        let today = local_date(platform.clock.now());
        let to = query.to.unwrap_or(today);
        let from = query.from.unwrap_or(crate::app::coverage::recent(to, 30));
        if from > to || (to - from).num_days() > 366 {
            return Err(ApiError::invalid_range(format!(
                "from {from} to {to} is not a period of at most a year"
            )));
        }
        Ok(Json(crate::app::coverage::region_coverage(
            &platform, &unit, from, to, today,
        )?))
    })
    .await
}

fn links(dim: Dim, unit: &str, from: NaiveDate, to: NaiveDate) -> (String, String, String) {
    let dim = dim_name(dim);
    (
        format!("/api/v1/ratings?dim={dim}&unit={unit}&from={from}&to={to}"),
        format!("/api/v1/ratings?dim={dim}&unit={unit}&from={from}&to={to}&bad_only=true"),
        format!(
            "/api/v1/orders?kind=bad_review&filed_dim={dim}&filed_unit={unit}&received_from={from}&received_to={to}"
        ),
    )
}

fn view(
    platform: &Platform,
    dim: Dim,
    unit: &str,
    from: NaiveDate,
    to: NaiveDate,
    metrics: UnitMetrics,
) -> Result<StatsView, ApiError> {
    let (ratings_url, bad_reviews_url, orders_url) = links(dim, unit, from, to);
    let rates = metrics
        .rates
        .iter()
        .map(|(name, ratio)| RateView {
            name: name.clone(),
            label: assessment::rate_label(name).unwrap_or(name).to_string(),
            ratio: ratio.clone(),
            drill_down: match name.as_str() {
                "active_rate" | "rating_rate" | "good_rate" => ratings_url.clone(),
                "bad_rate" => bad_reviews_url.clone(),
                _ => orders_url.clone(),
            },
        })
        .collect();
    Ok(StatsView {
        dim,
        unit: unit.to_string(),
        name: unit_name(&platform.store, dim, unit)?,
        from,
        to,
        metrics,
        rates,
        ratings_url,
        bad_reviews_url,
        orders_url,
        coverage: None,
    })
}

fn period_of(platform: &Platform, query: &StatsQuery) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let today = local_date(platform.clock.now());
    let from = query
        .from
        .unwrap_or_else(|| today.with_day0(0).unwrap_or(today));
    let to = query.to.unwrap_or(today);
    if from > to {
        return Err(ApiError::invalid_range(format!(
            "from {from} is after to {to}"
        )));
    }
    Ok((from, to))
}

use chrono::Datelike as _;

/// Every metric of one unit for a period, each rate with its numerator, denominator and the
/// records behind it.
#[utoipa::path(
    get, path = "/api/v1/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn unit_stats(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<StatsQuery>,
) -> Result<Json<StatsView>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let (from, mut to) = period_of(&platform, &query)?;
        let unit = query
            .unit
            .clone()
            .unwrap_or_else(|| principal.scope.clone());
        let dim = match query.dim {
            Some(dim) => dim,
            None => crate::app::scope::default_dim(&platform.store, &unit)?,
        };
        platform.scope().ensure_unit(&principal, dim, &unit)?;
        // Window staff never see a rating as it is pressed: their figures end yesterday.
        if !principal.role.sees_live_ratings() {
            let today = local_date(platform.clock.now());
            to = to.min(today.pred_opt().unwrap_or(today));
            if to < from {
                return Err(ApiError::BadRequest(
                    "window staff see their results up to yesterday".into(),
                ));
            }
        }
        Ok(Json(stats_of(&platform, dim, &unit, from, to)?))
    })
    .await
}

/// Every metric of `unit` from `from` to `to`, with its coverage. Blocking.
fn stats_of(
    platform: &Platform,
    dim: Dim,
    unit: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<StatsView, ApiError> {
    let metrics = platform
        .store
        .unit_metrics(
            &[(dim, unit.to_string())],
            from,
            to,
            platform.clock.now(),
            &platform.metric_settings,
        )?
        .pop()
        .ok_or_else(|| ApiError::Internal("no metrics computed".into()))?;
    let mut stats = view(platform, dim, unit, from, to, metrics)?;
    stats.coverage = coverage(platform, dim, unit)?;
    Ok(stats)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Region, hall, department or window (`dim`); default the caller's scope.
    pub unit: Option<String>,
    /// Dimension of `unit`; default the unit's own.
    pub dim: Option<Dim>,
}

/// How often a live stream looks for new figures, how long one stream lasts before the client
/// reconnects (and is authenticated again), and the heartbeat.
const LIVE_TICK: std::time::Duration = std::time::Duration::from_secs(2);
const LIVE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);
const LIVE_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);

/// Today's figures of a unit as they change: a `text/event-stream` whose `stats` events carry
/// the `StatsView` of today (the same as `GET /api/v1/stats` for today), sent on connect and
/// whenever a figure changes; a comment every 15 s keeps the connection open. A stream ends
/// after ten minutes and the client reconnects. Aggregates only, never a single rating; not
/// for window staff, who see their results up to yesterday.
#[utoipa::path(
    get, path = "/api/v1/live", tag = "stats", params(LiveQuery),
    responses(
        (status = 200, description = "`event: stats` lines whose data is a StatsView", content_type = "text/event-stream", body = String),
        (status = 403, body = super::ErrorBody)
    ),
    security(("session" = []))
)]
pub async fn live(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<LiveQuery>,
) -> Result<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let principal = auth.require(Permission::ReadRatings)?.clone();
    if !principal.role.sees_live_ratings() {
        return Err(ApiError::Forbidden(
            "window staff see their results up to yesterday: there are no live figures for them"
                .into(),
        ));
    }
    let unit = query.unit.unwrap_or_else(|| principal.scope.clone());
    let dim = {
        let (platform, unit) = (platform.clone(), unit.clone());
        blocking(move || {
            let dim = match query.dim {
                Some(dim) => dim,
                None => crate::app::scope::default_dim(&platform.store, &unit)?,
            };
            platform.scope().ensure_unit(&principal, dim, &unit)?;
            Ok(dim)
        })
        .await?
    };
    let until = tokio::time::Instant::now() + LIVE_LIFETIME;
    let start = (platform, unit, None::<String>, true);
    let stream =
        futures_util::stream::unfold(start, move |(platform, unit, last, first)| async move {
            let mut first = first;
            loop {
                if !first {
                    tokio::time::sleep(LIVE_TICK).await;
                }
                first = false;
                if tokio::time::Instant::now() >= until {
                    return None;
                }
                let figures = {
                    let (platform, unit) = (platform.clone(), unit.clone());
                    blocking(move || {
                        let today = local_date(platform.clock.now());
                        let stats = stats_of(&platform, dim, &unit, today, today)?;
                        serde_json::to_string(&stats)
                            .map_err(|error| ApiError::Internal(error.to_string()))
                    })
                    .await
                };
                match figures {
                    Ok(json) if last.as_deref() != Some(json.as_str()) => {
                        let event = Event::default().event("stats").data(json.clone());
                        return Some((Ok(event), (platform, unit, Some(json), false)));
                    }
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "live figures failed");
                        let event = Event::default().event("error").data("暂时无法读取实时数据");
                        return Some((Ok(event), (platform, unit, last, false)));
                    }
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(LIVE_HEARTBEAT)))
}

/// One day of a unit's metrics.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayView {
    pub day: NaiveDate,
    pub metrics: UnitMetrics,
}

/// A unit's metrics day by day (the daily view of window and staff assessment). Window staff
/// see their own, up to yesterday.
#[utoipa::path(
    get, path = "/api/v1/stats/days", tag = "stats", params(StatsQuery),
    responses((status = 200, body = Vec<DayView>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn days(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<StatsQuery>,
) -> Result<Json<Vec<DayView>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let (from, mut to) = period_of(&platform, &query)?;
        let (dim, unit) = match (&query.unit, principal.role) {
            (None, Role::WindowStaff) => (
                Dim::Staff,
                principal.staff_id.clone().ok_or_else(|| {
                    ApiError::Forbidden("this account is not linked to a staff record".into())
                })?,
            ),
            _ => {
                let unit = query
                    .unit
                    .clone()
                    .unwrap_or_else(|| principal.scope.clone());
                let dim = match query.dim {
                    Some(dim) => dim,
                    None => crate::app::scope::default_dim(&platform.store, &unit)?,
                };
                (dim, unit)
            }
        };
        platform.scope().ensure_unit(&principal, dim, &unit)?;
        if !principal.role.sees_live_ratings() {
            let today = local_date(platform.clock.now());
            to = to.min(today.pred_opt().unwrap_or(today));
        }
        if (to - from).num_days() > 92 {
            return Err(ApiError::invalid_range(
                "a daily view covers at most 93 days",
            ));
        }
        let views = platform
            .store
            .unit_metrics_by_day(
                dim,
                &unit,
                from,
                to,
                platform.clock.now(),
                &platform.metric_settings,
            )?
            .into_iter()
            .map(|(day, metrics)| DayView { day, metrics })
            .collect();
        Ok(Json(views))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChildrenQuery {
    /// The scope: a region (default the caller's scope).
    pub unit: Option<String>,
    /// Which units under it: `region` (the regions directly below), `hall`, `department`,
    /// `window`, `staff` or `item`.
    pub of: Dim,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The metrics of every unit of a kind under a region, for comparisons and rankings.
#[utoipa::path(
    get, path = "/api/v1/stats/children", tag = "stats", params(ChildrenQuery),
    responses((status = 200, body = Vec<StatsView>)),
    security(("session" = []))
)]
pub async fn children(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<ChildrenQuery>,
) -> Result<Json<Vec<StatsView>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    if principal.role == Role::WindowStaff {
        return Err(ApiError::Forbidden(
            "window staff see their own results only".into(),
        ));
    }
    blocking(move || {
        let (from, to) = period_of(
            &platform,
            &StatsQuery {
                dim: None,
                unit: None,
                from: query.from,
                to: query.to,
            },
        )?;
        let scope = query
            .unit
            .clone()
            .unwrap_or_else(|| principal.scope.clone());
        platform
            .scope()
            .ensure_unit(&principal, Dim::Region, &scope)?;
        let units = units_under(&platform, &scope, query.of)?;
        let keys: Vec<(Dim, String)> = units
            .iter()
            .map(|(dim, id, ..)| (*dim, id.clone()))
            .collect();
        let metrics = platform.store.unit_metrics(
            &keys,
            from,
            to,
            platform.clock.now(),
            &platform.metric_settings,
        )?;
        let mut views = Vec::with_capacity(units.len());
        for ((dim, id, ..), metrics) in units.iter().zip(metrics) {
            views.push(view(&platform, *dim, id, from, to, metrics)?);
        }
        Ok(Json(views))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RunRequest {
    /// `2026-03`, `2026-Q1`, `2026-H1` or `2026`.
    #[schema(
        max_length = 64,
        pattern = "^\\s*(20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?\\s*$"
    )]
    pub period: String,
    /// Which units: `region` (the regions directly under the scope), `hall`, `department`,
    /// `window` or `staff`.
    pub unit_kind: Dim,
    /// The region whose units are assessed; default the caller's scope.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub scope: Option<String>,
    /// Record the run as published (frozen): later edits of rules or data never change it. Only
    /// for a period that has ended, and only by the scope's owner: a supervisor or administrator
    /// whose scope is `scope` itself, or one scoped to the root of the org tree.
    #[serde(default)]
    pub freeze: bool,
}

/// Runs an assessment: the metrics of every unit of a kind under a region for the period, the
/// county's assessment policy (score with breakdown), its veto policy (reasons), then the
/// engine's ranking — a vetoed unit keeps its score and leaves the excellence ranking.
#[utoipa::path(
    post, path = "/api/v1/assessments", tag = "stats", request_body = RunRequest,
    responses(
        (status = 200, body = RunView),
        (status = 403, description = "a scope outside the caller's, or `freeze` by other than the scope's owner", body = super::ErrorBody),
        (status = 422, description = "`freeze` for a period that has not ended (`period_not_ended`)", body = super::ErrorBody)
    ),
    security(("session" = []))
)]
pub async fn run(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<RunRequest>,
) -> Result<Json<RunView>, ApiError> {
    let principal = auth.0.clone();
    crate::app::scope::ensure_role(
        &principal,
        &[Role::Supervisor, Role::Admin],
        "assessments are run by supervisors",
    )?;
    blocking(move || {
        let run = run_assessment(
            &platform,
            &principal,
            &request.period,
            request.unit_kind,
            request.scope,
            request.freeze,
        )?;
        Ok(Json(run))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FrozenSummary {
    pub seq: u64,
    pub period: String,
    pub unit_kind: String,
    pub scope: String,
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub rules_version: String,
    pub units: usize,
}

/// The frozen (published) assessment runs within the caller's scope and above it (window
/// staff: counting only their own line).
#[utoipa::path(
    get, path = "/api/v1/assessments", tag = "stats",
    params(PageQuery),
    responses((status = 200, body = Page<FrozenSummary>)),
    security(("session" = []))
)]
pub async fn frozen(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<FrozenSummary>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    let limit = paging.limit()?;
    let after = paging.position_number()?;
    blocking(move || {
        let mut failure = None;
        let scope = platform.scope();
        let runs = platform
            .store
            .frozen_assessments_page(after, limit, MAX_SCAN, |run| {
                verdict(scope.sees(&principal, Target::Run(run)), &mut failure)
            })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Json(Page::scanned(runs).map(|(seq, run)| {
            let run = scope.run_as_seen(&principal, run);
            FrozenSummary {
                seq,
                period: run.period,
                unit_kind: run.unit_kind,
                scope: run.scope,
                as_of: run.as_of,
                rules_version: run.rules_version,
                units: run.units.len(),
            }
        })))
    })
    .await
}

/// A frozen run within the caller's reach, as they may read it (window staff: their own line).
fn load_frozen(
    platform: &Platform,
    principal: &Principal,
    seq: u64,
) -> Result<AssessmentRun, ApiError> {
    let scope = platform.scope();
    let run = scope.found(
        principal,
        platform.store.frozen_assessment(seq)?,
        format!("frozen assessment {seq}"),
    )?;
    Ok(scope.run_as_seen(principal, run))
}

/// A frozen run, exactly as published; window staff see only their own line.
#[utoipa::path(
    get, path = "/api/v1/assessments/{seq}", tag = "stats",
    params(("seq" = u64, Path, description = "Log sequence number of the frozen run")),
    responses((status = 200, body = AssessmentRun), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn frozen_run(
    State(platform): State<Platform>,
    auth: Auth,
    Path(seq): Path<u64>,
) -> Result<Json<AssessmentRun>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || Ok(Json(load_frozen(&platform, &principal, seq)?))).await
}

/// One line of a score's explanation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExplainedItem {
    pub item: String,
    #[schema(value_type = String)]
    pub weight: rust_decimal::Decimal,
    #[schema(value_type = String)]
    pub value: rust_decimal::Decimal,
    #[schema(value_type = String)]
    pub score: rust_decimal::Decimal,
    /// The rate it was computed from, with its numerator and denominator, if it is one.
    pub rate: Option<RateView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExplainedVeto {
    pub code: String,
    /// The fact that triggered it, as the veto policy states it.
    pub reason: String,
    /// The records behind the fact (for a rate-based veto: the orders of the period).
    pub drill_down: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    pub seq: u64,
    pub period: String,
    pub unit: AssessedUnit,
    pub items: Vec<ExplainedItem>,
    pub vetoes: Vec<ExplainedVeto>,
    /// Why the unit is or is not in the excellence ranking, in words.
    pub ranking: String,
    /// The ratings, bad reviews and work orders behind the numbers.
    pub ratings_url: String,
    pub bad_reviews_url: String,
    pub orders_url: String,
    /// Ratings invalid for assessment after an upheld appeal (kept in the raw totals).
    pub invalid_ratings: u64,
}

/// Explains one unit's result in a frozen run: each item of the score with the rate behind it
/// and the records behind the rate, each veto with the fact that triggered it. Window staff:
/// only their own line.
#[utoipa::path(
    get, path = "/api/v1/assessments/{seq}/units/{unit}", tag = "stats",
    params(
        ("seq" = u64, Path, description = "Log sequence number of the frozen run"),
        ("unit" = String, Path, description = "The assessed unit"),
    ),
    responses((status = 200, body = Explanation), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn explain(
    State(platform): State<Platform>,
    auth: Auth,
    Path((seq, unit)): Path<(u64, String)>,
) -> Result<Json<Explanation>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let run = load_frozen(&platform, &principal, seq)?;
        let dim: Dim = serde_json::from_value(serde_json::json!(run.unit_kind))
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let assessed = run
            .units
            .iter()
            .find(|assessed| assessed.unit == unit)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("{unit} is not in run {seq}")))?;
        let stats = view(
            &platform,
            dim,
            &unit,
            run.from,
            run.to,
            assessed.metrics.clone(),
        )?;
        let rate_by_label = |label: &str| {
            stats
                .rates
                .iter()
                .find(|rate| rate.label == label)
                .map(|rate| RateView {
                    name: rate.name.clone(),
                    label: rate.label.clone(),
                    ratio: rate.ratio.clone(),
                    drill_down: rate.drill_down.clone(),
                })
        };
        let items = assessed
            .score
            .as_ref()
            .map(|score| {
                score
                    .items
                    .iter()
                    .map(|item| ExplainedItem {
                        item: item.item.clone(),
                        weight: item.weight,
                        value: item.value,
                        score: item.score,
                        rate: rate_by_label(&item.item),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let vetoes = assessed
            .vetoes
            .iter()
            .map(|veto| {
                let rate = assessment::RATE_LABELS
                    .iter()
                    .find(|(_, label)| veto.reason.contains(label))
                    .and_then(|(_, label)| rate_by_label(label));
                ExplainedVeto {
                    code: veto.code.clone(),
                    reason: veto.reason.clone(),
                    drill_down: rate
                        .map(|rate| rate.drill_down)
                        .unwrap_or_else(|| stats.orders_url.clone()),
                }
            })
            .collect::<Vec<_>>();
        let ranking = match (&assessed.score, assessed.vetoed, assessed.rank) {
            (None, _, _) => format!("未能计分：{}", assessed.error.clone().unwrap_or_default()),
            (Some(_), true, _) => format!(
                "一票否决，不参加评优排名：{}",
                assessed
                    .vetoes
                    .iter()
                    .map(|veto| veto.reason.clone())
                    .chain(assessed.error.clone())
                    .collect::<Vec<_>>()
                    .join("；")
            ),
            (Some(score), false, Some(rank)) => {
                format!("得分 {}，评优排名第 {rank} 位", score.total.normalize())
            }
            (Some(score), false, None) => format!("得分 {}", score.total.normalize()),
        };
        Ok(Json(Explanation {
            seq,
            period: run.period.clone(),
            invalid_ratings: assessed.metrics.invalid,
            unit: assessed,
            items,
            vetoes,
            ranking,
            ratings_url: stats.ratings_url,
            bad_reviews_url: stats.bad_reviews_url,
            orders_url: stats.orders_url,
        }))
    })
    .await
}
