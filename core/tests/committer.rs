//! The committer's end is known (issue 12): a committer that panics leaves the store refusing
//! every write with `Closed`, says why through `committer_status` and `CommitterWatch::wait`
//! (which the server turns into a 503 on `/readyz` and the end of the process), and leaves
//! nothing of its failed batch behind; a store closed on purpose says so instead. Real sled files
//! in a temporary folder on a manual clock. The panic comes from the one piece of code the
//! committer runs that the store does not own, the decider: a decider written here that panics
//! on one event stands in for a bug there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use hcp_core::auth::Source;
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::event::PolicyDecision;
use hcp_core::model::{
    Channel, EvaluatorInput, Level, OrgKind, OrgUnit, Rating, RatingFacts, RatingInput, ServiceItem,
};
use hcp_core::pii::PiiKey;
use hcp_core::store::{
    Command, CommitterStatus, Decider, EventLog, MasterChange, Outcome, Store, StoreError,
    StoreOptions,
};
use hcp_core::validate::credit_check_char;

const COUNTY: &str = "410421";

fn department() -> String {
    let first17 = "11410421MB0000001";
    format!("{first17}{}", credit_check_char(first17).unwrap())
}

/// Decides nothing, and panics on the rating with event id `boom`.
struct PanicsOnBoom;

impl Decider for PanicsOnBoom {
    fn decide(
        &self,
        rating: &Rating,
        _comment: Option<&str>,
        _facts: &RatingFacts,
    ) -> Vec<PolicyDecision> {
        if rating.event_id == "boom" {
            panic!("a decider bug");
        }
        Vec::new()
    }
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap()
}

fn open(dir: &std::path::Path) -> Store {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at()));
    let store = Store::open(
        dir,
        PiiKey::from_bytes([3; 32]),
        clock,
        StoreOptions {
            cache_bytes: 8 * 1024 * 1024,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    store.set_decider(Arc::new(PanicsOnBoom));
    store
}

fn unit(id: &str, kind: OrgKind, parent: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: id.into(),
        parent: parent.map(String::from),
        department: None,
        has_device: false,
        has_qr_code: false,
    }
}

fn seed(store: &Store) {
    let changes = vec![
        MasterChange::OrgUnit(unit("410400", OrgKind::City, None)),
        MasterChange::OrgUnit(unit(COUNTY, OrgKind::County, Some("410400"))),
        MasterChange::OrgUnit(unit(&department(), OrgKind::Department, Some(COUNTY))),
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
        let outcome = store
            .submit_one(Command::Master {
                actor: "admin".into(),
                change,
            })
            .unwrap();
        assert!(matches!(outcome, Outcome::Recorded { .. }), "{outcome:?}");
    }
}

fn rating(event: &str) -> Command {
    Command::Rating {
        source: "s".into(),
        input: RatingInput {
            event_id: event.into(),
            project_no: format!("P-{event}"),
            service_number: 1,
            assess_number: 1,
            task_code: "T-1".into(),
            department: department(),
            area_code: COUNTY.into(),
            service_name: None,
            window: None,
            staff: None,
            device: None,
            level: Level::Satisfied,
            channel: Channel::QrCode,
            indicators: Vec::new(),
            text: None,
            evaluator: EvaluatorInput::default(),
            rated_at: at(),
        },
    }
}

#[test]
fn a_committer_that_panics_says_why_and_leaves_nothing_of_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store);
    assert!(matches!(
        store.submit_one(rating("fine")).unwrap(),
        Outcome::Recorded { .. }
    ));
    assert_eq!(store.committer_status(), CommitterStatus::Running);
    let head = store.head().unwrap();
    let watch = store.committer_watch();

    // The writer of the batch that panics is answered, not left waiting.
    let failed = store.submit_one(rating("boom"));
    assert!(matches!(failed, Err(StoreError::Closed)), "{failed:?}");
    let reason = watch.wait().expect("the committer failed");
    assert!(reason.contains("panicked: a decider bug"), "{reason}");
    assert_eq!(store.committer_status(), CommitterStatus::Failed(reason));
    // Every later write is refused at once.
    assert!(matches!(
        store.submit_one(rating("later")),
        Err(StoreError::Closed)
    ));
    assert_eq!(store.head().unwrap(), head, "nothing of the failed batch");

    // Opened again (as the restarted process does), the store takes writes.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.committer_status(), CommitterStatus::Running);
    assert_eq!(store.head().unwrap(), head);
    assert!(matches!(
        store.submit_one(rating("after-restart")).unwrap(),
        Outcome::Recorded { .. }
    ));
    store.close().unwrap();
}

#[test]
fn a_store_closed_on_purpose_is_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let watch = store.committer_watch();
    store.close().unwrap();
    assert_eq!(watch.wait(), None);
    assert_eq!(store.committer_status(), CommitterStatus::Closed);
}
