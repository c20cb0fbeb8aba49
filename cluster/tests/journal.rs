//! The event log on real nats-server processes (installed by `cluster/nats-server.sh`): one
//! node, and a three-node cluster that loses its stream leader under load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use hcp_cluster::servers::NatsServers;
use hcp_cluster::{Journal, JournalConfig, JournalError, LogBlock};

/// Connects, waiting for a new cluster to elect its JetStream leaders.
async fn connect(servers: &NatsServers, replicas: usize) -> Journal {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match Journal::connect(JournalConfig::new(servers.urls(), replicas)).await {
            Ok(journal) => return journal,
            Err(error) if Instant::now() < deadline => {
                eprintln!("waiting for the cluster: {error}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => panic!("the cluster did not come up: {error}"),
        }
    }
}

fn block(partition: &str, first_seq: u64, entries: &[&str]) -> LogBlock {
    LogBlock::new(
        partition,
        first_seq,
        entries
            .iter()
            .map(|entry| Bytes::copy_from_slice(entry.as_bytes()))
            .collect(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_appends_reads_back_and_refuses_a_stale_writer() {
    let dir = tempfile::tempdir().unwrap();
    let servers = NatsServers::start(1, dir.path()).unwrap();
    let journal = connect(&servers, 1).await;

    assert_eq!(journal.head("410400").await.unwrap(), None);
    let first = block("410400", 1, &["\x01one", "\x01two", "{\"json\":3}"]);
    let appended = journal.append(&first, 0).await.unwrap();
    assert!(!appended.duplicate);
    let head = journal.head("410400").await.unwrap().unwrap();
    assert_eq!(
        (
            head.stream_seq,
            head.first_seq,
            head.entries,
            head.last_seq()
        ),
        (appended.stream_seq, 1, 3, 3)
    );

    // The same block again (an acknowledgement that was lost): stored once.
    let again = journal.append(&first, 0).await.unwrap();
    assert_eq!(again.stream_seq, appended.stream_seq);
    assert!(again.duplicate);

    // A writer that did not see the first block: refused, told where the partition is.
    let stale = block("410400", 1, &["\x01another one"]);
    match journal.append(&stale, 0).await {
        Err(JournalError::Conflict { expected, head, .. }) => {
            assert_eq!(expected, 0);
            assert_eq!(head.unwrap().stream_seq, appended.stream_seq);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    let second = block("410400", 4, &["\x01four"]);
    let second_at = journal
        .append(&second, appended.stream_seq)
        .await
        .unwrap()
        .stream_seq;
    // Another partition does not wait for this one, nor see its blocks.
    let county = block("410421", 1, &["\x01county"]);
    journal.append(&county, 0).await.unwrap();

    let read = journal.blocks_after("410400", 0, 10).await.unwrap();
    assert_eq!(
        read.iter()
            .map(|stored| (stored.stream_seq, stored.block.clone()))
            .collect::<Vec<_>>(),
        vec![(appended.stream_seq, first), (second_at, second)]
    );
    let read = journal.blocks_after("410421", 0, 10).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].block, county);
    assert!(
        journal
            .blocks_after("410400", second_at, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Too large for the log: refused before it is sent, with what to do.
    let big = LogBlock::new("410400", 5, vec![Bytes::from(vec![0u8; 9 * 1024 * 1024])]).unwrap();
    let error = journal.append(&big, second_at).await.unwrap_err();
    assert!(
        matches!(error, JournalError::Refused(_)) && error.to_string().contains("max_batch"),
        "{error}"
    );
    assert!(matches!(
        journal.head("410.400").await,
        Err(JournalError::Block(_))
    ));
}

/// Two nodes writing the same partition at once: each append either lands right after the
/// block its writer saw or is refused, so the sequence numbers never fork or skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_of_one_partition_never_fork_it() {
    let dir = tempfile::tempdir().unwrap();
    let servers = NatsServers::start(1, dir.path()).unwrap();
    let journal = connect(&servers, 1).await;
    const BLOCKS: usize = 40;

    let writer = |name: &'static str, journal: Journal| async move {
        let mut conflicts = 0;
        let mut appended = 0;
        while appended < BLOCKS {
            let head = journal.head("410400").await.unwrap();
            let (after, next) = head.map_or((0, 1), |head| (head.stream_seq, head.last_seq() + 1));
            let entries = (0..(1 + appended % 3))
                .map(|i| Bytes::from(format!("{name} block {appended} entry {i}")))
                .collect();
            let block = LogBlock::new("410400", next, entries).unwrap();
            match journal.append(&block, after).await {
                Ok(_) => appended += 1,
                Err(JournalError::Conflict { .. }) => conflicts += 1,
                Err(error) => panic!("{name}: {error}"),
            }
        }
        conflicts
    };
    let a = tokio::spawn(writer("a", journal.clone()));
    let b = tokio::spawn(writer("b", journal.clone()));
    let conflicts = a.await.unwrap() + b.await.unwrap();

    let blocks = journal.blocks_after("410400", 0, 1000).await.unwrap();
    assert_eq!(blocks.len(), 2 * BLOCKS);
    let mut next = 1;
    for stored in &blocks {
        assert_eq!(
            stored.block.first_seq, next,
            "the sequence forked or skipped"
        );
        next = stored.block.last_seq() + 1;
    }
    for name in ["a", "b"] {
        let theirs = blocks
            .iter()
            .filter(|stored| stored.block.entries[0].starts_with(name.as_bytes()))
            .count();
        assert_eq!(theirs, BLOCKS, "writer {name}");
    }
    eprintln!(
        "{} blocks, {conflicts} conflicts resolved by catching up",
        blocks.len()
    );
}

/// A three-node cluster, the log replicated on all three: the stream's leader is killed
/// (SIGKILL) while a writer appends. Appends wait while a new leader is elected, the writer
/// retries the same block, and afterwards the log holds every acknowledged block exactly once,
/// in order, on the restarted cluster too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_log_keeps_every_acknowledged_block_when_its_leader_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = NatsServers::start(3, dir.path()).unwrap();
    let journal = connect(&servers, 3).await;
    const BLOCKS: u64 = 60;

    let mut acknowledged = Vec::new();
    let mut retries = 0;
    let mut killed = None;
    let (mut after, mut next) = (0, 1);
    let deadline = Instant::now() + Duration::from_secs(120);
    while (acknowledged.len() as u64) < BLOCKS {
        assert!(Instant::now() < deadline, "the log did not recover");
        if acknowledged.len() == 20 && killed.is_none() {
            let leader = journal.leader().await.unwrap().expect("a leader");
            let index = servers.index_of(&leader).unwrap();
            servers.kill(index).unwrap();
            eprintln!("killed the stream leader {leader}");
            killed = Some(index);
        }
        let block = block(
            "410400",
            next,
            &[&format!("block {next} a"), &format!("block {next} b")],
        );
        // The same block until it is acknowledged: a lost acknowledgement must not store it
        // twice, a lost append must not skip it.
        loop {
            match journal.append(&block, after).await {
                Ok(appended) => {
                    after = appended.stream_seq;
                    next = block.last_seq() + 1;
                    acknowledged.push(block.clone());
                    break;
                }
                Err(JournalError::Unavailable(error)) => {
                    retries += 1;
                    assert!(Instant::now() < deadline, "no new leader: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("append {}: {error}", block.first_seq),
            }
        }
    }
    let killed = killed.unwrap();
    servers.restart(killed).unwrap();

    let journal = connect(&servers, 3).await;
    let stored: Vec<LogBlock> = journal
        .blocks_after("410400", 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| stored.block)
        .collect();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged block, once, in order"
    );
    eprintln!(
        "{} blocks acknowledged, {retries} appends retried while a new leader was elected",
        acknowledged.len()
    );
}
