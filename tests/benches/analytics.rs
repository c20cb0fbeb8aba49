//! Analytics benchmark: the metrics and the assessment of the whole demo city (平顶山市) over
//! millions of stored ratings, from the sled roll-up projections, against PostgreSQL 15 answering
//! the same questions over the same data in the same run. Prints medians, p95 and the ratios, the
//! storage size and the resident memory of each engine. Speed is reported, never asserted; equal
//! answers are asserted before anything is timed.
//!
//! The data: the demo city's master data and `HCP_BENCH_RATINGS` ratings (default 10,000,000)
//! from the demo simulator (`hcp_server::demo`, seeded) over 2025 with their service acts, and a
//! simulated desk that works every 差评's order through the closed loop (some late, some
//! appealed, some abandoned). Everything goes into sled through `Store::submit` in big batches;
//! every recorded rating and act is written to CSV as it is acknowledged, and the orders are
//! exported from the store at the end, so PostgreSQL gets exactly what sled holds (by COPY, into a
//! normalised schema). Both are kept under `target/bench-analytics/` and reused when a marker
//! says they are complete for the same parameters.
//!
//! Run with `make bench-analytics` (`HCP_BENCH_RATINGS=1000000` for a quick run,
//! `HCP_BENCH_REPEAT` repetitions per query, default 7; `HCP_BENCH_SEED`; `HCP_BENCH_COMPRESSION=1`
//! for zstd sled pages, a third of the disk at under half the load rate). PostgreSQL is
//! installed (Debian's 15) and started by `tests/benches/postgres.sh` when needed, and stopped
//! at the end. Measured here (schema 4): sled takes about 4 KB of disk per rating (the log with
//! sealed personal data, cases, indexes, orders) and loads about 6,600 commands/s (2.25
//! commands per rating), so 10 million ratings need about 40 GB and an hour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc, Weekday};
use hcp_core::assessment::{AssessedUnit, Candidate, assess};
use hcp_core::auth::Source;
use hcp_core::calendar::{Calendar, local_date};
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::event::PolicyDecision;
use hcp_core::metrics::{MetricSettings, Overdue, UnitMetrics};
use hcp_core::model::{Channel, Level, OrgKind, Rating, RatingFacts};
use hcp_core::pii::PiiKey;
use hcp_core::policy::{Hook, Limits, PhaseKind, PolicySet};
use hcp_core::store::{
    Command, Decider, Dim, LoopCommand, MasterChange, OrderCounts, Outcome, RollupGroup,
    RollupQuery, RollupRow, Store, StoreOptions,
};
use hcp_core::workflow::{CallOutcome, Disposition, Order, OrderChange, OrderState};
use hcp_server::demo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/pg.rs"]
mod pg;
use pg::Postgres;

/// Bumped whenever the generated data changes, so that an old data folder is not reused.
const DATA_VERSION: u32 = 1;
const YEAR: i32 = 2025;
/// Commands per `Store::submit` (one transaction and one flush each).
const CHUNK: usize = 8192;
/// China Standard Time, as the stored local dates use it.
const CHINA_OFFSET_HOURS: i64 = 8;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + chrono::Duration::hours(CHINA_OFFSET_HOURS)
}

