//! The `hcp` configuration: one TOML tree, unknown keys rejected, validated once at start-up.
//! Every field has a default, so running without a file works.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on. Port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Folder for all runtime state: the sled store, keys. Never inside the source tree.
    pub data_dir: PathBuf,
    /// Folder of the rules: `calendar/` holds the yearly holiday tables.
    pub rules_dir: PathBuf,
    pub store: StoreConfig,
    pub calendar: CalendarConfig,
    pub coverage: CoverageConfig,
    pub security: SecurityConfig,
    pub bootstrap: BootstrapConfig,
    pub plugins: PluginsConfig,
    pub devices: DevicesConfig,
    pub workflow: WorkflowConfig,
    pub messages: MessagesConfig,
    pub window_qr: WindowQrConfig,
    pub clock: ClockConfig,
    pub metrics: MetricsConfig,
    pub demo: DemoConfig,
    pub uplink: UplinkConfig,
    pub limits: LimitsConfig,
    pub ingest: IngestConfig,
    pub ops: OpsConfig,
    pub cluster: ClusterConfig,
    pub retention: RetentionConfig,
}

/// How long personal data is kept (个人信息保护法: no longer than its purpose needs). A value is
/// sealed under its class's key of the month it came in; once the whole month is past the
/// class's days, the sweep destroys that key and every value of the month is erased (in the
/// log, on every node, in every backup), while every count and assessment stays as it was.
/// A value is therefore kept between its days and its days plus a month.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days an evaluator's name is kept (real-name ratings).
    pub evaluator_name_days: u32,
    /// Days an evaluator's phone number is kept (call-backs, feedback, appeals).
    pub evaluator_phone_days: u32,
    /// Days an evaluator's ID number is kept.
    pub evaluator_id_number_days: u32,
    /// Days an applicant's number is kept (service acts' invitations, complaints' contacts, the
    /// number a citizen gives for a tracking link).
    pub applicant_phone_days: u32,
    /// Days a refused payload is kept for replay.
    pub rejected_payload_days: u32,
    /// Days a batch sent to the provincial platform is kept (to send it again).
    pub uplink_body_days: u32,
    /// Days what citizens wrote is kept: ratings' comments, and the texts of work orders
    /// (a 差评's, a complaint's). Statistics and assessments never read them; the hot words of
    /// a period past it count only the comments still held.
    pub free_text_days: u32,
    /// Hours between two checks of the background sweep (it runs with the closed loop's
    /// sweep); 0 turns it off (`POST /api/v1/privacy/sweep` still runs it).
    pub sweep_hours: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            evaluator_name_days: 365,
            evaluator_phone_days: 365,
            evaluator_id_number_days: 180,
            applicant_phone_days: 180,
            rejected_payload_days: 90,
            uplink_body_days: 90,
            free_text_days: 365,
            sweep_hours: 6,
        }
    }
}

/// Fewest days any class may be kept: a 差评's call-back, rectification and appeal need its
/// numbers for weeks, a refused payload needs time to be replayed.
pub const MIN_RETENTION_DAYS: u32 = 30;

impl RetentionConfig {
    pub fn days(&self, class: hcp_core::keyring::Class) -> u32 {
        use hcp_core::keyring::Class;
        match class {
            Class::EvaluatorName => self.evaluator_name_days,
            Class::EvaluatorPhone => self.evaluator_phone_days,
            Class::EvaluatorIdNumber => self.evaluator_id_number_days,
            Class::ApplicantPhone => self.applicant_phone_days,
            Class::RejectedPayload => self.rejected_payload_days,
            Class::UplinkBody => self.uplink_body_days,
            Class::FreeText => self.free_text_days,
        }
    }
}

