//! The commands of `hcp`: `serve` (and what a start other than production adds to it, see
//! [`Extension`]), `rebuild`, `rules`, `audit`.

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use axum::Router;
use hcp_core::clock::{Clock, SystemClock};
use tokio::net::TcpListener;

use crate::app::config::Config;
use crate::app::platform::Platform;
use crate::http;

/// What a start other than production adds to [`serve`]: the demo city (`hcp demo`) brings its
/// clock, its simulated SMS gateway and provincial platform, its seeding and its live traffic.
/// Production passes [`Production`], which adds nothing.
#[allow(async_fn_in_trait)]
pub trait Extension: Clone + Send + Sync + 'static {
    /// The platform's clock.
    fn clock(&self, config: &Config) -> Arc<dyn Clock>;
    /// Routes served beside the API.
    fn routes(&self) -> Router<Platform>;
    /// Adjusts the opened platform before it serves (`address` is where it listens); returns
    /// lines for the banner.
    async fn prepare(
        &self,
        platform: &mut Platform,
        config: &Config,
        address: SocketAddr,
    ) -> anyhow::Result<Vec<String>>;
    /// Runs once serving has started, before the platform is ready; returns lines for the
    /// banner. Blocking.
    fn seed(
        &self,
        platform: &Platform,
        config: &Config,
        address: SocketAddr,
    ) -> anyhow::Result<Vec<String>>;
    /// Background work of its own, stopped when the server stops.
    fn start(&self, platform: &Platform, config: &Config) -> Option<tokio::task::JoinHandle<()>>;
}

/// `hcp serve`: the platform on the system clock and nothing else.
#[derive(Clone)]
pub struct Production;

impl Extension for Production {
    fn clock(&self, _config: &Config) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    fn routes(&self) -> Router<Platform> {
        Router::new()
    }

    async fn prepare(
        &self,
        _platform: &mut Platform,
        _config: &Config,
        _address: SocketAddr,
    ) -> anyhow::Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn seed(
        &self,
        _platform: &Platform,
        _config: &Config,
        _address: SocketAddr,
    ) -> anyhow::Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn start(&self, _platform: &Platform, _config: &Config) -> Option<tokio::task::JoinHandle<()>> {
        None
    }
}

