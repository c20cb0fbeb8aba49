//! Work orders of the closed loop: the intake of complaints, suggestions and requests (统一受理),
//! every step of an order and who may take it, deadlines decided and re-timed, the sweep's pass
//! over the open orders (预警/督办/通报 flags, tracking links, call-backs by SMS), and submitting
//! the commands a pass produced.

use chrono::{DateTime, Utc};
use hcp_core::auth::{Principal, Role};
use hcp_core::calendar::Calendar;
use hcp_core::event::PolicyDecision;
use hcp_core::model::Channel;
use hcp_core::outreach::{MessageChannel, MessageInput, MessagePurpose};
use hcp_core::policy::{AwaitingPhase, DeadlineInput, Hook, Phase};
use hcp_core::store::{
    Command, Dim, LoopCommand, Outcome, Store, county_of, seal_phone, seal_submission,
};
use hcp_core::workflow::{
    CallOutcome, CauseClass, Disposition, FlagKind, Order, OrderChange, OrderKind, OrderSeed,
    RectificationLevel, Step,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::calendar_alarm::ProvisionalTiming;
use crate::app::platform::Platform;
use crate::app::rules::RetimeSummary;
use crate::app::tokens::tracking_url;

use crate::app::work::SweepReport;

/// Flags, tracking links and SMS call-backs of the open orders; provisional timing made exact
/// once the table it waits for is loaded.
pub fn sweep_orders(
    platform: &Platform,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    if let Some(summary) = platform.policies.retime(&platform.store) {
        report.retimed_provisional += u32::try_from(summary.orders).unwrap_or(u32::MAX);
        if summary.refused > 0 {
            report.fail(
                "re-timing",
                format!(
                    "{} changes refused, tried again next sweep",
                    summary.refused
                ),
            );
        }
    }
    let calendar = platform.calendar();
    let mut timing = count_provisional(&platform.store)?;
    let mut commands = Vec::new();
    for order in platform.store.open_orders()? {
        if order.deadline_error.is_some() {
            if let Some(timed) = retime(platform, &order) {
                report.retimed += 1;
                commands.push(timed);
            }
            continue;
        }
        let flags = order.due_flags(as_of, &calendar);
        report.held_escalations += flags.held;
        for (phase, kind) in flags.due {
            match kind {
                FlagKind::Warning => report.warnings += 1,
                FlagKind::Supervision => report.supervisions += 1,
                FlagKind::Notice => report.notices += 1,
            }
            commands.push(Command::Loop(LoopCommand::ChangeOrder {
                actor: "system".into(),
                order_id: order.id,
                change: OrderChange::Flag { phase, kind },
                decision: None,
            }));
        }
        if order.reachable
            && !order.tracking_notified
            && let Some(message) = tracking_message(platform, &order)?
        {
            report.tracking_messages += 1;
            commands.push(message);
        }
        if order.needs_callback_sms() {
            callback_by_sms(platform, &order, report)?;
        }
    }
    timing.held_escalations = u64::from(report.held_escalations);
    timing.counted_at = Some(as_of);
    platform.policies.set_timing(timing);
    submit_all(platform, commands, report)
}

/// Orders and phases counted on a provisional year or waiting for a table.
fn count_provisional(store: &Store) -> anyhow::Result<ProvisionalTiming> {
    let mut timing = ProvisionalTiming::default();
    for order in store.provisional_orders()? {
        timing.orders += 1;
        timing.provisional_phases +=
            order.deadlines.iter().filter(|d| d.provisional).count() as u64;
        timing.awaiting_phases += order.awaiting.len() as u64;
    }
    Ok(timing)
}

/// Times again, on `calendar`, every provisional or waiting phase it now times differently
/// (exactly, or at all), on open and closed orders alike; each order's change records the
/// calendar version. Blocking.
pub fn retime_provisional(
    store: &Store,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> anyhow::Result<RetimeSummary> {
    let mut summary = RetimeSummary {
        at: Some(now),
        calendar_version: calendar.version(),
        ..RetimeSummary::default()
    };
    let mut commands = Vec::new();
    for order in store.provisional_orders()? {
        let phases = match order.retimed_phases(calendar) {
            Ok(phases) if !phases.is_empty() => phases,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(order = order.id, %error, "cannot time the order's provisional phases");
                continue;
            }
        };
        summary.phases += phases.len() as u64;
        commands.push((
            order.id,
            Command::Loop(LoopCommand::ChangeOrder {
                actor: "system".into(),
                order_id: order.id,
                change: OrderChange::Retimed {
                    phases,
                    calendar_version: summary.calendar_version.clone(),
                },
                decision: None,
            }),
        ));
    }
    for chunk in commands.chunks(512) {
        let outcomes = store.submit(chunk.iter().map(|(_, command)| command.clone()).collect())?;
        for ((order_id, _), outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Outcome::Rejected(error) => {
                    tracing::debug!(order = order_id, %error, "re-timing refused");
                    summary.refused += 1;
                }
                _ => {
                    summary.orders += 1;
                    if summary.order_ids.len() < 100 {
                        summary.order_ids.push(*order_id);
                    }
                }
            }
        }
    }
    Ok(summary)
}

