//! Assessment of units for a period: their metrics go through the county's assessment policy
//! (a score with its breakdown) and veto policy (reasons only); the engine applies every veto
//! the same way — a vetoed unit keeps its score but leaves the excellence ranking — and ranks.
//! A run can be frozen (recorded in the log with the rules and calendar versions it used), so
//! that later edits never rewrite a published result.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::hooks::{
    AssessmentInput, AssessmentOutput, Ruling, UnitPeriodInput, VetoInput, VetoReason,
};
use crate::metrics::{MetricSettings, UnitMetrics};

/// What an assessment asks of the county's rules. The policy host implements it for its
/// compiled rules; the domain never knows how the rules are written or run.
pub trait AssessmentPolicy {
    /// Why the rules could not answer.
    type Error: std::fmt::Display;

    /// A unit's score for a period with its breakdown (the assessment hook).
    fn score(&self, county: &str, input: &AssessmentInput)
    -> Ruling<AssessmentOutput, Self::Error>;

    /// The reasons to veto (一票否决) a unit for a period, none when it is not vetoed (the veto
    /// hook).
    fn veto_reasons(&self, county: &str, input: &VetoInput)
    -> Ruling<Vec<VetoReason>, Self::Error>;
}

/// An assessment period: a month `2026-03`, a quarter `2026-Q1`, a half-year `2026-H1` or a
/// year `2026`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn parse(text: &str) -> Result<Period, String> {
        let text = text.trim();
        let bad = || format!("period {text:?}: expected 2026-03, 2026-Q1, 2026-H1 or 2026");
        let (year, rest) = match text.split_once('-') {
            Some((year, rest)) => (year, Some(rest)),
            None => (text, None),
        };
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(2000..=2100).contains(&year) {
            return Err(bad());
        }
        let (first, last) = match rest {
            None => (1, 12),
            Some(rest) => match rest.as_bytes() {
                [b'Q', quarter @ b'1'..=b'4'] => {
                    let quarter = u32::from(quarter - b'0');
                    (quarter * 3 - 2, quarter * 3)
                }
                [b'H', half @ b'1'..=b'2'] => {
                    let half = u32::from(half - b'0');
                    (half * 6 - 5, half * 6)
                }
                _ => {
                    let month: u32 = rest.parse().map_err(|_| bad())?;
                    if !(1..=12).contains(&month) || rest.len() != 2 {
                        return Err(bad());
                    }
                    (month, month)
                }
            },
        };
        let from = NaiveDate::from_ymd_opt(year, first, 1).ok_or_else(bad)?;
        let next = if last == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, last + 1, 1)
        }
        .ok_or_else(bad)?;
        let to = next.pred_opt().ok_or_else(bad)?;
        Ok(Period { from, to })
    }

    /// The month before `date`'s month, as `YYYY-MM`.
    pub fn previous_month(date: NaiveDate) -> String {
        let (year, month) = if date.month() == 1 {
            (date.year() - 1, 12)
        } else {
            (date.year(), date.month() - 1)
        };
        format!("{year:04}-{month:02}")
    }
}

/// One unit to assess.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub unit: String,
    pub name: String,
    /// The county whose rules assess it (the city's for city-wide units).
    pub county: String,
    pub metrics: UnitMetrics,
}

/// One unit's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssessedUnit {
    pub unit: String,
    pub name: String,
    pub county: String,
    pub metrics: UnitMetrics,
    /// The score and its breakdown; `None` when the policy failed (see `error`).
    #[schema(value_type = Option<Object>)]
    pub score: Option<AssessmentOutput>,
    pub error: Option<String>,
    /// The veto policy's reasons; any reason vetoes.
    #[schema(value_type = Vec<Object>)]
    pub vetoes: Vec<VetoReason>,
    pub vetoed: bool,
    /// Place by score among the units with a score (1 = best), vetoed or not.
    pub position: Option<u32>,
    /// Place in the excellence ranking: units with a score and without a veto.
    pub rank: Option<u32>,
    /// Content hashes of the assessment and veto rules that decided.
    pub assessment_version: String,
    pub veto_version: String,
}

/// A whole run: what was assessed, with what, and the results in ranking order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssessmentRun {
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `region`, `hall`, `department`, `window`, `staff`.
    pub unit_kind: String,
    /// The org unit whose units were assessed.
    pub scope: String,
    /// The instant the orders' state was read at.
    pub as_of: DateTime<Utc>,
    pub rules_version: String,
    pub calendar_version: String,
    pub settings: MetricSettings,
    pub units: Vec<AssessedUnit>,
}

/// Scores, vetoes and ranks the candidates with the given rules.
pub fn assess<P: AssessmentPolicy + ?Sized>(
    rules: &P,
    period: &str,
    unit_kind: &str,
    candidates: Vec<Candidate>,
) -> Vec<AssessedUnit> {
    let mut units: Vec<AssessedUnit> = candidates
        .into_iter()
        .map(|candidate| {
            let input = UnitPeriodInput::for_unit(
                &candidate.metrics,
                &candidate.county,
                &candidate.unit,
                unit_kind,
                period,
            );
            let scored = rules.score(&candidate.county, &input);
            let assessment_version = scored.hook_version;
            let (score, error) = match scored.outcome {
                Ok(score) => (Some(score), None),
                Err(error) => (None, Some(error.to_string())),
            };
            let veto = rules.veto_reasons(&candidate.county, &input);
            let veto_version = veto.hook_version;
            let (vetoes, veto_error) = match veto.outcome {
                Ok(reasons) => (reasons, None),
                Err(error) => (Vec::new(), Some(error.to_string())),
            };
            // A veto policy that fails vetoes nothing silently: the unit is held out of the
            // excellence ranking and the error says why.
            let vetoed = !vetoes.is_empty() || veto_error.is_some();
            AssessedUnit {
                unit: candidate.unit,
                name: candidate.name,
                county: candidate.county,
                metrics: candidate.metrics,
                score,
                error: error.or(veto_error),
                vetoes,
                vetoed,
                position: None,
                rank: None,
                assessment_version,
                veto_version,
            }
        })
        .collect();
    rank(&mut units);
    units
}

