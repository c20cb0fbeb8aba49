//! Hall devices in the store: ratings that inherit their device's window, the minimum interval
//! between presses per model, heartbeats and the reconciliation that detects lost uploads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hcp_core::auth::Source;
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::model::{
    Channel, Device, DeviceModel, EvaluatorInput, HeartbeatInput, Level, OrgKind, OrgUnit,
    RatingInput, ServiceItem,
};
use hcp_core::pii::PiiKey;
use hcp_core::store::{Command, Dim, MasterChange, Outcome, Store, StoreOptions};
use hcp_core::validate::credit_check_char;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

fn unit(id: &str, kind: OrgKind, parent: Option<&str>, department: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: id.into(),
        parent: parent.map(String::from),
        department: department.map(String::from),
        has_device: kind == OrgKind::Window,
        has_qr_code: false,
    }
}

struct Fixture {
    store: Store,
    clock: Arc<ManualClock>,
    department: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(start()));
        let shared: Arc<dyn Clock> = clock.clone();
        let store = Store::open(
            dir.path(),
            PiiKey::from_bytes([3; 32]),
            shared,
            StoreOptions::default(),
        )
        .unwrap();
        let body = "11410421MB0000001";
        let department = format!("{body}{}", credit_check_char(body).unwrap());
        let master = vec![
            MasterChange::OrgUnit(unit("410400", OrgKind::City, None, None)),
            MasterChange::OrgUnit(unit("410421", OrgKind::County, Some("410400"), None)),
            MasterChange::OrgUnit(unit(&department, OrgKind::Department, Some("410421"), None)),
            MasterChange::OrgUnit(unit("H1", OrgKind::Hall, Some("410421"), None)),
            MasterChange::OrgUnit(unit("W1", OrgKind::Window, Some("H1"), Some(&department))),
            MasterChange::Item(ServiceItem {
                task_code: "T1".into(),
                name: "企业设立登记".into(),
                department: department.clone(),
                task_type: "行政许可".into(),
            }),
            MasterChange::DeviceModel(DeviceModel {
                model: "HX-PJ200".into(),
                vendor: "华信智能".into(),
                min_press_interval_secs: 5,
            }),
            MasterChange::Device(Device {
                id: "D1".into(),
                model: "HX-PJ200".into(),
                window: "W1".into(),
            }),
            MasterChange::Source(Source {
                id: "devices".into(),
                name: "devices".into(),
                adapter: "hx-pj200".into(),
                scope: "410421".into(),
                key_hash: String::new(),
                disabled: false,
                kind: Default::default(),
                expected: false,
            }),
        ];
        for outcome in store
            .submit(
                master
                    .into_iter()
                    .map(|change| Command::Master {
                        actor: "test".into(),
                        change,
                    })
                    .collect(),
            )
            .unwrap()
        {
            assert!(matches!(outcome, Outcome::Recorded { .. }), "{outcome:?}");
        }
        Fixture {
            store,
            clock,
            department,
            _dir: dir,
        }
    }

    /// A device rating as an adapter decodes it: no department, area or window.
    fn rate(&self, sequence: u32, rated_at: DateTime<Utc>) -> Outcome {
        let input = RatingInput {
            event_id: format!("D1-{sequence}"),
            project_no: format!("P{sequence}"),
            service_number: 1,
            assess_number: 1,
            task_code: "T1".into(),
            department: String::new(),
            area_code: String::new(),
            service_name: None,
            window: None,
            staff: None,
            device: Some("D1".into()),
            level: Level::VerySatisfied,
            channel: Channel::HallDevice,
            indicators: Vec::new(),
            text: None,
            evaluator: EvaluatorInput::default(),
            rated_at,
        };
        self.store
            .submit_one(Command::Rating {
                source: "devices".into(),
                input,
            })
            .unwrap()
    }

    fn heartbeat(&self, sequence: u64, ratings_total: u64) -> Outcome {
        self.store
            .submit_one(Command::Heartbeat {
                source: "devices".into(),
                input: HeartbeatInput {
                    device: "D1".into(),
                    sent_at: self.clock.now(),
                    sequence,
                    ratings_total,
                    firmware: Some("2.1.0".into()),
                },
            })
            .unwrap()
    }
}

