//! The sled store against a model written here: random workloads (ratings, service events,
//! idempotent repeats, restarts) applied both to the store and to a few `BTreeMap`s, then every
//! outcome, slot, roll-up, page and case compared. Plus restart, rebuild, group commit under
//! concurrency, the schema-version guard and the sealing of personal data. Real sled files in
//! temporary folders; only the clock is fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hcp_core::auth::Source;
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::event::{Event, SCHEMA_VERSION};
use hcp_core::model::{
    ApplicantType, CaseStatus, Channel, Device, EvaluatorInput, Level, OrgKind, OrgUnit,
    RatingInput, ServiceEventInput, ServiceItem, Staff,
};
use hcp_core::pii::{PiiKey, PiiKind};
use hcp_core::store::{
    CaseQuery, Command, Dim, EventLog, MasterChange, Outcome, RatingQuery, RollupGroup,
    RollupQuery, RollupRow, Store, StoreError, StoreOptions,
};
use hcp_core::validate::credit_check_char;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------------
// Master data

const CITY: &str = "410400";
const XINHUA: &str = "410402";
const BAOFENG: &str = "410421";
/// A well-formed region code that is never registered.
const UNKNOWN_REGION: &str = "410499";
const HALL_A: &str = "HALL-410402";
const HALL_B: &str = "HALL-410421";
const W_A1: &str = "W-A1";
const W_A2: &str = "W-A2";
const W_B1: &str = "W-B1";
const STAFF: &str = "S-001";
const ITEM: &str = "T-000101";
const DEVICE: &str = "DEV-01";
/// Size of the project-number pool of the random workload (P0, P1, …).
const PROJECTS: usize = 20;
/// Scope: the whole city.
const WIDE: &str = "city-system";
/// Scope: 新华区 only.
const NARROW: &str = "xinhua-devices";
/// Registered, then disabled.
const RETIRED: &str = "retired-kiosks";

fn credit_code(first17: &str) -> String {
    let check = credit_check_char(first17).expect("first 17 characters are valid");
    format!("{first17}{check}")
}

/// The one registered department (a valid 统一社会信用代码).
fn department() -> String {
    credit_code("11410400MB0000001")
}

/// A valid code that is never registered.
fn unknown_department() -> String {
    credit_code("11410400MB0000002")
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

fn window(id: &str, hall: &str) -> OrgUnit {
    OrgUnit {
        department: Some(department()),
        has_device: true,
        has_qr_code: true,
        ..unit(id, OrgKind::Window, Some(hall))
    }
}

fn source(id: &str, scope: &str, disabled: bool) -> Source {
    Source {
        id: id.into(),
        name: id.into(),
        adapter: "canonical".into(),
        scope: scope.into(),
        key_hash: String::new(),
        disabled,
        kind: Default::default(),
        expected: false,
    }
}

/// Parents before children, as the store requires.
fn master_data() -> Vec<MasterChange> {
    vec![
        MasterChange::OrgUnit(unit(CITY, OrgKind::City, None)),
        MasterChange::OrgUnit(unit(XINHUA, OrgKind::County, Some(CITY))),
        MasterChange::OrgUnit(unit(BAOFENG, OrgKind::County, Some(CITY))),
        MasterChange::OrgUnit(unit(&department(), OrgKind::Department, Some(CITY))),
        MasterChange::OrgUnit(unit(HALL_A, OrgKind::Hall, Some(XINHUA))),
        MasterChange::OrgUnit(unit(HALL_B, OrgKind::Hall, Some(BAOFENG))),
        MasterChange::OrgUnit(window(W_A1, HALL_A)),
        MasterChange::OrgUnit(window(W_A2, HALL_A)),
        MasterChange::OrgUnit(window(W_B1, HALL_B)),
        MasterChange::Staff(Staff {
            id: STAFF.into(),
            name: "王芳".into(),
            department: department(),
            window: Some(W_A1.into()),
        }),
        MasterChange::Item(ServiceItem {
            task_code: ITEM.into(),
            name: "食品经营许可".into(),
            department: department(),
            task_type: "行政许可".into(),
        }),
        MasterChange::Device(Device {
            id: DEVICE.into(),
            model: "PJQ-7".into(),
            window: W_A1.into(),
        }),
        MasterChange::Source(source(WIDE, CITY, false)),
        MasterChange::Source(source(NARROW, XINHUA, false)),
        MasterChange::Source(source(RETIRED, CITY, true)),
    ]
}

/// Region codes from `area` up to the root, as the model knows the tree.
fn region_chain(area: &str) -> Option<Vec<&'static str>> {
    match area {
        CITY => Some(vec![CITY]),
        XINHUA => Some(vec![XINHUA, CITY]),
        BAOFENG => Some(vec![BAOFENG, CITY]),
        _ => None,
    }
}

/// Hall and county of a window.
fn window_place(window: &str) -> Option<(&'static str, &'static str)> {
    match window {
        W_A1 | W_A2 => Some((HALL_A, XINHUA)),
        W_B1 => Some((HALL_B, BAOFENG)),
        _ => None,
    }
}

fn source_scope(source: &str) -> Option<&'static str> {
    match source {
        WIDE => Some(CITY),
        NARROW => Some(XINHUA),
        _ => None,
    }
}

/// Every unit the end-of-run comparison looks at, including one that never gets data.
fn checked_units() -> Vec<(Dim, String)> {
    [
        (Dim::Region, CITY),
        (Dim::Region, XINHUA),
        (Dim::Region, BAOFENG),
        (Dim::Region, UNKNOWN_REGION),
        (Dim::Hall, HALL_A),
        (Dim::Hall, HALL_B),
        (Dim::Window, W_A1),
        (Dim::Window, W_A2),
        (Dim::Window, W_B1),
        (Dim::Item, ITEM),
        (Dim::Staff, STAFF),
    ]
    .into_iter()
    .map(|(dim, id)| (dim, id.to_string()))
    .chain([(Dim::Department, department())])
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Harness

fn start_time() -> DateTime<Utc> {
    // 2025-06-16 10:00 China time.
    Utc.with_ymd_and_hms(2025, 6, 16, 2, 0, 0).unwrap()
}

fn from_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
}

fn to_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2099, 12, 31).unwrap()
}

fn pii_key() -> PiiKey {
    PiiKey::from_bytes([7; 32])
}

/// A store in a temporary folder with a manual clock; can be closed (or dropped) and reopened.
struct Harness {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    options: StoreOptions,
    store: Option<Store>,
}

impl Harness {
    fn empty() -> Harness {
        Harness::with_options(StoreOptions {
            cache_bytes: 8 * 1024 * 1024,
            ..StoreOptions::default()
        })
    }

