//! The metrics of 好差评 for one unit and period, computed from the roll-up counters (never by
//! scanning ratings) and from the open orders past their deadline. Every rate keeps its
//! numerator and denominator, so that it can be checked by hand and drilled into; a rate whose
//! denominator is zero has no value (it is not 0 and not 1).
//!
//! Formulas (DOMAIN.md names them; the choices are ours and documented here):
//! - 主动评价率 `active_rate` = active (non-default) first ratings ÷ services;
//! - 评价率 `rating_rate` = first ratings, default ones included ÷ services;
//! - 好评率 `good_rate` = (非常满意 + 满意 [+ 基本满意, configurable]) ÷ valid ratings;
//! - 差评率 `bad_rate` = valid 差评 ÷ valid ratings (valid: an upheld appeal takes a rating out);
//! - 差评整改率 `rectify_rate` = rectified ÷ valid orders;
//! - 按期整改率 `on_time_rectify_rate` = rectified before the due instant ÷ orders due (rectified,
//!   or still open past the rectification deadline);
//! - 实名差评按期整改率 `real_name_on_time_rectify_rate`: the same for real-name orders;
//! - 回访率 `callback_rate` = called back ÷ fed back; 反馈率 `feedback_rate` = fed back ÷ valid
//!   orders; 整改满意率 `rectify_satisfaction_rate` = 满意 or 基本满意 ÷ rated rectifications.
//!
//! Orders count in the period their 差评 was received (a cohort), with what became of them by
//! now.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Channel, Level};

/// Decimal places of a rate's value.
pub const RATE_PLACES: u32 = 6;

/// What the metrics are configured with (`[metrics]` in the server's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MetricSettings {
    /// 基本满意 counts as 好评.
    pub basic_counts_as_good: bool,
    /// Score of each level from 非常满意 to 非常不满意, for the average score (广西: 10/8/6/3/0).
    #[schema(value_type = Vec<String>)]
    pub level_scores: [Decimal; 5],
}

impl Default for MetricSettings {
    fn default() -> Self {
        MetricSettings {
            basic_counts_as_good: true,
            level_scores: [100, 80, 60, 30, 0].map(Decimal::from),
        }
    }
}

/// A rate with what it is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    /// `numerator ÷ denominator` rounded half away from zero to [`RATE_PLACES`]; `None` when
    /// the denominator is zero.
    #[schema(value_type = Option<String>)]
    pub value: Option<Decimal>,
}

impl Ratio {
    pub fn new(numerator: u64, denominator: u64) -> Ratio {
        let value = (denominator > 0).then(|| {
            (Decimal::from(numerator) / Decimal::from(denominator))
                .round_dp_with_strategy(RATE_PLACES, RoundingStrategy::MidpointAwayFromZero)
                .normalize()
        });
        Ratio {
            numerator,
            denominator,
            value,
        }
    }
}

/// Open bad-review orders of the period still not rectified after their deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Overdue {
    pub orders: u64,
    pub real_name_orders: u64,
}

/// Every metric of one unit for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnitMetrics {
    /// Service acts that should be rated.
    pub services: u64,
    /// First ratings, default ones included.
    pub ratings: u64,
    /// Active ratings (not 系统默认).
    pub active_ratings: u64,
    pub default_ratings: u64,
    /// Made invalid by an upheld appeal (still in `ratings`).
    pub invalid: u64,
    pub valid_ratings: u64,
    /// Valid ratings by level.
    pub by_level: BTreeMap<Level, u64>,
    /// All first ratings by channel (the channel mix).
    pub by_channel: BTreeMap<Channel, u64>,
    pub good: u64,
    /// Valid 差评.
    pub bad: u64,
    pub real_name_bad: u64,
    pub follow_ups: u64,
    /// Valid 差评 per 1,000 services.
    #[schema(value_type = Option<String>)]
    pub bad_per_thousand_services: Option<Decimal>,
    /// Average of the level scores over the valid ratings.
    #[schema(value_type = Option<String>)]
    pub average_score: Option<Decimal>,
    /// The rates, by their policy names (`active_rate`, `good_rate`, …).
    pub rates: BTreeMap<String, Ratio>,
    pub orders: OrderCounts,
    pub overdue: Overdue,
}