/// The provincial uplink (省级平台上报): ratings and rectifications go to the provincial
/// platform in numbered batches through the uplink adapter; each day is reconciled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UplinkConfig {
    /// Report to the provincial platform. Off: nothing is sent (the log keeps everything, and
    /// turning it on later sends from the first record).
    pub enabled: bool,
    /// URL the batches are POSTed to: `https://` (certificates checked against the system's
    /// trust store and `ca_file`) or `http://`; redirects are not followed.
    pub endpoint: String,
    /// URL the daily count queries are POSTed to. Empty: no reconciliation.
    pub reconcile_endpoint: String,
    /// PEM file of CA certificates trusted for the provincial platform beside the system's.
    pub ca_file: Option<PathBuf>,
    /// Id of the uplink adapter that encodes batches and reads the province's answers.
    pub adapter: String,
    /// Most records (ratings and rectifications) in one batch.
    pub batch_size: usize,
    /// Seconds between two runs of the background shipper; 0 turns it off
    /// (`POST /api/v1/admin/uplink/run` still runs it).
    pub interval_secs: u64,
    /// Seconds before a failed batch is sent again; doubles on each further failure.
    pub retry_base_secs: u64,
    /// Longest wait between two sends of a failed batch, in seconds.
    pub retry_max_secs: u64,
    /// Time limit of one call to the province, in milliseconds.
    pub timeout_ms: u64,
    /// China time (`HH:MM`) after which the previous day is reconciled, every day. Empty: only
    /// `POST /api/v1/admin/uplink/reconcile`.
    pub reconcile_at: String,
    /// Send evaluators' names and phone numbers (opened only when a batch is encoded). The ID
    /// number is never sent.
    pub personal_data: bool,
}

impl Default for UplinkConfig {
    fn default() -> Self {
        UplinkConfig {
            enabled: false,
            endpoint: String::new(),
            reconcile_endpoint: String::new(),
            ca_file: None,
            adapter: "henan-uplink".into(),
            batch_size: 200,
            interval_secs: 10,
            retry_base_secs: 30,
            retry_max_secs: 1800,
            timeout_ms: 10_000,
            reconcile_at: "02:00".into(),
            personal_data: false,
        }
    }
}

impl UplinkConfig {
    /// The daily reconciliation time, China time.
    pub fn reconcile_time(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(self.reconcile_at.trim(), "%H:%M").ok()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        for (field, url) in [
            ("uplink.endpoint", &self.endpoint),
            ("uplink.reconcile_endpoint", &self.reconcile_endpoint),
        ] {
            if !url.is_empty() {
                web_url(field, url)?;
            }
        }
        if self.enabled && self.endpoint.is_empty() {
            return invalid("uplink.endpoint", "is required when the uplink is enabled");
        }
        if self.enabled && self.adapter.trim().is_empty() {
            return invalid("uplink.adapter", "is required when the uplink is enabled");
        }
        if !(1..=5000).contains(&self.batch_size) {
            return invalid("uplink.batch_size", "must be 1 to 5000");
        }
        if self.timeout_ms == 0 || self.retry_base_secs == 0 {
            return invalid("uplink", "timeout_ms and retry_base_secs must be above 0");
        }
        if self.retry_max_secs < self.retry_base_secs {
            return invalid("uplink.retry_max_secs", "must be at least retry_base_secs");
        }
        if !self.reconcile_at.trim().is_empty() && self.reconcile_time().is_none() {
            return invalid("uplink.reconcile_at", "must be HH:MM (China time) or empty");
        }
        Ok(())
    }
}

/// The working-day calendar beyond the official holiday tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Time a deadline that runs past the last official holiday table on a provisional calendar
    /// built from the statutory holidays (marked provisional everywhere; 预警 only, no 督办 or
    /// 通报 until the official table confirms it). Off: such a phase waits for its table.
    pub provisional: bool,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig { provisional: true }
    }
}

/// 应接尽接: when a business system or device fleet expected to report counts as connected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageConfig {
    /// An expected source that delivered nothing for more working days than this is silent:
    /// not connected, and listed in the stats, the bulletin and `/metrics`.
    pub silent_after_working_days: u32,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            silent_after_working_days: 3,
        }
    }
}

/// The closed loop: deadline sweeps, invitations and default ratings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowConfig {
    /// Seconds between two sweeps (warnings, 督办, 通报, invitations, default ratings, message
    /// delivery). 0 turns the background sweep off; `POST /api/v1/admin/sweep` still runs one.
    pub sweep_secs: u64,
    /// An invitation found this many hours after its planned time (the platform was down) is
    /// skipped rather than sent late.
    pub invitation_stale_hours: u32,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        WorkflowConfig {
            sweep_secs: 30,
            invitation_stale_hours: 24,
        }
    }
}