    fn with_options(options: StoreOptions) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(start_time()));
        let mut harness = Harness {
            dir,
            clock,
            options,
            store: None,
        };
        harness.store = Some(harness.open().unwrap());
        harness
    }

    /// A store holding [`master_data`], each change asserted `Recorded` with seq 1, 2, ….
    fn seeded() -> Harness {
        Harness::empty().seed()
    }

    fn seed(self) -> Harness {
        let harness = self;
        let changes = master_data();
        let count = changes.len();
        let outcomes = harness
            .store()
            .submit(
                changes
                    .into_iter()
                    .map(|change| Command::Master {
                        actor: "admin".into(),
                        change,
                    })
                    .collect(),
            )
            .unwrap();
        let expected: Vec<Outcome> = (1..=count as u64)
            .map(|seq| Outcome::Recorded { seq })
            .collect();
        assert_eq!(
            outcomes, expected,
            "every master change is recorded, in order"
        );
        harness
    }

    fn open(&self) -> Result<Store, StoreError> {
        let clock: Arc<dyn Clock> = self.clock.clone();
        Store::open(self.dir.path(), pii_key(), clock, self.options.clone())
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("store is open")
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Closes the store (or, with `graceful == false`, just drops it) and opens the folder again.
    fn reopen(&mut self, graceful: bool) {
        let store = self.store.take().expect("store is open");
        if graceful {
            store.close().unwrap();
        }
        drop(store);
        self.store = Some(self.open().unwrap());
    }

    fn submit_one(&self, command: Command) -> Outcome {
        self.store().submit_one(command).unwrap()
    }

    fn record(&self, command: Command) -> u64 {
        match self.submit_one(command.clone()) {
            Outcome::Recorded { seq } => seq,
            other => panic!("expected Recorded, got {other:?} for {command:?}"),
        }
    }
}

/// A valid first rating of `project_no#1` at 新华区 window A1 through the wide source.
fn rating_input(event_id: &str, project_no: &str, rated_at: DateTime<Utc>) -> RatingInput {
    RatingInput {
        event_id: event_id.into(),
        project_no: project_no.into(),
        service_number: 1,
        assess_number: 1,
        task_code: ITEM.into(),
        department: department(),
        area_code: XINHUA.into(),
        service_name: Some("受理".into()),
        window: Some(W_A1.into()),
        staff: Some(STAFF.into()),
        device: Some(DEVICE.into()),
        level: Level::Satisfied,
        channel: Channel::HallDevice,
        indicators: Vec::new(),
        text: None,
        evaluator: EvaluatorInput::default(),
        rated_at,
    }
}

fn rating_command(source: &str, input: RatingInput) -> Command {
    Command::Rating {
        source: source.into(),
        input,
    }
}

// ---------------------------------------------------------------------------------------------
// The model

/// What the model says a command must become; `Outcome` with the rejection reduced to its code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Recorded(u64),
    Duplicate(u64),
    Rejected(&'static str),
}

impl From<&Outcome> for Expected {
    fn from(outcome: &Outcome) -> Expected {
        match outcome {
            Outcome::Recorded { seq } => Expected::Recorded(*seq),
            Outcome::Duplicate { seq } => Expected::Duplicate(*seq),
            Outcome::Rejected(error) => Expected::Rejected(error.code()),
        }
    }
}

#[derive(Debug, Clone)]
struct ModelRating {
    source: String,
    event_id: String,
    slot: (String, u8, u8),
    level: Level,
    channel: Channel,
    real_name: bool,
    day: NaiveDate,
    /// The day the store received it: a first 差评's work order is counted on it.
    received_day: NaiveDate,
    units: Vec<(Dim, String)>,
}

#[derive(Debug, Clone)]
struct ModelCase {
    status: CaseStatus,
    area_code: String,
    /// Region, department and item of the event that opened the case.
    units: Vec<(Dim, String)>,
}

#[derive(Debug, Clone)]
struct ModelAct {
    day: NaiveDate,
    units: Vec<(Dim, String)>,
}

#[derive(Debug, Default)]
struct Model {
    head: u64,
    /// (source, event id) → seq, ratings and service events alike.
    dedup: BTreeMap<(String, String), u64>,
    /// (project no, service number, assess number) → rating id.
    slots: BTreeMap<(String, u8, u8), u64>,
    ratings: BTreeMap<u64, ModelRating>,
    /// (project no, service number) → the first recorded service event of the act.
    acts: BTreeMap<(String, u8), ModelAct>,
    cases: BTreeMap<String, ModelCase>,
}

/// China-time date, computed here rather than with the crate's calendar.
fn china_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(8)).date_naive()
}

fn in_future(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    at > now + Duration::minutes(10)
}

/// The units a fact is filed under, or the code of the first failing reference check.
fn attribute(
    scope: &str,
    area: &str,
    department_id: &str,
    task_code: &str,
    window: Option<&str>,
    staff: Option<&str>,
) -> Result<Vec<(Dim, String)>, &'static str> {
    let regions = region_chain(area).ok_or("unknown_reference")?;
    if !regions.contains(&scope) {
        return Err("out_of_scope");
    }
    if department_id != department() || task_code != ITEM {
        return Err("unknown_reference");
    }
    let mut units: Vec<(Dim, String)> = regions
        .iter()
        .map(|id| (Dim::Region, id.to_string()))
        .collect();
    units.push((Dim::Department, department_id.to_string()));
    units.push((Dim::Item, task_code.to_string()));
    if let Some(window) = window {
        let (hall, county) = window_place(window).ok_or("unknown_reference")?;
        if area != county && area != CITY {
            return Err("outside_area");
        }
        units.push((Dim::Hall, hall.to_string()));
        units.push((Dim::Window, window.to_string()));
    }
    if let Some(staff) = staff {
        if staff != STAFF {
            return Err("unknown_reference");
        }
        units.push((Dim::Staff, staff.to_string()));
    }
    Ok(units)
}

impl Model {
    fn new(head: u64) -> Model {
        Model {
            head,
            ..Model::default()
        }
    }

    fn expect(&mut self, command: &Command, now: DateTime<Utc>) -> Expected {
        match command {
            Command::Rating { source, input } => self.rating(source, input, now),
            Command::Service { source, input } => self.service(source, input, now),
            other => panic!("the model does not handle {other:?}"),
        }
    }

    fn next_seq(&mut self, source: &str, event_id: &str) -> u64 {
        self.head += 1;
        self.dedup
            .insert((source.to_string(), event_id.to_string()), self.head);
        self.head
    }

    fn rating(&mut self, source: &str, input: &RatingInput, now: DateTime<Utc>) -> Expected {
        if let Some(seq) = self
            .dedup
            .get(&(source.to_string(), input.event_id.clone()))
        {
            return Expected::Duplicate(*seq);
        }
        if !(1..=99).contains(&input.service_number) {
            return Expected::Rejected("invalid_service_number");
        }
        let has_text = input
            .text
            .as_deref()
            .is_some_and(|text| !text.trim().is_empty());
        if input.level.is_bad() && input.indicators.is_empty() && !has_text {
            return Expected::Rejected("bad_review_without_detail");
        }
        if in_future(input.rated_at, now) {
            return Expected::Rejected("in_future");
        }
        let Some(scope) = source_scope(source) else {
            return Expected::Rejected("unknown_reference");
        };
        let slot = |assess| (input.project_no.clone(), input.service_number, assess);
        if self.slots.contains_key(&slot(input.assess_number)) {
            return Expected::Rejected("duplicate_rating");
        }
        if input.assess_number == 2 && !self.slots.contains_key(&slot(1)) {
            return Expected::Rejected("follow_up_without_first");
        }
        let units = match attribute(
            scope,
            &input.area_code,
            &input.department,
            &input.task_code,
            input.window.as_deref(),
            input.staff.as_deref(),
        ) {
            Ok(units) => units,
            Err(code) => return Expected::Rejected(code),
        };
        if input
            .device
            .as_deref()
            .is_some_and(|device| device != DEVICE)
        {
            return Expected::Rejected("unknown_reference");
        }
        let seq = self.next_seq(source, &input.event_id);
        self.slots.insert(slot(input.assess_number), seq);
        self.ratings.insert(
            seq,
            ModelRating {
                source: source.to_string(),
                event_id: input.event_id.clone(),
                slot: slot(input.assess_number),
                level: input.level,
                channel: input.channel,
                real_name: input.evaluator.real_name,
                day: china_date(input.rated_at),
                received_day: china_date(now),
                units,
            },
        );
        // A first 差评 opens its work order: one more entry in the log.
        if input.assess_number == 1 && input.level.is_bad() {
            self.head += 1;
        }
        Expected::Recorded(seq)
    }

