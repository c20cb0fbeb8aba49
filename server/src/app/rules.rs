//! The lifecycle of the county policies in `rules/`: start-up is the first reload; a change in
//! the folder makes a candidate that must compile, pass its contract checks and its own tests
//! before it is swapped in atomically; a failed candidate leaves the last good version serving
//! and the status says why (file, line, column). Every activation is recorded in the store
//! with its files, so any earlier version can be activated again (rollback).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use hcp_core::calendar::Calendar;
use hcp_core::clock::Clock;
use hcp_core::event::{PolicyActivation, PolicyDecision};
use hcp_core::model::{Rating, RatingFacts, ServiceEventInput};
use hcp_core::policy::{Hook, Limits, PolicySet};
use hcp_core::store::{Command, Decider, Outcome, Store};
use serde::Serialize;

use crate::app::calendar_alarm::ProvisionalTiming;
use crate::app::config::Config;

/// What the status page says about the rules.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RulesStatus {
    /// Content hash of the active version.
    pub active_version: String,
    pub activated_at: Option<DateTime<Utc>>,
    pub activated_by: String,
    /// Why the last candidate was refused, with file, line and column; cleared by a success.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub reloads: u64,
    pub failed_reloads: u64,
    /// For the city (`default`) and every county with its own folder: which folder serves each
    /// hook and the content hash recorded next to its decisions.
    #[schema(value_type = Object)]
    pub hooks: BTreeMap<String, BTreeMap<String, HookStatus>>,
    /// The working-day calendar the rules count on.
    pub calendar: CalendarStatus,
}

/// What the status page says about the working-day calendar.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct CalendarStatus {
    /// Fingerprint recorded next to every decision counted on it.
    pub version: String,
    /// Years with an official holiday table.
    pub official_years: Vec<i32>,
    /// `[calendar] provisional`: phases past the official tables are timed on provisional years
    /// (otherwise they wait for their table).
    pub provisional_timing: bool,
    /// First and last provisional year, when provisional timing is on.
    pub provisional_years: Option<Vec<i32>>,
    /// The first year whose official table should be loaded by now (the current year, or from
    /// 1 November the next) and is not: an operational alarm.
    pub missing_table: Option<i32>,
    /// The alarm in words, when `missing_table` is set.
    pub alarm: Option<String>,
    /// The weekdays off of the first provisional year, to compare with the notice when it is
    /// published.
    pub provisional_rest_days: Vec<RestDayView>,
    pub activated_at: Option<DateTime<Utc>>,
    /// Why the last change of the calendar folder was refused; cleared by a success.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Orders and phases still counted on a provisional year or waiting for a table, and the
    /// 督办/通报 held back on provisional dues, as of the last sweep.
    pub timing: ProvisionalTiming,
    /// The last time phases were timed again after a table was loaded: what moved.
    pub last_retime: Option<RetimeSummary>,
}

/// One weekday off of a provisional year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RestDayView {
    pub date: chrono::NaiveDate,
    /// 元旦, 春节, 清明节 …
    pub holiday: String,
    /// A day off in lieu (补假) of a holiday day on a weekend or on another holiday.
    pub in_lieu: bool,
}

/// What one re-timing pass did after a holiday table was loaded.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RetimeSummary {
    pub at: Option<DateTime<Utc>>,
    /// The calendar the phases were timed on.
    pub calendar_version: String,
    /// Orders whose phases were timed again.
    pub orders: u64,
    /// Phases timed again (exactly, or for the first time).
    pub phases: u64,
    /// The orders, up to 100.
    pub order_ids: Vec<u64>,
    /// Changes refused (the order moved meanwhile); tried again by the next sweep.
    pub refused: u64,
}

/// Which folder serves a hook for a county, and its version.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct HookStatus {
    pub scope: String,
    pub version: String,
}

/// Hook versions of the city and of every county that has a folder.
fn hook_table(set: &PolicySet) -> BTreeMap<String, BTreeMap<String, HookStatus>> {
    let mut counties: BTreeSet<String> = set
        .files()
        .keys()
        .filter_map(|path| path.split('/').next())
        .filter(|first| first.len() == 6 && first.bytes().all(|b| b.is_ascii_digit()))
        .map(String::from)
        .collect();
    counties.insert("410400".to_string());
    counties
        .into_iter()
        .map(|county| {
            let hooks = Hook::ALL
                .iter()
                .map(|hook| {
                    (
                        hook.name().to_string(),
                        HookStatus {
                            scope: set.scope_for(*hook, &county).to_string(),
                            version: set.hook_version(*hook, &county),
                        },
                    )
                })
                .collect();
            (county, hooks)
        })
        .collect()
}

/// The active rules, with the calendar they count on, and their lifecycle. Cheap to share
/// behind an `Arc`.
pub struct Policies {
    dir: PathBuf,
    /// `[calendar] provisional`, applied to every calendar loaded from the folder.
    provisional: bool,
    clock: Arc<dyn Clock>,
    active: RwLock<Arc<PolicySet>>,
    status: Mutex<RulesStatus>,
    /// The calendar version the last complete re-timing pass ran for.
    retimed_for: Mutex<Option<String>>,
    /// Serialises rollbacks: two writing the folder at once would trip over each other's
    /// temporary files and activate a mix.
    rollbacks: Mutex<()>,
    /// Set while [`Policies::follow`] writes a version another node activated into the folder:
    /// the watcher leaves the half-written folder alone.
    following: std::sync::atomic::AtomicBool,
    /// The log sequence number of the last calendar activation [`Policies::follow_calendar`]
    /// looked at: the catch-up asks on every pass, the tables are loaded only when it moved.
    calendar_seen: std::sync::atomic::AtomicU64,
}

