//! Ingest benchmark: drives the real HTTP ingest endpoints of a release `hcp` (the integrity
//! policy of `rules/default` on) with concurrent clients and reports durable ratings/s with
//! p50/p99 latency per request: canonical JSON one rating per request and 500 per request, and
//! the same through the `hx-pj200` (binary frames) and `zw-e7` (vendor JSON) WASM adapters;
//! beside the raw sled insert ceiling on the same disk and the same ingest into PostgreSQL 15
//! (installed and started by `tests/benches/postgres.sh`, fsync and synchronous_commit on) in
//! the same run: single-row transactions, with and without a daily roll-up maintained in the
//! same transaction, and COPY batches of 500 with the roll-up.
//! Run with `make bench`; `BENCH_SECONDS` sets the length of each phase (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hcp_e2e::{Server, Session, adapter, binary, hx_rating_frame, rating, seed, zw_payload};
use serde_json::{Value, json};

#[path = "support/pg.rs"]
mod pg;
use pg::Postgres;

/// Ratings per request of the batched phases (HTTP and PostgreSQL COPY alike).
const BATCH: usize = 500;

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// A value the size of a stored rating event (~600 bytes of JSON).
fn value(index: u64) -> Vec<u8> {
    format!("{{\"seq\":{index},\"event\":\"{}\"}}", "x".repeat(580)).into_bytes()
}

fn sled_ceiling(dir: &Path) -> (f64, f64) {
    let db = sled::Config::new()
        .path(dir.join("raw"))
        .cache_capacity(256 * 1024 * 1024)
        .open()
        .unwrap();
    let count = 200_000u64;
    let started = Instant::now();
    for index in 0..count {
        db.insert(index.to_be_bytes(), value(index)).unwrap();
    }
    db.flush().unwrap();
    let unflushed = count as f64 / started.elapsed().as_secs_f64();
    let flushed_count = 2_000u64;
    let started = Instant::now();
    for index in count..count + flushed_count {
        db.insert(index.to_be_bytes(), value(index)).unwrap();
        db.flush().unwrap();
    }
    let flushed = flushed_count as f64 / started.elapsed().as_secs_f64();
    (unflushed, flushed)
}

struct Phase {
    route: &'static str,
    clients: usize,
    /// Ratings acknowledged as durable.
    acked: usize,
    seconds: f64,
    /// Per request (one rating, or a batch).
    p50: Duration,
    p99: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.acked as f64 / self.seconds
    }

    fn new(
        route: &'static str,
        clients: usize,
        acked: usize,
        seconds: f64,
        mut latencies: Vec<Duration>,
    ) -> Phase {
        latencies.sort();
        Phase {
            route,
            clients,
            acked,
            seconds,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
        }
    }
}

/// How one request of an HTTP phase is made.
#[derive(Clone)]
enum Route {
    /// Canonical JSON on `/api/v1/sources/{source}/ratings`, one rating per request.
    Canonical,
    /// Canonical JSON, [`BATCH`] ratings per request.
    Batch,
    /// ZW-E7 vendor JSON on `/api/v1/ingest/{source}`, decoded by the WASM adapter.
    Zw { source: String, key: String },
    /// HX-PJ200 binary frames on `/api/v1/ingest/{source}`; the device numbers its frames.
    Hx {
        source: String,
        key: String,
        sequence: Arc<AtomicU32>,
    },
}

impl Route {
    fn name(&self) -> &'static str {
        match self {
            Route::Canonical => "canonical",
            Route::Batch => "canonical ×500",
            Route::Zw { .. } => "zw-e7 wasm",
            Route::Hx { .. } => "hx-pj200 wasm",
        }
    }
}

fn unix_now() -> u32 {
    u32::try_from(chrono::Utc::now().timestamp()).unwrap()
}

