//! The sled store: the event log and its projections, written by one committer thread that
//! applies a batch of waiting commands in one transaction and makes it durable with one flush
//! (group commit). This module is the only place that touches sled.

mod apply;
pub mod backup;
mod case_record;
pub mod chain;
mod closed_loop;
pub mod codec;
pub mod counters;
mod journal;
pub mod keys;
mod loop_query;
mod metrics_query;
pub mod migrate;
pub mod postings;
mod query;
mod ring;
mod sessions;
mod shared;
mod staged;
pub mod uplink;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Instant;

use sled::Transactional;
use sled::transaction::TransactionError;

pub use self::apply::EVICTED;
pub use self::journal::{Journal, JournalBlock, JournalError};
pub use self::keys::Dim;
pub use self::loop_query::Scanned;
pub use self::query::{
    CaseQuery, KeptRejections, Page, RatingQuery, RollupGroup, RollupQuery, SourceActivity,
    SourceDay,
};
pub use self::ring::{LocalKeys, SharedKeys};
pub use self::sessions::{SessionBook, SharedSessions};
pub use self::shared::SharedState;
use crate::auth::{Source, User};
use crate::clock::Clock;
use crate::event::{AuditEntry, LogEntry, PolicyActivation, PolicyDecision, SCHEMA_VERSION};
/// The roll-up counters are domain data (the metrics are computed from them); kept here too,
/// where the store's readers have always found them.
pub use crate::metrics::{OrderCounts, RollupRow};
use crate::model::{
    Device, DeviceModel, HeartbeatInput, OrgUnit, RatingInput, ServiceEventInput, ServiceItem,
    Staff,
};
use crate::outreach::{
    DeliveryAttempt, MessageInput, ScheduledTask, ServiceCall, ServiceCallState, TaskOutcome,
};
use crate::pii::PiiKey;
use crate::validate::{DomainError, Reason};
use crate::workflow::{CallOutcome, Order, OrderChange, ProblemInput};

pub use self::closed_loop::{county_of, order_filed_under, seal_phone, seal_submission};
pub use crate::workflow::DEFAULT_NOTICE_AFTER;

