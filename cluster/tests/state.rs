//! The partition's shared records on a real three-server cluster (the clustered bucket answers
//! a failed expectation differently from a single server): compare-and-swap between two
//! nodes, removal, keys by prefix, and partitions kept apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use hcp_cluster::servers::NatsServers;
use hcp_cluster::{JournalConfig, SharedLog};
use hcp_core::store::SharedState;

/// A node's log of `partition`, connected once the new cluster answers.
fn connect(servers: &NatsServers, partition: &str) -> SharedLog {
    let began = Instant::now();
    loop {
        match SharedLog::connect(JournalConfig::new(servers.urls(), 3), partition) {
            Ok(log) => return log,
            Err(error) if began.elapsed() < Duration::from_secs(30) => {
                eprintln!("not yet: {error}");
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(error) => panic!("{error}"),
        }
    }
}

#[test]
fn two_nodes_swap_remove_and_list_the_records_of_their_partition_only() {
    let dir = tempfile::tempdir().unwrap();
    let servers = NatsServers::start(3, dir.path()).unwrap();
    let (log_a, log_b, log_other) = (
        connect(&servers, "410400"),
        connect(&servers, "410400"),
        connect(&servers, "410500"),
    );
    let age = Duration::from_secs(3600);
    let (a, b, other) = (
        log_a.state(age).unwrap(),
        log_b.state(age).unwrap(),
        log_other.state(age).unwrap(),
    );

    // Created once: the second node to create loses.
    let first = a.swap("lockout.61", b"1", 0).unwrap().expect("created");
    assert_eq!(b.swap("lockout.61", b"1", 0).unwrap(), None);
    assert_eq!(b.get("lockout.61").unwrap(), Some((b"1".to_vec(), first)));
    // Updated at the revision read; a node that read before loses and reads again.
    let second = b.swap("lockout.61", b"2", first).unwrap().expect("updated");
    assert_eq!(a.swap("lockout.61", b"2", first).unwrap(), None);
    assert!(a.swap("lockout.61", b"3", second).unwrap().is_some());
    assert_eq!(a.get("lockout.61").unwrap().unwrap().0, b"3".to_vec());

    a.put("session.aa", b"{}").unwrap();
    a.put("session.bb", b"{}").unwrap();
    other.put("session.cc", b"{}").unwrap();
    let mut keys = b.keys("session.").unwrap();
    keys.sort();
    assert_eq!(keys, ["session.aa", "session.bb"]);
    assert_eq!(other.keys("session.").unwrap(), ["session.cc"]);
    assert_eq!(other.get("lockout.61").unwrap(), None);

    // Removed on one node, gone on the other; created again from nothing.
    assert!(b.remove("session.aa").unwrap());
    assert!(!a.remove("session.aa").unwrap());
    assert_eq!(a.get("session.aa").unwrap(), None);
    assert_eq!(a.keys("session.").unwrap(), ["session.bb"]);
    assert!(a.swap("session.aa", b"{}", 0).unwrap().is_some());
}