/// Serves until SIGINT/SIGTERM, then drains and flushes; `extension` adds what a non-production
/// start brings (the demo city).
pub async fn serve<E: Extension>(config: Config, extension: E) -> anyhow::Result<()> {
    let clock = extension.clock(&config);
    let mut platform = {
        let config = config.clone();
        let clock = clock.clone();
        tokio::task::spawn_blocking(move || Platform::open(&config, clock)).await??
    };
    // From here a committer that stops on its own ends the process (see `watch_committer`).
    watch_committer(&platform.store, |reason| {
        tracing::error!(
            %reason,
            "the store's committer stopped: no write can be made durable; exiting with status {COMMITTER_STOPPED} so that the supervisor starts hcp again"
        );
        std::process::exit(COMMITTER_STOPPED);
    })?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let ops = match config.ops.listen {
        Some(listen) => {
            let listener = TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen} (the operations address)"))?;
            Some((listener.local_addr()?, listener))
        }
        None => None,
    };
    if platform.messages.public_url.is_empty() {
        platform.messages.public_url = format!("http://{address}");
    }
    let mut notes = extension.prepare(&mut platform, &config, address).await?;
    // Serving starts now, so that routes of the extension (the demo's SMS gateway) answer what
    // its seeding sends; the banner follows once the platform is ready.
    let server = tokio::spawn(
        axum::serve(
            listener,
            http::router(platform.clone(), extension.routes())
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .into_future(),
    );
    {
        let platform = platform.clone();
        let config = config.clone();
        let extension = extension.clone();
        let mut seeded =
            tokio::task::spawn_blocking(move || extension.seed(&platform, &config, address))
                .await??;
        seeded.append(&mut notes);
        notes = seeded;
    }
    let bootstrap = {
        let platform = platform.clone();
        let bootstrap = config.bootstrap.clone();
        tokio::task::spawn_blocking(move || platform.bootstrap_admin(&bootstrap)).await??
    };

    // Adapters and watchers are in place before the banner says the platform is ready.
    {
        let platform = platform.clone();
        tokio::task::spawn_blocking(move || platform.load_plugins()).await?;
    }
    // Kept alive until the server stops; dropping it stops the watching.
    let _watcher = if config.plugins.watch {
        Some(crate::app::plugins::watch(
            &platform.plugins_dir,
            platform.plugins.clone(),
            platform.store.clone(),
            Duration::from_millis(300),
        )?)
    } else {
        None
    };
    let _rules_watcher = platform.policies.watch(platform.store.clone())?;
    let ops = ops.map(|(ops_address, listener)| {
        let serving = axum::serve(listener, http::ops::router(platform.clone())).into_future();
        (ops_address, tokio::spawn(serving))
    });
    println!("好差评平台 listening on http://{address}");
    if let Some((ops_address, _)) = &ops {
        println!("  operations: http://{ops_address}/metrics and /readyz");
    }
    if http::console::built() {
        println!("  console:   http://{address}/console/");
    } else {
        println!("  console:   not built into this binary (make build)");
    }
    println!("  citizens:  http://{address}/public");
    println!("  API docs:  http://{address}/docs/");
    println!("  OpenAPI:   http://{address}/api/v1/openapi.json");
    if let Some(password) = &bootstrap.admin_password {
        println!("  first administrator: admin / {password}  (shown once; change it)");
    }
    for note in &notes {
        println!("{note}");
    }
    tracing::info!(%address, "serving");
    let serving_file = config.data_dir.join(crate::app::backup::SERVING_FILE);
    let serving = crate::app::backup::Serving {
        url: format!("http://{}", loopback(address)),
        ops_url: ops
            .as_ref()
            .map(|(ops_address, _)| format!("http://{}", loopback(*ops_address))),
        pid: std::process::id(),
    };
    if let Err(error) = std::fs::write(&serving_file, serde_json::to_vec_pretty(&serving)?) {
        tracing::warn!(%error, file = %serving_file.display(), "cannot say where this platform serves; hcp backup will not find it");
    }

    let mut cluster_lease = None;
    let lease: Arc<dyn crate::workers::Lease> = if config.cluster.enabled() {
        crate::workers::spawn_catch_up(
            &platform,
            std::time::Duration::from_millis(config.cluster.catch_up_ms),
        );
        if config.cluster.workers {
            let ttl = std::time::Duration::from_secs(config.cluster.lease_secs);
            let journal = hcp_cluster::Journal::connect(config.cluster.journal())
                .await
                .context("connecting to the cluster for the workers' leases")?;
            let leases = hcp_cluster::lease::Leases::open(
                &journal,
                &config.cluster.partition,
                &config.cluster.node_name(),
                ttl,
            )
            .await
            .context("opening the workers' leases")?;
            let lease = Arc::new(crate::workers::ClusterLease::spawn(
                &platform,
                Arc::new(leases),
                ttl,
            ));
            cluster_lease = Some(lease.clone());
            lease
        } else {
            tracing::info!(
                "the workers run on other nodes of the partition (cluster.workers = false)"
            );
            Arc::new(crate::workers::NotOwner)
        }
    } else {
        Arc::new(crate::workers::SoleOwner)
    };
    crate::workers::spawn(&platform, lease);
    let background = extension.start(&platform, &config);
    server.await??;
    if let Some(lease) = cluster_lease {
        lease.release().await;
    }
    if let Some(background) = background {
        background.abort();
    }
    if let Some((_, ops)) = ops {
        ops.abort();
    }
    let _ = std::fs::remove_file(&serving_file);
    tokio::task::spawn_blocking(move || platform.store.close()).await??;
    tracing::info!("stopped");
    Ok(())
}

