//! Deadline sweeps of the closed loop. One sweep, "as of" an instant, raises the 预警, 督办 and
//! 通报 flags that fell due on open work orders, sends the tracking link of new bad reviews,
//! completes unreachable call-backs by SMS, carries out the invitations and default ratings
//! that fell due, delivers queued messages, and generates the reports due that day (the
//! monthly bulletin on the 1st, the semiannual report on 06-30 and 12-30, each once). The
//! background loop sweeps as of the platform clock; tests and simulations sweep as of any
//! instant. Every action is a recorded event, and a sweep run twice as of the same instant does
//! nothing the second time.
//!
//! A sweep says what went wrong once: errors that repeat over many items are counted under one
//! line with the first item, and the sweep logs one line in all (never one per order).

use chrono::{DateTime, Utc};

use crate::app::platform::Platform;
use crate::app::work::SweepReport;

use std::sync::Arc;

use super::{Lease, Tenure, Worker};

/// Runs one sweep as of `as_of` and logs what went wrong in one line, and the calendar alarm in
/// another. Blocking; sweeps never overlap.
pub fn sweep(platform: &Platform, as_of: DateTime<Utc>) -> SweepReport {
    sweep_within(platform, as_of, &Tenure::unbounded(Worker::Sweep))
}

/// [`sweep`] as a tick of the background worker: messages go out only while `tenure` allows.
pub fn sweep_within(platform: &Platform, as_of: DateTime<Utc>, tenure: &Tenure) -> SweepReport {
    let report = sweep_quietly(platform, as_of, tenure);
    if !report.errors.is_empty() {
        tracing::warn!(errors = %report.errors.join("; "), "sweep finished with errors");
    }
    if let Some(alarm) = crate::app::calendar_alarm::message(
        &platform.calendar(),
        hcp_core::calendar::local_date(as_of),
        &platform.policies.timing(),
    ) {
        tracing::warn!(%alarm, "calendar");
    }
    report
}

/// [`sweep`] without logging: the demo's history runs hundreds of sweeps in a minute and says
/// what went wrong once at the end. Blocking.
pub fn sweep_quietly(platform: &Platform, as_of: DateTime<Utc>, tenure: &Tenure) -> SweepReport {
    let _guard = platform
        .sweep_lock
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut report = SweepReport::as_of(as_of);
    if let Err(error) = crate::app::orders::sweep_orders(platform, as_of, &mut report) {
        report.fail("work orders", format!("{error:#}"));
    }
    if let Err(error) = crate::app::outreach::run_due_tasks(platform, as_of, &mut report) {
        report.fail("invitations", format!("{error:#}"));
    }
    if let Err(error) = super::delivery::deliver(platform, as_of, &mut report, tenure) {
        report.fail("messages", format!("{error:#}"));
    }
    if let Err(error) = super::reports::run_schedule(platform, as_of, &mut report) {
        report.fail("reports", format!("{error:#}"));
    }
    report.summarise();
    report
}

/// Starts the background sweep on the platform clock.
pub fn spawn(platform: Platform, lease: Arc<dyn Lease>) {
    let secs = platform.workflow.sweep_secs;
    if secs == 0 {
        return;
    }
    super::every(
        platform,
        lease,
        secs,
        Worker::Sweep,
        |platform, now, tenure| {
            sweep_within(platform, now, tenure);
            crate::app::privacy::sweep_when_due(platform, now);
        },
    );
}