impl Policies {
    /// Loads the rules folder; if it is broken, falls back to the last version recorded in the
    /// store, so a bad edit made while the platform was down does not keep it from starting.
    /// Records the activation when the version differs from the last recorded one. Blocking.
    pub fn open(
        dir: &Path,
        calendar: Arc<Calendar>,
        provisional: bool,
        clock: Arc<dyn Clock>,
        store: &Store,
    ) -> anyhow::Result<Policies> {
        let last = store.last_policy_activation()?;
        let (set, error) = match candidate(dir, &calendar) {
            Ok(set) => (set, None),
            Err(error) => {
                let Some(last) = &last else {
                    anyhow::bail!(
                        "the rules in {} cannot be used and no earlier version is recorded: {error}",
                        dir.display()
                    );
                };
                let files = store
                    .policy_files(&last.version)?
                    .context("the recorded rules version has no files")?;
                tracing::error!(%error, version = %last.version, "rules folder refused at start-up; serving the last recorded version");
                let set = PolicySet::from_files(&files, calendar.clone(), Limits::default())
                    .map_err(|error| {
                        anyhow::anyhow!("the recorded rules version does not load: {error}")
                    })?;
                (set, Some(error))
            }
        };
        let policies = Policies {
            dir: dir.to_path_buf(),
            provisional,
            clock: clock.clone(),
            active: RwLock::new(Arc::new(set.clone())),
            status: Mutex::new(RulesStatus::default()),
            retimed_for: Mutex::new(None),
            rollbacks: Mutex::new(()),
            following: std::sync::atomic::AtomicBool::new(false),
            calendar_seen: std::sync::atomic::AtomicU64::new(0),
        };
        policies.set_status(|status| status.calendar.activated_at = Some(clock.now()));
        // On a shared partition a folder holding a version the partition has moved on from (a
        // node restarted on a stale copy) is not activated again: the catch-up follows the log
        // and rewrites the folder. A version never recorded is new: it is activated.
        let stale = store.shared()
            && last
                .as_ref()
                .is_some_and(|last| last.version != set.version())
            && store.policy_files(set.version())?.is_some();
        if stale {
            tracing::warn!(folder = %set.version(), "the rules folder holds an earlier version; following the partition's log instead");
        } else if last.as_ref().map(|last| last.version.as_str()) != Some(set.version()) {
            policies.record(store, &set, "system", "start-up")?;
        } else if let Some(last) = last {
            policies.set_status(|status| {
                status.active_version = last.version.clone();
                status.activated_at = Some(last.at);
                status.activated_by = last.actor.clone();
            });
        }
        if let Some(error) = error {
            policies.set_status(|status| {
                status.last_error = Some(error);
                status.last_error_at = Some(clock.now());
            });
        }
        if store.shared() {
            policies.share_calendar(store)?;
        }
        Ok(policies)
    }

