//! Work orders of the closed loop: deadlines decided and re-timed, the sweep's pass over the open
//! orders (预警/督办/通报 flags, tracking links, call-backs by SMS), and submitting the commands
//! a pass produced.

use chrono::{DateTime, Utc};
use hcp_core::calendar::Calendar;
use hcp_core::event::PolicyDecision;
use hcp_core::outreach::{MessageChannel, MessageInput, MessagePurpose};
use hcp_core::policy::{AwaitingPhase, DeadlineInput, Phase};
use hcp_core::store::{Command, LoopCommand, Outcome, Store};
use hcp_core::workflow::{CallOutcome, FlagKind, Order, OrderChange, RectificationLevel};

use crate::app::platform::Platform;
use crate::app::rules::{ProvisionalTiming, RetimeSummary};
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
