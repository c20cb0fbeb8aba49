//! The typed contract of each policy hook as the domain states it: what a county's rules are
//! given (one input type per hook, each built from domain objects by the constructors here and
//! nowhere else) and what they answer once the host has checked it.
//!
//! Plain data: the Rhai host (`policy`) runs the scripts and enforces the checks; the domain
//! only reads these types. Every input reaches a script as a map with these field names (enums
//! as their snake_case strings, instants as RFC 3339 strings in UTC, decimals as Rhai
//! decimals), and the serde representation of each type is also what decisions record in the
//! log, so a field is never renamed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError, DurationUnit};
use crate::metrics::UnitMetrics;
use crate::model::{Channel, Level, Rating, RatingFacts, ServiceEventInput};
use crate::validate::mask_digit_runs;
use crate::workflow::{Order, OrderKind};

/// A policy's answer as the domain sees it: the checked output, or why the rules could not give
/// one, and the content hash of the rules that decided, which is recorded next to the result
/// either way.
#[derive(Debug, Clone, PartialEq)]
pub struct Ruling<T, E> {
    pub outcome: Result<T, E>,
    pub hook_version: String,
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

/// What the routing and deadline policies are told about the matter of a work order, whatever
/// brought it in: a 差评, an intake (complaint, suggestion, request) or an order that is reopened
/// or timed again. The fields both inputs share are filled here, once per source.
#[derive(Debug, Clone, PartialEq)]
pub struct Matter {
    pub county: String,
    pub area_code: String,
    pub kind: RoutingKind,
    pub level: Option<Level>,
    pub real_name: bool,
    pub channel: Channel,
    pub task_code: String,
    pub department: String,
    pub indicators: Vec<String>,
}

impl Matter {
    /// A 差评 (its first rating, or the 追评 that reopens its order), decided by `county`'s rules.
    pub fn of_rating(rating: &Rating, county: &str) -> Matter {
        Matter {
            county: county.to_owned(),
            area_code: rating.area_code.clone(),
            kind: RoutingKind::BadReview,
            level: Some(rating.level),
            real_name: rating.evaluator.real_name,
            channel: rating.channel,
            task_code: rating.attribution.task_code.clone(),
            department: rating.attribution.department.clone(),
            indicators: rating.indicators.clone(),
        }
    }

    /// An existing work order, as it stands.
    pub fn of_order(order: &Order) -> Matter {
        Matter {
            county: order.county.clone(),
            area_code: order.area_code.clone(),
            kind: order.kind.routing_kind(),
            level: order.level,
            real_name: order.real_name,
            channel: order.channel,
            task_code: order.task_code.clone(),
            department: order.department.clone(),
            indicators: order.indicators.clone(),
        }
    }

    /// A complaint, suggestion or request taken in by the intake: no rating level and no
    /// indicators.
    pub fn of_intake(
        kind: OrderKind,
        county: &str,
        area_code: &str,
        real_name: bool,
        channel: Channel,
        task_code: &str,
        department: &str,
    ) -> Matter {
        Matter {
            county: county.to_owned(),
            area_code: area_code.to_owned(),
            kind: kind.routing_kind(),
            level: None,
            real_name,
            channel,
            task_code: task_code.to_owned(),
            department: department.to_owned(),
            indicators: Vec::new(),
        }
    }
}

impl DeadlineInput {
    /// The deadlines of `matter`, every due instant counted from `received_at`.
    pub fn new(matter: Matter, received_at: DateTime<Utc>) -> DeadlineInput {
        DeadlineInput {
            county: matter.county,
            area_code: matter.area_code,
            kind: matter.kind,
            level: matter.level,
            real_name: matter.real_name,
            channel: matter.channel,
            task_code: matter.task_code,
            department: matter.department,
            indicators: matter.indicators,
            received_at,
        }
    }

    /// The deadlines of a 差评, counted from when it was received.
    pub fn for_rating(rating: &Rating, county: &str) -> DeadlineInput {
        DeadlineInput::new(Matter::of_rating(rating, county), rating.received_at)
    }

    /// Fresh deadlines of an order (reopened, or timed again), counted from `trigger`.
    pub fn for_order(order: &Order, trigger: DateTime<Utc>) -> DeadlineInput {
        DeadlineInput::new(Matter::of_order(order), trigger)
    }
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

impl RoutingInput {
    /// The route of `matter` described by `text`; long digit runs in it (phone and ID numbers
    /// typed into a comment) are masked here, so that they never reach the rules.
    pub fn new(matter: Matter, text: &str) -> RoutingInput {
        RoutingInput {
            county: matter.county,
            area_code: matter.area_code,
            kind: matter.kind,
            level: matter.level,
            real_name: matter.real_name,
            channel: matter.channel,
            task_code: matter.task_code,
            department: matter.department,
            indicators: matter.indicators,
            text: mask_digit_runs(text),
        }
    }