/// What to do with a data folder of another schema version.
fn schema_advice(found: u32, expected: u32) -> String {
    if found < expected && migrate::MIGRATES_FROM.contains(&found) {
        format!(
            "data folder has schema version {found}, this build reads version {expected}: convert it with `hcp migrate --data <the data folder>` (the old store is kept beside the new one)"
        )
    } else {
        format!(
            "data folder has schema version {found}, this build reads version {expected}; open it with the release that wrote it, or start from a new data folder"
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record cannot be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    /// A stored value of the store's own binary layouts that does not parse.
    #[error("stored record is damaged: {0}")]
    Damaged(String),
    #[error("{}", schema_advice(*found, *expected))]
    SchemaVersion { found: u32, expected: u32 },
    /// A backup that cannot be written, read or restored, and why.
    #[error("backup: {0}")]
    Backup(String),
    #[error("the store is shut down")]
    Closed,
    /// The disk refused a write; the store is opened again as soon as it takes writes.
    #[error("the storage is unavailable: {0}")]
    Unavailable(String),
    /// The key ring that seals personal values cannot be read or written.
    #[error("personal-data keys: {0}")]
    Keys(#[from] crate::pii::PiiError),
    /// A migration that stopped, and why (`hcp migrate`).
    #[error("{0}")]
    Migration(String),
    /// The data folder's disk refuses writes when the store opens.
    #[error("data folder {path} cannot be written: {problem}")]
    Disk { path: String, problem: String },
    #[error("data folder {path} is in use by another process (is another hcp running on it?)")]
    InUse { path: String },
    #[error("the batch holding this command failed and nothing of it was acknowledged: {0}")]
    Batch(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The shared log holds entries that do not continue this store's log: the store belongs
    /// to another partition or deployment, or its folder was changed behind the platform.
    #[error("this store's log and the shared log have diverged: {0}")]
    Diverged(String),
}

/// The tree of a single node's key ring (see [`crate::keyring`]): beside the log like the
/// sessions, never rebuilt from it.
pub const KEY_RING_TREE: &str = "keyring";

/// Tree indexes into [`Trees`]; the names are the sled tree names.
pub(crate) mod tree {
    pub const LOG: usize = 0;
    pub const DEDUP: usize = 1;
    pub const ORG: usize = 2;
    pub const ORG_CHILDREN: usize = 3;
    pub const STAFF: usize = 4;
    pub const ITEMS: usize = 5;
    pub const DEVICES: usize = 6;
    pub const USERS: usize = 7;
    pub const SOURCES: usize = 8;
    pub const RATING_SLOTS: usize = 9;
    pub const RATING_INDEX: usize = 10;
    pub const ROLLUP: usize = 11;
    pub const CASES: usize = 12;
    pub const CASE_INDEX: usize = 13;
    pub const AUDIT: usize = 14;
    pub const REJECTS: usize = 15;
    pub const DEVICE_MODELS: usize = 16;
    pub const DEVICE_STATE: usize = 17;
    pub const POLICY_VERSIONS: usize = 18;
    pub const DECISIONS: usize = 19;
    /// The head of the log's hash chain: `head` → last seq ‖ sha256 of its stored bytes.
    pub const CHAIN: usize = 20;
    pub const ORDERS: usize = 21;
    /// `o` ‖ id of open orders, `r` ‖ rating id → order, `t` ‖ token hash → order.
    pub const ORDER_INDEX: usize = 22;
    pub const PROBLEMS: usize = 23;
    /// Invitations and default ratings by due instant.
    pub const SCHEDULE: usize = 24;
    /// The call list of unrated services.
    pub const CALLS: usize = 25;
    /// Outbound messages (`m` ‖ id) and the ones still to deliver (`q` ‖ id).
    pub const MESSAGES: usize = 26;
    /// Appeal and moderation marks on ratings.
    pub const RATING_MARKS: usize = 27;
    /// Frozen assessment runs by seq.
    pub const ASSESSMENTS: usize = 28;
    /// The provincial uplink: state, batches, counts, refusals, reconciliations.
    pub const UPLINK: usize = 29;
    /// What each ingest source delivered and had refused, by day, and when it last did.
    pub const SOURCE_ACTIVITY: usize = 30;
    /// Windows' QR codes: `g` ‖ window → current generation (u32 BE); `t` ‖ token hash →
    /// generation (u32 BE) ‖ window.
    pub const WINDOW_QR: usize = 31;
    pub const NAMES: [&str; 32] = [
        "log",
        "dedup",
        "org",
        "org_children",
        "staff",
        "items",
        "devices",
        "users",
        "sources",
        "rating_slots",
        "rating_index",
        "rollup",
        "cases",
        "case_index",
        "audit",
        "rejects",
        "device_models",
        "device_state",
        "policy_versions",
        "decisions",
        "chain",
        "orders",
        "order_index",
        "problems",
        "schedule",
        "calls",
        "messages",
        "rating_marks",
        "assessments",
        "uplink",
        "source_activity",
        "window_qr",
    ];
}

pub(crate) type Trees = Vec<sled::Tree>;

/// One stored key-value pair: tree name, key, value.
pub type DumpRow = (String, Vec<u8>, Vec<u8>);

/// A change of master data (managed by administrators).
#[derive(Debug, Clone)]
pub enum MasterChange {
    OrgUnit(OrgUnit),
    Staff(Staff),
    Item(ServiceItem),
    Device(Device),
    DeviceModel(DeviceModel),
    User(User),
    Source(Source),
    /// Issue a window's QR code anew (the next generation): the previous code stops working.
    RotateWindowQr {
        window: String,
    },
}

/// Something to record.
#[derive(Debug, Clone)]
pub enum Command {
    Rating {
        source: String,
        input: RatingInput,
    },
    Service {
        source: String,
        input: ServiceEventInput,
    },
    Heartbeat {
        source: String,
        input: HeartbeatInput,
    },
    Master {
        actor: String,
        change: MasterChange,
    },
    Audit {
        entry: AuditEntry,
    },
    /// Keep a refused payload for replay; the bytes are sealed before they are stored.
    KeepRejected {
        source: String,
        content_type: String,
        payload: Vec<u8>,
        reason: Reason,
    },
    /// Take a kept payload off the open list (after a replay or a dismissal).
    ResolveRejected {
        actor: String,
        rejected_seq: u64,
        resolution: String,
    },
    /// Record that a rules version became active.
    ActivatePolicy {
        actor: String,
        activation: PolicyActivation,
    },
    /// Record that a set of holiday tables became the calendar.
    ActivateCalendar {
        actor: String,
        activation: crate::event::CalendarActivation,
    },
    /// Record that an adapter file became active on a node of a shared partition.
    InstallAdapter {
        actor: String,
        adapter: crate::event::AdapterFile,
    },
    /// Record that an adapter file was removed on a node of a shared partition.
    RemoveAdapter {
        actor: String,
        file: String,
    },
    /// Record that keys of the key ring are destroyed (before they are).
    DestroyKeys {
        actor: String,
        destruction: crate::event::KeyDestruction,
    },
    /// Work orders, problems, calls, messages and moderation.
    Loop(LoopCommand),
    /// The provincial uplink's batches, answers, refusals and reconciliations.
    Uplink(uplink::UplinkCommand),
}

/// A change of the closed loop (see [`crate::workflow`] and [`crate::outreach`]).
#[derive(Debug, Clone)]
pub enum LoopCommand {
    /// Open an order for a complaint, suggestion or request (a 差评 opens its own). The id,
    /// opening time and tracking hash are filled in by the store.
    OpenOrder {
        actor: String,
        order: Box<Order>,
        /// The policy decisions that set its deadlines and route; their subject is set to
        /// `order:<id>`.
        decisions: Vec<PolicyDecision>,
    },
    ChangeOrder {
        actor: String,
        order_id: u64,
        change: OrderChange,
        /// A policy decision the change carries (the deadlines of a reopened order).
        decision: Option<PolicyDecision>,
    },
    OpenProblem {
        actor: String,
        problem: ProblemInput,
    },
    ResolveProblem {
        actor: String,
        problem_id: u64,
        action: String,
        message: String,
        /// Feedback messages to the affected evaluators, subject `order:<id>`; each is queued
        /// only if its order is fed back by this resolution.
        notices: Vec<MessageInput>,
    },
    TaskDone {
        task: ScheduledTask,
        outcome: TaskOutcome,
    },
    ListServiceCall {
        call: ServiceCall,
    },
    ServiceCallAttempt {
        actor: String,
        project_no: String,
        service_number: u8,
        outcome: CallOutcome,
        note: String,
        /// The state of the call after this attempt.
        state: ServiceCallState,
    },
    QueueMessage {
        actor: String,
        message: MessageInput,
    },
    MessageAttempt {
        message_id: u64,
        attempt: DeliveryAttempt,
        next_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    Moderate {
        actor: String,
        rating_id: u64,
        publish: bool,
        note: String,
    },
    /// Record an assessment run as published: later edits of rules or data never change it.
    FreezeAssessment {
        actor: String,
        run: Box<crate::assessment::AssessmentRun>,
    },
}

/// What became of one command. `Recorded` and `Duplicate` are durable when returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Recorded {
        seq: u64,
    },
    /// The source's event id was seen before; `seq` is the original record.
    Duplicate {
        seq: u64,
    },
    Rejected(DomainError),
}

/// The narrow interface of the event log that readers (rebuild, replication, uplink) need. The
/// sled implementation appends inside the same transaction as the projections; a replicated
/// log (JetStream) would append first and let each node project what it reads back.
pub trait EventLog: Send + Sync {
    /// Sequence number of the last entry (0 when empty).
    fn head(&self) -> Result<u64, StoreError>;
    /// Up to `limit` entries with `seq > after`, in order.
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<LogEntry>, StoreError>;
}

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled page cache in bytes (sled's default is 1 GiB).
    pub cache_bytes: u64,
    /// Most commands applied between two flushes.
    pub max_batch: usize,
    /// zstd compression of sled pages, chosen when the store is created. Measured on the demo
    /// city: a quarter of the disk space, at about 40% of the durable ingest rate.
    pub compression: bool,
    /// Refused payloads kept per source (0: no cap). Past it, the oldest are evicted: resolved
    /// as `evicted` in the log and their sealed bytes dropped from the open list, in the
    /// transaction of the refusal that went over.
    pub max_kept_rejections: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 256 * 1024 * 1024,
            max_batch: 4096,
            compression: false,
            max_kept_rejections: 10_000,
        }
    }
}

/// The sled database of a closed store, for tools and tests that read or change its raw trees;
/// waits, as [`Store::open`] does, for the lock of a store closing in this process.
pub fn open_sled(dir: &Path) -> Result<sled::Db, StoreError> {
    open_db(dir, &StoreOptions::default())
}

/// How long `open` waits for a file lock released by a store closing in this process.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Times a batch is decided again after other nodes of its partition appended first, before
/// it fails: each conflict means another node's batch went in, so the partition moves on, and
/// a node losing this many races in a row answers 503 rather than hold its writers longer.
const MAX_CONFLICTS: u32 = 16;

/// Opens sled. Compression is fixed when a store is created; an existing store keeps the choice
/// it was created with, whatever the options say now.
fn open_db(dir: &Path, options: &StoreOptions) -> Result<sled::Db, StoreError> {
    let open = |compression: bool| {
        sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_bytes)
            .use_compression(compression)
            // A low zstd level: sled builds a compression context per page write.
            .compression_factor(1)
            .open()
    };
    // A store closed a moment ago in this process may still hold the file lock while sled's
    // background threads wind down; another process holding it keeps it, and we say so.
    let open_waiting = |compression: bool| -> Result<sled::Db, StoreError> {
        let mut attempt = open(compression);
        let mut waited = std::time::Duration::ZERO;
        while let Err(sled::Error::Io(error)) = &attempt {
            if !error.to_string().contains("could not acquire lock") {
                break;
            }
            if waited >= LOCK_WAIT {
                return Err(StoreError::InUse {
                    path: dir.display().to_string(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            waited += std::time::Duration::from_millis(20);
            attempt = open(compression);
        }
        match attempt {
            Err(sled::Error::Io(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::StorageFull
                ) =>
            {
                Err(StoreError::Disk {
                    path: dir.display().to_string(),
                    problem: match error.kind() {
                        std::io::ErrorKind::ReadOnlyFilesystem => {
                            "it is on a read-only file system".into()
                        }
                        _ => "its disk is full".into(),
                    },
                })
            }
            attempt => Ok(attempt?),
        }
    };
    match open_waiting(options.compression) {
        Err(StoreError::Sled(sled::Error::Unsupported(message)))
            if message.contains("compression") =>
        {
            tracing::warn!(
                requested = options.compression,
                "the store was created with the other compression setting; keeping it"
            );
            open_waiting(!options.compression)
        }
        other => other,
    }
}

/// Counters of the committer, for `/metrics`.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub batches: AtomicU64,
    pub commands: AtomicU64,
    pub flush_micros: AtomicU64,
    /// Time in each phase of a batch ([`CommitPhase`]), in microseconds.
    pub phase_micros: [AtomicU64; CommitPhase::ALL.len()],
}

/// Where the committer's time goes, batch by batch. Decoding a request and adapter output
/// happen before the committer, on the request's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitPhase {
    /// Checking a command against the store and deciding its event (validation, duplicates,
    /// master data reads).
    Decide,
    /// Encoding the log entry, chaining its hash and writing it.
    Log,
    /// Writing the projections of the entry (records, indexes, roll-ups).
    Project,
    /// Asking the policies about the entry (deadlines, routing, integrity).
    Policy,
    /// The closed loop's follow-up events (orders opened, messages queued) and evictions.
    FollowUps,
    /// The whole transaction, the phases above and sled's commit of it.
    Transaction,
}

impl CommitPhase {
    pub const ALL: [CommitPhase; 6] = [
        CommitPhase::Decide,
        CommitPhase::Log,
        CommitPhase::Project,
        CommitPhase::Policy,
        CommitPhase::FollowUps,
        CommitPhase::Transaction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CommitPhase::Decide => "decide",
            CommitPhase::Log => "log",
            CommitPhase::Project => "project",
            CommitPhase::Policy => "policy",
            CommitPhase::FollowUps => "follow_ups",
            CommitPhase::Transaction => "transaction",
        }
    }
}

impl CommitStats {
    /// Microseconds spent in `phase` so far.
    pub fn phase(&self, phase: CommitPhase) -> u64 {
        self.phase_micros[phase as usize].load(Ordering::Relaxed)
    }

    fn add(&self, phase: CommitPhase, since: Instant) {
        self.phase_micros[phase as usize].fetch_add(
            u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// What one tree of the store holds: entries and the bytes of their keys and values (what
/// sled stores before its own page overhead, compression and garbage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeStats {
    pub name: String,
    pub entries: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
}

enum Job {
    Commands {
        commands: Vec<Command>,
        reply: Reply,
    },
    Rebuild {
        reply: mpsc::SyncSender<Result<u64, StoreError>>,
    },
    /// Project what other nodes appended to the shared log since this store last looked.
    CatchUp {
        reply: mpsc::SyncSender<Result<u64, StoreError>>,
    },
}

/// How the committer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitterStatus {
    Running,
    /// The disk refused a write (full, read-only, failing): the database is closed and opened
    /// again every half second until it takes writes; meanwhile every write and read answers
    /// that the storage is unavailable.
    Recovering(String),
    /// Stopped by [`Store::close`] (or the last handle dropped).
    Closed,
    /// Stopped on its own: it panicked, or could not start. No write can be made durable any
    /// more; the process should end so that its supervisor starts it again.
    Failed(String),
}

/// The committer's status, set by the committer thread as it ends, and a way to wait for that.
#[derive(Debug)]
struct Health {
    status: Mutex<CommitterStatus>,
    changed: Condvar,
}

impl Health {
    fn set(&self, status: CommitterStatus) {
        if let Ok(mut current) = self.status.lock() {
            *current = status;
        }
        self.changed.notify_all();
    }

    fn get(&self) -> CommitterStatus {
        self.status
            .lock()
            .map(|status| status.clone())
            .unwrap_or_else(|_| CommitterStatus::Failed("its status lock is poisoned".into()))
    }
}

/// Waits for the committer of a store to stop, without keeping the store open.
#[derive(Debug, Clone)]
pub struct CommitterWatch {
    health: Arc<Health>,
}

impl CommitterWatch {
    /// Blocks until the committer stops: why, when it stopped on its own (`None` when the store
    /// was closed).
    pub fn wait(&self) -> Option<String> {
        let Ok(mut status) = self.health.status.lock() else {
            return Some("its status lock is poisoned".into());
        };
        loop {
            match &*status {
                CommitterStatus::Running | CommitterStatus::Recovering(_) => {
                    match self.health.changed.wait(status) {
                        Ok(next) => status = next,
                        Err(_) => return Some("its status lock is poisoned".into()),
                    }
                }
                CommitterStatus::Closed => return None,
                CommitterStatus::Failed(reason) => return Some(reason.clone()),
            }
        }
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The open database and its trees. Replaced as a whole when the committer opens the database
/// again after the disk refused a write (sled refuses everything after an I/O error).
pub(crate) struct Handles {
    db: sled::Db,
    trees: Trees,
    /// Signed-in sessions (see `sessions.rs`): beside the log, not in it.
    sessions: sled::Tree,
}

impl std::ops::Deref for Handles {
    type Target = Trees;

    fn deref(&self) -> &Trees {
        &self.trees
    }
}

impl Handles {
    fn open(db: sled::Db) -> Result<Handles, StoreError> {
        let trees = tree::NAMES
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Trees, _>>()?;
        let sessions = db.open_tree("sessions")?;
        Ok(Handles {
            db,
            trees,
            sessions,
        })
    }
}

/// Where the current [`Handles`] are: `None` while the committer reopens the database.
type Slot = Arc<std::sync::RwLock<Option<Arc<Handles>>>>;

struct Inner {
    handles: Slot,
    path: PathBuf,
    pii: PiiKey,
    stats: Arc<CommitStats>,
    decider: SharedDecider,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    health: Arc<Health>,
    /// Other nodes write the same log (a journal is configured).
    shared: bool,
}

/// The store. Cheap to clone; all clones share one committer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`, checks the schema version and starts the committer.
    pub fn open(
        dir: &Path,
        pii: PiiKey,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        Store::open_with_journal(dir, pii, clock, options, None)
    }

    /// Opens the store as [`Store::open`] does, its log shared through `journal` when there is
    /// one (see [`Journal`]): the committer first catches up with what the journal holds, then
    /// appends every batch to it before committing the batch here.
    pub fn open_with_journal(
        dir: &Path,
        pii: PiiKey,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
        journal: Option<Arc<dyn Journal>>,
    ) -> Result<Store, StoreError> {
        let db = open_db(dir, &options)?;
        let version_key = b"schema_version";
        match db.get(version_key)? {
            Some(bytes) => {
                let found = bytes
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if found != SCHEMA_VERSION {
                    return Err(StoreError::SchemaVersion {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                db.insert(version_key, &SCHEMA_VERSION.to_be_bytes())?;
                db.flush()?;
            }
        }
        let handles = Arc::new(Handles::open(db.clone())?);
        let slot: Slot = Arc::new(std::sync::RwLock::new(Some(handles.clone())));
        // The keys personal values are sealed under: the store's own tree on a single node,
        // unless the caller gave the key a ring already (the cluster's shared one).
        let (pii, local_keys) = match pii.ring() {
            Some(_) => (pii, None),
            None => {
                let local = Arc::new(LocalKeys::new(db.open_tree(KEY_RING_TREE)?));
                (pii.with_ring(Box::new(local.clone()), None), Some(local))
            }
        };
        drop(db);
        let stats = Arc::new(CommitStats::default());
        let decider: SharedDecider = Arc::default();
        let (sender, receiver) = mpsc::channel();
        let committer = Committer {
            handles: Some(handles),
            slot: slot.clone(),
            dir: dir.to_path_buf(),
            options: options.clone(),
            health: None,
            local_keys,
            pii: pii.clone(),
            clock,
            stats: stats.clone(),
            max_batch: options.max_batch.max(1),
            max_kept_rejections: options.max_kept_rejections,
            decider: decider.clone(),
            journal,
        };
        let health = Arc::new(Health {
            status: Mutex::new(CommitterStatus::Running),
            changed: Condvar::new(),
        });
        let reported = health.clone();
        let mut committer = committer;
        committer.health = Some(health.clone());
        let shared = committer.journal.is_some();
        let handle = std::thread::Builder::new()
            .name("hcp-committer".into())
            .spawn(move || {
                // The thread's end is reported whatever ends it: the writers waiting on it get
                // `Closed` as their channels drop, and the owner of the process hears why.
                let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    committer.run(receiver)
                }));
                reported.set(match ended {
                    Ok(Ok(())) => CommitterStatus::Closed,
                    Ok(Err(reason)) => CommitterStatus::Failed(reason),
                    Err(payload) => CommitterStatus::Failed(format!(
                        "it panicked: {}",
                        panic_message(&*payload)
                    )),
                });
            })
            .map_err(|error| StoreError::Sled(sled::Error::Io(error)))?;
        let store = Store {
            inner: Arc::new(Inner {
                handles: slot,
                path: dir.to_path_buf(),
                pii,
                stats,
                decider,
                sender: Mutex::new(Some(sender)),
                committer: Mutex::new(Some(handle)),
                health,
                shared,
            }),
        };
        if shared {
            // Current before it serves; a journal out of reach now may answer later (every
            // batch and every catch-up asks it again).
            match store.catch_up() {
                Ok(entries) => tracing::info!(entries, "caught up with the shared log"),
                Err(error) => tracing::warn!(%error, "cannot catch up with the shared log yet"),
            }
        }
        Ok(store)
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let guard = self.inner.sender.lock().map_err(|_| StoreError::Closed)?;
        guard
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)
    }

    /// Records commands and returns once every recorded one is durable. Blocks: call it from a
    /// blocking thread, never from an async worker.
    pub fn submit(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, StoreError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Job::Commands { commands, reply })?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    pub fn submit_one(&self, command: Command) -> Result<Outcome, StoreError> {
        self.submit(vec![command])?.pop().ok_or(StoreError::Closed)
    }

    /// Whether other nodes write this store's log (it was opened with a journal).
    pub fn shared(&self) -> bool {
        self.inner.shared
    }

    /// Reads with `read`; on a shared log, an object not found is looked for again once this
    /// store has caught up (another node may have recorded it a moment ago: a client that
    /// listed on one node and acts on another). Blocking.
    pub fn read_fresh<T>(
        &self,
        read: impl Fn(&Store) -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let found = read(self)?;
        if found.is_some() || !self.inner.shared {
            return Ok(found);
        }
        self.catch_up()?;
        read(self)
    }

    /// Projects what other nodes appended to the shared log since this store last looked;
    /// returns the entries applied (0 without a journal). Blocking.
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Job::CatchUp { reply })?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    /// Clears every projection and replays the whole log through the same projection code.
    /// Returns the number of entries replayed. Writers wait meanwhile.
    pub fn rebuild(&self) -> Result<u64, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Job::Rebuild { reply })?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    /// Stops the committer after the jobs already queued, and flushes.
    pub fn close(&self) -> Result<(), StoreError> {
        if let Ok(mut sender) = self.inner.sender.lock() {
            sender.take();
        }
        if let Ok(mut handle) = self.inner.committer.lock()
            && let Some(handle) = handle.take()
        {
            let _ = handle.join();
        }
        self.handles()?.db.flush()?;
        Ok(())
    }

    /// The database and its trees now; [`StoreError::Unavailable`] while the committer opens
    /// the database again after the disk refused a write.
    pub(crate) fn handles(&self) -> Result<Arc<Handles>, StoreError> {
        self.inner
            .handles
            .read()
            .ok()
            .and_then(|handles| handles.clone())
            .ok_or_else(|| match self.inner.health.get() {
                CommitterStatus::Recovering(reason) => StoreError::Unavailable(reason),
                _ => StoreError::Closed,
            })
    }

    /// Whether the committer runs; why it stopped when it stopped on its own.
    pub fn committer_status(&self) -> CommitterStatus {
        self.inner.health.get()
    }

    /// A handle to wait for the committer to stop (see [`CommitterWatch::wait`]).
    pub fn committer_watch(&self) -> CommitterWatch {
        CommitterWatch {
            health: self.inner.health.clone(),
        }
    }

    /// Installs the policy decider asked about every newly recorded rating.
    pub fn set_decider(&self, decider: Arc<dyn Decider>) {
        if let Ok(mut slot) = self.inner.decider.write() {
            *slot = Some(decider);
        }
    }

    pub fn pii(&self) -> &PiiKey {
        &self.inner.pii
    }

    pub fn stats(&self) -> &CommitStats {
        &self.inner.stats
    }

    pub fn size_on_disk(&self) -> u64 {
        self.handles()
            .ok()
            .and_then(|handles| handles.db.size_on_disk().ok())
            .unwrap_or(0)
    }

    /// Entries, key bytes and value bytes of every tree, sessions and the key ring included: a full walk of the
    /// store (seconds on a large one), for `hcp store stats` and the gauges of `/metrics`.
    pub fn tree_stats(&self) -> Result<Vec<TreeStats>, StoreError> {
        let handles = self.handles()?;
        // The key ring's tree on a single node (a shared partition keeps it in the cluster).
        let ring = match self.inner.shared {
            false => Some(handles.db.open_tree(KEY_RING_TREE)?),
            true => None,
        };
        let trees = handles
            .trees
            .iter()
            .zip(tree::NAMES)
            .map(|(tree, name)| (name, tree))
            .chain(std::iter::once(("sessions", &handles.sessions)))
            .chain(ring.as_ref().map(|ring| (KEY_RING_TREE, ring)));
        let mut out = Vec::new();
        for (name, tree) in trees {
            let mut stats = TreeStats {
                name: name.to_string(),
                entries: 0,
                key_bytes: 0,
                value_bytes: 0,
            };
            for item in tree.iter() {
                let (key, value) = item?;
                stats.entries += 1;
                stats.key_bytes += key.len() as u64;
                stats.value_bytes += value.len() as u64;
            }
            out.push(stats);
        }
        Ok(out)
    }

    /// The JSON of every `every`-th log entry and order, to train a compression dictionary on
    /// (cases have a format of their own, [`case_record`]).
    pub fn codec_samples(&self, every: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut samples = Vec::new();
        for index in [tree::LOG, tree::ORDERS] {
            for item in self.trees()?[index].iter().step_by(every.max(1)) {
                let (_, value) = item?;
                let json = codec::json(&value)?;
                if json.len() < 16 * 1024 {
                    samples.push(json.into_owned());
                }
            }
        }
        Ok(samples)
    }

    /// What the log holds by event kind: entries and value bytes, most bytes first. Decodes
    /// every entry; for `hcp store stats`, not for a scrape.
    pub fn log_kind_stats(&self) -> Result<Vec<TreeStats>, StoreError> {
        let mut kinds: std::collections::BTreeMap<&'static str, TreeStats> = Default::default();
        for item in self.trees()?[tree::LOG].iter() {
            let (key, value) = item?;
            let entry: LogEntry = codec::decode(&value)?;
            let stats = kinds
                .entry(entry.event.kind())
                .or_insert_with(|| TreeStats {
                    name: entry.event.kind().to_string(),
                    entries: 0,
                    key_bytes: 0,
                    value_bytes: 0,
                });
            stats.entries += 1;
            stats.key_bytes += key.len() as u64;
            stats.value_bytes += value.len() as u64;
        }
        let mut out: Vec<TreeStats> = kinds.into_values().collect();
        out.sort_by_key(|stats| std::cmp::Reverse(stats.value_bytes));
        Ok(out)
    }

    pub(crate) fn trees(&self) -> Result<Arc<Handles>, StoreError> {
        self.handles()
    }

    /// Every key and value of every tree (log included), for tests that compare stores.
    pub fn projection_dump(&self) -> Result<Vec<DumpRow>, StoreError> {
        let mut rows = Vec::new();
        for (index, name) in tree::NAMES.iter().enumerate() {
            for item in self.trees()?[index].iter() {
                let (key, value) = item?;
                rows.push((name.to_string(), key.to_vec(), value.to_vec()));
            }
        }
        Ok(rows)
    }
}

impl EventLog for Store {
    fn head(&self) -> Result<u64, StoreError> {
        Ok(self.trees()?[tree::LOG]
            .last()?
            .map(|(key, _)| keys::u64_value(&key))
            .unwrap_or(0))
    }

    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        self.trees()?[tree::LOG]
            .range(start..)
            .take(limit)
            .map(|item| {
                let (_, value) = item?;
                Ok(codec::decode(&value)?)
            })
            .collect()
    }
}

