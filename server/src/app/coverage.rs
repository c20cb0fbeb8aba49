//! 应接尽接: which of the business systems and device fleets a region expects to report are
//! connected. Every ingest source can be registered as expected (`Source::expected`); the store
//! counts, per source and day, what it delivered and what was refused. A source is connected
//! when it delivered something within `[coverage] silent_after_working_days` working days;
//! otherwise it is silent and listed. One computation serves `/api/v1/stats`, the coverage
//! endpoint, the bulletin and `/metrics`.

use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::auth::{Source, SourceKind};
use hcp_core::calendar::local_date;
use hcp_core::metrics::Ratio;
use hcp_core::store::{Dim, SourceDay, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::platform::Platform;

/// One source as the coverage shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceCoverage {
    pub id: String,
    pub name: String,
    pub kind: SourceKind,
    /// The org unit whose subtree it reports for.
    pub scope: String,
    pub expected: bool,
    pub disabled: bool,
    /// The last rating, service event or heartbeat of it that was stored.
    pub last_accepted_at: Option<DateTime<Utc>>,
    /// The last item of it that was refused (and kept for replay).
    pub last_refused_at: Option<DateTime<Utc>>,
    /// Ratings, service events and heartbeats stored in the period.
    pub accepted: u64,
    pub ratings: u64,
    pub service_events: u64,
    pub heartbeats: u64,
    /// Items refused in the period.
    pub refused: u64,
    /// Refused ÷ (accepted + refused) in the period.
    pub error_rate: Ratio,
    /// Working days since its last stored delivery, up to today; `None` when it never
    /// delivered anything.
    pub silent_working_days: Option<u32>,
    /// Delivered within the allowed number of working days.
    pub connected: bool,
    /// The days of the period with any activity.
    pub by_day: Vec<SourceDay>,
}

/// The systems connected of a region.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SystemsCoverage {
    pub region: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// A source silent for more working days than this is not connected.
    pub silent_after_working_days: u32,
    /// Expected sources of the region that are connected ÷ expected sources (应接尽接率).
    pub connected: Ratio,
    /// Expected sources silent for longer than allowed (or never heard from), by id.
    pub silent: Vec<String>,
    /// Every source reporting for the region or a part of it, expected ones first.
    pub sources: Vec<SourceCoverage>,
}

/// The coverage of `region` (a region code): the sources whose scope lies in it, their activity
/// from `from` to `to` and whether each is connected as of `today`. Blocking.
pub fn region_coverage(
    platform: &Platform,
    region: &str,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> Result<SystemsCoverage, StoreError> {
    let store = &platform.store;
    let limit = platform.coverage.silent_after_working_days;
    let calendar = platform.calendar();
    let mut sources = Vec::new();
    for source in store.sources()? {
        if source.kind == SourceKind::Platform
            || !store.within(Dim::Region, &source.scope, region)?
        {
            continue;
        }
        let activity = store.source_activity(&source.id, from, to)?;
        let silent_working_days = activity.last_accepted_at.map(|last| {
            let last = local_date(last);
            calendar
                .reckon_working_days_between(last, today)
                .map(|days| days.value)
                // Past every table there is: count the days themselves.
                .unwrap_or_else(|_| {
                    u32::try_from((today - last).num_days().max(0)).unwrap_or(u32::MAX)
                })
        });
        let connected = !source.disabled && silent_working_days.is_some_and(|days| days <= limit);
        let accepted = activity.ratings + activity.service_events + activity.heartbeats;
        sources.push(describe(
            source,
            activity,
            accepted,
            silent_working_days,
            connected,
        ));
    }
    sources.sort_by(|a, b| b.expected.cmp(&a.expected).then_with(|| a.id.cmp(&b.id)));
    let expected: Vec<&SourceCoverage> = sources.iter().filter(|s| s.expected).collect();
    let connected = expected.iter().filter(|s| s.connected).count() as u64;
    let silent = expected
        .iter()
        .filter(|s| !s.connected)
        .map(|s| s.id.clone())
        .collect();
    Ok(SystemsCoverage {
        region: region.to_string(),
        from,
        to,
        silent_after_working_days: limit,
        connected: Ratio::new(connected, expected.len() as u64),
        silent,
        sources,
    })
}

fn describe(
    source: Source,
    activity: hcp_core::store::SourceActivity,
    accepted: u64,
    silent_working_days: Option<u32>,
    connected: bool,
) -> SourceCoverage {
    SourceCoverage {
        id: source.id,
        name: source.name,
        kind: source.kind,
        scope: source.scope,
        expected: source.expected,
        disabled: source.disabled,
        last_accepted_at: activity.last_accepted_at,
        last_refused_at: activity.last_refused_at,
        accepted,
        ratings: activity.ratings,
        service_events: activity.service_events,
        heartbeats: activity.heartbeats,
        refused: activity.refused,
        error_rate: Ratio::new(activity.refused, accepted + activity.refused),
        silent_working_days,
        connected,
        by_day: activity.by_day,
    }
}

/// The last `days` days up to `today`, for the activity of a source.
pub fn recent(today: NaiveDate, days: u32) -> NaiveDate {
    today - chrono::Days::new(u64::from(days.max(1) - 1))
}