/// An address to reach a listener at: a wildcard one is reached on loopback.
fn loopback(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        let ip: std::net::IpAddr = if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, address.port())
    } else {
        address
    }
}

/// The exit status of a process whose store committer stopped on its own (sysexits' EX_SOFTWARE).
pub const COMMITTER_STOPPED: i32 = 70;

/// Calls `stopped` with the reason, on a thread of its own, when the store's committer stops on
/// its own (a panic): the platform can then make no write durable, and a process that goes on
/// answering only 503 would never be restarted by its supervisor. Nothing is called when the
/// store is closed.
pub fn watch_committer(
    store: &hcp_core::store::Store,
    stopped: impl FnOnce(String) + Send + 'static,
) -> anyhow::Result<()> {
    let watch = store.committer_watch();
    std::thread::Builder::new()
        .name("hcp-committer-watch".into())
        .spawn(move || {
            if let Some(reason) = watch.wait() {
                stopped(reason);
            }
        })
        .context("starting the committer's watch")?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot watch SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Clears every projection and replays the log (`hcp rebuild`). Blocking.
pub fn rebuild(config: &Config) -> anyhow::Result<()> {
    require_store(config)?;
    let platform = Platform::open(config, Arc::new(SystemClock))?;
    let started = std::time::Instant::now();
    let count = platform.store.rebuild()?;
    platform.store.close()?;
    println!(
        "rebuilt projections from {count} log entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `hcp rules test [DIR]`: checks the holiday tables of `DIR/calendar` (dates on the right
/// weekdays, declared working days), compiles every policy and runs the policy tests on them.
/// A broken table counts as one failed test. Returns whether all passed. Blocking.
pub fn rules_test(config: &Config, dir: Option<&std::path::Path>) -> anyhow::Result<bool> {
    let dir = dir
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| config.rules_dir.clone());
    let calendar = rules_calendar(config, &dir);
    let calendar = match calendar {
        Ok(calendar) => Arc::new(calendar),
        Err(error) => {
            println!("FAIL calendar: {error:#}");
            println!("0 passed, 1 failed");
            return Ok(false);
        }
    };
    for line in calendar_lines(&calendar, crate::app::calendar_alarm::today(&SystemClock)) {
        println!("{line}");
    }
    match hcp_core::policy::PolicySet::load(&dir, calendar, hcp_core::policy::Limits::default()) {
        Ok(set) => {
            let report = set.run_tests();
            println!("rules {} (version {})", dir.display(), set.version());
            println!("{report}");
            Ok(report.failed == 0)
        }
        Err(error) => {
            println!("{error}");
            println!("0 passed, 1 failed");
            Ok(false)
        }
    }
}

/// The calendar of a rules folder: its own `calendar/` when it has one, the configured one
/// otherwise, with provisional years as configured.
fn rules_calendar(
    config: &Config,
    dir: &std::path::Path,
) -> anyhow::Result<hcp_core::calendar::Calendar> {
    let own = dir.join("calendar");
    if own.is_dir() {
        crate::app::rules::calendar_from(&own, config.calendar.provisional)
    } else {
        crate::app::rules::load_calendar(config)
    }
}

/// What `hcp rules test` says of the calendar: each official year with its working days and
/// source, the provisional years, and the alarm when a table is missing.
fn calendar_lines(
    calendar: &hcp_core::calendar::Calendar,
    today: chrono::NaiveDate,
) -> Vec<String> {
    let mut lines: Vec<String> = calendar
        .years()
        .into_iter()
        .map(|year| {
            format!(
                "calendar {year}: ok, {} working days ({})",
                calendar.working_days_in_year(year).unwrap_or(0),
                calendar.source(year).unwrap_or_default()
            )
        })
        .collect();
    if let Some((first, last)) = calendar.provisional_years() {
        lines.push(format!(
            "calendar {first}-{last}: provisional (statutory holidays and weekends, no swaps) until the official tables are added"
        ));
    }
    if let Some(year) = calendar.missing_table(today) {
        lines.push(format!(
            "warning: the official {year} holiday table is not in the folder (see calendar/README.md)"
        ));
    }
    lines
}

/// `hcp rules eval HOOK --county C --input FILE|-`: runs one hook and prints its JSON result.
/// Blocking.
pub fn rules_eval(
    config: &Config,
    hook: &str,
    county: &str,
    input: &std::path::Path,
    dir: Option<&std::path::Path>,
    version: Option<&str>,
) -> anyhow::Result<bool> {
    let hook: hcp_core::policy::Hook = hook
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown hook {hook}"))?;
    let text = if input == std::path::Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        text
    } else {
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?
    };
    let input: serde_json::Value = serde_json::from_str(&text).context("the input is not JSON")?;
    let calendar = Arc::new(rules_calendar(
        config,
        dir.unwrap_or(config.rules_dir.as_path()),
    )?);
    let set = match version {
        Some(version) => {
            let platform = Platform::open(config, Arc::new(SystemClock))?;
            let files = platform
                .store
                .policy_files(version)?
                .with_context(|| format!("no recorded rules version {version}"))?;
            hcp_core::policy::PolicySet::from_files(
                &files,
                calendar,
                hcp_core::policy::Limits::default(),
            )?
        }
        None => {
            let dir = dir
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|| config.rules_dir.clone());
            hcp_core::policy::PolicySet::load(&dir, calendar, hcp_core::policy::Limits::default())?
        }
    };
    match set.eval(hook, county, &input) {
        Ok(mut evaluated) => {
            with_china_time(&mut evaluated.output);
            let mut result = serde_json::json!({
                "output": evaluated.output,
                "scope": evaluated.scope,
                "hook_version": evaluated.hook_version,
                "calendar_version": set.calendar().version(),
            });
            if let Some(year) = evaluated.provisional {
                result["provisional_year"] = serde_json::json!(year);
                result["note"] = serde_json::json!(format!(
                    "counted on a provisional {year} calendar (statutory holidays, no swaps): due instants marked provisional move when the official table is added"
                ));
            }
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(true)
        }
        Err(error) => {
            println!("{error}");
            Ok(false)
        }
    }
}

