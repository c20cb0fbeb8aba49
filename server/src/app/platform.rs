//! Wiring of one running platform: opens the store, loads the calendar and keys, bootstraps the
//! first administrator. The HTTP layer and the CLI both start from [`Platform::open`].

use std::sync::Arc;

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use hcp_core::auth::{self, Role, User};
use hcp_core::calendar::Calendar;
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::pii::PiiKey;
use hcp_core::store::{Command, MasterChange, Outcome, Store};
use hcp_plugins::{PluginHost, Registry};

use hcp_core::model::{OrgKind, OrgUnit};

use crate::app::AppError;
use crate::app::config::{BootstrapConfig, Config, CoverageConfig, MessagesConfig, WorkflowConfig};
use crate::app::telemetry::Telemetry;

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    pub store: Store,
    /// Validates adapters without installing them (uploads, `hcp plugin test`).
    pub plugin_host: PluginHost,
    /// The active adapters.
    pub plugins: Registry,
    pub plugins_dir: PathBuf,
    /// Generated reports (bulletins, semiannual reports): `<data_dir>/reports`.
    pub reports_dir: PathBuf,
    /// The county policies and their lifecycle.
    pub policies: Arc<crate::app::rules::Policies>,
    /// A device heard from within this long counts as online.
    pub device_online: Duration,
    pub clock: Arc<dyn Clock>,
    pub sessions: crate::app::sessions::SessionSettings,
    /// Where the sessions are kept: the store's own tree on one node, the partition's shared
    /// records on the nodes of a shared partition.
    pub session_book: Arc<dyn hcp_core::store::SessionBook>,
    pub telemetry: Arc<Telemetry>,
    /// Set when the configuration asks for a manual clock (simulations, end-to-end tests):
    /// `POST /api/v1/admin/clock` moves it.
    pub manual_clock: Option<Arc<ManualClock>>,
    pub workflow: WorkflowConfig,
    pub messages: MessagesConfig,
    /// The windows' QR codes: what their pages offer.
    pub window_qr: crate::app::config::WindowQrConfig,
    pub coverage: CoverageConfig,
    pub metric_settings: hcp_core::metrics::MetricSettings,
    /// Serialises sweeps: the background loop and `POST /api/v1/admin/sweep`.
    pub sweep_lock: Arc<std::sync::Mutex<()>>,
    /// The provincial uplink: its configuration and the lock its runs take.
    pub uplink: Arc<crate::app::uplink::Uplink>,
    /// Abuse limits on the open doors.
    pub limits: Arc<crate::app::limits::Limits>,
    /// The answers of the public disclosure, kept a while.
    pub public_cache: Arc<crate::app::disclosure::AnswerCache>,
    /// What sources are trusted with on the ingest door.
    pub ingest: Arc<crate::app::config::IngestConfig>,
    /// Who may read `/metrics` and the detail of `/readyz` on the main address.
    pub ops: Arc<crate::app::ops::OpsAccess>,
    /// How long personal data is kept (see [`crate::app::privacy`]).
    pub retention: Arc<crate::app::config::RetentionConfig>,
    /// When the background retention sweep last looked at the key ring.
    pub retention_checked: Arc<std::sync::Mutex<Option<DateTime<Utc>>>>,
}

/// The user name of the administrator created on an empty store (scoped to the root).
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// What start-up created that the operator must be told once.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// The password of the `admin` account created on an empty store.
    pub admin_password: Option<String>,
}