/// Outbound messages (SMS) through an HTTP gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    /// URL the platform POSTs each message to (JSON: id, channel, to, text, purpose):
    /// `https://` (certificates checked against the system's trust store and `ca_file`) or
    /// `http://`; redirects are not followed. Empty: messages are recorded and stay queued
    /// until a gateway is configured.
    pub gateway_url: String,
    /// PEM file of CA certificates trusted for the gateway beside the system's (a private or
    /// government CA).
    pub ca_file: Option<PathBuf>,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub gateway_token: String,
    /// Base URL of the links in messages (citizens' tracking and rating pages). Empty: the
    /// address the server listens on.
    pub public_url: String,
    /// Delivery attempts before a message is given up (and listed as failed).
    pub max_attempts: u32,
    /// Seconds before the first retry; doubles on each further failure.
    pub retry_secs: u64,
    /// Time limit of one call to the gateway, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        MessagesConfig {
            gateway_url: String::new(),
            ca_file: None,
            gateway_token: String::new(),
            public_url: String::new(),
            max_attempts: 5,
            retry_secs: 60,
            timeout_ms: 5000,
        }
    }
}

/// The windows' static QR codes (`/w/{token}`, 窗口二维码评价).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowQrConfig {
    /// Service acts done at a window within this many hours are offered on its QR page.
    pub recent_hours: u32,
    /// Regions (county codes, or any region code: every window below it) whose windows also
    /// take an anonymous rating of the window itself, without a service act. Empty (the
    /// default): a QR rating always names a service act (一事一评).
    pub anonymous_regions: Vec<String>,
}

impl Default for WindowQrConfig {
    fn default() -> Self {
        WindowQrConfig {
            recent_hours: 4,
            anonymous_regions: Vec::new(),
        }
    }
}

/// How the metrics count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// 基本满意 counts as 好评 in 好评率.
    pub basic_counts_as_good: bool,
    /// Score of each level from 非常满意 to 非常不满意, for the average score.
    pub level_scores: [u32; 5],
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            basic_counts_as_good: true,
            level_scores: [100, 80, 60, 30, 0],
        }
    }
}

impl MetricsConfig {
    pub fn settings(&self) -> hcp_core::metrics::MetricSettings {
        hcp_core::metrics::MetricSettings {
            basic_counts_as_good: self.basic_counts_as_good,
            level_scores: self.level_scores.map(rust_decimal::Decimal::from),
        }
    }
}

/// Where time comes from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// For simulations and end-to-end tests only: run on a manual clock that starts at this
    /// instant (RFC 3339) and moves only when an administrator sets it
    /// (`POST /api/v1/admin/clock`). Leave unset in production.
    pub manual_start: Option<chrono::DateTime<chrono::Utc>>,
}

/// WASM adapter plugins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Folder of installed adapters (`*.wasm`, each with an optional `*.wasm.sig`). Watched:
    /// a file dropped or replaced here is validated and swapped in without a restart. Default
    /// `<data_dir>/plugins`.
    pub dir: Option<PathBuf>,
    /// Folder of precompiled code, so a restart does not recompile. Default
    /// `<data_dir>/plugin-cache`.
    pub cache_dir: Option<PathBuf>,
    /// Watch `dir` for changes.
    pub watch: bool,
    /// Fuel (wasm instructions, roughly) one call may burn.
    pub fuel: u64,
    /// Wall-clock limit of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Linear memory one call may grow to, in MiB.
    pub memory_mb: usize,
    /// ed25519 public keys (64 hex characters each) of vendors whose signatures are trusted.
    pub trusted_keys: Vec<String>,
    /// Refuse adapters without a valid signature from a trusted key.
    pub require_signature: bool,
    /// Consecutive faults (trap, limit) after which an adapter is quarantined.
    pub quarantine_after: u32,
    /// First quarantine, in seconds; doubles on each further fault, up to an hour.
    pub quarantine_secs: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: None,
            cache_dir: None,
            watch: true,
            fuel: 2_000_000_000,
            timeout_ms: 200,
            memory_mb: 64,
            trusted_keys: Vec::new(),
            require_signature: false,
            quarantine_after: 3,
            quarantine_secs: 10,
        }
    }
}

