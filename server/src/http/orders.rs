//! Work orders over HTTP: the handlers' and supervisors' lists, every step of the closed loop
//! (who may take which step is checked here, whether the step is allowed now by the state
//! machine in the store), the one intake of complaints, suggestions and requests, the call-back
//! workbench, moderation of comments, and the operator's sweep and clock.

use super::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hcp_core::auth::{Permission, Principal, Role};
use hcp_core::event::PolicyDecision;
use hcp_core::model::{Channel, Level};
use hcp_core::outreach::ServiceCall;
use hcp_core::policy::{Hook, PhaseKind, Priority, RoutingOutput};
use hcp_core::store::{Command, Dim, LoopCommand, Outcome, county_of, seal_phone};
use hcp_core::workflow::{CallOutcome, FlagKind, Order, OrderChange, OrderKind, OrderState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
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

pub fn routes() -> Router<Platform> {
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
        .merge(super::track::routes())
}

fn load_visible(platform: &Platform, principal: &Principal, id: u64) -> Result<Order, ApiError> {
    let order = platform.store.order(id)?;
    platform
        .scope()
        .found(principal, order, format!("work order {id}"))
}

/// An order as the workbench shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    /// Phases not done whose due instant has passed.
    #[schema(value_type = Vec<String>)]
    pub overdue: Vec<PhaseKind>,
    /// The citizen's tracking link, for the roles that talk to citizens.
    pub tracking_url: Option<String>,
}

fn view(platform: &Platform, principal: &Principal, order: Order) -> OrderView {
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
    OrderView {
        order,
        overdue,
        tracking_url,
    }
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

/// Work orders within the caller's scope, newest first.
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
        let mut failure = None;
        let orders = platform.store.orders(before, limit, |order| {
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
                && match platform.scope().sees(&principal, Target::Order(order)) {
                    Ok(visible) => visible,
                    Err(error) => {
                        failure.get_or_insert(error);
                        false
                    }
                }
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Json(
            Page::keyed(orders, limit, |order| order.id)
                .map(|order| view(&platform, &principal, order)),
        ))
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
        let order = load_visible(&platform, &principal, id)?;
        Ok(Json(view(&platform, &principal, order)))
    })
    .await
}

/// Who may take a step: the responsible unit's handlers do the work, the supervisor of its
/// region decides transfers, a reviewer outside the unit decides appeals, call-back agents call
/// back; the platform alone raises flags and follows problems.
fn authorise(
    platform: &Platform,
    principal: &Principal,
    order: &Order,
    change: &OrderChange,
) -> Result<(), ApiError> {
    let store = &platform.store;
    let in_unit = || -> Result<bool, ApiError> {
        Ok(store.within(Dim::Region, &order.unit, &principal.scope)?)
    };
    let in_region = || -> Result<bool, ApiError> {
        Ok(order.regions.contains(&principal.scope)
            || store.within(Dim::Region, &order.unit, &principal.scope)?)
    };
    let allowed = match change {
        OrderChange::Flag { .. }
        | OrderChange::Timed { .. }
        | OrderChange::Retimed { .. }
        | OrderChange::LinkProblem { .. }
        | OrderChange::ProblemDone { .. }
        | OrderChange::CallbackBySms { .. } => {
            return Err(ApiError::Forbidden(format!(
                "{} is recorded by the platform itself",
                change.name()
            )));
        }
        OrderChange::Evaluate { .. } => {
            return Err(ApiError::Forbidden(
                "the evaluator rates the rectification through the tracking link, or on the call-back"
                    .into(),
            ));
        }
        OrderChange::Accept { .. }
        | OrderChange::RequestTransfer { .. }
        | OrderChange::Contact { .. }
        | OrderChange::Verify { .. }
        | OrderChange::Dispose { .. }
        | OrderChange::Rectified { .. }
        | OrderChange::Feedback { .. }
        | OrderChange::Close { .. }
        | OrderChange::Answer { .. } => match principal.role {
            Role::DepartmentHandler => in_unit()?,
            Role::Admin => true,
            _ => false,
        },
        OrderChange::Appeal { .. } => match principal.role {
            Role::DepartmentHandler => in_unit()?,
            Role::WindowStaff => order.staff.is_some() && order.staff == principal.staff_id,
            _ => false,
        },
        OrderChange::DecideTransfer { unit, .. } => {
            let supervisor = matches!(principal.role, Role::Supervisor | Role::Admin);
            if let Some(unit) = unit {
                if store.org_unit(unit)?.is_none() {
                    return Err(ApiError::Unprocessable(hcp_core::validate::Reason {
                        code: "unknown_reference".into(),
                        message: format!("unknown org unit {unit}"),
                    }));
                }
                if !store.within(Dim::Region, unit, &principal.scope)? {
                    return Err(ApiError::Forbidden(format!(
                        "{unit} lies outside your scope {}",
                        principal.scope
                    )));
                }
            }
            supervisor && in_region()?
        }
        OrderChange::DecideAppeal { .. } => {
            if principal.role != Role::Reviewer {
                false
            } else if principal.scope == order.unit
                || store.within(Dim::Region, &principal.scope, &order.unit)?
            {
                return Err(ApiError::Forbidden(
                    "an appeal is decided by a reviewer outside the appealing unit".into(),
                ));
            } else {
                in_region()?
            }
        }
        OrderChange::Callback { .. } => {
            matches!(principal.role, Role::CallbackAgent | Role::Admin) && in_region()?
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "role {:?} with scope {} may not {} this order",
            principal.role,
            principal.scope,
            change.name()
        )))
    }
}

