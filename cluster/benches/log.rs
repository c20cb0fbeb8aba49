//! Durable ingest with the log shared through JetStream, beside the embedded sled log, in one
//! run on this machine: single ratings from 64 writers (group commit) and batches of 500 from 4,
//! into a store with the embedded log, with a 1-replica stream and with a 3-replica stream on a
//! 3-server cluster, the servers writing through to the disk before they acknowledge (`fsync`,
//! as the embedded store does) and with nats-server's default periodic sync; then one node
//! against three nodes (three partitions) on the 3-replica stream. The stores are real sled folders in `target/bench-cluster/`, the servers real
//! nats-server processes on loopback; the store's API is driven directly (no HTTP), so the
//! figures compare the logs, not the transport. `BENCH_SECONDS` per measurement (default 5).
//!
//! Run with `make bench` or `cargo bench -p hcp-cluster --bench log`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcp_cluster::servers::{NatsServers, Sync};
use hcp_cluster::{JournalConfig, SharedLog};
use hcp_core::clock::ManualClock;
use hcp_core::pii::PiiKey;
use hcp_core::store::{Command, Outcome, Store, StoreOptions};

#[path = "../tests/support/mod.rs"]
mod support;

use support::{master_data, now, rating};

/// What one measurement gave.
struct Rate {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5.0)
}

fn open(dir: &Path, shared: Option<(&NatsServers, usize, &str)>) -> Store {
    let journal = shared.map(|(servers, replicas, partition)| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match SharedLog::connect(JournalConfig::new(servers.urls(), replicas), partition) {
                Ok(log) => break Arc::new(log) as Arc<dyn hcp_core::store::Journal>,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("  waiting for the cluster: {error}");
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(error) => panic!("the cluster did not come up: {error}"),
            }
        }
    });
    let store = Store::open_with_journal(
        dir,
        PiiKey::from_bytes([7; 32]),
        Arc::new(ManualClock::new(now())),
        StoreOptions::default(),
        journal,
    )
    .unwrap();
    let outcomes = store.submit(master_data()).unwrap();
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Outcome::Recorded { .. })),
        "{outcomes:?}"
    );
    store
}

