//! `hcp demo`: the platform with the demo city: its history lived through on a pinned clock,
//! a simulated SMS gateway and provincial platform, demo logins and sources, live traffic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use hcp_core::auth;
use hcp_core::clock::{Clock, PinnableClock, SystemClock};
use hcp_core::store::{Command, EventLog as _, MasterChange, Outcome};

use crate::app::admin;
use crate::app::config::Config;
use crate::app::platform::Platform;
use crate::demo;
use crate::run::Extension;

/// The demo city as an [`Extension`] of `serve`.
#[derive(Clone)]
pub struct Demo {
    /// The demo lives through its history on this clock, pinned to each simulated instant.
    pinnable: Arc<PinnableClock>,
    /// Whether the simulated SMS gateway serves (no gateway configured).
    own_gateway: Arc<std::sync::atomic::AtomicBool>,
    outbox: super::sms::Outbox,
}

impl Default for Demo {
    fn default() -> Demo {
        Demo {
            pinnable: Arc::new(PinnableClock::new(Arc::new(SystemClock))),
            own_gateway: Arc::default(),
            outbox: super::sms::Outbox::default(),
        }
    }
}

impl Extension for Demo {
    fn clock(&self, config: &Config) -> Arc<dyn Clock> {
        // A new demo city begins where its history does: the platform's first records (the
        // rules activated, the first administrator) are dated then too.
        if !config.store_dir().exists() {
            self.pinnable
                .pin(Some(history_start(config, SystemClock.now())));
        }
        self.pinnable.clone()
    }

    fn routes(&self) -> Router<Platform> {
        let routes = super::faults::routes();
        if self.own_gateway.load(std::sync::atomic::Ordering::Relaxed) {
            routes.merge(super::sms::routes(self.outbox.clone()))
        } else {
            routes
        }
    }

    async fn prepare(
        &self,
        platform: &mut Platform,
        config: &Config,
        address: SocketAddr,
    ) -> anyhow::Result<Vec<String>> {
        // The demo delivers its messages to a simulated SMS gateway on its own port, so that the
        // whole path (queue, delivery, retries) runs; `GET /demo/sms` shows what was "sent".
        if platform.messages.gateway_url.is_empty() {
            platform.messages.gateway_url = format!("http://{address}/demo/sms");
            self.own_gateway
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(super::uplink::simulated(platform, config)
            .await?
            .into_iter()
            .collect())
    }

    fn seed(
        &self,
        platform: &Platform,
        config: &Config,
        address: SocketAddr,
    ) -> anyhow::Result<Vec<String>> {
        Ok(vec![seed_demo(platform, config, address, &self.pinnable)?])
    }

    fn start(&self, platform: &Platform, config: &Config) -> Option<tokio::task::JoinHandle<()>> {
        let rate = config.demo.live_per_second;
        (rate > 0).then(|| tokio::spawn(simulate(platform.clone(), rate)))
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
    let issued = admin::issue_source(
        platform,
        "demo",
        admin::SourceRequest {
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
            admin::issue_source(
                platform,
                "demo",
                admin::SourceRequest {
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
        let routes = super::history::SystemRoutes::new(&systems, &root, now, &platform.calendar());
        let started = std::time::Instant::now();
        println!("living through {days} days of demo history …");
        let mut simulator = demo::Simulator::new(city.clone(), 2026);
        let lived = super::history::live_through(
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
        let (_, key) = admin::issue_source(
            platform,
            "demo",
            admin::SourceRequest {
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
    let routes = super::history::SystemRoutes::new(
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
                commands.extend(super::desk::round(&platform, &mut rng));
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
