//! The closed loop: work orders opened from bad reviews, complaints, suggestions and requests,
//! their phases and deadlines, appeals, call-backs and systemic problems.
//!
//! This module is pure: an [`Order`] changes only through [`Order::apply`], which checks that
//! the change is allowed in the order's state. The store calls the same function when a change
//! is requested (to refuse a wrong one with a reason) and when it projects the recorded event
//! (live or during a rebuild), so the log alone reproduces every order.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::{Calendar, CalendarError, DurationUnit, Reckoned, day_start, local_date};
use crate::hooks::{
    AwaitingPhase, DeadlineOutput, Phase, PhaseKind, Priority, RoutingKind, RoutingOutput,
    time_phase,
};
use crate::model::Level;

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
    /// What the routing and deadline policies are told the order is about.
    pub fn routing_kind(self) -> RoutingKind {
        match self {
            OrderKind::BadReview => RoutingKind::BadReview,
            OrderKind::Complaint => RoutingKind::Complaint,
            OrderKind::Suggestion => RoutingKind::Suggestion,
            OrderKind::Request => RoutingKind::Request,
        }
    }

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
    #[schema(value_type = String, pattern = "^(contact|verify|rectify|feedback|callback|appeal)$")]
    pub phase: PhaseKind,
    pub amount: u32,
    #[schema(value_type = String)]
    pub unit: DurationUnit,
    /// Exclusive: the phase is on time when done before this instant.
    pub due: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub flags: Vec<RaisedFlag>,
    /// Counted on a provisional year (its official holiday table is not loaded yet): raises its
    /// 预警 but no 督办 or 通报, and is timed exactly (`retimed`) when the table is loaded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub provisional: bool,
    /// The instant the phase counts from; absent on orders timed before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
}