    fn service(&mut self, source: &str, input: &ServiceEventInput, now: DateTime<Utc>) -> Expected {
        if let Some(seq) = self
            .dedup
            .get(&(source.to_string(), input.event_id.clone()))
        {
            return Expected::Duplicate(*seq);
        }
        if input.service_name.trim().is_empty() {
            return Expected::Rejected("missing_field");
        }
        if !(1..=99).contains(&input.service_number) {
            return Expected::Rejected("invalid_service_number");
        }
        if in_future(input.occurred_at, now) {
            return Expected::Rejected("in_future");
        }
        let Some(scope) = source_scope(source) else {
            return Expected::Rejected("unknown_reference");
        };
        let units = match attribute(
            scope,
            &input.area_code,
            &input.department,
            &input.task_code,
            input.window.as_deref(),
            input.staff.as_deref(),
        ) {
            Ok(units) => units,
            Err(code) => return Expected::Rejected(code),
        };
        let seq = self.next_seq(source, &input.event_id);
        let case = self
            .cases
            .entry(input.project_no.clone())
            .or_insert_with(|| ModelCase {
                status: input.status,
                area_code: input.area_code.clone(),
                units: units
                    .iter()
                    .filter(|(dim, _)| matches!(dim, Dim::Region | Dim::Department | Dim::Item))
                    .cloned()
                    .collect(),
            });
        case.status = input.status;
        self.acts
            .entry((input.project_no.clone(), input.service_number))
            .or_insert(ModelAct {
                day: china_date(input.occurred_at),
                units,
            });
        Expected::Recorded(seq)
    }

    /// Ratings filed under a unit, newest day first, then newest first.
    fn ratings_under(&self, dim: Dim, unit: &str, keep: impl Fn(&ModelRating) -> bool) -> Vec<u64> {
        let mut found: Vec<(NaiveDate, u64)> = self
            .ratings
            .iter()
            .filter(|(_, rating)| files_under(&rating.units, dim, unit) && keep(rating))
            .map(|(id, rating)| (rating.day, *id))
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found.into_iter().map(|(_, id)| id).collect()
    }

    /// The roll-up rows of a unit over all time, grouped like the store groups them.
    fn rollup(&self, dim: Dim, unit: &str, group: RollupGroup) -> Vec<RollupRow> {
        let name = |day: NaiveDate, channel: Option<Channel>| match group {
            RollupGroup::Total => "total".to_string(),
            RollupGroup::Day => day.to_string(),
            RollupGroup::Channel => channel.map_or_else(
                || "none".to_string(),
                |channel| {
                    serde_json::to_value(channel)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string()
                },
            ),
        };
        let mut rows: BTreeMap<String, RollupRow> = BTreeMap::new();
        for rating in self
            .ratings
            .values()
            .filter(|rating| files_under(&rating.units, dim, unit))
        {
            // A first 差评 opened a work order, counted on the day it was received.
            if rating.slot.2 == 1 && rating.level.is_bad() {
                let orders = &mut row_of(&mut rows, name(rating.received_day, None)).orders;
                orders.orders += 1;
                orders.real_name_orders += u64::from(rating.real_name);
            }
            let row = row_of(&mut rows, name(rating.day, Some(rating.channel)));
            if rating.slot.2 == 2 {
                row.follow_ups += 1;
                continue;
            }
            row.ratings += 1;
            *row.by_level.entry(rating.level).or_default() += 1;
            *row.by_channel.entry(rating.channel).or_default() += 1;
            if rating.channel == Channel::SystemDefault {
                row.default_ratings += 1;
            }
            if rating.level.is_bad() {
                row.bad += 1;
                if rating.real_name {
                    row.real_name_bad += 1;
                }
            }
        }
        for act in self
            .acts
            .values()
            .filter(|act| files_under(&act.units, dim, unit))
        {
            row_of(&mut rows, name(act.day, None)).services += 1;
        }
        rows.into_values().collect()
    }
}

fn row_of(rows: &mut BTreeMap<String, RollupRow>, group: String) -> &mut RollupRow {
    rows.entry(group.clone()).or_insert_with(|| RollupRow {
        group,
        ..RollupRow::default()
    })
}

fn files_under(units: &[(Dim, String)], dim: Dim, unit: &str) -> bool {
    units.iter().any(|(d, u)| *d == dim && u == unit)
}

// ---------------------------------------------------------------------------------------------
// Random workload

fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(u32, T)]) -> T {
    let total: u32 = choices.iter().map(|(weight, _)| weight).sum();
    let mut roll = rng.gen_range(0..total);
    for (weight, value) in choices {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    unreachable!("weights add up")
}

fn random_source(rng: &mut StdRng) -> &'static str {
    weighted(rng, &[(68, WIDE), (24, NARROW), (4, RETIRED), (4, "ghost")])
}

/// A shared pool: ratings and service events of a source share one id space.
fn random_event_id(rng: &mut StdRng) -> String {
    format!("ev-{}", rng.gen_range(0..300))
}

fn random_project(rng: &mut StdRng) -> String {
    format!("P{}", rng.gen_range(0..PROJECTS))
}

fn random_service_number(rng: &mut StdRng) -> u8 {
    if rng.gen_bool(0.02) {
        0
    } else {
        rng.gen_range(1..=3)
    }
}

fn random_area(rng: &mut StdRng) -> String {
    weighted(
        rng,
        &[
            (45, XINHUA),
            (20, CITY),
            (25, BAOFENG),
            (5, UNKNOWN_REGION),
            (5, HALL_A),
        ],
    )
    .to_string()
}

fn random_window(rng: &mut StdRng) -> Option<String> {
    weighted(
        rng,
        &[
            (30, None),
            (30, Some(W_A1)),
            (20, Some(W_A2)),
            (15, Some(W_B1)),
            (5, Some("W-ZZ")),
        ],
    )
    .map(String::from)
}

fn random_staff(rng: &mut StdRng) -> Option<String> {
    weighted(rng, &[(60, None), (37, Some(STAFF)), (3, Some("S-404"))]).map(String::from)
}

fn random_department(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.04) {
        unknown_department()
    } else {
        department()
    }
}

fn random_task(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.04) {
        "T-404".into()
    } else {
        ITEM.into()
    }
}

/// Mostly up to four days back; sometimes ahead of the clock, up to twice the allowed skew.
fn random_time(rng: &mut StdRng, now: DateTime<Utc>) -> DateTime<Utc> {
    if rng.gen_bool(0.05) {
        now + Duration::minutes(rng.gen_range(0..=20))
    } else {
        now - Duration::minutes(rng.gen_range(0..4 * 24 * 60))
    }
}