    /// At the start of a node of a shared partition: puts the folder's holiday tables into the
    /// log when the log holds none yet or the folder holds tables never activated (added while
    /// the node was down), so every node follows them; a folder holding tables the partition
    /// has moved on from is left to the catch-up, which follows the log. Blocking.
    fn share_calendar(&self, store: &Store) -> anyhow::Result<()> {
        let version = self.calendar().version();
        let activations = store.calendar_activations()?;
        if activations
            .last()
            .is_some_and(|last| last.activation.version == version)
        {
            return Ok(());
        }
        if activations
            .iter()
            .any(|earlier| earlier.activation.version == version)
        {
            tracing::warn!(folder = %version, "the calendar folder holds earlier holiday tables; following the partition's log instead");
            return Ok(());
        }
        let tables = match read_tables(&self.calendar_dir()) {
            Ok(tables) => tables,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "the holiday tables in use are not in a folder; they are not shared through the log");
                return Ok(());
            }
        };
        let years = describe_years(&self.calendar());
        let outcome = store.submit_one(Command::ActivateCalendar {
            actor: "system".into(),
            activation: hcp_core::event::CalendarActivation {
                version,
                reason: format!("{years}; start-up"),
                tables,
            },
        })?;
        if let Outcome::Rejected(error) = outcome {
            anyhow::bail!("the holiday tables' activation was not recorded: {error}");
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn active(&self) -> Arc<PolicySet> {
        match self.active.read() {
            Ok(active) => active.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The calendar of the active rules.
    pub fn calendar(&self) -> Arc<Calendar> {
        self.active().calendar().clone()
    }

    pub fn status(&self) -> RulesStatus {
        let mut status = self
            .status
            .lock()
            .map(|status| status.clone())
            .unwrap_or_default();
        let active = self.active();
        status.hooks = hook_table(&active);
        describe_calendar(
            &mut status.calendar,
            active.calendar(),
            self.provisional,
            crate::app::calendar_alarm::today(self.clock.as_ref()),
        );
        status
    }

    fn set_status(&self, change: impl FnOnce(&mut RulesStatus)) {
        if let Ok(mut status) = self.status.lock() {
            change(&mut status);
        }
    }

    fn record(
        &self,
        store: &Store,
        set: &PolicySet,
        actor: &str,
        reason: &str,
    ) -> anyhow::Result<()> {
        let outcome = store.submit_one(Command::ActivatePolicy {
            actor: actor.to_string(),
            activation: PolicyActivation {
                version: set.version().to_string(),
                reason: reason.to_string(),
                files: set.files().clone(),
            },
        })?;
        if let Outcome::Rejected(error) = outcome {
            anyhow::bail!("activation not recorded: {error}");
        }
        let now = self.clock.now();
        self.set_status(|status| {
            status.active_version = set.version().to_string();
            status.activated_at = Some(now);
            status.activated_by = actor.to_string();
        });
        Ok(())
    }

    /// Builds a candidate from the folder and activates it if it passes; otherwise keeps the
    /// active version and reports why. Returns the active version after the attempt. Blocking.
    pub fn reload(&self, store: &Store, actor: &str, reason: &str) -> Result<String, String> {
        self.set_status(|status| status.reloads += 1);
        match candidate(&self.dir, &self.calendar()) {
            Ok(set) => {
                if set.version() == self.active().version() {
                    self.set_status(|status| {
                        status.last_error = None;
                        status.last_error_at = None;
                    });
                    return Ok(set.version().to_string());
                }
                if let Err(error) = self.record(store, &set, actor, reason) {
                    return Err(self.refuse(format!("{error:#}")));
                }
                let version = set.version().to_string();
                if let Ok(mut active) = self.active.write() {
                    *active = Arc::new(set);
                }
                self.set_status(|status| {
                    status.last_error = None;
                    status.last_error_at = None;
                });
                tracing::info!(%version, %reason, "rules version activated");
                Ok(version)
            }
            Err(error) => Err(self.refuse(error)),
        }
    }

    /// Activates here the rules version another node of the partition activated, when the
    /// shared log brought its activation (the province deployment): the version's files, kept
    /// with the activation, are loaded (a version that does not load here is refused and
    /// reported, and the active one keeps serving), swapped in, then written into the folder
    /// so that the folder and a restart agree. Returns the version activated, if any. Blocking.
    pub fn follow(&self, store: &Store) -> Result<Option<String>, String> {
        let Some(last) = store
            .last_policy_activation()
            .map_err(|error| error.to_string())?
        else {
            return Ok(None);
        };
        if last.version == self.active().version() {
            return Ok(None);
        }
        let _one_at_a_time = self
            .rollbacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let files = store
            .policy_files(&last.version)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("the activated rules version {} has no files", last.version))?;
        let set =
            PolicySet::from_files(&files, self.calendar(), Limits::default()).map_err(|error| {
                self.refuse(format!(
                    "rules version {} activated on another node does not load here: {error}",
                    last.version
                ))
            })?;
        let current: BTreeSet<String> = self.active().files().keys().cloned().collect();
        // The folder first: whoever sees the version active finds it in the folder too.
        self.following
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let written = write_version(&self.dir, &current, &files);
        self.following
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Err(error) = written {
            tracing::error!(error = %format!("{error:#}"), "cannot write the followed rules version into the folder");
        }
        if let Ok(mut active) = self.active.write() {
            *active = Arc::new(set);
        }
        self.set_status(|status| {
            status.active_version = last.version.clone();
            status.activated_at = Some(last.at);
            status.activated_by = last.actor.clone();
            status.last_error = None;
            status.last_error_at = None;
        });
        tracing::info!(version = %last.version, actor = %last.actor, "rules version activated on another node, active here");
        Ok(Some(last.version))
    }

    fn refuse(&self, error: String) -> String {
        let now = self.clock.now();
        tracing::error!(%error, "rules candidate refused; the active version keeps serving");
        self.set_status(|status| {
            status.failed_reloads += 1;
            status.last_error = Some(error.clone());
            status.last_error_at = Some(now);
        });
        error
    }

    /// Puts the files of a recorded version back into the folder and activates them: all of
    /// them, or only those of `county`'s folder (the other counties' and the city's stay as they
    /// are). Blocking.
    pub fn rollback(
        &self,
        store: &Store,
        version: &str,
        county: Option<&str>,
        actor: &str,
    ) -> Result<String, String> {
        let _one_at_a_time = self
            .rollbacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let folder = county.map(|county| format!("{county}/"));
        let in_reach = |path: &String| {
            folder
                .as_deref()
                .is_none_or(|folder| path.starts_with(folder))
        };
        let files: BTreeMap<String, String> = store
            .policy_files(version)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("no recorded rules version {version}"))?
            .into_iter()
            .filter(|(path, _)| in_reach(path))
            .collect();
        let current = self
            .active()
            .files()
            .keys()
            .filter(|path| in_reach(path))
            .cloned()
            .collect();
        write_version(&self.dir, &current, &files).map_err(|error| format!("{error:#}"))?;
        let reason = match county {
            Some(county) => format!("rollback of {county} to {version}"),
            None => format!("rollback to {version}"),
        };
        self.reload(store, actor, &reason)
    }

    /// Writes `files` as the whole content of one scope folder (`default/` or a county's) and
    /// activates the result, after checking the complete candidate (the folder with those files
    /// in place) loads and passes its tests: a refused candidate never touches the folder.
    /// Blocking.
    pub fn save(
        &self,
        store: &Store,
        folder: &str,
        files: &BTreeMap<String, String>,
        actor: &str,
    ) -> Result<String, String> {
        let _one_at_a_time = self
            .rollbacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let prefix = format!("{folder}/");
        if let Some(path) = files.keys().find(|path| !path.starts_with(&prefix)) {
            return Err(format!("{path} is not in the folder {folder}/"));
        }
        // Plain relative names only: nothing written outside the folder, nothing hidden.
        let plain = |part: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if let Some(path) = files.keys().find(|path| !path.split('/').all(plain)) {
            return Err(format!("{path} is not a plain relative file name"));
        }
        let active = self.active();
        let current: BTreeSet<String> = active
            .files()
            .keys()
            .filter(|path| path.starts_with(&prefix))
            .cloned()
            .collect();
        let mut whole: BTreeMap<String, String> = active
            .files()
            .iter()
            .filter(|(path, _)| !path.starts_with(&prefix))
            .map(|(path, text)| (path.clone(), text.clone()))
            .collect();
        whole.extend(
            files
                .iter()
                .map(|(path, text)| (path.clone(), text.clone())),
        );
        let checked = check_files(&whole, &self.calendar());
        if let Some(error) = checked.error {
            return Err(error);
        }
        write_version(&self.dir, &current, files).map_err(|error| format!("{error:#}"))?;
        // A file of the active version missing from the folder (a folder emptied by hand, or
        // a platform started on the version recorded in its store) is put back, so the folder
        // holds the candidate that was checked.
        let missing: BTreeMap<String, String> = whole
            .into_iter()
            .filter(|(path, _)| !path.starts_with(&prefix) && !self.dir.join(path).exists())
            .collect();
        write_version(&self.dir, &BTreeSet::new(), &missing)
            .map_err(|error| format!("{error:#}"))?;
        self.reload(store, actor, &format!("saved {folder}/ from the console"))
    }

    /// Watches the rules folder (recursively): a changed policy reloads the rules, a changed
    /// holiday table reloads the calendar and times again what it now times differently.
    pub fn watch(self: &Arc<Self>, store: Store) -> anyhow::Result<notify::RecommendedWatcher> {
        let policies = self.clone();
        let dir = self.dir.clone();
        let calendar_dir = self.calendar_dir();
        crate::app::watch::watch_folder(
            &dir,
            true,
            std::time::Duration::from_millis(200),
            "rules",
            move |changed| {
                if policies.following.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                if changed.iter().any(|path| is_policy_file(path)) {
                    let _ = policies.reload(&store, "system", "file change");
                }
                if changed.iter().any(|path| path.starts_with(&calendar_dir)) {
                    let _ = policies.reload_calendar(&store, "system", "file change");
                    policies.retime(&store);
                }
            },
        )
    }

    fn calendar_dir(&self) -> PathBuf {
        self.dir.join("calendar")
    }

    /// Loads the holiday tables of the folder; if they are valid and the active rules still
    /// pass their tests on them, swaps them in with the rules (same rules version) and records
    /// the activation. A refused change leaves the active calendar serving and says why.
    /// Returns the calendar version after the attempt. Blocking.
    pub fn reload_calendar(
        &self,
        store: &Store,
        actor: &str,
        reason: &str,
    ) -> Result<String, String> {
        let (tables, calendar) = match read_tables(&self.calendar_dir())
            .and_then(|tables| Ok((tables.clone(), calendar_of(&tables, self.provisional)?)))
        {
            Ok(loaded) => loaded,
            Err(error) => return Err(self.refuse_calendar(format!("{error:#}"))),
        };
        let active = self.active();
        if calendar.version() == active.calendar().version() {
            self.set_status(|status| {
                status.calendar.last_error = None;
                status.calendar.last_error_at = None;
            });
            return Ok(calendar.version());
        }
        let version = calendar.version();
        let set = match PolicySet::from_files(active.files(), Arc::new(calendar), Limits::default())
        {
            Ok(set) => set,
            Err(error) => return Err(self.refuse_calendar(error.to_string())),
        };
        let report = set.run_tests();
        if report.failed > 0 {
            return Err(self.refuse_calendar(format!(
                "the rules' own tests fail on the new holiday tables:\n{report}"
            )));
        }
        let years = describe_years(set.calendar());
        // The tables go into the log with the activation (every node of a shared partition
        // switches to them there), the audit trail says it in words; one batch, both or none.
        let activation = Command::ActivateCalendar {
            actor: actor.to_string(),
            activation: hcp_core::event::CalendarActivation {
                version: version.clone(),
                reason: format!("{years}; {reason}"),
                tables,
            },
        };
        let entry = hcp_core::event::AuditEntry {
            actor: actor.to_string(),
            action: "calendar_activated".into(),
            target: version.clone(),
            detail: format!("{years}; {reason}"),
        };
        match store.submit(vec![activation, Command::Audit { entry }]) {
            Ok(outcomes) => {
                if let Some(Outcome::Rejected(error)) = outcomes
                    .into_iter()
                    .find(|outcome| matches!(outcome, Outcome::Rejected(_)))
                {
                    return Err(self.refuse_calendar(format!("activation not recorded: {error}")));
                }
            }
            Err(error) => {
                return Err(self.refuse_calendar(format!("activation not recorded: {error:#}")));
            }
        }
        if let Ok(mut slot) = self.active.write() {
            *slot = Arc::new(set);
        }
        let now = self.clock.now();
        self.set_status(|status| {
            status.calendar.activated_at = Some(now);
            status.calendar.last_error = None;
            status.calendar.last_error_at = None;
        });
        tracing::info!(%version, %years, %reason, "holiday tables activated");
        Ok(version)
    }

    /// Activates here the holiday tables another node of the partition activated, when the
    /// shared log brought the activation: the tables are loaded (with this node's provisional
    /// years), the rules' own tests run on them (refused and reported if they fail, the active
    /// calendar keeping on), swapped in, and written into the calendar folder. The node that
    /// runs the sweep times the waiting phases again on its next sweep. Returns the calendar
    /// version activated, if any. Blocking.
    pub fn follow_calendar(&self, store: &Store) -> Result<Option<String>, String> {
        let Some(last) = store
            .last_calendar_activation()
            .map_err(|error| error.to_string())?
        else {
            return Ok(None);
        };
        if self
            .calendar_seen
            .swap(last.seq, std::sync::atomic::Ordering::Relaxed)
            == last.seq
        {
            return Ok(None);
        }
        let tables = &last.activation.tables;
        let calendar = calendar_of(tables, self.provisional).map_err(|error| {
            self.refuse_calendar(format!(
                "holiday tables activated on another node do not load here: {error:#}"
            ))
        })?;
        let active = self.active();
        if calendar.version() == active.calendar().version() {
            return Ok(None);
        }
        let _one_at_a_time = self
            .rollbacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let version = calendar.version();
        let set = PolicySet::from_files(active.files(), Arc::new(calendar), Limits::default())
            .map_err(|error| self.refuse_calendar(error.to_string()))?;
        let report = set.run_tests();
        if report.failed > 0 {
            return Err(self.refuse_calendar(format!(
                "the rules' own tests fail here on the holiday tables activated on another node:\n{report}"
            )));
        }
        // The folder first: whoever sees the tables active finds them in the folder too.
        self.following
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let written = write_tables(&self.calendar_dir(), tables);
        self.following
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Err(error) = written {
            tracing::error!(error = %format!("{error:#}"), "cannot write the followed holiday tables into the folder");
        }
        if let Ok(mut slot) = self.active.write() {
            *slot = Arc::new(set);
        }
        self.set_status(|status| {
            status.calendar.activated_at = Some(last.at);
            status.calendar.last_error = None;
            status.calendar.last_error_at = None;
        });
        tracing::info!(%version, actor = %last.actor, "holiday tables activated on another node, active here");
        Ok(Some(version))
    }

    fn refuse_calendar(&self, error: String) -> String {
        let now = self.clock.now();
        tracing::error!(%error, "holiday tables refused; the active calendar keeps serving");
        self.set_status(|status| {
            status.calendar.last_error = Some(error.clone());
            status.calendar.last_error_at = Some(now);
        });
        error
    }

    /// Times again the provisional and waiting phases of every order that the active calendar
    /// times differently, once per calendar version (a pass with refusals is tried again).
    /// Returns what it did, or `None` when the calendar was already done. Blocking.
    pub fn retime(&self, store: &Store) -> Option<RetimeSummary> {
        let calendar = self.calendar();
        let version = calendar.version();
        let mut done = self
            .retimed_for
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if done.as_deref() == Some(version.as_str()) {
            return None;
        }
        let summary = match crate::app::orders::retime_provisional(
            store,
            &calendar,
            self.clock.now(),
        ) {
            Ok(summary) => summary,
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "re-timing provisional phases failed; the next sweep tries again");
                return None;
            }
        };
        if summary.refused == 0 {
            *done = Some(version);
        }
        if summary.phases > 0 {
            tracing::info!(
                orders = summary.orders,
                phases = summary.phases,
                calendar = %summary.calendar_version,
                "provisional phases timed on the loaded holiday tables"
            );
            let kept = summary.clone();
            self.set_status(|status| status.calendar.last_retime = Some(kept));
        }
        Some(summary)
    }

    /// What the last sweep counted of provisional timing.
    pub fn timing(&self) -> ProvisionalTiming {
        self.status
            .lock()
            .map(|status| status.calendar.timing.clone())
            .unwrap_or_default()
    }

    /// Records what the last sweep counted of provisional timing.
    pub fn set_timing(&self, timing: ProvisionalTiming) {
        self.set_status(|status| status.calendar.timing = timing);
    }
}