fn is_false(value: &bool) -> bool {
    !*value
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
            provisional: phase.provisional,
            from: phase.from,
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
    Immediate {
        #[schema(max_length = 2000)]
        action: String,
    },
    /// 台账限期整改: a plan with a committed date, kept in the rectification ledger.
    Scheduled {
        #[schema(max_length = 10000)]
        plan: String,
        committed_date: NaiveDate,
    },
    /// 解释说明: the request has no legal or policy basis; explained to the evaluator.
    Explained {
        #[schema(max_length = 2000)]
        explanation: String,
    },
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
    /// The comment (a 差评's, the rating's own sealed comment) or the submission (sealed with
    /// long digit runs masked); read it with [`Order::text`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub text: Option<crate::model::StoredText>,
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
    /// Phases waiting for the official holiday table of a year (provisional timing is off);
    /// each is timed, and moves to `deadlines`, when its table is loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<AwaitingPhaseSchema>)]
    pub awaiting: Vec<AwaitingPhase>,
    /// Working days after a due instant at which a late phase is reported to the city (通报).
    pub notice_after: u32,
    /// Why the deadline policy gave no deadlines (a missing holiday table, a failing rule);
    /// such an order is listed for the supervisor and never silently untimed.
    pub deadline_error: Option<String>,
    /// Content hash of the rules that set the deadlines and the route.
    pub policy_version: String,
    /// Phases done while they had no deadline (untimed or awaiting), applied when timed.
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
        #[schema(max_length = 2000)]
        note: String,
    },
    /// 初审不受理 (while dispatched) or 转办/退单 later: a supervisor decides.
    RequestTransfer {
        #[schema(max_length = 2000)]
        reason: String,
        #[serde(default)]
        #[schema(max_length = 64)]
        to_unit: Option<String>,
    },
    /// The supervisor's decision on a transfer request; the clock keeps running either way.
    DecideTransfer {
        approve: bool,
        /// The new responsible unit when approved.
        #[serde(default)]
        #[schema(max_length = 64)]
        unit: Option<String>,
        #[serde(default)]
        #[schema(max_length = 2000)]
        note: String,
    },
    /// The evaluator was contacted (联系评价人).
    Contact {
        #[serde(default)]
        #[schema(max_length = 2000)]
        note: String,
    },
    /// 核实: the facts were checked.
    Verify {
        #[schema(max_length = 2000)]
        finding: String,
    },
    Dispose {
        disposition: Disposition,
    },
    /// A 限期整改 is done.
    Rectified {
        #[schema(max_length = 2000)]
        action: String,
    },
    /// 申诉 within the appeal window.
    Appeal {
        #[schema(max_length = 2000)]
        reason: String,
        #[serde(default)]
        #[schema(schema_with = crate::validate::caps::text_list)]
        evidence: Vec<String>,
    },
    DecideAppeal {
        upheld: bool,
        #[schema(max_length = 2000)]
        note: String,
    },
    /// 反馈: the evaluator was told what was done.
    Feedback {
        #[schema(max_length = 2000)]
        message: String,
    },
    /// The evaluator rated the rectification. A 不满意 reopens the order with `deadlines`
    /// (computed by the deadline policy from the moment of reopening).
    Evaluate {
        level: RectificationLevel,
        via: EvaluationVia,
        #[serde(default)]
        #[schema(value_type = Vec<PhaseSchema>)]
        deadlines: Vec<Phase>,
        /// Reopened phases waiting for a holiday table.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<AwaitingPhaseSchema>)]
        awaiting: Vec<AwaitingPhase>,
    },
    /// One 回访 attempt. A 不满意 outcome reopens the order like [`OrderChange::Evaluate`].
    Callback {
        outcome: CallOutcome,
        #[serde(default)]
        #[schema(max_length = 2000)]
        note: String,
        #[serde(default)]
        #[schema(value_type = Vec<PhaseSchema>)]
        deadlines: Vec<Phase>,
        /// Reopened phases waiting for a holiday table.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<AwaitingPhaseSchema>)]
        awaiting: Vec<AwaitingPhase>,
    },
    /// The call-back was completed by SMS after the unreachable attempts. The SMS is queued in
    /// the same transaction as the change, so it is sent once, and only if the change holds.
    CallbackBySms {
        #[schema(value_type = MessageInputSchema)]
        sms: crate::outreach::MessageInput,
    },
    /// 结案.
    Close {
        root_cause: CauseClass,
        #[schema(max_length = 2000)]
        action_taken: String,
    },
    /// A suggestion or request answered (and closed).
    Answer {
        #[schema(max_length = 2000)]
        reply: String,
    },
    /// Raised by the deadline sweep.
    Flag {
        #[schema(value_type = String, max_length = 64, pattern = "^(contact|verify|rectify|feedback|callback|appeal)$")]
        phase: PhaseKind,
        kind: FlagKind,
    },
    /// Deadlines for an order that opened without them (the deadline policy failed, e.g. a
    /// holiday table was missing): decided again from the time the order was received, once the
    /// policy can.
    Timed {
        #[schema(value_type = Vec<PhaseSchema>)]
        deadlines: Vec<Phase>,
        #[serde(default)]
        notice_after: Option<u32>,
        /// Phases still waiting for a holiday table.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<AwaitingPhaseSchema>)]
        awaiting: Vec<AwaitingPhase>,
    },
    /// Phases counted on a provisional year, or waiting for a table, timed again on the
    /// calendar that is loaded now (the official table arrived): same trigger, amount and unit,
    /// a new due instant. Steps already done stay done; flags already raised stay raised.
    Retimed {
        #[schema(value_type = Vec<PhaseSchema>)]
        phases: Vec<Phase>,
        /// Fingerprint of the calendar the phases were timed on.
        #[schema(max_length = 64)]
        calendar_version: String,
    },
    /// Follow a confirmed systemic problem.
    LinkProblem {
        problem_id: u64,
    },
    /// The submitter of a complaint, suggestion or request confirmed the number they gave with
    /// the code the platform sent to it: from now on the platform texts it (the tracking link,
    /// the call-back SMS, the feedback). A citizen's number is never on the order before.
    ContactConfirmed {
        #[schema(value_type = SealedFieldSchema)]
        contact: crate::model::SealedField,
    },
    /// The problem's plan is done: rectified and fed back.
    ProblemDone {
        problem_id: u64,
        #[schema(max_length = 2000)]
        action: String,
        #[schema(max_length = 2000)]
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
            OrderChange::Retimed { .. } => "retimed",
            OrderChange::LinkProblem { .. } => "link_problem",
            OrderChange::ProblemDone { .. } => "problem_done",
            OrderChange::ContactConfirmed { .. } => "contact_confirmed",
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

/// What a new work order is about, whatever brought it in (a 差评 when its rating is recorded,
/// a complaint, suggestion or request at the intake): everything [`Order::open`] does not decide.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSeed {
    pub kind: OrderKind,
    /// The 差评 behind it, for a bad review.
    pub rating_id: Option<u64>,
    pub county: String,
    pub area_code: String,
    /// Region codes from the area up to the root.
    pub regions: Vec<String>,
    /// The department concerned (the rated one, or the one named at the intake); empty when
    /// not known.
    pub department: String,
    pub window: Option<String>,
    pub staff: Option<String>,
    pub hall: Option<String>,
    pub task_code: String,
    pub real_name: bool,
    pub level: Option<Level>,
    pub indicators: Vec<String>,
    /// The comment or submission, sealed (its long digit runs are masked when it is read).
    pub text: Option<crate::model::StoredText>,
    /// A phone number is known (in the rating, or `contact`).
    pub reachable: bool,
    pub contact: Option<crate::model::SealedField>,
    pub channel: crate::model::Channel,
    /// The trigger every deadline counts from.
    pub received_at: DateTime<Utc>,
}

impl Order {
    /// The comment or submission, long digit runs (numbers typed into it) masked; `None` when
    /// there is none or it was erased (past its retention, or its writer's erasure).
    pub fn text(&self, pii: &crate::pii::PiiKey) -> Result<Option<String>, crate::pii::PiiError> {
        let Some(text) = &self.text else {
            return Ok(None);
        };
        Ok(pii
            .open_text(text)?
            .map(|text| crate::validate::mask_digit_runs(&text)))
    }