fn random_rating(rng: &mut StdRng, now: DateTime<Utc>) -> Command {
    let (indicators, text): (Vec<&str>, Option<&str>) = match rng.gen_range(0..5) {
        0 => (vec![], None),
        1 => (vec![], Some("  ")),
        2 => (vec!["501"], None),
        3 => (vec![], Some("排队时间太长")),
        _ => (vec!["301", "502"], Some("态度差")),
    };
    let input = RatingInput {
        event_id: random_event_id(rng),
        project_no: random_project(rng),
        service_number: random_service_number(rng),
        assess_number: if rng.gen_bool(0.7) { 1 } else { 2 },
        task_code: random_task(rng),
        department: random_department(rng),
        area_code: random_area(rng),
        service_name: None,
        window: random_window(rng),
        staff: random_staff(rng),
        device: weighted(rng, &[(70, None), (27, Some(DEVICE)), (3, Some("DEV-404"))])
            .map(String::from),
        level: *Level::ALL.choose(rng).unwrap(),
        channel: *Channel::ALL.choose(rng).unwrap(),
        indicators: indicators.into_iter().map(String::from).collect(),
        text: text.map(String::from),
        evaluator: EvaluatorInput {
            real_name: rng.gen_bool(0.5),
            phone: rng
                .gen_bool(0.5)
                .then(|| format!("1381234{:04}", rng.gen_range(0..10_000))),
            ..EvaluatorInput::default()
        },
        rated_at: random_time(rng, now),
    };
    rating_command(random_source(rng), input)
}

fn random_service(rng: &mut StdRng, now: DateTime<Utc>) -> Command {
    let input = ServiceEventInput {
        event_id: random_event_id(rng),
        project_no: random_project(rng),
        project_name: "食品经营许可申请".into(),
        task_code: random_task(rng),
        department: random_department(rng),
        area_code: random_area(rng),
        service_number: random_service_number(rng),
        service_name: if rng.gen_bool(0.03) {
            "  ".into()
        } else {
            "受理".into()
        },
        status: *[
            CaseStatus::Submitted,
            CaseStatus::Accepted,
            CaseStatus::Completed,
        ]
        .choose(rng)
        .unwrap(),
        occurred_at: random_time(rng, now),
        window: random_window(rng),
        staff: random_staff(rng),
        applicant_type: ApplicantType::NaturalPerson,
        applicant_phone: None,
        online: false,
    };
    Command::Service {
        source: random_source(rng).into(),
        input,
    }
}

