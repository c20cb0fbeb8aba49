//! Leases on background work on a real nats-server: one node holds a worker's lease while it
//! renews it; when it stops (killed, cut off) it lets go by itself before the servers expire
//! its entry, and only then does another node take the lease over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use hcp_cluster::lease::Leases;
use hcp_cluster::servers::NatsServers;
use hcp_cluster::{Journal, JournalConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_runs_a_worker_and_another_takes_over_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let servers = NatsServers::start(1, dir.path()).unwrap();
    let journal = Journal::connect(JournalConfig::new(servers.urls(), 1))
        .await
        .unwrap();
    let ttl = Duration::from_secs(2);
    let a = Leases::open(&journal, "410400", "node-a", ttl)
        .await
        .unwrap();
    let b = Leases::open(&journal, "410400", "node-b", ttl)
        .await
        .unwrap();

    assert!(a.tick("sweep").await);
    assert!(!b.tick("sweep").await);
    assert!(a.holds("sweep") && !b.holds("sweep"));
    assert_eq!(b.holder("sweep").await.unwrap().as_deref(), Some("node-a"));
    // Renewed, it stays with its holder well past its time to live.
    for _ in 0..6 {
        tokio::time::sleep(ttl / 3).await;
        assert!(a.tick("sweep").await);
        assert!(!b.tick("sweep").await);
    }

    // A stops renewing, as a killed node does. B takes the lease once the servers expire A's
    // entry, and by then A no longer counts itself the holder: never two at once.
    let stopped = Instant::now();
    while !b.tick("sweep").await {
        assert!(stopped.elapsed() < ttl * 10, "the lease never moved");
        assert!(
            !(a.holds("sweep") && b.holds("sweep")),
            "two holders at once"
        );
        tokio::time::sleep(ttl / 10).await;
    }
    assert!(!a.holds("sweep"), "A let go before B took over");
    assert!(b.holds("sweep"));
    assert!(
        !a.tick("sweep").await,
        "A cannot take it back while B renews"
    );
    eprintln!(
        "the lease moved {} ms after its holder stopped renewing (time to live {} ms)",
        stopped.elapsed().as_millis(),
        ttl.as_millis()
    );

    // Each worker and each partition is a lease of its own.
    assert!(a.tick("uplink").await);
    let other_partition = Leases::open(&journal, "410300", "node-a", ttl)
        .await
        .unwrap();
    assert!(other_partition.tick("sweep").await);

    // A clean stop hands the lease over at once.
    b.release("sweep").await;
    assert!(!b.holds("sweep"));
    assert!(a.tick("sweep").await);
}
