//! The tally of a background pass (a sweep): what it did, and what went wrong said once.

use std::collections::BTreeMap;
use std::fmt::Display;

use chrono::{DateTime, Utc};
use serde::Serialize;

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
    /// Orders whose provisional or waiting phases were timed on a newly loaded holiday table.
    pub retimed_provisional: u32,
    /// 督办 and 通报 held back because their instant is counted on a provisional year.
    pub held_escalations: u32,
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
    /// What went wrong, one line per kind of error with how often and the first item it hit;
    /// the sweep goes on past each.
    pub errors: Vec<String>,
    /// Errors as they are reported, grouped by message: (count, first item).
    #[serde(skip)]
    tally: BTreeMap<String, (u32, String)>,
}

impl SweepReport {
    /// An empty tally of a pass as of `as_of`.
    pub fn as_of(as_of: DateTime<Utc>) -> SweepReport {
        SweepReport {
            as_of: Some(as_of),
            ..SweepReport::default()
        }
    }

    /// Notes that `error` hit `item` (an order, a task, a message; empty when it hit the sweep
    /// as a whole). Repeats of the same error are counted, not listed.
    pub fn fail(&mut self, item: impl Display, error: impl Display) {
        let entry = self
            .tally
            .entry(error.to_string())
            .or_insert_with(|| (0, item.to_string()));
        entry.0 += 1;
    }

    /// Turns the tally into `errors`: one line per distinct error.
    pub fn summarise(&mut self) {
        self.errors = std::mem::take(&mut self.tally)
            .into_iter()
            .map(|(error, (count, first))| match (count, first.is_empty()) {
                (1, true) => error,
                (1, false) => format!("{first}: {error}"),
                (_, true) => format!("{count} × {error}"),
                (_, false) => format!("{count} × {error} (first: {first})"),
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression for issue 10: hundreds of orders failing the same way are one line.
    #[test]
    fn repeated_errors_are_counted_not_listed() {
        let mut report = SweepReport::default();
        for order in 1..=300 {
            report.fail(format!("order {order}"), "no holiday table loaded for 2027");
        }
        report.fail("message 7", "the gateway refused it");
        report.fail("", "the SMS gateway did not answer 3 calls in a row");
        report.summarise();
        assert_eq!(
            report.errors,
            vec![
                "300 × no holiday table loaded for 2027 (first: order 1)".to_string(),
                "the SMS gateway did not answer 3 calls in a row".to_string(),
                "message 7: the gateway refused it".to_string(),
            ]
        );
    }
}