fn at_local(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    (date.and_hms_opt(hour, minute, 0).unwrap() - chrono::Duration::hours(CHINA_OFFSET_HOURS))
        .and_utc()
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// The orders' state is read as of this instant: ten days after the year.
fn as_of() -> DateTime<Utc> {
    at_local(day(YEAR + 1, 1, 10), 0, 0)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn own_memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Proportional set size (shared buffers split fairly) of the postmaster and its children.
fn postgres_memory(pg_dir: &Path) -> u64 {
    let Some(postmaster) = std::fs::read_to_string(pg_dir.join("postmaster.pid"))
        .ok()
        .and_then(|text| {
            text.lines()
                .next()
                .and_then(|line| line.trim().parse::<u32>().ok())
        })
    else {
        return 0;
    };
    let pss = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with("Pss:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let mut total = pss(postmaster);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let parent = status
            .lines()
            .find(|line| line.starts_with("PPid:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if parent == Some(postmaster) {
            total += pss(pid);
        }
    }
    total
}

// ---------------------------------------------------------------------------------------------
// Parameters and folders

struct Params {
    ratings: u64,
    seed: u64,
    repeat: usize,
    compression: bool,
    root: PathBuf,
}

impl Params {
    fn from_env() -> Params {
        let ratings = env_or("HCP_BENCH_RATINGS", 10_000_000u64);
        let seed = env_or("HCP_BENCH_SEED", 2025u64);
        let compression = env_or("HCP_BENCH_COMPRESSION", 0u8) == 1;
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        // A data set is kept per store schema: another schema's folder would be refused.
        let root = target.join("bench-analytics").join(format!(
            "v{DATA_VERSION}-schema{}-n{ratings}-s{seed}{}",
            hcp_core::event::SCHEMA_VERSION,
            if compression { "-z" } else { "" }
        ));
        Params {
            ratings,
            seed,
            repeat: env_or("HCP_BENCH_REPEAT", 7usize).max(1),
            compression,
            root,
        }
    }

    fn sled_dir(&self) -> PathBuf {
        self.root.join("sled")
    }

    fn csv(&self, name: &str) -> PathBuf {
        self.root.join("csv").join(format!("{name}.tsv"))
    }

    fn marker(&self) -> PathBuf {
        self.root.join("complete.json")
    }

    fn pg_dir(&self) -> PathBuf {
        self.root.join("postgres")
    }

    fn store_options(&self) -> StoreOptions {
        StoreOptions {
            // Big enough that the roll-up tree and the open orders stay cached between runs.
            cache_bytes: 1 << 30,
            max_batch: CHUNK,
            compression: self.compression,
            ..StoreOptions::default()
        }
    }
}

fn pii_key() -> PiiKey {
    PiiKey::from_bytes([7; 32])
}

// ---------------------------------------------------------------------------------------------
// Loading sled (and writing what it acknowledged for PostgreSQL)

/// The deadline and route of every new 差评, as the server's decider asks them (without the
/// integrity flags and the invitation plans, which the analytics do not read).
struct BadReviewDecider {
    set: PolicySet,
}

impl Decider for BadReviewDecider {
    fn decide(
        &self,
        rating: &Rating,
        comment: Option<&str>,
        _facts: &RatingFacts,
    ) -> Vec<PolicyDecision> {
        let decide = |hook| hcp_server::app::rules::decide(&self.set, hook, rating, comment);
        match (rating.is_bad(), rating.assess_number) {
            (true, 1) => vec![decide(Hook::Deadline), decide(Hook::Routing)],
            (true, _) => vec![decide(Hook::Deadline)],
            _ => Vec::new(),
        }
    }
}

fn policies() -> PolicySet {
    let rules = hcp_e2e::rules_dir();
    let calendar = Arc::new(Calendar::load_dir(&rules.join("calendar")).unwrap());
    PolicySet::load(&rules, calendar, Limits::default()).unwrap()
}

/// The time a command happened at (what the clock must have reached to accept it).
fn command_time(command: &Command) -> DateTime<Utc> {
    match command {
        Command::Rating { input, .. } => input.rated_at,
        Command::Service { input, .. } => input.occurred_at,
        _ => DateTime::<Utc>::MIN_UTC,
    }
}

/// The next working day (weekends only; the desk ignores holidays) `days` after `date`.
fn working_days_after(mut date: NaiveDate, days: u32) -> NaiveDate {
    let mut left = days.max(1);
    while left > 0 {
        date = date.succ_opt().unwrap();
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    date
}

/// How a department treats one order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    Prompt,
    Slow,
    /// Accepted and then forgotten: it stays open and falls overdue.
    Abandoned,
}

/// The simulated handlers, reviewers and call-back agents: each visit reads the order and takes
/// its next step, the way `hcp demo`'s desk does, on working days at the end of the day.
struct Desk {
    rng: StdRng,
    visits: BinaryHeap<Reverse<(NaiveDate, u64)>>,
    pace: HashMap<u64, Pace>,
}

impl Desk {
    fn new(seed: u64) -> Desk {
        Desk {
            rng: StdRng::seed_from_u64(seed ^ 0x0de5_0de5),
            visits: BinaryHeap::new(),
            pace: HashMap::new(),
        }
    }

    fn opened(&mut self, order: u64, on: NaiveDate) {
        let roll = self.rng.gen_range(0..100);
        let pace = match roll {
            0..3 => Pace::Abandoned,
            3..15 => Pace::Slow,
            _ => Pace::Prompt,
        };
        self.pace.insert(order, pace);
        let first = working_days_after(on, self.rng.gen_range(1..=2));
        self.visits.push(Reverse((first, order)));
    }

    fn next_due(&self) -> Option<NaiveDate> {
        self.visits.peek().map(|Reverse((date, _))| *date)
    }

    fn gap(&mut self, order: u64, low: u32, high: u32) -> u32 {
        let days = self.rng.gen_range(low..=high);
        match self.pace.get(&order) {
            Some(Pace::Slow) => days * 3 + 2,
            _ => days,
        }
    }

    /// The steps of the visits due on `today`, each with the order it moves.
    fn work(&mut self, store: &Store, today: NaiveDate) -> Vec<(u64, Command)> {
        let mut commands = Vec::new();
        while let Some(Reverse((date, id))) = self.visits.peek().copied() {
            if date > today {
                break;
            }
            self.visits.pop();
            let Some(order) = store.order(id).unwrap() else {
                continue;
            };
            if let Some((actor, change, next)) = self.step(&order, today) {
                commands.push((
                    id,
                    Command::Loop(LoopCommand::ChangeOrder {
                        actor: actor.into(),
                        order_id: id,
                        change,
                        decision: None,
                    }),
                ));
                if let Some(next) = next {
                    self.visits
                        .push(Reverse((working_days_after(today, next), id)));
                }
            }
        }
        commands
    }

    /// Visit again after a refused step (a closed appeal window, a state moved by a 追评).
    fn retry(&mut self, order: u64, today: NaiveDate) {
        self.visits
            .push(Reverse((working_days_after(today, 1), order)));
    }

    fn step(
        &mut self,
        order: &Order,
        today: NaiveDate,
    ) -> Option<(&'static str, OrderChange, Option<u32>)> {
        let id = order.id;
        let pace = self.pace.get(&id).copied().unwrap_or(Pace::Prompt);
        let handler = "bench:handler";
        Some(match order.state {
            OrderState::Dispatched => (
                handler,
                OrderChange::Accept {
                    note: "受理".into(),
                },
                (pace != Pace::Abandoned).then(|| self.gap(id, 1, 2)),
            ),
            OrderState::Accepted if order.appeal.is_none() && self.rng.gen_bool(0.05) => (
                handler,
                OrderChange::Appeal {
                    reason: "评价与事实不符，评价人当日未到窗口办理".into(),
                    evidence: vec!["叫号记录".into(), "窗口录像".into()],
                },
                Some(self.gap(id, 2, 4)),
            ),
            OrderState::Accepted => (
                handler,
                OrderChange::Verify {
                    finding: "调取叫号记录，评价属实".into(),
                },
                Some(self.gap(id, 1, 3)),
            ),
            OrderState::Appealing => {
                let upheld = self.rng.gen_bool(0.45);
                (
                    "bench:reviewer",
                    OrderChange::DecideAppeal {
                        upheld,
                        note: if upheld {
                            "证据充分，申诉成立".into()
                        } else {
                            "证据不足，申诉不成立".into()
                        },
                    },
                    (!upheld).then_some(1),
                )
            }
            OrderState::Verified => {
                let roll = self.rng.gen_range(0..100);
                let disposition = match roll {
                    0..60 => Disposition::Immediate {
                        action: "高峰时段增开窗口，安排导办人员分流".into(),
                    },
                    60..85 => Disposition::Scheduled {
                        plan: "修订一次性告知单并组织培训".into(),
                        committed_date: today + chrono::Days::new(7),
                    },
                    _ => Disposition::Explained {
                        explanation: "该事项依法需要现场核验原件，已向评价人说明".into(),
                    },
                };
                let scheduled = matches!(disposition, Disposition::Scheduled { .. });
                let next = if scheduled {
                    self.gap(id, 2, 6)
                } else {
                    self.gap(id, 1, 2)
                };
                (handler, OrderChange::Dispose { disposition }, Some(next))
            }
            OrderState::Rectifying if order.problem.is_none() => (
                handler,
                OrderChange::Rectified {
                    action: "已按计划完成整改".into(),
                },
                Some(self.gap(id, 1, 2)),
            ),
            OrderState::Rectified => (
                handler,
                OrderChange::Feedback {
                    message: "您反映的问题已整改，感谢您的监督。".into(),
                },
                Some(self.gap(id, 1, 3)),
            ),
            OrderState::FeedbackGiven if order.needs_callback_sms() => return None,
            OrderState::FeedbackGiven => {
                let outcome = match self.rng.gen_range(0..100) {
                    0..76 => CallOutcome::Satisfied,
                    76..90 => CallOutcome::BasicallySatisfied,
                    90..93 => CallOutcome::Dissatisfied,
                    _ => CallOutcome::Unreachable,
                };
                (
                    "bench:callback",
                    OrderChange::Callback {
                        outcome,
                        note: "回访".into(),
                        deadlines: Vec::new(),
                        awaiting: Vec::new(),
                    },
                    Some(1),
                )
            }
            OrderState::CalledBack => (
                handler,
                OrderChange::Close {
                    root_cause: hcp_server::demo::desk::root_cause(&order.category),
                    action_taken: "已整改并回访".into(),
                },
                None,
            ),
            OrderState::Rectifying | OrderState::Closed => return None,
        })
    }
}

/// Tab-separated rows for PostgreSQL's COPY (text format); `\N` is NULL.
struct Tsv {
    out: BufWriter<std::fs::File>,
    rows: u64,
}

impl Tsv {
    fn create(path: &Path) -> Tsv {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        Tsv {
            out: BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap()),
            rows: 0,
        }
    }

    fn row(&mut self, fields: &[&str]) {
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                self.out.write_all(b"\t").unwrap();
            }
            self.out.write_all(field.as_bytes()).unwrap();
        }
        self.out.write_all(b"\n").unwrap();
        self.rows += 1;
    }

    fn finish(mut self) -> u64 {
        self.out.flush().unwrap();
        self.rows
    }
}

fn ts(at: DateTime<Utc>) -> String {
    local(at).format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("\\N")
}

fn flag(value: bool) -> &'static str {
    if value { "t" } else { "f" }
}

/// What the load produced, kept in the marker file.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct LoadReport {
    ratings: u64,
    services: u64,
    orders: u64,
    order_steps: u64,
    rejected: BTreeMap<String, u64>,
    commands: u64,
    load_seconds: f64,
    export_seconds: f64,
    per_day: u32,
    first_day: String,
    last_day: String,
}

/// Counts a refused command by its reason (device presses too close together, a step the
/// order's state no longer allows …).
fn note_rejection(report: &mut LoadReport, outcome: &Outcome) {
    if let Outcome::Rejected(error) = outcome {
        let reason = format!("{error:?}");
        let reason = reason
            .split([' ', '{', '('])
            .next()
            .unwrap_or("")
            .to_string();
        *report.rejected.entry(reason).or_default() += 1;
    }
}