#[test]
fn a_device_rating_takes_its_windows_department_and_area() {
    let fixture = Fixture::new();
    let Outcome::Recorded { seq } = fixture.rate(1, start()) else {
        panic!("not recorded")
    };
    let rating = fixture.store.rating(seq).unwrap().unwrap();
    assert_eq!(rating.area_code, "410421");
    assert_eq!(rating.attribution.department, fixture.department);
    assert_eq!(rating.attribution.window.as_deref(), Some("W1"));
    assert_eq!(rating.attribution.hall.as_deref(), Some("H1"));
    assert!(fixture.store.within(Dim::Window, "W1", "410400").unwrap());
    // A streak of top ratings is counted per device, for the integrity rules.
    fixture.rate(2, start() + Duration::minutes(1));
    assert_eq!(fixture.store.device_state("D1").unwrap().top_streak, 2);
}

#[test]
fn presses_closer_than_the_models_interval_are_refused() {
    let fixture = Fixture::new();
    let cases = [
        // (sequence, seconds after start, refused?)
        (1, 0, false),
        (2, 3, true),
        (3, 5, false),
        (4, 9, true),
        (5, 60, false),
        // An older rating arriving late is not a double press of the newest one.
        (6, 30, false),
    ];
    for (sequence, seconds, refused) in cases {
        let outcome = fixture.rate(sequence, start() + Duration::seconds(seconds));
        match (&outcome, refused) {
            (Outcome::Rejected(error), true) => assert_eq!(error.code(), "too_soon", "{error}"),
            (Outcome::Recorded { .. }, false) => {}
            _ => panic!("press {sequence} at +{seconds}s: {outcome:?}"),
        }
    }
}

#[test]
fn heartbeats_reconcile_counters_and_reveal_lost_uploads() {
    let fixture = Fixture::new();
    // The device had counted 100 ratings before it was connected; three arrive.
    for sequence in 1..=3 {
        assert!(matches!(
            fixture.rate(sequence, start() + Duration::minutes(i64::from(sequence))),
            Outcome::Recorded { .. }
        ));
    }
    assert!(matches!(
        fixture.heartbeat(1, 103),
        Outcome::Recorded { .. }
    ));
    let state = fixture.store.device_state("D1").unwrap();
    assert_eq!(
        (state.ratings_stored, state.baseline, state.missing()),
        (3, Some(100), 0)
    );
    assert_eq!(state.firmware.as_deref(), Some("2.1.0"));
    // The same heartbeat again is stored once.
    assert!(matches!(
        fixture.heartbeat(1, 103),
        Outcome::Duplicate { .. }
    ));
    // Two more presses counted by the device, one upload lost.
    assert!(matches!(
        fixture.rate(4, start() + Duration::minutes(10)),
        Outcome::Recorded { .. }
    ));
    fixture.clock.advance(Duration::minutes(20));
    assert!(matches!(
        fixture.heartbeat(2, 105),
        Outcome::Recorded { .. }
    ));
    let state = fixture.store.device_state("D1").unwrap();
    assert_eq!(
        (
            state.ratings_reported,
            state.ratings_stored,
            state.missing()
        ),
        (105, 4, 1)
    );
    assert_eq!(state.last_sequence, Some(2));
    // A board replaced: the counter restarts, the platform counts from there.
    assert!(matches!(fixture.heartbeat(3, 2), Outcome::Recorded { .. }));
    let state = fixture.store.device_state("D1").unwrap();
    assert_eq!(state.missing(), 0);
    // Heartbeats of unknown devices are refused with the reason.
    let outcome = fixture
        .store
        .submit_one(Command::Heartbeat {
            source: "devices".into(),
            input: HeartbeatInput {
                device: "D9".into(),
                sent_at: fixture.clock.now(),
                sequence: 1,
                ratings_total: 1,
                firmware: None,
            },
        })
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Rejected(ref error) if error.code() == "unknown_reference"),
        "{outcome:?}"
    );
}

#[test]
fn device_state_survives_a_rebuild() {
    let fixture = Fixture::new();
    fixture.rate(1, start());
    fixture.heartbeat(1, 10);
    let before = fixture.store.device_state("D1").unwrap();
    fixture.store.rebuild().unwrap();
    assert_eq!(fixture.store.device_state("D1").unwrap(), before);
}
