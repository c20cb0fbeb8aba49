//! The typed contract of each policy hook: what a script is given, what it must return, and the
//! checks that turn its returned map into a value the engine can trust.
//!
//! Every input reaches the script as a map with these field names (enums as their snake_case
//! strings, instants as RFC 3339 strings in UTC, decimals as Rhai decimals). Every output is read
//! back strictly: an unknown key, a wrong type or an out-of-range value is refused, because a
//! typo in a bureau's script must surface at test time, not vanish into a default.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Hook;
use crate::calendar::{Calendar, CalendarError, DurationUnit};
use crate::model::{Channel, Level};

/// Why the host refused what a script returned.
pub(super) enum Refusal {
    /// The returned map breaks the contract; the message names the field.
    Output(String),
    /// The calendar cannot compute a due instant (e.g. a year without a table).
    Calendar(CalendarError),
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Refusal::Output(message)
    }
}

/// Ties a hook to its input and output types. Implemented by the marker types below only.
pub(super) trait HookIo {
    const HOOK: Hook;
    /// Top-level input fields holding a map whose values the script sees as decimals (they
    /// travel as strings in JSON so that no float ever touches them).
    const DECIMAL_MAPS: &'static [&'static str] = &[];
    type Input: Serialize + DeserializeOwned;
    /// Exactly what the script returns; `deny_unknown_fields` on every struct.
    type Raw: DeserializeOwned;
    type Output: Serialize;
    fn finish(
        raw: Self::Raw,
        input: &Self::Input,
        calendar: &Calendar,
    ) -> Result<Self::Output, Refusal>;
    /// The first year without an official table the checked output was counted on or waits
    /// for, beyond what the helpers noted.
    fn provisional(_output: &Self::Output, _calendar: &Calendar) -> Option<i32> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// deadline

/// Input of `fn deadline(input)`: the bad review (差评) a work order was opened for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineInput {
    /// 6-digit county code; filled in from the county asked for when empty.
    #[serde(default)]
    pub county: String,
    /// Region code (6, 9 or 12 digits) of the rated service.
    #[serde(default)]
    pub area_code: String,
    /// What the order is about: a bad review (the default), a complaint, a suggestion or a
    /// request.
    #[serde(default = "bad_review")]
    pub kind: RoutingKind,
    /// The rating level; `null` (`()` in the script) for a complaint, suggestion or request.
    #[serde(default)]
    pub level: Option<Level>,
    /// 实名 (true) or anonymous.
    #[serde(default)]
    pub real_name: bool,
    pub channel: Channel,
    /// 事项编码 (`taskCode`).
    #[serde(default)]
    pub task_code: String,
    /// Code of the rated department.
    #[serde(default)]
    pub department: String,
    /// 评价指标 codes (`evalDetail`), e.g. `"510"`.
    #[serde(default)]
    pub indicators: Vec<String>,
    /// The trigger: when the bad review was received. Every due instant counts from it.
    pub received_at: DateTime<Utc>,
}

/// A phase of a bad-review work order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// 联系评价人 (first contact)
    Contact,
    /// 核实 (verification)
    Verify,
    /// 整改 (rectification)
    Rectify,
    /// 反馈 (feedback to the evaluator)
    Feedback,
    /// 回访 (the call-back after the feedback)
    Callback,
    /// 申诉 (the responsible unit's appeal window)
    Appeal,
}

/// One phase as the script returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhase {
    phase: PhaseKind,
    amount: u32,
    unit: DurationUnit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeadline {
    phases: Vec<RawPhase>,
    #[serde(default)]
    notice_after: Option<u32>,
}

