//! Background work, each worker with one owner: the sweep (deadlines and flags of the closed
//! loop, call-backs, invitations, message delivery, scheduled reports, the calendar alarm) and
//! the uplink shipper. Workers call the application layer only. Each tick first asks the
//! [`Lease`] whether this process owns the worker: on one machine it always does; a cluster
//! puts its lease behind the same point.

pub mod delivery;
pub mod reports;
pub mod sweep;
pub mod uplink;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::app::Platform;

/// The background workers, one owner each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Worker {
    /// Deadlines and flags, call-backs, invitations, message delivery, scheduled reports.
    Sweep,
    /// The provincial uplink and its reconciliation.
    Uplink,
}

impl Worker {
    pub const ALL: [Worker; 2] = [Worker::Sweep, Worker::Uplink];

    pub fn name(self) -> &'static str {
        match self {
            Worker::Sweep => "sweep",
            Worker::Uplink => "uplink",
        }
    }
}

/// Who runs a worker now. Asked before every tick; a tick is skipped when this process does not
/// own the worker.
pub trait Lease: Send + Sync {
    fn owns(&self, worker: Worker) -> bool;
}

/// One process owns every worker (the embedded store: one node).
pub struct SoleOwner;

impl Lease for SoleOwner {
    fn owns(&self, _worker: Worker) -> bool {
        true
    }
}

/// The nodes of a shared partition (the province deployment) compete for a lease per worker on
/// the cluster; one node at a time holds it (see `hcp_cluster::lease`).
pub struct ClusterLease {
    leases: Arc<hcp_cluster::lease::Leases>,
}

impl Lease for ClusterLease {
    fn owns(&self, worker: Worker) -> bool {
        self.leases.holds(worker.name())
    }
}

impl ClusterLease {
    /// Takes and renews the leases every third of `ttl`, for as long as the process lives;
    /// `/metrics` says which workers this node runs.
    pub fn spawn(
        platform: &Platform,
        leases: Arc<hcp_cluster::lease::Leases>,
        ttl: Duration,
    ) -> ClusterLease {
        let renewing = leases.clone();
        let telemetry = platform.telemetry.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(ttl / 3);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                for worker in Worker::ALL {
                    let held = renewing.tick(worker.name()).await;
                    telemetry.set_worker(worker.name(), held);
                }
            }
        });
        ClusterLease { leases }
    }

    /// Hands every lease this node holds over at once (a clean stop).
    pub async fn release(&self) {
        for worker in Worker::ALL {
            self.leases.release(worker.name()).await;
        }
    }
}

/// A node of a shared partition (the province deployment) that is told not to run the workers:
/// another node of its partition runs them.
pub struct NotOwner;

impl Lease for NotOwner {
    fn owns(&self, _worker: Worker) -> bool {
        false
    }
}

/// Keeps a node of a shared partition current with what the other nodes of the partition
/// append to the log, every `interval`, and activates here a rules version another node
/// activated. A shared log out of reach is reported once, and again when it answers.
pub fn spawn_catch_up(platform: &Platform, interval: Duration) {
    let platform = platform.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            let platform = platform.clone();
            let caught_up = tokio::task::spawn_blocking(move || {
                let applied = platform.store.catch_up()?;
                // Asked on every pass, not only when this pass applied entries: an activation
                // may have come in while a batch of this node caught up. A refusal is reported
                // by the rules status; the active version keeps serving.
                let _ = platform.policies.follow(&platform.store);
                Ok::<_, hcp_core::store::StoreError>(applied)
            });
            match caught_up.await {
                Ok(Ok(_)) if failing => {
                    tracing::info!("caught up with the shared log again");
                    failing = false;
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) if !failing => {
                    tracing::warn!(%error, "cannot catch up with the shared log");
                    failing = true;
                }
                Ok(Err(_)) => {}
                Err(error) => {
                    tracing::error!(%error, "the catch-up task failed");
                    break;
                }
            }
        }
    });
}

/// Starts every worker of the platform on its clock.
pub fn spawn(platform: &Platform, lease: Arc<dyn Lease>) {
    for worker in Worker::ALL {
        platform
            .telemetry
            .set_worker(worker.name(), lease.owns(worker));
    }
    sweep::spawn(platform.clone(), lease.clone());
    uplink::spawn(platform.clone(), lease);
}

/// Runs `job` as of the platform clock every `secs` seconds, off the async workers, for as long
/// as the process lives; a tick that falls behind waits instead of bunching up. the log names the worker when a
/// tick fails. A tick runs only while `lease` says this process owns the worker.
fn every(
    platform: Platform,
    lease: Arc<dyn Lease>,
    secs: u64,
    worker: Worker,
    job: fn(&Platform, DateTime<Utc>),
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(secs));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !lease.owns(worker) {
                continue;
            }
            let platform = platform.clone();
            let ran = tokio::task::spawn_blocking(move || {
                let now = platform.clock.now();
                job(&platform, now);
            })
            .await;
            if let Err(error) = ran {
                tracing::error!(%error, worker = worker.name(), "background task failed");
            }
        }
    });
}