async fn http_phase(
    url: &str,
    fixture: Arc<hcp_e2e::Fixture>,
    clients: usize,
    seconds: u64,
    tag: &str,
    route: Route,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let url = url.to_string();
            let fixture = fixture.clone();
            let stop = stop.clone();
            let tag = tag.to_string();
            let route = route.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut latencies = Vec::new();
                let mut acked = 0usize;
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let event = format!("{tag}-{client}-{sent}");
                    let request = match &route {
                        Route::Canonical => http
                            .post(format!("{url}/api/v1/sources/{}/ratings", fixture.source))
                            .header("x-api-key", &fixture.api_key)
                            .json(&rating(
                                &fixture,
                                &event,
                                &format!("B-{event}"),
                                "13812341234",
                            )),
                        Route::Batch => {
                            let items: Vec<Value> = (0..BATCH)
                                .map(|item| {
                                    let event = format!("{event}-{item}");
                                    rating(&fixture, &event, &format!("B-{event}"), "13812341234")
                                })
                                .collect();
                            http.post(format!("{url}/api/v1/sources/{}/ratings", fixture.source))
                                .header("x-api-key", &fixture.api_key)
                                .json(&items)
                        }
                        Route::Zw { source, key } => http
                            .post(format!("{url}/api/v1/ingest/{source}"))
                            .header("x-api-key", key)
                            .json(&zw_payload(
                                "D-ZW",
                                &event,
                                &format!("B-{event}"),
                                "T-QYSL",
                                1,
                            )),
                        Route::Hx {
                            source,
                            key,
                            sequence,
                        } => {
                            let number = sequence.fetch_add(1, Ordering::Relaxed);
                            let frame = hx_rating_frame(
                                number,
                                "D-HX",
                                unix_now() - 1,
                                1,
                                &format!("B-{event}"),
                                "T-QYSL",
                                "",
                            );
                            http.post(format!("{url}/api/v1/ingest/{source}"))
                                .header("x-api-key", key)
                                .header("content-type", "application/vnd.hx-pj200")
                                .body(frame)
                        }
                    };
                    let begun = Instant::now();
                    let response = request.send().await.unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    assert!(status.is_success(), "{status} {body}");
                    latencies.push(begun.elapsed());
                    acked += match &route {
                        Route::Canonical => 1,
                        _ => body["recorded"].as_u64().unwrap_or(1) as usize,
                    };
                    sent += 1;
                }
                (acked, latencies)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut acked = 0;
    for task in tasks {
        let (count, times) = task.await.unwrap();
        acked += count;
        latencies.extend(times);
    }
    Phase::new(
        route.name(),
        clients,
        acked,
        started.elapsed().as_secs_f64(),
        latencies,
    )
}

