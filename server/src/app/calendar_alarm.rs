//! The calendar alarm: from 1 November a missing official holiday table for the next year (or
//! any missing table for the current one) is said once, loudly, wherever an operator looks —
//! `/readyz`, `/metrics`, the rules status, one log line per sweep and the top of the monthly
//! bulletin — never once per work order.

use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::calendar::{Calendar, local_date};
use hcp_core::clock::Clock;
use serde::Serialize;

/// Provisional timing in force, as counted by the last sweep.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ProvisionalTiming {
    pub counted_at: Option<DateTime<Utc>>,
    /// Orders (open or closed) with a provisional or waiting phase.
    pub orders: u64,
    /// Phases counted on a provisional year.
    pub provisional_phases: u64,
    /// Phases waiting for a holiday table.
    pub awaiting_phases: u64,
    /// 督办 and 通报 the last sweep held back because their instant is provisional.
    pub held_escalations: u64,
}

/// Today in China time, as the platform's clock says.
pub fn today(clock: &dyn Clock) -> NaiveDate {
    local_date(clock.now())
}

/// The alarm in words for operators (logs, `/readyz`, the rules status), or `None`.
pub fn message(
    calendar: &Calendar,
    today: NaiveDate,
    timing: &ProvisionalTiming,
) -> Option<String> {
    let year = calendar.missing_table(today)?;
    let effect = if calendar.is_provisional(year) {
        format!(
            "deadlines in {year} are timed on a provisional calendar ({} orders, {} phases; {} 督办/通报 held)",
            timing.orders, timing.provisional_phases, timing.held_escalations
        )
    } else {
        format!(
            "deadlines in {year} wait untimed ({} phases awaiting)",
            timing.awaiting_phases
        )
    };
    Some(format!(
        "the official {year} holiday table is not loaded: {effect}; add rules/calendar/{year}.toml when the State Council publishes it"
    ))
}

/// The alarm as the monthly bulletin prints it, in Chinese, or `None`.
pub fn bulletin_notice(calendar: &Calendar, today: NaiveDate) -> Option<String> {
    let year = calendar.missing_table(today)?;
    Some(if calendar.is_provisional(year) {
        format!(
            "提示：{year}年国务院节假日安排尚未载入。跨入{year}年的办理时限暂按《全国年节及纪念日放假办法》法定节假日计算（不含调休），标为“暂定”，只预警、不督办；载入正式安排后自动重新计时。"
        )
    } else {
        format!(
            "提示：{year}年国务院节假日安排尚未载入。跨入{year}年的办理时限暂不计时，载入正式安排后自动计时。"
        )
    })
}
