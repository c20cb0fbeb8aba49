//! The installed plugins: one active version per plugin id, swapped atomically on install, with
//! call statistics and quarantine for a plugin that keeps faulting (exponential backoff, reset
//! by a success). Time comes from an injectable clock, so quarantine is testable without sleeps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hcp_core::clock::{Clock, SystemClock};
use serde::Serialize;

use crate::error::{CallError, PluginError};
use crate::host::PluginHost;
use crate::plugin::Plugin;
use crate::types::{Ack, DayCount, Decoded, PluginKind, UplinkBatch, UplinkRecords, UplinkRequest};

/// When a faulting plugin is quarantined, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Consecutive plugin faults that start a quarantine.
    pub threshold: u32,
    /// Length of the first quarantine; each further one in a row doubles it.
    pub initial: Duration,
    /// Longest quarantine.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            threshold: 3,
            initial: Duration::from_secs(10),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// Length of the `round`-th quarantine in a row (1-based).
    fn quarantine(&self, round: u32) -> Duration {
        let factor = 2u32
            .checked_pow(round.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .map_or(self.max, |length| length.min(self.max))
    }
}

/// One installed plugin as the status page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginStatus {
    pub id: String,
    pub version: String,
    pub vendor: String,
    pub kind: PluginKind,
    pub sha256: String,
    pub installed_at: DateTime<Utc>,
    /// Where it came from, e.g. its file name.
    pub origin: String,
    /// Calls that ran (quarantined calls are refused without running).
    pub calls: u64,
    /// Calls that ended in a plugin fault.
    pub failures: u64,
    pub consecutive_failures: u32,
    pub quarantined_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The last failed installation from one origin; cleared when that origin installs cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadFailure {
    pub origin: String,
    pub at: DateTime<Utc>,
    pub error: String,
}

/// The installed plugins. Cheap to clone; every clone sees the same plugins.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    host: PluginHost,
    backoff: Backoff,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    plugins: BTreeMap<String, Arc<Entry>>,
    load_failures: BTreeMap<String, LoadFailure>,
}

