//! Systemic problems (批处理): confirming one (its orders then follow it) and completing it,
//! which feeds every affected evaluator back in the same transaction, so the orders stand on the
//! call list for their call-back.

use hcp_core::auth::{Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::store::{Command, Dim, LoopCommand, Outcome};
use hcp_core::validate::Reason;
use hcp_core::workflow::{Order, OrderState, Problem, ProblemInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::outreach::{ProblemFeedback, problem_feedback};
use crate::app::scope::Target;
use crate::app::{AppError, Platform};

/// Orders a confirmed problem may link at most.
const MAX_ORDERS: usize = 500;
const MAX_TITLE_CHARS: usize = 200;
const MAX_PLAN_CHARS: usize = 2000;
/// What the evaluators are told goes into an SMS with the tracking link.
const MAX_MESSAGE_CHARS: usize = 300;

/// Whether a supervisor would see an order with their scope narrowed to `region` (the orders'
/// own visibility rule, so proposals and confirmations agree with the order lists). Blocking.
pub fn order_in_region(
    platform: &Platform,
    principal: &Principal,
    order: &Order,
    region: &str,
) -> Result<bool, AppError> {
    let narrowed = Principal {
        scope: region.to_string(),
        ..principal.clone()
    };
    platform.scope().sees(&narrowed, Target::Order(order))
}

/// A problem the caller asked for by id, if within their scope. Blocking.
pub fn visible(platform: &Platform, principal: &Principal, id: u64) -> Result<Problem, AppError> {
    let problem = platform.store.read_fresh(|store| store.problem(id))?;
    platform
        .scope()
        .found(principal, problem, format!("problem {id}"))
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    let chars = value.trim().chars().count();
    if chars == 0 || chars > max {
        return Err(AppError::BadRequest(format!(
            "{field} must have 1 to {max} characters"
        )));
    }
    Ok(())
}

fn unprocessable(code: &str, message: String) -> AppError {
    AppError::Unprocessable(Reason {
        code: code.into(),
        message,
    })
}

/// A supervisor confirms a systemic problem: one owner unit, one plan, one due date; every
/// listed order (a bad review or complaint not yet rectified, within the region and the
/// caller's scope) follows it from now on, in 整改中. Blocking.
pub fn confirm(
    platform: &Platform,
    principal: &Principal,
    input: ProblemInput,
) -> Result<Problem, AppError> {
    check_length("title", &input.title, MAX_TITLE_CHARS)?;
    check_length("plan", &input.plan, MAX_PLAN_CHARS)?;
    if input.orders.is_empty() || input.orders.len() > MAX_ORDERS {
        return Err(AppError::BadRequest(format!(
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
    let store = &platform.store;
    let scope = platform.scope();
    scope.ensure_unit(principal, Dim::Region, &input.region)?;
    if store.org_unit(&input.owner)?.is_none() {
        return Err(unprocessable(
            "unknown_owner",
            format!("no org unit {}", input.owner),
        ));
    }
    // The owner answers for the problem and sees it: a unit outside the caller's scope is not
    // theirs to give it to.
    scope.ensure_unit(principal, Dim::Region, &input.owner)?;
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
            && !order_in_region(platform, principal, &order, &input.region)?
        {
            return Err(AppError::Forbidden(format!(
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
        Outcome::Rejected(error) => return Err(AppError::Unprocessable(error.reason())),
        Outcome::Duplicate { seq } => {
            return Err(AppError::Internal(format!(
                "a problem is never a duplicate, yet {seq} was answered"
            )));
        }
    };
    let problem = store
        .problem(seq)?
        .ok_or_else(|| AppError::Internal(format!("problem {seq} recorded but not found")))?;
    Ok(problem)
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

/// The problem's plan is done (`action`): every order following it is rectified and fed back
/// (已反馈), and each of their evaluators with a phone number gets `message` with their tracking
/// link, recorded in the same transaction. A department handler only for an owner unit within
/// their scope. Blocking.
pub fn resolve(
    platform: &Platform,
    principal: &Principal,
    id: u64,
    action: String,
    message: String,
) -> Result<ResolveReport, AppError> {
    check_length("action", &action, MAX_PLAN_CHARS)?;
    check_length("message", &message, MAX_MESSAGE_CHARS)?;
    let store = &platform.store;
    let problem = visible(platform, principal, id)?;
    if principal.role == Role::DepartmentHandler {
        platform
            .scope()
            .ensure_unit(principal, Dim::Department, &problem.owner)?;
    }
    let ProblemFeedback {
        following,
        without_phone,
        notices,
    } = problem_feedback(platform, &problem, &message)?;
    // The store queues each message in the resolution's transaction, and only for an order
    // the resolution actually fed back; a refused resolution queues nothing.
    let outcome = store.submit_one(Command::Loop(LoopCommand::ResolveProblem {
        actor: principal.username.clone(),
        problem_id: id,
        action,
        message,
        notices,
    }))?;
    let resolved = match outcome {
        Outcome::Recorded { seq } => seq,
        Outcome::Rejected(error) => return Err(AppError::Unprocessable(error.reason())),
        Outcome::Duplicate { seq } => {
            return Err(AppError::Internal(format!(
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
        .ok_or_else(|| AppError::Internal(format!("problem {id} vanished")))?;
    Ok(ResolveReport {
        problem,
        orders_fed_back,
        messages_queued: message_ids.len(),
        message_ids,
        without_phone,
    })
}