/// The deadline policy's phases for an order with `trigger` as the moment it counts from, and
/// the decision to record with them (`output` is `None` when the policy failed).
pub fn decide_deadlines(
    platform: &Platform,
    order: &Order,
    trigger: DateTime<Utc>,
) -> (
    Option<hcp_core::policy::DeadlineOutput>,
    hcp_core::event::PolicyDecision,
) {
    let input = DeadlineInput::for_order(order, trigger);
    let decision = platform.policies.decide(
        hcp_core::policy::Hook::Deadline,
        format!("order:{}", order.id),
        &order.county,
        serde_json::to_value(&input).unwrap_or_default(),
    );
    let output = serde_json::from_value(decision.output.clone()).ok();
    (output, decision)
}

/// Fresh deadlines for a reopened order, from the deadline policy as of now, with the decision
/// that set them: the phases timed and those waiting for a holiday table.
fn reopen_deadlines(
    platform: &Platform,
    order: &Order,
) -> (Vec<Phase>, Vec<AwaitingPhase>, Option<PolicyDecision>) {
    let (output, decision) = decide_deadlines(platform, order, platform.clock.now());
    let (phases, awaiting) = output
        .map(|output| (output.phases, output.awaiting))
        .unwrap_or_default();
    (phases, awaiting, Some(decision))
}

/// A 不满意 rating of the rectification reopens the order: it carries fresh deadlines.
pub fn with_reopen_deadlines(
    platform: &Platform,
    order: &Order,
    change: OrderChange,
) -> (OrderChange, Option<PolicyDecision>) {
    let reopens = match &change {
        OrderChange::Evaluate { level, .. } => *level == RectificationLevel::Dissatisfied,
        OrderChange::Callback { outcome, .. } => *outcome == CallOutcome::Dissatisfied,
        _ => false,
    };
    if !reopens {
        return (change, None);
    }
    let (phases, awaiting, decision) = reopen_deadlines(platform, order);
    let change = match change {
        OrderChange::Evaluate { level, via, .. } => OrderChange::Evaluate {
            level,
            via,
            deadlines: phases,
            awaiting,
        },
        OrderChange::Callback { outcome, note, .. } => OrderChange::Callback {
            outcome,
            note,
            deadlines: phases,
            awaiting,
        },
        other => other,
    };
    (change, decision)
}
/// An order that opened without deadlines (the policy failed, say for a missing holiday
/// table) is timed as soon as the policy can, counting from when it was received.
fn retime(platform: &Platform, order: &Order) -> Option<Command> {
    let (Some(output), decision) = decide_deadlines(platform, order, order.received_at) else {
        return None;
    };
    Some(Command::Loop(LoopCommand::ChangeOrder {
        actor: "system".into(),
        order_id: order.id,
        change: OrderChange::Timed {
            deadlines: output.phases,
            notice_after: output.notice_after,
            awaiting: output.awaiting,
        },
        decision: Some(decision),
    }))
}

