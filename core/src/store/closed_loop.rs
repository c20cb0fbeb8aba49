//! The store side of the closed loop: checking order, problem, call and message commands
//! against what is stored, opening orders for new bad reviews, and projecting the events.
//! The state machine itself is [`crate::workflow`]; this module only loads, applies and saves.

use chrono::{DateTime, Utc};
use sled::transaction::TransactionalTree;

use super::apply::{Decision, Reader, Reject, TxResult, abort, put_json, put_packed, units};
use super::keys::{self, bucket};
use super::staged::Tx;
use super::{LoopCommand, tree};
use crate::event::{Event, LogEntry, PolicyDecision};
use crate::hooks::DeadlineOutput;
use crate::model::Rating;
use crate::outreach::{
    Invalidation, Message, MessageState, RatingMarks, ScheduledAction, ScheduledTask, ServiceCall,
    ServiceCallState,
};
use crate::pii::{PiiKey, PiiKind, tracking_hash};
use crate::validate::DomainError;
use crate::workflow::{
    CallAttempt, EvaluationVia, Order, OrderChange, OrderKind, OrderSeed, OrderState, Problem,
    ProblemState, RectificationLevel, WorkflowError,
};

fn refused(error: WorkflowError) -> Reject {
    Reject::Domain(DomainError::Workflow {
        code: match &error {
            WorkflowError::WrongState { .. } => "wrong_state",
            WorkflowError::Refused(_) => "refused",
            WorkflowError::UnknownOrder(_) => "unknown_order",
            WorkflowError::UnknownProblem(_) => "unknown_problem",
        },
        message: error.to_string(),
    })
}

impl Reader<'_> {
    pub fn order(&self, id: u64) -> TxResult<Option<Order>> {
        self.json(tree::ORDERS, &id.to_be_bytes())
    }

    fn existing_order(&self, id: u64) -> Result<Order, Reject> {
        self.order(id)
            .map_err(Reject::Store)?
            .ok_or(refused(WorkflowError::UnknownOrder(id)))
    }

    pub fn problem(&self, id: u64) -> TxResult<Option<Problem>> {
        self.json(tree::PROBLEMS, &id.to_be_bytes())
    }

    /// A rating, read back from its log entry.
    pub fn rating(&self, id: u64) -> TxResult<Option<Rating>> {
        let Some(entry) = self.json::<LogEntry>(tree::LOG, &id.to_be_bytes())? else {
            return Ok(None);
        };
        Ok(match entry.event {
            Event::RatingRecorded { rating } => Some(rating),
            _ => None,
        })
    }
}

