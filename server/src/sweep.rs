//! Deadline sweeps of the closed loop. One sweep, "as of" an instant, raises the 预警, 督办 and
//! 通报 flags that fell due on open work orders, sends the tracking link of new bad reviews,
//! completes unreachable call-backs by SMS, carries out the invitations and default ratings
//! that fell due, delivers queued messages, and generates the reports due that day (the
//! monthly bulletin on the 1st, the semiannual report on 06-30 and 12-30, each once). The
//! background loop sweeps as of the platform clock; tests and simulations sweep as of any
//! instant. Every action is a recorded event, and a sweep run twice as of the same instant does
//! nothing the second time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hcp_core::outreach::{MessageChannel, MessageInput, MessagePurpose};
use hcp_core::store::{Command, LoopCommand, Outcome};
use hcp_core::workflow::{FlagKind, Order, OrderChange};
use serde::Serialize;

use crate::state::Platform;

/// What one sweep did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    pub as_of: Option<DateTime<Utc>>,
    /// 预警 raised.
    pub warnings: u32,
    /// 督办 raised.
    pub supervisions: u32,
    /// 通报 raised.
    pub notices: u32,
    /// Orders without deadlines (the policy had failed) that got them now.
    pub retimed: u32,
    /// Tracking links queued for new bad reviews.
    pub tracking_messages: u32,
    /// Call-backs completed by SMS after the unreachable attempts.
    pub callback_messages: u32,
    /// Invitations queued (SMS, app) or put on the call list (phone).
    pub invitations: u32,
    /// Default ratings given.
    pub default_ratings: u32,
    /// Planned tasks skipped (rated meanwhile, stale, no contact).
    pub skipped: u32,
    /// Messages handed to the gateway.
    pub messages_sent: u32,
    /// Delivery attempts that failed (retried later, or given up).
    pub messages_failed: u32,
    /// Scheduled reports generated (bulletins on the 1st, semiannual reports on 06-30, 12-30).
    pub reports_generated: u32,
    /// What went wrong; the sweep goes on past each.
    pub errors: Vec<String>,
}

/// Runs one sweep as of `as_of`. Blocking; sweeps never overlap.
pub fn sweep(platform: &Platform, as_of: DateTime<Utc>) -> SweepReport {
    let _guard = platform
        .sweep_lock
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut report = SweepReport {
        as_of: Some(as_of),
        ..SweepReport::default()
    };
    if let Err(error) = orders(platform, as_of, &mut report) {
        report.errors.push(format!("work orders: {error:#}"));
    }
    if let Err(error) = crate::outreach::run_due_tasks(platform, as_of, &mut report) {
        report.errors.push(format!("invitations: {error:#}"));
    }
    if let Err(error) = crate::outreach::deliver(platform, as_of, &mut report) {
        report.errors.push(format!("messages: {error:#}"));
    }
    if let Err(error) = crate::reports::run_schedule(platform, as_of, &mut report) {
        report.errors.push(format!("reports: {error:#}"));
    }
    for error in &report.errors {
        tracing::warn!(%error, "sweep");
    }
    report
}

/// Starts the background sweep on the platform clock.
pub fn spawn(platform: Platform) {
    let secs = platform.workflow.sweep_secs;
    if secs == 0 {
        return;
    }
    every(platform, secs, "sweep", |platform, now| {
        sweep(platform, now);
    });
}

/// Runs `job` as of the platform clock every `secs` seconds, off the async workers, for as long
/// as the process lives; a tick that falls behind waits instead of bunching up. `name` says
/// which task failed in the log.
pub(crate) fn every(
    platform: Platform,
    secs: u64,
    name: &'static str,
    job: fn(&Platform, DateTime<Utc>),
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(secs));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let platform = platform.clone();
            let ran = tokio::task::spawn_blocking(move || {
                let now = platform.clock.now();
                job(&platform, now);
            })
            .await;
            if let Err(error) = ran {
                tracing::error!(%error, "{name} task failed");
            }
        }
    });
}

/// Flags, tracking links and SMS call-backs of the open orders.
fn orders(
    platform: &Platform,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    let mut commands = Vec::new();
    for order in platform.store.open_orders()? {
        if order.deadline_error.is_some() {
            if let Some(timed) = retime(platform, &order) {
                report.retimed += 1;
                commands.push(timed);
            }
            continue;
        }
        match order.due_flags(as_of, &platform.calendar) {
            Ok(flags) => {
                for (phase, kind) in flags {
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
            }
            Err(error) => report.errors.push(format!("order {}: {error}", order.id)),
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
    submit_all(platform, commands, report)
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
    let input = serde_json::json!({
        "county": order.county,
        "area_code": order.area_code,
        "kind": crate::http::orders::routing_kind(order.kind),
        "level": order.level,
        "real_name": order.real_name,
        "channel": order.channel,
        "task_code": order.task_code,
        "department": order.department,
        "indicators": order.indicators,
        "received_at": trigger,
    });
    let decision = platform.policies.decide(
        hcp_core::policy::Hook::Deadline,
        format!("order:{}", order.id),
        &order.county,
        input,
    );
    let output = serde_json::from_value(decision.output.clone()).ok();
    (output, decision)
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
                report.errors.push(error.to_string());
            }
        }
    }
    Ok(())
}

/// The link a citizen follows their bad review with.
pub fn tracking_url(platform: &Platform, order_id: u64) -> String {
    format!(
        "{}/t/{}",
        platform.messages.public_url.trim_end_matches('/'),
        platform.store.pii().tracking_token(order_id)
    )
}

/// The sealed phone number of an order's evaluator or submitter, if any.
pub fn evaluator_phone(
    platform: &Platform,
    order: &Order,
) -> anyhow::Result<Option<hcp_core::model::SealedField>> {
    if let Some(contact) = &order.contact {
        return Ok(Some(contact.clone()));
    }
    let Some(rating_id) = order.rating_id else {
        return Ok(None);
    };
    Ok(platform
        .store
        .rating(rating_id)?
        .and_then(|rating| rating.evaluator.phone))
}

fn tracking_message(platform: &Platform, order: &Order) -> anyhow::Result<Option<Command>> {
    let Some(to) = evaluator_phone(platform, order)? else {
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
    let Some(to) = evaluator_phone(platform, order)? else {
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
        Outcome::Rejected(error) => report.errors.push(error.to_string()),
        _ => report.callback_messages += 1,
    }
    Ok(())
}
