//! The uplink in the store: the log is the outbox, a batch is numbered and kept (sealed) before
//! it is sent, a reopened store finds the same batch in flight with the same bytes, the cursor
//! moves only on the province's answer, refused records are listed until replayed, the close of
//! a bad review's order becomes a rectification record, and everything the uplink keeps is a
//! projection of the log (a rebuild reproduces it byte for byte). Real sled files in a
//! temporary folder, a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hcp_core::auth::Source;
use hcp_core::calendar::local_date;
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::model::{
    ApplicantType, Channel, EvaluatorInput, Level, OrgKind, OrgUnit, RatingInput, ServiceItem,
};
use hcp_core::pii::PiiKey;
use hcp_core::store::uplink::UplinkCommand;
use hcp_core::store::{Command, LoopCommand, MasterChange, Outcome, Store, StoreOptions};
use hcp_core::uplink::{
    Attempt, CountKey, DayCount, OutboxRecord, PreparedBatch, RecordKind, Resolution, reconcile,
};
use hcp_core::validate::credit_check_char;
use hcp_core::workflow::{CallOutcome, CauseClass, Disposition, OrderChange, OrderState};

const COUNTY: &str = "410421";

fn department() -> String {
    let first17 = "11410421MB0000001";
    format!("{first17}{}", credit_check_char(first17).unwrap())
}

fn unit(id: &str, kind: OrgKind, parent: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: id.into(),
        parent: parent.map(Into::into),
        department: matches!(kind, OrgKind::Window).then(department),
        has_device: false,
        has_qr_code: false,
    }
}