/// Hall devices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesConfig {
    /// A device heard from (heartbeat or rating) within this many minutes counts as online.
    pub online_minutes: u32,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig { online_minutes: 15 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// Region code of the root of the org tree, created on first start of an empty store.
    pub root_code: String,
    /// Its name.
    pub root_name: String,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            root_code: "410400".into(),
            root_name: "平顶山市".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// sled page cache in MiB.
    pub cache_mb: u64,
    /// Most commands made durable by one flush (group commit).
    pub max_batch: usize,
    /// zstd-compress the store's pages. Fixed when the store is created (an existing store
    /// keeps its setting). About a quarter of the disk space at about 40% of the ingest rate.
    pub compression: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Key sealing evaluators' personal data; created on first start. Default
    /// `<data_dir>/keys/pii.key`. Keep it out of data backups where you can.
    pub pii_key_file: Option<PathBuf>,
    /// Lifetime of a session in hours: it ends then however busy.
    pub token_hours: u32,
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u32,
    /// Open sessions per user; signing in once more ends the oldest.
    pub sessions_per_user: usize,
}

/// Abuse limits on the open doors; over a limit a request is answered 429 with `Retry-After`.
/// A rate of 0 turns that limit off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sign-in attempts per client address and minute.
    pub login_per_address_per_minute: u32,
    /// Failed sign-ins in a row that lock an account (0: never locked).
    pub login_failures: u32,
    /// How long a locked account stays locked, in seconds.
    pub login_lockout_seconds: u64,
    /// Password hashes (argon2id, 19 MiB each) computed at once.
    pub argon2_concurrency: usize,
    /// How long a sign-in waits for a free hashing slot before it is answered 429, in ms.
    pub argon2_wait_ms: u64,
    /// Citizens' posts (intake, ratings by link, tracking) per client address and minute.
    pub public_posts_per_minute: u32,
    /// Anonymous reads of the public pages (disclosure, tracking, rating links) per client
    /// address and minute: more generous than posts, since a page is cached.
    pub public_reads_per_minute: u32,
    /// Confirmation codes sent to one phone number a day (a citizen's intake gives a number;
    /// the platform texts it only after it is confirmed with such a code).
    pub phone_codes_per_number_per_day: u32,
    /// Minutes a confirmation code stays valid.
    pub phone_code_minutes: u64,
    /// Wrong codes after which a confirmation is locked (the number stays unconfirmed).
    pub phone_code_attempts: u32,
    /// Refused payloads kept for replay per source; past it, the oldest are evicted (0: no cap).
    pub kept_rejections_per_source: usize,
    /// Answers of the public disclosure pages and API kept in memory (0 turns the cache off).
    pub public_cache_entries: usize,
    /// Seconds an answer about the latest ended month (or any answer that depends on today:
    /// the default period, the latest ranking) is served from the cache.
    pub public_cache_seconds: u64,
    /// Seconds an answer about an earlier period is served from the cache.
    pub public_cache_ended_seconds: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client (their own address otherwise
    /// counts as the client's).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            login_per_address_per_minute: 30,
            login_failures: 5,
            login_lockout_seconds: 900,
            argon2_concurrency: 2,
            argon2_wait_ms: 5_000,
            public_posts_per_minute: 20,
            public_reads_per_minute: 600,
            phone_codes_per_number_per_day: 3,
            phone_code_minutes: 10,
            phone_code_attempts: 5,
            kept_rejections_per_source: 10_000,
            public_cache_entries: 2_000,
            public_cache_seconds: 60,
            public_cache_ended_seconds: 3_600,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The operational endpoints. `/healthz` is open everywhere; `/metrics` and the detail of
/// `/readyz` (log head, holiday tables, warnings, why it is not ready) are served on `listen`,
/// and on the main address only with the token of `token_file`. With neither, the main address
/// answers `/readyz` with ready or not ready alone and `/metrics` with 401.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// A second address serving `/healthz`, `/readyz` with its detail and `/metrics` to whoever
    /// reaches it, e.g. `127.0.0.1:9090`: bind it where only the monitoring can reach it. Port 0
    /// picks a free port (printed at start).
    pub listen: Option<SocketAddr>,
    /// A file whose first line is the operations token (at least 32 characters): on the main
    /// address, `Authorization: Bearer <token>` opens `/metrics` and the detail of `/readyz`.
    pub token_file: Option<PathBuf>,
}