/// Submits commands and reports refusals (a change made meanwhile by someone else).
pub fn submit_all(
    platform: &Platform,
    commands: Vec<Command>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    for chunk in commands.chunks(512) {
        for outcome in platform.store.submit(chunk.to_vec())? {
            if let Outcome::Rejected(error) = outcome {
                report.fail("", error);
            }
        }
    }
    Ok(())
}

/// The sealed phone number of an order's evaluator or submitter, if any.
pub fn evaluator_phone(
    store: &Store,
    order: &Order,
) -> Result<Option<hcp_core::model::SealedField>, hcp_core::store::StoreError> {
    if let Some(contact) = &order.contact {
        return Ok(Some(contact.clone()));
    }
    let Some(rating_id) = order.rating_id else {
        return Ok(None);
    };
    Ok(store
        .rating(rating_id)?
        .and_then(|rating| rating.evaluator.phone))
}

fn tracking_message(platform: &Platform, order: &Order) -> anyhow::Result<Option<Command>> {
    let Some(to) = evaluator_phone(&platform.store, order)? else {
        return Ok(None);
    };
    Ok(Some(Command::Loop(LoopCommand::QueueMessage {
        actor: "system".into(),
        message: MessageInput {
            channel: MessageChannel::Sms,
            purpose: MessagePurpose::Tracking,
            subject: format!("order:{}", order.id),
            to,
            text: format!(
                "【政务服务好差评】您的评价已转为工单{}，我们将尽快核实处理。处理进度及整改评价：{}",
                order.id,
                tracking_url(platform, order.id)
            ),
        },
    })))
}

/// Three unreachable call-back attempts: the evaluator gets an SMS with the result and the
/// link to rate the rectification, and the call-back is complete, in one transaction.
fn callback_by_sms(
    platform: &Platform,
    order: &Order,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    let Some(to) = evaluator_phone(&platform.store, order)? else {
        return Ok(());
    };
    let sms = MessageInput {
        channel: MessageChannel::Sms,
        purpose: MessagePurpose::Callback,
        subject: format!("order:{}", order.id),
        to,
        text: format!(
            "【政务服务好差评】我们多次致电未能联系到您。您反映的问题（工单{}）已处理并反馈，请查看处理结果并对整改情况评价：{}",
            order.id,
            tracking_url(platform, order.id)
        ),
    };
    // One command: the SMS is queued by the store with the change, never without it.
    let change = Command::Loop(LoopCommand::ChangeOrder {
        actor: "system".into(),
        order_id: order.id,
        change: OrderChange::CallbackBySms { sms },
        decision: None,
    });
    match platform.store.submit_one(change)? {
        Outcome::Rejected(error) => report.fail(format!("order {}", order.id), error),
        _ => report.callback_messages += 1,
    }
    Ok(())
}

/// A work order the caller asked for by id, if within their scope. Blocking.
pub fn visible_order(
    platform: &Platform,
    principal: &Principal,
    id: u64,
) -> Result<Order, AppError> {
    let order = platform.store.read_fresh(|store| store.order(id))?;
    platform
        .scope()
        .found(principal, order, format!("work order {id}"))
}

/// One step of an order by a signed-in user: the order within their scope, the step one their
/// role may take on it ([`authorise`]; whether the order's state allows it is the store's to
/// say), fresh deadlines when it reopens the order; the order after it. Blocking.
pub fn take_step(
    platform: &Platform,
    principal: &Principal,
    id: u64,
    step: OrderChange,
) -> Result<Order, AppError> {
    let order = visible_order(platform, principal, id)?;
    authorise(platform, principal, &order, &step)?;
    let (step, decision) = with_reopen_deadlines(platform, &order, step);
    change(platform, &principal.username, id, step, decision)
}