/// Checks a closed-loop command and turns it into its event.
pub(super) fn decide(
    reader: &Reader<'_>,
    pii: &PiiKey,
    command: LoopCommand,
    next_seq: u64,
    now: DateTime<Utc>,
) -> Result<Decision, Reject> {
    let append = |actor: String, event: Event| {
        Ok(Decision::Append {
            actor,
            origin: None,
            event: Box::new(event),
        })
    };
    match command {
        LoopCommand::OpenOrder {
            actor,
            mut order,
            mut decisions,
        } => {
            if order.kind == OrderKind::BadReview {
                return Err(refused(WorkflowError::Refused(
                    "a bad review opens its order when the rating is recorded".into(),
                )));
            }
            if order.unit.trim().is_empty() {
                return Err(refused(WorkflowError::Refused(
                    "an order needs a responsible unit".into(),
                )));
            }
            order.id = next_seq;
            order.opened_at = now;
            order.received_at = now;
            order.state = OrderState::Dispatched;
            order.tracking_hash = tracking_hash(&pii.tracking_token(next_seq));
            for decision in &mut decisions {
                decision.subject = format!("order:{next_seq}");
            }
            append(actor, Event::OrderOpened { order, decisions })
        }
        LoopCommand::ChangeOrder {
            actor,
            order_id,
            change,
            decision,
        } => {
            let mut order = reader.existing_order(order_id)?;
            order.apply(&change, &actor, now).map_err(refused)?;
            append(
                actor,
                Event::OrderChanged {
                    order_id,
                    change,
                    decision,
                },
            )
        }
        LoopCommand::OpenProblem { actor, problem } => {
            if problem.orders.is_empty() {
                return Err(refused(WorkflowError::Refused(
                    "a problem links at least one work order".into(),
                )));
            }
            for id in &problem.orders {
                let mut order = reader.existing_order(*id)?;
                order
                    .apply(
                        &OrderChange::LinkProblem {
                            problem_id: next_seq,
                        },
                        &actor,
                        now,
                    )
                    .map_err(refused)?;
            }
            for (field, value) in [
                ("title", &problem.title),
                ("owner", &problem.owner),
                ("plan", &problem.plan),
            ] {
                if value.trim().is_empty() {
                    return Err(refused(WorkflowError::Refused(format!(
                        "{field} is required"
                    ))));
                }
            }
            let record = Problem {
                id: next_seq,
                title: problem.title,
                cause: problem.cause,
                owner: problem.owner,
                plan: problem.plan,
                due: problem.due,
                region: problem.region,
                basis: problem.basis,
                orders: problem.orders,
                state: ProblemState::Open,
                opened_by: actor.clone(),
                opened_at: now,
                done_at: None,
                done_by: None,
                action: None,
                message: None,
            };
            append(actor, Event::ProblemOpened { problem: record })
        }
        LoopCommand::ResolveProblem {
            actor,
            problem_id,
            action,
            message,
            notices,
        } => {
            let problem = reader
                .problem(problem_id)
                .map_err(Reject::Store)?
                .ok_or(refused(WorkflowError::UnknownProblem(problem_id)))?;
            if problem.state != ProblemState::Open {
                return Err(refused(WorkflowError::Refused(format!(
                    "problem {problem_id} is already done"
                ))));
            }
            if action.trim().is_empty() || message.trim().is_empty() {
                return Err(refused(WorkflowError::Refused(
                    "the action taken and the message to the evaluators are required".into(),
                )));
            }
            append(
                actor,
                Event::ProblemResolved {
                    problem_id,
                    action,
                    message,
                    notices,
                },
            )
        }
        LoopCommand::TaskDone { task, outcome } => {
            let key = keys::schedule(&task);
            if reader.trees[tree::SCHEDULE]
                .get(&key)
                .map_err(|error| Reject::Store(error.into()))?
                .is_none()
            {
                return Err(Reject::Domain(DomainError::Unknown {
                    kind: "scheduled task",
                    id: format!(
                        "{} {}/{}",
                        task.action.name(),
                        task.project_no,
                        task.service_number
                    ),
                }));
            }
            append("system".into(), Event::TaskDone { task, outcome })
        }
        LoopCommand::ListServiceCall { call } => {
            let key = keys::rating_slot(&call.project_no, call.service_number, 0);
            if reader.trees[tree::CALLS]
                .get(&key)
                .map_err(|error| Reject::Store(error.into()))?
                .is_some()
            {
                return Err(refused(WorkflowError::Refused(format!(
                    "{}/{} is already on the call list",
                    call.project_no, call.service_number
                ))));
            }
            append("system".into(), Event::ServiceCallListed { call })
        }
        LoopCommand::ServiceCallAttempt {
            actor,
            project_no,
            service_number,
            outcome,
            note,
            state,
        } => {
            let key = keys::rating_slot(&project_no, service_number, 0);
            let call: ServiceCall = reader
                .json(tree::CALLS, &key)
                .map_err(Reject::Store)?
                .ok_or(Reject::Domain(DomainError::Unknown {
                    kind: "call",
                    id: format!("{project_no}/{service_number}"),
                }))?;
            if call.state != ServiceCallState::Open {
                return Err(refused(WorkflowError::Refused(format!(
                    "the call of {project_no}/{service_number} is finished ({:?})",
                    call.state
                ))));
            }
            append(
                actor.clone(),
                Event::ServiceCallAttempted {
                    project_no,
                    service_number,
                    attempt: CallAttempt {
                        at: now,
                        agent: actor,
                        outcome,
                        note,
                    },
                    state,
                },
            )
        }
        LoopCommand::QueueMessage { actor, message } => {
            if message.text.trim().is_empty() {
                return Err(refused(WorkflowError::Refused(
                    "a message needs a text".into(),
                )));
            }
            let masked = message.to.masked.clone();
            append(
                actor,
                Event::MessageQueued {
                    message: Message {
                        id: next_seq,
                        channel: message.channel,
                        purpose: message.purpose,
                        subject: message.subject,
                        to: message.to,
                        to_masked: masked,
                        text: message.text,
                        queued_at: now,
                        attempts: Vec::new(),
                        state: MessageState::Queued,
                        next_at: Some(now),
                    },
                },
            )
        }
        LoopCommand::MessageAttempt {
            message_id,
            attempt,
            next_at,
        } => {
            let message: Message = reader
                .json(tree::MESSAGES, &keys::message(message_id))
                .map_err(Reject::Store)?
                .ok_or(Reject::Domain(DomainError::Unknown {
                    kind: "message",
                    id: message_id.to_string(),
                }))?;
            if message.state != MessageState::Queued {
                return Err(refused(WorkflowError::Refused(format!(
                    "message {message_id} is {:?}",
                    message.state
                ))));
            }
            append(
                "system".into(),
                Event::MessageAttempted {
                    message_id,
                    attempt,
                    next_at,
                },
            )
        }
        LoopCommand::FreezeAssessment { actor, run } => {
            if run.units.is_empty() {
                return Err(refused(WorkflowError::Refused(
                    "an assessment without units is not frozen".into(),
                )));
            }
            append(actor, Event::AssessmentFrozen { run })
        }
        LoopCommand::Moderate {
            actor,
            rating_id,
            publish,
            note,
        } => {
            let rating = reader
                .rating(rating_id)
                .map_err(Reject::Store)?
                .ok_or(Reject::Domain(DomainError::Unknown {
                    kind: "rating",
                    id: rating_id.to_string(),
                }))?;
            if rating.text.is_none() {
                return Err(refused(WorkflowError::Refused(format!(
                    "rating {rating_id} has no comment to moderate"
                ))));
            }
            append(
                actor.clone(),
                Event::CommentModerated {
                    rating_id,
                    moderation: crate::outreach::Moderation {
                        publish,
                        note,
                        reviewer: actor,
                        at: now,
                    },
                },
            )
        }
    }
}

