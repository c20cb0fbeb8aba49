//! Work orders over HTTP: the handlers' and supervisors' lists, every step of the closed loop
//! (who may take which step is checked by `app::orders`, whether the step is allowed now by the
//! state machine in the store), the one intake of complaints, suggestions and requests, the
//! call-back workbench, moderation of comments, and the operator's sweep and clock.

use super::extract::{AnonymousPost, Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hcp_core::auth::{Permission, Principal, Role};
use hcp_core::model::Level;
use hcp_core::outreach::ServiceCall;
use hcp_core::policy::PhaseKind;
use hcp_core::store::Dim;
use hcp_core::workflow::{CallOutcome, FlagKind, Order, OrderChange, OrderKind, OrderState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::page::{MAX_SCAN, Page, PageQuery, verdict};
use super::{ApiError, Auth, blocking};
use crate::app::AppError;
use crate::app::disclosure::{self, Masker};
use crate::app::orders::{self, IntakeReceipt, IntakeRequest};
use crate::app::platform::Platform;
use crate::app::scope::Target;
use crate::app::work::SweepReport;

#[derive(OpenApi)]
#[openapi(paths(
    list_orders,
    get_order,
    act,
    intake,
    calls,
    call_order,
    moderate,
    sweep,
    get_clock,
    set_clock
))]
pub struct Doc;

pub fn routes(platform: &Platform) -> Router<Platform> {
    Router::new()
        .route("/api/v1/orders", get(list_orders))
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/orders/{id}/actions", post(act))
        .route("/api/v1/intake", post(intake))
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/calls/orders/{id}", post(call_order))
        .route("/api/v1/ratings/{id}/moderation", post(moderate))
        .route("/api/v1/admin/sweep", post(sweep))
        .route("/api/v1/admin/clock", get(get_clock).post(set_clock))
        .merge(super::track::routes(platform))
}

/// An order as the workbench shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    /// What the citizen wrote (the 差评's comment, the submission), long digit runs masked;
    /// `null` when there is none or it was erased (see `text_erased`).
    pub text: Option<String>,
    /// The text was erased: past the retention of free text, or its writer's erasure.
    pub text_erased: bool,
    /// Phases not done whose due instant has passed.
    #[schema(value_type = Vec<String>)]
    pub overdue: Vec<PhaseKind>,
    /// The citizen's tracking link, for the roles that talk to citizens.
    pub tracking_url: Option<String>,
    /// The steps (change `type`s) the caller may take on this order now.
    pub actions: Vec<String>,
    /// Working days left of each open phase.
    pub countdowns: Vec<crate::app::orders::Countdown>,
}

