//! The closed loop: work orders opened from bad reviews, complaints, suggestions and requests,
//! their phases and deadlines, appeals, call-backs and systemic problems.
//!
//! This module is pure: an [`Order`] changes only through [`Order::apply`], which checks that
//! the change is allowed in the order's state. The store calls the same function when a change
//! is requested (to refuse a wrong one with a reason) and when it projects the recorded event
//! (live or during a rebuild), so the log alone reproduces every order.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::{Calendar, CalendarError, DurationUnit, day_start, local_date};
use crate::model::Level;
use crate::policy::{Phase, PhaseKind, Priority};

/// Working days after a due instant at which a late phase is reported to the city (通报),
/// unless the deadline policy says otherwise.
pub const DEFAULT_NOTICE_AFTER: u32 = 2;

/// What opened the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// A 差评 (不满意 or 非常不满意), opened automatically when the rating is recorded.
    BadReview,
    /// A complaint (投诉) taken in by the intake.
    Complaint,
    /// A suggestion (意见建议).
    Suggestion,
    /// A reasonable request (合理诉求).
    Request,
}

impl OrderKind {
    /// Suggestions and requests are answered; bad reviews and complaints are rectified.
    pub fn is_answered(self) -> bool {
        matches!(self, OrderKind::Suggestion | OrderKind::Request)
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// 已派单: waiting for the responsible unit's 初审.
    Dispatched,
    /// 已受理: the unit accepted it and verifies (contacts the evaluator).
    Accepted,
    /// 已核实: waiting for a disposition.
    Verified,
    /// 整改中: 限期整改 with a committed date, or following a systemic problem.
    Rectifying,
    /// 申诉中: the unit appealed; a reviewer outside the unit decides.
    Appealing,
    /// 待反馈: rectified or explained; the evaluator is to be told.
    Rectified,
    /// 已反馈: waiting for the evaluator's rating of the rectification and the call-back.
    FeedbackGiven,
    /// 已回访: waiting for 结案.
    CalledBack,
    /// 已结案.
    Closed,
}

/// Escalation of a phase that is late or about to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// 预警: the last working day of the phase has begun.
    Warning,
    /// 督办: the phase is overdue; the supervisor of the unit's county is asked to act.
    Supervision,
    /// 通报: still overdue `notice_after` working days later; reported to the city.
    Notice,
}

/// A flag as raised on a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RaisedFlag {
    pub kind: FlagKind,
    pub at: DateTime<Utc>,
}

/// One phase of an order with its due instant and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deadline {
    #[schema(value_type = String)]
    pub phase: PhaseKind,
    pub amount: u32,
    #[schema(value_type = String)]
    pub unit: DurationUnit,
    /// Exclusive: the phase is on time when done before this instant.
    pub due: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub flags: Vec<RaisedFlag>,
}

impl Deadline {
    pub fn from_phase(phase: &Phase) -> Deadline {
        Deadline {
            phase: phase.phase,
            amount: phase.amount,
            unit: phase.unit,
            due: phase.due,
            done_at: None,
            flags: Vec::new(),
        }
    }

    /// Done before the due instant.
    pub fn on_time(&self) -> Option<bool> {
        self.done_at.map(|done| done < self.due)
    }

    pub fn raised(&self, kind: FlagKind) -> bool {
        self.flags.iter().any(|flag| flag.kind == kind)
    }
}

/// How the unit disposes of a verified order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Disposition {
    /// 立行立改: fixed at once.
    Immediate { action: String },
    /// 台账限期整改: a plan with a committed date, kept in the rectification ledger.
    Scheduled {
        plan: String,
        committed_date: NaiveDate,
    },
    /// 解释说明: the request has no legal or policy basis; explained to the evaluator.
    Explained { explanation: String },
    /// Follows a confirmed systemic problem (批处理).
    Systemic { problem_id: u64 },
}

/// The evaluator's rating of the rectification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RectificationLevel {
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
}

impl RectificationLevel {
    /// A 追评 maps onto the three levels: a 差评 is 不满意.
    pub fn from_level(level: Level) -> RectificationLevel {
        match level {
            Level::VerySatisfied | Level::Satisfied => RectificationLevel::Satisfied,
            Level::BasicallySatisfied => RectificationLevel::BasicallySatisfied,
            Level::Dissatisfied | Level::VeryDissatisfied => RectificationLevel::Dissatisfied,
        }
    }
}

/// How the evaluator's rating of the rectification arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationVia {
    /// The citizen's tracking link.
    Link,
    /// The one 追评 (assess number 2) from any channel.
    FollowUp,
    /// Asked on the call-back.
    Callback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evaluation {
    pub level: RectificationLevel,
    pub via: EvaluationVia,
    pub at: DateTime<Utc>,
}

/// Outcome of one call-back attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    /// 未接通 / 无法联系.
    Unreachable,
}

impl CallOutcome {
    pub fn level(self) -> Option<RectificationLevel> {
        match self {
            CallOutcome::Satisfied => Some(RectificationLevel::Satisfied),
            CallOutcome::BasicallySatisfied => Some(RectificationLevel::BasicallySatisfied),
            CallOutcome::Dissatisfied => Some(RectificationLevel::Dissatisfied),
            CallOutcome::Unreachable => None,
        }
    }
}

/// Unreachable attempts after which the call-back is completed by SMS.
pub const CALL_ATTEMPTS_BEFORE_SMS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallAttempt {
    pub at: DateTime<Utc>,
    pub agent: String,
    pub outcome: CallOutcome,
    #[serde(default)]
    pub note: String,
}

/// How the 回访 ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackResult {
    /// The evaluator was reached.
    Reached,
    /// Unreachable after the attempts; an SMS was sent instead.
    SmsAfterUnreachable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferRequest {
    pub requested_by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The unit the requester thinks is responsible, if they know.
    pub to_unit: Option<String>,
    /// 初审不受理 (true) or a 转办 request later on.
    pub not_accepted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppealDecision {
    pub reviewer: String,
    pub at: DateTime<Utc>,
    pub upheld: bool,
    pub note: String,
}

/// 申诉复核: the unit's claim that the review is mistaken or malicious.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Appeal {
    pub filed_by: String,
    pub filed_at: DateTime<Utc>,
    pub reason: String,
    /// References to the evidence (recordings, photos, documents).
    pub evidence: Vec<String>,
    pub decision: Option<AppealDecision>,
    /// The state the order goes back to when the appeal is rejected.
    pub prior_state: OrderState,
}