/// Events that follow a recorded rating in the same transaction: a first 差评 opens its order;
/// a 追评 rates the rectification of the order it follows.
pub(super) fn follow_ups(
    reader: &Reader<'_>,
    pii: &PiiKey,
    entry: &LogEntry,
    decisions: &[PolicyDecision],
    next_seq: u64,
) -> TxResult<Vec<Event>> {
    if let Event::ProblemResolved {
        problem_id,
        notices,
        ..
    } = &entry.event
    {
        return problem_notices(reader, entry, *problem_id, notices, next_seq);
    }
    if let Event::OrderChanged {
        change: OrderChange::CallbackBySms { sms },
        ..
    } = &entry.event
    {
        return Ok(vec![queued(sms, next_seq, entry.at)]);
    }
    let Event::RatingRecorded { rating } = &entry.event else {
        return Ok(Vec::new());
    };
    if rating.assess_number == 1 && rating.is_bad() {
        let order = order_for_rating(rating, decisions, pii, next_seq, entry.at);
        return Ok(vec![Event::OrderOpened {
            order: Box::new(order),
            decisions: Vec::new(),
        }]);
    }
    if rating.assess_number == 2 {
        let Some(first) = reader.trees[tree::RATING_SLOTS].get(keys::rating_slot(
            &rating.project_no,
            rating.service_number,
            1,
        ))?
        else {
            return Ok(Vec::new());
        };
        let Some(order_id) = reader.trees[tree::ORDER_INDEX]
            .get(keys::order_by_rating(keys::u64_value(&first)))?
            .map(|id| keys::u64_value(&id))
        else {
            return Ok(Vec::new());
        };
        let Some(mut order) = reader.order(order_id)? else {
            return Ok(Vec::new());
        };
        let timing = decisions
            .iter()
            .find(|decision| decision.hook == "deadline")
            .and_then(|decision| {
                serde_json::from_value::<DeadlineOutput>(decision.output.clone()).ok()
            });
        let (deadlines, awaiting) = timing
            .map(|output| (output.phases, output.awaiting))
            .unwrap_or_default();
        let change = OrderChange::Evaluate {
            level: RectificationLevel::from_level(rating.level),
            via: EvaluationVia::FollowUp,
            deadlines,
            awaiting,
        };
        // A 追评 outside the feedback stage is kept as a rating; the order does not move.
        if order.apply(&change, "evaluator", entry.at).is_ok() {
            return Ok(vec![Event::OrderChanged {
                order_id,
                change,
                decision: None,
            }]);
        }
    }
    Ok(Vec::new())
}

/// The feedback messages of a resolved problem, for the orders it fed back (projected just
/// before): an order that left the problem's path meanwhile gets none.
fn problem_notices(
    reader: &Reader<'_>,
    entry: &LogEntry,
    problem_id: u64,
    notices: &[crate::outreach::MessageInput],
    next_seq: u64,
) -> TxResult<Vec<Event>> {
    let mut events = Vec::new();
    for notice in notices {
        let Some(order_id) = notice
            .subject
            .strip_prefix("order:")
            .and_then(|id| id.parse::<u64>().ok())
        else {
            continue;
        };
        let fed_back = reader.order(order_id)?.is_some_and(|order| {
            order.problem == Some(problem_id)
                && order.state == OrderState::FeedbackGiven
                && order
                    .history
                    .last()
                    .is_some_and(|step| step.action == "problem_done" && step.at == entry.at)
        });
        if !fed_back || notice.text.trim().is_empty() {
            continue;
        }
        events.push(queued(notice, next_seq + events.len() as u64, entry.at));
    }
    Ok(events)
}