/// Appends the entries that follow a recorded one in its transaction (the decisions recorded
/// with it, its follow-ups, the evictions it causes): each chained, projected, numbered next.
struct Follower<'a, 'b> {
    trees: &'a staged::Tx<'a>,
    chain: &'b mut chain::Appender,
    seq: &'b mut u64,
    at: chrono::DateTime<chrono::Utc>,
}

impl Follower<'_, '_> {
    fn append(
        &mut self,
        actor: &str,
        event: crate::event::Event,
    ) -> Result<(), sled::transaction::ConflictableTransactionError<StoreError>> {
        let entry = LogEntry {
            seq: *self.seq,
            at: self.at,
            actor: actor.into(),
            origin: None,
            event,
            prev_hash: self.chain.prev().to_string(),
        };
        self.chain.append(self.trees, &entry)?;
        apply::project(self.trees, &entry)?;
        *self.seq += 1;
        Ok(())
    }
}

/// The single writer. Owning all writes lets it allocate sequence numbers, check uniqueness
/// without races and batch many commands onto one flush.
struct Committer {
    /// The open database: `None` while it is opened again after the disk refused a write.
    handles: Option<Arc<Handles>>,
    /// Where the store's readers find the handles.
    slot: Slot,
    dir: PathBuf,
    options: StoreOptions,
    health: Option<Arc<Health>>,
    /// The key ring's tree on a single node: let go of and taken back with the database.
    local_keys: Option<Arc<LocalKeys>>,
    pii: PiiKey,
    clock: Arc<dyn Clock>,
    stats: Arc<CommitStats>,
    max_batch: usize,
    max_kept_rejections: usize,
    decider: SharedDecider,
    journal: Option<Arc<dyn Journal>>,
}