/// Orders by score (best first, ties by unit code), then numbers the positions and the
/// excellence ranks. Units without a score come last.
pub fn rank(units: &mut [AssessedUnit]) {
    let total = |unit: &AssessedUnit| unit.score.as_ref().map(|score| score.total);
    units.sort_by(|a, b| {
        total(b)
            .unwrap_or(Decimal::MIN)
            .cmp(&total(a).unwrap_or(Decimal::MIN))
            .then_with(|| a.unit.cmp(&b.unit))
    });
    let mut position = 0;
    let mut rank = 0;
    for unit in units.iter_mut() {
        if unit.score.is_none() {
            continue;
        }
        position += 1;
        unit.position = Some(position);
        if !unit.vetoed {
            rank += 1;
            unit.rank = Some(rank);
        }
    }
}

/// The policy name of a rate and its Chinese label, as assessment items name them.
pub const RATE_LABELS: [(&str, &str); 10] = [
    ("active_rate", "主动评价率"),
    ("rating_rate", "评价率"),
    ("good_rate", "好评率"),
    ("bad_rate", "差评率"),
    ("rectify_rate", "差评整改率"),
    ("on_time_rectify_rate", "按期整改率"),
    ("real_name_on_time_rectify_rate", "实名差评按期整改率"),
    ("callback_rate", "回访率"),
    ("feedback_rate", "反馈率"),
    ("rectify_satisfaction_rate", "整改满意率"),
];

pub fn rate_label(name: &str) -> Option<&'static str> {
    RATE_LABELS
        .iter()
        .find(|(rate, _)| *rate == name)
        .map(|(_, label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::AssessmentItem;
    use crate::metrics::{Overdue, RollupRow};

    /// Rules written as plain code: a unit's score is the number in its code; unit `veto` is
    /// vetoed, and the rules of county `000000` fail.
    struct Fixed;

    impl AssessmentPolicy for Fixed {
        type Error = String;

        fn score(&self, county: &str, input: &AssessmentInput) -> Ruling<AssessmentOutput, String> {
            let total = input.unit.trim_start_matches('u').parse().unwrap_or(50);
            let outcome = match county {
                "000000" => Err("the assessment script failed".to_string()),
                _ => Ok(AssessmentOutput {
                    total: Decimal::from(total),
                    items: vec![AssessmentItem {
                        item: "主动评价率".into(),
                        weight: Decimal::ONE_HUNDRED,
                        value: Decimal::ONE,
                        score: Decimal::from(total),
                    }],
                }),
            };
            Ruling {
                outcome,
                hook_version: format!("assessment@{county}"),
            }
        }

        fn veto_reasons(&self, county: &str, input: &VetoInput) -> Ruling<Vec<VetoReason>, String> {
            let outcome = match (county, input.unit.as_str()) {
                ("000000", _) => Err("the veto script failed".to_string()),
                (_, "u90") => Ok(vec![VetoReason {
                    code: "real_name_rectify_overdue".into(),
                    reason: "实名差评按期整改率 96.0% < 100%".into(),
                }]),
                _ => Ok(Vec::new()),
            };
            Ruling {
                outcome,
                hook_version: format!("veto@{county}"),
            }
        }
    }

    #[test]
    fn vetoed_units_keep_their_place_by_score_and_leave_the_ranking() {
        let candidate = |unit: &str, county: &str| Candidate {
            unit: unit.into(),
            name: unit.into(),
            county: county.into(),
            metrics: UnitMetrics::compute(
                &RollupRow::default(),
                Overdue::default(),
                &MetricSettings::default(),
            ),
        };
        let units = assess(
            &Fixed,
            "2026-03",
            "region",
            vec![
                candidate("u80", "410421"),
                candidate("u90", "410421"),
                candidate("u70", "000000"),
                candidate("u60", "410402"),
            ],
        );
        let summary: Vec<_> = units
            .iter()
            .map(|unit| {
                (
                    unit.unit.as_str(),
                    unit.position,
                    unit.rank,
                    unit.vetoed,
                    unit.assessment_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("u90", Some(1), None, true, "assessment@410421"),
                ("u80", Some(2), Some(1), false, "assessment@410421"),
                ("u60", Some(3), Some(2), false, "assessment@410402"),
                ("u70", None, None, true, "assessment@000000"),
            ]
        );
        assert_eq!(
            units[3].error.as_deref(),
            Some("the assessment script failed")
        );
        assert_eq!(units[3].veto_version, "veto@000000");
    }

    #[test]
    fn periods() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let cases = [
            ("2026-03", day(2026, 3, 1), day(2026, 3, 31)),
            ("2026-02", day(2026, 2, 1), day(2026, 2, 28)),
            ("2026-Q4", day(2026, 10, 1), day(2026, 12, 31)),
            ("2026-H1", day(2026, 1, 1), day(2026, 6, 30)),
            ("2026", day(2026, 1, 1), day(2026, 12, 31)),
        ];
        for (text, from, to) in cases {
            assert_eq!(Period::parse(text), Ok(Period { from, to }), "{text}");
        }
        for bad in ["2026-13", "2026-Q5", "26-03", "2026-3", "x"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Period::previous_month(day(2026, 1, 5)), "2025-12");
    }
}