/// Cause classes: a problem of policy, rules or systems is not the staff's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CauseClass {
    /// 政策法规: the rule itself causes the complaint.
    Policy,
    /// 办事流程.
    Process,
    /// 系统故障: a business system or device.
    System,
    /// 服务态度.
    Attitude,
    /// 环境设施.
    Environment,
    /// 其他.
    Other,
}

impl CauseClass {
    /// Whether staff may be held responsible: never for policy, system or environment.
    pub fn blames_staff(self) -> bool {
        matches!(
            self,
            CauseClass::Process | CauseClass::Attitude | CauseClass::Other
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureOutcome {
    /// Rectified, fed back, called back.
    Resolved,
    /// The appeal was upheld: the review is invalid.
    AppealUpheld,
    /// A suggestion or request was answered.
    Answered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Closure {
    pub outcome: ClosureOutcome,
    pub root_cause: Option<CauseClass>,
    pub action_taken: String,
    pub closed_by: String,
    pub closed_at: DateTime<Utc>,
}

/// One line of an order's timeline (the log holds the same, chained).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[serde(default)]
    pub note: String,
}

/// A work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    /// Log sequence number of the event that opened it.
    pub id: u64,
    pub kind: OrderKind,
    /// The 差评 behind it, for bad reviews.
    pub rating_id: Option<u64>,
    /// 6-digit county whose rules decided its deadlines and routing.
    pub county: String,
    pub area_code: String,
    /// Region codes from the area up to the root (for scopes).
    pub regions: Vec<String>,
    /// The rated department, window and staff.
    pub department: String,
    pub window: Option<String>,
    pub staff: Option<String>,
    /// The hall of the window, when rated at one.
    #[serde(default)]
    pub hall: Option<String>,
    pub task_code: String,
    /// 责任单位, from the routing policy (谁办理谁负责); changes on an approved transfer.
    pub unit: String,
    pub category: String,
    #[schema(value_type = String)]
    pub priority: Priority,
    pub real_name: bool,
    pub level: Option<Level>,
    pub indicators: Vec<String>,
    /// The comment or submission, with long digit runs masked.
    pub text: String,
    /// A phone number is known, so SMS and call-back are possible.
    pub reachable: bool,
    /// The submitter's phone of a complaint, suggestion or request, sealed (a 差评's is in its
    /// rating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub contact: Option<crate::model::SealedField>,
    /// The channel it came in by.
    #[serde(default = "default_channel")]
    #[schema(value_type = String)]
    pub channel: crate::model::Channel,
    pub received_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub state: OrderState,
    pub deadlines: Vec<Deadline>,
    /// Working days after a due instant at which a late phase is reported to the city (通报).
    pub notice_after: u32,
    /// Why the deadline policy gave no deadlines (a missing holiday table, a failing rule);
    /// such an order is listed for the supervisor and never silently untimed.
    pub deadline_error: Option<String>,
    /// Content hash of the rules that set the deadlines and the route.
    pub policy_version: String,
    /// Phases done while the order had no deadlines, applied when it gets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(ignore)]
    pub untimed_done: Vec<(PhaseKind, DateTime<Utc>)>,
    /// sha256 (hex) of the citizen's tracking token; the token itself is never stored.
    #[schema(ignore)]
    pub tracking_hash: String,
    pub disposition: Option<Disposition>,
    pub transfer: Option<TransferRequest>,
    pub transfers: u32,
    pub appeal: Option<Appeal>,
    /// The evaluator's rating of the current round's rectification.
    pub evaluation: Option<Evaluation>,
    /// Ratings of earlier rounds (a 不满意 reopened the order).
    #[serde(default)]
    pub past_evaluations: Vec<Evaluation>,
    pub calls: Vec<CallAttempt>,
    pub callback: Option<CallbackResult>,
    /// Times a 不满意 rating of the rectification reopened it.
    pub reopened: u32,
    pub problem: Option<u64>,
    pub closure: Option<Closure>,
    /// The evaluator was sent the tracking link.
    #[serde(default)]
    pub tracking_notified: bool,
    /// Which facts of this order the roll-up counters already hold (a bit per fact), so that
    /// each is counted once however the order moves.
    #[serde(default)]
    #[schema(ignore)]
    pub counted: u32,
    pub history: Vec<Step>,
}

fn default_channel() -> crate::model::Channel {
    crate::model::Channel::Pc
}

/// A requested change of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderChange {
    /// 初审: accept.
    Accept {
        #[serde(default)]
        note: String,
    },
    /// 初审不受理 (while dispatched) or 转办/退单 later: a supervisor decides.
    RequestTransfer {
        reason: String,
        #[serde(default)]
        to_unit: Option<String>,
    },
    /// The supervisor's decision on a transfer request; the clock keeps running either way.
    DecideTransfer {
        approve: bool,
        /// The new responsible unit when approved.
        #[serde(default)]
        unit: Option<String>,
        #[serde(default)]
        note: String,
    },
    /// The evaluator was contacted (联系评价人).
    Contact {
        #[serde(default)]
        note: String,
    },
    /// 核实: the facts were checked.
    Verify {
        finding: String,
    },
    Dispose {
        disposition: Disposition,
    },
    /// A 限期整改 is done.
    Rectified {
        action: String,
    },
    /// 申诉 within the appeal window.
    Appeal {
        reason: String,
        #[serde(default)]
        evidence: Vec<String>,
    },
    DecideAppeal {
        upheld: bool,
        note: String,
    },
    /// 反馈: the evaluator was told what was done.
    Feedback {
        message: String,
    },
    /// The evaluator rated the rectification. A 不满意 reopens the order with `deadlines`
    /// (computed by the deadline policy from the moment of reopening).
    Evaluate {
        level: RectificationLevel,
        via: EvaluationVia,
        #[serde(default)]
        #[schema(value_type = Vec<Object>)]
        deadlines: Vec<Phase>,
    },
    /// One 回访 attempt. A 不满意 outcome reopens the order like [`OrderChange::Evaluate`].
    Callback {
        outcome: CallOutcome,
        #[serde(default)]
        note: String,
        #[serde(default)]
        #[schema(value_type = Vec<Object>)]
        deadlines: Vec<Phase>,
    },
    /// The call-back was completed by SMS after the unreachable attempts. The SMS is queued in
    /// the same transaction as the change, so it is sent once, and only if the change holds.
    CallbackBySms {
        #[schema(value_type = Object)]
        sms: crate::outreach::MessageInput,
    },
    /// 结案.
    Close {
        root_cause: CauseClass,
        action_taken: String,
    },
    /// A suggestion or request answered (and closed).
    Answer {
        reply: String,
    },
    /// Raised by the deadline sweep.
    Flag {
        #[schema(value_type = String)]
        phase: PhaseKind,
        kind: FlagKind,
    },
    /// Deadlines for an order that opened without them (the deadline policy failed, e.g. a
    /// holiday table was missing): decided again from the time the order was received, once the
    /// policy can.
    Timed {
        #[schema(value_type = Vec<Object>)]
        deadlines: Vec<Phase>,
        #[serde(default)]
        notice_after: Option<u32>,
    },
    /// Follow a confirmed systemic problem.
    LinkProblem {
        problem_id: u64,
    },
    /// The problem's plan is done: rectified and fed back.
    ProblemDone {
        problem_id: u64,
        action: String,
        message: String,
    },
}

impl OrderChange {
    pub fn name(&self) -> &'static str {
        match self {
            OrderChange::Accept { .. } => "accept",
            OrderChange::RequestTransfer { .. } => "request_transfer",
            OrderChange::DecideTransfer { .. } => "decide_transfer",
            OrderChange::Contact { .. } => "contact",
            OrderChange::Verify { .. } => "verify",
            OrderChange::Dispose { .. } => "dispose",
            OrderChange::Rectified { .. } => "rectified",
            OrderChange::Appeal { .. } => "appeal",
            OrderChange::DecideAppeal { .. } => "decide_appeal",
            OrderChange::Feedback { .. } => "feedback",
            OrderChange::Evaluate { .. } => "evaluate",
            OrderChange::Callback { .. } => "callback",
            OrderChange::CallbackBySms { .. } => "callback_by_sms",
            OrderChange::Close { .. } => "close",
            OrderChange::Answer { .. } => "answer",
            OrderChange::Flag { .. } => "flag",
            OrderChange::Timed { .. } => "timed",
            OrderChange::LinkProblem { .. } => "link_problem",
            OrderChange::ProblemDone { .. } => "problem_done",
        }
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("order {order} is {state:?}: {action} is not possible now ({hint})")]
    WrongState {
        order: u64,
        state: OrderState,
        action: &'static str,
        hint: &'static str,
    },
    #[error("{0}")]
    Refused(String),
    #[error("unknown work order {0}")]
    UnknownOrder(u64),
    #[error("unknown problem {0}")]
    UnknownProblem(u64),
}