/// One phase with its due instant, computed by the host on the working-day calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub phase: PhaseKind,
    /// Duration from the trigger, in `unit`s; at least 1.
    pub amount: u32,
    pub unit: DurationUnit,
    /// Exclusive deadline: the phase is on time when done before this instant.
    pub due: DateTime<Utc>,
    /// Counted on a provisional year (its official holiday table is not loaded yet): the phase
    /// raises its 预警 but no 督办 or 通报, and is timed exactly when the table is loaded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub provisional: bool,
    /// The instant the phase counts from (the 差评 received, or the order reopened); absent in
    /// decisions recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A phase that cannot be timed yet: it runs into a year without an official holiday table
/// and provisional timing is off. It is timed the moment that table is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwaitingPhase {
    pub phase: PhaseKind,
    pub amount: u32,
    pub unit: DurationUnit,
    /// The instant the phase counts from.
    pub from: DateTime<Utc>,
    /// The year whose official table it waits for.
    pub year: i32,
}

impl AwaitingPhase {
    /// What a person reads: "awaiting the 2027 table".
    pub fn reason(&self) -> String {
        format!("awaiting the {} holiday table", self.year)
    }
}

/// Output of the deadline hook: the phases in canonical order (contact, verify, rectify,
/// feedback, callback, appeal), each at most once. Every phase is timed on its own: one that
/// runs past the official tables is provisional, or awaits its table, and never keeps the
/// others from being timed exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineOutput {
    pub phases: Vec<Phase>,
    /// Phases waiting for a holiday table (provisional timing off), in canonical order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting: Vec<AwaitingPhase>,
    /// Working days after a due instant at which a late phase is reported to the city (通报);
    /// the platform's default (2) when the policy leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_after: Option<u32>,
}

impl DeadlineOutput {
    /// The due instant of one phase, if the policy sets that phase and it is timed.
    pub fn due(&self, phase: PhaseKind) -> Option<DateTime<Utc>> {
        self.phases.iter().find(|p| p.phase == phase).map(|p| p.due)
    }
}

/// Times one phase from `from`: exact, provisional, or waiting for the table of a year.
pub fn time_phase(
    calendar: &Calendar,
    phase: PhaseKind,
    amount: u32,
    unit: DurationUnit,
    from: DateTime<Utc>,
) -> Result<Result<Phase, AwaitingPhase>, CalendarError> {
    match calendar.reckon_due(from, amount, unit) {
        Ok(due) => Ok(Ok(Phase {
            phase,
            amount,
            unit,
            due: due.value,
            provisional: due.provisional.is_some(),
            from: Some(from),
        })),
        Err(CalendarError::YearNotLoaded { year }) => Ok(Err(AwaitingPhase {
            phase,
            amount,
            unit,
            from,
            year,
        })),
        Err(error) => Err(error),
    }
}

/// A year of working days or of natural days is far beyond any real deadline; anything larger is
/// a typo (150 for 15) that would silently push a deadline out of reach.
const MAX_DAYS: u32 = 366;
const MAX_HOURS: u32 = 24 * MAX_DAYS;

pub(super) struct DeadlineHook;

impl HookIo for DeadlineHook {
    const HOOK: Hook = Hook::Deadline;
    type Input = DeadlineInput;
    type Raw = RawDeadline;
    type Output = DeadlineOutput;

    fn finish(
        raw: RawDeadline,
        input: &DeadlineInput,
        calendar: &Calendar,
    ) -> Result<DeadlineOutput, Refusal> {
        if raw.phases.is_empty() {
            return Err("phases is empty: a work order needs at least one phase"
                .to_owned()
                .into());
        }
        let mut seen = BTreeSet::new();
        let mut phases = Vec::with_capacity(raw.phases.len());
        let mut awaiting = Vec::new();
        for phase in raw.phases {
            let name = snake(&phase.phase);
            if !seen.insert(phase.phase) {
                return Err(format!("phase {name} appears twice").into());
            }
            let max = match phase.unit {
                DurationUnit::Hours => MAX_HOURS,
                DurationUnit::WorkingDays | DurationUnit::NaturalDays => MAX_DAYS,
            };
            if phase.amount == 0 || phase.amount > max {
                return Err(format!(
                    "phase {name}: amount {} is out of range, expected 1..={max} {}",
                    phase.amount,
                    snake(&phase.unit)
                )
                .into());
            }
            match time_phase(
                calendar,
                phase.phase,
                phase.amount,
                phase.unit,
                input.received_at,
            )
            .map_err(Refusal::Calendar)?
            {
                Ok(timed) => phases.push(timed),
                Err(waiting) => awaiting.push(waiting),
            }
        }
        phases.sort_by_key(|p| p.phase);
        awaiting.sort_by_key(|p| p.phase);
        if let Some(days) = raw.notice_after
            && !(1..=MAX_DAYS).contains(&days)
        {
            return Err(
                format!("notice_after {days} is out of range, expected 1..={MAX_DAYS}").into(),
            );
        }
        Ok(DeadlineOutput {
            phases,
            awaiting,
            notice_after: raw.notice_after,
        })
    }