/// A chunk of the history: commands of one China day, and the latest instant among them.
struct Chunk {
    date: NaiveDate,
    latest: DateTime<Utc>,
    commands: Vec<Command>,
}

/// Working days of the year (weekdays; the simulator ignores holidays too).
fn weekdays_in_year() -> u32 {
    let mut date = day(YEAR, 1, 1);
    let mut count = 0;
    while date.year() == YEAR {
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
        date = date.succ_opt().unwrap();
    }
    count
}

fn load(params: &Params) -> LoadReport {
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&params.root);
    std::fs::create_dir_all(&params.root).unwrap();
    let clock = Arc::new(ManualClock::new(at_local(day(YEAR, 1, 1), 0, 0)));
    let store = Store::open(
        &params.sled_dir(),
        pii_key(),
        clock.clone(),
        params.store_options(),
    )
    .unwrap();
    store.set_decider(Arc::new(BadReviewDecider { set: policies() }));

    let city = demo::city();
    let mut master: Vec<Command> = city
        .master
        .iter()
        .cloned()
        .map(|change| Command::Master {
            actor: "bench".into(),
            change,
        })
        .collect();
    master.push(Command::Master {
        actor: "bench".into(),
        change: MasterChange::Source(Source {
            id: demo::DEMO_SOURCE.into(),
            name: "演示评价器与业务系统".into(),
            adapter: String::new(),
            scope: demo::CITY_CODE.into(),
            key_hash: String::new(),
            disabled: false,
            kind: Default::default(),
            expected: false,
        }),
    });
    for outcome in store.submit(master).unwrap() {
        assert!(
            matches!(outcome, Outcome::Recorded { .. }),
            "master data refused: {outcome:?}"
        );
    }

    // Ratings per service act in the simulator: 95% are rated, plus a 追评 for some 差评.
    let per_day =
        (params.ratings as f64 / (f64::from(weekdays_in_year()) * 0.955) * 1.01).ceil() as u32;
    let end = at_local(day(YEAR, 12, 31), 23, 59);
    let target = params.ratings;
    let (sender, receiver) = mpsc::sync_channel::<Chunk>(4);
    let seed = params.seed;
    let generator = std::thread::spawn(move || {
        let mut simulator = demo::Simulator::new(city, seed);
        let mut ratings = 0u64;
        let mut chunk = Chunk {
            date: day(YEAR, 1, 1),
            latest: DateTime::<Utc>::MIN_UTC,
            commands: Vec::with_capacity(CHUNK),
        };
        for command in simulator.history(end, 365, per_day) {
            let at = command_time(&command);
            let date = local(at).date();
            if (date != chunk.date || chunk.commands.len() >= CHUNK) && !chunk.commands.is_empty() {
                let full = std::mem::replace(
                    &mut chunk,
                    Chunk {
                        date,
                        latest: DateTime::<Utc>::MIN_UTC,
                        commands: Vec::with_capacity(CHUNK),
                    },
                );
                if sender.send(full).is_err() {
                    return;
                }
            }
            chunk.date = date;
            chunk.latest = chunk.latest.max(at);
            let is_rating = matches!(command, Command::Rating { .. });
            chunk.commands.push(command);
            if is_rating {
                ratings += 1;
                if ratings >= target {
                    break;
                }
            }
        }
        let _ = sender.send(chunk);
    });

    let mut ratings_tsv = Tsv::create(&params.csv("rating"));
    let mut services_tsv = Tsv::create(&params.csv("service_act"));
    let mut desk = Desk::new(params.seed);
    let mut report = LoadReport {
        ratings: 0,
        services: 0,
        orders: 0,
        order_steps: 0,
        rejected: BTreeMap::new(),
        commands: 0,
        load_seconds: 0.0,
        export_seconds: 0.0,
        per_day,
        first_day: String::new(),
        last_day: String::new(),
    };
    let mut desk_day: Option<NaiveDate> = None;
    let mut last_print = Instant::now();
    // The desk works the days up to (not including) `until`, each at 18:00 or later.
    let run_desk = |desk: &mut Desk,
                    desk_day: &mut Option<NaiveDate>,
                    until: NaiveDate,
                    report: &mut LoadReport| {
        while let Some(due) = desk.next_due() {
            if due >= until {
                break;
            }
            let today = due.max(desk_day.unwrap_or(due));
            let steps = desk.work(&store, today);
            *desk_day = Some(today);
            if steps.is_empty() {
                continue;
            }
            clock.set(clock.now().max(at_local(today, 18, 0)));
            let (orders, commands): (Vec<u64>, Vec<Command>) = steps.into_iter().unzip();
            report.commands += commands.len() as u64;
            let outcomes = store.submit(commands).unwrap();
            for (order, outcome) in orders.into_iter().zip(outcomes) {
                match &outcome {
                    Outcome::Recorded { .. } => report.order_steps += 1,
                    _ => {
                        note_rejection(report, &outcome);
                        desk.retry(order, today);
                    }
                }
            }
        }
    };
    for chunk in receiver {
        run_desk(&mut desk, &mut desk_day, chunk.date, &mut report);
        if report.first_day.is_empty() {
            report.first_day = chunk.date.to_string();
        }
        report.last_day = chunk.date.to_string();
        clock.set(clock.now().max(chunk.latest));
        report.commands += chunk.commands.len() as u64;
        let outcomes = store.submit(chunk.commands.clone()).unwrap();
        for (command, outcome) in chunk.commands.iter().zip(&outcomes) {
            let Outcome::Recorded { seq } = outcome else {
                note_rejection(&mut report, outcome);
                continue;
            };
            match command {
                Command::Rating { input, .. } => {
                    report.ratings += 1;
                    let id = seq.to_string();
                    let assess = input.assess_number.to_string();
                    let level = input.level.index().to_string();
                    let channel = input.channel.index().to_string();
                    ratings_tsv.row(&[
                        &id,
                        &assess,
                        &level,
                        &channel,
                        flag(input.evaluator.real_name),
                        &ts(input.rated_at),
                        &input.area_code,
                        &input.department,
                        &input.task_code,
                        opt(&input.window),
                        opt(&input.staff),
                    ]);
                    if input.assess_number == 1 && input.level.is_bad() {
                        let order = store
                            .order_of_rating(*seq)
                            .unwrap()
                            .expect("a 差评 opens its order");
                        desk.opened(order.id, chunk.date);
                        report.orders += 1;
                    }
                }
                Command::Service { input, .. } => {
                    report.services += 1;
                    let number = input.service_number.to_string();
                    services_tsv.row(&[
                        &input.project_no,
                        &number,
                        &ts(input.occurred_at),
                        &input.area_code,
                        &input.department,
                        &input.task_code,
                        opt(&input.window),
                        opt(&input.staff),
                    ]);
                }
                _ => {}
            }
        }
        if last_print.elapsed() > Duration::from_secs(30) {
            last_print = Instant::now();
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "  loading: {} {:>10} ratings {:>10} acts {:>8} order steps, {:>7.0} commands/s",
                chunk.date,
                report.ratings,
                report.services,
                report.order_steps,
                report.commands as f64 / seconds
            );
        }
    }
    generator.join().unwrap();
    // The desk goes on until the instant the metrics read the orders at.
    run_desk(&mut desk, &mut desk_day, local(as_of()).date(), &mut report);
    ratings_tsv.finish();
    services_tsv.finish();
    report.load_seconds = started.elapsed().as_secs_f64();

    let exported = Instant::now();
    let mut orders_tsv = Tsv::create(&params.csv("work_order"));
    let orders = store.orders(None, usize::MAX, |_| true).unwrap();
    for order in &orders {
        // The facts the roll-ups counted for the order (each once, when it first held).
        let fact = |bucket: u32| flag(order.counted & (1 << bucket) != 0);
        let rectify = order.deadline(PhaseKind::Rectify);
        let due = rectify.map(|deadline| ts(deadline.due));
        let done = rectify.and_then(|deadline| deadline.done_at).map(ts);
        let id = order.id.to_string();
        let rating = order.rating_id.map(|id| id.to_string());
        orders_tsv.row(&[
            &id,
            opt(&rating),
            &ts(order.received_at),
            flag(order.is_open()),
            opt(&due),
            opt(&done),
            fact(2),
            fact(3),
            fact(6),
            fact(7),
            fact(8),
            fact(9),
            fact(10),
            fact(11),
            fact(13),
        ]);
    }
    orders_tsv.finish();
    report.export_seconds = exported.elapsed().as_secs_f64();
    store.close().unwrap();
    drop(store);
    std::fs::write(params.marker(), serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    report
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_SHARED_BUFFERS: &str = "4GB";
const PG_WORK_MEM: &str = "256MB";

/// The normalised schema: master data (org units with their parent, staff, items), a region
/// dimension with its levels, service acts, ratings and work orders. Times are China local
/// (`timestamp` without zone), as the system's users read them.
const SCHEMA: &str = "
CREATE TABLE org_unit (id text PRIMARY KEY, kind text NOT NULL, name text NOT NULL, parent text);
CREATE TABLE staff (id text PRIMARY KEY, department text NOT NULL, window_id text);
CREATE TABLE item (task_code text PRIMARY KEY, department text NOT NULL);
-- A region code with its ancestors by level (the org tree has four region levels).
CREATE TABLE region (code text PRIMARY KEY, city text, county text, township text, village text);
CREATE TABLE service_act (
  project_no text NOT NULL, service_number smallint NOT NULL, occurred_at timestamp NOT NULL,
  area_code text NOT NULL, department text NOT NULL, item text NOT NULL, window_id text, staff text,
  PRIMARY KEY (project_no, service_number));
CREATE TABLE rating (
  id bigint PRIMARY KEY, assess_number smallint NOT NULL, level smallint NOT NULL,
  channel smallint NOT NULL, real_name boolean NOT NULL, rated_at timestamp NOT NULL,
  area_code text NOT NULL, department text NOT NULL, item text NOT NULL, window_id text, staff text,
  invalid boolean NOT NULL DEFAULT false);
-- A 差评's work order: its state and rectification deadline, and the milestones it reached
-- (rectified, on time, fed back, called back, evaluated, satisfied, closed, appeal upheld,
-- blameless cause), each true once reached.
CREATE TABLE work_order (
  id bigint PRIMARY KEY, rating_id bigint NOT NULL, received_at timestamp NOT NULL,
  open boolean NOT NULL, rectify_due timestamp, rectify_done_at timestamp,
  rectified boolean NOT NULL, rectified_on_time boolean NOT NULL, fed_back boolean NOT NULL,
  called_back boolean NOT NULL, evaluated boolean NOT NULL, satisfied boolean NOT NULL,
  closed boolean NOT NULL, appeal_upheld boolean NOT NULL, blameless boolean NOT NULL);
";

/// What a DBA would add for these queries: time-range indexes (the tables are in time order,
/// so a range is a contiguous run of the heap), (area, time) for one region's days, the order's
/// rating, and a partial index on the open orders.
const INDEXES: &[&str] = &[
    "CREATE INDEX rating_rated_at ON rating (rated_at)",
    "CREATE INDEX rating_area_rated_at ON rating (area_code, rated_at)",
    "CREATE INDEX service_act_occurred_at ON service_act (occurred_at)",
    "CREATE INDEX service_act_area_occurred_at ON service_act (area_code, occurred_at)",
    "CREATE INDEX work_order_received_at ON work_order (received_at)",
    "CREATE UNIQUE INDEX work_order_rating ON work_order (rating_id)",
    "CREATE INDEX work_order_open ON work_order (received_at) WHERE open",
    "CREATE INDEX region_county ON region (county)",
];

fn copy_file(client: &mut impl postgres::GenericClient, table: &str, path: &Path) -> u64 {
    let mut writer = client.copy_in(&format!("COPY {table} FROM STDIN")).unwrap();
    let mut file = std::fs::File::open(path).unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).unwrap();
        if read == 0 {
            break;
        }
        writer.write_all(&buffer[..read]).unwrap();
    }
    writer.finish().unwrap()
}