/// Applies `operations` random steps to the store and the model, comparing every outcome.
/// A step is one submit of 1-4 commands, or (rarely) a restart of the store. Returns how often
/// each outcome (`recorded`, `duplicate`, a rejection code, `restart`) occurred.
fn run_workload(
    harness: &mut Harness,
    model: &mut Model,
    seed: u64,
    operations: usize,
) -> BTreeMap<&'static str, usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = BTreeMap::new();
    for step in 0..operations {
        harness.clock.advance(Duration::minutes(1));
        if rng.gen_bool(0.015) {
            let head = harness.store().head().unwrap();
            harness.reopen(rng.gen_bool(0.5));
            assert_eq!(
                harness.store().head().unwrap(),
                head,
                "seed {seed} step {step}: head after restart"
            );
            *tally.entry("restart").or_default() += 1;
            continue;
        }
        let now = harness.now();
        let count = if rng.gen_bool(0.2) {
            rng.gen_range(2..=4)
        } else {
            1
        };
        let commands: Vec<Command> = (0..count)
            .map(|_| {
                if rng.gen_bool(0.7) {
                    random_rating(&mut rng, now)
                } else {
                    random_service(&mut rng, now)
                }
            })
            .collect();
        let expected: Vec<Expected> = commands
            .iter()
            .map(|command| model.expect(command, now))
            .collect();
        let outcomes = harness.store().submit(commands.clone()).unwrap();
        assert_eq!(
            outcomes.len(),
            commands.len(),
            "seed {seed} step {step}: one outcome per command"
        );
        for ((command, outcome), expected) in commands.iter().zip(&outcomes).zip(&expected) {
            assert_eq!(
                &Expected::from(outcome),
                expected,
                "seed {seed} step {step}: outcome of {command:#?}\nstore said {outcome:?}"
            );
            let name = match expected {
                Expected::Recorded(_) => "recorded",
                Expected::Duplicate(_) => "duplicate",
                Expected::Rejected(code) => code,
            };
            *tally.entry(name).or_default() += 1;
        }
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// Comparison of the whole store with the model

/// A rating list filter: the query's fields and the same rule for the model.
struct Filter {
    level: Option<Level>,
    channel: Option<Channel>,
    bad_only: bool,
    real_name_only: bool,
}

impl Filter {
    const ALL: [Filter; 5] = [
        Filter::new(None, None, false, false),
        Filter::new(None, None, true, false),
        Filter::new(None, None, false, true),
        Filter::new(Some(Level::Dissatisfied), None, false, false),
        Filter::new(None, Some(Channel::HallDevice), true, true),
    ];

    const fn new(
        level: Option<Level>,
        channel: Option<Channel>,
        bad_only: bool,
        real_name_only: bool,
    ) -> Filter {
        Filter {
            level,
            channel,
            bad_only,
            real_name_only,
        }
    }

    fn keeps(&self, rating: &ModelRating) -> bool {
        self.level.is_none_or(|level| rating.level == level)
            && self.channel.is_none_or(|channel| rating.channel == channel)
            && (!self.bad_only || rating.level.is_bad())
            && (!self.real_name_only || rating.real_name)
    }

    fn describe(&self) -> String {
        format!(
            "level={:?} channel={:?} bad_only={} real_name_only={}",
            self.level, self.channel, self.bad_only, self.real_name_only
        )
    }
}

/// Follows `next_cursor` to the end with pages of 7; returns the ids in the order given.
fn page_through(store: &Store, dim: Dim, unit: &str, filter: &Filter) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = store
            .ratings(&RatingQuery {
                dim,
                unit: unit.to_string(),
                from: from_date(),
                to: to_date(),
                level: filter.level,
                channel: filter.channel,
                bad_only: filter.bad_only,
                real_name_only: filter.real_name_only,
                cursor: cursor.take(),
                limit: 7,
            })
            .unwrap();
        assert!(
            page.items.len() <= 7,
            "{dim:?} {unit}: page of {} > limit",
            page.items.len()
        );
        ids.extend(page.items.iter().map(|rating| rating.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
    panic!("{dim:?} {unit}: pagination does not end");
}

fn assert_no_duplicates(ids: &[u64], context: &str) {
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{context}: a rating was returned twice: {ids:?}"
    );
}

/// Compares everything the model knows with what the store answers.
fn check(store: &Store, model: &Model, context: &str) {
    // The log: head, contiguous sequence numbers, the dedup map.
    assert_eq!(store.head().unwrap(), model.head, "{context}: head");
    let entries = store.read_after(0, usize::MAX).unwrap();
    let seqs: Vec<u64> = entries.iter().map(|entry| entry.seq).collect();
    assert_eq!(
        seqs,
        (1..=model.head).collect::<Vec<_>>(),
        "{context}: log sequence numbers"
    );
    let origins: BTreeMap<(String, String), u64> = entries
        .iter()
        .filter_map(|entry| {
            let origin = entry.origin.as_ref()?;
            Some(((origin.source.clone(), origin.event_id.clone()), entry.seq))
        })
        .collect();
    assert_eq!(origins, model.dedup, "{context}: origins in the log");

    // Every slot of the pools: present with the right rating, or absent.
    assert_eq!(
        store.rating_count(),
        model.slots.len(),
        "{context}: rating_count"
    );
    for project in 0..PROJECTS {
        let project_no = format!("P{project}");
        for service_number in 0..=3 {
            for assess in [1, 2] {
                let got = store
                    .rating_for_slot(&project_no, service_number, assess)
                    .unwrap();
                let key = (project_no.clone(), service_number, assess);
                match (model.slots.get(&key), got) {
                    (None, None) => {}
                    (Some(id), Some(rating)) => {
                        let want = &model.ratings[id];
                        assert_eq!(
                            (
                                rating.id,
                                &rating.source,
                                &rating.event_id,
                                rating.level,
                                rating.channel
                            ),
                            (*id, &want.source, &want.event_id, want.level, want.channel),
                            "{context}: slot {key:?}"
                        );
                        assert_eq!(
                            rating.evaluator.real_name, want.real_name,
                            "{context}: slot {key:?}"
                        );
                    }
                    (want, got) => panic!("{context}: slot {key:?}: model {want:?}, store {got:?}"),
                }
            }
        }
    }

    // Roll-ups and pages per unit.
    for (dim, unit) in checked_units() {
        let context = format!("{context}: {dim:?} {unit}");
        for group in [RollupGroup::Total, RollupGroup::Day, RollupGroup::Channel] {
            let rows = store
                .rollup(&RollupQuery {
                    dim,
                    unit: unit.clone(),
                    from: from_date(),
                    to: to_date(),
                    group,
                })
                .unwrap();
            assert_eq!(
                rows,
                model.rollup(dim, &unit, group),
                "{context}: roll-up by {group:?} (store left, model right)"
            );
        }

        for filter in &Filter::ALL {
            let ids = page_through(store, dim, &unit, filter);
            let context = format!("{context} {}", filter.describe());
            assert_no_duplicates(&ids, &context);
            let want = model.ratings_under(dim, &unit, |rating| filter.keeps(rating));
            assert_eq!(
                ids, want,
                "{context}: ratings pages (store left, model right)"
            );
        }
    }

    // Cases: status, area, acts and the ratings of each act; and the case index by region.
    for project in 0..PROJECTS {
        let project_no = format!("P{project}");
        let got = store.case(&project_no).unwrap();
        let Some(want) = model.cases.get(&project_no) else {
            assert!(
                got.is_none(),
                "{context}: case {project_no} should not exist: {got:?}"
            );
            continue;
        };
        let case = got.unwrap_or_else(|| panic!("{context}: case {project_no} is missing"));
        assert_eq!(
            (case.status, &case.area_code),
            (want.status, &want.area_code),
            "{context}: case {project_no}"
        );
        let acts: Vec<(u8, Vec<u64>)> = case
            .services
            .iter()
            .map(|act| (act.service_number, act.ratings.clone()))
            .collect();
        let want_acts: Vec<(u8, Vec<u64>)> = model
            .acts
            .keys()
            .filter(|(p, _)| *p == project_no)
            .map(|(_, service_number)| {
                let ratings = [1, 2]
                    .iter()
                    .filter_map(|assess| {
                        model
                            .slots
                            .get(&(project_no.clone(), *service_number, *assess))
                            .copied()
                    })
                    .collect();
                (*service_number, ratings)
            })
            .collect();
        assert_eq!(
            acts, want_acts,
            "{context}: acts of case {project_no} (store left, model right)"
        );
    }
    for (dim, unit) in checked_units() {
        if !matches!(dim, Dim::Region | Dim::Department | Dim::Item) {
            continue;
        }
        let mut got = BTreeSet::new();
        let mut cursor = None;
        loop {
            let page = store
                .cases(&CaseQuery {
                    dim,
                    unit: unit.clone(),
                    from: from_date(),
                    to: to_date(),
                    cursor: cursor.take(),
                    limit: 5,
                })
                .unwrap();
            for case in page.items {
                assert!(
                    got.insert(case.project_no.clone()),
                    "{context}: case {} listed twice",
                    case.project_no
                );
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let want: BTreeSet<String> = model
            .cases
            .iter()
            .filter(|(_, case)| files_under(&case.units, dim, &unit))
            .map(|(project_no, _)| project_no.clone())
            .collect();
        assert_eq!(got, want, "{context}: cases under {dim:?} {unit}");
    }
}

type Dump = Vec<(String, Vec<u8>, Vec<u8>)>;

fn assert_same_dump(left: &Dump, right: &Dump, context: &str) {
    for (index, (a, b)) in left.iter().zip(right).enumerate() {
        assert!(
            a == b,
            "{context}: row {index} differs: tree {} key {} value {}\nvs tree {} key {} value {}",
            a.0,
            hex(&a.1),
            String::from_utf8_lossy(&a.2),
            b.0,
            hex(&b.1),
            String::from_utf8_lossy(&b.2)
        );
    }
    assert_eq!(
        left.len(),
        right.len(),
        "{context}: number of projection rows"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn master_data_is_recorded_and_queryable() {
    let harness = Harness::seeded();
    let store = harness.store();
    assert_eq!(store.head().unwrap(), master_data().len() as u64);

    let children: BTreeSet<String> = store
        .org_children(CITY)
        .unwrap()
        .into_iter()
        .map(|unit| unit.id)
        .collect();
    let want: BTreeSet<String> = [XINHUA.to_string(), BAOFENG.to_string(), department()].into();
    assert_eq!(children, want);
    assert_eq!(
        store
            .org_unit(W_A1)
            .unwrap()
            .and_then(|unit| unit.department),
        Some(department())
    );
    assert_eq!(
        store.source(NARROW).unwrap().map(|source| source.scope),
        Some(XINHUA.to_string())
    );

    let cases: &[(Dim, &str, &str, bool)] = &[
        (Dim::Window, W_A1, XINHUA, true),
        (Dim::Window, W_A1, CITY, true),
        (Dim::Window, W_B1, XINHUA, false),
        (Dim::Hall, HALL_B, BAOFENG, true),
        (Dim::Staff, STAFF, HALL_A, true),
        (Dim::Staff, STAFF, BAOFENG, false),
        (Dim::Item, ITEM, CITY, true),
        (Dim::Region, UNKNOWN_REGION, CITY, false),
    ];
    for (dim, id, scope, expected) in cases {
        assert_eq!(
            store.within(*dim, id, scope).unwrap(),
            *expected,
            "within({dim:?}, {id}, {scope})"
        );
    }

    // Bad master data is refused and leaves the log alone.
    let head = store.head().unwrap();
    let bad_check_char = {
        let good = department();
        let last = good.chars().last().unwrap();
        format!("{}{}", &good[..17], if last == '0' { '1' } else { '0' })
    };
    let rejected: Vec<(MasterChange, &str)> = vec![
        (
            MasterChange::OrgUnit(unit("4104", OrgKind::County, Some(CITY))),
            "invalid_field",
        ),
        (
            MasterChange::OrgUnit(unit("410499", OrgKind::County, Some("419900"))),
            "unknown_reference",
        ),
        (
            MasterChange::OrgUnit(unit("410403", OrgKind::County, None)),
            "missing_field",
        ),
        (
            MasterChange::OrgUnit(unit(&bad_check_char, OrgKind::Department, Some(CITY))),
            "invalid_field",
        ),
        (
            MasterChange::OrgUnit(unit("W-X", OrgKind::Window, Some(XINHUA))),
            "invalid_field",
        ),
        (
            MasterChange::OrgUnit(OrgUnit {
                department: Some(unknown_department()),
                ..unit("W-X", OrgKind::Window, Some(HALL_A))
            }),
            "unknown_reference",
        ),
        (
            MasterChange::Staff(Staff {
                id: "S-2".into(),
                name: "李四".into(),
                department: unknown_department(),
                window: None,
            }),
            "unknown_reference",
        ),
        (
            MasterChange::Device(Device {
                id: "DEV-2".into(),
                model: "x".into(),
                window: HALL_A.into(),
            }),
            "unknown_reference",
        ),
        (
            MasterChange::Source(source("s", "419900", false)),
            "unknown_reference",
        ),
    ];
    for (change, code) in rejected {
        let outcome = harness.submit_one(Command::Master {
            actor: "admin".into(),
            change: change.clone(),
        });
        assert_eq!(
            Expected::from(&outcome),
            Expected::Rejected(code),
            "{change:?}"
        );
    }
    assert_eq!(store.head().unwrap(), head);
}

fn org_children_ids(store: &Store, id: &str) -> BTreeSet<String> {
    store
        .org_children(id)
        .unwrap()
        .into_iter()
        .map(|unit| unit.id)
        .collect()
}

/// Moving a window to another hall (an upsert with a new parent) must move it between the
/// children lists, and a rebuild must agree with the live projection.
#[test]
fn reparenting_a_window_moves_it_between_halls() {
    let harness = Harness::seeded();
    let store = harness.store();
    harness.record(Command::Master {
        actor: "admin".into(),
        change: MasterChange::OrgUnit(window(W_A2, HALL_B)),
    });
    assert_eq!(
        store.org_unit(W_A2).unwrap().and_then(|unit| unit.parent),
        Some(HALL_B.to_string())
    );
    assert!(store.within(Dim::Window, W_A2, BAOFENG).unwrap());
    assert!(!store.within(Dim::Window, W_A2, XINHUA).unwrap());
    assert_eq!(
        org_children_ids(store, HALL_B),
        BTreeSet::from([W_A2.to_string(), W_B1.to_string()])
    );
    let live = store.projection_dump().unwrap();
    store.rebuild().unwrap();
    assert_same_dump(
        &live,
        &store.projection_dump().unwrap(),
        "rebuild after a move",
    );
    assert_eq!(
        org_children_ids(store, HALL_A),
        BTreeSet::from([W_A1.to_string()]),
        "the old hall still lists the window that moved away"
    );
}

/// `apply.rs` says "a cycle cannot be written (parents must exist before children)"; an upsert
/// of an existing unit under its own descendant must therefore be refused.
#[test]
fn an_upsert_cannot_make_the_org_tree_cyclic() {
    let harness = Harness::seeded();
    let store = harness.store();
    let head = store.head().unwrap();
    // 新华区 re-declared as a window of the hall that sits in 新华区.
    let outcome = harness.submit_one(Command::Master {
        actor: "admin".into(),
        change: MasterChange::OrgUnit(unit(XINHUA, OrgKind::Window, Some(HALL_A))),
    });
    let ancestors = store.ancestors(Dim::Hall, HALL_A).unwrap();
    assert!(
        matches!(outcome, Outcome::Rejected(_)),
        "got {outcome:?}; ancestors of {HALL_A} now: {ancestors:?}"
    );
    assert_eq!(store.head().unwrap(), head);
}

#[test]
fn random_workloads_match_the_model() {
    let mut seen = BTreeSet::new();
    for seed in [1, 2, 3, 4, 5] {
        let mut harness = Harness::seeded();
        let mut model = Model::new(harness.store().head().unwrap());
        let tally = run_workload(&mut harness, &mut model, seed, 300);
        eprintln!("seed {seed}: {tally:?}");
        seen.extend(tally.keys().copied());
        check(harness.store(), &model, &format!("seed {seed}"));
        // The workload really exercised what it is meant to.
        assert!(
            model.ratings.len() > 40,
            "seed {seed}: only {} ratings",
            model.ratings.len()
        );
        assert!(
            model.ratings.values().any(|rating| rating.slot.2 == 2),
            "seed {seed}: no follow-up"
        );
        assert!(!model.acts.is_empty(), "seed {seed}: no service acts");
        harness.reopen(true);
        check(
            harness.store(),
            &model,
            &format!("seed {seed} after restart"),
        );
    }
    // Every path of the rules was taken at least once over the seeds.
    let wanted = [
        "recorded",
        "duplicate",
        "restart",
        "bad_review_without_detail",
        "duplicate_rating",
        "follow_up_without_first",
        "in_future",
        "invalid_service_number",
        "missing_field",
        "out_of_scope",
        "outside_area",
        "unknown_reference",
    ];
    for outcome in wanted {
        assert!(
            seen.contains(outcome),
            "no workload produced {outcome}: {seen:?}"
        );
    }
}

#[test]
fn recorded_data_survives_close_and_drop() {
    let mut harness = Harness::seeded();
    let at = start_time() - Duration::hours(1);
    // Twenty in one submit, twenty one by one.
    let batch: Vec<Command> = (0..20)
        .map(|i| rating_command(WIDE, rating_input(&format!("e{i}"), &format!("R{i}"), at)))
        .collect();
    let mut ids: Vec<u64> = harness
        .store()
        .submit(batch)
        .unwrap()
        .iter()
        .map(|outcome| match outcome {
            Outcome::Recorded { seq } => *seq,
            other => panic!("{other:?}"),
        })
        .collect();
    for i in 20..40 {
        ids.push(harness.record(rating_command(
            WIDE,
            rating_input(&format!("e{i}"), &format!("R{i}"), at),
        )));
    }
    let head = harness.store().head().unwrap();
    assert_eq!(head, *ids.last().unwrap());

    let all_present = |harness: &Harness, ids: &[u64]| {
        for (i, id) in ids.iter().enumerate() {
            let rating = harness
                .store()
                .rating_for_slot(&format!("R{i}"), 1, 1)
                .unwrap();
            assert_eq!(rating.map(|rating| rating.id), Some(*id), "rating R{i}");
        }
        assert_eq!(harness.store().rating_count(), ids.len());
    };

    harness.reopen(true);
    all_present(&harness, &ids);
    assert_eq!(harness.store().head().unwrap(), head);
    // Idempotency survives the restart, and numbering continues.
    assert_eq!(
        harness.submit_one(rating_command(WIDE, rating_input("e0", "R-other", at))),
        Outcome::Duplicate { seq: ids[0] }
    );
    let next = harness.record(rating_command(WIDE, rating_input("e40", "R40", at)));
    assert_eq!(next, head + 1);
    ids.push(next);

    // A closed store refuses work instead of losing it.
    let closed = harness.store().clone();
    closed.close().unwrap();
    assert!(matches!(
        closed.submit(vec![rating_command(WIDE, rating_input("e99", "R99", at))]),
        Err(StoreError::Closed)
    ));
    drop(closed);

    // Dropped without close: whatever submit acknowledged is there.
    harness.reopen(true);
    let next = harness.record(rating_command(WIDE, rating_input("e41", "R41", at)));
    assert_eq!(next, head + 2);
    ids.push(next);
    harness.reopen(false);
    all_present(&harness, &ids);
    assert_eq!(harness.store().head().unwrap(), head + 2);
    assert_eq!(
        harness.record(rating_command(WIDE, rating_input("e42", "R42", at))),
        head + 3
    );
}

#[test]
fn rebuild_reproduces_the_projections() {
    let mut harness = Harness::seeded();
    let mut model = Model::new(harness.store().head().unwrap());
    let tally = run_workload(&mut harness, &mut model, 42, 250);
    eprintln!("seed 42: {tally:?}");
    let before = harness.store().projection_dump().unwrap();
    assert!(
        before.iter().any(|(tree, _, _)| tree == "rollup"),
        "the workload filled the roll-up"
    );

    let replayed = harness.store().rebuild().unwrap();
    assert_eq!(replayed, model.head, "rebuild replays the whole log");
    assert_same_dump(
        &before,
        &harness.store().projection_dump().unwrap(),
        "after rebuild",
    );
    check(harness.store(), &model, "after rebuild");

    harness.reopen(true);
    harness.store().rebuild().unwrap();
    assert_same_dump(
        &before,
        &harness.store().projection_dump().unwrap(),
        "after reopen and rebuild",
    );

    // The rebuilt store keeps working like the model.
    run_workload(&mut harness, &mut model, 43, 50);
    check(harness.store(), &model, "after rebuild and more work");
}

/// Committer counters: (flushes, commands).
fn commit_counters(store: &Store) -> (u64, u64) {
    let stats = store.stats();
    (
        stats.batches.load(Ordering::Relaxed),
        stats.commands.load(Ordering::Relaxed),
    )
}

/// `threads` threads, released together, each submitting `per_thread` single-rating commands
/// with distinct event ids and project numbers (`{tag}{thread}-{i}`), while this thread runs
/// `meanwhile`. Asserts every one is recorded; returns (project no, seq) of all of them.
fn submit_concurrently(
    store: &Store,
    tag: &str,
    threads: usize,
    per_thread: usize,
    meanwhile: impl FnOnce(),
) -> Vec<(String, u64)> {
    let at = start_time() - Duration::hours(2);
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let store = store.clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut mine: Vec<(String, u64)> = Vec::with_capacity(per_thread);
                    for i in 0..per_thread {
                        let project_no = format!("{tag}{thread}-{i}");
                        let input = rating_input(&format!("ev-{project_no}"), &project_no, at);
                        match store
                            .submit(vec![rating_command(WIDE, input)])
                            .unwrap()
                            .as_slice()
                        {
                            [Outcome::Recorded { seq }] => {
                                if let Some((_, last)) = mine.last() {
                                    assert!(seq > last, "thread {thread}: seqs go backwards");
                                }
                                mine.push((project_no, *seq));
                            }
                            other => panic!("thread {thread} rating {i}: {other:?}"),
                        }
                    }
                    mine
                })
            })
            .collect();
        meanwhile();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    })
}