    fn provisional(output: &DeadlineOutput, calendar: &Calendar) -> Option<i32> {
        let counted = output
            .phases
            .iter()
            .any(|phase| phase.provisional)
            .then(|| calendar.last_year().saturating_add(1));
        counted
            .into_iter()
            .chain(output.awaiting.iter().map(|phase| phase.year))
            .min()
    }
}

// ---------------------------------------------------------------------------------------------
// routing

/// What is being routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingKind {
    /// A 差评 work order.
    BadReview,
    /// A complaint (投诉), handled like a bad review without a rating.
    Complaint,
    /// A suggestion (意见建议: 统一受理、分类处理、限时办理).
    Suggestion,
    /// A reasonable request (合理诉求), answered like a suggestion.
    Request,
}

fn bad_review() -> RoutingKind {
    RoutingKind::BadReview
}

/// Input of `fn routing(input)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingInput {
    #[serde(default)]
    pub county: String,
    #[serde(default)]
    pub area_code: String,
    pub kind: RoutingKind,
    /// The rating level; `null` (`()` in the script) for a suggestion without a rating.
    #[serde(default)]
    pub level: Option<Level>,
    #[serde(default)]
    pub real_name: bool,
    pub channel: Channel,
    #[serde(default)]
    pub task_code: String,
    /// Code of the rated department (谁办理谁负责: the default responsible unit).
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub indicators: Vec<String>,
    /// The evaluator's text (`writingEvaluation`), already free of personal data.
    #[serde(default)]
    pub text: String,
}

/// Urgency of a work order or suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

/// Output of the routing hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingOutput {
    /// Code of the responsible unit (责任单位).
    pub unit: String,
    /// Problem category (e.g. `waiting`, `attitude`, `materials`, `system`, `other`).
    pub category: String,
    pub priority: Priority,
}

pub(super) struct RoutingHook;

impl HookIo for RoutingHook {
    const HOOK: Hook = Hook::Routing;
    type Input = RoutingInput;
    type Raw = RoutingOutput;
    type Output = RoutingOutput;

    fn finish(
        raw: RoutingOutput,
        _: &RoutingInput,
        _: &Calendar,
    ) -> Result<RoutingOutput, Refusal> {
        if raw.unit.trim().is_empty() {
            return Err("unit is empty: every work order needs a responsible unit"
                .to_owned()
                .into());
        }
        check_code("category", &raw.category)?;
        Ok(raw)
    }
}

// ---------------------------------------------------------------------------------------------
// assessment and veto

