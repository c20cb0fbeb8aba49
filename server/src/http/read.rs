//! Queries of ratings, cases, roll-ups and the org tree, scoped to the caller's subtree, with
//! evaluators masked; revealing an evaluator is a separate, audited request.

use super::extract::{Json, Path, Query};
use axum::extract::State;
use chrono::{DateTime, Days, NaiveDate, Utc};
use hcp_core::auth::{Permission, Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::model::{ApplicantType, Attribution, Case, Channel, Level, OrgUnit, Rating};
use hcp_core::store::{CaseQuery, Dim, RatingQuery, RollupGroup, RollupQuery, RollupRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::{self, KeyPageQuery, Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::AppError;
use crate::app::disclosure::Masker;
use crate::app::platform::Platform;
use crate::app::ratings::{self, RevealedEvaluator};
// Also reached by this path from `http::orders`.
use crate::app::ratings::load_visible;

/// An evaluator as every view shows it: masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvaluatorView {
    pub real_name: bool,
    pub applicant_type: ApplicantType,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingView {
    pub id: u64,
    pub source: String,
    pub event_id: String,
    pub project_no: String,
    pub service_number: u8,
    pub assess_number: u8,
    pub service_name: Option<String>,
    pub device: Option<String>,
    pub level: Level,
    /// 非常满意 … 非常不满意
    pub level_label: String,
    pub is_bad: bool,
    pub channel: Channel,
    pub is_default: bool,
    pub indicators: Vec<String>,
    /// The comment; `null` when there is none or it was erased (see `text_erased`).
    pub text: Option<String>,
    /// The comment was erased: past the retention of free text, or its writer's erasure.
    #[serde(default)]
    pub text_erased: bool,
    pub evaluator: EvaluatorView,
    pub attribution: Attribution,
    pub area_code: String,
    pub rated_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// Set when an appeal against it was upheld: invalid for assessment, kept in raw totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<hcp_core::outreach::Invalidation>,
    /// A reviewer's decision on publishing the comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation: Option<hcp_core::outreach::Moderation>,
}

impl RatingView {
    /// A rating as every reader but window staff sees it: the evaluator masked, the comment
    /// opened. Blocking.
    fn new(platform: &Platform, rating: Rating) -> Result<RatingView, AppError> {
        let text = crate::app::ratings::comment(platform, &rating)?;
        Ok(RatingView::with_text(rating, text))
    }

    /// The view with `text` for the comment: erased when the rating had one.
    fn with_text(rating: Rating, text: Option<String>) -> RatingView {
        let masked = |field: &Option<hcp_core::model::SealedField>| {
            field.as_ref().map(|field| field.masked.clone())
        };
        RatingView {
            evaluator: EvaluatorView {
                real_name: rating.evaluator.real_name,
                applicant_type: rating.evaluator.applicant_type,
                name: masked(&rating.evaluator.name),
                phone: masked(&rating.evaluator.phone),
                id_number: masked(&rating.evaluator.id_number),
            },
            level_label: rating.level.label_zh().to_string(),
            is_bad: rating.is_bad(),
            is_default: rating.channel.is_default(),
            id: rating.id,
            source: rating.source,
            event_id: rating.event_id,
            project_no: rating.project_no,
            service_number: rating.service_number,
            assess_number: rating.assess_number,
            service_name: rating.service_name,
            device: rating.device,
            level: rating.level,
            channel: rating.channel,
            indicators: rating.indicators,
            text_erased: rating.text.is_some() && text.is_none(),
            text,
            attribution: rating.attribution,
            area_code: rating.area_code,
            rated_at: rating.rated_at,
            received_at: rating.received_at,
            invalid: None,
            moderation: None,
        }
    }

    /// A rating as the window staff it is filed under see it: nothing of the evaluator, not
    /// even masked, and the comment with names and numbers struck (they are the ones rated).
    fn for_staff(platform: &Platform, masker: &Masker, rating: Rating) -> RatingView {
        let text = masker.rating_text(platform, &rating);
        RatingView {
            evaluator: EvaluatorView {
                real_name: rating.evaluator.real_name,
                applicant_type: rating.evaluator.applicant_type,
                name: None,
                phone: None,
                id_number: None,
            },
            ..RatingView::with_text(rating, text)
        }
    }
}

/// Which unit and which days.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitRange {
    /// Dimension of `unit`; default the unit's own (a region's `region`, a hall's `hall`, a
    /// department's `department`, a window's `window`).
    pub dim: Option<Dim>,
    /// Unit id; default the caller's scope (window staff: their own staff id).
    pub unit: Option<String>,
    /// First day (China time), default 30 days ago.
    pub from: Option<NaiveDate>,
    /// Last day (China time), default today.
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatingFilter {
    pub level: Option<Level>,
    pub channel: Option<Channel>,
    /// Only 差评.
    #[serde(default)]
    pub bad_only: bool,
    /// Only real-name ratings.
    #[serde(default)]
    pub real_name_only: bool,
}

/// The store's cursor for a client's, and the page size; a malformed cursor is a 400.
fn store_paging(paging: &PageQuery) -> Result<(Option<String>, usize), ApiError> {
    let limit = paging.limit()?;
    paging.position()?;
    let cursor = paging.cursor.as_deref().and_then(page::to_store);
    Ok((cursor, limit))
}

/// A store page as the client sees it.
fn client_page<T, U>(page: hcp_core::store::Page<T>, convert: impl FnMut(T) -> U) -> Page<U> {
    Page {
        items: page.items.into_iter().map(convert).collect(),
        next_cursor: page.next_cursor.as_deref().map(page::from_store),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Grouping {
    /// `total` (default), `day` or `channel`.
    pub group: Option<RollupGroup>,
}

/// The unit and day range a caller may read, after scope checks. Window staff see only their own
/// results and only up to yesterday, so no rating can be watched as it is pressed. Blocking.
fn resolve(
    platform: &Platform,
    principal: &Principal,
    range: UnitRange,
) -> Result<(Dim, String, NaiveDate, NaiveDate), ApiError> {
    let today = local_date(platform.clock.now());
    let mut to = range.to.unwrap_or(today);
    let from = range
        .from
        .unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
    if from > to {
        return Err(ApiError::invalid_range("from must not be after to"));
    }
    if to.signed_duration_since(from).num_days() > 3660 {
        return Err(ApiError::invalid_range("a range spans at most ten years"));
    }
    let (dim, unit) = if principal.role == Role::WindowStaff {
        let own = principal.staff_id.clone().ok_or_else(|| {
            ApiError::Forbidden("this account is not linked to a staff record".into())
        })?;
        if range.unit.as_ref().is_some_and(|unit| *unit != own)
            || range.dim.is_some_and(|dim| dim != Dim::Staff)
        {
            return Err(ApiError::Forbidden(
                "window staff see their own results only".into(),
            ));
        }
        to = to.min(today.pred_opt().unwrap_or(today));
        (Dim::Staff, own)
    } else {
        let unit = range.unit.unwrap_or_else(|| principal.scope.clone());
        let dim = match range.dim {
            Some(dim) => dim,
            None => crate::app::scope::default_dim(&platform.store, &unit)?,
        };
        platform.scope().ensure_unit(principal, dim, &unit)?;
        (dim, unit)
    };
    Ok((dim, unit, from, to))
}

/// Ratings filed under a unit, newest first, evaluators masked.
#[utoipa::path(
    get, path = "/api/v1/ratings", tag = "query",
    params(UnitRange, RatingFilter, KeyPageQuery),
    responses(
        (status = 200, body = Page<RatingView>),
        (status = 403, description = "unit outside the caller's scope", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn list_ratings(
    State(platform): State<Platform>,
    auth: Auth,
    Query(range): Query<UnitRange>,
    Query(filter): Query<RatingFilter>,
    Query(paging): Query<KeyPageQuery>,
) -> Result<Json<Page<RatingView>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    let (cursor, limit) = store_paging(&paging.paging())?;
    blocking(move || {
        let (dim, unit, from, to) = resolve(&platform, &principal, range)?;
        let page = platform.store.ratings(&RatingQuery {
            dim,
            unit,
            from,
            to,
            level: filter.level,
            channel: filter.channel,
            bad_only: filter.bad_only,
            real_name_only: filter.real_name_only,
            cursor,
            limit,
        })?;
        match Masker::for_reader(&platform, &principal)? {
            Some(masker) => Ok(Json(client_page(page, |rating| {
                RatingView::for_staff(&platform, &masker, rating)
            }))),
            None => {
                let page = hcp_core::store::Page {
                    items: page
                        .items
                        .into_iter()
                        .map(|rating| RatingView::new(&platform, rating))
                        .collect::<Result<_, _>>()?,
                    next_cursor: page.next_cursor,
                };
                Ok(Json(client_page(page, |view| view)))
            }
        }
    })
    .await
}

/// One rating, evaluator masked.
#[utoipa::path(
    get, path = "/api/v1/ratings/{id}", tag = "query",
    params(("id" = u64, Path, description = "Rating id")),
    responses((status = 200, body = RatingView), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn get_rating(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
) -> Result<Json<RatingView>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let rating = load_visible(&platform, &principal, id)?;
        let mut view = match Masker::for_reader(&platform, &principal)? {
            Some(masker) => RatingView::for_staff(&platform, &masker, rating),
            None => RatingView::new(&platform, rating)?,
        };
        let marks = platform.store.rating_marks(id)?;
        view.invalid = marks.invalid;
        view.moderation = marks.moderation;
        Ok(Json(view))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealRequest {
    /// Why the personal data is needed (e.g. 差评回访核实, 电话邀评); recorded in the audit
    /// trail.
    #[schema(min_length = 2, max_length = 200, pattern = "\\S[\\s\\S]*\\S")]
    pub reason: String,
}

/// Reveal an evaluator's personal data to call them back. Only for roles that need it; the
/// reveal is recorded durably in the audit trail before anything is returned.
#[utoipa::path(
    post, path = "/api/v1/ratings/{id}/reveal", tag = "query",
    params(("id" = u64, Path, description = "Rating id")),
    request_body = RevealRequest,
    responses(
        (status = 200, body = RevealedEvaluator),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn reveal_evaluator(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Json(request): Json<RevealRequest>,
) -> Result<Json<RevealedEvaluator>, ApiError> {
    let principal = auth.require(Permission::RevealEvaluator)?.clone();
    blocking(move || {
        let revealed = ratings::reveal_evaluator(&platform, &principal, id, &request.reason)?;
        Ok(Json(revealed))
    })
    .await
}

/// Cases (办件) first seen in a day range, filed under a region, department or item.
#[utoipa::path(
    get, path = "/api/v1/cases", tag = "query",
    params(UnitRange, KeyPageQuery),
    responses((status = 200, body = Page<Case>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn list_cases(
    State(platform): State<Platform>,
    auth: Auth,
    Query(range): Query<UnitRange>,
    Query(paging): Query<KeyPageQuery>,
) -> Result<Json<Page<Case>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    let (cursor, limit) = store_paging(&paging.paging())?;
    if principal.role == Role::WindowStaff {
        return Err(ApiError::Forbidden(
            "window staff see their own results only".into(),
        ));
    }
    blocking(move || {
        let (dim, unit, from, to) = resolve(&platform, &principal, range)?;
        if !matches!(dim, Dim::Region | Dim::Department | Dim::Item) {
            return Err(ApiError::invalid_field(
                "dim",
                "cases are filed by region, department or item",
            ));
        }
        let page = platform.store.cases(&CaseQuery {
            dim,
            unit,
            from,
            to,
            cursor,
            limit,
        })?;
        Ok(Json(client_page(page, |case| case)))
    })
    .await
}

/// One case with its service acts and the ids of their ratings.
#[utoipa::path(
    get, path = "/api/v1/cases/{project_no}", tag = "query",
    params(("project_no" = String, Path, description = "办件编号")),
    responses((status = 200, body = Case), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn get_case(
    State(platform): State<Platform>,
    auth: Auth,
    Path(project_no): Path<String>,
) -> Result<Json<Case>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    if principal.role == Role::WindowStaff {
        return Err(ApiError::Forbidden(
            "window staff see their own results only".into(),
        ));
    }
    blocking(move || {
        let case = platform.store.case(&project_no)?;
        let case = platform
            .scope()
            .found(&principal, case, format!("case {project_no}"))
            .map_err(|_| ApiError::NotFound(format!("no case {project_no}")))?;
        Ok(Json(case))
    })
    .await
}

/// Roll-up counters of a unit over a day range: services, ratings by level and channel, 差评,
/// 实名差评, default ratings, 追评.
#[utoipa::path(
    get, path = "/api/v1/rollups", tag = "query",
    params(UnitRange, Grouping),
    responses((status = 200, body = Vec<RollupRow>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn rollups(
    State(platform): State<Platform>,
    auth: Auth,
    Query(range): Query<UnitRange>,
    Query(grouping): Query<Grouping>,
) -> Result<Json<Vec<RollupRow>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let (dim, unit, from, to) = resolve(&platform, &principal, range)?;
        Ok(Json(platform.store.rollup(&RollupQuery {
            dim,
            unit,
            from,
            to,
            group: grouping.group.unwrap_or_default(),
        })?))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrgNode {
    pub unit: OrgUnit,
    pub children: Vec<OrgUnit>,
}

/// An org unit and its children (master data; any signed-in user).
#[utoipa::path(
    get, path = "/api/v1/org/{id}", tag = "query",
    params(("id" = String, Path, description = "Org unit id")),
    responses((status = 200, body = OrgNode), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn org_unit(
    State(platform): State<Platform>,
    _auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<OrgNode>, ApiError> {
    blocking(move || {
        let unit = platform
            .store
            .org_unit(&id)?
            .ok_or_else(|| ApiError::NotFound(format!("no org unit {id}")))?;
        let children = platform.store.org_children(&id)?;
        Ok(Json(OrgNode { unit, children }))
    })
    .await
}