/// `hcp rules rollback VERSION`: writes a recorded version back and activates it. Blocking.
pub fn rules_rollback(config: &Config, version: &str) -> anyhow::Result<bool> {
    require_store(config)?;
    let platform = Platform::open(config, Arc::new(SystemClock))?;
    let result = platform
        .policies
        .rollback(&platform.store, version, None, "cli");
    platform.store.close()?;
    match result {
        Ok(active) => {
            println!("active rules version {active}");
            Ok(true)
        }
        Err(error) => {
            println!("rollback refused: {error}");
            Ok(false)
        }
    }
}

/// Adds `due_china` (the due instant in China time) beside every `due`, for people reading it.
fn with_china_time(output: &mut serde_json::Value) {
    let Some(phases) = output
        .get_mut("phases")
        .and_then(|phases| phases.as_array_mut())
    else {
        return;
    };
    for phase in phases {
        let local = phase
            .get("due")
            .and_then(|due| due.as_str())
            .and_then(|due| chrono::DateTime::parse_from_rfc3339(due).ok())
            .map(|due| {
                due.with_timezone(&hcp_core::calendar::china_tz())
                    .to_rfc3339()
            });
        if let (Some(local), Some(map)) = (local, phase.as_object_mut()) {
            map.insert("due_china".into(), serde_json::Value::String(local));
        }
    }
}

/// Refuses a data folder that holds no store, naming it.
fn require_store(config: &Config) -> anyhow::Result<()> {
    let conf = config.store_dir().join("conf");
    if !conf.is_file() {
        anyhow::bail!(
            "{} holds no store (no {}): is --data the platform's data folder?",
            config.data_dir.display(),
            conf.display()
        );
    }
    Ok(())
}