/// Input of `fn assessment(input)` and `fn veto(input)`: one unit's metrics for one period.
///
/// A rate whose denominator is zero (no real-name bad review this month, say) is left out of
/// `metrics`, never sent as 0 or 1: scripts test `"name" in input.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitPeriodInput {
    #[serde(default)]
    pub county: String,
    /// Code of the assessed unit.
    pub unit: String,
    /// `region`, `hall`, `department`, `window` or `staff`.
    #[serde(default)]
    pub unit_kind: String,
    /// The period, e.g. `2026-03`, `2026-Q1`, `2026-H1`.
    pub period: String,
    /// Rates in 0..=1 as decimals (JSON strings such as `"0.9512"`): `active_rate` (主动评价率),
    /// `rating_rate` (评价率), `good_rate` (好评率), `bad_rate` (差评率), `rectify_rate`
    /// (差评整改率), `on_time_rectify_rate` (按期整改率), `real_name_on_time_rectify_rate`
    /// (实名差评按期整改率), `callback_rate` (回访率), `feedback_rate` (反馈率),
    /// `rectify_satisfaction_rate` (整改满意率).
    #[serde(default)]
    pub metrics: BTreeMap<String, Decimal>,
    /// Counts: e.g. `services`, `ratings`, `bad_reviews`, `verified_coercion_flags`.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
}

/// Input of the assessment hook.
pub type AssessmentInput = UnitPeriodInput;
/// Input of the veto hook.
pub type VetoInput = UnitPeriodInput;

/// One line of an assessment's breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentItem {
    /// What is scored, e.g. `主动评价率`.
    pub item: String,
    /// Points the item is worth.
    pub weight: Decimal,
    /// The measured value the score was computed from (usually a rate in 0..=1).
    pub value: Decimal,
    /// Points earned; the items' scores sum to the total.
    pub score: Decimal,
}

/// Output of the assessment hook: a score in 0..=100 with its itemised breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentOutput {
    pub total: Decimal,
    pub items: Vec<AssessmentItem>,
}

pub(super) struct AssessmentHook;

impl HookIo for AssessmentHook {
    const HOOK: Hook = Hook::Assessment;
    const DECIMAL_MAPS: &'static [&'static str] = &["metrics"];
    type Input = UnitPeriodInput;
    type Raw = AssessmentOutput;
    type Output = AssessmentOutput;

    fn finish(
        raw: AssessmentOutput,
        _: &UnitPeriodInput,
        _: &Calendar,
    ) -> Result<AssessmentOutput, Refusal> {
        if raw.items.is_empty() {
            return Err("items is empty: a score needs its breakdown"
                .to_owned()
                .into());
        }
        let mut names = BTreeSet::new();
        let mut sum = Decimal::ZERO;
        for item in &raw.items {
            if item.item.trim().is_empty() {
                return Err("an item has an empty name".to_owned().into());
            }
            if !names.insert(item.item.as_str()) {
                return Err(format!("item {} appears twice", item.item).into());
            }
            sum = sum
                .checked_add(item.score)
                .ok_or_else(|| "the item scores overflow a decimal".to_owned())?;
        }
        // Exact decimal equality: the breakdown must explain the total to the last digit.
        if sum != raw.total {
            return Err(format!(
                "items sum to {} but total is {}",
                sum.normalize(),
                raw.total.normalize()
            )
            .into());
        }
        if raw.total < Decimal::ZERO || raw.total > Decimal::ONE_HUNDRED {
            return Err(format!("total {} is outside 0..=100", raw.total.normalize()).into());
        }
        Ok(raw)
    }
}

/// One reason to veto (一票否决) a unit for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VetoReason {
    /// Stable snake_case code, e.g. `real_name_rectify_overdue`.
    pub code: String,
    /// The fact, for people: e.g. `实名差评按期整改率 96.0% < 100%`.
    pub reason: String,
}

/// Output of the veto hook. The script only reports; the engine applies the veto uniformly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VetoOutput {
    pub reasons: Vec<VetoReason>,
}

impl VetoOutput {
    /// Whether the unit is vetoed: any reason vetoes.
    pub fn vetoed(&self) -> bool {
        !self.reasons.is_empty()
    }
}

pub(super) struct VetoHook;