    /// The route of a 差评, described by its comment (`text`, opened).
    pub fn for_rating(rating: &Rating, text: Option<&str>, county: &str) -> RoutingInput {
        RoutingInput::new(Matter::of_rating(rating, county), text.unwrap_or(""))
    }
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

impl UnitPeriodInput {
    /// What the assessment and veto policies see of one unit's metrics for `period`: the rates
    /// that have a value, and the counts.
    pub fn for_unit(
        metrics: &UnitMetrics,
        county: &str,
        unit: &str,
        unit_kind: &str,
        period: &str,
    ) -> UnitPeriodInput {
        let rates = metrics
            .rates
            .iter()
            .filter_map(|(name, ratio)| ratio.value.map(|value| (name.clone(), value)))
            .collect();
        let counts = [
            ("services", metrics.services),
            ("ratings", metrics.ratings),
            ("active_ratings", metrics.active_ratings),
            ("valid_ratings", metrics.valid_ratings),
            ("bad_reviews", metrics.bad),
            ("real_name_bad_reviews", metrics.real_name_bad),
            ("orders", metrics.orders.orders),
            ("overdue_orders", metrics.overdue.orders),
            ("real_name_overdue_orders", metrics.overdue.real_name_orders),
            ("appeals_upheld", metrics.orders.appeal_upheld),
            ("blameless_orders", metrics.orders.blameless),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        UnitPeriodInput {
            county: county.to_string(),
            unit: unit.to_string(),
            unit_kind: unit_kind.to_string(),
            period: period.to_string(),
            metrics: rates,
            counts,
        }
    }
}

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

impl InvitationInput {
    /// The invitation plan of a service act just completed, not rated yet; `has_mobile` when
    /// the applicant can be reached by SMS or phone.
    pub fn for_service(
        service: &ServiceEventInput,
        county: &str,
        has_mobile: bool,
    ) -> InvitationInput {
        InvitationInput {
            county: county.to_owned(),
            task_code: service.task_code.clone(),
            department: service.department.clone(),
            online: service.online,
            completed_at: service.occurred_at,
            rated: false,
            default_rated: false,
            has_mobile,
        }
    }
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

impl DefaultRatingInput {
    /// Whether a service act just completed, not rated yet, gets a default rating.
    pub fn for_service(service: &ServiceEventInput, county: &str) -> DefaultRatingInput {
        DefaultRatingInput {
            county: county.to_owned(),
            task_code: service.task_code.clone(),
            department: service.department.clone(),
            online: service.online,
            completed_at: service.occurred_at,
            rated: false,
        }
    }
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

impl IntegrityInput {
    /// A rating as it is recorded, with what the store knows around it.
    pub fn for_rating(rating: &Rating, county: &str, facts: &RatingFacts) -> IntegrityInput {
        IntegrityInput {
            county: county.to_owned(),
            device: rating.device.clone().unwrap_or_default(),
            channel: rating.channel,
            level: rating.level,
            real_name: rating.evaluator.real_name,
            pressed_at: rating.rated_at,
            previous_press_at: facts.previous_press_at,
            min_interval_secs: facts.min_interval_secs,
            top_streak_before: facts.top_streak_before,
            open_service: facts.open_service,
        }
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::model::{Attribution, StoredEvaluator};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn bad_review() -> Rating {
        Rating {
            id: 42,
            source: "s".into(),
            event_id: "e42".into(),
            project_no: "P42".into(),
            service_number: 1,
            assess_number: 1,
            service_name: None,
            device: Some("D-7".into()),
            level: Level::Dissatisfied,
            channel: Channel::Mobile,
            indicators: vec!["510".into()],
            text: None,
            evaluator: StoredEvaluator {
                real_name: true,
                ..StoredEvaluator::default()
            },
            attribution: Attribution {
                regions: vec!["410421100".into(), "410421".into()],
                department: "dept".into(),
                task_code: "task".into(),
                ..Attribution::default()
            },
            area_code: "410421100".into(),
            rated_at: at(1),
            received_at: at(2),
        }
    }

    /// What a script sees is also what the decision records in the log: the field names and
    /// values of each input are pinned here.
    fn check(input: impl Serialize, expected: serde_json::Value) {
        assert_eq!(serde_json::to_value(input).ok(), Some(expected));
    }

    #[test]
    fn a_bad_review_is_routed_and_timed_with_its_comment_masked() {
        let rating = bad_review();
        let shared = json!({
            "county": "410421",
            "area_code": "410421100",
            "kind": "bad_review",
            "level": "dissatisfied",
            "real_name": true,
            "channel": "mobile",
            "task_code": "task",
            "department": "dept",
            "indicators": ["510"],
        });
        let with = |key: &str, value: serde_json::Value| {
            let mut input = shared.clone();
            input[key] = value;
            input
        };
        check(
            RoutingInput::for_rating(&rating, Some("请回电13812341234"), "410421"),
            with("text", json!("请回电***********")),
        );
        check(
            DeadlineInput::for_rating(&rating, "410421"),
            with("received_at", json!(at(2))),
        );
    }

    #[test]
    fn an_intake_has_no_level_and_no_indicators() {
        let matter = Matter::of_intake(
            OrderKind::Complaint,
            "410421",
            "410421",
            false,
            Channel::Pc,
            "",
            "dept",
        );
        check(
            DeadlineInput::new(matter.clone(), at(3)),
            json!({
                "county": "410421",
                "area_code": "410421",
                "kind": "complaint",
                "level": null,
                "real_name": false,
                "channel": "pc",
                "task_code": "",
                "department": "dept",
                "indicators": [],
                "received_at": at(3),
            }),
        );
        assert_eq!(RoutingInput::new(matter, "排了3个小时").text, "排了3个小时");
    }

    #[test]
    fn integrity_sees_the_press_and_the_facts_around_it() {
        let facts = RatingFacts {
            previous_press_at: Some(at(0)),
            min_interval_secs: 5,
            top_streak_before: 3,
            open_service: true,
        };
        check(
            IntegrityInput::for_rating(&bad_review(), "410421", &facts),
            json!({
                "county": "410421",
                "device": "D-7",
                "channel": "mobile",
                "level": "dissatisfied",
                "real_name": true,
                "pressed_at": at(1),
                "previous_press_at": at(0),
                "min_interval_secs": 5,
                "top_streak_before": 3,
                "open_service": true,
            }),
        );
    }
}