fn assert_contiguous(recorded: &[(String, u64)], after: u64) {
    let mut seqs: Vec<u64> = recorded.iter().map(|(_, seq)| *seq).collect();
    seqs.sort_unstable();
    let want: Vec<u64> = (after + 1..=after + recorded.len() as u64).collect();
    assert_eq!(seqs, want, "seqs are unique and contiguous");
}

fn window_a1_ratings(store: &Store) -> u64 {
    let rows = store
        .rollup(&RollupQuery {
            dim: Dim::Window,
            unit: W_A1.into(),
            from: from_date(),
            to: to_date(),
            group: RollupGroup::Total,
        })
        .unwrap();
    rows.first().map_or(0, |row| row.ratings)
}

#[test]
fn concurrent_submits_are_group_committed() {
    const THREADS: usize = 16;
    const PER_THREAD: usize = 200;
    let total = (THREADS * PER_THREAD) as u64;
    let harness = Harness::seeded();
    let store = harness.store();
    let base = store.head().unwrap();
    let (batches_before, commands_before) = commit_counters(store);

    let recorded = submit_concurrently(store, "C", THREADS, PER_THREAD, || {});

    assert_contiguous(&recorded, base);
    for (project_no, seq) in &recorded {
        let rating = store.rating_for_slot(project_no, 1, 1).unwrap();
        assert_eq!(rating.map(|rating| rating.id), Some(*seq), "{project_no}");
    }
    let (batches, commands) = commit_counters(store);
    let (batches, commands) = (batches - batches_before, commands - commands_before);
    eprintln!("group commit: {commands} commands in {batches} flushes");
    assert_eq!(commands, total);
    assert!(
        batches < commands,
        "{commands} commands took {batches} flushes: no batching"
    );
    assert_eq!(store.rating_count() as u64, total);
    assert_eq!(store.head().unwrap(), base + total);
    assert_eq!(window_a1_ratings(store), total);
}