/// The province deployment: the event log shared with other nodes through a NATS JetStream
/// stream (nats-server 2.12 or later, JetStream on). Without servers the log is the embedded
/// store's own (a city on one machine, the default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// nats-server URLs (`nats://host:4222`); the node fails over between them.
    pub servers: Vec<String>,
    /// The partition this node's store holds: the code of the city (or county) whose log it
    /// is, one subject of the stream. Nodes of one partition share its log; partitions never
    /// wait for each other.
    pub partition: String,
    /// Copies of the log kept by the servers: 1, or 3 to survive the loss of one.
    pub replicas: usize,
    /// Name of the stream (every partition of the deployment in one stream).
    pub stream: String,
    /// Milliseconds between two catch-ups with what other nodes of the partition appended:
    /// what this node answers lags theirs by at most about this much.
    pub catch_up_ms: u64,
    /// Seconds an append waits for the servers' acknowledgement before the batch fails (503,
    /// the senders retry).
    pub ack_timeout_secs: u64,
    /// Let this node run the background workers (sweep, message delivery, uplink, reports):
    /// the nodes that may compete for a lease per worker, and one at a time holds it. False:
    /// this node never runs them.
    pub workers: bool,
    /// Seconds a worker's lease lives without renewal: how long the work waits after its node
    /// is lost before another node takes it over. Fixed by the first node of the deployment
    /// (the leases' bucket keeps it).
    pub lease_secs: u64,
    /// This node's name in the leases; empty: the host name and process id.
    pub node: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            servers: Vec::new(),
            partition: String::new(),
            replicas: 3,
            stream: "HCP_LOG".into(),
            catch_up_ms: 200,
            ack_timeout_secs: 5,
            workers: true,
            lease_secs: 15,
            node: String::new(),
        }
    }
}

impl ClusterConfig {
    /// The log is shared (servers are configured).
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if let Some(url) = self
            .servers
            .iter()
            .find(|url| !(url.starts_with("nats://") || url.starts_with("tls://")))
        {
            return invalid(
                "cluster.servers",
                &format!("{url}: a server is nats://host:port (or tls://)"),
            );
        }
        if !hcp_cluster::block::valid_partition(&self.partition) {
            return invalid(
                "cluster.partition",
                "is required with servers: the city or county code whose log this node holds (letters, digits, '-', '_')",
            );
        }
        if !matches!(self.replicas, 1 | 3 | 5) {
            return invalid("cluster.replicas", "must be 1, 3 or 5");
        }
        if self.stream.is_empty()
            || !self
                .stream
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return invalid("cluster.stream", "letters, digits, '-' and '_' only");
        }
        if self.catch_up_ms == 0 || self.ack_timeout_secs == 0 {
            return invalid(
                "cluster",
                "catch_up_ms and ack_timeout_secs must be above 0",
            );
        }
        if self.lease_secs < 3 {
            return invalid("cluster.lease_secs", "must be at least 3");
        }
        Ok(())
    }

    /// This node's name in the leases.
    pub fn node_name(&self) -> String {
        if !self.node.trim().is_empty() {
            return self.node.trim().to_string();
        }
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "hcp".into());
        format!("{host}:{}", std::process::id())
    }

    /// Where the shared log is, for [`hcp_cluster::SharedLog::connect`].
    pub fn journal(&self) -> hcp_cluster::JournalConfig {
        hcp_cluster::JournalConfig {
            stream: self.stream.clone(),
            ack_timeout: std::time::Duration::from_secs(self.ack_timeout_secs),
            ..hcp_cluster::JournalConfig::new(self.servers.clone(), self.replicas)
        }
    }
}

