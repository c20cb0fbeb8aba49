//! Systemic problems (批处理) over HTTP: proposals of clusters among the open bad reviews and
//! complaints of a region, confirmation by a supervisor (the orders then follow the problem),
//! and completion (both in `app::problems`), which feeds every affected evaluator back in the
//! same transaction, so the orders stand on the call list for their call-back.

use std::collections::BTreeMap;

use super::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::auth::{Principal, Role};
use hcp_core::clusters::{self, BasisKind, ClusterOptions, Proposal};
use hcp_core::store::{Dim, Store};
use hcp_core::workflow::{OrderKind, OrderState, Problem, ProblemInput, ProblemState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::page::{MAX_SCAN, Page, PageQuery, verdict};
use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::problems::{self, ResolveReport};
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

/// Supervisors and administrators find and confirm problems.
fn supervisor(auth: &Auth) -> Result<&Principal, ApiError> {
    match auth.0.role {
        Role::Admin | Role::Supervisor => Ok(&auth.0),
        role => Err(ApiError::Forbidden(format!(
            "role {role:?} may not propose or confirm systemic problems"
        ))),
    }
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
        platform
            .scope()
            .ensure_unit(&principal, Dim::Region, &region)?;
        let options = ClusterOptions {
            min_orders,
            from: query.from,
            to: query.to,
        };
        let mut orders = Vec::new();
        for order in store.open_orders()? {
            if clusters::eligible(&order, &options)
                && problems::order_in_region(&platform, &principal, &order, &region)?
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
    blocking(move || {
        let problem = problems::confirm(&platform, &principal, input)?;
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
    let limit = paging.limit()?;
    let before = paging.position_number()?;
    blocking(move || {
        let mut failure = None;
        let problems = platform
            .store
            .problems_page(before, limit, MAX_SCAN, |problem| {
                filter.state.is_none_or(|state| problem.state == state)
                    && verdict(
                        platform.scope().sees(&principal, Target::Problem(problem)),
                        &mut failure,
                    )
            })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Json(Page::scanned(problems)))
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
        let problem = problems::visible(&platform, &principal, id)?;
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
    blocking(move || {
        let report = problems::resolve(&platform, &principal, id, request.action, request.message)?;
        Ok(Json(report))
    })
    .await
}