/// An order as `principal` sees it. Window staff (`masker` set) read the citizen's words with
/// names and numbers struck and never the submitter's contact: they are the ones rated.
fn view(
    platform: &Platform,
    principal: &Principal,
    masker: &Option<Masker>,
    mut order: Order,
) -> Result<OrderView, AppError> {
    let text = match masker {
        Some(masker) => {
            order.contact = None;
            masker.order_text(platform, &order)
        }
        None => order.text(platform.store.pii())?,
    };
    let text_erased = order.text.is_some() && text.is_none();
    // The sealed form stays inside: the view carries the opened text.
    order.text = None;
    let now = platform.clock.now();
    let overdue = if order.is_open() {
        order
            .deadlines
            .iter()
            .filter(|d| d.phase != PhaseKind::Appeal && d.done_at.is_none() && now >= d.due)
            .map(|d| d.phase)
            .collect()
    } else {
        Vec::new()
    };
    let tracking_url = matches!(principal.role, Role::CallbackAgent | Role::Admin)
        .then(|| crate::app::tokens::tracking_url(platform, order.id));
    let actions = crate::app::orders::available_steps(platform, principal, &order)
        .into_iter()
        .map(String::from)
        .collect();
    let countdowns = crate::app::orders::countdowns(&platform.calendar(), &order, now);
    Ok(OrderView {
        order,
        text,
        text_erased,
        overdue,
        tracking_url,
        actions,
        countdowns,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    pub state: Option<OrderState>,
    pub kind: Option<OrderKind>,
    /// Only open (`true`) or only closed (`false`) orders.
    pub open: Option<bool>,
    /// Only orders with a phase flagged so (`warning`, `supervision`, `notice`).
    pub flag: Option<FlagKind>,
    /// Only orders with an overdue phase.
    #[serde(default)]
    pub overdue: bool,
    /// Only real-name bad reviews.
    #[serde(default)]
    pub real_name: bool,
    /// Only orders of this responsible unit.
    pub unit: Option<String>,
    /// Only orders filed under this unit (with `filed_dim`), like their ratings: a region, hall,
    /// department, window, staff member or item. The metrics' drill-down uses it.
    pub filed_unit: Option<String>,
    pub filed_dim: Option<Dim>,
    /// Only orders whose 差评 was received on or after this day (China time).
    pub received_from: Option<chrono::NaiveDate>,
    /// … and on or before this day.
    pub received_to: Option<chrono::NaiveDate>,
}

/// Work orders within the caller's scope, newest first. A page looks at 5,000 orders at most:
/// with a filter that matches few it may hold fewer items than asked, and still a cursor.
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders", params(OrderFilter, PageQuery),
    responses((status = 200, body = Page<OrderView>)),
    security(("session" = []))
)]
pub async fn list_orders(
    State(platform): State<Platform>,
    auth: Auth,
    Query(filter): Query<OrderFilter>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    let limit = paging.limit()?;
    let before = paging.position_number()?;
    blocking(move || {
        let now = platform.clock.now();
        let masker = Masker::for_reader(&platform, &principal)?;
        let mut failure = None;
        let orders = platform
            .store
            .orders_page(before, limit, MAX_SCAN, |order| {
                let matches = filter.state.is_none_or(|state| order.state == state)
                    && filter.kind.is_none_or(|kind| order.kind == kind)
                    && filter.open.is_none_or(|open| order.is_open() == open)
                    && filter.unit.as_ref().is_none_or(|unit| order.unit == *unit)
                    && filter.filed_unit.as_ref().is_none_or(|unit| {
                        hcp_core::store::order_filed_under(
                            order,
                            filter.filed_dim.unwrap_or(Dim::Region),
                            unit,
                        )
                    })
                    && {
                        let day = hcp_core::calendar::local_date(order.received_at);
                        filter.received_from.is_none_or(|from| day >= from)
                            && filter.received_to.is_none_or(|to| day <= to)
                    }
                    && (!filter.real_name || order.real_name)
                    && filter
                        .flag
                        .is_none_or(|kind| order.deadlines.iter().any(|d| d.raised(kind)))
                    && (!filter.overdue
                        || order.is_open()
                            && order.deadlines.iter().any(|d| {
                                d.phase != PhaseKind::Appeal && d.done_at.is_none() && now >= d.due
                            }));
                matches
                    && verdict(
                        platform.scope().sees(&principal, Target::Order(order)),
                        &mut failure,
                    )
            })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Json(Page::scanned(orders).try_map(|order| {
            view(&platform, &principal, &masker, order)
        })?))
    })
    .await
}

/// One work order with its deadlines, flags and timeline.
#[utoipa::path(
    get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = u64, Path, description = "Order id")),
    responses((status = 200, body = OrderView), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn get_order(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
) -> Result<Json<OrderView>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let order = orders::visible_order(&platform, &principal, id)?;
        Ok(Json(view(
            &platform,
            &principal,
            &Masker::for_reader(&platform, &principal)?,
            order,
        )?))
    })
    .await
}

/// Takes one step of an order: `{"type": "accept"}`, `{"type": "verify", "finding": …}`,
/// `{"type": "dispose", "disposition": {"type": "scheduled", "plan": …, "committed_date": …}}`,
/// `{"type": "appeal", "reason": …, "evidence": […]}`, `{"type": "close", "root_cause": …,
/// "action_taken": …}` … A step the order's state does not allow is refused with 422 and the
/// reason; a step the caller's role may not take with 403.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/actions", tag = "orders",
    params(("id" = u64, Path, description = "Order id")),
    request_body = OrderChange,
    responses(
        (status = 200, body = OrderView),
        (status = 403, body = super::ErrorBody),
        (status = 422, description = "not allowed in the order's state", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn act(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Json(step): Json<OrderChange>,
) -> Result<Json<OrderView>, ApiError> {
    let principal = auth.0.clone();
    blocking(move || {
        let order = orders::take_step(&platform, &principal, id, step)?;
        Ok(Json(view(
            &platform,
            &principal,
            &Masker::for_reader(&platform, &principal)?,
            order,
        )?))
    })
    .await
}

/// The one intake of complaints, suggestions and requests: classified and routed by the routing
/// policy, timed by the deadline policy. Open to citizens (no sign-in, a few a minute per
/// address) and to staff. A number a citizen gives is sent a confirmation code and nothing else
/// until the code is posted back (`phone.confirm_url`); staff's is texted the tracking link.
#[utoipa::path(
    post, path = "/api/v1/intake", tag = "public", request_body = IntakeRequest,
    responses((status = 201, body = IntakeReceipt), (status = 422, body = super::ErrorBody))
)]
pub async fn intake(
    State(platform): State<Platform>,
    _: AnonymousPost,
    headers: axum::http::HeaderMap,
    Json(request): Json<IntakeRequest>,
) -> Result<(StatusCode, Json<IntakeReceipt>), ApiError> {
    let actor = match super::bearer(&headers) {
        Some(token) => super::session_principal(&platform, token).await?.username,
        None if headers.contains_key(axum::http::header::AUTHORIZATION) => {
            return Err(ApiError::Unauthorized);
        }
        None => orders::CITIZEN.to_string(),
    };
    blocking(move || {
        let receipt = orders::open_intake(&platform, &actor, request)?;
        Ok((StatusCode::CREATED, Json(receipt)))
    })
    .await
}

