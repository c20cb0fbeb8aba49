//! The long-running commands: `serve`, `demo` and `rebuild`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hcp_core::auth;
use hcp_core::clock::{Clock, PinnableClock, SystemClock};
use hcp_core::store::{Command, EventLog as _, MasterChange, Outcome};
use tokio::net::TcpListener;

use crate::app::config::Config;
use crate::app::platform::Platform;
use crate::demo;
use crate::http::{self, admin as admin_api};

/// Serves until SIGINT/SIGTERM, then drains and flushes. With `demo`, seeds the demo city into an
/// empty store first and keeps simulating traffic.
pub async fn serve(config: Config, with_demo: bool) -> anyhow::Result<()> {
    // The demo lives through its history on this clock, pinned to each simulated instant.
    let pinnable = Arc::new(PinnableClock::new(Arc::new(SystemClock)));
    let clock: Arc<dyn Clock> = if with_demo {
        // A new demo city begins where its history does: the platform's first records (the
        // rules activated, the first administrator) are dated then too.
        if !config.store_dir().exists() {
            pinnable.pin(Some(history_start(&config, SystemClock.now())));
        }
        pinnable.clone()
    } else {
        Arc::new(SystemClock)
    };
    let mut platform = {
        let config = config.clone();
        let clock = clock.clone();
        tokio::task::spawn_blocking(move || Platform::open(&config, clock)).await??
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    if platform.messages.public_url.is_empty() {
        platform.messages.public_url = format!("http://{address}");
    }
    // The demo delivers its messages to a simulated SMS gateway on its own port, so that the
    // whole path (queue, delivery, retries) runs; `GET /demo/sms` shows what was "sent".
    if with_demo && platform.messages.gateway_url.is_empty() {
        platform.messages.gateway_url = format!("http://{address}/demo/sms");
        platform.demo_sms = Some(Arc::default());
    }

    let uplink_note = if with_demo {
        crate::demo::uplink::simulated(&mut platform, &config).await?
    } else {
        None
    };
    // Serving starts now, so that the demo's SMS gateway (a route of this server) answers the
    // messages its history sends; the banner follows once the platform is ready.
    let server = tokio::spawn(
        axum::serve(listener, http::router(platform.clone()))
            .with_graceful_shutdown(shutdown_signal())
            .into_future(),
    );
    let demo_notes = if with_demo {
        let platform = platform.clone();
        let config = config.clone();
        let pinnable = pinnable.clone();
        Some(
            tokio::task::spawn_blocking(move || seed_demo(&platform, &config, address, &pinnable))
                .await??,
        )
    } else {
        None
    };
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
    println!("好差评平台 listening on http://{address}");
    println!("  API docs:  http://{address}/docs/");
    println!("  OpenAPI:   http://{address}/api/v1/openapi.json");
    if let Some(password) = &bootstrap.admin_password {
        println!("  first administrator: admin / {password}  (shown once; change it)");
    }
    if let Some(notes) = &demo_notes {
        println!("{notes}");
    }
    if let Some(note) = &uplink_note {
        println!("{note}");
    }
    tracing::info!(%address, "serving");

    crate::workers::spawn(&platform, Arc::new(crate::workers::SoleOwner));
    let simulator = match (with_demo, config.demo.live_per_second) {
        (true, rate) if rate > 0 => Some(tokio::spawn(simulate(platform.clone(), rate))),
        _ => None,
    };
    server.await??;
    if let Some(simulator) = simulator {
        simulator.abort();
    }
    tokio::task::spawn_blocking(move || platform.store.close()).await??;
    tracing::info!("stopped");
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

/// Seeds master data, demo logins, a demo source and ~90 days of history lived through on a
/// moving clock into an empty store; re-issues the demo source's key on every start. Returns
/// what to print. Blocking.
fn seed_demo(
    platform: &Platform,
    config: &Config,
    address: std::net::SocketAddr,
    pinnable: &PinnableClock,
) -> anyhow::Result<String> {
    let store = &platform.store;
    let city = demo::city();
    let root = city
        .master
        .iter()
        .find_map(|change| match change {
            MasterChange::OrgUnit(unit) if unit.parent.is_none() => Some(unit.id.clone()),
            _ => None,
        })
        .context("demo city has no root")?;
    let fresh = store.rating_count() == 0;
    // Real time (or the manual clock's): the platform's clock may still be pinned to the start
    // of the history.
    let now = match &platform.manual_clock {
        Some(manual) => manual.now(),
        None => SystemClock.now(),
    };
    // The history is lived through on the platform's clock: pinned to each simulated instant
    // (the manual clock, when the configuration asks for one, is moved instead), then set free.
    let pin = |at: chrono::DateTime<chrono::Utc>| match &platform.manual_clock {
        Some(manual) => manual.set(at),
        None => pinnable.pin(Some(at)),
    };
    let release = || match &platform.manual_clock {
        Some(manual) => manual.set(now),
        None => pinnable.pin(None),
    };
    let days = config.demo.history_days;
    if fresh {
        pin(history_start(config, now));
        let commands: Vec<Command> = city
            .master
            .iter()
            .cloned()
            .map(|change| Command::Master {
                actor: "demo".into(),
                change,
            })
            .collect();
        check_all(store.submit(commands)?, "master data")?;
        let hash = auth::hash_password(&config.demo.password)?;
        let users = demo::users(&hash)
            .into_iter()
            .map(|user| Command::Master {
                actor: "demo".into(),
                change: MasterChange::User(user),
            })
            .collect();
        check_all(store.submit(users)?, "demo users")?;
    }
    let issued = admin_api::issue_source(
        platform,
        "demo",
        admin_api::SourceRequest {
            id: demo::DEMO_SOURCE.into(),
            name: "演示评价器与业务系统".into(),
            adapter: None,
            scope: root.clone(),
            kind: hcp_core::auth::SourceKind::Devices,
            expected: true,
        },
    );
    let (_, api_key) = match issued {
        Ok(issued) => issued,
        Err(error) => {
            release();
            anyhow::bail!("cannot issue the demo source key: {error}");
        }
    };
    if fresh {
        let systems = demo::systems();
        for system in &systems {
            admin_api::issue_source(
                platform,
                "demo",
                admin_api::SourceRequest {
                    id: system.id.clone(),
                    name: system.name.clone(),
                    adapter: None,
                    scope: system.scope.clone(),
                    kind: hcp_core::auth::SourceKind::BusinessSystem,
                    expected: true,
                },
            )
            .map_err(|error| anyhow::anyhow!("cannot register {}: {error}", system.id))?;
        }
        let routes =
            crate::demo::history::SystemRoutes::new(&systems, &root, now, &platform.calendar());
        let started = std::time::Instant::now();
        println!("living through {days} days of demo history …");
        let mut simulator = demo::Simulator::new(city.clone(), 2026);
        let lived = crate::demo::history::live_through(
            platform,
            &pin,
            simulator
                .timed_history(now, days, config.demo.services_per_day)
                .map(|(at, command)| (at, routes.route(at, command))),
            now,
            2026,
        );
        release();
        let lived = lived?;
        if lived.refused > 0 {
            tracing::warn!(
                refused = lived.refused,
                "demo history items refused: the generator and the rules disagree"
            );
        }
        if !lived.sweep_errors.is_empty() {
            tracing::warn!(errors = %lived.sweep_errors.join("; "), "demo history sweeps went wrong");
        }
        println!(
            "lived through {days} days in {:.0} s (storing {:.0} s, staff {:.0} s, sweeps {:.0} s): {} ratings, {} work orders ({} steps), {} systemic problems, {} sweeps, {} reports",
            started.elapsed().as_secs_f64(),
            lived.storing.as_secs_f64(),
            lived.working.as_secs_f64(),
            lived.sweeping.as_secs_f64(),
            store.rating_count(),
            lived.orders,
            lived.steps,
            lived.problems,
            lived.sweeps,
            lived.reports,
        );
        publish_demo_assessments(platform, &root)?;
    }
    let example_body = example_rating(&city, platform.clock.now());
    let adapter_sources = install_demo_adapters(platform, config, &root)?;
    let example = config.data_dir.join("example-rating.json");
    std::fs::write(&example, serde_json::to_vec_pretty(&example_body)?)
        .with_context(|| format!("writing {}", example.display()))?;
    Ok(format!(
        "  demo logins (password {password}): admin, city_supervisor, baofeng_supervisor, handler, window_staff, callback, reviewer, rule_editor\n  \
         demo source {source}: X-Api-Key {api_key}\n  \
         send a rating: curl -s http://{address}/api/v1/sources/{source}/ratings -H 'x-api-key: {api_key}' -H 'content-type: application/json' -d @{example}\n\
         {adapter_sources}  log head {head}, {ratings} ratings stored",
        password = config.demo.password,
        source = demo::DEMO_SOURCE,
        example = example.display(),
        head = store.head()?,
        ratings = store.rating_count(),
    ))
}

/// Midnight (China time) of the first day of the demo's history ending at `now`.
fn history_start(
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    let days = u64::from(config.demo.history_days.max(1) - 1);
    hcp_core::calendar::day_start(hcp_core::calendar::local_date(now) - chrono::Days::new(days))
}

/// Freezes (publishes) last month's assessment of the city's counties, halls and departments,
/// so that rankings and their explanations have something to show.
fn publish_demo_assessments(platform: &Platform, root: &str) -> anyhow::Result<()> {
    let period = hcp_core::assessment::Period::previous_month(hcp_core::calendar::local_date(
        platform.clock.now(),
    ));
    for kind in [
        hcp_core::store::Dim::Region,
        hcp_core::store::Dim::Hall,
        hcp_core::store::Dim::Department,
    ] {
        let run = crate::app::assessment::assess(
            platform,
            &platform.policies.active(),
            &period,
            kind,
            root,
            platform.clock.now(),
        )
        .map_err(|error| anyhow::anyhow!("assessing the demo city: {error}"))?;
        check_all(
            platform.store.submit(vec![Command::Loop(
                hcp_core::store::LoopCommand::FreezeAssessment {
                    actor: "demo".into(),
                    run: Box::new(run),
                },
            )])?,
            "demo assessments",
        )?;
    }
    Ok(())
}

/// A 差评 at the first county window of the demo city, as a device would send it: real-name, so
/// the supervisor's view shows the masked phone.
fn example_rating(city: &demo::DemoCity, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let window = city
        .windows
        .iter()
        .find(|window| {
            window.area_code.len() == 6
                && window.area_code != demo::CITY_CODE
                && window.device.is_some()
        })
        .or_else(|| city.windows.first());
    let stamp = now.format("%Y%m%d%H%M%S");
    serde_json::json!({
        "event_id": format!("example-{stamp}"),
        "project_no": format!("EXAMPLE{stamp}"),
        "service_number": 1,
        "task_code": window.and_then(|window| window.items.first()),
        "department": window.map(|window| &window.department),
        "area_code": window.map(|window| &window.area_code),
        "window": window.map(|window| &window.window),
        "staff": window.and_then(|window| window.staff.first()),
        "device": window.and_then(|window| window.device.as_ref()),
        "level": "dissatisfied",
        "channel": "hall_device",
        "indicators": ["510"],
        "text": "排队等候时间过长",
        "evaluator": {"real_name": true, "name": "张三", "phone": "13812341234"},
        "rated_at": now.to_rfc3339(),
    })
}

/// The reference adapters the demo sources speak through: (adapter and source id, source name).
const DEMO_ADAPTERS: [(&str, &str); 3] = [
    ("hx-pj200", "HX-PJ200 评价器"),
    ("zw-e7", "ZW-E7 评价器"),
    ("yth-feed", "一体化平台办件推送"),
];

/// Copies the reference adapters into the plugins folder (where start-up loads them) and gives
/// each a demo source with a fresh key. Returns the lines to print. Blocking.
fn install_demo_adapters(
    platform: &Platform,
    config: &Config,
    root: &str,
) -> anyhow::Result<String> {
    std::fs::create_dir_all(&platform.plugins_dir)?;
    let mut lines = String::new();
    for (adapter, name) in DEMO_ADAPTERS {
        let built = config.demo.adapters_dir.join(format!("{adapter}.wasm"));
        if !built.exists() {
            lines.push_str(&format!(
                "  adapter {adapter} not built ({}): run `make adapters`\n",
                built.display()
            ));
            continue;
        }
        let installed = platform.plugins_dir.join(format!("{adapter}.wasm"));
        if std::fs::read(&installed).ok() != std::fs::read(&built).ok() {
            std::fs::copy(&built, &installed)
                .with_context(|| format!("installing {}", built.display()))?;
        }
        let (_, key) = admin_api::issue_source(
            platform,
            "demo",
            admin_api::SourceRequest {
                id: adapter.into(),
                name: name.into(),
                adapter: Some(adapter.into()),
                scope: root.to_string(),
                kind: if adapter == "yth-feed" {
                    hcp_core::auth::SourceKind::BusinessSystem
                } else {
                    hcp_core::auth::SourceKind::Devices
                },
                // Ready for the tour's raw payloads; nothing is expected to come through them.
                expected: false,
            },
        )
        .map_err(|error| anyhow::anyhow!("cannot issue the {adapter} source key: {error}"))?;
        lines.push_str(&format!(
            "  source {adapter} (adapter {adapter}): X-Api-Key {key}\n"
        ));
    }
    Ok(lines)
}

fn check_all(outcomes: Vec<Outcome>, what: &str) -> anyhow::Result<()> {
    for outcome in outcomes {
        if let Outcome::Rejected(error) = outcome {
            anyhow::bail!("demo {what} refused: {error}");
        }
    }
    Ok(())
}

/// Live traffic of the simulated devices, through the same durable path as real ingest.
async fn simulate(platform: Platform, per_second: u32) {
    let mut simulator = demo::Simulator::new(demo::city(), u64::from(per_second) ^ 0x5eed);
    // Service acts go through their region's business system, as in the history.
    let routes = crate::demo::history::SystemRoutes::new(
        &demo::systems(),
        demo::CITY_CODE,
        platform.clock.now(),
        &platform.calendar(),
    );
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut tick: u64 = 0;
    loop {
        ticker.tick().await;
        let now = platform.clock.now();
        let mut commands: Vec<Command> = simulator
            .live(now, per_second as usize)
            .into_iter()
            .map(|command| routes.route(now, command))
            .collect();
        // Every minute the devices report their counters; one in seven stays silent, so the
        // online rate per hall shows something to supervise.
        let heartbeat = tick.is_multiple_of(60).then_some(tick / 60);
        // Every five seconds the simulated staff take the next step of some open orders.
        let desk = tick.is_multiple_of(5).then_some(tick);
        tick += 1;
        let platform = platform.clone();
        let work = move || {
            if let Some(sequence) = heartbeat {
                commands.extend(demo_heartbeats(&platform, now, sequence));
            }
            if let Some(round) = desk {
                use rand::SeedableRng as _;
                let mut rng = rand::rngs::StdRng::seed_from_u64(round ^ 0xde5c);
                commands.extend(crate::demo::desk::round(&platform, &mut rng));
            }
            platform.store.submit(commands)
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "simulated traffic not stored"),
            Err(error) => tracing::warn!(%error, "simulator task failed"),
        }
    }
}

/// Heartbeats of the demo's devices: each reports what it stored plus what it counted before it
/// was connected. Reads the store: blocking, and called once a minute.
fn demo_heartbeats(
    platform: &Platform,
    now: chrono::DateTime<chrono::Utc>,
    sequence: u64,
) -> Vec<Command> {
    let devices = platform.store.devices().unwrap_or_default();
    devices
        .into_iter()
        .enumerate()
        .filter(|(index, _)| index % 7 != 3)
        .map(|(_, device)| {
            let stored = platform
                .store
                .device_state(&device.id)
                .map(|state| state.ratings_stored)
                .unwrap_or(0);
            Command::Heartbeat {
                source: demo::DEMO_SOURCE.into(),
                input: hcp_core::model::HeartbeatInput {
                    device: device.id,
                    sent_at: now,
                    sequence: sequence + 1,
                    ratings_total: 1_000 + stored,
                    firmware: Some("demo-1.0".into()),
                },
            }
        })
        .collect()
}

/// Clears every projection and replays the log (`hcp rebuild`). Blocking.
pub fn rebuild(config: &Config) -> anyhow::Result<()> {
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
        crate::app::platform::calendar_from(&own, config.calendar.provisional)
    } else {
        crate::app::platform::load_calendar(config)
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
    let platform = Platform::open(config, Arc::new(SystemClock))?;
    let result = platform.policies.rollback(&platform.store, version, "cli");
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

/// `hcp audit verify`: walks the event log's hash chain. Returns whether it is intact. Opens
/// only the store, so a broken rules folder or adapter does not stand in the way. Blocking.
pub fn audit_verify(config: &Config) -> anyhow::Result<bool> {
    let store = hcp_core::store::Store::open(
        &config.store_dir(),
        hcp_core::pii::PiiKey::load_or_create(&config.pii_key_path())?,
        Arc::new(SystemClock),
        hcp_core::store::StoreOptions::default(),
    )?;
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