/// What a source is trusted with on the ingest door (`/api/v1/ingest/{source}`,
/// `/api/v1/sources/{source}/…`, and the replay of what it had refused). The platform's own
/// ratings (default ratings, phone call-backs, SMS rating links) never pass that door.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// A rating whose `rated_at` lies more than this many days before the server time is refused
    /// (`too_old`) and kept for replay. Long enough for a device that buffered through an outage
    /// or a business system down over a holiday week; 0 takes ratings of any age (a one-off
    /// import of a county's past, say).
    pub max_age_days: u32,
    /// The platform's own channels (`system_default`, `phone`, `sms`) a source may report
    /// anyway, by source id: e.g. `hotline-12345 = ["phone"]` for the city's 12345 hotline.
    /// Without a grant a rating on one of them is refused (`channel_not_owned`) and kept.
    pub channel_owners: std::collections::BTreeMap<String, Vec<hcp_core::model::Channel>>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_age_days: 30,
            channel_owners: std::collections::BTreeMap::new(),
        }
    }
}

impl IngestConfig {
    /// What source `source` is trusted with.
    pub fn trust(&self, source: &str) -> hcp_core::validate::Trust<'_> {
        hcp_core::validate::Trust {
            granted: self
                .channel_owners
                .get(source)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            max_age_days: (self.max_age_days > 0).then_some(self.max_age_days),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (source, channels) in &self.channel_owners {
            if let Some(channel) = channels
                .iter()
                .find(|channel| !hcp_core::validate::PLATFORM_CHANNELS.contains(channel))
            {
                return Err(ConfigError::Invalid {
                    field: "ingest.channel_owners",
                    reason: format!(
                        "{source}: {} is open to every source; only system_default, phone and sms are granted",
                        hcp_core::validate::channel_code(*channel)
                    ),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Days of history seeded into an empty demo store.
    pub history_days: u32,
    /// Service acts per working day, city-wide, in the seeded history.
    pub services_per_day: u32,
    /// Live simulated ratings per second once seeded (0 turns the simulation off).
    pub live_per_second: u32,
    /// Password of every demo login.
    pub password: String,
    /// Where `make adapters` put the reference adapters; the demo installs them from here.
    pub adapters_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            rules_dir: PathBuf::from("rules"),
            store: StoreConfig::default(),
            calendar: CalendarConfig::default(),
            coverage: CoverageConfig::default(),
            security: SecurityConfig::default(),
            bootstrap: BootstrapConfig::default(),
            plugins: PluginsConfig::default(),
            devices: DevicesConfig::default(),
            workflow: WorkflowConfig::default(),
            messages: MessagesConfig::default(),
            window_qr: WindowQrConfig::default(),
            clock: ClockConfig::default(),
            metrics: MetricsConfig::default(),
            demo: DemoConfig::default(),
            uplink: UplinkConfig::default(),
            limits: LimitsConfig::default(),
            ingest: IngestConfig::default(),
            ops: OpsConfig::default(),
            cluster: ClusterConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_mb: 256,
            max_batch: 4096,
            compression: false,
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            pii_key_file: None,
            token_hours: 12,
            idle_minutes: 30,
            sessions_per_user: 5,
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            history_days: 90,
            services_per_day: 3600,
            live_per_second: 2,
            password: "demo-2026".into(),
            adapters_dir: PathBuf::from("target/adapters"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("config value {field} is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let config = match path {
            None => Config::default(),
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: shown.clone(),
                    source,
                })?;
                Config::parse(&text).map_err(|error| match error {
                    ConfigError::Parse { source, .. } => ConfigError::Parse {
                        path: shown,
                        source,
                    },
                    other => other,
                })?
            }
        };
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: "<text>".into(),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(class) = hcp_core::keyring::Class::ALL
            .into_iter()
            .find(|class| self.retention.days(*class) < MIN_RETENTION_DAYS)
        {
            return Err(ConfigError::Invalid {
                field: "retention",
                reason: format!(
                    "{}_days must be at least {MIN_RETENTION_DAYS} (call-backs, rectification and appeals need the numbers for weeks)",
                    class.name()
                ),
            });
        }
        if self.store.max_batch == 0 {
            return Err(ConfigError::Invalid {
                field: "store.max_batch",
                reason: "must be at least 1".into(),
            });
        }
        if self.store.cache_mb < 8 {
            return Err(ConfigError::Invalid {
                field: "store.cache_mb",
                reason: "must be at least 8".into(),
            });
        }
        if self.security.token_hours == 0 {
            return Err(ConfigError::Invalid {
                field: "security.token_hours",
                reason: "must be at least 1".into(),
            });
        }
        if self.security.idle_minutes == 0 || self.security.sessions_per_user == 0 {
            return Err(ConfigError::Invalid {
                field: "security",
                reason: "idle_minutes and sessions_per_user must be at least 1".into(),
            });
        }
        self.trusted_keys()?;
        if self.plugins.timeout_ms == 0 || self.plugins.memory_mb == 0 || self.plugins.fuel == 0 {
            return Err(ConfigError::Invalid {
                field: "plugins",
                reason: "fuel, timeout_ms and memory_mb must be above 0".into(),
            });
        }
        if self.messages.max_attempts == 0 || self.messages.timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                field: "messages",
                reason: "max_attempts and timeout_ms must be above 0".into(),
            });
        }
        if !self.messages.gateway_url.trim().is_empty() {
            web_url("messages.gateway_url", self.messages.gateway_url.trim())?;
        }
        ca_file("messages.ca_file", self.messages.ca_file.as_deref())?;
        ca_file("uplink.ca_file", self.uplink.ca_file.as_deref())?;
        self.uplink.validate()?;
        self.ingest.validate()?;
        self.cluster.validate()?;
        // A node hands a message to the gateway only while its lease outlasts the call; renewed
        // every third of the lease, it holds at least two thirds of it.
        if self.cluster.enabled()
            && self.cluster.workers
            && self.messages.timeout_ms.saturating_mul(3) >= self.cluster.lease_secs * 2000
        {
            return Err(ConfigError::Invalid {
                field: "cluster.lease_secs",
                reason: format!(
                    "must exceed 1.5 × messages.timeout_ms ({} ms): a node sends a message only while its lease outlasts the call",
                    self.messages.timeout_ms
                ),
            });
        }
        if self.demo.password.len() < 8 {
            return Err(ConfigError::Invalid {
                field: "demo.password",
                reason: "must have at least 8 characters".into(),
            });
        }
        Ok(())
    }

    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    /// How the store is opened: by the platform and by every command that reads the folder.
    pub fn store_options(&self) -> hcp_core::store::StoreOptions {
        hcp_core::store::StoreOptions {
            cache_bytes: self.store.cache_mb * 1024 * 1024,
            max_batch: self.store.max_batch,
            compression: self.store.compression,
            max_kept_rejections: self.limits.kept_rejections_per_source,
        }
    }

    pub fn pii_key_path(&self) -> PathBuf {
        self.security
            .pii_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys/pii.key"))
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    pub fn plugin_cache_dir(&self) -> PathBuf {
        self.plugins
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugin-cache"))
    }

    /// The trusted vendor keys, decoded.
    pub fn trusted_keys(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        self.plugins
            .trusted_keys
            .iter()
            .map(|key| {
                hex_key(key).ok_or_else(|| ConfigError::Invalid {
                    field: "plugins.trusted_keys",
                    reason: format!("{key:?} is not 64 hex characters"),
                })
            })
            .collect()
    }

    pub fn calendar_dir(&self) -> PathBuf {
        self.rules_dir.join("calendar")
    }
}