impl HookIo for VetoHook {
    const HOOK: Hook = Hook::Veto;
    const DECIMAL_MAPS: &'static [&'static str] = &["metrics"];
    type Input = UnitPeriodInput;
    type Raw = VetoOutput;
    type Output = VetoOutput;

    fn finish(raw: VetoOutput, _: &UnitPeriodInput, _: &Calendar) -> Result<VetoOutput, Refusal> {
        check_coded(
            "reason",
            raw.reasons
                .iter()
                .map(|r| (r.code.as_str(), r.reason.as_str())),
        )?;
        Ok(raw)
    }
}

// ---------------------------------------------------------------------------------------------
// invitation and default rating

/// Input of `fn invitation(input)`: a completed service act that may still be unrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationInput {
    #[serde(default)]
    pub county: String,
    #[serde(default)]
    pub task_code: String,
    #[serde(default)]
    pub department: String,
    /// Handled online (一事一评) rather than at a hall window (一次一评).
    #[serde(default)]
    pub online: bool,
    /// When the service act was completed (办结): invitations count from it.
    pub completed_at: DateTime<Utc>,
    /// An active rating exists.
    #[serde(default)]
    pub rated: bool,
    /// A default rating (系统默认评价) was given.
    #[serde(default)]
    pub default_rated: bool,
    /// The applicant left a mobile number (SMS and phone are possible).
    #[serde(default)]
    pub has_mobile: bool,
}

/// How an unrated service is invited to be rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteChannel {
    /// 短信 with a rating link.
    Sms,
    /// 电话回访 (a call-back list entry).
    Phone,
    /// A message in the government app (e.g. 豫事办).
    App,
}

/// One planned invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub channel: InviteChannel,
    /// When to invite; the scheduler skips it if a rating arrived meanwhile.
    pub at: DateTime<Utc>,
}

/// Output of the invitation hook: the plan, possibly empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationOutput {
    pub invitations: Vec<Invitation>,
}

/// More invitations than this is nagging, not inviting; it is surely a loop gone wrong.
const MAX_INVITATIONS: usize = 5;

pub(super) struct InvitationHook;

impl HookIo for InvitationHook {
    const HOOK: Hook = Hook::Invitation;
    type Input = InvitationInput;
    type Raw = InvitationOutput;
    type Output = InvitationOutput;

    fn finish(
        mut raw: InvitationOutput,
        input: &InvitationInput,
        _: &Calendar,
    ) -> Result<InvitationOutput, Refusal> {
        if raw.invitations.len() > MAX_INVITATIONS {
            return Err(format!(
                "{} invitations planned, at most {MAX_INVITATIONS} allowed",
                raw.invitations.len()
            )
            .into());
        }
        for invitation in &raw.invitations {
            if invitation.at < input.completed_at {
                return Err(format!(
                    "{} invitation at {} is before completed_at {}",
                    snake(&invitation.channel),
                    invitation.at.to_rfc3339(),
                    input.completed_at.to_rfc3339()
                )
                .into());
            }
        }
        raw.invitations.sort_by_key(|i| (i.at, i.channel));
        Ok(raw)
    }
}

/// Input of `fn default_rating(input)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRatingInput {
    #[serde(default)]
    pub county: String,
    #[serde(default)]
    pub task_code: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub online: bool,
    pub completed_at: DateTime<Utc>,
    /// An active rating exists.
    #[serde(default)]
    pub rated: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaultRating {
    apply: bool,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// Output of the default-rating hook: whether an unrated service gets a default rating
/// (系统默认评价), with which level and from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRatingOutput {
    pub apply: bool,
    /// Set exactly when `apply`; never a 差评.
    pub level: Option<Level>,
    /// Set exactly when `apply`: the rating is given at this instant if still unrated.
    pub at: Option<DateTime<Utc>>,
}

pub(super) struct DefaultRatingHook;

impl HookIo for DefaultRatingHook {
    const HOOK: Hook = Hook::DefaultRating;
    type Input = DefaultRatingInput;
    type Raw = RawDefaultRating;
    type Output = DefaultRatingOutput;

