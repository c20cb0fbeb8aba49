//! Stores of several nodes sharing one partition's log on real nats-server processes: each
//! appends its batches to the stream before it commits them, the others catch up, and every
//! node ends with the same state, byte for byte, as a node rebuilt from the stream alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcp_cluster::servers::NatsServers;
use hcp_cluster::{JournalConfig, SharedLog};
use hcp_core::clock::ManualClock;
use hcp_core::pii::PiiKey;
use hcp_core::store::chain::Verification;
use hcp_core::store::{Command, Outcome, Store, StoreError, StoreOptions};
use support::{COUNTY, master_data, now, rating};

mod support;

fn open(dir: &Path, servers: &NatsServers, replicas: usize) -> Store {
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        match SharedLog::connect(JournalConfig::new(servers.urls(), replicas), COUNTY) {
            Ok(log) => break log,
            Err(error) if Instant::now() < deadline => {
                eprintln!("waiting for the cluster: {error}");
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(error) => panic!("the cluster did not come up: {error}"),
        }
    };
    Store::open_with_journal(
        dir,
        PiiKey::from_bytes([7; 32]),
        Arc::new(ManualClock::new(now())),
        StoreOptions::default(),
        Some(Arc::new(log)),
    )
    .unwrap()
}

fn recorded(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::Recorded { .. }))
        .count()
}

fn assert_same(a: &Store, b: &Store, what: &str) {
    let (a, b) = (a.projection_dump().unwrap(), b.projection_dump().unwrap());
    assert_eq!(a.len(), b.len(), "{what}: keys");
    for (left, right) in a.iter().zip(&b) {
        assert_eq!(left, right, "{what}: tree {} differs", left.0);
    }
}

#[test]
fn nodes_sharing_a_partition_converge_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let servers = NatsServers::start(1, &dir.path().join("nats")).unwrap();

    let a = open(&dir.path().join("a"), &servers, 1);
    let outcomes = a.submit(master_data()).unwrap();
    assert_eq!(recorded(&outcomes), outcomes.len());
    let ratings: Vec<Command> = (0..30).map(|i| rating(&format!("a-{i}"), i)).collect();
    let outcomes = a.submit(ratings).unwrap();
    assert_eq!(recorded(&outcomes), 30, "{outcomes:?}");

    // A new node catches up from the stream when it opens.
    let b = open(&dir.path().join("b"), &servers, 1);
    assert_same(&a, &b, "a new node after its catch-up");

    // Both write: b is current; a is not, so its append is refused, it projects b's entries
    // and decides its batch again. A rating sent to both is recorded once.
    let from_b: Vec<Command> = (30..40)
        .map(|i| rating(&format!("b-{i}"), i))
        .chain([rating("both", 99)])
        .collect();
    assert_eq!(recorded(&b.submit(from_b).unwrap()), 11);
    let from_a: Vec<Command> = (40..50)
        .map(|i| rating(&format!("a-{i}"), i))
        .chain([rating("both", 99)])
        .collect();
    let outcomes = a.submit(from_a).unwrap();
    assert_eq!(recorded(&outcomes), 10);
    assert!(
        matches!(outcomes[10], Outcome::Duplicate { .. }),
        "{outcomes:?}"
    );
    b.catch_up().unwrap();
    assert_same(&a, &b, "two writers after catching up");
    assert_eq!(a.rating_count(), 51);
    for store in [&a, &b] {
        assert!(matches!(
            store.verify_chain().unwrap(),
            Verification::Intact { .. }
        ));
    }

    // A node rebuilt from the stream alone.
    let c = open(&dir.path().join("c"), &servers, 1);
    assert_same(&a, &c, "a node rebuilt from the stream");
}

/// The stream on three servers: its leader is killed (SIGKILL) while a node writes. Batches
/// that get no acknowledgement fail (503 to their senders) and are sent again; afterwards every
/// acknowledged rating is present exactly once on every node.
#[test]
fn a_node_loses_no_acknowledged_rating_when_the_stream_leader_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = NatsServers::start(3, &dir.path().join("nats")).unwrap();
    let a = open(&dir.path().join("a"), &servers, 3);
    a.submit(master_data()).unwrap();

    let probe = SharedLog::connect(JournalConfig::new(servers.urls(), 3), COUNTY).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut acknowledged = 0;
    let mut failed_batches = 0;
    let mut killed = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    for batch in 0..30u32 {
        if batch == 10 {
            let leader = runtime
                .block_on(probe.journal().leader())
                .unwrap()
                .expect("a leader");
            servers.kill(servers.index_of(&leader).unwrap()).unwrap();
            eprintln!("killed the stream leader {leader}");
            killed = true;
        }
        let commands: Vec<Command> = (0..20)
            .map(|i| rating(&format!("r-{batch}-{i}"), batch * 20 + i))
            .collect();
        // As an HTTP sender does on a 503: the same ratings again until acknowledged.
        loop {
            match a.submit(commands.clone()) {
                Ok(outcomes) => {
                    acknowledged += outcomes
                        .iter()
                        .filter(|outcome| {
                            matches!(
                                outcome,
                                Outcome::Recorded { .. } | Outcome::Duplicate { .. }
                            )
                        })
                        .count();
                    break;
                }
                Err(StoreError::Batch(error)) => {
                    failed_batches += 1;
                    assert!(Instant::now() < deadline, "no recovery: {error}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => panic!("{error}"),
            }
        }
    }
    assert!(killed);
    assert_eq!(acknowledged, 600);
    assert_eq!(
        a.rating_count(),
        600,
        "each acknowledged rating exactly once"
    );

    let b = open(&dir.path().join("b"), &servers, 3);
    assert_same(&a, &b, "a new node after the leader's loss");
    eprintln!("600 ratings acknowledged, {failed_batches} batches retried by their sender");
    drop(probe);
    runtime.shutdown_background();
}
