//! Stores of several nodes sharing one partition's log on real nats-server processes: each
//! appends its batches to the stream before it commits them, the others catch up, and every
//! node ends with the same state, byte for byte, as a node rebuilt from the stream alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use hcp_cluster::servers::NatsServers;
use hcp_cluster::{JournalConfig, SharedLog};
use hcp_core::auth::Source;
use hcp_core::clock::ManualClock;
use hcp_core::model::{
    Channel, EvaluatorInput, Level, OrgKind, OrgUnit, RatingInput, ServiceItem, Staff,
};
use hcp_core::pii::PiiKey;
use hcp_core::store::chain::Verification;
use hcp_core::store::{Command, MasterChange, Outcome, Store, StoreError, StoreOptions};
use hcp_core::validate::credit_check_char;

const CITY: &str = "410400";
const COUNTY: &str = "410421";
const HALL: &str = "H410421";
const WINDOW: &str = "W410421-01";
const STAFF: &str = "S410421-0001";
const ITEM: &str = "T-000101";
const SOURCE: &str = "county-hall";

fn department() -> String {
    let first17 = "11410421MB0000001";
    format!("{first17}{}", credit_check_char(first17).unwrap())
}

fn unit(id: &str, kind: OrgKind, parent: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: format!("{kind:?} {id}"),
        parent: parent.map(String::from),
        department: None,
        has_device: false,
        has_qr_code: false,
    }
}

fn master_data() -> Vec<Command> {
    [
        MasterChange::OrgUnit(unit(CITY, OrgKind::City, None)),
        MasterChange::OrgUnit(unit(COUNTY, OrgKind::County, Some(CITY))),
        MasterChange::OrgUnit(unit(&department(), OrgKind::Department, Some(COUNTY))),
        MasterChange::OrgUnit(unit(HALL, OrgKind::Hall, Some(COUNTY))),
        MasterChange::OrgUnit(OrgUnit {
            department: Some(department()),
            has_qr_code: true,
            ..unit(WINDOW, OrgKind::Window, Some(HALL))
        }),
        MasterChange::Staff(Staff {
            id: STAFF.into(),
            name: "王芳".into(),
            department: department(),
            window: Some(WINDOW.into()),
        }),
        MasterChange::Item(ServiceItem {
            task_code: ITEM.into(),
            name: "食品经营许可".into(),
            department: department(),
            task_type: "行政许可".into(),
        }),
        MasterChange::Source(Source {
            id: SOURCE.into(),
            name: SOURCE.into(),
            adapter: "canonical".into(),
            scope: CITY.into(),
            key_hash: String::new(),
            disabled: false,
            kind: Default::default(),
            expected: false,
        }),
    ]
    .into_iter()
    .map(|change| Command::Master {
        actor: "admin".into(),
        change,
    })
    .collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 2, 0, 0).unwrap()
}

fn rating(event: &str, project: u32) -> Command {
    let level = if project.is_multiple_of(7) {
        Level::Dissatisfied
    } else {
        Level::Satisfied
    };
    Command::Rating {
        source: SOURCE.into(),
        input: RatingInput {
            event_id: event.into(),
            project_no: format!("4104212026120400{project:04}"),
            service_number: 1,
            assess_number: 1,
            task_code: ITEM.into(),
            department: department(),
            area_code: COUNTY.into(),
            service_name: Some("受理".into()),
            window: Some(WINDOW.into()),
            staff: Some(STAFF.into()),
            device: None,
            level,
            channel: Channel::QrCode,
            indicators: if level.is_bad() {
                vec!["510".into()]
            } else {
                Vec::new()
            },
            text: None,
            evaluator: EvaluatorInput::default(),
            rated_at: now() - chrono::Duration::minutes(5),
        },
    }
}

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