/// The store of the configured data folder, which must hold one: a command that reads a data
/// folder never creates one (a typo of the path would read as an empty, healthy store).
fn existing_store(config: &Config) -> anyhow::Result<hcp_core::store::Store> {
    require_store(config)?;
    let dir = config.store_dir();
    Ok(hcp_core::store::Store::open(
        &dir,
        hcp_core::pii::PiiKey::load_or_create(&config.pii_key_path())?,
        Arc::new(SystemClock),
        config.store_options(),
    )?)
}

/// `hcp backup`: a backup of the data folder into `to` (all of the log, or what came after the
/// backup `since`), verified once written. On a folder a running platform serves, the platform
/// is asked to write it (through the operations token of `[ops] token_file`); otherwise the
/// store is opened here. Blocking.
pub fn backup(config: &Config, to: &Path, since: Option<&Path>) -> anyhow::Result<()> {
    require_store(config)?;
    let to = std::path::absolute(to)?;
    let since = since.map(std::path::absolute).transpose()?;
    let summary = match hcp_core::store::Store::open(
        &config.store_dir(),
        hcp_core::pii::PiiKey::load_or_create(&config.pii_key_path())?,
        Arc::new(SystemClock),
        config.store_options(),
    ) {
        Ok(store) => {
            let summary = crate::app::backup::backup(
                &store,
                &config.plugins_dir(),
                &config.data_dir.join("reports"),
                &to,
                since.as_deref(),
            );
            store.close()?;
            summary?
        }
        Err(hcp_core::store::StoreError::InUse { .. }) => {
            ask_for_backup(config, &to, since.as_deref())?
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "backup of entries {}..={} ({} entries, {} bytes, {} files beside) written to {} and verified",
        summary.after + 1,
        summary.last,
        summary.entries,
        summary.bytes,
        summary.files,
        summary.to
    );
    println!(
        "  the personal-data key {} is not in it: keep a copy of the key apart from the backups",
        config.pii_key_path().display()
    );
    Ok(())
}

/// Asks the platform serving the configured folder to write a backup.
fn ask_for_backup(
    config: &Config,
    to: &Path,
    since: Option<&Path>,
) -> anyhow::Result<crate::app::backup::BackupSummary> {
    let serving_file = config.data_dir.join(crate::app::backup::SERVING_FILE);
    let serving: crate::app::backup::Serving =
        serde_json::from_slice(&std::fs::read(&serving_file).with_context(|| {
            format!(
                "a running hcp holds {} but left no {}",
                config.data_dir.display(),
                serving_file.display()
            )
        })?)?;
    let token_file = config.ops.token_file.as_ref().with_context(|| {
        format!(
            "a running hcp (process {}) serves {}: set [ops] token_file in the configuration so that hcp backup may ask it for the backup",
            serving.pid,
            config.data_dir.display()
        )
    })?;
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("reading the operations token {}", token_file.display()))?;
    let token = token.lines().next().unwrap_or_default().trim().to_string();
    let url = serving.ops_url.as_deref().unwrap_or(&serving.url);
    let response = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()?
        .post(format!("{url}/backup"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "to": to.display().to_string(),
            "since": since.map(|since| since.display().to_string()),
        }))
        .send()
        .with_context(|| format!("asking the running hcp at {url} for the backup"))?;
    let status = response.status();
    let body = response.text()?;
    anyhow::ensure!(
        status.is_success(),
        "the running hcp refused the backup ({status}): {body}"
    );
    Ok(serde_json::from_str(&body)?)
}

/// `hcp restore`: the backups `from` (a full one, then the incremental ones that follow it)
/// into the configured data folder, which must hold no store; the personal-data key must be in
/// place already (it is not in the backups). Blocking.
pub fn restore(config: &Config, from: &[PathBuf]) -> anyhow::Result<()> {
    let key = config.pii_key_path();
    anyhow::ensure!(
        key.is_file(),
        "the personal-data key {} is missing: put the key of the backed-up platform there first (backups do not hold it; without it the sealed phone numbers and names stay sealed)",
        key.display()
    );
    let last = crate::app::backup::restore(
        from,
        &config.data_dir,
        &config.store_dir(),
        hcp_core::pii::PiiKey::load_or_create(&key)?,
        config.store_options(),
    )?;
    println!(
        "restored {} backup(s) into {}: {last} log entries, every link of the chain checked",
        from.len(),
        config.data_dir.display()
    );
    Ok(())
}

