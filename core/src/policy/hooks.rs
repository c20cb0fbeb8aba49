//! The host's side of each policy hook: which input and output types (`crate::hooks`) it
//! takes, exactly what a script may return, and the checks that turn the returned map into a
//! value the engine can trust.
//!
//! Every output is read back strictly: an unknown key, a wrong type or an out-of-range value is
//! refused, because a typo in a bureau's script must surface at test time, not vanish into a
//! default.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Hook;
use crate::calendar::{Calendar, CalendarError, DurationUnit};
use crate::hooks::{
    AssessmentOutput, DeadlineInput, DeadlineOutput, DefaultRatingInput, DefaultRatingOutput,
    IntegrityInput, IntegrityOutput, InvitationInput, InvitationOutput, PhaseKind, RoutingInput,
    RoutingOutput, UnitPeriodInput, VetoOutput, time_phase,
};
use crate::model::Level;

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaultRating {
    apply: bool,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
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