/// A message queued by a follow-up, due at once.
fn queued(notice: &crate::outreach::MessageInput, id: u64, at: DateTime<Utc>) -> Event {
    Event::MessageQueued {
        message: Message {
            id,
            channel: notice.channel,
            purpose: notice.purpose,
            subject: notice.subject.clone(),
            to: notice.to.clone(),
            to_masked: notice.to.masked.clone(),
            text: notice.text.clone(),
            queued_at: at,
            attempts: Vec::new(),
            state: MessageState::Queued,
            next_at: Some(at),
        },
    }
}

/// The order of a new 差评, from the rating and the deadline and routing decisions about it.
fn order_for_rating(
    rating: &Rating,
    decisions: &[PolicyDecision],
    pii: &PiiKey,
    id: u64,
    at: DateTime<Utc>,
) -> Order {
    let decision = |hook: &str| decisions.iter().find(|decision| decision.hook == hook);
    let seed = OrderSeed {
        kind: OrderKind::BadReview,
        rating_id: Some(rating.id),
        county: county_of(&rating.area_code),
        area_code: rating.area_code.clone(),
        regions: rating.attribution.regions.clone(),
        department: rating.attribution.department.clone(),
        window: rating.attribution.window.clone(),
        staff: rating.attribution.staff.clone(),
        hall: rating.attribution.hall.clone(),
        task_code: rating.attribution.task_code.clone(),
        real_name: rating.evaluator.real_name,
        level: Some(rating.level),
        indicators: rating.indicators.clone(),
        text: rating.text.clone(),
        reachable: rating.evaluator.phone.is_some(),
        contact: None,
        channel: rating.channel,
        received_at: rating.received_at,
    };
    let dispatch = crate::workflow::Step {
        at,
        actor: "system".into(),
        action: "dispatch".into(),
        note: String::new(),
    };
    let mut order = Order::open(seed, decision("routing"), decision("deadline"), dispatch);
    order.id = id;
    order.tracking_hash = tracking_hash(&pii.tracking_token(id));
    order
}

/// The county (6 digits) of a region code.
pub fn county_of(area_code: &str) -> String {
    area_code.get(..6).unwrap_or(area_code).to_string()
}

/// The units an order is filed under, like its rating: every region, the hall, the
/// department, the window, the staff member and the item.
pub(super) fn order_units(order: &Order) -> Vec<(keys::Dim, &str)> {
    let mut units: Vec<(keys::Dim, &str)> = order
        .regions
        .iter()
        .map(|region| (keys::Dim::Region, region.as_str()))
        .collect();
    if !order.department.is_empty() {
        units.push((keys::Dim::Department, &order.department));
    }
    if !order.task_code.is_empty() {
        units.push((keys::Dim::Item, &order.task_code));
    }
    for (dim, unit) in [
        (keys::Dim::Hall, &order.hall),
        (keys::Dim::Window, &order.window),
        (keys::Dim::Staff, &order.staff),
    ] {
        if let Some(unit) = unit {
            units.push((dim, unit));
        }
    }
    units
}

/// Whether an order is filed under a unit (as its rating is).
pub fn order_filed_under(order: &Order, dim: keys::Dim, unit: &str) -> bool {
    order_units(order)
        .iter()
        .any(|(filed_dim, filed)| *filed_dim == dim && *filed == unit)
}

