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
/// own the worker, and a tick that runs asks again before each thing it hands outside (a
/// message, a batch), through its [`Tenure`].
pub trait Lease: Send + Sync {
    /// How long at the least this process keeps `worker` (`None`: it does not own it now).
    fn remaining(&self, worker: Worker) -> Option<Duration>;

    fn owns(&self, worker: Worker) -> bool {
        self.remaining(worker).is_some()
    }

    /// Whether other processes write the same log, so that a tick must first catch up with
    /// what they recorded (the previous holder's last messages and batches).
    fn shared(&self) -> bool {
        false
    }
}

/// One process owns every worker (the embedded store: one node).
pub struct SoleOwner;

impl Lease for SoleOwner {
    fn remaining(&self, _worker: Worker) -> Option<Duration> {
        Some(Duration::MAX)
    }
}

/// What a tick of a worker may still do: it hands a message or a batch outside only while its
/// process keeps the worker for at least as long as the call may take, so that a tick begun
/// before a lease moved never overlaps the next holder's.
pub struct Tenure {
    lease: Arc<dyn Lease>,
    worker: Worker,
}

impl Tenure {
    /// A tick of `worker` under `lease`.
    pub fn under(lease: Arc<dyn Lease>, worker: Worker) -> Tenure {
        Tenure { lease, worker }
    }

    /// A run asked for by a person (`POST …/sweep`) or a simulation: not under a lease.
    pub fn unbounded(worker: Worker) -> Tenure {
        Tenure::under(Arc::new(SoleOwner), worker)
    }

    /// Whether this process keeps the worker for longer than `call` from now.
    pub fn allows(&self, call: Duration) -> bool {
        self.lease
            .remaining(self.worker)
            .is_some_and(|remaining| remaining > call)
    }
}

/// The nodes of a shared partition (the province deployment) compete for a lease per worker on
/// the cluster; one node at a time holds it (see `hcp_cluster::lease`).
pub struct ClusterLease {
    leases: Arc<hcp_cluster::lease::Leases>,
}

impl Lease for ClusterLease {
    fn remaining(&self, worker: Worker) -> Option<Duration> {
        self.leases.remaining(worker.name())
    }

    fn shared(&self) -> bool {
        true
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
    fn remaining(&self, _worker: Worker) -> Option<Duration> {
        None
    }

    fn shared(&self) -> bool {
        true
    }
}

/// Keeps a node of a shared partition current with what the other nodes of the partition
/// append to the log, every `interval`, and activates here the rules version, holiday tables
/// and adapters another node activated. A shared log out of reach is reported once, and again when it answers.
pub fn spawn_catch_up(platform: &Platform, interval: Duration) {
    let platform = platform.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        // The log's head when the adapters were last followed: their records hold whole
        // components, read again only when the log has moved.
        let adapters_at = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        loop {
            ticker.tick().await;
            let platform = platform.clone();
            let adapters_at = adapters_at.clone();
            let caught_up = tokio::task::spawn_blocking(move || {
                let applied = platform.store.catch_up()?;
                // Asked on every pass, not only when this pass applied entries: an activation
                // may have come in while a batch of this node caught up. A refusal is reported
                // by the rules status; the active version keeps serving.
                let _ = platform.policies.follow(&platform.store);
                let _ = platform.policies.follow_calendar(&platform.store);
                let head = hcp_core::store::EventLog::head(&platform.store)?;
                if adapters_at.swap(head, std::sync::atomic::Ordering::Relaxed) != head {
                    crate::app::plugins::follow(
                        &platform.plugins,
                        &platform.store,
                        &platform.plugins_dir,
                    );
                }
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
/// as the process lives; a tick that falls behind waits instead of bunching up. The log names
/// the worker when a tick fails. A tick runs only while `lease` says this process owns the
/// worker, and on a shared log only once this node has caught up with it: a lease that just
/// moved here finds every message and batch its previous holder recorded.
fn every(
    platform: Platform,
    lease: Arc<dyn Lease>,
    secs: u64,
    worker: Worker,
    job: fn(&Platform, DateTime<Utc>, &Tenure),
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
            let tenure = Tenure::under(lease.clone(), worker);
            let ran = tokio::task::spawn_blocking(move || {
                if tenure.lease.shared()
                    && let Err(error) = platform.store.catch_up()
                {
                    tracing::warn!(%error, worker = worker.name(), "tick skipped: cannot catch up with the shared log");
                    return;
                }
                let now = platform.clock.now();
                job(&platform, now, &tenure);
            })
            .await;
            if let Err(error) = ran {
                tracing::error!(%error, worker = worker.name(), "background task failed");
            }
        }
    });
}