#[test]
fn rebuild_between_concurrent_writes_loses_nothing() {
    let harness = Harness::seeded();
    let store = harness.store();
    let base = store.head().unwrap();
    let recorded = submit_concurrently(store, "RB", 4, 100, || {
        for _ in 0..3 {
            let replayed = store.rebuild().unwrap();
            assert!(replayed >= base, "rebuild replays at least the master data");
        }
    });
    assert_contiguous(&recorded, base);
    assert_eq!(store.rating_count(), 400);
    assert_eq!(window_a1_ratings(store), 400);
    let before = store.projection_dump().unwrap();
    assert_eq!(store.rebuild().unwrap(), base + 400);
    assert_same_dump(
        &before,
        &store.projection_dump().unwrap(),
        "rebuild after concurrent writes",
    );
}

/// `StoreOptions::max_batch` is documented as "most commands applied between two flushes".
#[test]
fn max_batch_bounds_the_commands_of_one_flush() {
    let harness = Harness::with_options(StoreOptions {
        cache_bytes: 8 * 1024 * 1024,
        max_batch: 1,
        ..StoreOptions::default()
    })
    .seed();
    let store = harness.store();
    let (batches_before, commands_before) = commit_counters(store);
    let recorded = submit_concurrently(store, "MB", 8, 50, || {});
    assert_eq!(recorded.len(), 400);
    let (batches, commands) = commit_counters(store);
    let (batches, commands) = (batches - batches_before, commands - commands_before);
    assert_eq!(commands, 400);
    assert_eq!(
        batches, commands,
        "with max_batch = 1 and one command per submit, every flush must carry one command"
    );
}

#[test]
fn another_schema_version_is_refused() {
    // A fresh folder gets the current version and opens again.
    let mut harness = Harness::empty();
    harness.reopen(true);
    let dir = harness.dir.path().to_path_buf();
    harness.store.take().unwrap().close().unwrap();

    {
        let db = hcp_core::store::open_sled(&dir).unwrap();
        assert_eq!(
            db.get(b"schema_version")
                .unwrap()
                .map(|value| value.to_vec()),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        db.insert(b"schema_version", &99u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    match harness.open() {
        Err(StoreError::SchemaVersion { found, expected }) => {
            assert_eq!((found, expected), (99, SCHEMA_VERSION));
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
}

fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_contain(&path, needle)
        } else {
            std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|window| window == needle)
        }
    })
}