fn required(field: &str, value: &str) -> Result<(), WorkflowError> {
    if value.trim().is_empty() {
        return Err(WorkflowError::Refused(format!("{field} is required")));
    }
    Ok(())
}

impl Order {
    /// A new order of `kind`: dispatched, nothing done, no deadlines yet. Callers fill in who
    /// and where it is about (struct update syntax) and time it with [`Order::timed_by`].
    pub fn dispatched(
        kind: OrderKind,
        received_at: DateTime<Utc>,
        opened_at: DateTime<Utc>,
        first_step: Step,
    ) -> Order {
        Order {
            id: 0,
            kind,
            rating_id: None,
            county: String::new(),
            area_code: String::new(),
            regions: Vec::new(),
            department: String::new(),
            window: None,
            staff: None,
            hall: None,
            task_code: String::new(),
            unit: String::new(),
            category: String::new(),
            priority: Priority::Normal,
            real_name: false,
            level: None,
            indicators: Vec::new(),
            text: String::new(),
            reachable: false,
            contact: None,
            channel: default_channel(),
            received_at,
            opened_at,
            state: OrderState::Dispatched,
            deadlines: Vec::new(),
            notice_after: DEFAULT_NOTICE_AFTER,
            deadline_error: None,
            policy_version: String::new(),
            untimed_done: Vec::new(),
            tracking_hash: String::new(),
            disposition: None,
            transfer: None,
            transfers: 0,
            appeal: None,
            evaluation: None,
            past_evaluations: Vec::new(),
            calls: Vec::new(),
            callback: None,
            reopened: 0,
            problem: None,
            closure: None,
            tracking_notified: false,
            counted: 0,
            history: vec![first_step],
        }
    }

    /// The deadlines of a recorded deadline decision, with its rules version; when the policy
    /// failed (or none decided), no deadlines and the reason in `deadline_error`.
    pub fn timed_by(mut self, decision: Option<&crate::event::PolicyDecision>) -> Order {
        let Some(decision) = decision else {
            self.deadline_error = Some("no deadline policy is loaded".into());
            return self;
        };
        self.policy_version = decision.hook_version.clone();
        match serde_json::from_value::<crate::policy::DeadlineOutput>(decision.output.clone()) {
            Ok(output) => {
                self.deadlines = output.phases.iter().map(Deadline::from_phase).collect();
                self.notice_after = output.notice_after.unwrap_or(DEFAULT_NOTICE_AFTER);
            }
            Err(_) => {
                self.deadline_error = Some(
                    decision
                        .output
                        .get("error")
                        .and_then(|error| error.as_str())
                        .unwrap_or("the deadline policy returned no phases")
                        .to_string(),
                );
            }
        }
        self
    }