/// `hcp store stats`: what each tree holds, the files on disk, the bytes per rating.
pub fn store_stats(config: &Config) -> anyhow::Result<()> {
    let store = existing_store(config)?;
    let trees = store.tree_stats()?;
    let kinds = store.log_kind_stats()?;
    let ratings = u64::try_from(store.rating_count()).unwrap_or(u64::MAX);
    let disk = store.size_on_disk();
    store.close()?;
    let logical: u64 = trees
        .iter()
        .map(|tree| tree.key_bytes + tree.value_bytes)
        .sum();
    let entries: u64 = trees.iter().map(|tree| tree.entries).sum();
    println!(
        "{:<16} {:>12} {:>14} {:>14} {:>10} {:>7}",
        "tree", "entries", "key bytes", "value bytes", "per entry", "share"
    );
    let mut sorted = trees.clone();
    sorted.sort_by_key(|tree| std::cmp::Reverse(tree.key_bytes + tree.value_bytes));
    for tree in &sorted {
        let bytes = tree.key_bytes + tree.value_bytes;
        println!(
            "{:<16} {:>12} {:>14} {:>14} {:>10} {:>6.1}%",
            tree.name,
            tree.entries,
            tree.key_bytes,
            tree.value_bytes,
            bytes.checked_div(tree.entries).unwrap_or(0),
            if logical == 0 {
                0.0
            } else {
                bytes as f64 * 100.0 / logical as f64
            }
        );
    }
    println!(
        "{:<16} {:>12} {:>14} {:>14}",
        "all",
        entries,
        trees.iter().map(|tree| tree.key_bytes).sum::<u64>(),
        trees.iter().map(|tree| tree.value_bytes).sum::<u64>()
    );
    println!("keys and values: {logical} bytes; files on disk: {disk} bytes");
    let log_bytes: u64 = kinds.iter().map(|kind| kind.value_bytes).sum();
    println!();
    println!(
        "{:<24} {:>12} {:>14} {:>10} {:>7}",
        "log entries by kind", "entries", "value bytes", "per entry", "share"
    );
    for kind in &kinds {
        println!(
            "{:<24} {:>12} {:>14} {:>10} {:>6.1}%",
            kind.name,
            kind.entries,
            kind.value_bytes,
            kind.value_bytes.checked_div(kind.entries).unwrap_or(0),
            if log_bytes == 0 {
                0.0
            } else {
                kind.value_bytes as f64 * 100.0 / log_bytes as f64
            }
        );
    }
    println!();
    if logical > 0 {
        println!("disk / logical: {:.2}", disk as f64 / logical as f64);
    }
    if let (Some(logical_each), Some(disk_each)) =
        (logical.checked_div(ratings), disk.checked_div(ratings))
    {
        println!(
            "{ratings} ratings: {logical_each} logical bytes and {disk_each} disk bytes per rating"
        );
    }
    Ok(())
}

/// `hcp store train-dictionary`: a compression dictionary trained on every 7th log entry (and
/// the large projections), as JSON.
pub fn train_dictionary(config: &Config, out: &std::path::Path, size: usize) -> anyhow::Result<()> {
    let store = existing_store(config)?;
    let samples = store.codec_samples(7)?;
    store.close()?;
    let dictionary = hcp_core::store::codec::train_dictionary(&samples, size)?;
    std::fs::write(out, &dictionary)?;
    println!(
        "{} bytes trained on {} values: {}",
        dictionary.len(),
        samples.len(),
        out.display()
    );
    Ok(())
}