/// "official 2025-2026, provisional 2027-2050" for logs and the audit trail.
fn describe_years(calendar: &Calendar) -> String {
    let mut text = format!(
        "official {}-{}",
        calendar.first_year(),
        calendar.last_year()
    );
    if let Some((first, last)) = calendar.provisional_years() {
        text.push_str(&format!(", provisional {first}-{last}"));
    }
    text
}

/// Fills in what the status says of a calendar as of `today`.
fn describe_calendar(
    status: &mut CalendarStatus,
    calendar: &Calendar,
    provisional: bool,
    today: chrono::NaiveDate,
) {
    status.version = calendar.version();
    status.official_years = calendar.years();
    status.provisional_timing = provisional;
    status.provisional_years = calendar
        .provisional_years()
        .map(|(first, last)| vec![first, last]);
    status.missing_table = calendar.missing_table(today);
    status.alarm = crate::app::calendar_alarm::message(calendar, today, &status.timing);
    status.provisional_rest_days = calendar
        .provisional_years()
        .and_then(|(first, _)| {
            hcp_core::calendar::statutory::rest_days(first)
                .ok()
                .flatten()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|day| RestDayView {
            date: day.date,
            holiday: day.holiday.to_string(),
            in_lieu: day.in_lieu,
        })
        .collect();
}

fn is_policy_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "rhai" || ext == "json")
        || path.is_dir()
}