/// Loads the data set into PostgreSQL unless it holds it already. Returns the seconds it took
/// (0 when reused).
fn load_postgres(pg: &Postgres, params: &Params, master: &Master) -> f64 {
    let mut client = pg.connect();
    let marker = format!("v{DATA_VERSION} {} {}", params.ratings, params.seed);
    let loaded = client
        .query_opt(
            "SELECT value FROM bench_meta WHERE key = 'data' AND value = $1",
            &[&marker],
        )
        .ok()
        .flatten()
        .is_some();
    if loaded {
        return 0.0;
    }
    let started = Instant::now();
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench_meta, org_unit, staff, item, region, service_act, rating, work_order",
        )
        .unwrap();
    let mut transaction = client.transaction().unwrap();
    transaction.batch_execute(SCHEMA).unwrap();
    let tmp = params.root.join("csv");
    let write = |name: &str, rows: Vec<Vec<String>>| {
        let path = tmp.join(format!("{name}.tsv"));
        let mut tsv = Tsv::create(&path);
        for row in rows {
            let fields: Vec<&str> = row.iter().map(String::as_str).collect();
            tsv.row(&fields);
        }
        tsv.finish();
        path
    };
    let null = |value: &Option<String>| value.clone().unwrap_or_else(|| "\\N".into());
    let org_rows = master
        .org
        .values()
        .map(|unit| {
            vec![
                unit.id.clone(),
                format!("{:?}", unit.kind).to_lowercase(),
                unit.name.clone(),
                null(&unit.parent),
            ]
        })
        .collect();
    let staff_rows = master
        .staff
        .iter()
        .map(|staff| {
            vec![
                staff.id.clone(),
                staff.department.clone(),
                null(&staff.window),
            ]
        })
        .collect();
    let item_rows = master
        .items
        .iter()
        .map(|item| vec![item.task_code.clone(), item.department.clone()])
        .collect();
    let region_rows = master
        .org
        .values()
        .filter(|unit| unit.kind.is_region())
        .map(|unit| {
            let mut levels: [Option<String>; 4] = Default::default();
            let mut next = Some(unit.id.clone());
            while let Some(id) = next {
                let ancestor = &master.org[&id];
                let slot = match ancestor.kind {
                    OrgKind::City => 0,
                    OrgKind::County => 1,
                    OrgKind::Township => 2,
                    _ => 3,
                };
                levels[slot] = Some(ancestor.id.clone());
                next = ancestor.parent.clone();
            }
            let mut row = vec![unit.id.clone()];
            row.extend(levels.iter().map(null));
            row
        })
        .collect();
    for (table, rows) in [
        ("org_unit", org_rows),
        ("staff", staff_rows),
        ("item", item_rows),
        ("region", region_rows),
    ] {
        let path = write(table, rows);
        copy_file(&mut transaction, table, &path);
    }
    for table in ["service_act", "rating", "work_order"] {
        let target = if table == "rating" {
            "rating (id, assess_number, level, channel, real_name, rated_at, area_code, department, item, window_id, staff)"
        } else {
            table
        };
        copy_file(&mut transaction, target, &params.csv(table));
    }
    // An upheld appeal takes its rating out of the assessment metrics.
    transaction
        .execute(
            "UPDATE rating SET invalid = true FROM work_order
             WHERE work_order.rating_id = rating.id AND work_order.appeal_upheld",
            &[],
        )
        .unwrap();
    // Built in the loading transaction too, so that (wal_level=minimal) they skip the WAL.
    for index in INDEXES {
        transaction.batch_execute(index).unwrap();
    }
    transaction.commit().unwrap();
    client
        .batch_execute(
            "VACUUM (ANALYZE) org_unit, staff, item, region, service_act, rating, work_order",
        )
        .unwrap();
    client
        .batch_execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        .unwrap();
    client
        .execute("INSERT INTO bench_meta VALUES ('data', $1)", &[&marker])
        .unwrap();
    client.batch_execute("CHECKPOINT").unwrap();
    started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// The queries, on both engines