/// `hcp import`: a file into the stopped platform's store, with a progress bar (bytes of the
/// file, records per second, time left) and a summary.
pub fn import(
    config: &Config,
    file: &std::path::Path,
    options: &crate::app::import::ImportOptions,
) -> anyhow::Result<()> {
    require_store(config)?;
    let platform = Platform::open(config, Arc::new(SystemClock))?;
    let mut bar = Progress::new();
    let started = std::time::Instant::now();
    let imported = crate::app::import::import(&platform, file, options, &mut |at| {
        // Rates of this run only: a resumed run starts at its checkpoint.
        let seconds = started.elapsed().as_secs_f64().max(0.001);
        let rate = at.records.saturating_sub(at.start_records) as f64 / seconds;
        let bytes_per_second = at.offset.saturating_sub(at.start_offset) as f64 / seconds;
        bar.show_line(&format!(
            "importing {:>5.1}% of the file, {} records, {rate:.0}/s, {:.0} s left",
            at.offset as f64 * 100.0 / at.len.max(1) as f64,
            at.records,
            at.len.saturating_sub(at.offset) as f64 / bytes_per_second.max(1.0),
        ));
    })?;
    bar.finish();
    // Where the committer's time went, per command (the parsing ran beside it).
    let stats = platform.store.stats();
    let commands = stats.commands.load(std::sync::atomic::Ordering::Relaxed);
    let per_command = |micros: u64| micros as f64 / commands.max(1) as f64;
    let phases: Vec<String> = hcp_core::store::CommitPhase::ALL
        .iter()
        .map(|phase| format!("{} {:.0}", phase.name(), per_command(stats.phase(*phase))))
        .chain([format!(
            "flush {:.0}",
            per_command(
                stats
                    .flush_micros
                    .load(std::sync::atomic::Ordering::Relaxed)
            )
        )])
        .collect();
    platform.store.close()?;
    let totals = &imported.totals;
    if imported.already_done {
        println!(
            "{} was already imported: nothing to do (remove {} to import it again)",
            file.display(),
            imported.checkpoint.display()
        );
    } else if imported.resumed_from > 0 {
        println!(
            "resumed after record {} (checkpoint {})",
            imported.resumed_from,
            imported.checkpoint.display()
        );
    }
    println!(
        "{} records: recorded: {}, duplicates: {}, refused: {} (in {:.1} s)",
        totals.records,
        totals.recorded,
        totals.duplicates,
        totals.refused,
        started.elapsed().as_secs_f64()
    );
    if commands > 0 {
        println!(
            "committer time per command (µs): {} ({commands} commands)",
            phases.join(", ")
        );
    }
    if totals.refused > 0 {
        println!(
            "refused records, with their number and reason: {}",
            imported.refusals.display()
        );
    }
    Ok(())
}

/// `hcp migrate`: converts the store in place (the old one is kept), with a progress bar.
pub fn migrate(config: &Config) -> anyhow::Result<()> {
    require_store(config)?;
    let dir = config.store_dir();
    let options = config.store_options();
    let from = hcp_core::store::migrate::schema_of(&dir, &options)?;
    if from == hcp_core::event::SCHEMA_VERSION {
        println!(
            "{} is already at schema version {from}: nothing to do",
            dir.display()
        );
        return Ok(());
    }
    println!(
        "migrating {} from schema {from} to {}",
        dir.display(),
        hcp_core::event::SCHEMA_VERSION
    );
    let mut bar = Progress::new();
    let migrated = hcp_core::store::migrate::migrate(
        &dir,
        hcp_core::pii::PiiKey::load_or_create(&config.pii_key_path())?,
        Arc::new(SystemClock),
        options,
        &mut |phase, done, total| bar.show(phase.label(), done, total),
    )?;
    bar.finish();
    println!(
        "migrated {} log entries (every sequence number kept); the v{} chain was intact and ends at hash {}, recorded in the new chain",
        migrated.entries, migrated.from, migrated.old_head
    );
    println!(
        "rebuilt projections match the old ones: {} keys and index entries compared",
        migrated.compared
    );
    println!(
        "log: {} -> {} bytes ({:.1}x smaller); files on disk: {} -> {} bytes",
        migrated.old_log_bytes,
        migrated.new_log_bytes,
        migrated.old_log_bytes as f64 / migrated.new_log_bytes.max(1) as f64,
        migrated.old_disk,
        migrated.new_disk
    );
    println!(
        "the old store is kept at {}: remove it once the platform runs well on the new one",
        migrated.kept.display()
    );
    Ok(())
}