/// The facts of a bad-review order the metrics count, with their roll-up buckets.
fn facts(order: &Order) -> Vec<u8> {
    use crate::hooks::PhaseKind;
    use crate::workflow::{ClosureOutcome, RectificationLevel};
    let rectify = order.deadline(PhaseKind::Rectify);
    let rectified = rectify.and_then(|d| d.done_at).is_some();
    // On time only against an exact due: a provisional one is counted once the official
    // holiday table confirms it (a fact is counted once and never taken back).
    let on_time = rectify.is_some_and(|d| !d.provisional && d.on_time() == Some(true));
    let upheld = order
        .closure
        .as_ref()
        .is_some_and(|closure| closure.outcome == ClosureOutcome::AppealUpheld);
    let real = order.real_name;
    let done = |phase| order.deadline(phase).and_then(|d| d.done_at).is_some();
    let satisfied = order
        .evaluation
        .as_ref()
        .is_some_and(|evaluation| evaluation.level != RectificationLevel::Dissatisfied);
    [
        (bucket::ORDERS, true),
        (bucket::REAL_NAME_ORDERS, real),
        (bucket::RECTIFIED, rectified),
        (bucket::RECTIFIED_ON_TIME, on_time),
        (bucket::REAL_NAME_RECTIFIED, real && rectified),
        (bucket::REAL_NAME_RECTIFIED_ON_TIME, real && on_time),
        (bucket::FED_BACK, done(PhaseKind::Feedback)),
        (bucket::CALLED_BACK, order.callback.is_some()),
        (
            bucket::EVALUATED,
            order.evaluation.is_some() || !order.past_evaluations.is_empty(),
        ),
        (bucket::SATISFIED, satisfied),
        (bucket::CLOSED, order.state == OrderState::Closed && !upheld),
        (bucket::APPEAL_UPHELD, upheld),
        (bucket::REAL_NAME_APPEAL_UPHELD, real && upheld),
        (
            bucket::BLAMELESS,
            order
                .closure
                .as_ref()
                .and_then(|closure| closure.root_cause)
                .is_some_and(|cause| !cause.blames_staff()),
        ),
    ]
    .into_iter()
    .filter(|(_, holds)| *holds)
    .map(|(bucket, _)| bucket)
    .collect()
}

/// Counts, once each, the facts of a bad-review order that hold now and were not counted
/// yet, under every unit of the order, on the day its 差评 was received.
fn count_facts(trees: &Tx<'_>, order: &mut Order) -> TxResult<()> {
    if order.kind != OrderKind::BadReview {
        return Ok(());
    }
    let day = keys::day_number(crate::calendar::local_date(order.received_at));
    let new: Vec<u8> = facts(order)
        .into_iter()
        .filter(|bucket| order.counted & (1 << (bucket - bucket::ORDERS)) == 0)
        .collect();
    for bucket in &new {
        for (dim, unit) in order_units(order) {
            trees.count(dim, unit, day, *bucket, bucket::NO_CHANNEL);
        }
        order.counted |= 1 << (bucket - bucket::ORDERS);
    }
    Ok(())
}

fn save_order(trees: &Tx<'_>, order: &Order) -> TxResult<()> {
    let mut order = order.clone();
    count_facts(trees, &mut order)?;
    let order = &order;
    put_packed(&trees[tree::ORDERS], &order.id.to_be_bytes(), order)?;
    let open_key = keys::open_order(order.id);
    if order.is_open() {
        trees[tree::ORDER_INDEX].insert(open_key, open_summary(order))?;
    } else {
        trees[tree::ORDER_INDEX].remove(open_key)?;
    }
    let provisional_key = keys::provisional_order(order.id);
    if order.has_provisional_timing() {
        trees[tree::ORDER_INDEX].insert(provisional_key, &[])?;
    } else {
        trees[tree::ORDER_INDEX].remove(provisional_key)?;
    }
    Ok(())
}

/// The value of an open order's index key: the day its 差评 was received (a day number, 4
/// bytes) and, while its rectification deadline is pending, that deadline (unix milliseconds,
/// 8 bytes). The metrics' pass over the open orders skips by it, without decoding them, the
/// orders of other periods and those not late, which with a backlog of open orders are most.
/// Stores written before it keep an empty value (see [`may_be_late`]).
fn open_summary(order: &Order) -> Vec<u8> {
    let mut value = keys::day_number(crate::calendar::local_date(order.received_at))
        .to_be_bytes()
        .to_vec();
    if let Some(deadline) = order
        .deadline(crate::hooks::PhaseKind::Rectify)
        .filter(|deadline| deadline.done_at.is_none())
    {
        value.extend_from_slice(&deadline.due.timestamp_millis().to_be_bytes());
    }
    value
}

/// Whether an open order with index value `summary` may be late at `as_of` among the orders
/// received on day numbers `from..=to`; `false` only when its summary says it is not (an empty
/// summary, written before summaries were, may always be).
pub(super) fn may_be_late(summary: &[u8], from: u32, to: u32, as_of: DateTime<Utc>) -> bool {
    let Some(day) = summary
        .get(..4)
        .and_then(|day| <[u8; 4]>::try_from(day).ok())
        .map(u32::from_be_bytes)
    else {
        return true;
    };
    if day < from || day > to {
        return false;
    }
    summary
        .get(4..12)
        .and_then(|due| <[u8; 8]>::try_from(due).ok())
        .map(i64::from_be_bytes)
        .is_some_and(|due| as_of.timestamp_millis() >= due)
}