type SharedDecider = Arc<std::sync::RwLock<Option<Arc<dyn Decider>>>>;

/// Policy decisions to record with a newly recorded rating, in the same transaction, so a
/// 差评 never exists without its deadlines. The store asks; it does not know the rules.
pub trait Decider: Send + Sync {
    /// Decisions about `rating`, just recorded, and its `comment` (opened; `rating.text` is
    /// sealed). Must not block for long: it runs on the
    /// committer thread. A rule that fails returns a decision that says so, never nothing.
    fn decide(
        &self,
        rating: &crate::model::Rating,
        comment: Option<&str>,
        facts: &crate::model::RatingFacts,
    ) -> Vec<PolicyDecision>;

    /// Decisions about a service act just recorded (invitations, default rating), with
    /// `subject` set to `service:<projectNo>/<serviceNumber>`. `reachable`: a mobile number
    /// is known. None by default.
    fn decide_service(
        &self,
        _service: &ServiceEventInput,
        _reachable: bool,
    ) -> Vec<PolicyDecision> {
        Vec::new()
    }
}

impl Committer {
    /// Commits until every sender is gone (the store closed); the reason when it cannot start.
    fn run(mut self, receiver: mpsc::Receiver<Job>) -> Result<(), String> {
        let mut cursor = match self.cursor() {
            Ok(cursor) => cursor,
            Err(error) => {
                tracing::error!(%error, "cannot read the log head; the store accepts no writes");
                return Err(format!("it cannot read the log head: {error}"));
            }
        };
        loop {
            let first = if self.handles.is_some() {
                match receiver.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            } else {
                // The disk refused a write: open the database again every half second, and
                // answer what comes meanwhile that the storage is unavailable.
                match receiver.recv_timeout(std::time::Duration::from_millis(500)) {
                    Ok(job) => {
                        self.reopen(&mut cursor);
                        job
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.reopen(&mut cursor);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut queued = match &first {
                Job::Commands { commands, .. } => commands.len(),
                Job::Rebuild { .. } | Job::CatchUp { .. } => 0,
            };
            let mut pending = vec![first];
            while queued < self.max_batch {
                match receiver.try_recv() {
                    Ok(job) => {
                        if let Job::Commands { commands, .. } = &job {
                            queued += commands.len();
                        }
                        pending.push(job);
                    }
                    Err(_) => break,
                }
            }
            // Commands up to a rebuild form one batch; the rebuild runs between two batches.
            let mut batch = Vec::new();
            for job in pending {
                match job {
                    Job::Commands { commands, reply } => batch.push((commands, reply)),
                    Job::Rebuild { reply } => {
                        self.commit(std::mem::take(&mut batch), &mut cursor);
                        let result = self.rebuild().and_then(|count| {
                            self.handles()?.db.flush()?;
                            Ok(count)
                        });
                        let _ = reply.send(result);
                    }
                    Job::CatchUp { reply } => {
                        self.commit(std::mem::take(&mut batch), &mut cursor);
                        let _ = reply.send(self.catch_up(&mut cursor));
                    }
                }
            }
            self.commit(batch, &mut cursor);
        }
        if let Some(Err(error)) = self.handles.as_ref().map(|handles| handles.db.flush()) {
            tracing::error!(%error, "final flush failed");
        }
        Ok(())
    }

    fn handles(&self) -> Result<&Handles, StoreError> {
        self.handles
            .as_deref()
            .ok_or_else(|| StoreError::Unavailable(self.recovering_reason()))
    }

    fn recovering_reason(&self) -> String {
        match self.health.as_ref().map(|health| health.get()) {
            Some(CommitterStatus::Recovering(reason)) => reason,
            _ => "the database is being opened again".into(),
        }
    }

    /// The disk refused a write: sled refuses everything after an I/O error, so the database
    /// is closed (every handle of the store and its key ring let go) to be opened again.
    fn lose_storage(&mut self, reason: String) {
        tracing::error!(%reason, "the disk refused a write; writes are refused until the database opens again");
        if let Some(health) = &self.health {
            health.set(CommitterStatus::Recovering(reason));
        }
        if let Ok(mut slot) = self.slot.write() {
            *slot = None;
        }
        self.handles = None;
        if let Some(local) = &self.local_keys {
            local.detach();
        }
    }

    /// Tries to open the database again; on success the store serves as before, from the log's
    /// head as the disk holds it (what was acknowledged; a batch whose flush failed may be
    /// there too, and its senders' retries are then answered as duplicates).
    fn reopen(&mut self, cursor: &mut journal::Cursor) {
        let opened = open_db(&self.dir, &self.options).and_then(|db| {
            let handles = Arc::new(Handles::open(db)?);
            if let Some(local) = &self.local_keys {
                local.attach(&handles.db)?;
            }
            Ok(handles)
        });
        let handles = match opened {
            Ok(handles) => handles,
            Err(error) => {
                tracing::debug!(%error, "the database does not open yet");
                return;
            }
        };
        self.handles = Some(handles.clone());
        match self.cursor() {
            Ok(found) => *cursor = found,
            Err(error) => {
                tracing::warn!(%error, "the reopened database cannot be read yet");
                self.handles = None;
                if let Some(local) = &self.local_keys {
                    local.detach();
                }
                return;
            }
        }
        if let Err(error) = self.catch_up(cursor) {
            tracing::warn!(%error, "cannot catch up with the shared log yet");
        }
        if let Ok(mut slot) = self.slot.write() {
            *slot = Some(handles);
        }
        if let Some(health) = &self.health {
            health.set(CommitterStatus::Running);
        }
        tracing::warn!(
            next_seq = cursor.next_seq,
            "the database is open again; writes are taken"
        );
    }

    /// Applies a batch of jobs in one transaction and one flush, then answers every job. A
    /// counter touched by many commands of the batch is written once, which keeps sled's write
    /// amplification down; a failure fails the whole batch, and its senders retry.
    fn commit(&mut self, batch: Vec<(Vec<Command>, Reply)>, cursor: &mut journal::Cursor) {
        if batch.is_empty() {
            return;
        }
        if self.handles.is_none() {
            let reason = self.recovering_reason();
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Unavailable(reason.clone())));
            }
            return;
        }
        let count: usize = batch.iter().map(|(commands, _)| commands.len()).sum();
        let now = self.clock.now();
        let transaction = Instant::now();
        let mut applied = self.apply_batch(&batch, cursor, now);
        let mut conflicts = 0;
        while let Err(TransactionError::Abort(StoreError::Journal(JournalError::Conflict(_)))) =
            &applied
            && conflicts < MAX_CONFLICTS
        {
            // Another node appended first: its entries are projected here, then the batch is
            // decided again on them (a command it recorded too is now a duplicate). A growing
            // pause lets an append still in flight on the servers land (they refuse every
            // expectation on a subject while one is pending) and replicas serve it.
            conflicts += 1;
            std::thread::sleep(std::time::Duration::from_millis(u64::from(conflicts)));
            applied = match self.catch_up(cursor) {
                Ok(_) => self.apply_batch(&batch, cursor, now),
                Err(error) => Err(TransactionError::Abort(error)),
            };
        }
        self.stats.add(CommitPhase::Transaction, transaction);
        let started = Instant::now();
        let result = match applied {
            Ok(applied) => {
                // Committed: the sequence numbers and the chain moved on, durable or not.
                cursor.next_seq = applied.next_seq;
                cursor.last_hash = applied.head;
                cursor.position = applied.position;
                match self.handles().and_then(|handles| Ok(handles.db.flush()?)) {
                    Ok(_) => Ok(applied.outcomes),
                    Err(error) => Err(error),
                }
            }
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(StoreError::Sled(error)),
        };
        self.stats.flush_micros.fetch_add(
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .commands
            .fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
        match result {
            Ok(outcomes) => {
                for ((_, reply), outcomes) in batch.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcomes));
                }
            }
            Err(error) => {
                tracing::error!(%error, commands = count, "batch failed");
                let refused_by_disk = match &error {
                    StoreError::Sled(sled::Error::Io(io)) => Some(io.to_string()),
                    _ => None,
                };
                for (_, reply) in batch {
                    let _ = reply.send(Err(match &refused_by_disk {
                        Some(reason) => StoreError::Unavailable(reason.clone()),
                        None => StoreError::Batch(error.to_string()),
                    }));
                }
                if let Some(reason) = refused_by_disk {
                    self.lose_storage(reason);
                }
            }
        }
    }

    /// Where the local log ends, and the shared log's position it matches.
    fn cursor(&self) -> Result<journal::Cursor, StoreError> {
        let handles = self.handles()?;
        let (next_seq, last_hash) = match handles[tree::LOG].last()? {
            Some((key, bytes)) => (keys::u64_value(&key) + 1, chain::hash(&bytes)),
            None => (1, String::new()),
        };
        Ok(journal::Cursor {
            next_seq,
            last_hash,
            position: journal::position(&handles.trees)?,
        })
    }

    fn catch_up(&self, cursor: &mut journal::Cursor) -> Result<u64, StoreError> {
        match &self.journal {
            Some(journal) => journal::catch_up(
                &self.handles()?.db,
                &self.handles()?.trees,
                journal.as_ref(),
                cursor,
                self.pii.ring(),
            ),
            None => Ok(0),
        }
    }

    /// The batch in one transaction: decided, logged and projected, and appended to the
    /// journal (when there is one) before the transaction commits.
    fn apply_batch(
        &self,
        batch: &[(Vec<Command>, Reply)],
        cursor: &journal::Cursor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Applied, TransactionError<StoreError>> {
        // The keys the batch seals under are made and held first: in the transaction sled holds
        // its global lock, and the ring's tree must not be reached.
        if let Some(ring) = self.pii.ring() {
            let needed: Vec<String> = batch
                .iter()
                .flat_map(|(commands, _)| commands)
                .flat_map(|command| apply::keys_needed(&self.pii, command, now))
                .collect();
            ring.prepare(&needed)
                .map_err(|error| TransactionError::Abort(StoreError::Keys(error)))?;
        }
        let result =
            crate::keyring::within_transaction(|| self.decide_and_apply(batch, cursor, now));
        if let Some(ring) = self.pii.ring() {
            ring.release();
        }
        result
    }

    fn decide_and_apply(
        &self,
        batch: &[(Vec<Command>, Reply)],
        cursor: &journal::Cursor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Applied, TransactionError<StoreError>> {
        let stats = &self.stats;
        let handles = self.handles().map_err(TransactionError::Abort)?;
        handles.trees.as_slice().transaction(|trees| {
            let staged = staged::Tx::new(trees);
            let reader = apply::Reader::cached(&staged);
            let mut seq = cursor.next_seq;
            let mut chain = if self.journal.is_some() {
                chain::Appender::keeping(cursor.last_hash.clone())
            } else {
                chain::Appender::new(cursor.last_hash.clone())
            };
            let mut outcomes = Vec::with_capacity(batch.len());
            for (commands, _) in batch {
                let mut job_outcomes = Vec::with_capacity(commands.len());
                for command in commands {
                    let deciding = Instant::now();
                    let decided = apply::decide(&reader, &self.pii, command.clone(), seq, now)?;
                    stats.add(CommitPhase::Decide, deciding);
                    let outcome = match decided {
                        apply::Decision::Duplicate(original) => {
                            Outcome::Duplicate { seq: original }
                        }
                        apply::Decision::Reject(error) => Outcome::Rejected(error),
                        apply::Decision::Append {
                            actor,
                            origin,
                            event,
                        } => {
                            let entry = LogEntry {
                                seq,
                                at: now,
                                actor,
                                origin,
                                event: *event,
                                prev_hash: chain.prev().to_string(),
                            };
                            let logging = Instant::now();
                            chain.append(trees, &entry)?;
                            stats.add(CommitPhase::Log, logging);
                            let projecting = Instant::now();
                            let facts = match &entry.event {
                                crate::event::Event::RatingRecorded { rating } => {
                                    Some(apply::rating_facts(&reader, rating)?)
                                }
                                _ => None,
                            };
                            apply::project(&staged, &entry)?;
                            stats.add(CommitPhase::Project, projecting);
                            seq += 1;
                            let mut then = Follower {
                                trees: &staged,
                                chain: &mut chain,
                                seq: &mut seq,
                                at: now,
                            };
                            let asking = Instant::now();
                            let decisions = self
                                .decisions_for(&entry.event, facts.as_ref())
                                .map_err(apply::abort)?;
                            stats.add(CommitPhase::Policy, asking);
                            let following = Instant::now();
                            for decision in &decisions {
                                then.append(
                                    "policy",
                                    crate::event::Event::DecisionRecorded {
                                        decision: decision.clone(),
                                    },
                                )?;
                            }
                            let follow_ups = closed_loop::follow_ups(
                                &reader, &self.pii, &entry, &decisions, *then.seq,
                            )?;
                            for event in follow_ups {
                                then.append("system", event)?;
                            }
                            if let crate::event::Event::PayloadRejected { rejected } = &entry.event
                            {
                                for _ in 0..apply::MAX_EVICTIONS {
                                    let Some(event) = apply::next_eviction(
                                        trees,
                                        &rejected.source,
                                        self.max_kept_rejections,
                                    )?
                                    else {
                                        break;
                                    };
                                    then.append("system", event)?;
                                }
                            }
                            stats.add(CommitPhase::FollowUps, following);
                            Outcome::Recorded { seq: entry.seq }
                        }
                    };
                    job_outcomes.push(outcome);
                }
                outcomes.push(job_outcomes);
            }
            let finishing = Instant::now();
            chain.finish(trees)?;
            staged.finish()?;
            stats.add(CommitPhase::Project, finishing);
            let mut position = cursor.position;
            if let (Some(journal), Some((first, written))) = (&self.journal, chain.written()) {
                // Durable once the journal has it: only then does the batch commit here.
                position = journal
                    .append(first, written, cursor.position)
                    .map_err(|error| apply::abort(StoreError::Journal(error)))?;
                trees[tree::CHAIN].insert(journal::POSITION, &position.to_be_bytes())?;
            }
            Ok(Applied {
                outcomes,
                next_seq: seq,
                head: chain.prev().to_string(),
                position,
            })
        })
    }

    fn decisions_for(
        &self,
        event: &crate::event::Event,
        facts: Option<&crate::model::RatingFacts>,
    ) -> Result<Vec<PolicyDecision>, crate::pii::PiiError> {
        let Some(decider) = self.decider.read().ok().and_then(|decider| decider.clone()) else {
            return Ok(Vec::new());
        };
        Ok(match (event, facts) {
            (crate::event::Event::RatingRecorded { rating }, Some(facts)) => {
                // The comment was sealed in this batch: its keys are at hand.
                let Some(text) = &rating.text else {
                    return Ok(decider.decide(rating, None, facts));
                };
                let comment = self.pii.open_text(text)?;
                let mut decisions = decider.decide(rating, comment.as_deref(), facts);
                // The comment a rule read is kept sealed beside it: it goes when the comment goes.
                for decision in &mut decisions {
                    decision.seal_input_text(&self.pii, text)?;
                }
                decisions
            }
            (
                crate::event::Event::ServiceRecorded {
                    service, contact, ..
                },
                _,
            ) if service.status == crate::model::CaseStatus::Completed => {
                decider.decide_service(service, contact.is_some())
            }
            _ => Vec::new(),
        })
    }

    /// Replays the log into empty projections, a chunk of entries per transaction.
    fn rebuild(&self) -> Result<u64, StoreError> {
        let handles = self.handles()?;
        for (index, tree) in handles.trees.iter().enumerate() {
            if index != tree::LOG && index != tree::CHAIN {
                tree.clear()?;
            }
        }
        let mut count = 0;
        let mut chunk: Vec<LogEntry> = Vec::with_capacity(REBUILD_CHUNK);
        let mut entries = handles[tree::LOG].iter();
        loop {
            chunk.clear();
            for item in entries.by_ref().take(REBUILD_CHUNK) {
                let (_, value) = item?;
                chunk.push(codec::decode(&value)?);
            }
            if chunk.is_empty() {
                return Ok(count);
            }
            handles
                .trees
                .as_slice()
                .transaction(|trees| {
                    let staged = staged::Tx::new(trees);
                    for entry in &chunk {
                        apply::project(&staged, entry)?;
                    }
                    staged.finish()
                })
                .map_err(|error| match error {
                    TransactionError::Abort(error) => error,
                    TransactionError::Storage(error) => StoreError::Sled(error),
                })?;
            count += chunk.len() as u64;
        }
    }
}

/// A batch's transaction, committed.
struct Applied {
    outcomes: Vec<Vec<Outcome>>,
    next_seq: u64,
    head: String,
    position: u64,
}

/// Log entries replayed per transaction by `rebuild`.
const REBUILD_CHUNK: usize = 4096;

type Reply = mpsc::SyncSender<Result<Vec<Outcome>, StoreError>>;

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        if let Ok(mut handle) = self.committer.lock()
            && let Some(handle) = handle.take()
        {
            let _ = handle.join();
        }
    }
}