/// One entry of the call-back list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderCall {
    pub order_id: u64,
    pub kind: OrderKind,
    pub real_name: bool,
    pub level: Option<Level>,
    pub unit: String,
    pub area_code: String,
    /// When the feedback was given (the call-back counts from it).
    pub feedback_at: Option<DateTime<Utc>>,
    /// Due instant of the call-back phase, if the policy sets one and it is timed.
    pub callback_due: Option<DateTime<Utc>>,
    /// `callback_due` is counted on a provisional calendar (next year's holidays are not
    /// published yet).
    pub callback_due_provisional: bool,
    pub overdue: bool,
    pub attempts: usize,
    /// Unreachable on every attempt so far.
    pub unreachable: usize,
    /// The evaluator already rated the rectification (link or 追评).
    pub evaluated: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallList {
    /// Bad reviews and complaints waiting for their call-back, real-name and overdue first.
    pub orders: Vec<OrderCall>,
    /// Unrated services to invite by phone.
    pub services: Vec<ServiceCall>,
    /// Real-name bad reviews waiting for a call-back, and how many of them are overdue.
    pub real_name_waiting: usize,
    pub real_name_overdue: usize,
    /// Pass back as `cursor` for the next `limit` orders and services; null when neither list
    /// has more.
    pub next_cursor: Option<String>,
}