fn load_order(trees: &[TransactionalTree], id: u64) -> TxResult<Order> {
    Reader::new(trees)
        .order(id)?
        .ok_or_else(|| abort(super::StoreError::Batch(format!("order {id} is missing"))))
}

/// Applies a recorded change; the change was checked when it was recorded, so a failure here
/// means the projection and the log disagree, and the transaction is aborted.
fn change_order(
    trees: &Tx<'_>,
    entry: &LogEntry,
    order_id: u64,
    change: &OrderChange,
) -> TxResult<Order> {
    let mut order = load_order(trees, order_id)?;
    order
        .apply(change, &entry.actor, entry.at)
        .map_err(|error| abort(super::StoreError::Batch(error.to_string())))?;
    save_order(trees, &order)?;
    Ok(order)
}

/// An upheld appeal: the rating leaves every assessment metric (the `INVALID` buckets are
/// subtracted) and stays in the raw totals, marked with the reason.
fn invalidate_rating(trees: &Tx<'_>, entry: &LogEntry, order: &Order, note: &str) -> TxResult<()> {
    let Some(rating_id) = order.rating_id else {
        return Ok(());
    };
    let Some(rating) = (Reader::new(trees)).rating(rating_id)? else {
        return Ok(());
    };
    let key = rating_id.to_be_bytes();
    let mut marks: RatingMarks = (Reader::new(trees))
        .json(tree::RATING_MARKS, &key)?
        .unwrap_or_default();
    if marks.invalid.is_some() {
        return Ok(());
    }
    marks.invalid = Some(Invalidation {
        reason: note.to_string(),
        order: order.id,
        reviewer: entry.actor.clone(),
        at: entry.at,
    });
    put_json(&trees[tree::RATING_MARKS], &key, &marks)?;
    let day = keys::day_number(crate::calendar::local_date(rating.rated_at));
    let level_bucket = bucket::INVALID_BASE + rating.level.index();
    for (dim, unit) in units(&rating.attribution) {
        trees.count(dim, unit, day, level_bucket, rating.channel.index());
        if rating.evaluator.real_name && rating.is_bad() {
            trees.count(
                dim,
                unit,
                day,
                bucket::INVALID_REAL_NAME_BAD,
                rating.channel.index(),
            );
        }
    }
    Ok(())
}

/// Indexes a decision under its rating or subject: the value points at the log entry that
/// holds it (its seq, and its place among the entry's decisions) rather than copying it.
fn put_decision(
    trees: &[TransactionalTree],
    decision: &PolicyDecision,
    seq: u64,
    index: usize,
) -> TxResult<()> {
    trees[tree::DECISIONS].insert(
        keys::decision_of(decision),
        &keys::decision_pointer(seq, index),
    )?;
    Ok(())
}