#[test]
fn personal_data_is_sealed_at_rest() {
    const PHONE: &str = "13812341234";
    const ID_NUMBER: &str = "41040219900101123X";
    const NAME: &str = "张三丰";
    let mut harness = Harness::seeded();
    let mut input = rating_input("pii-1", "PII-1", start_time() - Duration::hours(1));
    input.level = Level::Dissatisfied;
    input.text = Some("材料退回三次".into());
    input.evaluator = EvaluatorInput {
        real_name: true,
        applicant_type: ApplicantType::NaturalPerson,
        name: Some(NAME.into()),
        phone: Some(PHONE.into()),
        id_number: Some(ID_NUMBER.into()),
    };
    let seq = harness.record(rating_command(NARROW, input));

    let entry = harness
        .store()
        .read_after(seq - 1, 1)
        .unwrap()
        .pop()
        .expect("the entry is in the log");
    assert_eq!(entry.seq, seq);
    let json = serde_json::to_string(&entry).unwrap();
    for clear in [PHONE, ID_NUMBER, NAME] {
        assert!(
            !json.contains(clear),
            "log entry holds {clear} in clear: {json}"
        );
    }
    let Event::RatingRecorded { rating } = entry.event else {
        panic!("not a rating: {:?}", entry.event);
    };
    let phone = rating.evaluator.phone.as_ref().unwrap();
    let id_number = rating.evaluator.id_number.as_ref().unwrap();
    let name = rating.evaluator.name.as_ref().unwrap();
    assert_eq!(phone.masked, "138****1234");
    assert_eq!(id_number.masked, "410402********123X");
    assert_eq!(name.masked, "张**");
    let key = harness.store().pii();
    assert_eq!(key.open_field(PiiKind::Phone, phone).unwrap(), PHONE);
    assert_eq!(
        key.open_field(PiiKind::IdNumber, id_number).unwrap(),
        ID_NUMBER
    );
    assert_eq!(key.open_field(PiiKind::Name, name).unwrap(), NAME);
    assert!(
        PiiKey::from_bytes([8; 32])
            .open_field(PiiKind::Phone, phone)
            .is_err()
    );
    assert_eq!(
        harness
            .store()
            .rating_for_slot("PII-1", 1, 1)
            .unwrap()
            .map(|r| r.evaluator),
        Some(rating.evaluator)
    );

    // What is stored: every value of every tree as it reads back (compressed values
    // decompressed), with the masked phone there (so the scan sees stored data) and the clear
    // values not; and the files themselves hold no clear value either.
    harness.reopen(true);
    harness.store.take().unwrap().close().unwrap();
    let dir = harness.dir.path();
    let mut values = Vec::new();
    {
        let db = hcp_core::store::open_sled(dir).unwrap();
        for name in db.tree_names() {
            for item in db.open_tree(name).unwrap().iter() {
                let (_, value) = item.unwrap();
                values.push(match hcp_core::store::codec::json(&value) {
                    Ok(json) => json.into_owned(),
                    Err(_) => value.to_vec(),
                });
            }
        }
    }
    let holds = |needle: &str| {
        values.iter().any(|value| {
            value
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        })
    };
    assert!(holds("138****1234"), "the scan finds stored values");
    for clear in [PHONE, ID_NUMBER, NAME] {
        assert!(!holds(clear), "a stored value holds {clear} in clear");
        assert!(
            !files_contain(dir, clear.as_bytes()),
            "sled files hold {clear} in clear"
        );
    }
}

/// Compression is fixed when a store is created; reopening with the other setting keeps the
/// data and the original choice instead of failing.
#[test]
fn a_compressed_store_reopens_whatever_the_options_say() {
    let mut harness = Harness::with_options(StoreOptions {
        cache_bytes: 8 * 1024 * 1024,
        compression: true,
        ..StoreOptions::default()
    })
    .seed();
    let seq = harness.record(rating_command(
        WIDE,
        rating_input("c-1", "PC-1", harness.now()),
    ));
    harness.options.compression = false;
    harness.reopen(true);
    assert_eq!(harness.store().head().unwrap(), seq);
    assert!(harness.store().rating(seq).unwrap().is_some());
    let next = harness.record(rating_command(
        WIDE,
        rating_input("c-2", "PC-2", harness.now()),
    ));
    assert_eq!(next, seq + 1);
}

fn keep(source: &str, tag: &str) -> Command {
    Command::KeepRejected {
        source: source.into(),
        content_type: "ratings".into(),
        payload: tag.as_bytes().to_vec(),
        reason: hcp_core::validate::Reason {
            code: "invalid_field".into(),
            message: tag.into(),
        },
    }
}

/// Open kept payloads by source, as the admin list shows them: (source, payload).
fn kept_payloads(store: &Store) -> Vec<(String, String)> {
    store
        .rejections(0, 500)
        .unwrap()
        .into_iter()
        .map(|(_, rejected)| {
            let payload = store.open_rejected_payload(&rejected).unwrap();
            (rejected.source, String::from_utf8(payload).unwrap())
        })
        .collect()
}

/// Past its cap a source's oldest kept payloads are evicted (resolved `evicted` in the log, the
/// sealed bytes gone from the open list), one source's flood never evicts another's, a replayed
/// payload leaves a hole the eviction steps over, several refusals of one batch evict in order,
/// and a rebuild reproduces the queue and the counts.
#[test]
fn kept_rejections_are_capped_per_source_oldest_first() {
    let harness = Harness::with_options(StoreOptions {
        cache_bytes: 8 * 1024 * 1024,
        max_kept_rejections: 3,
        ..StoreOptions::default()
    });
    let store = harness.store();
    let a1 = harness.record(keep("a", "a1"));
    harness.record(keep("b", "b1"));
    harness.record(keep("a", "a2"));
    // a1 is replayed meanwhile: a hole at the head of a's queue.
    harness.record(Command::ResolveRejected {
        actor: "admin".into(),
        rejected_seq: a1,
        resolution: "replayed".into(),
    });
    harness.record(keep("a", "a3"));
    harness.record(keep("a", "a4"));
    assert_eq!(
        store.kept_rejections().unwrap(),
        [
            hcp_core::store::KeptRejections {
                source: "a".into(),
                kept: 3,
                evicted: 0
            },
            hcp_core::store::KeptRejections {
                source: "b".into(),
                kept: 1,
                evicted: 0
            },
        ]
    );
    // The fourth open one of a evicts a2, stepping over the replayed a1.
    let a5 = harness.record(keep("a", "a5"));
    let entries = store.read_after(a5, 10).unwrap();
    assert!(
        matches!(
            entries.as_slice(),
            [entry] if matches!(&entry.event, Event::RejectionResolved { resolution, .. } if resolution == "evicted")
        ),
        "{entries:?}"
    );
    // A batch of three evicts a3, a4 and a5, oldest first.
    let outcomes = store
        .submit(vec![keep("a", "a6"), keep("a", "a7"), keep("a", "a8")])
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Outcome::Recorded { .. }))
    );
    let open = |store: &Store| kept_payloads(store);
    let expected: Vec<(String, String)> = [("b", "b1"), ("a", "a6"), ("a", "a7"), ("a", "a8")]
        .iter()
        .map(|(source, payload)| (source.to_string(), payload.to_string()))
        .collect();
    assert_eq!(open(store), expected);
    assert_eq!(
        store.kept_rejections().unwrap()[0],
        hcp_core::store::KeptRejections {
            source: "a".into(),
            kept: 3,
            evicted: 4
        }
    );
    let before = store.projection_dump().unwrap();
    store.rebuild().unwrap();
    assert_same_dump(
        &before,
        &store.projection_dump().unwrap(),
        "kept rejections after rebuild",
    );
    assert_eq!(open(store), expected);
}