    /// Opens a work order, the one way one is made: dispatched to the unit the routing decision
    /// names (or to [`Order::fallback_route`] when the routing policy failed or none decided),
    /// timed by the deadline decision ([`Order::timed_by`]), with `first_step` as its first
    /// line, taken when it opens. The store gives it its id and tracking hash.
    pub fn open(
        seed: OrderSeed,
        routing: Option<&crate::event::PolicyDecision>,
        deadline: Option<&crate::event::PolicyDecision>,
        first_step: Step,
    ) -> Order {
        let route = routing
            .and_then(|decision| {
                serde_json::from_value::<RoutingOutput>(decision.output.clone()).ok()
            })
            .unwrap_or_else(|| {
                Order::fallback_route(&seed.department, &seed.area_code, seed.real_name)
            });
        let opened_at = first_step.at;
        Order {
            rating_id: seed.rating_id,
            county: seed.county,
            area_code: seed.area_code,
            regions: seed.regions,
            department: seed.department,
            window: seed.window,
            staff: seed.staff,
            hall: seed.hall,
            task_code: seed.task_code,
            unit: route.unit,
            category: route.category,
            priority: route.priority,
            real_name: seed.real_name,
            level: seed.level,
            indicators: seed.indicators,
            text: seed.text,
            reachable: seed.reachable,
            contact: seed.contact,
            channel: seed.channel,
            ..Order::dispatched(seed.kind, seed.received_at, opened_at, first_step)
        }
        .timed_by(deadline)
    }

    /// The route of an order when the routing policy gives none: 谁办理谁负责, the department
    /// responsible when known, else the area's region; a real-name matter is urgent (its
    /// rectification must be 100% on time), so High, else Normal.
    pub fn fallback_route(department: &str, area_code: &str, real_name: bool) -> RoutingOutput {
        RoutingOutput {
            unit: if department.is_empty() {
                area_code.to_string()
            } else {
                department.to_string()
            },
            category: "other".into(),
            priority: if real_name {
                Priority::High
            } else {
                Priority::Normal
            },
        }
    }