/// Compiles the folder and runs its tests: a candidate is usable only when both pass.
fn candidate(dir: &Path, calendar: &Arc<Calendar>) -> Result<PolicySet, String> {
    let set = PolicySet::load(dir, calendar.clone(), Limits::default())
        .map_err(|error| error.to_string())?;
    let report = set.run_tests();
    if report.failed > 0 {
        return Err(format!("the rules' own tests fail:\n{report}"));
    }
    Ok(set)
}

/// Replaces the policy files of the folder with `files`: files of the current version that the
/// old one lacks are removed; each file is written atomically.
fn write_version(
    dir: &Path,
    current: &BTreeSet<String>,
    files: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for path in current {
        if !files.contains_key(path) {
            let full = dir.join(path);
            if full.exists() {
                std::fs::remove_file(&full)
                    .with_context(|| format!("removing {}", full.display()))?;
            }
        }
    }
    for (path, text) in files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let temp = full.with_extension("rollback-tmp");
        std::fs::write(&temp, text).with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, &full).with_context(|| format!("writing {}", full.display()))?;
    }
    Ok(())
}

/// That `principal` edits rules (a rule editor or an administrator) and reaches what the act
/// changes: `county`'s folder within their scope, or without a county every county's rules (a
/// city-wide act). `who` and `city_wide` say why not.
fn ensure_editor_of(
    platform: &crate::app::Platform,
    principal: &hcp_core::auth::Principal,
    county: Option<&str>,
    who: &str,
    city_wide: &str,
) -> Result<(), crate::app::AppError> {
    use hcp_core::auth::Role;
    let editors = [Role::Admin, Role::RuleEditor];
    crate::app::scope::ensure_role(principal, &editors, who)?;
    let scope = platform.scope();
    match county {
        Some(county) => scope.ensure_rules_county(principal, county),
        None => scope.ensure_city(principal, &editors, city_wide),
    }
}