fn start() -> DateTime<Utc> {
    // Tuesday 2026-03-10, 10:00 China time.
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Store {
    let clock: Arc<dyn Clock> = clock;
    Store::open(
        dir,
        PiiKey::from_bytes([7; 32]),
        clock,
        StoreOptions {
            cache_bytes: 8 * 1024 * 1024,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

fn seed(store: &Store) {
    let changes = vec![
        MasterChange::OrgUnit(unit("410400", OrgKind::City, None)),
        MasterChange::OrgUnit(unit(COUNTY, OrgKind::County, Some("410400"))),
        MasterChange::OrgUnit(unit(&department(), OrgKind::Department, Some(COUNTY))),
        MasterChange::OrgUnit(unit("H-1", OrgKind::Hall, Some(COUNTY))),
        MasterChange::OrgUnit(unit("W-1", OrgKind::Window, Some("H-1"))),
        MasterChange::Item(ServiceItem {
            task_code: "T-1".into(),
            name: "企业设立".into(),
            department: department(),
            task_type: "行政许可".into(),
        }),
        MasterChange::Source(Source {
            id: "s".into(),
            name: "s".into(),
            adapter: "canonical".into(),
            scope: COUNTY.into(),
            key_hash: String::new(),
            disabled: false,
            kind: Default::default(),
            expected: false,
        }),
    ];
    for change in changes {
        recorded(
            store
                .submit_one(Command::Master {
                    actor: "admin".into(),
                    change,
                })
                .unwrap(),
        );
    }
}

fn rating(project: &str, level: Level, channel: Channel, at: DateTime<Utc>) -> Command {
    let bad = level.is_bad();
    Command::Rating {
        source: "s".into(),
        input: RatingInput {
            event_id: format!("e-{project}"),
            project_no: project.into(),
            service_number: 1,
            assess_number: 1,
            task_code: "T-1".into(),
            department: department(),
            area_code: COUNTY.into(),
            service_name: None,
            window: Some("W-1".into()),
            staff: None,
            device: None,
            level,
            channel,
            indicators: if bad { vec!["510".into()] } else { Vec::new() },
            text: None,
            evaluator: EvaluatorInput {
                real_name: true,
                applicant_type: ApplicantType::NaturalPerson,
                name: None,
                phone: Some("13812345678".into()),
                id_number: None,
            },
            rated_at: at,
        },
    }
}

fn recorded(outcome: Outcome) -> u64 {
    match outcome {
        Outcome::Recorded { seq } => seq,
        other => panic!("expected Recorded, got {other:?}"),
    }
}

fn uplink(store: &Store, command: UplinkCommand) -> Outcome {
    store.submit_one(Command::Uplink(command)).unwrap()
}

/// The batch the shipper would prepare from a scan of the log.
fn prepare(store: &Store, number: u64, max: usize, body: &[u8]) -> (PreparedBatch, Outcome) {
    let state = store.uplink_state().unwrap();
    let mut records: Vec<_> = store
        .uplink_queue(max)
        .unwrap()
        .into_iter()
        .map(|reference| store.uplink_record(reference.id).unwrap().unwrap())
        .collect();
    let scan = store
        .uplink_scan(state.cursor, max - records.len(), 100_000)
        .unwrap();
    records.extend(scan.records);
    let batch = PreparedBatch {
        number,
        after_seq: state.cursor,
        through_seq: scan.through_seq,
        records: records.iter().map(OutboxRecord::reference).collect(),
        not_sent: Vec::new(),
        content_type: "application/json".into(),
        sealed_body: String::new(),
        body_sha256: String::new(),
        body_bytes: 0,
        adapter: "test".into(),
        adapter_version: "1.0.0".into(),
        adapter_sha256: "00".into(),
        contract: "1.1.0".into(),
    };
    let outcome = uplink(
        store,
        UplinkCommand::Prepare {
            batch: Box::new(batch.clone()),
            body: body.to_vec(),
        },
    );
    (batch, outcome)
}

fn close_order(store: &Store, order_id: u64) -> u64 {
    let steps = [
        OrderChange::Accept {
            note: String::new(),
        },
        OrderChange::Verify {
            finding: "属实".into(),
        },
        OrderChange::Dispose {
            disposition: Disposition::Immediate {
                action: "当场补办".into(),
            },
        },
        OrderChange::Feedback {
            message: "已整改".into(),
        },
        OrderChange::Callback {
            outcome: CallOutcome::Satisfied,
            note: String::new(),
            deadlines: Vec::new(),
            awaiting: Vec::new(),
        },
        OrderChange::Close {
            root_cause: CauseClass::Process,
            action_taken: "当场补办并通报窗口".into(),
        },
    ];
    let mut last = 0;
    for change in steps {
        last = recorded(
            store
                .submit_one(Command::Loop(LoopCommand::ChangeOrder {
                    actor: "handler".into(),
                    order_id,
                    change,
                    decision: None,
                }))
                .unwrap(),
        );
    }
    assert_eq!(
        store.order(order_id).unwrap().unwrap().state,
        OrderState::Closed
    );
    last
}

fn rejected_code(outcome: Outcome) -> String {
    match outcome {
        Outcome::Rejected(error) => error.code().to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_log_is_the_outbox_and_the_uplink_a_projection() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let mut store = open(dir.path(), clock.clone());
    seed(&store);
    let good = recorded(
        store
            .submit_one(rating(
                "P1",
                Level::VerySatisfied,
                Channel::HallDevice,
                start(),
            ))
            .unwrap(),
    );
    let bad = recorded(
        store
            .submit_one(rating("P2", Level::Dissatisfied, Channel::QrCode, start()))
            .unwrap(),
    );
    let default = recorded(
        store
            .submit_one(rating(
                "P3",
                Level::Satisfied,
                Channel::SystemDefault,
                start(),
            ))
            .unwrap(),
    );
    let day = local_date(start());

    // Batch 1 carries the three ratings; a second batch cannot start while it is in flight.
    let (first, outcome) = prepare(&store, 1, 100, b"{\"batchNo\":\"1\"}");
    recorded(outcome);
    let ids: Vec<u64> = first.records.iter().map(|record| record.id).collect();
    assert_eq!(ids, [good, bad, default]);
    assert_eq!(
        rejected_code(prepare(&store, 2, 100, b"x").1),
        "uplink_state"
    );
    let state = store.uplink_state().unwrap();
    assert_eq!(state.cursor, 0, "the cursor moves only on an answer");
    assert_eq!(state.last_number, 1);

    // A failed send is recorded; a restart finds the same batch with the same bytes.
    clock.advance(Duration::seconds(5));
    let retry_at = clock.now() + Duration::seconds(30);
    recorded(uplink(
        &store,
        UplinkCommand::Attempted {
            number: 1,
            attempt: Attempt {
                at: clock.now(),
                error: "connection refused".into(),
                next_at: retry_at,
            },
        },
    ));
    assert_eq!(
        rejected_code(uplink(
            &store,
            UplinkCommand::Attempted {
                number: 9,
                attempt: Attempt {
                    at: clock.now(),
                    error: "x".into(),
                    next_at: retry_at,
                },
            },
        )),
        "uplink_state"
    );
    store.close().unwrap();
    drop(store);
    store = open(dir.path(), clock.clone());
    let (flight, body) = store.uplink_in_flight().unwrap().expect("in flight");
    assert_eq!(flight.batch.number, 1);
    assert_eq!(flight.attempts, 1);
    assert_eq!(flight.next_at(), retry_at);
    assert_eq!(body, b"{\"batchNo\":\"1\"}");
    assert_eq!(
        flight.batch.body_sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            b"{\"batchNo\":\"1\"}"
        ))
    );
    assert!(!flight.batch.sealed_body.contains("batchNo"), "sealed");

    // The answer: two accepted, one refused. The cursor moves through the batch's range.
    recorded(uplink(
        &store,
        UplinkCommand::Acked {
            number: 1,
            accepted: vec![good, default],
            refused: vec![(bad, "事项编码不存在".into())],
        },
    ));
    let state = store.uplink_state().unwrap();
    assert_eq!(state.cursor, first.through_seq);
    assert!(state.in_flight.is_none());
    assert_eq!((state.records_accepted, state.records_refused), (2, 1));
    let refused = store.uplink_refused().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].record.id, bad);
    assert_eq!(refused[0].reason, "事项编码不存在");
    let summary = store.uplink_batch(1).unwrap().unwrap();
    assert_eq!(
        (summary.failures, summary.accepted, summary.refused),
        (1, 2, 1)
    );
    let counts = store.uplink_counts(day).unwrap();
    assert_eq!(counts.held.values().sum::<u64>(), 3);
    assert_eq!(counts.accepted.values().sum::<u64>(), 2);
    assert_eq!(counts.refused.values().sum::<u64>(), 1);
    let default_key = CountKey {
        kind: RecordKind::Rating,
        area_code: COUNTY.into(),
        channel: Some(Channel::SystemDefault),
        level: Some(Level::Satisfied),
    };
    assert_eq!(counts.accepted.get(&default_key), Some(&1));

    // The refused one is requeued; the bad review's order closes: the next batch carries the
    // replay first, then the rectification, whose id is the closing entry.
    assert_eq!(
        rejected_code(uplink(
            &store,
            UplinkCommand::Resolve {
                actor: "admin".into(),
                id: good,
                resolution: Resolution::Requeue,
                note: String::new(),
            },
        )),
        "unknown_reference"
    );
    recorded(uplink(
        &store,
        UplinkCommand::Resolve {
            actor: "admin".into(),
            id: bad,
            resolution: Resolution::Requeue,
            note: "省平台已登记事项".into(),
        },
    ));
    assert!(store.uplink_refused().unwrap().is_empty());
    let order = store
        .order_of_rating(bad)
        .unwrap()
        .expect("the 差评's order");
    clock.advance(Duration::hours(2));
    let closing = close_order(&store, order.id);
    let (second, outcome) = prepare(&store, 2, 100, b"{\"batchNo\":\"2\"}");
    recorded(outcome);
    let kinds: Vec<(u64, RecordKind)> = second
        .records
        .iter()
        .map(|record| (record.id, record.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (bad, RecordKind::Rating),
            (closing, RecordKind::Rectification)
        ]
    );
    assert_eq!(second.records[1].rating_id, Some(bad));
    match store.uplink_record(closing).unwrap() {
        Some(OutboxRecord::Rectification { rectification, .. }) => {
            assert_eq!(rectification.order_id, order.id);
            assert_eq!(rectification.action, "当场补办并通报窗口");
            assert_eq!(rectification.closed_at, clock.now());
        }
        other => panic!("expected a rectification, got {other:?}"),
    }
    // The province leaves one record out of its answer: it is listed, not lost.
    recorded(uplink(
        &store,
        UplinkCommand::Acked {
            number: 2,
            accepted: vec![bad],
            refused: Vec::new(),
        },
    ));
    let refused = store.uplink_refused().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].record.id, closing);
    assert_eq!(refused[0].reason, hcp_core::uplink::UNANSWERED);

    // Reconciliation: the province has what was accepted, so only the rectification differs.
    let counts = store.uplink_counts(day).unwrap();
    let province: Vec<DayCount> = counts
        .accepted
        .iter()
        .map(|(key, count)| DayCount {
            key: key.clone(),
            count: *count,
        })
        .collect();
    let result = reconcile(day, clock.now(), &counts, &province, ("test", "00"));
    assert!(!result.clean);
    assert_eq!(result.differences.len(), 1);
    assert_eq!(result.differences[0].key.kind, RecordKind::Rectification);
    assert_eq!(result.differences[0].refused, 1);
    assert_eq!(result.ratings.province, 3);
    recorded(uplink(
        &store,
        UplinkCommand::Reconciled {
            actor: "admin".into(),
            reconciliation: Box::new(result.clone()),
        },
    ));
    assert_eq!(store.uplink_reconciliation(day).unwrap(), Some(result));

    // Nothing new to send: an empty scan, and a batch without records is refused.
    let state = store.uplink_state().unwrap();
    let scan = store.uplink_scan(state.cursor, 100, 100_000).unwrap();
    assert!(scan.records.is_empty());
    assert_eq!(
        rejected_code(prepare(&store, 3, 100, b"").1),
        "uplink_state"
    );

    // Everything the uplink keeps is rebuilt from the log, byte for byte.
    let before = store.projection_dump().unwrap();
    store.rebuild().unwrap();
    assert_eq!(store.projection_dump().unwrap(), before);
}