    /// A new order of `kind`: dispatched, nothing done, no deadlines, no route yet; what
    /// [`Order::open`] starts from.
    fn dispatched(
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
            text: None,
            reachable: false,
            contact: None,
            channel: default_channel(),
            received_at,
            opened_at,
            state: OrderState::Dispatched,
            deadlines: Vec::new(),
            awaiting: Vec::new(),
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
    fn timed_by(mut self, decision: Option<&crate::event::PolicyDecision>) -> Order {
        let Some(decision) = decision else {
            self.deadline_error = Some("no deadline policy is loaded".into());
            return self;
        };
        self.policy_version = decision.hook_version.clone();
        match serde_json::from_value::<DeadlineOutput>(decision.output.clone()) {
            Ok(output) => {
                self.deadlines = output.phases.iter().map(Deadline::from_phase).collect();
                self.awaiting = output.awaiting;
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
            // Untimed (the deadline policy failed) or waiting for a holiday table: remember
            // when, for when it is timed.
            None if (self.deadline_error.is_some()
                || self.awaiting.iter().any(|waiting| waiting.phase == phase))
                && !self.untimed_done.iter().any(|(done, _)| *done == phase) =>
            {
                self.untimed_done.push((phase, at));
            }
            None => {}
        }
    }

    /// Puts timed phases in place of the same phases untimed, awaiting or provisional: a phase
    /// done before keeps its completion (and its flags), a phase done while it waited gets it.
    fn take_timing(&mut self, phases: &[Phase]) {
        for phase in phases {
            self.awaiting.retain(|waiting| waiting.phase != phase.phase);
            match self.deadlines.iter_mut().find(|d| d.phase == phase.phase) {
                Some(deadline) => {
                    deadline.amount = phase.amount;
                    deadline.unit = phase.unit;
                    deadline.due = phase.due;
                    deadline.provisional = phase.provisional;
                    deadline.from = phase.from;
                }
                None => self.deadlines.push(Deadline::from_phase(phase)),
            }
            if let Some(index) = self
                .untimed_done
                .iter()
                .position(|(done, _)| *done == phase.phase)
            {
                let (_, at) = self.untimed_done.remove(index);
                self.complete(phase.phase, at);
            }
        }
        self.deadlines.sort_by_key(|d| d.phase);
    }

    /// Whether an order still has phases counted on a provisional year or waiting for a table.
    pub fn has_provisional_timing(&self) -> bool {
        !self.awaiting.is_empty() || self.deadlines.iter().any(|d| d.provisional)
    }

    /// The provisional and awaiting phases that `calendar` times differently now (exactly, or
    /// at all), with the same trigger, amount and unit: what a `retimed` change records.
    /// Phases recorded before triggers were kept cannot be timed again and are left alone.
    pub fn retimed_phases(&self, calendar: &Calendar) -> Result<Vec<Phase>, CalendarError> {
        let mut phases = Vec::new();
        let provisional = self
            .deadlines
            .iter()
            .filter(|d| d.provisional)
            .filter_map(|d| Some((d.phase, d.amount, d.unit, d.from?)));
        let awaiting = self
            .awaiting
            .iter()
            .map(|waiting| (waiting.phase, waiting.amount, waiting.unit, waiting.from));
        for (kind, amount, unit, from) in provisional.chain(awaiting) {
            let Ok(phase) = time_phase(calendar, kind, amount, unit, from)? else {
                continue;
            };
            let was_waiting = self.awaiting.iter().any(|waiting| waiting.phase == kind);
            if was_waiting || !phase.provisional {
                phases.push(phase);
            }
        }
        Ok(phases)
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
    fn reopen(&mut self, deadlines: &[Phase], awaiting: &[AwaitingPhase]) {
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
                self.awaiting.retain(|waiting| waiting.phase != phase.phase);
                self.deadlines.push(Deadline::from_phase(phase));
            }
        }
        for waiting in awaiting {
            if matches!(
                waiting.phase,
                PhaseKind::Rectify | PhaseKind::Feedback | PhaseKind::Callback
            ) {
                self.deadlines.retain(|d| d.phase != waiting.phase);
                self.awaiting.retain(|other| other.phase != waiting.phase);
                self.awaiting.push(waiting.clone());
            }
        }
        self.untimed_done.retain(|(phase, _)| {
            !matches!(
                phase,
                PhaseKind::Rectify | PhaseKind::Feedback | PhaseKind::Callback
            )
        });
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
        // A closed order's provisional dates are still made exact: they are facts of the
        // calendar, and reports read them.
        if self.state == Closed && !matches!(change, OrderChange::Retimed { .. }) {
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
                awaiting,
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
                    self.reopen(deadlines, awaiting);
                    note = "不满意，重新整改".into();
                }
            }
            OrderChange::Callback {
                outcome,
                note: text,
                deadlines,
                awaiting,
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
                        self.reopen(deadlines, awaiting);
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
                if deadline.provisional && *kind != FlagKind::Warning {
                    return Err(WorkflowError::Refused(format!(
                        "{phase:?} is due on a provisional calendar: no {kind:?} before the official holiday table confirms it"
                    )));
                }
                deadline.flags.push(RaisedFlag { kind: *kind, at });
                note = format!("{phase:?}");
            }
            OrderChange::Timed {
                deadlines,
                notice_after,
                awaiting,
            } => {
                if self.deadline_error.is_none() {
                    return Err(WorkflowError::Refused(
                        "the order already has its deadlines".into(),
                    ));
                }
                if deadlines.is_empty() && awaiting.is_empty() {
                    return Err(WorkflowError::Refused("no deadlines given".into()));
                }
                self.deadlines.clear();
                self.awaiting = awaiting.clone();
                self.deadline_error = None;
                // Steps already taken count as done when they were taken; those of phases
                // still waiting wait on in `untimed_done`.
                self.take_timing(deadlines);
                self.notice_after = notice_after.unwrap_or(self.notice_after);
                note = String::new();
            }
            OrderChange::Retimed { phases, .. } => {
                if phases.is_empty() {
                    return Err(WorkflowError::Refused("no phases given".into()));
                }
                for phase in phases {
                    let provisional = self.deadlines.iter().any(|d| {
                        d.phase == phase.phase
                            && d.provisional
                            && d.from == phase.from
                            && d.amount == phase.amount
                            && d.unit == phase.unit
                    });
                    let waiting = self.awaiting.iter().any(|waiting| {
                        waiting.phase == phase.phase
                            && Some(waiting.from) == phase.from
                            && waiting.amount == phase.amount
                            && waiting.unit == phase.unit
                    });
                    if !provisional && !waiting {
                        return Err(WorkflowError::Refused(format!(
                            "phase {:?} is not provisional or waiting for a holiday table (any more)",
                            phase.phase
                        )));
                    }
                }
                note = retimed_note(self, phases);
                self.take_timing(phases);
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
            OrderChange::ContactConfirmed { contact } => {
                // A 差评 given with a number keeps the evaluator's; an anonymous one (a window's
                // QR code) takes the number its evaluator confirms through the tracking link.
                if self.rating_id.is_some() && self.reachable {
                    return Err(WorkflowError::Refused(
                        "a bad review's number is the evaluator's, given with the rating".into(),
                    ));
                }
                self.contact = Some(contact.clone());
                self.reachable = true;
                note = format!("提交人已确认手机号码 {}", contact.masked);
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

    /// The flags that are due `as_of` and not raised yet, in order, and the escalations held
    /// back because their instant is counted on a provisional year: a provisional due raises
    /// its 预警, never a 督办 or 通报, until the official table confirms it.
    pub fn due_flags(&self, as_of: DateTime<Utc>, calendar: &Calendar) -> DueFlags {
        let mut flags = DueFlags::default();
        for deadline in &self.deadlines {
            if deadline.done_at.is_some() || !self.running(deadline.phase) {
                continue;
            }
            for kind in [FlagKind::Warning, FlagKind::Supervision, FlagKind::Notice] {
                if deadline.raised(kind) {
                    continue;
                }
                match flag_instant(deadline, kind, self.notice_after, calendar) {
                    Ok(instant) if as_of >= instant.value => {
                        if kind == FlagKind::Warning || instant.is_exact() {
                            flags.due.push((deadline.phase, kind));
                        } else {
                            flags.held += 1;
                        }
                    }
                    Ok(_) => {}
                    // A 通报 counted into a year with no table at all (provisional timing off):
                    // held once the 督办 instant has passed.
                    Err(_) if as_of >= deadline.due => flags.held += 1,
                    Err(_) => {}
                }
            }
        }
        flags
    }
}

/// What a sweep may raise on an order now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueFlags {
    /// Flags due and not raised yet, in order.
    pub due: Vec<(PhaseKind, FlagKind)>,
    /// 督办 and 通报 that would be due on the provisional calendar, held until the official
    /// table confirms them.
    pub held: u32,
}

/// The timeline note of a `retimed` change: each phase's last day before and after.
fn retimed_note(order: &Order, phases: &[Phase]) -> String {
    let last_day = |due: DateTime<Utc>| {
        local_date(due - chrono::TimeDelta::seconds(1))
            .format("%Y-%m-%d")
            .to_string()
    };
    let parts: Vec<String> = phases
        .iter()
        .map(|phase| {
            let before = order
                .deadline(phase.phase)
                .filter(|d| d.provisional)
                .map_or_else(
                    || "待定".to_owned(),
                    |d| format!("{}（暂定）", last_day(d.due)),
                );
            let after = if phase.provisional {
                format!("{}（暂定）", last_day(phase.due))
            } else {
                last_day(phase.due)
            };
            format!("{} {before} → {after}", phase_name(phase.phase))
        })
        .collect();
    format!("按已载入的节假日安排重新计时：{}", parts.join("；"))
}

/// The Chinese name of a phase, as people read it on a timeline.
pub fn phase_name(phase: PhaseKind) -> &'static str {
    match phase {
        PhaseKind::Contact => "联系",
        PhaseKind::Verify => "核实",
        PhaseKind::Rectify => "整改",
        PhaseKind::Feedback => "反馈",
        PhaseKind::Callback => "回访",
        PhaseKind::Appeal => "申诉",
    }
}

/// When a flag of a phase is due, and whether that instant rests on a provisional year.
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
) -> Result<Reckoned<DateTime<Utc>>, CalendarError> {
    let last_moment = deadline.due - chrono::TimeDelta::seconds(1);
    // The year the phase's own due instant was counted on, when provisional.
    let own = deadline.provisional.then(|| local_date(last_moment).year());
    let value = match kind {
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
        FlagKind::Notice => {
            let notice = calendar.reckon_add_working_days(last_moment, notice_after.max(1))?;
            return Ok(Reckoned {
                value: notice.value,
                provisional: own.into_iter().chain(notice.provisional).min(),
            });
        }
    };
    Ok(Reckoned {
        value,
        provisional: own,
    })
}