fn percentile(sorted: &[Duration], at: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * at).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// `writers` threads each submitting `batch` ratings at a time for the configured seconds, on
/// every store of `stores` at once; every rating must be recorded.
fn drive(stores: &[Store], writers: usize, batch: usize) -> Rate {
    // Event ids and project numbers unique across the measurements on one store.
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run_number = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let run = Duration::from_secs_f64(seconds());
    let started = Instant::now();
    let mut handles = Vec::new();
    for (store_index, store) in stores.iter().enumerate() {
        for writer in 0..writers {
            let store = store.clone();
            handles.push(std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut recorded = 0usize;
                // Project numbers unique within the store: a writer's own range, and the
                // second run on a store (three nodes after one) above the first's.
                let span = 1_000_000 / 2 / writers;
                let base =
                    u32::try_from((run_number as usize % 2) * 500_000 + writer * span).unwrap();
                let mut next = 0u32;
                while started.elapsed() < run {
                    let commands: Vec<Command> = (0..batch)
                        .map(|_| {
                            next += 1;
                            rating(
                                &format!("r{run_number}-s{store_index}-w{writer}-{next}"),
                                base + next,
                            )
                        })
                        .collect();
                    let asked = Instant::now();
                    let outcomes = store.submit(commands).unwrap();
                    latencies.push(asked.elapsed());
                    recorded += outcomes
                        .iter()
                        .filter(|outcome| matches!(outcome, Outcome::Recorded { .. }))
                        .count();
                    assert_eq!(
                        recorded,
                        next as usize,
                        "every rating recorded: {:?}",
                        outcomes.last()
                    );
                }
                (recorded, latencies)
            }));
        }
    }
    let mut recorded = 0;
    let mut latencies = Vec::new();
    for handle in handles {
        let (count, mut times) = handle.join().unwrap();
        recorded += count;
        latencies.append(&mut times);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Rate {
        per_second: recorded as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

fn describe(sync: Sync) -> &'static str {
    match sync {
        Sync::EveryWrite => "fsync",
        Sync::Periodic => "periodic sync",
    }
}

fn fresh(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn row(what: &str, rate: &Rate, baseline: Option<&Rate>) {
    let ratio = baseline.map_or(String::new(), |baseline| {
        format!("{:.2}×", rate.per_second / baseline.per_second)
    });
    println!(
        "{what:<62} {:>10.0} {:>9.1} {:>9.1} {:>9}",
        rate.per_second, rate.p50_ms, rate.p99_ms, ratio
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cluster");
    std::fs::create_dir_all(&root).unwrap();
    println!(
        "cluster benchmark: {} s per measurement, stores in {}",
        seconds(),
        root.display()
    );

    let sled_store = open(&fresh(&root, "sled-single"), None);
    let sled_single = drive(&[sled_store], 64, 1);
    let sled_store = open(&fresh(&root, "sled-batched"), None);
    let sled_batched = drive(&[sled_store], 4, 500);

    let mut shared = Vec::new();
    for (replicas, sync) in [
        (1, Sync::EveryWrite),
        (3, Sync::EveryWrite),
        (1, Sync::Periodic),
        (3, Sync::Periodic),
    ] {
        let label = format!(
            "r{replicas}-{}",
            if sync == Sync::EveryWrite {
                "fsync"
            } else {
                "periodic"
            }
        );
        let servers =
            NatsServers::start_with(replicas, &fresh(&root, &format!("nats-{label}")), sync)
                .unwrap();
        let single_partition = format!("{label}-single");
        let store = open(
            &fresh(&root, &single_partition),
            Some((&servers, replicas, &single_partition)),
        );
        let single = drive(&[store], 64, 1);
        let batched_partition = format!("{label}-batched");
        let store = open(
            &fresh(&root, &batched_partition),
            Some((&servers, replicas, &batched_partition)),
        );
        let batched = drive(&[store], 4, 500);
        shared.push((replicas, sync, single, batched));
    }

    let three = NatsServers::start(3, &fresh(&root, "nats-nodes")).unwrap();
    let nodes: Vec<Store> = (1..=3)
        .map(|node| {
            let partition = format!("node{node}");
            open(
                &fresh(&root, &partition),
                Some((&three, 3, partition.as_str())),
            )
        })
        .collect();
    let one_node = drive(&nodes[..1], 64, 1);
    let three_nodes = drive(&nodes, 64, 1);
    drop(nodes);
    drop(three);

    println!();
    println!(
        "{:<62} {:>10} {:>9} {:>9} {:>9}",
        "ratings recorded durably", "per s", "p50 ms", "p99 ms", "/ sled"
    );
    row(
        "embedded sled log, 1 per request, 64 writers",
        &sled_single,
        None,
    );
    for (replicas, sync, single, _) in &shared {
        let what = format!(
            "JetStream R{replicas} ({}), 1 per request, 64 writers",
            describe(*sync)
        );
        row(&what, single, Some(&sled_single));
    }
    row(
        "embedded sled log, 500 per request, 4 writers",
        &sled_batched,
        None,
    );
    for (replicas, sync, _, batched) in &shared {
        let what = format!(
            "JetStream R{replicas} ({}), 500 per request, 4 writers",
            describe(*sync)
        );
        row(&what, batched, Some(&sled_batched));
    }
    row(
        "R3 (fsync), 1 node (1 partition), 64 writers",
        &one_node,
        None,
    );
    row(
        "R3 (fsync), 3 nodes (3 partitions), 64 writers each",
        &three_nodes,
        Some(&one_node),
    );
    println!(
        "\n(all on this machine's {} cores: the nats-servers, the nodes and the writers share them)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
}