    pub fn deadline(&self, phase: PhaseKind) -> Option<&Deadline> {
        self.deadlines.iter().find(|d| d.phase == phase)
    }

    fn complete(&mut self, phase: PhaseKind, at: DateTime<Utc>) {
        match self.deadlines.iter_mut().find(|d| d.phase == phase) {
            Some(deadline) if deadline.done_at.is_none() => deadline.done_at = Some(at),
            Some(_) => {}
            // Untimed (the deadline policy failed): remember when, for when it is timed.
            None if self.deadline_error.is_some()
                && !self.untimed_done.iter().any(|(done, _)| *done == phase) =>
            {
                self.untimed_done.push((phase, at));
            }
            None => {}
        }
    }

    fn wrong(&self, action: &'static str, hint: &'static str) -> WorkflowError {
        WorkflowError::WrongState {
            order: self.id,
            state: self.state,
            action,
            hint,
        }
    }

    pub fn is_open(&self) -> bool {
        self.state != OrderState::Closed
    }

    /// A 不满意 rating of the rectification: back to disposition, with fresh deadlines for the
    /// phases that follow it (the earlier ones stay done).
    fn reopen(&mut self, deadlines: &[Phase]) {
        self.reopened += 1;
        self.state = OrderState::Verified;
        self.past_evaluations.extend(self.evaluation.take());
        self.disposition = None;
        self.callback = None;
        self.calls.clear();
        for phase in deadlines {
            if matches!(
                phase.phase,
                PhaseKind::Rectify | PhaseKind::Feedback | PhaseKind::Callback
            ) {
                self.deadlines.retain(|d| d.phase != phase.phase);
                self.deadlines.push(Deadline::from_phase(phase));
            }
        }
        for deadline in &mut self.deadlines {
            if matches!(
                deadline.phase,
                PhaseKind::Rectify | PhaseKind::Feedback | PhaseKind::Callback
            ) {
                deadline.done_at = None;
            }
        }
        self.deadlines.sort_by_key(|d| d.phase);
    }