    fn finish(
        raw: RawDefaultRating,
        input: &DefaultRatingInput,
        _: &Calendar,
    ) -> Result<DefaultRatingOutput, Refusal> {
        match (raw.apply, raw.level, raw.at) {
            (false, None, None) => Ok(DefaultRatingOutput {
                apply: false,
                level: None,
                at: None,
            }),
            (false, ..) => Err("apply is false but level or at is set".to_owned().into()),
            (true, Some(level), Some(at)) => {
                if level.is_bad() {
                    return Err(format!(
                        "level {} is a 差评: a default rating can never be a bad review",
                        snake(&level)
                    )
                    .into());
                }
                if at < input.completed_at {
                    return Err(format!(
                        "at {} is before completed_at {}",
                        at.to_rfc3339(),
                        input.completed_at.to_rfc3339()
                    )
                    .into());
                }
                Ok(DefaultRatingOutput {
                    apply: true,
                    level: Some(level),
                    at: Some(at),
                })
            }
            (true, ..) => Err("apply is true: level and at are both required"
                .to_owned()
                .into()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// integrity

/// Input of `fn integrity(input)`: one rating and the facts around it, gathered by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrityInput {
    #[serde(default)]
    pub county: String,
    /// Rating device (评价器) id; empty for ratings not made on a device.
    #[serde(default)]
    pub device: String,
    pub channel: Channel,
    pub level: Level,
    #[serde(default)]
    pub real_name: bool,
    /// When the rating was pressed.
    pub pressed_at: DateTime<Utc>,
    /// The previous press on the same device, if any.
    #[serde(default)]
    pub previous_press_at: Option<DateTime<Utc>>,
    /// The device model's minimum seconds between two presses.
    #[serde(default)]
    pub min_interval_secs: u64,
    /// Consecutive 非常满意 from this device immediately before this rating.
    #[serde(default)]
    pub top_streak_before: u64,
    /// Whether a service act was open at that window at that moment.
    #[serde(default)]
    pub open_service: bool,
}

/// One integrity flag. Flags mark a rating for review; they never drop it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Stable snake_case code: `too_soon`, `streak`, `no_open_service`, …
    pub code: String,
    /// The fact, for the reviewer.
    pub reason: String,
}

/// Output of the integrity hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrityOutput {
    pub flags: Vec<Flag>,
}

pub(super) struct IntegrityHook;

impl HookIo for IntegrityHook {
    const HOOK: Hook = Hook::Integrity;
    type Input = IntegrityInput;
    type Raw = IntegrityOutput;
    type Output = IntegrityOutput;

    fn finish(
        raw: IntegrityOutput,
        _: &IntegrityInput,
        _: &Calendar,
    ) -> Result<IntegrityOutput, Refusal> {
        check_coded(
            "flag",
            raw.flags
                .iter()
                .map(|f| (f.code.as_str(), f.reason.as_str())),
        )?;
        Ok(raw)
    }
}

// ---------------------------------------------------------------------------------------------

/// Veto reasons and integrity flags: each a code that is counted by, unique within one output,
/// and a text that people read.
fn check_coded<'a>(
    what: &str,
    entries: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(), Refusal> {
    let mut codes = BTreeSet::new();
    for (code, text) in entries {
        check_code(&format!("{what} code"), code)?;
        if !codes.insert(code) {
            return Err(format!("{what} {code} appears twice").into());
        }
        if text.trim().is_empty() {
            return Err(format!("{what} {code} has no text").into());
        }
    }
    Ok(())
}

/// Codes are identifiers other systems store and count by: `[a-z][a-z0-9_]*`, at most 64 bytes.
fn check_code(what: &str, code: &str) -> Result<(), Refusal> {
    let mut chars = code.chars();
    let ok = code.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(
            format!("{what} {code:?} is not a snake_case code ([a-z][a-z0-9_]*, at most 64 bytes)")
                .into(),
        )
    }
}

/// The snake_case name serde gives a unit enum variant, for messages.
fn snake<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "?".to_owned(),
    }
}