/// Records a change by `actor` and returns the order after it.
pub(super) fn change(
    platform: &Platform,
    actor: &str,
    order_id: u64,
    change: OrderChange,
    decision: Option<PolicyDecision>,
) -> Result<Order, ApiError> {
    match platform
        .store
        .submit_one(Command::Loop(LoopCommand::ChangeOrder {
            actor: actor.to_string(),
            order_id,
            change,
            decision,
        }))? {
        Outcome::Recorded { .. } | Outcome::Duplicate { .. } => {}
        Outcome::Rejected(error) => return Err(ApiError::Unprocessable(error.reason())),
    }
    platform
        .store
        .order(order_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no work order {order_id}")))
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
        let order = load_visible(&platform, &principal, id)?;
        authorise(&platform, &principal, &order, &step)?;
        let (step, decision) = crate::app::orders::with_reopen_deadlines(&platform, &order, step);
        let order = change(&platform, &principal.username, id, step, decision)?;
        Ok(Json(view(&platform, &principal, order)))
    })
    .await
}

/// A complaint, suggestion or request as taken in (统一受理): from a citizen's form, or typed in
/// by staff taking a call.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntakeRequest {
    /// `complaint`, `suggestion` or `request`.
    pub kind: OrderKind,
    /// Region code where the matter arose.
    pub area_code: String,
    /// The department concerned, if known (统一社会信用代码).
    #[serde(default)]
    pub department: String,
    /// The service item concerned, if known.
    #[serde(default)]
    pub task_code: String,
    pub text: String,
    #[serde(default = "web")]
    pub channel: Channel,
    /// The submitter's mobile number, for the answer and the call-back; sealed at once.
    #[serde(default)]
    pub phone: Option<String>,
    /// Submitted under the person's name.
    #[serde(default)]
    pub real_name: bool,
}