/// Master data as both engines need it to name units.
struct Master {
    org: BTreeMap<String, hcp_core::model::OrgUnit>,
    staff: Vec<hcp_core::model::Staff>,
    items: Vec<hcp_core::model::ServiceItem>,
}

impl Master {
    fn read(store: &Store) -> Master {
        Master {
            org: store
                .org_units()
                .unwrap()
                .into_iter()
                .map(|unit| (unit.id.clone(), unit))
                .collect(),
            staff: store.staff_list().unwrap(),
            items: store.items().unwrap(),
        }
    }

    /// Every unit of the city along every dimension ratings are filed under.
    fn all_units(&self) -> Vec<(Dim, String)> {
        let mut units: Vec<(Dim, String)> = self
            .org
            .values()
            .map(|unit| {
                let dim = match unit.kind {
                    OrgKind::City | OrgKind::County | OrgKind::Township | OrgKind::Village => {
                        Dim::Region
                    }
                    OrgKind::Hall | OrgKind::ServicePoint => Dim::Hall,
                    OrgKind::Department => Dim::Department,
                    OrgKind::Window => Dim::Window,
                };
                (dim, unit.id.clone())
            })
            .collect();
        units.extend(
            self.staff
                .iter()
                .map(|staff| (Dim::Staff, staff.id.clone())),
        );
        units.extend(
            self.items
                .iter()
                .map(|item| (Dim::Item, item.task_code.clone())),
        );
        units
    }

    fn units_of(&self, kind: OrgKind) -> Vec<String> {
        self.org
            .values()
            .filter(|unit| unit.kind == kind)
            .map(|unit| unit.id.clone())
            .collect()
    }

    /// The county whose rules assess a unit: its nearest county above (the city's for units
    /// of the city itself).
    fn county_of(&self, id: &str) -> String {
        let mut next = Some(id.to_string());
        let mut city = demo::CITY_CODE.to_string();
        while let Some(id) = next {
            let Some(unit) = self.org.get(&id) else {
                break;
            };
            match unit.kind {
                OrgKind::County => return unit.id.clone(),
                OrgKind::City => city = unit.id.clone(),
                _ => {}
            }
            next = unit.parent.clone();
        }
        city
    }

    fn candidates(&self, units: &[String], metrics: Vec<UnitMetrics>) -> Vec<Candidate> {
        units
            .iter()
            .zip(metrics)
            .map(|(unit, metrics)| Candidate {
                unit: unit.clone(),
                name: self.org[unit].name.clone(),
                county: self.county_of(unit),
                metrics,
            })
            .collect()
    }
}

fn dim_code(dim: Dim) -> i16 {
    i16::from(dim.byte())
}

/// Adds counts of first ratings, 追评 and invalid ones to a roll-up row, the way the sled
/// roll-up reader folds its buckets.
#[allow(clippy::too_many_arguments)]
fn add_ratings(
    row: &mut RollupRow,
    assess: i16,
    level: i16,
    channel: i16,
    real_name: bool,
    invalid: bool,
    count: u64,
) {
    let level = Level::from_index(u8::try_from(level).unwrap()).unwrap();
    let channel = Channel::from_index(u8::try_from(channel).unwrap()).unwrap();
    if assess != 1 {
        row.follow_ups += count;
        return;
    }
    row.ratings += count;
    *row.by_level.entry(level).or_default() += count;
    *row.by_channel.entry(channel).or_default() += count;
    if channel.is_default() {
        row.default_ratings += count;
    }
    if level.is_bad() {
        row.bad += count;
        if real_name {
            row.real_name_bad += count;
        }
    }
    if invalid {
        row.invalid += count;
        *row.invalid_by_level.entry(level).or_default() += count;
        if level.is_bad() {
            row.invalid_bad += count;
            if real_name {
                row.invalid_real_name_bad += count;
            }
        }
    }
}

fn as_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap()
}

fn add_orders(row: &mut RollupRow, overdue: &mut Overdue, sql: &postgres::Row, first: usize) {
    let get = |index: usize| as_u64(sql.get::<_, i64>(first + index));
    let orders = &mut row.orders;
    *orders = OrderCounts {
        orders: orders.orders + get(0),
        real_name_orders: orders.real_name_orders + get(1),
        rectified: orders.rectified + get(2),
        rectified_on_time: orders.rectified_on_time + get(3),
        real_name_rectified: orders.real_name_rectified + get(4),
        real_name_rectified_on_time: orders.real_name_rectified_on_time + get(5),
        fed_back: orders.fed_back + get(6),
        called_back: orders.called_back + get(7),
        evaluated: orders.evaluated + get(8),
        satisfied: orders.satisfied + get(9),
        closed: orders.closed + get(10),
        appeal_upheld: orders.appeal_upheld + get(11),
        real_name_appeal_upheld: orders.real_name_appeal_upheld + get(12),
        blameless: orders.blameless + get(13),
    };
    overdue.orders += get(14);
    overdue.real_name_orders += get(15);
}

/// The order counters of a group, in `add_orders`' order; `$3` is the as-of instant.
const ORDER_COUNTS: [&str; 16] = [
    "count(*)",
    "count(*) FILTER (WHERE r.real_name)",
    "count(*) FILTER (WHERE o.rectified)",
    "count(*) FILTER (WHERE o.rectified_on_time)",
    "count(*) FILTER (WHERE o.rectified AND r.real_name)",
    "count(*) FILTER (WHERE o.rectified_on_time AND r.real_name)",
    "count(*) FILTER (WHERE o.fed_back)",
    "count(*) FILTER (WHERE o.called_back)",
    "count(*) FILTER (WHERE o.evaluated)",
    "count(*) FILTER (WHERE o.satisfied)",
    "count(*) FILTER (WHERE o.closed)",
    "count(*) FILTER (WHERE o.appeal_upheld)",
    "count(*) FILTER (WHERE o.appeal_upheld AND r.real_name)",
    "count(*) FILTER (WHERE o.blameless)",
    "count(*) FILTER (WHERE o.open AND o.rectify_done_at IS NULL AND o.rectify_due <= $3)",
    "count(*) FILTER (WHERE o.open AND o.rectify_done_at IS NULL AND o.rectify_due <= $3 \
     AND r.real_name)",
];

/// The unit columns of the grouping sets and the dimension each names: the region levels come
/// from the region dimension, the hall is the window's parent, the rest is the row's own.
const UNIT_COLUMNS: [(&str, Dim); 9] = [
    ("g.city", Dim::Region),
    ("g.county", Dim::Region),
    ("g.township", Dim::Region),
    ("g.village", Dim::Region),
    ("b.department", Dim::Department),
    ("b.item", Dim::Item),
    ("w.parent", Dim::Hall),
    ("b.window_id", Dim::Window),
    ("b.staff", Dim::Staff),
];