impl Platform {
    /// Opens the platform on `clock`, or on a manual clock when the configuration asks for one.
    pub fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Platform> {
        config.validate()?;
        let (clock, manual_clock) = match config.clock.manual_start {
            Some(start) => {
                tracing::warn!(%start, "running on a manual clock (simulation or test)");
                let manual = Arc::new(ManualClock::new(start));
                (manual.clone() as Arc<dyn Clock>, Some(manual))
            }
            None => (clock, None),
        };
        let calendar = crate::app::rules::load_calendar(config)?;
        let ops = crate::app::ops::OpsAccess::load(&config.ops)?;
        let mut pii_key = PiiKey::load_or_create(&config.pii_key_path())?;
        let mut shared_state: Option<Arc<dyn hcp_core::store::SharedState>> = None;
        let journal: Option<Arc<dyn hcp_core::store::Journal>> = if config.cluster.enabled() {
            let log = connect_shared_log(&config.cluster).with_context(|| {
                format!(
                    "connecting to the shared log ({}, partition {})",
                    config.cluster.servers.join(", "),
                    config.cluster.partition
                )
            })?;
            tracing::info!(
                partition = %config.cluster.partition,
                replicas = config.cluster.replicas,
                "the log is shared through JetStream"
            );
            // Shared records outlive the longest of them: a session's lifetime.
            let max_age = std::time::Duration::from_secs(
                u64::from(config.security.token_hours).max(1) * 3600,
            );
            let state = log
                .state(max_age)
                .context("opening the partition's shared records (sessions, sign-in failures)")?;
            shared_state = Some(Arc::new(state));
            // The key ring is the partition's: a value sealed on one node opens on every node,
            // and a key destroyed on one is gone for all (their caches trust a key a minute).
            let keys = log
                .keys()
                .context("opening the partition's key ring (the hcp_keys bucket)")?;
            pii_key = pii_key.with_ring(
                Box::new(hcp_core::store::SharedKeys(Arc::new(keys))),
                Some(std::time::Duration::from_secs(60)),
            );
            Some(Arc::new(log))
        } else {
            None
        };
        let store = Store::open_with_journal(
            &config.store_dir(),
            pii_key,
            clock.clone(),
            config.store_options(),
            journal,
        )
        .with_context(|| format!("opening the store in {}", config.store_dir().display()))?;
        let (plugin_host, plugins) = crate::app::plugins::registry(config)?;
        let policies = Arc::new(crate::app::rules::Policies::open(
            &config.rules_dir,
            Arc::new(calendar),
            config.calendar.provisional,
            clock.clone(),
            &store,
        )?);
        store.set_decider(Arc::new(crate::app::rules::PolicyDecider {
            policies: policies.clone(),
        }));
        let session_book: Arc<dyn hcp_core::store::SessionBook> = match &shared_state {
            Some(state) => Arc::new(hcp_core::store::SharedSessions::new(state.clone())),
            None => Arc::new(store.clone()),
        };
        Ok(Platform {
            store,
            plugin_host,
            plugins,
            policies,
            plugins_dir: config.plugins_dir(),
            reports_dir: config.data_dir.join("reports"),
            device_online: Duration::minutes(i64::from(config.devices.online_minutes)),
            clock,
            sessions: crate::app::sessions::SessionSettings {
                lifetime: Duration::hours(i64::from(config.security.token_hours)),
                idle: Duration::minutes(i64::from(config.security.idle_minutes)),
                per_user: config.security.sessions_per_user,
            },
            session_book,
            telemetry: Arc::new(Telemetry::default()),
            manual_clock,
            workflow: config.workflow.clone(),
            coverage: config.coverage.clone(),
            metric_settings: config.metrics.settings(),
            messages: config.messages.clone(),
            window_qr: config.window_qr.clone(),
            sweep_lock: Arc::default(),
            uplink: Arc::new(crate::app::uplink::Uplink::new(config.uplink.clone())),
            limits: Arc::new(crate::app::limits::Limits::new(
                &config.limits,
                shared_state,
            )),
            public_cache: Arc::new(crate::app::disclosure::AnswerCache::new(&config.limits)),
            ingest: Arc::new(config.ingest.clone()),
            ops: Arc::new(ops),
            retention: Arc::new(config.retention.clone()),
            retention_checked: Arc::default(),
        })
    }

    /// The working-day calendar of the active rules: official tables, then provisional years
    /// when configured. Swapped with the rules when a holiday table is added.
    pub fn calendar(&self) -> Arc<Calendar> {
        self.policies.calendar()
    }

    /// Records one command: its log sequence number (a repeat is answered with the first's);
    /// a command the domain refuses is `Unprocessable` with the refusal's reason. What every
    /// use case that submits a single command goes through. Blocking.
    pub fn record(&self, command: Command) -> Result<u64, AppError> {
        match self.store.submit_one(command)? {
            Outcome::Recorded { seq } | Outcome::Duplicate { seq } => Ok(seq),
            Outcome::Rejected(error) => Err(AppError::Unprocessable(error.reason())),
        }
    }