/// A signed-in user's rollback to a recorded version: of one county's folder (a county within
/// their scope), or of the whole folder (a city-wide act); the version is validated and tested
/// like any change, and refused with the reason (422). Blocking.
pub fn rollback(
    platform: &crate::app::Platform,
    principal: &hcp_core::auth::Principal,
    version: &str,
    county: Option<&str>,
) -> Result<String, crate::app::AppError> {
    ensure_editor_of(
        platform,
        principal,
        county,
        "the rules are rolled back by rule editors and administrators",
        "a rollback of the whole rules folder changes every county's rules (name a `county` \
         to roll back only its folder)",
    )?;
    platform
        .policies
        .rollback(&platform.store, version, county, &principal.username)
        .map_err(|message| {
            crate::app::AppError::Unprocessable(hcp_core::validate::Reason {
                code: "rules_refused".into(),
                message,
            })
        })
}

/// The county whose rules decide for a region code: its first six digits (a township's or
/// village's code starts with its county's).
pub use hcp_core::store::county_of;

/// The hooks asked about every newly recorded 差评: its deadlines and its route (派单).
const BAD_REVIEW_HOOKS: [Hook; 2] = [Hook::Deadline, Hook::Routing];

/// Asks the active rules for the deadlines and the route of every newly recorded 差评, and for
/// integrity flags on every rating.
pub struct PolicyDecider {
    pub policies: Arc<Policies>,
}

impl Decider for PolicyDecider {
    fn decide(
        &self,
        rating: &Rating,
        comment: Option<&str>,
        facts: &RatingFacts,
    ) -> Vec<PolicyDecision> {
        let set = self.policies.active();
        let mut decisions = Vec::new();
        if rating.is_bad() && rating.assess_number == 1 {
            decisions.extend(
                BAD_REVIEW_HOOKS
                    .iter()
                    .map(|hook| decide(&set, *hook, rating, comment)),
            );
        } else if rating.is_bad() && rating.assess_number == 2 {
            // A 差评 as the 追评 reopens the order: the rectification starts again from now.
            decisions.push(decide(&set, Hook::Deadline, rating, comment));
        }
        // Flags mark a rating for review and never drop it; a clean rating records nothing.
        let integrity = decide_integrity(&set, rating, facts);
        let flagged = integrity
            .output
            .get("flags")
            .and_then(|flags| flags.as_array())
            .is_none_or(|flags| !flags.is_empty());
        if flagged {
            decisions.push(integrity);
        }
        decisions
    }

    fn decide_service(&self, service: &ServiceEventInput, reachable: bool) -> Vec<PolicyDecision> {
        self.service_decisions(service, reachable)
    }
}

impl Policies {
    /// One hook's decision about something other than a new rating (an intake, a reopened
    /// order), recorded with the rules version that made it. A failing rule is returned as
    /// such, with `output.error` set.
    pub fn decide(
        &self,
        hook: Hook,
        subject: String,
        county: &str,
        input: serde_json::Value,
    ) -> PolicyDecision {
        evaluated(&self.active(), hook, 0, subject, county.to_string(), input)
    }
}

impl PolicyDecider {
    /// Invitation plan and default rating of a completed service act.
    fn service_decisions(
        &self,
        service: &ServiceEventInput,
        reachable: bool,
    ) -> Vec<PolicyDecision> {
        let set = self.policies.active();
        let county = county_of(&service.area_code);
        let subject =
            hcp_core::outreach::service_subject(&service.project_no, service.service_number);
        let invitation = hcp_core::hooks::InvitationInput::for_service(service, &county, reachable);
        let default_rating = hcp_core::hooks::DefaultRatingInput::for_service(service, &county);
        vec![
            evaluated(
                &set,
                Hook::Invitation,
                0,
                subject.clone(),
                county.clone(),
                serde_json::to_value(invitation).unwrap_or_default(),
            ),
            evaluated(
                &set,
                Hook::DefaultRating,
                0,
                subject,
                county,
                serde_json::to_value(default_rating).unwrap_or_default(),
            ),
        ]
    }
}

fn decide_integrity(set: &PolicySet, rating: &Rating, facts: &RatingFacts) -> PolicyDecision {
    let county = county_of(&rating.area_code);
    let input = hcp_core::hooks::IntegrityInput::for_rating(rating, &county, facts);
    let input = serde_json::to_value(input).unwrap_or_default();
    evaluated(
        set,
        Hook::Integrity,
        rating.id,
        String::new(),
        county,
        input,
    )
}

/// What a hook sees of a 差评 (only the deadline and routing hooks are asked about one).
/// Comments go to the rules with long digit runs (phone and ID numbers typed into the text)
/// masked.
fn hook_input(
    hook: Hook,
    rating: &Rating,
    comment: Option<&str>,
    county: &str,
) -> serde_json::Value {
    let input = match hook {
        Hook::Deadline => {
            serde_json::to_value(hcp_core::hooks::DeadlineInput::for_rating(rating, county))
        }
        Hook::Routing => serde_json::to_value(hcp_core::hooks::RoutingInput::for_rating(
            rating, comment, county,
        )),
        _ => Ok(serde_json::Value::Null),
    };
    input.unwrap_or_default()
}

/// One hook's decision about a 差评 (its deadlines, its route; `comment` opened), as the
/// platform records it. The analytics benchmark decides through this too, so that its orders
/// are the server's.
pub fn decide(
    set: &PolicySet,
    hook: Hook,
    rating: &Rating,
    comment: Option<&str>,
) -> PolicyDecision {
    let county = county_of(&rating.area_code);
    let input = hook_input(hook, rating, comment, &county);
    evaluated(set, hook, rating.id, String::new(), county, input)
}