    /// Applies a change made by `actor` at `at`, or says why it is not allowed now.
    pub fn apply(
        &mut self,
        change: &OrderChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), WorkflowError> {
        use OrderState::*;
        if self.state == Closed {
            return Err(self.wrong(change.name(), "the order is closed"));
        }
        let mut note;
        match change {
            OrderChange::Accept { note: text } => {
                if self.state != Dispatched {
                    return Err(self.wrong("accept", "only a dispatched order is accepted"));
                }
                if self.transfer.is_some() {
                    return Err(self.wrong("accept", "a transfer request waits for a decision"));
                }
                self.state = Accepted;
                note = text.clone();
            }
            OrderChange::RequestTransfer { reason, to_unit } => {
                required("reason", reason)?;
                if !matches!(self.state, Dispatched | Accepted | Verified) {
                    return Err(self.wrong(
                        "request_transfer",
                        "only before a disposition can an order change unit",
                    ));
                }
                if self.transfer.is_some() {
                    return Err(self.wrong("request_transfer", "a request is already pending"));
                }
                self.transfer = Some(TransferRequest {
                    requested_by: actor.to_string(),
                    at,
                    reason: reason.clone(),
                    to_unit: to_unit.clone(),
                    not_accepted: self.state == Dispatched,
                });
                note = reason.clone();
            }
            OrderChange::DecideTransfer {
                approve,
                unit,
                note: text,
            } => {
                let Some(request) = self.transfer.take() else {
                    return Err(self.wrong("decide_transfer", "no transfer request is pending"));
                };
                if *approve {
                    let Some(unit) = unit.clone().or(request.to_unit.clone()) else {
                        self.transfer = Some(request);
                        return Err(WorkflowError::Refused(
                            "an approved transfer needs the new responsible unit".into(),
                        ));
                    };
                    if unit == self.unit {
                        self.transfer = Some(request);
                        return Err(WorkflowError::Refused(format!(
                            "{unit} is already the responsible unit"
                        )));
                    }
                    self.unit = unit.clone();
                    self.transfers += 1;
                    // The new unit starts with its own 初审; the deadlines do not move.
                    self.state = Dispatched;
                    note = format!("转办至 {unit}: {text}");
                } else {
                    note = format!("不同意转办: {text}");
                }
            }
            OrderChange::Contact { note: text } => {
                if !matches!(self.state, Accepted | Verified) {
                    return Err(self.wrong("contact", "contact follows acceptance"));
                }
                self.complete(PhaseKind::Contact, at);
                note = text.clone();
            }
            OrderChange::Verify { finding } => {
                required("finding", finding)?;
                if self.state != Accepted {
                    return Err(self.wrong("verify", "verification follows acceptance"));
                }
                if self.kind.is_answered() {
                    return Err(self.wrong("verify", "a suggestion or request is answered"));
                }
                self.complete(PhaseKind::Contact, at);
                self.complete(PhaseKind::Verify, at);
                self.state = Verified;
                note = finding.clone();
            }
            OrderChange::Dispose { disposition } => {
                if self.state != Verified {
                    return Err(self.wrong("dispose", "a disposition follows verification"));
                }
                if self.transfer.is_some() {
                    return Err(self.wrong("dispose", "a transfer request waits for a decision"));
                }
                match disposition {
                    Disposition::Immediate { action } => {
                        required("action", action)?;
                        self.complete(PhaseKind::Rectify, at);
                        self.state = Rectified;
                        note = action.clone();
                    }
                    Disposition::Explained { explanation } => {
                        required("explanation", explanation)?;
                        self.complete(PhaseKind::Rectify, at);
                        self.state = Rectified;
                        note = explanation.clone();
                    }
                    Disposition::Scheduled {
                        plan,
                        committed_date,
                    } => {
                        required("plan", plan)?;
                        if *committed_date < local_date(at) {
                            return Err(WorkflowError::Refused(format!(
                                "committed date {committed_date} is in the past"
                            )));
                        }
                        self.state = Rectifying;
                        note = format!("{plan}（承诺 {committed_date} 前完成）");
                    }
                    Disposition::Systemic { .. } => {
                        return Err(WorkflowError::Refused(
                            "an order follows a systemic problem when a supervisor confirms the problem"
                                .into(),
                        ));
                    }
                }
                self.disposition = Some(disposition.clone());
            }
            OrderChange::Rectified { action } => {
                required("action", action)?;
                if self.state != Rectifying {
                    return Err(self.wrong("rectified", "only a 限期整改 is completed later"));
                }
                if matches!(self.disposition, Some(Disposition::Systemic { .. })) {
                    return Err(self.wrong(
                        "rectified",
                        "the order follows a systemic problem and completes with it",
                    ));
                }
                self.complete(PhaseKind::Rectify, at);
                self.state = Rectified;
                note = action.clone();
            }
            OrderChange::Appeal { reason, evidence } => {
                required("reason", reason)?;
                if self.kind != OrderKind::BadReview {
                    return Err(WorkflowError::Refused(
                        "only a bad review can be appealed".into(),
                    ));
                }
                if !matches!(self.state, Dispatched | Accepted | Verified | Rectifying) {
                    return Err(self.wrong("appeal", "an appeal comes before the feedback"));
                }
                if self.appeal.is_some() {
                    return Err(WorkflowError::Refused(
                        "this order was already appealed; an appeal is filed once".into(),
                    ));
                }
                match self.deadline(PhaseKind::Appeal) {
                    Some(window) if at >= window.due => {
                        return Err(WorkflowError::Refused(format!(
                            "the appeal window closed at {}",
                            window.due.to_rfc3339()
                        )));
                    }
                    None => {
                        return Err(WorkflowError::Refused(
                            "the county's deadline policy sets no appeal window".into(),
                        ));
                    }
                    Some(_) => {}
                }
                if evidence.is_empty() {
                    return Err(WorkflowError::Refused(
                        "an appeal needs evidence (at least one reference)".into(),
                    ));
                }
                self.appeal = Some(Appeal {
                    filed_by: actor.to_string(),
                    filed_at: at,
                    reason: reason.clone(),
                    evidence: evidence.clone(),
                    decision: None,
                    prior_state: self.state,
                });
                self.complete(PhaseKind::Appeal, at);
                self.state = Appealing;
                note = reason.clone();
            }
            OrderChange::DecideAppeal { upheld, note: text } => {
                required("note", text)?;
                if self.state != Appealing {
                    return Err(self.wrong("decide_appeal", "no appeal is pending"));
                }
                let Some(appeal) = self.appeal.as_mut() else {
                    return Err(self.wrong("decide_appeal", "no appeal is pending"));
                };
                if appeal.filed_by == actor {
                    return Err(WorkflowError::Refused(
                        "the one who filed an appeal cannot decide it".into(),
                    ));
                }
                appeal.decision = Some(AppealDecision {
                    reviewer: actor.to_string(),
                    at,
                    upheld: *upheld,
                    note: text.clone(),
                });
                if *upheld {
                    self.state = Closed;
                    self.closure = Some(Closure {
                        outcome: ClosureOutcome::AppealUpheld,
                        root_cause: None,
                        action_taken: text.clone(),
                        closed_by: actor.to_string(),
                        closed_at: at,
                    });
                    note = format!("申诉成立: {text}");
                } else {
                    self.state = appeal.prior_state;
                    note = format!("申诉不成立: {text}");
                }
            }
            OrderChange::Feedback { message } => {
                required("message", message)?;
                if self.state != Rectified {
                    return Err(self.wrong("feedback", "feedback follows the rectification"));
                }
                self.complete(PhaseKind::Feedback, at);
                self.state = FeedbackGiven;
                note = message.clone();
            }
            OrderChange::Evaluate {
                level,
                via,
                deadlines,
            } => {
                if self.state != FeedbackGiven {
                    return Err(self.wrong("evaluate", "the rectification is rated after feedback"));
                }
                if self.evaluation.is_some() {
                    return Err(WorkflowError::Refused(
                        "the rectification of this round was already rated".into(),
                    ));
                }
                self.evaluation = Some(Evaluation {
                    level: *level,
                    via: *via,
                    at,
                });
                note = format!("{level:?}");
                if *level == RectificationLevel::Dissatisfied {
                    self.reopen(deadlines);
                    note = "不满意，重新整改".into();
                }
            }
            OrderChange::Callback {
                outcome,
                note: text,
                deadlines,
            } => {
                if self.state != FeedbackGiven {
                    return Err(self.wrong("callback", "the call-back follows the feedback"));
                }
                if self.calls.len() >= CALL_ATTEMPTS_BEFORE_SMS
                    && self
                        .calls
                        .iter()
                        .all(|call| call.outcome == CallOutcome::Unreachable)
                {
                    return Err(WorkflowError::Refused(format!(
                        "{CALL_ATTEMPTS_BEFORE_SMS} attempts were unreachable; the call-back is completed by SMS"
                    )));
                }
                self.calls.push(CallAttempt {
                    at,
                    agent: actor.to_string(),
                    outcome: *outcome,
                    note: text.clone(),
                });
                note = text.clone();
                if let Some(level) = outcome.level() {
                    if self.evaluation.is_none() {
                        self.evaluation = Some(Evaluation {
                            level,
                            via: EvaluationVia::Callback,
                            at,
                        });
                    }
                    if level == RectificationLevel::Dissatisfied {
                        self.reopen(deadlines);
                        note = format!("回访不满意，重新整改 {text}");
                    } else {
                        self.callback = Some(CallbackResult::Reached);
                        self.complete(PhaseKind::Callback, at);
                        self.state = CalledBack;
                    }
                }
            }
            OrderChange::CallbackBySms { .. } => {
                if self.state != FeedbackGiven || !self.needs_callback_sms() {
                    return Err(self.wrong(
                        "callback_by_sms",
                        "an SMS completes a call-back only after the unreachable attempts",
                    ));
                }
                self.callback = Some(CallbackResult::SmsAfterUnreachable);
                self.complete(PhaseKind::Callback, at);
                self.state = CalledBack;
                note = "短信回访".into();
            }
            OrderChange::Close {
                root_cause,
                action_taken,
            } => {
                required("action_taken", action_taken)?;
                if self.state != CalledBack {
                    return Err(self.wrong("close", "an order is closed after the call-back"));
                }
                self.state = Closed;
                self.closure = Some(Closure {
                    outcome: ClosureOutcome::Resolved,
                    root_cause: Some(*root_cause),
                    action_taken: action_taken.clone(),
                    closed_by: actor.to_string(),
                    closed_at: at,
                });
                note = action_taken.clone();
            }
            OrderChange::Answer { reply } => {
                required("reply", reply)?;
                if !self.kind.is_answered() {
                    return Err(WorkflowError::Refused(
                        "bad reviews and complaints are rectified, not answered".into(),
                    ));
                }
                if self.state != Accepted {
                    return Err(self.wrong("answer", "an accepted suggestion is answered"));
                }
                for phase in [PhaseKind::Contact, PhaseKind::Verify, PhaseKind::Feedback] {
                    self.complete(phase, at);
                }
                self.state = Closed;
                self.closure = Some(Closure {
                    outcome: ClosureOutcome::Answered,
                    root_cause: None,
                    action_taken: reply.clone(),
                    closed_by: actor.to_string(),
                    closed_at: at,
                });
                note = reply.clone();
            }
            OrderChange::Flag { phase, kind } => {
                let Some(deadline) = self.deadlines.iter_mut().find(|d| d.phase == *phase) else {
                    return Err(WorkflowError::Refused(format!(
                        "the order has no {phase:?} phase"
                    )));
                };
                if deadline.done_at.is_some() || deadline.raised(*kind) {
                    return Err(WorkflowError::Refused(format!(
                        "{kind:?} on {phase:?} is not due"
                    )));
                }
                deadline.flags.push(RaisedFlag { kind: *kind, at });
                note = format!("{phase:?}");
            }
            OrderChange::Timed {
                deadlines,
                notice_after,
            } => {
                if self.deadline_error.is_none() {
                    return Err(WorkflowError::Refused(
                        "the order already has its deadlines".into(),
                    ));
                }
                if deadlines.is_empty() {
                    return Err(WorkflowError::Refused("no deadlines given".into()));
                }
                self.deadlines = deadlines.iter().map(Deadline::from_phase).collect();
                self.deadline_error = None;
                // Steps already taken count as done when they were taken.
                for (phase, at) in std::mem::take(&mut self.untimed_done) {
                    self.complete(phase, at);
                }
                self.notice_after = notice_after.unwrap_or(self.notice_after);
                note = String::new();
            }
            OrderChange::LinkProblem { problem_id } => {
                if !matches!(self.state, Dispatched | Accepted | Verified | Rectifying) {
                    return Err(self.wrong(
                        "link_problem",
                        "an order joins a problem before it is rectified",
                    ));
                }
                if self.problem.is_some() {
                    return Err(WorkflowError::Refused(format!(
                        "order {} already follows a problem",
                        self.id
                    )));
                }
                self.problem = Some(*problem_id);
                self.disposition = Some(Disposition::Systemic {
                    problem_id: *problem_id,
                });
                self.state = Rectifying;
                note = format!("#{problem_id}");
            }
            OrderChange::ProblemDone {
                problem_id,
                action,
                message,
            } => {
                if self.problem != Some(*problem_id) || self.state != Rectifying {
                    return Err(self.wrong(
                        "problem_done",
                        "only an order following the problem is completed with it",
                    ));
                }
                for phase in [
                    PhaseKind::Contact,
                    PhaseKind::Verify,
                    PhaseKind::Rectify,
                    PhaseKind::Feedback,
                ] {
                    self.complete(phase, at);
                }
                self.state = FeedbackGiven;
                note = format!("{action} / {message}");
            }
        }
        self.history.push(Step {
            at,
            actor: actor.to_string(),
            action: change.name().to_string(),
            note,
        });
        Ok(())
    }

