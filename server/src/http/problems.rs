//! Systemic problems (批处理): proposals of clusters among the open bad reviews and complaints
//! of a region, confirmation by a supervisor (the orders then follow the problem), and
//! completion, which feeds every affected evaluator back in the same transaction, so the orders
//! stand on the call list for their call-back.

use std::collections::BTreeMap;

use super::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::auth::{Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::clusters::{self, BasisKind, ClusterOptions, Proposal};
use hcp_core::store::{Command, Dim, LoopCommand, Outcome, Store};
use hcp_core::validate::Reason;
use hcp_core::workflow::{Order, OrderKind, OrderState, Problem, ProblemInput, ProblemState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::scope::Target;

#[derive(OpenApi)]
#[openapi(paths(proposals, list, create, get_problem, resolve))]
pub struct Doc;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/api/v1/problems/proposals", get(proposals))
        .route("/api/v1/problems", get(list).post(create))
        .route("/api/v1/problems/{id}", get(get_problem))
        .route("/api/v1/problems/{id}/resolve", post(resolve))
}

/// Orders a confirmed problem may link at most.
const MAX_ORDERS: usize = 500;
const MAX_TITLE_CHARS: usize = 200;
const MAX_PLAN_CHARS: usize = 2000;
/// What the evaluators are told goes into an SMS with the tracking link.
const MAX_MESSAGE_CHARS: usize = 300;

/// Supervisors and administrators find and confirm problems.
fn supervisor(auth: &Auth) -> Result<&Principal, ApiError> {
    match auth.0.role {
        Role::Admin | Role::Supervisor => Ok(&auth.0),
        role => Err(ApiError::Forbidden(format!(
            "role {role:?} may not propose or confirm systemic problems"
        ))),
    }
}

/// Whether a supervisor would see an order with their scope narrowed to `region` (the orders'
/// own visibility rule, so proposals and confirmations agree with the order lists). Blocking.
fn order_in_region(
    platform: &Platform,
    principal: &Principal,
    order: &Order,
    region: &str,
) -> Result<bool, ApiError> {
    let narrowed = Principal {
        scope: region.to_string(),
        ..principal.clone()
    };
    platform.scope().sees(&narrowed, Target::Order(order))
}

fn load_visible(platform: &Platform, principal: &Principal, id: u64) -> Result<Problem, ApiError> {
    let problem = platform.store.problem(id)?;
    platform
        .scope()
        .found(principal, problem, format!("problem {id}"))
}

/// The names of org units, by id; unknown ids are left out. Blocking.
fn unit_names<'a>(
    store: &Store,
    ids: impl Iterator<Item = &'a String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut names = BTreeMap::new();
    for id in ids {
        if !names.contains_key(id)
            && let Some(unit) = store.org_unit(id)?
        {
            names.insert(id.clone(), unit.name);
        }
    }
    Ok(names)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// Region (or other org unit) whose orders to cluster; default the caller's scope.
    pub region: Option<String>,
    /// First day (China time) an order was received on.
    pub from: Option<NaiveDate>,
    /// Last day (China time) an order was received on.
    pub to: Option<NaiveDate>,
    /// Orders a proposal needs at least, 2..=100 (default 3).
    #[param(minimum = 2, maximum = 100)]
    pub min_orders: Option<usize>,
}

/// A proposal with the names of what it mentions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProposalView {
    #[serde(flatten)]
    pub proposal: Proposal,
    /// The service item's name, for an `item:` basis.
    pub item_name: Option<String>,
    /// Names of the windows, departments and units it mentions, by id.
    pub names: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProposalList {
    pub region: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub min_orders: usize,
    /// Open orders of the region that could join a problem.
    pub orders_considered: usize,
    pub proposals: Vec<ProposalView>,
}