impl UnitMetrics {
    /// The metrics from a unit's roll-up over the period and its overdue open orders.
    pub fn compute(row: &RollupRow, overdue: Overdue, settings: &MetricSettings) -> UnitMetrics {
        let mut by_level = BTreeMap::new();
        for level in Level::ALL {
            let raw = row.by_level.get(&level).copied().unwrap_or(0);
            let invalid = row.invalid_by_level.get(&level).copied().unwrap_or(0);
            by_level.insert(level, raw.saturating_sub(invalid));
        }
        let count = |level| by_level.get(&level).copied().unwrap_or(0);
        let valid_ratings = row.ratings.saturating_sub(row.invalid);
        let mut good = count(Level::VerySatisfied) + count(Level::Satisfied);
        if settings.basic_counts_as_good {
            good += count(Level::BasicallySatisfied);
        }
        let bad = row.bad.saturating_sub(row.invalid_bad);
        let real_name_bad = row.real_name_bad.saturating_sub(row.invalid_real_name_bad);
        let active_ratings = row.ratings.saturating_sub(row.default_ratings);
        let orders = &row.orders;
        let valid_orders = orders.orders.saturating_sub(orders.appeal_upheld);
        let due = orders.rectified + overdue.orders;
        let real_name_due = orders.real_name_rectified + overdue.real_name_orders;
        let rates = [
            ("active_rate", Ratio::new(active_ratings, row.services)),
            ("rating_rate", Ratio::new(row.ratings, row.services)),
            ("good_rate", Ratio::new(good, valid_ratings)),
            ("bad_rate", Ratio::new(bad, valid_ratings)),
            ("rectify_rate", Ratio::new(orders.rectified, valid_orders)),
            (
                "on_time_rectify_rate",
                Ratio::new(orders.rectified_on_time, due),
            ),
            (
                "real_name_on_time_rectify_rate",
                Ratio::new(orders.real_name_rectified_on_time, real_name_due),
            ),
            (
                "callback_rate",
                Ratio::new(orders.called_back, orders.fed_back),
            ),
            ("feedback_rate", Ratio::new(orders.fed_back, valid_orders)),
            (
                "rectify_satisfaction_rate",
                Ratio::new(orders.satisfied, orders.evaluated),
            ),
        ]
        .into_iter()
        .map(|(name, ratio)| (name.to_string(), ratio))
        .collect();
        let weighted: Decimal = Level::ALL
            .iter()
            .map(|level| {
                settings.level_scores[usize::from(level.index())] * Decimal::from(count(*level))
            })
            .sum();
        let average_score = (valid_ratings > 0).then(|| {
            (weighted / Decimal::from(valid_ratings))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .normalize()
        });
        let bad_per_thousand_services = (row.services > 0).then(|| {
            (Decimal::from(bad) * Decimal::from(1000) / Decimal::from(row.services))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .normalize()
        });
        UnitMetrics {
            services: row.services,
            ratings: row.ratings,
            active_ratings,
            default_ratings: row.default_ratings,
            invalid: row.invalid,
            valid_ratings,
            by_level,
            by_channel: row.by_channel.clone(),
            good,
            bad,
            real_name_bad,
            follow_ups: row.follow_ups,
            bad_per_thousand_services,
            average_score,
            rates,
            orders: orders.clone(),
            overdue,
        }
    }
}

/// Counters of one group of a roll-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct RollupRow {
    /// `total`, a date (YYYY-MM-DD) or a channel name.
    pub group: String,
    /// Service acts that should be rated (denominator of 评价率).
    pub services: u64,
    /// First ratings (assess number 1), default ones included.
    pub ratings: u64,
    /// First ratings by level.
    pub by_level: BTreeMap<Level, u64>,
    /// First ratings by channel.
    pub by_channel: BTreeMap<Channel, u64>,
    /// 差评 among the first ratings.
    pub bad: u64,
    /// 实名差评 among the first ratings.
    pub real_name_bad: u64,
    /// Default ratings (系统默认), excluded from 主动评价率.
    pub default_ratings: u64,
    /// Follow-up ratings (追评).
    pub follow_ups: u64,
    /// First ratings made invalid by an upheld appeal (申诉成立). They stay in `ratings`,
    /// `by_level`, `bad` (the raw totals); assessment metrics subtract them.
    pub invalid: u64,
    /// 差评 among `invalid`.
    pub invalid_bad: u64,
    /// 实名差评 among `invalid`.
    pub invalid_real_name_bad: u64,
    /// `invalid` by level.
    pub invalid_by_level: BTreeMap<Level, u64>,
    /// Bad-review work orders of the 差评 received in the range, and what became of them.
    pub orders: OrderCounts,
}

/// Counters of bad-review work orders, filed under the day their 差评 was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct OrderCounts {
    pub orders: u64,
    pub real_name_orders: u64,
    pub rectified: u64,
    pub rectified_on_time: u64,
    pub real_name_rectified: u64,
    pub real_name_rectified_on_time: u64,
    pub fed_back: u64,
    pub called_back: u64,
    /// Rated by the evaluator (link, 追评 or call-back), in any round.
    pub evaluated: u64,
    /// Last rated 满意 or 基本满意.
    pub satisfied: u64,
    pub closed: u64,
    pub appeal_upheld: u64,
    pub real_name_appeal_upheld: u64,
    /// Closed with a cause that does not blame staff (policy, system, environment).
    pub blameless: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_keep_their_parts_and_round_half_away_from_zero() {
        let third = Ratio::new(1, 3);
        assert_eq!(third.value, Some(Decimal::new(333_333, 6)));
        assert_eq!(Ratio::new(2, 3).value, Some(Decimal::new(666_667, 6)));
        assert_eq!(Ratio::new(0, 0).value, None);
        assert_eq!(Ratio::new(5, 5).value, Some(Decimal::ONE));
    }
}