/// One active version. Health is per version: installing a new version starts afresh.
struct Entry {
    plugin: Arc<Plugin>,
    origin: String,
    installed_at: DateTime<Utc>,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    calls: u64,
    failures: u64,
    consecutive_failures: u32,
    /// Quarantines in a row, for the backoff.
    quarantines: u32,
    quarantined_until: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

impl Entry {
    fn health(&self) -> MutexGuard<'_, Health> {
        // Health is plain counters, consistent after any panic in between.
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Registry {
    pub fn new(host: PluginHost, backoff: Backoff) -> Registry {
        Registry::with_clock(host, backoff, Arc::new(SystemClock))
    }

    /// A registry whose installation times and quarantines follow `clock`.
    pub fn with_clock(host: PluginHost, backoff: Backoff, clock: Arc<dyn Clock>) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                host,
                backoff,
                clock,
                state: RwLock::new(State::default()),
            }),
        }
    }

    pub fn host(&self) -> &PluginHost {
        &self.inner.host
    }

    /// Validates the plugin, then makes it the active version of its id in one step. Calls
    /// already running keep their `Arc<Plugin>` and finish on the old version. A failed
    /// validation leaves the old version active and is recorded under `origin`.
    pub fn install(
        &self,
        bytes: &[u8],
        signature: Option<&[u8]>,
        origin: &str,
    ) -> Result<Arc<Plugin>, PluginError> {
        // Validation runs outside the lock: it compiles and runs the plugin's samples.
        let loaded = self.inner.host.load(bytes, signature);
        let now = self.inner.clock.now();
        let mut state = self.write_state();
        match loaded {
            Ok(plugin) => {
                state.load_failures.remove(origin);
                let entry = Arc::new(Entry {
                    plugin: Arc::clone(&plugin),
                    origin: origin.to_owned(),
                    installed_at: now,
                    health: Mutex::new(Health::default()),
                });
                if let Some(previous) = state.plugins.insert(plugin.info.id.clone(), entry) {
                    tracing::info!(
                        plugin = %plugin.info.id,
                        version = %plugin.info.version,
                        previous = %previous.plugin.info.version,
                        origin,
                        "plugin replaced"
                    );
                } else {
                    tracing::info!(plugin = %plugin.info.id, version = %plugin.info.version, origin, "plugin installed");
                }
                Ok(plugin)
            }
            Err(error) => {
                tracing::warn!(origin, error = %error, "plugin refused");
                state.load_failures.insert(
                    origin.to_owned(),
                    LoadFailure {
                        origin: origin.to_owned(),
                        at: now,
                        error: error.to_string(),
                    },
                );
                Err(error)
            }
        }
    }

    /// Uninstalls the plugin with this id; false when none was installed.
    pub fn remove(&self, id: &str) -> bool {
        self.write_state().plugins.remove(id).is_some()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Plugin>> {
        self.entry(id).map(|entry| Arc::clone(&entry.plugin))
    }

    /// Decodes with the active version of plugin `id`, counting the call towards its health.
    /// Returns the plugin that decoded, so the caller can record its version (sha256).
    pub fn decode(
        &self,
        id: &str,
        content_type: &str,
        payload: &[u8],
    ) -> Result<(Arc<Plugin>, Vec<Decoded>), CallError> {
        self.call(id, |plugin| plugin.decode(content_type, payload))
    }

    /// Encodes a batch with the active version of uplink plugin `id`.
    pub fn encode(
        &self,
        id: &str,
        batch: &UplinkBatch,
    ) -> Result<(Arc<Plugin>, UplinkRequest), CallError> {
        self.call(id, |plugin| plugin.encode(batch))
    }

    /// Reads the province's answer with the active version of uplink plugin `id`.
    pub fn parse_ack(
        &self,
        id: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(Arc<Plugin>, Ack), CallError> {
        self.call(id, |plugin| plugin.parse_ack(status, body))
    }

    /// Encodes ratings and rectifications with the active version of uplink plugin `id`.
    pub fn encode_records(
        &self,
        id: &str,
        batch: &UplinkRecords,
    ) -> Result<(Arc<Plugin>, UplinkRequest), CallError> {
        self.call(id, |plugin| plugin.encode_records(batch))
    }

    /// The request for the province's counts of `day`, with the active version of plugin `id`.
    pub fn count_query(
        &self,
        id: &str,
        day: chrono::NaiveDate,
    ) -> Result<(Arc<Plugin>, UplinkRequest), CallError> {
        self.call(id, |plugin| plugin.count_query(day))
    }

    /// Reads the province's counts with the active version of uplink plugin `id`.
    pub fn parse_counts(
        &self,
        id: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(Arc<Plugin>, Vec<DayCount>), CallError> {
        self.call(id, |plugin| plugin.parse_counts(status, body))
    }

    fn call<R>(
        &self,
        id: &str,
        call: impl FnOnce(&Plugin) -> Result<R, CallError>,
    ) -> Result<(Arc<Plugin>, R), CallError> {
        let entry = self
            .entry(id)
            .ok_or_else(|| CallError::NotInstalled { id: id.to_owned() })?;
        let plugin = &entry.plugin;
        let now = self.inner.clock.now();
        if let Some(until) = entry
            .health()
            .quarantined_until
            .filter(|until| now < *until)
        {
            return Err(CallError::Quarantined {
                plugin: plugin.info.id.clone(),
                version: plugin.info.version.clone(),
                until,
            });
        }
        let result = call(plugin);
        self.record(&entry, &result);
        result.map(|value| (Arc::clone(plugin), value))
    }

    fn record<R>(&self, entry: &Entry, result: &Result<R, CallError>) {
        let counts_as_call = !matches!(
            result,
            Err(CallError::InputTooLarge { .. }
                | CallError::WrongKind { .. }
                | CallError::Host { .. })
        );
        if !counts_as_call {
            return;
        }
        let mut health = entry.health();
        health.calls += 1;
        match result {
            Err(error) if error.is_plugin_fault() => {
                health.failures += 1;
                health.consecutive_failures = health.consecutive_failures.saturating_add(1);
                health.last_error = Some(error.to_string());
                if health.consecutive_failures >= self.inner.backoff.threshold {
                    health.quarantines = health.quarantines.saturating_add(1);
                    let length = self.inner.backoff.quarantine(health.quarantines);
                    let now = self.inner.clock.now();
                    let until = TimeDelta::from_std(length)
                        .ok()
                        .and_then(|length| now.checked_add_signed(length))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    health.quarantined_until = Some(until);
                    tracing::warn!(
                        plugin = %entry.plugin.info.id,
                        version = %entry.plugin.info.version,
                        consecutive_failures = health.consecutive_failures,
                        %until,
                        "plugin quarantined"
                    );
                }
            }
            // A plugin that answered (with records, or judging the payload malformed) is
            // healthy: its fault streak and backoff start over.
            _ => {
                health.consecutive_failures = 0;
                health.quarantines = 0;
                health.quarantined_until = None;
            }
        }
    }

    /// The installed plugins, by id.
    pub fn status(&self) -> Vec<PluginStatus> {
        let state = self.read_state();
        state
            .plugins
            .values()
            .map(|entry| {
                let plugin = &entry.plugin;
                let health = entry.health();
                PluginStatus {
                    id: plugin.info.id.clone(),
                    version: plugin.info.version.clone(),
                    vendor: plugin.info.vendor.clone(),
                    kind: plugin.info.kind,
                    sha256: plugin.sha256.clone(),
                    installed_at: entry.installed_at,
                    origin: entry.origin.clone(),
                    calls: health.calls,
                    failures: health.failures,
                    consecutive_failures: health.consecutive_failures,
                    quarantined_until: health.quarantined_until,
                    last_error: health.last_error.clone(),
                }
            })
            .collect()
    }

    /// The last refused installation of each origin that has not installed cleanly since.
    pub fn load_failures(&self) -> Vec<LoadFailure> {
        self.read_state().load_failures.values().cloned().collect()
    }

    /// Installs every `*.wasm` of `dir` in file-name order, each with its sibling
    /// `<file>.wasm.sig` when present, recording each under its file name. When two files
    /// hold the same plugin id, the later one is active.
    pub fn load_dir(&self, dir: &Path) -> Vec<(PathBuf, Result<Arc<Plugin>, PluginError>)> {
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(source) => {
                let error = PluginError::Io {
                    path: dir.to_owned(),
                    source,
                };
                tracing::warn!(dir = %dir.display(), %error, "cannot list plugins");
                return vec![(dir.to_owned(), Err(error))];
            }
        };
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "wasm")
            })
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let result = self.install_file(&path);
                (path, result)
            })
            .collect()
    }

    fn install_file(&self, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let origin = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| PluginError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let signature_path = path.with_file_name(format!("{origin}.sig"));
        let loaded = read(path).and_then(|bytes| {
            let signature = if signature_path.is_file() {
                Some(read(&signature_path)?)
            } else {
                None
            };
            Ok((bytes, signature))
        });
        match loaded {
            Ok((bytes, signature)) => self.install(&bytes, signature.as_deref(), &origin),
            Err(error) => {
                let mut state = self.write_state();
                state.load_failures.insert(
                    origin.clone(),
                    LoadFailure {
                        origin,
                        at: self.inner.clock.now(),
                        error: error.to_string(),
                    },
                );
                Err(error)
            }
        }
    }

    fn entry(&self, id: &str) -> Option<Arc<Entry>> {
        self.read_state().plugins.get(id).cloned()
    }

    // The lock guards a map swapped whole entries at a time, consistent after any panic.
    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let backoff = Backoff::default();
        let lengths: Vec<u64> = (1..=11)
            .map(|round| backoff.quarantine(round).as_secs())
            .collect();
        assert_eq!(
            lengths,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff.quarantine(u32::MAX), backoff.max);
    }
}