/// An `https://` or `http://` URL with a host.
fn web_url(field: &'static str, url: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid { field, reason };
    let parsed = reqwest::Url::parse(url).map_err(|error| invalid(format!("{url:?}: {error}")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(invalid(format!(
            "{url:?} must be an https:// (or http://) URL with a host"
        )));
    }
    Ok(())
}

/// A CA file that holds at least one readable PEM certificate.
fn ca_file(field: &'static str, path: Option<&Path>) -> Result<(), ConfigError> {
    match path {
        Some(path) => crate::app::outbound::load_ca(path)
            .map(|_| ())
            .map_err(|error| ConfigError::Invalid {
                field,
                reason: format!("{error:#}"),
            }),
        None => Ok(()),
    }
}

fn hex_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (index, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected() {
        let error = Config::parse("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").err();
        assert!(error.is_some_and(|error| error.to_string().contains("listen_port")));
        let error = Config::parse("[store]\ncache = 3\n").err();
        assert!(error.is_some_and(|error| error.to_string().contains("cache")));
    }

    #[test]
    fn defaults_and_overrides() {
        let config = Config::parse("data_dir = \"/srv/hcp\"\n[store]\nmax_batch = 64\n");
        let config = config.unwrap_or_default();
        assert_eq!(config.store.max_batch, 64);
        assert_eq!(config.store.cache_mb, 256);
        assert_eq!(
            config.pii_key_path(),
            PathBuf::from("/srv/hcp/keys/pii.key")
        );
        assert!(Config::parse("[store]\nmax_batch = 0\n").is_err());
    }

    #[test]
    fn the_container_configuration_is_valid() {
        let text = include_str!("../../../deploy/container.toml");
        let config = Config::parse(text);
        assert!(config.is_ok(), "{:?}", config.err());
        let config = config.unwrap_or_default();
        assert_eq!(config.data_dir, PathBuf::from("/data"));
        assert!(config.ops.listen.is_some());
    }

    #[test]
    fn a_lease_outlasts_a_call_to_the_gateway() {
        let cluster = "[cluster]\nservers = [\"nats://127.0.0.1:4222\"]\npartition = \"410400\"\nlease_secs = 3\n";
        let error = Config::parse(cluster).err().map(|error| error.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|error| error.contains("cluster.lease_secs")),
            "{error:?}"
        );
        assert!(Config::parse(&format!("{cluster}[messages]\ntimeout_ms = 1000\n")).is_ok());
        assert!(Config::parse(&format!("{cluster}workers = false\n")).is_ok());
    }

    #[test]
    fn the_uplink_section_is_checked() {
        let error = |text: &str| {
            Config::parse(text)
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default()
        };
        assert!(error("[uplink]\nenabled = true\n").contains("uplink.endpoint"));
        assert!(error("[uplink]\nendpoint = \"https://province.example/batch\"\n").is_empty());
        assert!(
            error("[uplink]\nendpoint = \"ftp://province.example/batch\"\n")
                .contains("https:// (or http://) URL")
        );
        assert!(error("[messages]\ngateway_url = \"https://sms.example/send\"\n").is_empty());
        assert!(
            error("[messages]\ngateway_url = \"sms.example\"\n").contains("messages.gateway_url")
        );
        assert!(
            error("[messages]\nca_file = \"/nonexistent/ca.pem\"\n").contains("messages.ca_file")
        );
        assert!(error("[uplink]\nreconcile_at = \"2am\"\n").contains("uplink.reconcile_at"));
        assert!(error("[uplink]\nbatch_size = 0\n").contains("uplink.batch_size"));
        assert!(
            error("[uplink]\nretry_base_secs = 60\nretry_max_secs = 30\n")
                .contains("uplink.retry_max_secs")
        );
        let config = Config::parse(
            "[uplink]\nenabled = true\nendpoint = \"http://127.0.0.1:9300/api/haocp/batch\"\nreconcile_at = \"\"\n",
        );
        let config = config.unwrap_or_default();
        assert!(config.uplink.enabled);
        assert_eq!(config.uplink.reconcile_time(), None);
        assert_eq!(
            UplinkConfig::default().reconcile_time(),
            chrono::NaiveTime::from_hms_opt(2, 0, 0)
        );
    }

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("../../../hcp.example.toml");
        assert!(
            Config::parse(text).is_ok(),
            "{:?}",
            Config::parse(text).err()
        );
    }
}