    /// Every call-back attempt so far was unreachable and there were enough of them.
    pub fn needs_callback_sms(&self) -> bool {
        self.state == OrderState::FeedbackGiven
            && self.calls.len() >= CALL_ATTEMPTS_BEFORE_SMS
            && self
                .calls
                .iter()
                .all(|call| call.outcome == CallOutcome::Unreachable)
    }

    /// Phases whose timer runs in the current state: a phase already done, the appeal window,
    /// and every phase while an appeal is being decided, raise nothing.
    fn running(&self, phase: PhaseKind) -> bool {
        use OrderState::*;
        if phase == PhaseKind::Appeal || matches!(self.state, Appealing | Closed) {
            return false;
        }
        match phase {
            PhaseKind::Contact | PhaseKind::Verify => {
                matches!(self.state, Dispatched | Accepted | Verified | Rectifying)
            }
            PhaseKind::Rectify | PhaseKind::Feedback | PhaseKind::Callback => true,
            PhaseKind::Appeal => false,
        }
    }

    /// The flags that are due `as_of` and not raised yet, in order.
    pub fn due_flags(
        &self,
        as_of: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Result<Vec<(PhaseKind, FlagKind)>, CalendarError> {
        let mut due = Vec::new();
        for deadline in &self.deadlines {
            if deadline.done_at.is_some() || !self.running(deadline.phase) {
                continue;
            }
            for kind in [FlagKind::Warning, FlagKind::Supervision, FlagKind::Notice] {
                if deadline.raised(kind) {
                    continue;
                }
                if as_of >= flag_instant(deadline, kind, self.notice_after, calendar)? {
                    due.push((deadline.phase, kind));
                }
            }
        }
        Ok(due)
    }
}

/// When a flag of a phase is due.
///
/// - 预警: the start of the phase's last day (a phase counted in days), or the last quarter of
///   it (at least an hour) for a phase counted in hours;
/// - 督办: the due instant;
/// - 通报: `notice_after` working days after the due instant.
pub fn flag_instant(
    deadline: &Deadline,
    kind: FlagKind,
    notice_after: u32,
    calendar: &Calendar,
) -> Result<DateTime<Utc>, CalendarError> {
    let last_moment = deadline.due - chrono::TimeDelta::seconds(1);
    Ok(match kind {
        FlagKind::Warning => match deadline.unit {
            DurationUnit::Hours => {
                let lead = (i64::from(deadline.amount) * 15).max(60);
                deadline.due - chrono::TimeDelta::minutes(lead)
            }
            DurationUnit::WorkingDays | DurationUnit::NaturalDays => {
                day_start(local_date(last_moment))
            }
        },
        FlagKind::Supervision => deadline.due,
        FlagKind::Notice => calendar.add_working_days(last_moment, notice_after.max(1))?,
    })
}

/// State of a systemic problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemState {
    Open,
    Done,
}

