//! The platform's own counters: requests by operation and outcome, ingested items by outcome.
//! The transport fills the request counters; `/metrics` renders them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Labels of a request counter: method, route template, status.
pub type RequestLabels = (String, String, u16);

/// Counters of the running platform: requests by operation and outcome (the transport labels
/// them), ingested items by outcome.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// (method, route, status) → (count, total seconds)
    requests: Mutex<BTreeMap<RequestLabels, (u64, f64)>>,
    /// Ingested items by outcome.
    pub ingest_recorded: AtomicU64,
    pub ingest_duplicate: AtomicU64,
    pub ingest_rejected: AtomicU64,
    /// The last walk of the store's trees and when it ended ([`Telemetry::tree_stats`]).
    trees: Mutex<Option<(std::time::Instant, Vec<hcp_core::store::TreeStats>)>>,
    walking: std::sync::atomic::AtomicBool,
    /// Background worker → whether this node runs it now (a node of a shared partition runs a
    /// worker while it holds its lease).
    workers: Mutex<BTreeMap<&'static str, bool>>,
}

/// How old the tree figures of `/metrics` may grow before a scrape starts a new walk.
const TREE_STATS_AGE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Telemetry {
    /// Records whether this node runs `worker` now.
    pub fn set_worker(&self, worker: &'static str, running: bool) {
        if let Ok(mut workers) = self.workers.lock() {
            workers.insert(worker, running);
        }
    }

    /// Every background worker and whether this node runs it now.
    pub fn workers(&self) -> BTreeMap<&'static str, bool> {
        self.workers
            .lock()
            .map(|workers| workers.clone())
            .unwrap_or_default()
    }

    /// The entries and bytes of every tree as of the last walk, and its age. A walk reads the
    /// whole store, so a scrape never waits for one: when the figures are missing or older than
    /// 15 minutes, a background thread walks again and the next scrape has them.
    pub fn tree_stats(
        self: &std::sync::Arc<Self>,
        store: &hcp_core::store::Store,
    ) -> Option<(std::time::Duration, Vec<hcp_core::store::TreeStats>)> {
        use std::sync::atomic::Ordering;
        let last = self.trees.lock().ok().and_then(|trees| {
            trees
                .as_ref()
                .map(|(at, stats)| (at.elapsed(), stats.clone()))
        });
        let stale = last.as_ref().is_none_or(|(age, _)| *age > TREE_STATS_AGE);
        if stale && !self.walking.swap(true, Ordering::AcqRel) {
            let (telemetry, store) = (self.clone(), store.clone());
            let spawned = std::thread::Builder::new()
                .name("hcp-tree-stats".into())
                .spawn(move || {
                    match store.tree_stats() {
                        Ok(stats) => {
                            if let Ok(mut trees) = telemetry.trees.lock() {
                                *trees = Some((std::time::Instant::now(), stats));
                            }
                        }
                        Err(error) => tracing::warn!(%error, "walking the store's trees failed"),
                    }
                    telemetry.walking.store(false, Ordering::Release);
                });
            if spawned.is_err() {
                self.walking.store(false, Ordering::Release);
            }
        }
        last
    }

    /// Counts one request (`route` is a template, never a raw path).
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            let entry = requests
                .entry((method.to_string(), route.to_string(), status))
                .or_default();
            entry.0 += 1;
            entry.1 += seconds;
        }
    }

    /// The request counters, for the metrics page.
    pub fn requests(
        &self,
    ) -> std::sync::LockResult<std::sync::MutexGuard<'_, BTreeMap<RequestLabels, (u64, f64)>>> {
        self.requests.lock()
    }
}