fn web() -> Channel {
    Channel::Pc
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntakeReceipt {
    pub order_id: u64,
    /// The submitter's link to follow it (no personal data in it).
    pub tracking_url: String,
    pub unit: String,
    #[schema(value_type = Vec<Object>)]
    pub deadlines: Vec<hcp_core::workflow::Deadline>,
}

/// The one intake of complaints, suggestions and requests: classified and routed by the routing
/// policy, timed by the deadline policy. Open to citizens (no sign-in) and to staff.
#[utoipa::path(
    post, path = "/api/v1/intake", tag = "public", request_body = IntakeRequest,
    responses((status = 201, body = IntakeReceipt), (status = 422, body = super::ErrorBody))
)]
pub async fn intake(
    State(platform): State<Platform>,
    headers: axum::http::HeaderMap,
    Json(request): Json<IntakeRequest>,
) -> Result<(StatusCode, Json<IntakeReceipt>), ApiError> {
    let actor = match super::bearer(&headers) {
        Some(token) => platform
            .tokens
            .verify(token, platform.clock.now())
            .map(|principal| principal.username)
            .map_err(|_| ApiError::Unauthorized)?,
        None => "citizen".to_string(),
    };
    blocking(move || {
        let receipt = open_intake(&platform, &actor, request)?;
        Ok((StatusCode::CREATED, Json(receipt)))
    })
    .await
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(hcp_core::validate::Reason {
        code: "invalid_field".into(),
        message: format!("{field}: {}", message.into()),
    })
}

fn open_intake(
    platform: &Platform,
    actor: &str,
    request: IntakeRequest,
) -> Result<IntakeReceipt, ApiError> {
    let store = &platform.store;
    if request.kind == OrderKind::BadReview {
        return Err(invalid(
            "kind",
            "a bad review is a rating: it comes in through ingest and opens its own order",
        ));
    }
    let text = request.text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(invalid("text", "required, at most 2000 characters"));
    }
    match store.org_unit(&request.area_code)? {
        Some(unit) if unit.kind.is_region() => {}
        _ => {
            return Err(invalid(
                "area_code",
                format!("unknown region {}", request.area_code),
            ));
        }
    }
    if !request.department.is_empty() && store.org_unit(&request.department)?.is_none() {
        return Err(invalid(
            "department",
            format!("unknown department {}", request.department),
        ));
    }
    let phone = request
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|phone| !phone.is_empty());
    if let Some(phone) = phone
        && !(phone.len() == 11
            && phone.starts_with('1')
            && phone.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("phone", "expected an 11-digit mobile number"));
    }
    let county = county_of(&request.area_code);
    let masked_text = hcp_core::validate::mask_digit_runs(text);
    let now = platform.clock.now();
    let matter = hcp_core::hooks::Matter::of_intake(
        request.kind,
        &county,
        &request.area_code,
        request.real_name,
        request.channel,
        &request.task_code,
        &request.department,
    );
    let routing_input = hcp_core::hooks::RoutingInput::new(matter.clone(), &masked_text);
    let routing_input = serde_json::to_value(routing_input).unwrap_or_default();
    let deadline_input = hcp_core::hooks::DeadlineInput::new(matter, now);
    let deadline_input = serde_json::to_value(deadline_input).unwrap_or_default();
    let routing = platform
        .policies
        .decide(Hook::Routing, String::new(), &county, routing_input);
    let deadline = platform
        .policies
        .decide(Hook::Deadline, String::new(), &county, deadline_input);
    let route =
        serde_json::from_value::<RoutingOutput>(routing.output.clone()).unwrap_or(RoutingOutput {
            unit: if request.department.is_empty() {
                request.area_code.clone()
            } else {
                request.department.clone()
            },
            category: "other".into(),
            priority: Priority::Normal,
        });
    let regions = store.ancestors(Dim::Region, &request.area_code)?;
    let contact = phone.map(|phone| seal_phone(store.pii(), phone));
    let order = Order {
        county: county.clone(),
        area_code: request.area_code.clone(),
        regions,
        department: request.department.clone(),
        task_code: request.task_code.clone(),
        unit: route.unit,
        category: route.category,
        priority: route.priority,
        real_name: request.real_name,
        text: masked_text,
        reachable: contact.is_some(),
        contact,
        channel: request.channel,
        ..Order::dispatched(
            request.kind,
            now,
            now,
            hcp_core::workflow::Step {
                at: now,
                actor: actor.to_string(),
                action: "intake".into(),
                note: String::new(),
            },
        )
    }
    .timed_by(Some(&deadline));
    let outcome = store.submit_one(Command::Loop(LoopCommand::OpenOrder {
        actor: actor.to_string(),
        order: Box::new(order),
        decisions: vec![routing, deadline],
    }))?;
    let id = match outcome {
        Outcome::Recorded { seq } | Outcome::Duplicate { seq } => seq,
        Outcome::Rejected(error) => return Err(ApiError::Unprocessable(error.reason())),
    };
    let order = store
        .order(id)?
        .ok_or_else(|| ApiError::Internal(format!("order {id} vanished")))?;
    Ok(IntakeReceipt {
        order_id: id,
        tracking_url: crate::app::tokens::tracking_url(platform, id),
        unit: order.unit,
        deadlines: order.deadlines,
    })
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
}