    /// The instant a sweep or an uplink run is done as of: now, or `as_of` when the platform
    /// runs on the manual clock (simulations, tests). On the system clock a past or future
    /// instant is refused: it would flag orders and generate reports for periods that have not
    /// ended, for good.
    pub fn as_of(&self, as_of: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, AppError> {
        match (as_of, &self.manual_clock) {
            (None, _) => Ok(self.clock.now()),
            (Some(at), Some(_)) => Ok(at),
            (Some(_), None) => Err(AppError::Unprocessable(hcp_core::validate::Reason {
                code: "clock_not_manual".into(),
                message: "as_of is accepted only when the platform runs on the manual clock \
                          ([clock] manual_start); on the system clock it works as of now"
                    .into(),
            })),
        }
    }

    /// The root of the org tree (the unit without a parent), if master data exists.
    pub fn root_unit(&self) -> anyhow::Result<Option<String>> {
        Ok(self
            .store
            .org_units()?
            .into_iter()
            .find(|unit| unit.parent.is_none())
            .map(|unit| unit.id))
    }

    /// Installs every adapter of the plugins folder: start-up is the first reload. Blocking.
    pub fn load_plugins(&self) {
        let files = crate::app::plugins::installed_files(&self.plugins_dir);
        crate::app::plugins::reload_paths(
            &self.plugins,
            &self.store,
            &files,
            crate::app::plugins::Share::StartUp,
        );
        if self.store.shared() {
            crate::app::plugins::follow(&self.plugins, &self.store, &self.plugins_dir);
        }
    }

    /// On a store without users: creates the root of the org tree (if absent) and an `admin`
    /// account with a random password, to be shown once. Blocking.
    pub fn bootstrap_admin(&self, config: &BootstrapConfig) -> anyhow::Result<Bootstrap> {
        if !self.store.users()?.is_empty() {
            return Ok(Bootstrap::default());
        }
        let root = match self.root_unit()? {
            Some(root) => root,
            None => {
                let unit = OrgUnit {
                    id: config.root_code.clone(),
                    kind: OrgKind::City,
                    name: config.root_name.clone(),
                    parent: None,
                    department: None,
                    has_device: false,
                    has_qr_code: false,
                };
                match self.store.submit_one(Command::Master {
                    actor: "system".into(),
                    change: MasterChange::OrgUnit(unit),
                })? {
                    Outcome::Recorded { .. } => config.root_code.clone(),
                    other => anyhow::bail!("cannot create the root of the org tree: {other:?}"),
                }
            }
        };
        let password = auth::new_api_key()
            .replace("hcpk_", "")
            .chars()
            .take(16)
            .collect::<String>();
        let user = User {
            username: BOOTSTRAP_ADMIN.into(),
            display_name: "系统管理员".into(),
            role: Role::Admin,
            scope: root,
            staff_id: None,
            password_hash: auth::hash_password(&password)?,
            disabled: false,
        };
        match self.store.submit_one(Command::Master {
            actor: "system".into(),
            change: MasterChange::User(user),
        })? {
            Outcome::Recorded { .. } => Ok(Bootstrap {
                admin_password: Some(password),
            }),
            other => anyhow::bail!("cannot create the first administrator: {other:?}"),
        }
    }
}

/// How long a node starting with its cluster waits for the servers to answer: a deployment
/// started all at once has its JetStream cluster electing leaders for a few seconds.
const CLUSTER_START_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Connects to the shared log, trying again while the servers are unavailable (not when they
/// refuse the configuration), for up to [`CLUSTER_START_WAIT`]. Blocking.
fn connect_shared_log(
    cluster: &crate::app::config::ClusterConfig,
) -> Result<hcp_cluster::SharedLog, hcp_cluster::JournalError> {
    let began = std::time::Instant::now();
    loop {
        match hcp_cluster::SharedLog::connect(cluster.journal(), &cluster.partition) {
            Err(hcp_cluster::JournalError::Unavailable(reason))
                if began.elapsed() < CLUSTER_START_WAIT =>
            {
                tracing::warn!(%reason, "the shared log does not answer yet; trying again");
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            connected => return connected,
        }
    }
}
