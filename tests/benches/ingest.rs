//! Ingest benchmark: drives the real HTTP ingest endpoint of a release `hcp` with concurrent
//! clients and reports durable ratings/s with p50/p99 latency, beside the raw sled insert
//! ceiling (unflushed, and flushed per insert) measured in the same run on the same disk, and
//! the same ingest through the `zw-e7` WASM adapter (vendor JSON decoded in a fresh sandbox per
//! payload) against the built-in canonical JSON.
//! Run with `make bench`; `BENCH_SECONDS` sets the length of each HTTP phase (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcp_e2e::{Server, Session, adapter, binary, rating, seed, zw_payload};
use serde_json::json;

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

fn sled_ceiling(dir: &std::path::Path) -> (f64, f64) {
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
    clients: usize,
    acked: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

/// How one request of a phase is made.
#[derive(Clone)]
enum Route {
    /// Canonical JSON on `/api/v1/sources/{source}/ratings`.
    Canonical,
    /// ZW-E7 vendor JSON on `/api/v1/ingest/{source}`, decoded by the WASM adapter.
    Adapter { source: String, key: String },
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
                let endpoint = match &route {
                    Route::Canonical => format!("{url}/api/v1/sources/{}/ratings", fixture.source),
                    Route::Adapter { source, .. } => format!("{url}/api/v1/ingest/{source}"),
                };
                let mut latencies = Vec::new();
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let event = format!("{tag}-{client}-{sent}");
                    let (body, key) = match &route {
                        Route::Canonical => (
                            rating(&fixture, &event, &format!("B-{event}"), "13812341234"),
                            &fixture.api_key,
                        ),
                        Route::Adapter { key, .. } => (
                            zw_payload("D-ZW", &event, &format!("B-{event}"), "T-QYSL", 1),
                            key,
                        ),
                    };
                    let begun = Instant::now();
                    let response = http
                        .post(&endpoint)
                        .header("x-api-key", key)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    latencies.push(begun.elapsed());
                    sent += 1;
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Phase {
        clients,
        acked: latencies.len(),
        seconds: elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let (unflushed, flushed) = sled_ceiling(dir.path());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let binary = binary("release").unwrap();
    let data = dir.path().join("hcp");
    // The adapter is in the plugins folder before start: start-up loads it.
    std::fs::create_dir_all(data.join("plugins")).unwrap();
    std::fs::copy(adapter("zw-e7").unwrap(), data.join("plugins/zw-e7.wasm")).unwrap();
    let server = Server::start(&binary, "serve", &data, None).unwrap();
    let (phases, metrics) = runtime.block_on(async {
        let password = server.admin_password().unwrap();
        let admin = Session::login(&server.url, "admin", &password)
            .await
            .unwrap();
        let fixture = Arc::new(seed(&admin).await.unwrap());
        for record in [
            json!({"kind": "device_model", "record": {"model": "ZW-E7", "vendor": "正微科技"}}),
            json!({"kind": "device", "record": {"id": "D-ZW", "model": "ZW-E7", "window": "W-BF-01"}}),
        ] {
            admin.post("/api/v1/admin/master", &record).await.unwrap();
        }
        let issued = admin
            .post(
                "/api/v1/admin/sources",
                &json!({"id": "zw", "name": "zw", "adapter": "zw-e7", "scope": "410421"}),
            )
            .await
            .unwrap();
        let through_adapter = Route::Adapter {
            source: "zw".into(),
            key: issued["api_key"].as_str().unwrap().to_string(),
        };
        let mut phases = Vec::new();
        for clients in [1, 16, 64, 256] {
            let tag = format!("c{clients}");
            let phase = http_phase(&server.url, fixture.clone(), clients, seconds, &tag, Route::Canonical).await;
            phases.push(("canonical", phase));
        }
        for clients in [1, 16, 64] {
            let tag = format!("z{clients}");
            let phase = http_phase(&server.url, fixture.clone(), clients, seconds, &tag, through_adapter.clone()).await;
            phases.push(("zw-e7 wasm", phase));
        }
        let metrics = reqwest::get(format!("{}/metrics", server.ops_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (phases, metrics)
    });
    drop(server);

    println!(
        "raw sled, same disk: {unflushed:>9.0} inserts/s unflushed, {flushed:>7.0} inserts/s with a flush each"
    );
    println!("HTTP ingest (durable, one rating per request, client on the same 2 cores):");
    println!(
        "route       clients  ratings/s    p50 ms   p99 ms   vs unflushed sled   vs flush-per-insert"
    );
    for (route, phase) in phases {
        let rate = phase.acked as f64 / phase.seconds;
        println!(
            "{route:<10}  {:>7}  {:>9.0}  {:>8.2}  {:>7.2}   {:>16.3}   {:>18.2}",
            phase.clients,
            rate,
            phase.p50.as_secs_f64() * 1e3,
            phase.p99.as_secs_f64() * 1e3,
            rate / unflushed,
            rate / flushed,
        );
    }
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