/// The call-back workbench: one list of bad reviews and complaints to call back and unrated
/// services to invite, within the caller's scope.
#[utoipa::path(
    get, path = "/api/v1/calls", tag = "orders",
    responses((status = 200, body = CallList)),
    security(("session" = []))
)]
pub async fn calls(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<Json<CallList>, ApiError> {
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
        let services = platform
            .store
            .service_calls()?
            .into_iter()
            .filter(|call| {
                call.state == hcp_core::outreach::ServiceCallState::Open
                    && call.regions.contains(&principal.scope)
            })
            .collect();
        let real_name_waiting = orders.iter().filter(|call| call.real_name).count();
        let real_name_overdue = orders
            .iter()
            .filter(|call| call.real_name && call.overdue)
            .count();
        Ok(Json(CallList {
            orders,
            services,
            real_name_waiting,
            real_name_overdue,
        }))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CallRecord {
    pub outcome: CallOutcome,
    #[serde(default)]
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
        let order = load_visible(&platform, &principal, id)?;
        let step = OrderChange::Callback {
            outcome: record.outcome,
            note: record.note,
            deadlines: Vec::new(),
            awaiting: Vec::new(),
        };
        authorise(&platform, &principal, &order, &step)?;
        let (step, decision) = crate::app::orders::with_reopen_deadlines(&platform, &order, step);
        let order = change(&platform, &principal.username, id, step, decision)?;
        Ok(Json(view(&platform, &principal, order)))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ModerationRequest {
    /// Publish the comment on the disclosure pages (true) or keep it internal.
    pub publish: bool,
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
        super::read::load_visible(&platform, &principal, id)?;
        if request.note.trim().is_empty() {
            return Err(invalid("note", "required"));
        }
        match platform
            .store
            .submit_one(Command::Loop(LoopCommand::Moderate {
                actor: principal.username.clone(),
                rating_id: id,
                publish: request.publish,
                note: request.note,
            }))? {
            Outcome::Recorded { seq } | Outcome::Duplicate { seq } => Ok(Json(Recorded { seq })),
            Outcome::Rejected(error) => Err(ApiError::Unprocessable(error.reason())),
        }
    })
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SweepRequest {
    /// Sweep as of this instant (simulations, tests); default: the platform clock.
    pub as_of: Option<DateTime<Utc>>,
}

/// Runs one deadline sweep now, or as of a given instant.
#[utoipa::path(
    post, path = "/api/v1/admin/sweep", tag = "orders", request_body = SweepRequest,
    responses((status = 200, body = SweepReport)),
    security(("session" = []))
)]
pub async fn sweep(
    State(platform): State<Platform>,
    auth: Auth,
    body: Option<Json<SweepRequest>>,
) -> Result<Json<SweepReport>, ApiError> {
    crate::app::scope::ensure_role(
        &auth.0,
        &[Role::Admin, Role::Supervisor],
        "sweeps are run by administrators and supervisors",
    )?;
    let as_of = body
        .and_then(|Json(request)| request.as_of)
        .unwrap_or_else(|| platform.clock.now());
    blocking(move || Ok(Json(crate::workers::sweep::sweep(&platform, as_of)))).await
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

/// Moves the manual clock (only when `[clock] manual_start` is configured).
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
    auth.require(Permission::Administer)?;
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