/// Runs a hook; a failing rule is recorded as such, and the rating stands.
fn evaluated(
    set: &PolicySet,
    hook: Hook,
    rating_id: u64,
    subject: String,
    county: String,
    input: serde_json::Value,
) -> PolicyDecision {
    let (output, scope, hook_version, provisional_year) = match set.eval(hook, &county, &input) {
        Ok(evaluated) => (
            evaluated.output,
            evaluated.scope,
            evaluated.hook_version,
            evaluated.provisional,
        ),
        Err(error) => (
            serde_json::json!({ "error": error.to_string() }),
            set.scope_for(hook, &county).to_string(),
            set.hook_version(hook, &county),
            None,
        ),
    };
    PolicyDecision {
        rating_id,
        subject,
        hook: hook.name().to_string(),
        county,
        scope,
        hook_version,
        calendar_version: set.calendar().version(),
        provisional_year,
        input,
        output,
    }
}

/// One decision that a candidate would make differently.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimulatedChange {
    pub rating_id: u64,
    pub hook: String,
    pub county: String,
    #[schema(value_type = Object)]
    pub active: serde_json::Value,
    #[schema(value_type = Object)]
    pub candidate: serde_json::Value,
}

/// What replaying a period through a candidate shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    pub active_version: String,
    pub candidate_version: String,
    /// Decisions compared.
    pub compared: u64,
    /// Decisions that differ, up to `limit`.
    pub changes: Vec<SimulatedChange>,
    /// All that differ, including those past `limit`.
    pub changed: u64,
}

/// Replays the 差评 of a period under `unit` through the active rules and a candidate and
/// lists the deadlines and routes that would change. Time inside the rules is the rating's own received
/// time, so the replay is exact. Blocking.
pub fn simulate(
    store: &Store,
    active: &PolicySet,
    candidate: &PolicySet,
    unit: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    limit: usize,
) -> anyhow::Result<Simulation> {
    let mut simulation = Simulation {
        active_version: active.version().to_string(),
        candidate_version: candidate.version().to_string(),
        compared: 0,
        changes: Vec::new(),
        changed: 0,
    };
    let mut cursor = None;
    loop {
        let page = store.ratings(&hcp_core::store::RatingQuery {
            dim: hcp_core::store::Dim::Region,
            unit: unit.to_string(),
            from,
            to,
            level: None,
            channel: None,
            bad_only: true,
            real_name_only: false,
            cursor: cursor.take(),
            limit: 500,
        })?;
        for rating in &page.items {
            if rating.assess_number != 1 {
                continue;
            }
            // An erased comment is simulated as none.
            let comment = match &rating.text {
                Some(text) => store.pii().open_text(text)?,
                None => None,
            };
            for hook in BAD_REVIEW_HOOKS {
                let (before, after) = (
                    decide(active, hook, rating, comment.as_deref()),
                    decide(candidate, hook, rating, comment.as_deref()),
                );
                simulation.compared += 1;
                if before.output != after.output {
                    simulation.changed += 1;
                    if simulation.changes.len() < limit {
                        simulation.changes.push(SimulatedChange {
                            rating_id: rating.id,
                            hook: hook.name().to_string(),
                            county: before.county,
                            active: before.output,
                            candidate: after.output,
                        });
                    }
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(simulation),
        }
    }
}

impl Policies {
    /// A candidate built from the folder as it is now, without activating it.
    pub fn folder_candidate(&self) -> Result<PolicySet, String> {
        candidate(&self.dir, &self.calendar())
    }
}

/// The official tables this build ships, used when the default rules folder is absent (the
/// binary run outside a checkout). A configured folder is always read from disk.
const SHIPPED_CALENDAR: [(&str, &str); 2] = [
    (
        "2025.toml",
        include_str!("../../../rules/calendar/2025.toml"),
    ),
    (
        "2026.toml",
        include_str!("../../../rules/calendar/2026.toml"),
    ),
];

/// The holiday tables of the configured rules folder (or those shipped in the binary), with
/// provisional years after them when `[calendar] provisional` is on.
pub fn load_calendar(config: &Config) -> anyhow::Result<Calendar> {
    let dir = config.calendar_dir();
    if !dir.exists() && config.rules_dir == Config::default().rules_dir {
        tracing::warn!(
            folder = %dir.display(),
            "no rules folder here; using the holiday tables shipped in the binary (set rules_dir to use your own)"
        );
        let calendar = Calendar::from_toml_tables(SHIPPED_CALENDAR)?;
        return Ok(if config.calendar.provisional {
            calendar.with_provisional()?
        } else {
            calendar
        });
    }
    calendar_from(&dir, config.calendar.provisional)
}

/// File name → text of every holiday table (`*.toml`) of a folder.
fn read_tables(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut tables = BTreeMap::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("reading the folder {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .with_context(|| format!("{} is not a plain file name", path.display()))?
                .to_string();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            tables.insert(name, text);
        }
    }
    Ok(tables)
}

/// The calendar of `tables` (file name → text), followed by provisional years when
/// `provisional`.
fn calendar_of(tables: &BTreeMap<String, String>, provisional: bool) -> anyhow::Result<Calendar> {
    let calendar = Calendar::from_toml_tables(
        tables
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str())),
    )?;
    Ok(if provisional {
        calendar.with_provisional()?
    } else {
        calendar
    })
}