/// The HTTP phases against a release `hcp serve` in `data`, and the server's `/metrics` after.
fn hcp_phases(data: &Path, seconds: u64) -> (Vec<Phase>, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let binary = binary("release").unwrap();
    // The adapters are in the plugins folder before start: start-up loads them.
    std::fs::create_dir_all(data.join("plugins")).unwrap();
    for name in ["zw-e7", "hx-pj200"] {
        std::fs::copy(
            adapter(name).unwrap(),
            data.join(format!("plugins/{name}.wasm")),
        )
        .unwrap();
    }
    let server = Server::start(&binary, "serve", data, None).unwrap();
    runtime.block_on(async {
        let password = server.admin_password().unwrap();
        let admin = Session::login(&server.url, "admin", &password)
            .await
            .unwrap();
        let fixture = Arc::new(seed(&admin).await.unwrap());
        for record in [
            json!({"kind": "device_model", "record": {"model": "ZW-E7", "vendor": "正微科技"}}),
            json!({"kind": "device_model", "record": {"model": "HX-PJ200", "vendor": "华信智能", "min_press_interval_secs": 0}}),
            json!({"kind": "device", "record": {"id": "D-ZW", "model": "ZW-E7", "window": "W-BF-01"}}),
            json!({"kind": "device", "record": {"id": "D-HX", "model": "HX-PJ200", "window": "W-BF-01"}}),
        ] {
            admin.post("/api/v1/admin/master", &record).await.unwrap();
        }
        let mut keys = std::collections::HashMap::new();
        for (source, adapter) in [("zw", "zw-e7"), ("hx", "hx-pj200")] {
            let issued = admin
                .post(
                    "/api/v1/admin/sources",
                    &json!({"id": source, "name": source, "adapter": adapter, "scope": "410421"}),
                )
                .await
                .unwrap();
            keys.insert(source, issued["api_key"].as_str().unwrap().to_string());
        }
        let zw = Route::Zw {
            source: "zw".into(),
            key: keys["zw"].clone(),
        };
        let hx = Route::Hx {
            source: "hx".into(),
            key: keys["hx"].clone(),
            sequence: Arc::new(AtomicU32::new(1)),
        };
        let plan = [
            (Route::Canonical, vec![1, 16, 64, 256]),
            (Route::Batch, vec![4, 16]),
            (hx, vec![16, 64]),
            (zw, vec![16, 64]),
        ];
        let mut phases = Vec::new();
        for (index, (route, clients)) in plan.into_iter().enumerate() {
            for clients in clients {
                let tag = format!("r{index}c{clients}");
                let phase =
                    http_phase(&server.url, fixture.clone(), clients, seconds, &tag, route.clone())
                        .await;
                phases.push(phase);
            }
        }
        let metrics = reqwest::get(format!("{}/metrics", server.ops_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (phases, metrics)
    })
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: the same ratings into a table keyed by source and event id (duplicates are
// dropped, as the platform's idempotency key drops them), with the daily roll-up by unit, level
// and channel that its metrics would read maintained in the same transaction. Five units per
// rating (item, department, county, window, city); the platform's own roll-up covers these and
// the region's further ancestors. The phone is stored as text, where the platform seals it.

const PG_SCHEMA: &str = "
CREATE TABLE rating (
  id bigserial PRIMARY KEY, source text NOT NULL, event_id text NOT NULL,
  project_no text NOT NULL, service_number smallint NOT NULL, task_code text NOT NULL,
  department text NOT NULL, area_code text NOT NULL, window_id text,
  level smallint NOT NULL, channel smallint NOT NULL, real_name boolean NOT NULL, phone text,
  rated_at timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, event_id));
CREATE TABLE rating_daily (
  unit text NOT NULL, day date NOT NULL, level smallint NOT NULL, channel smallint NOT NULL,
  count bigint NOT NULL, PRIMARY KEY (unit, day, level, channel));
";

const PG_COLUMNS: &str = "source, event_id, project_no, service_number, task_code, department, \
                          area_code, window_id, level, channel, real_name, phone, rated_at";

/// The roll-up of the ratings a statement just inserted (`new`), in one order so that
/// concurrent transactions take the roll-up's row locks in the same order.
const PG_ROLLUP: &str = "
INSERT INTO rating_daily (unit, day, level, channel, count)
SELECT u.unit, (n.rated_at AT TIME ZONE 'Asia/Shanghai')::date, n.level, n.channel, count(*)
FROM new n CROSS JOIN LATERAL
  (VALUES (n.task_code), (n.department), (n.area_code), (n.window_id), ('410400')) u(unit)
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (unit, day, level, channel) DO UPDATE SET count = rating_daily.count + EXCLUDED.count";

const PG_RETURNING: &str =
    "RETURNING task_code, department, area_code, window_id, level, channel, rated_at";

#[derive(Clone, Copy, PartialEq)]
enum PgWork {
    /// One rating per transaction (autocommit), no roll-up.
    Row,
    /// One rating and its roll-up per transaction.
    RowRollup,
    /// [`BATCH`] ratings by COPY into a staging table, then inserted with their roll-up, per
    /// transaction.
    CopyRollup,
}

impl PgWork {
    fn name(self) -> &'static str {
        match self {
            PgWork::Row => "pg row",
            PgWork::RowRollup => "pg row+rollup",
            PgWork::CopyRollup => "pg COPY ×500",
        }
    }
}

fn pg_phase(pg: &Postgres, work: PgWork, clients: usize, seconds: u64, tag: &str) -> Phase {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let insert_row = format!(
        "INSERT INTO rating ({PG_COLUMNS}) VALUES ($1, $2, $3, 1, 'T-QYSL', $4, '410421', 'W-BF-01', \
         1, 1, true, '13812341234', $5) ON CONFLICT (source, event_id) DO NOTHING"
    );
    let with_rollup = format!("WITH new AS ({insert_row} {PG_RETURNING}) {PG_ROLLUP}");
    let from_stage = format!(
        "WITH new AS (INSERT INTO rating ({PG_COLUMNS}) SELECT {PG_COLUMNS} FROM stage \
         ON CONFLICT (source, event_id) DO NOTHING {PG_RETURNING}) {PG_ROLLUP}"
    );
    let department = hcp_e2e::department('A');
    let results: Vec<(usize, Vec<Duration>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|client| {
                let (stop, insert_row, with_rollup, from_stage, department) =
                    (&stop, &insert_row, &with_rollup, &from_stage, &department);
                scope.spawn(move || {
                    let mut db = pg.connect();
                    let statement = match work {
                        PgWork::Row => db.prepare(insert_row).unwrap(),
                        PgWork::RowRollup => db.prepare(with_rollup).unwrap(),
                        PgWork::CopyRollup => {
                            db.batch_execute(&format!(
                                "CREATE TEMP TABLE stage AS SELECT {PG_COLUMNS} FROM rating WITH NO DATA"
                            ))
                            .unwrap();
                            db.prepare(from_stage).unwrap()
                        }
                    };
                    let mut latencies = Vec::new();
                    let mut acked = 0usize;
                    let mut sent = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let event = format!("{tag}-{client}-{sent}");
                        let begun = Instant::now();
                        if work == PgWork::CopyRollup {
                            let mut transaction = db.transaction().unwrap();
                            let mut rows = String::new();
                            let now = chrono::Utc::now().to_rfc3339();
                            for item in 0..BATCH {
                                rows.push_str(&format!(
                                    "bf-devices\t{event}-{item}\tB-{event}-{item}\t1\tT-QYSL\t{department}\t\
                                     410421\tW-BF-01\t1\t1\tt\t13812341234\t{now}\n"
                                ));
                            }
                            let mut writer = transaction
                                .copy_in(&format!("COPY stage ({PG_COLUMNS}) FROM STDIN"))
                                .unwrap();
                            writer.write_all(rows.as_bytes()).unwrap();
                            writer.finish().unwrap();
                            transaction.execute(&statement, &[]).unwrap();
                            transaction.batch_execute("TRUNCATE stage").unwrap();
                            transaction.commit().unwrap();
                            acked += BATCH;
                        } else {
                            let project = format!("B-{event}");
                            db.execute(
                                &statement,
                                &[&"bf-devices", &event, &project, department, &chrono::Utc::now()],
                            )
                            .unwrap();
                            acked += 1;
                        }
                        latencies.push(begun.elapsed());
                        sent += 1;
                    }
                    (acked, latencies)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect()
    });
    let acked = results.iter().map(|(count, _)| count).sum();
    let latencies = results.into_iter().flat_map(|(_, times)| times).collect();
    Phase::new(
        work.name(),
        clients,
        acked,
        started.elapsed().as_secs_f64(),
        latencies,
    )
}

fn pg_phases(root: &Path, seconds: u64) -> (Vec<Phase>, f64) {
    let dir = root.join("postgres");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(root).unwrap();
    let pg = Postgres::start(&dir, "1GB", "64MB");
    pg.connect().batch_execute(PG_SCHEMA).unwrap();
    let plan = [
        (PgWork::Row, vec![64]),
        (PgWork::RowRollup, vec![16, 64]),
        (PgWork::CopyRollup, vec![4, 16]),
    ];
    let mut phases = Vec::new();
    for (index, (work, clients)) in plan.into_iter().enumerate() {
        for clients in clients {
            phases.push(pg_phase(
                &pg,
                work,
                clients,
                seconds,
                &format!("p{index}c{clients}"),
            ));
        }
    }
    let mut db = pg.connect();
    db.batch_execute("CHECKPOINT").unwrap();
    let row = db
        .query_one(
            "SELECT (pg_total_relation_size('rating') + pg_total_relation_size('rating_daily'))::float8
                    / greatest(count(*), 1) FROM rating",
            &[],
        )
        .unwrap();
    (phases, row.get(0))
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let (unflushed, flushed) = sled_ceiling(dir.path());
    let (mut phases, metrics) = hcp_phases(&dir.path().join("hcp"), seconds);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-ingest");
    let (pg, pg_bytes) = pg_phases(&root, seconds);
    let pg_rate = |name: &str, clients: usize| {
        pg.iter()
            .find(|phase| phase.route == name && phase.clients == clients)
            .map_or(f64::NAN, Phase::rate)
    };
    let peers = [
        ("canonical", 64, "pg row+rollup", 64),
        ("canonical ×500", 16, "pg COPY ×500", 16),
        ("hx-pj200 wasm", 64, "pg row+rollup", 64),
        ("zw-e7 wasm", 64, "pg row+rollup", 64),
    ];
    let ratios: Vec<String> = peers
        .iter()
        .filter_map(|(route, clients, peer, peer_clients)| {
            let ours = phases
                .iter()
                .find(|phase| phase.route == *route && phase.clients == *clients)?;
            Some(format!(
                "  {route} at {clients} / {peer} at {peer_clients}: {:.2}",
                ours.rate() / pg_rate(peer, *peer_clients)
            ))
        })
        .collect();
    phases.extend(pg);

    println!(
        "raw sled, same disk: {unflushed:>9.0} inserts/s unflushed, {flushed:>7.0} inserts/s with a flush each"
    );
    println!("durable ingest (client on the same 2 cores; p50/p99 per request):");
    println!("route            clients  ratings/s    p50 ms    p99 ms   vs flush-per-insert sled");
    for phase in &phases {
        println!(
            "{:<15}  {:>7}  {:>9.0}  {:>8.2}  {:>8.2}   {:>10.2}",
            phase.route,
            phase.clients,
            phase.rate(),
            phase.p50.as_secs_f64() * 1e3,
            phase.p99.as_secs_f64() * 1e3,
            phase.rate() / flushed,
        );
    }
    println!("hcp against PostgreSQL, same work, same run (ratings/s ratio):");
    for line in ratios {
        println!("{line}");
    }
    println!("PostgreSQL bytes per rating (table, unique key, roll-up): {pg_bytes:.0}");
    committer_phases(&metrics);
}

/// The committer's time per command by phase, from the server's `/metrics` after the run.
fn committer_phases(metrics: &str) {
    let sample = |line: &str| -> Option<f64> { line.rsplit(' ').next()?.parse().ok() };
    let commands = metrics
        .lines()
        .find(|line| line.starts_with("hcp_store_commit_commands_total"))
        .and_then(sample)
        .unwrap_or(0.0);
    let batches = metrics
        .lines()
        .find(|line| line.starts_with("hcp_store_commit_batches_total"))
        .and_then(sample)
        .unwrap_or(0.0);
    if commands == 0.0 {
        return;
    }
    println!(
        "committer: {commands:.0} commands in {batches:.0} batches ({:.1} per batch); time per command by phase:",
        commands / batches.max(1.0)
    );
    for line in metrics.lines() {
        let phase = line
            .strip_prefix("hcp_store_commit_phase_seconds_total{phase=\"")
            .and_then(|rest| rest.split('"').next())
            .map(str::to_string)
            .or_else(|| {
                line.starts_with("hcp_store_flush_seconds_total")
                    .then(|| "flush".to_string())
            });
        if let (Some(phase), Some(seconds)) = (phase, sample(line)) {
            println!("  {phase:<12} {:>8.1} µs", seconds * 1e6 / commands);
        }
    }
}