/// The call-back workbench: one list of bad reviews and complaints to call back and unrated
/// services to invite, within the caller's scope; `limit` of each per page (the counts are of
/// the whole list).
#[utoipa::path(
    get, path = "/api/v1/calls", tag = "orders", params(PageQuery),
    responses((status = 200, body = CallList)),
    security(("session" = []))
)]
pub async fn calls(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<CallList>, ApiError> {
    let limit = paging.limit()?;
    let skip = usize::try_from(paging.position_number()?.unwrap_or(0)).unwrap_or(usize::MAX);
    let principal = auth.0.clone();
    if !matches!(
        principal.role,
        Role::CallbackAgent | Role::Supervisor | Role::Admin
    ) {
        return Err(ApiError::Forbidden(
            "the call list is for call-back agents and supervisors".into(),
        ));
    }
    blocking(move || {
        let now = platform.clock.now();
        let mut orders = Vec::new();
        for order in platform.store.open_orders()? {
            if order.state != OrderState::FeedbackGiven
                || !platform.scope().sees(&principal, Target::Order(&order))?
            {
                continue;
            }
            let callback = order.deadline(PhaseKind::Callback);
            let callback_due = callback.map(|d| d.due);
            orders.push(OrderCall {
                order_id: order.id,
                kind: order.kind,
                real_name: order.real_name,
                level: order.level,
                unit: order.unit.clone(),
                area_code: order.area_code.clone(),
                feedback_at: order
                    .history
                    .iter()
                    .rev()
                    .find(|step| matches!(step.action.as_str(), "feedback" | "problem_done"))
                    .map(|step| step.at),
                callback_due,
                callback_due_provisional: callback.is_some_and(|d| d.provisional),
                overdue: callback_due.is_some_and(|due| now >= due),
                attempts: order.calls.len(),
                unreachable: order
                    .calls
                    .iter()
                    .filter(|call| call.outcome == CallOutcome::Unreachable)
                    .count(),
                evaluated: order.evaluation.is_some(),
            });
        }
        orders.sort_by_key(|call| {
            (
                !call.real_name,
                !call.overdue,
                call.callback_due,
                call.order_id,
            )
        });
        let end = skip.saturating_add(limit);
        let mut failure = None;
        let mut services = platform
            .store
            .open_service_calls(end.saturating_add(1), |call| {
                verdict(
                    platform.scope().sees(&principal, Target::Call(call)),
                    &mut failure,
                )
            })?;
        if let Some(error) = failure {
            return Err(error);
        }
        let real_name_waiting = orders.iter().filter(|call| call.real_name).count();
        let real_name_overdue = orders
            .iter()
            .filter(|call| call.real_name && call.overdue)
            .count();
        let more = orders.len() > end || services.len() > end;
        let orders = orders.into_iter().skip(skip).take(limit).collect();
        services.truncate(end);
        let services = services.into_iter().skip(skip).collect();
        Ok(Json(CallList {
            orders,
            services,
            real_name_waiting,
            real_name_overdue,
            next_cursor: more.then(|| super::page::encode_number(end as u64)),
        }))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CallRecord {
    pub outcome: CallOutcome,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// Records one call-back attempt of an order. 满意/基本满意 complete the 回访; 不满意 reopens
/// the order; after three unreachable attempts the platform completes it by SMS.
#[utoipa::path(
    post, path = "/api/v1/calls/orders/{id}", tag = "orders",
    params(("id" = u64, Path, description = "Order id")),
    request_body = CallRecord,
    responses((status = 200, body = OrderView), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn call_order(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Json(record): Json<CallRecord>,
) -> Result<Json<OrderView>, ApiError> {
    let principal = auth.0.clone();
    blocking(move || {
        let order = orders::call_back(&platform, &principal, id, record.outcome, record.note)?;
        Ok(Json(view(
            &platform,
            &principal,
            &Masker::for_reader(&platform, &principal)?,
            order,
        )?))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ModerationRequest {
    /// Publish the comment on the disclosure pages (true) or keep it internal.
    pub publish: bool,
    #[schema(max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Recorded {
    pub seq: u64,
}

/// A reviewer decides whether a rating's comment may be published.
#[utoipa::path(
    post, path = "/api/v1/ratings/{id}/moderation", tag = "orders",
    params(("id" = u64, Path, description = "Rating id")),
    request_body = ModerationRequest,
    responses((status = 200, body = Recorded), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn moderate(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Json(request): Json<ModerationRequest>,
) -> Result<Json<Recorded>, ApiError> {
    let principal = auth.0.clone();
    crate::app::scope::ensure_role(
        &principal,
        &[Role::Reviewer],
        "comments are moderated by reviewers",
    )?;
    blocking(move || {
        let seq = disclosure::moderate(&platform, &principal, id, request.publish, request.note)?;
        Ok(Json(Recorded { seq }))
    })
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SweepRequest {
    /// Sweep as of this instant: only on the manual clock (simulations, tests); default: now.
    pub as_of: Option<DateTime<Utc>>,
}

/// Runs one deadline sweep of the whole city now, or as of a given instant: an administrator
/// or supervisor scoped to the root of the org tree.
#[utoipa::path(
    post, path = "/api/v1/admin/sweep", tag = "orders", request_body = SweepRequest,
    responses(
        (status = 200, body = SweepReport),
        (status = 422, description = "`as_of` given while the platform runs on the system clock", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn sweep(
    State(platform): State<Platform>,
    auth: Auth,
    body: Option<Json<SweepRequest>>,
) -> Result<Json<SweepReport>, ApiError> {
    let asked = body.and_then(|Json(request)| request.as_of);
    let principal = auth.0;
    blocking(move || {
        // A sweep flags and times every order of the city: the root's act.
        platform.scope().ensure_city(
            &principal,
            &[Role::Admin, Role::Supervisor],
            "sweeps are run by administrators and supervisors of the city",
        )?;
        let as_of = platform.as_of(asked)?;
        Ok(Json(crate::workers::sweep::sweep(&platform, as_of)))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClockView {
    pub now: DateTime<Utc>,
    /// The platform runs on a manual clock (simulation or test).
    pub manual: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetClock {
    pub at: DateTime<Utc>,
}

/// The platform's time.
#[utoipa::path(
    get, path = "/api/v1/admin/clock", tag = "orders",
    responses((status = 200, body = ClockView)),
    security(("session" = []))
)]
pub async fn get_clock(
    State(platform): State<Platform>,
    _auth: Auth,
) -> Result<Json<ClockView>, ApiError> {
    Ok(Json(ClockView {
        now: platform.clock.now(),
        manual: platform.manual_clock.is_some(),
    }))
}

/// Moves the manual clock (only when `[clock] manual_start` is configured): an administrator
/// scoped to the root of the org tree.
#[utoipa::path(
    post, path = "/api/v1/admin/clock", tag = "orders", request_body = SetClock,
    responses((status = 200, body = ClockView), (status = 409, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn set_clock(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<SetClock>,
) -> Result<Json<ClockView>, ApiError> {
    super::admin::city_act(
        &platform,
        &auth,
        &[Role::Admin],
        "the clock is the whole city's",
    )
    .await?;
    let Some(clock) = &platform.manual_clock else {
        return Err(ApiError::Conflict(
            "the platform runs on the system clock; configure [clock] manual_start to move it"
                .into(),
        ));
    };
    clock.set(request.at);
    tracing::warn!(at = %request.at, "manual clock moved");
    Ok(Json(ClockView {
        now: platform.clock.now(),
        manual: true,
    }))
}