/// `hcp store compact`: a fresh, checked copy of the store, with a progress bar.
pub fn store_compact(config: &Config) -> anyhow::Result<()> {
    require_store(config)?;
    let options = config.store_options();
    let mut bar = Progress::new();
    let compacted =
        hcp_core::store::migrate::compact(&config.store_dir(), options, &mut |done, total| {
            bar.show("copying trees", done, total)
        })?;
    bar.finish();
    println!(
        "copied and checked {} keys; files on disk: {} -> {} bytes ({:.2}x)",
        compacted.keys,
        compacted.old_disk,
        compacted.new_disk,
        compacted.old_disk as f64 / compacted.new_disk.max(1) as f64
    );
    println!(
        "the old store is kept at {}: remove it once the platform runs well on the new one",
        compacted.kept.display()
    );
    Ok(())
}

/// A one-line progress bar on stderr: phase, share done, rate and time left.
struct Progress {
    phase: &'static str,
    started: std::time::Instant,
    shown: std::time::Instant,
}

impl Progress {
    fn new() -> Progress {
        let now = std::time::Instant::now();
        Progress {
            phase: "",
            started: now,
            shown: now,
        }
    }

    fn show(&mut self, phase: &'static str, done: u64, total: u64) {
        use std::io::Write as _;
        let now = std::time::Instant::now();
        if phase != self.phase {
            if !self.phase.is_empty() {
                eprintln!();
            }
            self.phase = phase;
            self.started = now;
        } else if now.duration_since(self.shown) < std::time::Duration::from_millis(200)
            && done < total
        {
            return;
        }
        self.shown = now;
        let seconds = now.duration_since(self.started).as_secs_f64();
        let mut line = format!("\r{phase:<24}");
        if total > 0 {
            let share = done as f64 / total as f64;
            let filled = (share * 30.0).round() as usize;
            let rate = done as f64 / seconds.max(0.001);
            let left = (total.saturating_sub(done)) as f64 / rate.max(0.001);
            line.push_str(&format!(
                " [{}{}] {:>5.1}% {done}/{total} {rate:.0}/s, {left:.0} s left ",
                "#".repeat(filled.min(30)),
                " ".repeat(30 - filled.min(30)),
                share * 100.0
            ));
        } else {
            line.push_str(&format!(" {seconds:.0} s "));
        }
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Shows a line of its own making, at most five times a second.
    fn show_line(&mut self, text: &str) {
        use std::io::Write as _;
        let now = std::time::Instant::now();
        if now.duration_since(self.shown) < std::time::Duration::from_millis(200) {
            return;
        }
        self.shown = now;
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{text} ");
        let _ = err.flush();
    }

    fn finish(&self) {
        eprintln!();
    }
}

/// `hcp audit verify`: walks the event log's hash chain. Returns whether it is intact. Opens
/// only the store, so a broken rules folder or adapter does not stand in the way; refuses a
/// folder that holds no store. Blocking.
pub fn audit_verify(config: &Config) -> anyhow::Result<bool> {
    let store = existing_store(config)?;
    let verification = store.verify_chain()?;
    store.close()?;
    match verification {
        hcp_core::store::chain::Verification::Intact { entries } => {
            println!("{entries} log entries verified: the chain is intact");
            Ok(true)
        }
        hcp_core::store::chain::Verification::Broken { seq, problem } => {
            println!("the audit chain is broken at entry {seq}: {problem}");
            Ok(false)
        }
    }
}