/// State of a systemic problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemState {
    Open,
    Done,
}

/// How a [`Phase`] reads in the OpenAPI document (the policy host's type carries no schema).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PhaseSchema {
    #[schema(
        max_length = 64,
        pattern = "^(contact|verify|rectify|feedback|callback|appeal)$"
    )]
    phase: String,
    #[schema(minimum = 1)]
    amount: u32,
    #[schema(max_length = 64, pattern = "^(working_days|natural_days|hours)$")]
    unit: String,
    due: DateTime<Utc>,
    #[schema(nullable = false)]
    provisional: Option<bool>,
    #[schema(nullable = false)]
    from: Option<DateTime<Utc>>,
}

/// How a [`crate::outreach::MessageInput`] reads in the OpenAPI document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MessageInputSchema {
    channel: crate::outreach::MessageChannel,
    purpose: crate::outreach::MessagePurpose,
    #[schema(max_length = 200)]
    subject: String,
    to: SealedFieldSchema,
    #[schema(max_length = 10000)]
    text: String,
}

/// How a [`crate::model::SealedField`] reads in the OpenAPI document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SealedFieldSchema {
    #[schema(max_length = 10000)]
    sealed: String,
    #[schema(max_length = 200)]
    masked: String,
}

/// How an [`AwaitingPhase`] reads in the OpenAPI document.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AwaitingPhaseSchema {
    #[schema(
        max_length = 64,
        pattern = "^(contact|verify|rectify|feedback|callback|appeal)$"
    )]
    phase: String,
    amount: u32,
    #[schema(max_length = 64, pattern = "^(working_days|natural_days|hours)$")]
    unit: String,
    from: DateTime<Utc>,
    year: i32,
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
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
    pub cause: CauseClass,
    #[schema(max_length = 64)]
    pub owner: String,
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub plan: String,
    pub due: NaiveDate,
    #[schema(max_length = 64)]
    pub region: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub basis: String,
    #[schema(min_items = 1, max_items = 500)]
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
            provisional: false,
            from: Some(received),
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

    /// Opens an order of `seed` with a routing decision answering `routing_output` (none at
    /// all when `None`) and no deadline decision.
    fn opened(seed: &OrderSeed, routing_output: Option<serde_json::Value>) -> Order {
        let decision = routing_output.map(|output| crate::event::PolicyDecision {
            rating_id: 0,
            subject: String::new(),
            hook: "routing".into(),
            county: seed.county.clone(),
            scope: "default".into(),
            hook_version: "v".into(),
            calendar_version: String::new(),
            provisional_year: None,
            input: serde_json::Value::Null,
            output,
        });
        let at = seed.received_at;
        let step = Step {
            at,
            actor: "system".into(),
            action: "dispatch".into(),
            note: String::new(),
        };
        Order::open(seed.clone(), decision.as_ref(), None, step)
    }

    #[test]
    fn a_confirmed_number_makes_an_intake_or_an_anonymous_bad_review_reachable() {
        let calendar = calendar();
        let received = beijing(2026, 11, 2, 10);
        let contact = crate::model::SealedField {
            sealed: "sealed".into(),
            masked: "139****7777".into(),
        };
        let confirmed = OrderChange::ContactConfirmed {
            contact: contact.clone(),
        };
        let mut intake = Order {
            kind: OrderKind::Complaint,
            rating_id: None,
            reachable: false,
            ..order(&calendar, received)
        };
        intake
            .apply(&confirmed, "citizen", received)
            .expect("an open intake takes its confirmed number");
        assert!(intake.reachable);
        assert_eq!(intake.contact, Some(contact));
        assert_eq!(
            intake.history.last().map(|step| step.action.as_str()),
            Some("contact_confirmed")
        );
        // A 差评's number is the evaluator's, given with the rating; an anonymous 差评 takes
        // the number its evaluator confirms.
        let mut bad_review = Order {
            reachable: true,
            ..order(&calendar, received)
        };
        assert!(bad_review.apply(&confirmed, "citizen", received).is_err());
        let mut anonymous = Order {
            reachable: false,
            ..order(&calendar, received)
        };
        anonymous
            .apply(&confirmed, "citizen", received)
            .expect("an anonymous 差评 takes the number its evaluator confirms");
        assert!(anonymous.reachable);
    }

    #[test]
    fn one_fallback_route_when_the_routing_policy_fails() {
        let seed = OrderSeed {
            kind: OrderKind::Complaint,
            rating_id: None,
            county: "330106".into(),
            area_code: "330106001".into(),
            regions: vec!["330106001".into(), "330106".into()],
            department: "D-1".into(),
            window: None,
            staff: None,
            hall: None,
            task_code: String::new(),
            real_name: false,
            level: None,
            indicators: Vec::new(),
            text: Some(crate::model::StoredText::Plain("call 13800138000".into())),
            reachable: false,
            contact: None,
            channel: crate::model::Channel::Pc,
            received_at: beijing(2026, 3, 2, 10),
        };
        let route = |order: &Order| (order.unit.clone(), order.category.clone(), order.priority);
        let check = |seed: &OrderSeed,
                     output: Option<serde_json::Value>,
                     expected: (&str, &str, Priority)| {
            let order = opened(seed, output.clone());
            assert_eq!(
                route(&order),
                (expected.0.to_string(), expected.1.to_string(), expected.2),
                "{seed:?} routed by {output:?}"
            );
        };
        let error = Some(serde_json::json!({"error": "routing failed"}));
        // The department responsible when known (谁办理谁负责) ...
        check(&seed, None, ("D-1", "other", Priority::Normal));
        check(&seed, error.clone(), ("D-1", "other", Priority::Normal));
        // ... else the area; real-name matters come first.
        let anonymous_area = OrderSeed {
            department: String::new(),
            ..seed.clone()
        };
        check(
            &anonymous_area,
            error.clone(),
            ("330106001", "other", Priority::Normal),
        );
        let real_name = OrderSeed {
            real_name: true,
            ..seed.clone()
        };
        check(&real_name, None, ("D-1", "other", Priority::High));
        let real_name_area = OrderSeed {
            department: String::new(),
            ..real_name.clone()
        };
        check(
            &real_name_area,
            error,
            ("330106001", "other", Priority::High),
        );
        // A route the policy gives is taken as it is.
        let routed = serde_json::json!({"unit": "R-9", "category": "waiting", "priority": "low"});
        check(&real_name, Some(routed), ("R-9", "waiting", Priority::Low));
        // Either way the order is dispatched, untimed without a deadline decision, its text
        // masked.
        let order = opened(&seed, None);
        assert_eq!(order.state, OrderState::Dispatched);
        assert_eq!(order.opened_at, seed.received_at);
        assert!(order.deadline_error.is_some());
        let text = order
            .text(&crate::pii::PiiKey::from_bytes([7; 32]))
            .ok()
            .flatten()
            .unwrap_or_default();
        assert!(
            text.starts_with("call ") && !text.contains("13800138000"),
            "{text}"
        );
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
            flag_instant(rectify, FlagKind::Warning, 2, &calendar)
                .expect("in tables")
                .value,
            beijing(2026, 10, 13, 0)
        );
        // 通报 two working days after: 10-14, 10-15 → the start of 10-16.
        assert_eq!(
            flag_instant(rectify, FlagKind::Notice, 2, &calendar)
                .expect("in tables")
                .value,
            beijing(2026, 10, 16, 0)
        );
        // The holiday does not count: on 10-03 not even the 1-working-day contact is due.
        let flags = order.due_flags(beijing(2026, 10, 3, 12), &calendar).due;
        assert_eq!(flags, Vec::new());
        // 10-08 is its one working day: warned that morning, supervised from 10-09.
        let flags = order.due_flags(beijing(2026, 10, 8, 9), &calendar).due;
        assert_eq!(flags, vec![(PhaseKind::Contact, FlagKind::Warning)]);
        let flags = order.due_flags(beijing(2026, 10, 9, 0), &calendar).due;
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
                awaiting: Vec::new(),
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
                provisional: false,
                from: d.from,
            })
            .collect();
        order.deadlines.clear();
        order.deadline_error = Some("no holiday table loaded for 2027".into());
        let timed = OrderChange::Timed {
            deadlines: phases,
            notice_after: Some(3),
            awaiting: Vec::new(),
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
                .due
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
            provisional: false,
            from: Some(later),
        };
        order
            .apply(
                &OrderChange::Evaluate {
                    level: RectificationLevel::Dissatisfied,
                    via: EvaluationVia::Link,
                    deadlines: vec![fresh.clone()],
                    awaiting: Vec::new(),
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

    /// An order received 2026-12-21 timed by the default deadlines on `calendar`: contact,
    /// verify and appeal exact; rectify (15), feedback (17) and callback (20 working days) in
    /// 2027, provisional or awaiting depending on the calendar.
    fn year_end_order(calendar: &Calendar) -> Order {
        let received = beijing(2026, 12, 21, 10);
        let mut phases = Vec::new();
        let mut awaiting = Vec::new();
        for (kind, amount) in [
            (PhaseKind::Contact, 1),
            (PhaseKind::Verify, 2),
            (PhaseKind::Rectify, 15),
            (PhaseKind::Feedback, 17),
            (PhaseKind::Callback, 20),
            (PhaseKind::Appeal, 3),
        ] {
            match time_phase(calendar, kind, amount, DurationUnit::WorkingDays, received)
                .expect("no overflow")
            {
                Ok(phase) => phases.push(phase),
                Err(waiting) => awaiting.push(waiting),
            }
        }
        let mut order = order(calendar, received);
        order.deadlines = phases.iter().map(Deadline::from_phase).collect();
        order.awaiting = awaiting;
        order
    }

    /// A stand-in official 2027 table: weekdays work, 1 January is off, and 4 January is off
    /// too (unlike the provisional year), so re-timing moves every 2027 due by a day.
    fn with_test_2027() -> Calendar {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/calendar");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("table");
        let (t2025, t2026) = (read("2025.toml"), read("2026.toml"));
        let t2027 = "year = 2027\nsource = \"test\"\noff = [\"2027-01-01\", \"2027-01-04\"]\nmakeup = []\nworking_days = 259\n";
        Calendar::from_toml_tables([
            ("2025.toml", t2025.as_str()),
            ("2026.toml", t2026.as_str()),
            ("2027.toml", t2027),
        ])
        .expect("tables")
        .with_provisional()
        .expect("provisional")
    }

    #[test]
    fn a_provisional_due_raises_its_warning_but_holds_supervision_and_notice() {
        let calendar = calendar().with_provisional().expect("provisional");
        let mut order = year_end_order(&calendar);
        let rectify = order.deadline(PhaseKind::Rectify).expect("rectify").clone();
        assert!(rectify.provisional);
        // 15 working days from Monday 12-21: 8 in December (12-22..=12-31), 01-04..=01-08,
        // 01-11 and 01-12 → due at the start of 01-13.
        assert_eq!(rectify.due, beijing(2027, 1, 13, 0));
        assert!(
            !order
                .deadline(PhaseKind::Contact)
                .expect("contact")
                .provisional
        );
        // Contact and verify done, so only the provisional phases run.
        for phase in [PhaseKind::Contact, PhaseKind::Verify] {
            order.complete(phase, beijing(2026, 12, 21, 15));
        }
        order.state = OrderState::Verified;
        let on_last_day = order.due_flags(beijing(2027, 1, 12, 9), &calendar);
        assert_eq!(
            on_last_day.due,
            vec![(PhaseKind::Rectify, FlagKind::Warning)]
        );
        assert_eq!(on_last_day.held, 0);
        let late = order.due_flags(beijing(2027, 1, 25, 9), &calendar);
        assert!(
            late.due.iter().all(|(_, kind)| *kind == FlagKind::Warning),
            "{late:?}"
        );
        // 督办 and 通报 of rectify, feedback and callback: all held.
        assert_eq!(late.held, 6);
        // The state machine refuses them too, whoever asks.
        let supervise = OrderChange::Flag {
            phase: PhaseKind::Rectify,
            kind: FlagKind::Supervision,
        };
        assert!(
            order
                .apply(&supervise, "system", beijing(2027, 1, 25, 9))
                .is_err()
        );
        order
            .apply(
                &OrderChange::Flag {
                    phase: PhaseKind::Rectify,
                    kind: FlagKind::Warning,
                },
                "system",
                beijing(2027, 1, 12, 9),
            )
            .expect("warning");

        // The official table arrives: the provisional phases are timed exactly, one day later
        // each (4 January is off in it), the warning stays raised, and 督办 is due at last.
        let official = with_test_2027();
        let phases = order.retimed_phases(&official).expect("retimed");
        assert_eq!(
            phases.iter().map(|p| p.phase).collect::<Vec<_>>(),
            vec![PhaseKind::Rectify, PhaseKind::Feedback, PhaseKind::Callback]
        );
        assert!(phases.iter().all(|p| !p.provisional));
        let retimed = OrderChange::Retimed {
            phases,
            calendar_version: official.version(),
        };
        order
            .apply(&retimed, "system", beijing(2027, 1, 12, 8))
            .expect("retimed");
        let rectify = order.deadline(PhaseKind::Rectify).expect("rectify");
        assert_eq!(rectify.due, beijing(2027, 1, 14, 0));
        assert!(!rectify.provisional && rectify.raised(FlagKind::Warning));
        assert!(!order.has_provisional_timing());
        let note = &order.history.last().expect("step").note;
        assert!(
            note.contains("整改 2027-01-12（暂定） → 2027-01-13"),
            "{note}"
        );
        let late = order.due_flags(beijing(2027, 1, 25, 9), &official);
        assert_eq!(late.held, 0);
        assert!(
            late.due
                .contains(&(PhaseKind::Rectify, FlagKind::Supervision))
        );
        // Timed once: nothing is provisional any more, so a second change is refused.
        assert!(
            order
                .apply(&retimed, "system", beijing(2027, 1, 12, 9))
                .is_err()
        );
        assert!(order.retimed_phases(&official).expect("none").is_empty());
    }

    #[test]
    fn phases_awaiting_a_table_are_timed_when_it_arrives_keeping_the_steps_taken() {
        // Provisional timing off: the 2027 phases wait; the others are exact.
        let calendar = calendar();
        let mut order = year_end_order(&calendar);
        assert_eq!(
            order
                .awaiting
                .iter()
                .map(|a| (a.phase, a.year))
                .collect::<Vec<_>>(),
            vec![
                (PhaseKind::Rectify, 2027),
                (PhaseKind::Feedback, 2027),
                (PhaseKind::Callback, 2027)
            ]
        );
        assert!(order.deadlines.iter().all(|d| !d.provisional));
        assert_eq!(order.deadlines.len(), 3);
        assert!(order.has_provisional_timing());
        // Work goes on: accepted, verified, rectified at once before the table is loaded.
        let at = beijing(2026, 12, 22, 9);
        for change in [
            OrderChange::Accept {
                note: String::new(),
            },
            OrderChange::Verify {
                finding: "属实".into(),
            },
            OrderChange::Dispose {
                disposition: Disposition::Immediate {
                    action: "当场整改".into(),
                },
            },
        ] {
            order.apply(&change, "h", at).expect("step");
        }
        // The waiting phases raise nothing; nothing is held (there is no due to hold).
        let flags = order.due_flags(beijing(2027, 3, 1, 9), &calendar);
        assert_eq!((flags.due.len(), flags.held), (0, 0));
        assert!(order.retimed_phases(&calendar).expect("none").is_empty());

        let official = with_test_2027();
        let phases = order.retimed_phases(&official).expect("timed");
        assert_eq!(phases.len(), 3);
        order
            .apply(
                &OrderChange::Retimed {
                    phases,
                    calendar_version: official.version(),
                },
                "system",
                beijing(2027, 1, 5, 9),
            )
            .expect("retimed");
        assert!(order.awaiting.is_empty());
        let rectify = order.deadline(PhaseKind::Rectify).expect("timed");
        assert_eq!(rectify.done_at, Some(at));
        assert_eq!(rectify.on_time(), Some(true));
        assert!(order.untimed_done.is_empty());
    }

    #[test]
    fn a_closed_order_is_still_timed_exactly() {
        let calendar = calendar().with_provisional().expect("provisional");
        let mut order = year_end_order(&calendar);
        order.state = OrderState::Closed;
        let official = with_test_2027();
        let phases = order.retimed_phases(&official).expect("retimed");
        order
            .apply(
                &OrderChange::Retimed {
                    phases,
                    calendar_version: official.version(),
                },
                "system",
                beijing(2027, 1, 5, 9),
            )
            .expect("a calendar fact, not a work step");
        assert!(!order.has_provisional_timing());
        assert!(
            order
                .apply(
                    &OrderChange::Accept {
                        note: String::new()
                    },
                    "h",
                    beijing(2027, 1, 5, 9)
                )
                .is_err()
        );
    }
}