/// A systemic problem (批处理): one owner, one plan, one deadline; its orders follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Log sequence number of the event that opened it.
    pub id: u64,
    pub title: String,
    pub cause: CauseClass,
    /// The owner unit.
    pub owner: String,
    pub plan: String,
    pub due: NaiveDate,
    /// Region whose supervisor confirmed it (scopes who sees it).
    pub region: String,
    /// What the cluster shares (an item, an indicator, a stage), as proposed.
    #[serde(default)]
    pub basis: String,
    pub orders: Vec<u64>,
    pub state: ProblemState,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
    pub action: Option<String>,
    /// What every affected evaluator was told.
    pub message: Option<String>,
}

/// A problem as a supervisor confirms it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProblemInput {
    pub title: String,
    pub cause: CauseClass,
    pub owner: String,
    pub plan: String,
    pub due: NaiveDate,
    pub region: String,
    #[serde(default)]
    pub basis: String,
    pub orders: Vec<u64>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn calendar() -> Calendar {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/calendar");
        Calendar::load_dir(&dir).expect("calendar")
    }

    fn beijing(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        crate::calendar::china_tz()
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn order(calendar: &Calendar, received: DateTime<Utc>) -> Order {
        let phase = |phase, amount| Phase {
            phase,
            amount,
            unit: DurationUnit::WorkingDays,
            due: calendar
                .add_working_days(received, amount)
                .expect("in the tables"),
        };
        Order {
            id: 7,
            rating_id: Some(6),
            county: "410421".into(),
            area_code: "410421".into(),
            regions: vec!["410421".into(), "410400".into()],
            department: "D".into(),
            task_code: "T".into(),
            unit: "D".into(),
            category: "waiting".into(),
            priority: Priority::High,
            real_name: true,
            level: Some(Level::VeryDissatisfied),
            indicators: vec!["510".into()],
            reachable: true,
            channel: crate::model::Channel::HallDevice,
            deadlines: [
                phase(PhaseKind::Contact, 1),
                phase(PhaseKind::Verify, 2),
                phase(PhaseKind::Rectify, 5),
                phase(PhaseKind::Feedback, 7),
                phase(PhaseKind::Appeal, 3),
            ]
            .iter()
            .map(Deadline::from_phase)
            .collect(),
            policy_version: "v".into(),
            history: Vec::new(),
            ..Order::dispatched(
                OrderKind::BadReview,
                received,
                received,
                Step {
                    at: received,
                    actor: "system".into(),
                    action: "dispatch".into(),
                    note: String::new(),
                },
            )
        }
    }

    #[test]
    fn flags_follow_the_calendar_across_national_day() {
        let calendar = calendar();
        let received = beijing(2026, 9, 30, 10);
        let order = order(&calendar, received);
        // Rectify: 5 working days from 09-30 → 10-08, 10-09, 10-10 (调休 Saturday), 10-12, 10-13.
        let rectify = order.deadline(PhaseKind::Rectify).expect("rectify");
        assert_eq!(rectify.due, beijing(2026, 10, 14, 0));
        assert_eq!(
            flag_instant(rectify, FlagKind::Warning, 2, &calendar).expect("in tables"),
            beijing(2026, 10, 13, 0)
        );
        // 通报 two working days after: 10-14, 10-15 → the start of 10-16.
        assert_eq!(
            flag_instant(rectify, FlagKind::Notice, 2, &calendar).expect("in tables"),
            beijing(2026, 10, 16, 0)
        );
        // The holiday does not count: on 10-03 not even the 1-working-day contact is due.
        let flags = order
            .due_flags(beijing(2026, 10, 3, 12), &calendar)
            .expect("flags");
        assert_eq!(flags, Vec::new());
        // 10-08 is its one working day: warned that morning, supervised from 10-09.
        let flags = order
            .due_flags(beijing(2026, 10, 8, 9), &calendar)
            .expect("flags");
        assert_eq!(flags, vec![(PhaseKind::Contact, FlagKind::Warning)]);
        let flags = order
            .due_flags(beijing(2026, 10, 9, 0), &calendar)
            .expect("flags");
        assert!(flags.contains(&(PhaseKind::Contact, FlagKind::Supervision)));
        assert!(!flags.iter().any(|(phase, _)| *phase == PhaseKind::Rectify));
    }

    #[test]
    fn the_whole_loop_and_its_refusals() {
        let calendar = calendar();
        let received = beijing(2026, 9, 30, 10);
        let mut order = order(&calendar, received);
        let at = received + chrono::TimeDelta::hours(1);
        let feedback = OrderChange::Feedback {
            message: "已整改".into(),
        };
        assert!(matches!(
            order.apply(&feedback, "h", at),
            Err(WorkflowError::WrongState { .. })
        ));
        for change in [
            OrderChange::Accept {
                note: "受理".into(),
            },
            OrderChange::Verify {
                finding: "属实".into(),
            },
            OrderChange::Dispose {
                disposition: Disposition::Immediate {
                    action: "增开窗口".into(),
                },
            },
            feedback,
        ] {
            order.apply(&change, "h", at).expect("allowed");
        }
        assert_eq!(order.state, OrderState::FeedbackGiven);
        for _ in 0..CALL_ATTEMPTS_BEFORE_SMS {
            let attempt = OrderChange::Callback {
                outcome: CallOutcome::Unreachable,
                note: String::new(),
                deadlines: Vec::new(),
            };
            order.apply(&attempt, "agent", at).expect("attempt");
        }
        assert!(order.needs_callback_sms());
        order
            .apply(
                &OrderChange::CallbackBySms {
                    sms: crate::outreach::MessageInput {
                        channel: crate::outreach::MessageChannel::Sms,
                        purpose: crate::outreach::MessagePurpose::Callback,
                        subject: "order:7".into(),
                        to: crate::model::SealedField {
                            sealed: String::new(),
                            masked: "138****0000".into(),
                        },
                        text: "已处理".into(),
                    },
                },
                "system",
                at,
            )
            .expect("sms");
        let close = OrderChange::Close {
            root_cause: CauseClass::Process,
            action_taken: "增开窗口".into(),
        };
        order.apply(&close, "h", at).expect("close");
        assert_eq!(order.state, OrderState::Closed);
        assert!(
            order
                .deadline(PhaseKind::Rectify)
                .and_then(Deadline::on_time)
                == Some(true)
        );
    }

    #[test]
    fn an_untimed_order_is_timed_later_and_keeps_what_was_done() {
        let calendar = calendar();
        let received = beijing(2026, 9, 30, 10);
        let mut order = order(&calendar, received);
        let phases: Vec<Phase> = order
            .deadlines
            .iter()
            .map(|d| Phase {
                phase: d.phase,
                amount: d.amount,
                unit: d.unit,
                due: d.due,
            })
            .collect();
        order.deadlines.clear();
        order.deadline_error = Some("no holiday table loaded for 2027".into());
        let timed = OrderChange::Timed {
            deadlines: phases,
            notice_after: Some(3),
        };
        let at = received + chrono::TimeDelta::hours(1);
        order
            .apply(
                &OrderChange::Accept {
                    note: String::new(),
                },
                "h",
                at,
            )
            .expect("accept");
        order
            .apply(
                &OrderChange::Verify {
                    finding: "属实".into(),
                },
                "h",
                at,
            )
            .expect("verify");
        assert!(
            order
                .due_flags(beijing(2026, 12, 1, 0), &calendar)
                .expect("flags")
                .is_empty()
        );
        order.apply(&timed, "system", at).expect("timed");
        assert_eq!(order.deadline_error, None);
        assert_eq!(order.notice_after, 3);
        assert_eq!(
            order.deadline(PhaseKind::Verify).and_then(|d| d.done_at),
            Some(at)
        );
        assert_eq!(
            order.deadline(PhaseKind::Contact).and_then(|d| d.done_at),
            Some(at)
        );
        assert!(order.apply(&timed, "system", at).is_err(), "timed once");
    }

    #[test]
    fn an_approved_transfer_moves_the_order_and_keeps_its_clock() {
        let calendar = calendar();
        let received = beijing(2026, 9, 30, 10);
        let mut order = order(&calendar, received);
        let due = order.deadlines.clone();
        let at = received + chrono::TimeDelta::hours(2);
        order
            .apply(
                &OrderChange::RequestTransfer {
                    reason: "非本局事项".into(),
                    to_unit: Some("E".into()),
                },
                "h",
                at,
            )
            .expect("request");
        let same = OrderChange::DecideTransfer {
            approve: true,
            unit: Some("D".into()),
            note: String::new(),
        };
        assert!(order.apply(&same, "s", at).is_err(), "to the same unit");
        order
            .apply(
                &OrderChange::DecideTransfer {
                    approve: true,
                    unit: None,
                    note: "同意".into(),
                },
                "s",
                at,
            )
            .expect("decide");
        assert_eq!(
            (order.unit.as_str(), order.state, order.transfers),
            ("E", OrderState::Dispatched, 1)
        );
        assert_eq!(order.deadlines, due, "the clock keeps running");
        assert!(order.transfer.is_none());
    }

    #[test]
    fn dissatisfied_reopens_with_new_deadlines() {
        let calendar = calendar();
        let received = beijing(2026, 9, 30, 10);
        let mut order = order(&calendar, received);
        order.state = OrderState::FeedbackGiven;
        let later = beijing(2026, 10, 20, 9);
        let fresh = Phase {
            phase: PhaseKind::Rectify,
            amount: 5,
            unit: DurationUnit::WorkingDays,
            due: calendar.add_working_days(later, 5).expect("tables"),
        };
        order
            .apply(
                &OrderChange::Evaluate {
                    level: RectificationLevel::Dissatisfied,
                    via: EvaluationVia::Link,
                    deadlines: vec![fresh.clone()],
                },
                "citizen",
                later,
            )
            .expect("evaluate");
        assert_eq!(order.state, OrderState::Verified);
        assert_eq!(order.reopened, 1);
        assert_eq!(
            order.deadline(PhaseKind::Rectify).map(|d| d.due),
            Some(fresh.due)
        );
    }

    #[test]
    fn appeals_need_a_window_evidence_and_another_person() {
        let calendar = calendar();
        let received = beijing(2026, 9, 30, 10);
        let mut order = order(&calendar, received);
        let appeal = OrderChange::Appeal {
            reason: "恶意差评".into(),
            evidence: vec!["录像 2026-09-30".into()],
        };
        let late = beijing(2026, 10, 13, 9);
        assert!(order.apply(&appeal, "h", late).is_err());
        order.apply(&appeal, "h", received).expect("in window");
        let decide = OrderChange::DecideAppeal {
            upheld: true,
            note: "录像证实".into(),
        };
        assert!(order.apply(&decide, "h", received).is_err());
        order.apply(&decide, "r", received).expect("reviewer");
        assert_eq!(order.state, OrderState::Closed);
        assert_eq!(
            order.closure.as_ref().map(|c| c.outcome),
            Some(ClosureOutcome::AppealUpheld)
        );
    }
}