/// Proposals of systemic problems: open bad reviews and complaints of a region that share a
/// service item, an indicator or a category and recur across windows or weeks, best first.
#[utoipa::path(
    get, path = "/api/v1/problems/proposals", tag = "problems",
    params(ProposalQuery),
    responses(
        (status = 200, body = ProposalList),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn proposals(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<ProposalQuery>,
) -> Result<Json<ProposalList>, ApiError> {
    let principal = supervisor(&auth)?.clone();
    let min_orders = query.min_orders.unwrap_or(clusters::DEFAULT_MIN_ORDERS);
    if !(2..=100).contains(&min_orders) {
        return Err(ApiError::BadRequest(
            "min_orders must be between 2 and 100".into(),
        ));
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(ApiError::invalid_range("from must not be after to"));
    }
    blocking(move || {
        let store = &platform.store;
        let region = query.region.unwrap_or_else(|| principal.scope.clone());
        if !store.within(Dim::Region, &region, &principal.scope)? {
            return Err(ApiError::Forbidden(format!(
                "{region} lies outside your scope {}",
                principal.scope
            )));
        }
        let options = ClusterOptions {
            min_orders,
            from: query.from,
            to: query.to,
        };
        let mut orders = Vec::new();
        for order in store.open_orders()? {
            if clusters::eligible(&order, &options)
                && order_in_region(&platform, &principal, &order, &region)?
            {
                orders.push(order);
            }
        }
        let mut views = Vec::new();
        for proposal in clusters::propose(&orders, &options) {
            let names = unit_names(
                store,
                proposal
                    .windows
                    .iter()
                    .chain(&proposal.departments)
                    .chain(&proposal.units),
            )?;
            let item_name = match proposal.kind {
                BasisKind::Item => store.item(&proposal.value)?.map(|item| item.name),
                BasisKind::Indicator | BasisKind::Category => None,
            };
            views.push(ProposalView {
                proposal,
                item_name,
                names,
            });
        }
        Ok(Json(ProposalList {
            region,
            from: query.from,
            to: query.to,
            min_orders,
            orders_considered: orders.len(),
            proposals: views,
        }))
    })
    .await
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let chars = value.trim().chars().count();
    if chars == 0 || chars > max {
        return Err(ApiError::BadRequest(format!(
            "{field} must have 1 to {max} characters"
        )));
    }
    Ok(())
}

fn unprocessable(code: &str, message: String) -> ApiError {
    ApiError::Unprocessable(Reason {
        code: code.into(),
        message,
    })
}

/// Confirm a systemic problem: one owner unit, one plan, one due date. Every listed order (a
/// bad review or complaint not yet rectified) follows it from now on, in 整改中.
#[utoipa::path(
    post, path = "/api/v1/problems", tag = "problems",
    request_body = ProblemInput,
    responses(
        (status = 201, body = Problem),
        (status = 400, body = super::ErrorBody),
        (status = 403, description = "region or an order outside the caller's scope", body = super::ErrorBody),
        (status = 422, description = "an order cannot follow a problem, an unknown owner, a past due date", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn create(
    State(platform): State<Platform>,
    auth: Auth,
    Json(input): Json<ProblemInput>,
) -> Result<(StatusCode, Json<Problem>), ApiError> {
    let principal = supervisor(&auth)?.clone();
    check_length("title", &input.title, MAX_TITLE_CHARS)?;
    check_length("plan", &input.plan, MAX_PLAN_CHARS)?;
    if input.orders.is_empty() || input.orders.len() > MAX_ORDERS {
        return Err(ApiError::BadRequest(format!(
            "a problem links 1 to {MAX_ORDERS} work orders"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(repeated) = input.orders.iter().find(|id| !seen.insert(**id)) {
        return Err(unprocessable(
            "order_repeated",
            format!("order {repeated} is listed twice"),
        ));
    }
    blocking(move || {
        let store = &platform.store;
        if !store.within(Dim::Region, &input.region, &principal.scope)? {
            return Err(ApiError::Forbidden(format!(
                "{} lies outside your scope {}",
                input.region, principal.scope
            )));
        }
        if store.org_unit(&input.owner)?.is_none() {
            return Err(unprocessable(
                "unknown_owner",
                format!("no org unit {}", input.owner),
            ));
        }
        if input.due < local_date(platform.clock.now()) {
            return Err(unprocessable(
                "due_in_past",
                format!("the due date {} has passed", input.due),
            ));
        }
        // An order the caller cannot see is refused like one outside the region; unknown
        // orders are left to the store, which names them.
        for id in &input.orders {
            if let Some(order) = store.order(*id)?
                && !order_in_region(&platform, &principal, &order, &input.region)?
            {
                return Err(ApiError::Forbidden(format!(
                    "order {id} lies outside region {}",
                    input.region
                )));
            }
        }
        let outcome = store.submit_one(Command::Loop(LoopCommand::OpenProblem {
            actor: principal.username.clone(),
            problem: input,
        }))?;
        let seq = match outcome {
            Outcome::Recorded { seq } => seq,
            Outcome::Rejected(error) => return Err(ApiError::Unprocessable(error.reason())),
            Outcome::Duplicate { seq } => {
                return Err(ApiError::Internal(format!(
                    "a problem is never a duplicate, yet {seq} was answered"
                )));
            }
        };
        let problem = store
            .problem(seq)?
            .ok_or_else(|| ApiError::Internal(format!("problem {seq} recorded but not found")))?;
        Ok((StatusCode::CREATED, Json(problem)))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProblemFilter {
    /// `open` or `done`; default both.
    #[param(value_type = Option<ProblemState>)]
    pub state: Option<ProblemState>,
}

/// Problems whose region or owner lies within the caller's scope, newest first.
#[utoipa::path(
    get, path = "/api/v1/problems", tag = "problems",
    params(ProblemFilter, PageQuery),
    responses((status = 200, body = Page<Problem>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn list(
    State(platform): State<Platform>,
    auth: Auth,
    Query(filter): Query<ProblemFilter>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<Problem>>, ApiError> {
    let principal = auth.0.clone();
    if matches!(principal.role, Role::WindowStaff | Role::RuleEditor) {
        return Err(ApiError::Forbidden(format!(
            "role {:?} may not read systemic problems",
            principal.role
        )));
    }
    blocking(move || {
        let mut problems = Vec::new();
        for problem in platform.store.problems()?.into_iter().rev() {
            if filter.state.is_none_or(|state| problem.state == state)
                && platform
                    .scope()
                    .sees(&principal, Target::Problem(&problem))?
            {
                problems.push(problem);
            }
        }
        Ok(Json(Page::of(problems, &paging)?))
    })
    .await
}

/// One order of a problem as it stands now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkedOrder {
    pub id: u64,
    pub kind: OrderKind,
    /// The 差评 behind a bad review.
    pub rating_id: Option<u64>,
    pub state: OrderState,
    /// Still follows this problem (an upheld appeal takes an order off its path).
    pub follows: bool,
    pub window: Option<String>,
    pub department: String,
    pub unit: String,
    pub real_name: bool,
    /// A phone number is known: the evaluator can be fed back by SMS and called back.
    pub reachable: bool,
    pub received_at: DateTime<Utc>,
}

/// How the orders of a problem stand.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ProblemCounts {
    pub orders: usize,
    /// 整改中, following the problem.
    pub rectifying: usize,
    /// 已反馈: waiting for the evaluator's rating and the call-back.
    pub feedback_given: usize,
    pub called_back: usize,
    pub closed: usize,
    /// Real-name orders (100% to be rectified on time).
    pub real_name: usize,
    pub reachable: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProblemDetail {
    pub problem: Problem,
    /// Whether staff may be held responsible for the problem's cause: never for policy, system
    /// or environment (their assessment is not marked down for it).
    pub blames_staff: bool,
    pub counts: ProblemCounts,
    pub orders: Vec<LinkedOrder>,
}

/// A problem with the current state of each of its orders.
#[utoipa::path(
    get, path = "/api/v1/problems/{id}", tag = "problems",
    params(("id" = u64, Path, description = "Problem id")),
    responses((status = 200, body = ProblemDetail), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn get_problem(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
) -> Result<Json<ProblemDetail>, ApiError> {
    let principal = auth.0.clone();
    blocking(move || {
        let problem = load_visible(&platform, &principal, id)?;
        let mut counts = ProblemCounts::default();
        let mut orders = Vec::new();
        for order_id in &problem.orders {
            let Some(order) = platform.store.order(*order_id)? else {
                continue;
            };
            let follows = order.problem == Some(problem.id);
            counts.orders += 1;
            counts.real_name += usize::from(order.real_name);
            counts.reachable += usize::from(order.reachable);
            match order.state {
                OrderState::Rectifying if follows => counts.rectifying += 1,
                OrderState::FeedbackGiven => counts.feedback_given += 1,
                OrderState::CalledBack => counts.called_back += 1,
                OrderState::Closed => counts.closed += 1,
                _ => {}
            }
            orders.push(LinkedOrder {
                id: order.id,
                kind: order.kind,
                rating_id: order.rating_id,
                state: order.state,
                follows,
                window: order.window,
                department: order.department,
                unit: order.unit,
                real_name: order.real_name,
                reachable: order.reachable,
                received_at: order.received_at,
            });
        }
        Ok(Json(ProblemDetail {
            blames_staff: problem.cause.blames_staff(),
            problem,
            counts,
            orders,
        }))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// What was done (整改措施).
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub action: String,
    /// What every affected evaluator is told, in their SMS with the tracking link.
    #[schema(min_length = 1, max_length = 300, pattern = "\\S")]
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResolveReport {
    pub problem: Problem,
    /// Orders now 已反馈, on the call list for their call-back.
    pub orders_fed_back: usize,
    /// Feedback SMS queued, one per fed-back order with a phone number.
    pub messages_queued: usize,
    pub message_ids: Vec<u64>,
    /// Fed-back orders without a phone number: the call-back has no number to call either.
    pub without_phone: Vec<u64>,
}

/// The problem's plan is done: every order following it is rectified and fed back (已反馈), and
/// each of their evaluators with a phone number gets the message with their tracking link,
/// recorded in the same transaction. Supervisors and administrators, or a department handler
/// whose scope holds the owner unit.
#[utoipa::path(
    post, path = "/api/v1/problems/{id}/resolve", tag = "problems",
    params(("id" = u64, Path, description = "Problem id")),
    request_body = ResolveRequest,
    responses(
        (status = 200, body = ResolveReport),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 422, description = "already done", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn resolve(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Json(request): Json<ResolveRequest>,
) -> Result<Json<ResolveReport>, ApiError> {
    let principal = auth.0.clone();
    if !matches!(
        principal.role,
        Role::Admin | Role::Supervisor | Role::DepartmentHandler
    ) {
        return Err(ApiError::Forbidden(format!(
            "role {:?} may not resolve systemic problems",
            principal.role
        )));
    }
    check_length("action", &request.action, MAX_PLAN_CHARS)?;
    check_length("message", &request.message, MAX_MESSAGE_CHARS)?;
    blocking(move || {
        let store = &platform.store;
        let problem = load_visible(&platform, &principal, id)?;
        if principal.role == Role::DepartmentHandler
            && !store.within(Dim::Department, &problem.owner, &principal.scope)?
        {
            return Err(ApiError::Forbidden(format!(
                "the owner {} lies outside your scope {}",
                problem.owner, principal.scope
            )));
        }
        let crate::app::outreach::ProblemFeedback {
            following,
            without_phone,
            notices,
        } = crate::app::outreach::problem_feedback(&platform, &problem, &request.message)?;
        // The store queues each message in the resolution's transaction, and only for an order
        // the resolution actually fed back; a refused resolution queues nothing.
        let outcome = store.submit_one(Command::Loop(LoopCommand::ResolveProblem {
            actor: principal.username.clone(),
            problem_id: id,
            action: request.action.clone(),
            message: request.message.clone(),
            notices,
        }))?;
        let resolved = match outcome {
            Outcome::Recorded { seq } => seq,
            Outcome::Rejected(error) => return Err(ApiError::Unprocessable(error.reason())),
            Outcome::Duplicate { seq } => {
                return Err(ApiError::Internal(format!(
                    "resolution of problem {id} answered as a repeat of {seq}"
                )));
            }
        };
        // The messages follow the resolution in the log, one entry each.
        let mut message_ids = Vec::new();
        let mut next = resolved + 1;
        while let Some(entry) = store.log_entry(next)? {
            if !matches!(entry.event, hcp_core::event::Event::MessageQueued { .. }) {
                break;
            }
            message_ids.push(next);
            next += 1;
        }
        let mut orders_fed_back = 0;
        for order_id in &following {
            if store
                .order(*order_id)?
                .is_some_and(|order| order.state == OrderState::FeedbackGiven)
            {
                orders_fed_back += 1;
            }
        }
        let problem = store
            .problem(id)?
            .ok_or_else(|| ApiError::Internal(format!("problem {id} vanished")))?;
        Ok(Json(ResolveReport {
            problem,
            orders_fed_back,
            messages_queued: message_ids.len(),
            message_ids,
            without_phone,
        }))
    })
    .await
}
