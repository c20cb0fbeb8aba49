//! The uplink shipper: sends the outbox to the provincial platform on the platform clock, and
//! reconciles the previous day once it has caught up.

use crate::app::Platform;
use crate::app::uplink;

use std::sync::Arc;

use super::{Lease, Worker};

/// Starts the background shipper and the scheduled reconciliation on the platform clock.
pub fn spawn(platform: Platform, lease: Arc<dyn Lease>) {
    let config = &platform.uplink.config;
    if !config.enabled || config.interval_secs == 0 {
        return;
    }
    let secs = config.interval_secs;
    super::every(platform, lease, secs, Worker::Uplink, |platform, now| {
        let report = uplink::run(platform, now, true);
        let caught_up = matches!(report.steps.last(), Some(uplink::Step::Idle));
        uplink::reconcile_if_due(platform, now, caught_up);
    });
}