/// Makes the calendar folder hold exactly `tables`: plain file names only, each written whole
/// before it replaces the old one, tables not among them removed.
fn write_tables(dir: &Path, tables: &BTreeMap<String, String>) -> anyhow::Result<()> {
    if let Some(name) = tables.keys().find(|name| {
        name.contains(['/', '\\']) || name.starts_with('.') || !name.ends_with(".toml")
    }) {
        anyhow::bail!("{name} is not a plain table file name");
    }
    std::fs::create_dir_all(dir)?;
    let current = read_tables(dir)?;
    let current: BTreeSet<String> = current.into_keys().collect();
    write_version(dir, &current, tables)
}

/// The holiday tables of a folder, followed by provisional years when `provisional`.
pub fn calendar_from(dir: &std::path::Path, provisional: bool) -> anyhow::Result<Calendar> {
    let calendar = Calendar::load_dir(dir)
        .with_context(|| format!("loading holiday tables from {}", dir.display()))?;
    Ok(if provisional {
        calendar.with_provisional()?
    } else {
        calendar
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_typed_into_comments_do_not_reach_the_rules() {
        for (text, expected) in [
            ("请回电13812341234谢谢", "请回电***********谢谢"),
            ("身份证410421199001011234", "身份证******************"),
            ("排了3个小时，跑了2趟", "排了3个小时，跑了2趟"),
            ("办件号 123456 有误", "办件号 123456 有误"),
        ] {
            assert_eq!(hcp_core::validate::mask_digit_runs(text), expected);
        }
    }

    #[test]
    fn counties_of_region_codes() {
        assert_eq!(county_of("410421"), "410421");
        assert_eq!(county_of("410421100"), "410421");
        assert_eq!(county_of("410421100200"), "410421");
    }
}

/// A candidate's verdict before it is saved: whether it loads, and its own tests.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RulesCheck {
    /// Loads and passes every test.
    pub ok: bool,
    /// Why it does not load, with file, line and column.
    pub error: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub failures: Vec<TestFailureView>,
}

/// A failing test case of a candidate.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TestFailureView {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub case: String,
    pub county: String,
    pub message: String,
}

/// Loads `files` (a complete rules folder: relative path → content) and runs its tests,
/// without activating anything. Blocking.
pub fn check_files(files: &BTreeMap<String, String>, calendar: &Arc<Calendar>) -> RulesCheck {
    let set = match PolicySet::from_files(files, calendar.clone(), Limits::default()) {
        Ok(set) => set,
        Err(error) => {
            return RulesCheck {
                ok: false,
                error: Some(error.to_string()),
                passed: 0,
                failed: 0,
                failures: Vec::new(),
            };
        }
    };
    let report = set.run_tests();
    let error = (report.failed > 0).then(|| format!("the rules' own tests fail:\n{report}"));
    RulesCheck {
        ok: report.failed == 0,
        error,
        passed: report.passed,
        failed: report.failed,
        failures: report
            .failures
            .iter()
            .map(|failure| TestFailureView {
                file: failure.file.clone(),
                line: failure.line,
                column: failure.column,
                case: failure.case.clone(),
                county: failure.county.clone(),
                message: failure.message.clone(),
            })
            .collect(),
    }
}

/// A rule editor saves one folder of the rules from the console: a county's (within their
/// scope) or the city's `default/` (a city-wide act). Checked, written and activated like any
/// change of the folder; refused with the reason (422) and the folder untouched otherwise.
/// Blocking.
pub fn save(
    platform: &crate::app::Platform,
    principal: &hcp_core::auth::Principal,
    county: Option<&str>,
    files: &BTreeMap<String, String>,
) -> Result<String, crate::app::AppError> {
    ensure_editor_of(
        platform,
        principal,
        county,
        "the rules are changed by rule editors and administrators",
        "the city's default rules decide for every county (name a `county` to change only its \
         folder)",
    )?;
    let folder = county.unwrap_or("default");
    platform
        .policies
        .save(&platform.store, folder, files, &principal.username)
        .map_err(|message| {
            crate::app::AppError::Unprocessable(hcp_core::validate::Reason {
                code: "candidate_refused".into(),
                message,
            })
        })
}

/// The assessment as it stands and as a candidate's rules would make it, side by side.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WhatIf {
    pub current: hcp_core::assessment::AssessmentRun,
    pub candidate: hcp_core::assessment::AssessmentRun,
}

/// Runs the assessment of a period twice, with the active rules and with a candidate complete
/// folder `files`, recording nothing: the ranking and vetoes a change of `assessment.rhai` or
/// `veto.rhai` would give. For rule editors, supervisors and administrators, within scope.
/// Blocking.
pub fn what_if(
    platform: &crate::app::Platform,
    principal: &hcp_core::auth::Principal,
    files: &BTreeMap<String, String>,
    period: &str,
    unit_kind: hcp_core::store::Dim,
    scope: Option<String>,
) -> Result<WhatIf, crate::app::AppError> {
    use hcp_core::auth::Role;
    crate::app::scope::ensure_role(
        principal,
        &[Role::Admin, Role::RuleEditor, Role::Supervisor],
        "a what-if assessment is for rule editors, supervisors and administrators",
    )?;
    let scope = scope.unwrap_or_else(|| principal.scope.clone());
    platform
        .scope()
        .ensure_unit(principal, hcp_core::store::Dim::Region, &scope)?;
    let candidate =
        PolicySet::from_files(files, platform.calendar(), Limits::default()).map_err(|error| {
            crate::app::AppError::Unprocessable(hcp_core::validate::Reason {
                code: "candidate_refused".into(),
                message: error.to_string(),
            })
        })?;
    let now = platform.clock.now();
    let assess = |set: &PolicySet| {
        crate::app::assessment::assess(platform, set, period, unit_kind, &scope, now)
    };
    Ok(WhatIf {
        current: assess(&platform.policies.active())?,
        candidate: assess(&candidate)?,
    })
}
