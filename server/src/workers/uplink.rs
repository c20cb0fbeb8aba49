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
    super::every(
        platform,
        lease,
        secs,
        Worker::Uplink,
        |platform, now, tenure| {
            // A batch sent again under its number is counted once by the province: a step only
            // needs the lease held when it begins.
            let report = uplink::run_while(platform, now, true, &|| {
                tenure.allows(std::time::Duration::ZERO)
            });
            let caught_up = matches!(report.steps.last(), Some(uplink::Step::Idle));
            uplink::reconcile_if_due(platform, now, caught_up);
        },
    );
}
