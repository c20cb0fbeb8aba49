//! Ingest benchmark: drives the real HTTP ingest endpoint of a release `hcp` with concurrent
//! clients and reports durable ratings/s with p50/p99 latency, beside the raw sled insert
//! ceiling (unflushed, and flushed per insert) measured in the same run on the same disk.
//! Run with `make bench`; `BENCH_SECONDS` sets the length of each HTTP phase (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcp_e2e::{Server, Session, binary, rating, seed};

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

async fn http_phase(
    url: &str,
    fixture: Arc<hcp_e2e::Fixture>,
    clients: usize,
    seconds: u64,
    tag: &str,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let url = url.to_string();
            let fixture = fixture.clone();
            let stop = stop.clone();
            let tag = tag.to_string();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let endpoint = format!("{url}/api/v1/sources/{}/ratings", fixture.source);
                let mut latencies = Vec::new();
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let event = format!("{tag}-{client}-{sent}");
                    let body = rating(&fixture, &event, &format!("B-{event}"), "13812341234");
                    let begun = Instant::now();
                    let response = http
                        .post(&endpoint)
                        .header("x-api-key", &fixture.api_key)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 201);
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
    let server = Server::start(&binary, "serve", &data, None).unwrap();
    let phases = runtime.block_on(async {
        let password = server.admin_password().unwrap();
        let admin = Session::login(&server.url, "admin", &password)
            .await
            .unwrap();
        let fixture = Arc::new(seed(&admin).await.unwrap());
        let mut phases = Vec::new();
        for clients in [1, 16, 64, 256] {
            phases.push(
                http_phase(
                    &server.url,
                    fixture.clone(),
                    clients,
                    seconds,
                    &format!("c{clients}"),
                )
                .await,
            );
        }
        phases
    });
    drop(server);

    println!(
        "raw sled, same disk: {unflushed:>9.0} inserts/s unflushed, {flushed:>7.0} inserts/s with a flush each"
    );
    println!("HTTP ingest (durable, one rating per request, client on the same 2 cores):");
    println!("clients  ratings/s    p50 ms   p99 ms   vs unflushed sled   vs flush-per-insert");
    for phase in phases {
        let rate = phase.acked as f64 / phase.seconds;
        println!(
            "{:>7}  {:>9.0}  {:>8.2}  {:>7.2}   {:>16.3}   {:>18.2}",
            phase.clients,
            rate,
            phase.p50.as_secs_f64() * 1e3,
            phase.p99.as_secs_f64() * 1e3,
            rate / unflushed,
            rate / flushed,
        );
    }
}