/// One call-back attempt of an order (回访): 满意/基本满意 complete it, 不满意 reopens the order,
/// unreachable counts towards the SMS. Blocking.
pub fn call_back(
    platform: &Platform,
    principal: &Principal,
    id: u64,
    outcome: CallOutcome,
    note: String,
) -> Result<Order, AppError> {
    let step = OrderChange::Callback {
        outcome,
        note,
        deadlines: Vec::new(),
        awaiting: Vec::new(),
    };
    take_step(platform, principal, id, step)
}

/// Who may take a step: the responsible unit's handlers do the work, the supervisor of its
/// region decides transfers, a reviewer outside the unit decides appeals, call-back agents call
/// back; the platform alone raises flags and follows problems.
fn authorise(
    platform: &Platform,
    principal: &Principal,
    order: &Order,
    change: &OrderChange,
) -> Result<(), AppError> {
    let store = &platform.store;
    let in_unit = || -> Result<bool, AppError> {
        Ok(store.within(Dim::Region, &order.unit, &principal.scope)?)
    };
    let in_region = || -> Result<bool, AppError> {
        Ok(order.regions.contains(&principal.scope)
            || store.within(Dim::Region, &order.unit, &principal.scope)?)
    };
    let allowed = match change {
        OrderChange::Flag { .. }
        | OrderChange::Timed { .. }
        | OrderChange::Retimed { .. }
        | OrderChange::LinkProblem { .. }
        | OrderChange::ProblemDone { .. }
        | OrderChange::ContactConfirmed { .. }
        | OrderChange::CallbackBySms { .. } => {
            return Err(AppError::Forbidden(format!(
                "{} is recorded by the platform itself",
                change.name()
            )));
        }
        OrderChange::Evaluate { .. } => {
            return Err(AppError::Forbidden(
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
                    return Err(AppError::Unprocessable(hcp_core::validate::Reason {
                        code: "unknown_reference".into(),
                        message: format!("unknown org unit {unit}"),
                    }));
                }
                platform.scope().ensure_unit(principal, Dim::Region, unit)?;
            }
            supervisor && in_region()?
        }
        OrderChange::DecideAppeal { .. } => {
            if principal.role != Role::Reviewer {
                false
            } else if principal.scope == order.unit
                || store.within(Dim::Region, &principal.scope, &order.unit)?
            {
                return Err(AppError::Forbidden(
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
        Err(AppError::Forbidden(format!(
            "role {:?} with scope {} may not {} this order",
            principal.role,
            principal.scope,
            change.name()
        )))
    }
}

/// Records a change by `actor` and returns the order after it.
pub fn change(
    platform: &Platform,
    actor: &str,
    order_id: u64,
    change: OrderChange,
    decision: Option<PolicyDecision>,
) -> Result<Order, AppError> {
    platform.record(Command::Loop(LoopCommand::ChangeOrder {
        actor: actor.to_string(),
        order_id,
        change,
        decision,
    }))?;
    platform
        .store
        .order(order_id)?
        .ok_or_else(|| AppError::NotFound(format!("no work order {order_id}")))
}

/// A complaint, suggestion or request as taken in (统一受理): from a citizen's form, or typed in
/// by staff taking a call.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntakeRequest {
    /// `complaint`, `suggestion` or `request`.
    pub kind: OrderKind,
    /// Region code where the matter arose.
    #[schema(max_length = 64)]
    pub area_code: String,
    /// The department concerned, if known (统一社会信用代码).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub department: String,
    /// The service item concerned, if known.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub task_code: String,
    #[schema(max_length = 2000)]
    pub text: String,
    #[serde(default = "web")]
    pub channel: Channel,
    /// The submitter's mobile number, for the answer and the call-back; sealed at once.
    #[serde(default)]
    #[schema(max_length = 20)]
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
    /// The number given, when one was: a citizen's is texted nothing but a code until the code
    /// is posted back (`confirm_url`).
    pub phone: Option<crate::app::contact::PhoneStatus>,
}

/// Who takes in an intake posted without signing in.
pub const CITIZEN: &str = "citizen";

/// Characters of a code (region, department, service item) in an intake at most.
const MAX_CODE_CHARS: usize = 64;

/// The intake (统一受理) of a complaint, suggestion or request by `actor` (a signed-in user, or
/// [`CITIZEN`]): checked, routed and timed by the county's policies, opened, and its receipt.
/// A number a signed-in user types in is the order's at once; a citizen's only once confirmed
/// ([`crate::app::contact`]). Blocking.
pub fn open_intake(
    platform: &Platform,
    actor: &str,
    request: IntakeRequest,
) -> Result<IntakeReceipt, AppError> {
    let store = &platform.store;
    if request.kind == OrderKind::BadReview {
        return Err(AppError::invalid_field(
            "kind",
            "a bad review is a rating: it comes in through ingest and opens its own order",
        ));
    }
    for (field, code) in [
        ("area_code", &request.area_code),
        ("department", &request.department),
        ("task_code", &request.task_code),
    ] {
        if code.chars().count() > MAX_CODE_CHARS {
            return Err(AppError::invalid_field(
                field,
                format!("at most {MAX_CODE_CHARS} characters"),
            ));
        }
    }
    let text = request.text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(AppError::invalid_field(
            "text",
            "required, at most 2000 characters",
        ));
    }
    match store.org_unit(&request.area_code)? {
        Some(unit) if unit.kind.is_region() => {}
        _ => {
            return Err(AppError::invalid_field(
                "area_code",
                format!("unknown region {}", request.area_code),
            ));
        }
    }
    if !request.department.is_empty() && store.org_unit(&request.department)?.is_none() {
        return Err(AppError::invalid_field(
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
        && !crate::app::contact::is_mobile_number(phone)
    {
        return Err(AppError::invalid_field(
            "phone",
            "expected an 11-digit mobile number",
        ));
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
    let regions = store.ancestors(Dim::Region, &request.area_code)?;
    let sealed = phone
        .map(|phone| seal_phone(store.pii(), phone, now).map(|sealed| (sealed, phone)))
        .transpose()?;
    // A citizen's number waits outside the order until it is confirmed: nothing is texted to
    // it but its code.
    let (contact, unconfirmed) = match sealed {
        Some((sealed, phone)) if actor == CITIZEN => (None, Some((sealed, phone))),
        Some((sealed, _)) => (Some(sealed), None),
        None => (None, None),
    };
    let phone_status = contact
        .as_ref()
        .map(crate::app::contact::PhoneStatus::confirmed);
    // The submission, and the copy the routing rule read, are sealed under its submitter's key.
    let submission = seal_submission(store.pii(), text, phone, now)?;
    let mut routing = routing;
    routing.seal_input_text(store.pii(), &submission)?;
    let seed = OrderSeed {
        kind: request.kind,
        rating_id: None,
        county,
        area_code: request.area_code,
        regions,
        department: request.department,
        window: None,
        staff: None,
        hall: None,
        task_code: request.task_code,
        real_name: request.real_name,
        level: None,
        indicators: Vec::new(),
        text: Some(submission.clone()),
        reachable: contact.is_some(),
        contact,
        channel: request.channel,
        received_at: now,
    };
    let taken_in = Step {
        at: now,
        actor: actor.to_string(),
        action: "intake".into(),
        note: String::new(),
    };
    let order = Order::open(seed, Some(&routing), Some(&deadline), taken_in);
    let id = platform.record(Command::Loop(LoopCommand::OpenOrder {
        actor: actor.to_string(),
        order: Box::new(order),
        decisions: vec![routing, deadline],
    }))?;
    let order = store
        .order(id)?
        .ok_or_else(|| AppError::Internal(format!("order {id} vanished")))?;
    let phone = match unconfirmed {
        Some((sealed, phone)) => Some(crate::app::contact::send_code(platform, id, sealed, phone)),
        None => phone_status,
    };
    Ok(IntakeReceipt {
        order_id: id,
        tracking_url: crate::app::tokens::tracking_url(platform, id),
        unit: order.unit,
        deadlines: order.deadlines,
        phone,
    })
}

/// How long a phase has left, in working days of the platform's calendar (China dates).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Countdown {
    #[schema(value_type = String)]
    pub phase: hcp_core::policy::PhaseKind,
    pub due: DateTime<Utc>,
    /// Working days from today to the last day the phase is on time, today included when it
    /// is a working day; negative when overdue (the working days since that last day).
    pub working_days_left: i64,
    pub overdue: bool,
    /// Counted on a year without an official holiday table yet.
    pub provisional: bool,
}

/// The countdowns of the open phases of `order` at `now` (none for a closed order; a phase
/// whose days cannot be counted is left out).
pub fn countdowns(calendar: &Calendar, order: &Order, now: DateTime<Utc>) -> Vec<Countdown> {
    use hcp_core::policy::PhaseKind;
    if !order.is_open() {
        return Vec::new();
    }
    let china = hcp_core::calendar::local_date;
    let today = china(now);
    order
        .deadlines
        .iter()
        .filter(|deadline| deadline.done_at.is_none() && deadline.phase != PhaseKind::Appeal)
        .filter_map(|deadline| {
            // `due` is exclusive: the last day on time is the day of the instant before it.
            let last = china(deadline.due - chrono::Duration::seconds(1));
            let overdue = now >= deadline.due;
            let counted = if overdue {
                calendar
                    .reckon_working_days_between(last, today)
                    .ok()
                    .map(|days| (-i64::from(days.value), days.provisional))
            } else {
                calendar
                    .reckon_working_days_between(today.pred_opt()?, last)
                    .ok()
                    .map(|days| (i64::from(days.value), days.provisional))
            };
            let (working_days_left, provisional) = counted?;
            Some(Countdown {
                phase: deadline.phase,
                due: deadline.due,
                working_days_left,
                overdue,
                provisional: provisional.is_some() || deadline.provisional,
            })
        })
        .collect()
}

/// The steps `principal` may take on `order` now, by the `type` name of the change: each is
/// allowed by [`authorise`] and accepted by the order's state machine for a plausible form
/// (the console offers exactly these forms; the step itself is checked again when taken).
/// Blocking.
pub fn available_steps(
    platform: &Platform,
    principal: &Principal,
    order: &Order,
) -> Vec<&'static str> {
    if !order.is_open() {
        return Vec::new();
    }
    let text = || "-".to_string();
    let probes = [
        OrderChange::Accept { note: text() },
        OrderChange::RequestTransfer {
            reason: text(),
            to_unit: None,
        },
        OrderChange::DecideTransfer {
            approve: false,
            unit: None,
            note: text(),
        },
        OrderChange::Contact { note: text() },
        OrderChange::Verify { finding: text() },
        OrderChange::Dispose {
            disposition: Disposition::Immediate { action: text() },
        },
        OrderChange::Rectified { action: text() },
        OrderChange::Appeal {
            reason: text(),
            evidence: vec![text()],
        },
        OrderChange::DecideAppeal {
            upheld: false,
            note: text(),
        },
        OrderChange::Feedback { message: text() },
        OrderChange::Close {
            root_cause: CauseClass::Process,
            action_taken: text(),
        },
        OrderChange::Answer { reply: text() },
        OrderChange::Callback {
            outcome: CallOutcome::Satisfied,
            note: text(),
            deadlines: Vec::new(),
            awaiting: Vec::new(),
        },
    ];
    let now = platform.clock.now();
    probes
        .iter()
        .filter(|probe| {
            authorise(platform, principal, order, probe).is_ok()
                && order.clone().apply(probe, &principal.username, now).is_ok()
        })
        .map(OrderChange::name)
        .collect()
}