/// Prepared statements for the metrics of every unit along some dimensions. Each first
/// aggregates the period's rows by their attribution (one scan; a few thousand groups), then
/// rolls those up along every asked dimension with one grouping set per unit column; the
/// dimension tables are joined to the small pre-aggregate, not to the rows.
struct UnitQueries {
    columns: Vec<(&'static str, Dim)>,
    ratings: postgres::Statement,
    services: postgres::Statement,
    orders: postgres::Statement,
}

impl UnitQueries {
    fn prepare(client: &mut postgres::Client, dims: &[Dim]) -> UnitQueries {
        let columns: Vec<(&'static str, Dim)> = UNIT_COLUMNS
            .iter()
            .filter(|(_, dim)| dims.contains(dim))
            .copied()
            .collect();
        let wants = |dim: Dim| dims.contains(&dim);
        let mut attribution = Vec::new();
        if wants(Dim::Region) {
            attribution.push("area_code");
        }
        if wants(Dim::Department) {
            attribution.push("department");
        }
        if wants(Dim::Item) {
            attribution.push("item");
        }
        if wants(Dim::Hall) || wants(Dim::Window) {
            attribution.push("window_id");
        }
        if wants(Dim::Staff) {
            attribution.push("staff");
        }
        let base = |alias: &str| {
            attribution
                .iter()
                .map(|column| format!("{alias}.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut joins = String::new();
        if wants(Dim::Region) {
            joins.push_str(" JOIN region g ON g.code = b.area_code");
        }
        if wants(Dim::Hall) {
            joins.push_str(" LEFT JOIN org_unit w ON w.id = b.window_id");
        }
        let unit_list = columns
            .iter()
            .map(|(column, _)| *column)
            .collect::<Vec<_>>()
            .join(", ");
        let unit = format!("GROUPING({unit_list})::int, COALESCE({unit_list})");
        let sets = |keys: &str| {
            columns
                .iter()
                .map(|(column, _)| {
                    if keys.is_empty() {
                        format!("({column})")
                    } else {
                        format!("({column}, {keys})")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let keys = "assess_number, level, channel, real_name, invalid";
        let keys_of = |alias: &str| {
            keys.split(", ")
                .map(|key| format!("{alias}.{key}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ratings = format!(
            "WITH b AS (SELECT {x}, {x_keys}, count(*) AS n FROM rating x
               WHERE x.rated_at >= $1 AND x.rated_at < $2 GROUP BY {x}, {x_keys})
             SELECT {unit}, {b_keys}, sum(b.n)::bigint FROM b{joins}
             GROUP BY GROUPING SETS ({sets})",
            x = base("x"),
            x_keys = keys_of("x"),
            b_keys = keys_of("b"),
            sets = sets(&keys_of("b")),
        );
        let services = format!(
            "WITH b AS (SELECT {x}, count(*) AS n FROM service_act x
               WHERE x.occurred_at >= $1 AND x.occurred_at < $2 GROUP BY {x})
             SELECT {unit}, sum(b.n)::bigint FROM b{joins} GROUP BY GROUPING SETS ({sets})",
            x = base("x"),
            sets = sets(""),
        );
        let counts = ORDER_COUNTS
            .iter()
            .enumerate()
            .map(|(index, count)| format!("{count} AS c{index}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sums = (0..ORDER_COUNTS.len())
            .map(|index| format!("sum(b.c{index})::bigint"))
            .collect::<Vec<_>>()
            .join(", ");
        let orders = format!(
            "WITH b AS (SELECT {r}, {counts} FROM work_order o JOIN rating r ON r.id = o.rating_id
               WHERE o.received_at >= $1 AND o.received_at < $2 GROUP BY {r})
             SELECT {unit}, {sums} FROM b{joins} GROUP BY GROUPING SETS ({sets})",
            r = base("r"),
            sets = sets(""),
        );
        UnitQueries {
            columns,
            ratings: client.prepare(&ratings).unwrap(),
            services: client.prepare(&services).unwrap(),
            orders: client.prepare(&orders).unwrap(),
        }
    }

    /// The dimension of a grouping-sets row: the bit of `GROUPING(...)` that is 0 (the first
    /// column is the highest bit) names the set's own column.
    fn dim_of(&self, grouping: i32) -> Dim {
        let count = self.columns.len();
        let position = (0..count)
            .find(|position| grouping & (1 << (count - 1 - position)) == 0)
            .unwrap();
        self.columns[position].1
    }
}

struct PgQueries {
    all: UnitQueries,
    departments: UnitQueries,
    windows: UnitQueries,
    county_ratings: postgres::Statement,
    county_services: postgres::Statement,
    county_orders: postgres::Statement,
}

impl PgQueries {
    fn prepare(client: &mut postgres::Client) -> PgQueries {
        let all = [
            Dim::Region,
            Dim::Hall,
            Dim::Department,
            Dim::Window,
            Dim::Staff,
            Dim::Item,
        ];
        let county_ratings = "SELECT x.rated_at::date AS day, x.assess_number, x.level, x.channel,
               x.real_name, x.invalid, count(*)
             FROM rating x JOIN region g ON g.code = x.area_code
             WHERE g.county = $3 AND x.rated_at >= $1 AND x.rated_at < $2
             GROUP BY 1, 2, 3, 4, 5, 6";
        let county_services = "SELECT x.occurred_at::date AS day, count(*)
             FROM service_act x JOIN region g ON g.code = x.area_code
             WHERE g.county = $3 AND x.occurred_at >= $1 AND x.occurred_at < $2
             GROUP BY 1";
        let county_orders = format!(
            "SELECT o.received_at::date AS day, {}
             FROM work_order o JOIN rating r ON r.id = o.rating_id
             JOIN region g ON g.code = r.area_code
             WHERE g.county = $4 AND o.received_at >= $1 AND o.received_at < $2
             GROUP BY 1",
            ORDER_COUNTS.join(", ")
        );
        PgQueries {
            all: UnitQueries::prepare(client, &all),
            departments: UnitQueries::prepare(client, &[Dim::Department]),
            windows: UnitQueries::prepare(client, &[Dim::Window]),
            county_ratings: client.prepare(county_ratings).unwrap(),
            county_services: client.prepare(county_services).unwrap(),
            county_orders: client.prepare(&county_orders).unwrap(),
        }
    }

    /// The narrowest statements that cover the units' dimensions.
    fn for_units(&self, units: &[(Dim, String)]) -> &UnitQueries {
        if units.iter().all(|(dim, _)| *dim == Dim::Department) {
            &self.departments
        } else if units.iter().all(|(dim, _)| *dim == Dim::Window) {
            &self.windows
        } else {
            &self.all
        }
    }
}

/// `[from 00:00, to + 1 day 00:00)` in China local time.
fn local_range(from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    (
        from.and_hms_opt(0, 0, 0).unwrap(),
        to.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap(),
    )
}

type Groups = HashMap<(i16, String), (RollupRow, Overdue)>;

/// The counters of one grouping-sets row's unit; `None` for the NULL unit of a set (ratings
/// without a window, staff member or township).
fn group_entry<'a>(
    rows: &'a mut Groups,
    queries: &UnitQueries,
    grouping: i32,
    unit: Option<String>,
) -> Option<&'a mut (RollupRow, Overdue)> {
    let unit = unit?;
    Some(
        rows.entry((dim_code(queries.dim_of(grouping)), unit))
            .or_default(),
    )
}

/// The metrics of `units` over `from..=to` computed by PostgreSQL: three grouping-sets queries
/// (ratings, service acts, orders with the overdue ones) along the units' dimensions, folded into the same roll-up rows the
/// sled reader produces, then the same `UnitMetrics::compute`.
fn pg_unit_metrics(
    client: &mut postgres::Client,
    queries: &PgQueries,
    units: &[(Dim, String)],
    from: NaiveDate,
    to: NaiveDate,
    settings: &MetricSettings,
) -> Vec<UnitMetrics> {
    let queries = queries.for_units(units);
    let (start, end) = local_range(from, to);
    let as_of = local(as_of());
    let mut rows = Groups::new();
    for sql in client.query(&queries.ratings, &[&start, &end]).unwrap() {
        if let Some((row, _)) = group_entry(&mut rows, queries, sql.get(0), sql.get(1)) {
            add_ratings(
                row,
                sql.get(2),
                sql.get(3),
                sql.get(4),
                sql.get(5),
                sql.get(6),
                as_u64(sql.get(7)),
            );
        }
    }
    for sql in client.query(&queries.services, &[&start, &end]).unwrap() {
        if let Some((row, _)) = group_entry(&mut rows, queries, sql.get(0), sql.get(1)) {
            row.services += as_u64(sql.get(2));
        }
    }
    for sql in client
        .query(&queries.orders, &[&start, &end, &as_of])
        .unwrap()
    {
        if let Some((row, overdue)) = group_entry(&mut rows, queries, sql.get(0), sql.get(1)) {
            add_orders(row, overdue, &sql, 2);
        }
    }
    units
        .iter()
        .map(|(dim, unit)| {
            let (row, overdue) = rows
                .remove(&(dim_code(*dim), unit.clone()))
                .unwrap_or_default();
            UnitMetrics::compute(&row, overdue, settings)
        })
        .collect()
}

/// One county's metrics for each day of `from..=to`, by PostgreSQL.
fn pg_county_days(
    client: &mut postgres::Client,
    queries: &PgQueries,
    county: &str,
    from: NaiveDate,
    to: NaiveDate,
    settings: &MetricSettings,
) -> BTreeMap<NaiveDate, UnitMetrics> {
    let (start, end) = local_range(from, to);
    let as_of = local(as_of());
    let mut days: BTreeMap<NaiveDate, (RollupRow, Overdue)> = BTreeMap::new();
    for sql in client
        .query(&queries.county_ratings, &[&start, &end, &county])
        .unwrap()
    {
        let (row, _) = days.entry(sql.get(0)).or_default();
        add_ratings(
            row,
            sql.get(1),
            sql.get(2),
            sql.get(3),
            sql.get(4),
            sql.get(5),
            as_u64(sql.get(6)),
        );
    }
    for sql in client
        .query(&queries.county_services, &[&start, &end, &county])
        .unwrap()
    {
        days.entry(sql.get(0)).or_default().0.services += as_u64(sql.get(1));
    }
    for sql in client
        .query(&queries.county_orders, &[&start, &end, &as_of, &county])
        .unwrap()
    {
        let (row, overdue) = days.entry(sql.get(0)).or_default();
        add_orders(row, overdue, &sql, 1);
    }
    days.into_iter()
        .map(|(date, (row, overdue))| (date, UnitMetrics::compute(&row, overdue, settings)))
        .collect()
}

/// One county's metrics for each day, from sled: the roll-up grouped by day (one range scan)
/// and one pass over the open orders for the overdue ones.
fn sled_county_days(
    store: &Store,
    county: &str,
    from: NaiveDate,
    to: NaiveDate,
    settings: &MetricSettings,
) -> BTreeMap<NaiveDate, UnitMetrics> {
    let as_of = as_of();
    let rows = store
        .rollup(&RollupQuery {
            dim: Dim::Region,
            unit: county.to_string(),
            from,
            to,
            group: RollupGroup::Day,
        })
        .unwrap();
    let mut overdue: BTreeMap<NaiveDate, Overdue> = BTreeMap::new();
    for order in store.open_orders().unwrap() {
        let received = local_date(order.received_at);
        if received < from || received > to || !order.regions.iter().any(|r| r == county) {
            continue;
        }
        let late = order
            .deadline(PhaseKind::Rectify)
            .is_some_and(|deadline| deadline.done_at.is_none() && as_of >= deadline.due);
        if late {
            let count = overdue.entry(received).or_default();
            count.orders += 1;
            count.real_name_orders += u64::from(order.real_name);
        }
    }
    rows.into_iter()
        .map(|row| {
            let date: NaiveDate = row.group.parse().unwrap();
            let late = overdue.remove(&date).unwrap_or_default();
            (date, UnitMetrics::compute(&row, late, settings))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Timing and the report

struct Timing {
    name: String,
    sled: Vec<Duration>,
    postgres: Vec<Duration>,
}

fn time<T>(repeat: usize, mut run: impl FnMut() -> T) -> Vec<Duration> {
    // One warm-up run, then the measured ones.
    std::hint::black_box(run());
    let mut times: Vec<Duration> = (0..repeat)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(run());
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Either engine's metrics of a list of units for the assessed month.
type MetricsOf<'a> = dyn FnMut(&[(Dim, String)]) -> Vec<UnitMetrics> + 'a;

fn assessment(
    set: &PolicySet,
    master: &Master,
    period: &str,
    departments: &[String],
    windows: &[String],
    metrics: &mut MetricsOf<'_>,
) -> (Vec<AssessedUnit>, Vec<AssessedUnit>) {
    let units = |dim: Dim, ids: &[String]| -> Vec<(Dim, String)> {
        ids.iter().map(|id| (dim, id.clone())).collect()
    };
    let department_metrics = metrics(&units(Dim::Department, departments));
    let window_metrics = metrics(&units(Dim::Window, windows));
    (
        assess(
            set,
            period,
            "department",
            master.candidates(departments, department_metrics),
        ),
        assess(
            set,
            period,
            "window",
            master.candidates(windows, window_metrics),
        ),
    )
}

fn main() {
    // `cargo test --all-targets` builds benches and runs them without `--bench`: do nothing
    // then, the data set takes minutes to build.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("analytics benchmark: run with `make bench-analytics`");
        return;
    }
    let params = Params::from_env();
    println!(
        "analytics benchmark: {} ratings, seed {}, {} repetitions per query, data in {}",
        params.ratings,
        params.seed,
        params.repeat,
        params.root.display()
    );

    // 1. sled, loaded through the real submit path (or reused).
    let report: LoadReport = match std::fs::read(params.marker())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    {
        Some(report) => {
            println!(
                "reusing the loaded data set (marker {})",
                params.marker().display()
            );
            report
        }
        None => {
            println!("loading sled through Store::submit ({CHUNK} commands per batch) …");
            load(&params)
        }
    };
    println!(
        "data set: {} ratings, {} service acts, {} 差评 orders ({} desk steps), {} commands, {} .. {}; loaded in {:.0} s ({:.0} commands/s), orders exported in {:.1} s; refused: {:?}",
        report.ratings,
        report.services,
        report.orders,
        report.order_steps,
        report.commands,
        report.first_day,
        report.last_day,
        report.load_seconds,
        report.commands as f64 / report.load_seconds,
        report.export_seconds,
        report.rejected
    );
    let clock = Arc::new(ManualClock::new(as_of()));
    let store = Store::open(&params.sled_dir(), pii_key(), clock, params.store_options()).unwrap();
    let master = Master::read(&store);
    let sled_bytes = dir_size(&params.sled_dir());

    // 2. PostgreSQL, started here and loaded by COPY (or reused).
    let pg = Postgres::start(&params.pg_dir(), PG_SHARED_BUFFERS, PG_WORK_MEM);
    let pg_load = load_postgres(&pg, &params, &master);
    let mut client = pg.connect();
    let pg_bytes: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .unwrap()
        .get(0);
    let table_sizes: Vec<(String, i64, i64)> = client
        .query(
            "SELECT relname::text, pg_table_size(oid), pg_indexes_size(oid) FROM pg_class
             WHERE relname IN ('rating', 'service_act', 'work_order') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    if pg_load > 0.0 {
        println!("PostgreSQL loaded by COPY, indexed and analysed in {pg_load:.0} s");
    } else {
        println!("reusing the loaded PostgreSQL cluster");
    }
    let queries = PgQueries::prepare(&mut client);

    let settings = MetricSettings::default();
    let set = policies();
    let all = master.all_units();
    let month = (day(YEAR, 6, 1), day(YEAR, 6, 30));
    let year = (day(YEAR, 1, 1), day(YEAR, 12, 31));
    let county = "410421";
    let departments = master.units_of(OrgKind::Department);
    let windows = master.units_of(OrgKind::Window);
    let as_of = as_of();

    // 3. Same answers first: a benchmark comparing different answers is worthless.
    for (label, (from, to)) in [("month", month), ("year", year)] {
        let sled = store
            .unit_metrics(&all, from, to, as_of, &settings)
            .unwrap();
        let postgres = pg_unit_metrics(&mut client, &queries, &all, from, to, &settings);
        for ((unit, left), right) in all.iter().zip(&sled).zip(&postgres) {
            assert_eq!(left, right, "{label}: metrics of {unit:?} differ");
        }
        let city = all
            .iter()
            .position(|(dim, id)| *dim == Dim::Region && id == demo::CITY_CODE)
            .unwrap();
        let metrics = &sled[city];
        println!(
            "same answers ({label}, {} units): city services {}, ratings {}, 差评 {}, invalid {}, orders {}, rectified on time {}, overdue {}",
            all.len(),
            metrics.services,
            metrics.ratings,
            metrics.bad,
            metrics.invalid,
            metrics.orders.orders,
            metrics.orders.rectified_on_time,
            metrics.overdue.orders
        );
    }
    let sled_days = sled_county_days(&store, county, year.0, year.1, &settings);
    let pg_days = pg_county_days(&mut client, &queries, county, year.0, year.1, &settings);
    assert_eq!(sled_days.len(), pg_days.len(), "days of {county} differ");
    assert_eq!(sled_days, pg_days, "daily metrics of {county} differ");
    // The assessment of June by either engine, checked here and timed below.
    let sled_assessment = || {
        assessment(
            &set,
            &master,
            "2025-06",
            &departments,
            &windows,
            &mut |units| {
                store
                    .unit_metrics(units, month.0, month.1, as_of, &settings)
                    .unwrap()
            },
        )
    };
    let pg_assessment = |client: &mut postgres::Client| {
        assessment(
            &set,
            &master,
            "2025-06",
            &departments,
            &windows,
            &mut |units| pg_unit_metrics(client, &queries, units, month.0, month.1, &settings),
        )
    };
    let sled_assessed = sled_assessment();
    let pg_assessed = pg_assessment(&mut client);
    assert_eq!(sled_assessed, pg_assessed, "assessments differ");
    let vetoed = sled_assessed
        .0
        .iter()
        .chain(&sled_assessed.1)
        .filter(|unit| unit.vetoed)
        .count();
    println!(
        "same answers (county {county} by day): {} days; assessment 2025-06: {} departments, {} windows, {vetoed} vetoed, best department {} ({})",
        sled_days.len(),
        sled_assessed.0.len(),
        sled_assessed.1.len(),
        sled_assessed.0[0].name,
        sled_assessed.0[0]
            .score
            .as_ref()
            .map(|score| score.total.to_string())
            .unwrap_or_default()
    );

    // 4. Timings, warm.
    let repeat = params.repeat;
    let mut timings = Vec::new();
    for (label, (from, to)) in [
        ("(a) all units, month", month),
        ("(a) all units, year", year),
    ] {
        let sled = time(repeat, || {
            store
                .unit_metrics(&all, from, to, as_of, &settings)
                .unwrap()
        });
        let postgres = time(repeat, || {
            pg_unit_metrics(&mut client, &queries, &all, from, to, &settings)
        });
        timings.push(Timing {
            name: format!("{label} ({} units)", all.len()),
            sled,
            postgres,
        });
    }
    let sled = time(repeat, sled_assessment);
    let postgres = time(repeat, || pg_assessment(&mut client));
    timings.push(Timing {
        name: format!(
            "(b) assessment, month ({} depts + {} windows)",
            departments.len(),
            windows.len()
        ),
        sled,
        postgres,
    });
    let sled_metrics = store
        .unit_metrics(
            &departments
                .iter()
                .map(|id| (Dim::Department, id.clone()))
                .chain(windows.iter().map(|id| (Dim::Window, id.clone())))
                .collect::<Vec<_>>(),
            month.0,
            month.1,
            as_of,
            &settings,
        )
        .unwrap();
    let (department_metrics, window_metrics) = sled_metrics.split_at(departments.len());
    let hooks_only = time(repeat, || {
        (
            assess(
                &set,
                "2025-06",
                "department",
                master.candidates(&departments, department_metrics.to_vec()),
            ),
            assess(
                &set,
                "2025-06",
                "window",
                master.candidates(&windows, window_metrics.to_vec()),
            ),
        )
    });
    let sled = time(repeat, || {
        sled_county_days(&store, county, year.0, year.1, &settings)
    });
    let postgres = time(repeat, || {
        pg_county_days(&mut client, &queries, county, year.0, year.1, &settings)
    });
    timings.push(Timing {
        name: format!("(c) county {county} by day, year"),
        sled,
        postgres,
    });

    let (rss, peak) = own_memory();
    let pg_memory = postgres_memory(&params.pg_dir());
    println!();
    println!(
        "{:<48} {:>11} {:>11} {:>11} {:>11} {:>12}",
        "query", "sled p50", "sled p95", "pg p50", "pg p95", "pg/sled p50"
    );
    for timing in &timings {
        let sled50 = percentile(&timing.sled, 0.5);
        let pg50 = percentile(&timing.postgres, 0.5);
        println!(
            "{:<48} {:>8.1} ms {:>8.1} ms {:>8.1} ms {:>8.1} ms {:>11.1}×",
            timing.name,
            ms(sled50),
            ms(percentile(&timing.sled, 0.95)),
            ms(pg50),
            ms(percentile(&timing.postgres, 0.95)),
            pg50.as_secs_f64() / sled50.as_secs_f64()
        );
    }
    println!(
        "(b) of which policy hooks + veto + ranking (same Rust for both): p50 {:.1} ms",
        ms(percentile(&hooks_only, 0.5))
    );
    println!();
    println!(
        "storage: sled {:.2} GiB (log, indexes, roll-ups, orders{}); PostgreSQL {:.2} GiB (database, indexes included)",
        gib(sled_bytes),
        if params.compression {
            "; zstd pages"
        } else {
            ""
        },
        gib(u64::try_from(pg_bytes).unwrap_or(0))
    );
    for (table, heap, indexes) in &table_sizes {
        println!(
            "  postgres {table:<12} table {:.2} GiB, indexes {:.2} GiB",
            gib(u64::try_from(*heap).unwrap_or(0)),
            gib(u64::try_from(*indexes).unwrap_or(0))
        );
    }
    println!(
        "memory: this process (sled cache {} MiB + harness) RSS {:.2} GiB, peak {:.2} GiB; PostgreSQL (postmaster and backends, PSS) {:.2} GiB, shared_buffers {PG_SHARED_BUFFERS}, work_mem {PG_WORK_MEM}",
        params.store_options().cache_bytes >> 20,
        gib(rss),
        gib(peak),
        gib(pg_memory)
    );
    drop(client);
    drop(pg);
    store.close().unwrap();
}
