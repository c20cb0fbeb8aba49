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
}

impl Telemetry {
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