/// Projects the closed-loop events; `false` when the event is not one of them.
pub(super) fn project(trees: &Tx<'_>, entry: &LogEntry) -> TxResult<bool> {
    match &entry.event {
        Event::OrderOpened { order, decisions } => {
            save_order(trees, order)?;
            for (index, decision) in decisions.iter().enumerate() {
                put_decision(trees, decision, entry.seq, index)?;
            }
            if let Some(rating_id) = order.rating_id {
                trees[tree::ORDER_INDEX]
                    .insert(keys::order_by_rating(rating_id), &order.id.to_be_bytes())?;
            }
            trees[tree::ORDER_INDEX].insert(
                keys::order_by_token(&order.tracking_hash),
                &order.id.to_be_bytes(),
            )?;
        }
        Event::OrderChanged {
            order_id,
            change,
            decision,
        } => {
            let order = change_order(trees, entry, *order_id, change)?;
            if let OrderChange::DecideAppeal { upheld: true, note } = change {
                invalidate_rating(trees, entry, &order, note)?;
            }
            if let Some(decision) = decision {
                put_decision(trees, decision, entry.seq, 0)?;
            }
        }
        Event::ProblemOpened { problem } => {
            for id in &problem.orders {
                change_order(
                    trees,
                    entry,
                    *id,
                    &OrderChange::LinkProblem {
                        problem_id: problem.id,
                    },
                )?;
            }
            put_json(&trees[tree::PROBLEMS], &problem.id.to_be_bytes(), problem)?;
        }
        Event::ProblemResolved {
            problem_id,
            action,
            message,
            ..
        } => {
            let reader = Reader::new(trees);
            let Some(mut problem) = reader.problem(*problem_id)? else {
                return Err(abort(super::StoreError::Batch(format!(
                    "problem {problem_id} is missing"
                ))));
            };
            let change = OrderChange::ProblemDone {
                problem_id: *problem_id,
                action: action.clone(),
                message: message.clone(),
            };
            for id in &problem.orders {
                let mut order = load_order(trees, *id)?;
                // An order that left the problem's path (an upheld appeal) stays where it is.
                if order.apply(&change, &entry.actor, entry.at).is_ok() {
                    save_order(trees, &order)?;
                }
            }
            problem.state = ProblemState::Done;
            problem.done_at = Some(entry.at);
            problem.done_by = Some(entry.actor.clone());
            problem.action = Some(action.clone());
            problem.message = Some(message.clone());
            put_json(&trees[tree::PROBLEMS], &problem_id.to_be_bytes(), &problem)?;
        }
        Event::DecisionRecorded { decision } => {
            put_decision(trees, decision, entry.seq, 0)?;
            schedule_from(trees, entry.seq, decision)?;
        }
        Event::TaskDone { task, .. } => {
            trees[tree::SCHEDULE].remove(keys::schedule(task))?;
            update_act(trees, &task.project_no, task.service_number, |act| {
                act.planned.retain(|planned| planned != task);
            })?;
        }
        Event::ServiceCallListed { call } => {
            put_json(
                &trees[tree::CALLS],
                &keys::rating_slot(&call.project_no, call.service_number, 0),
                call,
            )?;
            if call.state == crate::outreach::ServiceCallState::Open {
                trees[tree::CALLS]
                    .insert(keys::open_call(&call.project_no, call.service_number), &[])?;
            }
        }
        Event::ServiceCallAttempted {
            project_no,
            service_number,
            attempt,
            state,
        } => {
            let key = keys::rating_slot(project_no, *service_number, 0);
            if let Some(mut call) = (Reader::new(trees)).json::<ServiceCall>(tree::CALLS, &key)? {
                call.attempts.push(attempt.clone());
                call.state = *state;
                put_json(&trees[tree::CALLS], &key, &call)?;
            }
            if *state != crate::outreach::ServiceCallState::Open {
                trees[tree::CALLS].remove(keys::open_call(project_no, *service_number))?;
            }
        }
        Event::MessageQueued { message } => {
            put_json(&trees[tree::MESSAGES], &keys::message(message.id), message)?;
            trees[tree::MESSAGES].insert(keys::pending_message(message.id), &[])?;
            if let Some(order_id) = message
                .subject
                .strip_prefix("order:")
                .and_then(|id| id.parse::<u64>().ok())
                && message.purpose == crate::outreach::MessagePurpose::Tracking
                && let Some(mut order) = (Reader::new(trees)).order(order_id)?
            {
                order.tracking_notified = true;
                put_packed(&trees[tree::ORDERS], &order_id.to_be_bytes(), &order)?;
            }
        }
        Event::MessageAttempted {
            message_id,
            attempt,
            next_at,
        } => {
            let key = keys::message(*message_id);
            if let Some(mut message) = (Reader::new(trees)).json::<Message>(tree::MESSAGES, &key)? {
                message.attempts.push(attempt.clone());
                message.next_at = *next_at;
                message.state = if attempt.ok {
                    MessageState::Sent
                } else if next_at.is_some() {
                    MessageState::Queued
                } else {
                    MessageState::Failed
                };
                if message.state != MessageState::Queued {
                    trees[tree::MESSAGES].remove(keys::pending_message(*message_id))?;
                }
                put_json(&trees[tree::MESSAGES], &key, &message)?;
            }
        }
        Event::AssessmentFrozen { run } => {
            put_packed(&trees[tree::ASSESSMENTS], &entry.seq.to_be_bytes(), run)?;
        }
        Event::CommentModerated {
            rating_id,
            moderation,
        } => {
            let key = rating_id.to_be_bytes();
            let mut marks: RatingMarks = (Reader::new(trees))
                .json(tree::RATING_MARKS, &key)?
                .unwrap_or_default();
            marks.moderation = Some(moderation.clone());
            put_json(&trees[tree::RATING_MARKS], &key, &marks)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// An invitation or default-rating decision about a completed service act plans its tasks.
fn schedule_from(trees: &[TransactionalTree], seq: u64, decision: &PolicyDecision) -> TxResult<()> {
    let Some((project_no, service_number)) = crate::outreach::act_of_subject(&decision.subject)
    else {
        return Ok(());
    };
    let mut planned = Vec::new();
    match decision.hook.as_str() {
        "invitation" => {
            if let Ok(output) =
                serde_json::from_value::<crate::hooks::InvitationOutput>(decision.output.clone())
            {
                for invitation in output.invitations {
                    let action = match invitation.channel {
                        crate::hooks::InviteChannel::Sms => ScheduledAction::InviteSms,
                        crate::hooks::InviteChannel::Phone => ScheduledAction::InvitePhone,
                        crate::hooks::InviteChannel::App => ScheduledAction::InviteApp,
                    };
                    planned.push((invitation.at, action));
                }
            }
        }
        "default_rating" => {
            if let Ok(output) =
                serde_json::from_value::<crate::hooks::DefaultRatingOutput>(decision.output.clone())
                && let (true, Some(level), Some(at)) = (output.apply, output.level, output.at)
            {
                planned.push((at, ScheduledAction::DefaultRating { level }));
            }
        }
        _ => {}
    }
    let tasks: Vec<ScheduledTask> = planned
        .into_iter()
        .map(|(at, action)| ScheduledTask {
            at,
            project_no: project_no.to_string(),
            service_number,
            action,
            decision_seq: seq,
        })
        .collect();
    update_act(trees, project_no, service_number, |act| {
        // A rating that came before its service act leaves nothing to plan.
        if !act.ratings.is_empty() {
            return;
        }
        act.planned.extend(tasks.iter().cloned());
    })?;
    let reader = Reader::new(trees);
    let rated = reader
        .case(project_no)?
        .and_then(|case| {
            case.services
                .into_iter()
                .find(|act| act.service_number == service_number)
        })
        .is_none_or(|act| !act.ratings.is_empty());
    if !rated {
        for task in &tasks {
            put_json(&trees[tree::SCHEDULE], &keys::schedule(task), task)?;
        }
    }
    Ok(())
}

/// Changes one service act of a stored case, if both exist.
fn update_act(
    trees: &[TransactionalTree],
    project_no: &str,
    service_number: u8,
    change: impl FnOnce(&mut crate::model::ServiceAct),
) -> TxResult<()> {
    let reader = Reader::new(trees);
    let Some(mut case) = reader.case(project_no)? else {
        return Ok(());
    };
    if let Some(act) = case
        .services
        .iter_mut()
        .find(|act| act.service_number == service_number)
    {
        change(act);
        super::apply::put_case(trees, &case)?;
    }
    Ok(())
}

/// Seals a phone number given in clear (a complaint's contact, a citizen's number for a
/// tracking link) for storing, under the number's own subject key.
pub fn seal_phone(
    pii: &PiiKey,
    phone: &str,
    at: DateTime<Utc>,
) -> Result<crate::model::SealedField, crate::pii::PiiError> {
    let phone = phone.trim();
    let scope = crate::pii::Scope {
        class: crate::keyring::Class::ApplicantPhone,
        subject: Some(phone),
        at,
    };
    pii.seal_field_in(PiiKind::Phone, phone, &scope)
}

/// What a citizen submitted at the intake (a complaint, suggestion or request), long digit runs
/// masked, sealed as free text under the submitter's subject key when they gave a number.
pub fn seal_submission(
    pii: &PiiKey,
    text: &str,
    phone: Option<&str>,
    at: DateTime<Utc>,
) -> Result<crate::model::StoredText, crate::pii::PiiError> {
    let scope = crate::pii::Scope {
        class: crate::keyring::Class::FreeText,
        subject: phone.map(str::trim),
        at,
    };
    pii.seal_text(&crate::validate::mask_digit_runs(text), &scope)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn an_open_order_summary_skips_only_what_cannot_be_late() {
        let at = |day, hour| Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap();
        let day = |day| keys::day_number(chrono::NaiveDate::from_ymd_opt(2026, 12, day).unwrap());
        // Received on the 3rd, no rectification pending: never late.
        let mut summary = day(3).to_be_bytes().to_vec();
        assert!(!may_be_late(&summary, day(1), day(31), at(20, 0)));
        // Due on the 10th at 08:00 UTC.
        summary.extend_from_slice(&at(10, 8).timestamp_millis().to_be_bytes());
        assert!(!may_be_late(&summary, day(1), day(31), at(10, 7)));
        assert!(may_be_late(&summary, day(1), day(31), at(10, 8)));
        // Received outside the period asked about.
        assert!(!may_be_late(&summary, day(4), day(31), at(20, 0)));
        // Written before summaries were: the order itself decides.
        assert!(may_be_late(&[], day(4), day(5), at(1, 0)));
    }
}
