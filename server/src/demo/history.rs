//! The demo city's history, lived through on a moving clock. The simulated service acts and
//! ratings are stored at the instants they happen (the platform's clock is pinned to each
//! simulated instant, so a rating's `received_at`, every log entry and every step of a work order
//! carry that time); the simulated staff work each bad review through the closed loop at the pace
//! its fate draws — most on time, some late, some left overdue and escalated, appeals upheld and
//! rejected, transfers refused, call-backs reached, unreachable and dissatisfied — and two
//! systemic problems are confirmed, one of them resolved; the platform's own sweep runs every few
//! simulated hours and raises the flags, sends the messages, plans and gives the invitations and
//! default ratings and generates the scheduled reports, as it would have. What the demo shows
//! afterwards (last month's bulletin, the assessments, the public pages, every rate) is what
//! happened, and the orders still open have live deadlines and flags.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use hcp_core::calendar::{Calendar, china_tz, day_start, local_date};
use hcp_core::policy::PhaseKind;
use hcp_core::store::{Command, LoopCommand, Outcome};
use hcp_core::workflow::{
    CallOutcome, CauseClass, Disposition, Order, OrderChange, OrderKind, OrderState, ProblemInput,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::platform::Platform;
use crate::demo::desk::{ACCEPT_NOTES, ACTIONS, EXPLANATIONS, FEEDBACK, FINDINGS};

/// Commands are stored in windows of this length: each at the window's end, so none lies in
/// the future of the pinned clock.
const WINDOW_MINUTES: i64 = 30;

/// What living through the history did.
#[derive(Debug, Default)]
pub struct Lived {
    pub commands: usize,
    pub refused: usize,
    pub orders: usize,
    pub steps: usize,
    pub steps_refused: usize,
    pub sweeps: usize,
    pub reports: u32,
    /// What the sweeps reported going wrong, the first few lines.
    pub sweep_errors: Vec<String>,
    pub problems: usize,
    /// Where the time went: storing the simulated traffic, the desk's steps, the sweeps.
    pub storing: std::time::Duration,
    pub working: std::time::Duration,
    pub sweeping: std::time::Duration,
}

/// Stores `history` (in time order) up to `until` with the clock pinned to each simulated
/// instant through `pin`, works the bad reviews and sweeps as the days go by, and leaves the clock
/// pinned at `until`. Blocking.
pub fn live_through(
    platform: &Platform,
    pin: &dyn Fn(DateTime<Utc>),
    history: impl Iterator<Item = (DateTime<Utc>, Command)>,
    until: DateTime<Utc>,
    seed: u64,
) -> anyhow::Result<Lived> {
    let mut lived = Lived::default();
    let mut desk = Desk::new(platform.calendar(), seed);
    let mut history = history.peekable();
    let Some(first) = history.peek().map(|(at, _)| *at) else {
        return Ok(lived);
    };
    desk.plan_problems(first, until);
    let mut next_sweep = next_sweep_after(first);
    loop {
        let next = [
            history.peek().map(|(at, _)| *at),
            desk.next_due(),
            Some(next_sweep),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(until);
        let end = window_end(next).min(until);
        pin(end);
        let mut batch = Vec::new();
        while let Some((at, _)) = history.peek() {
            if *at >= end && end < until {
                break;
            }
            if let Some((_, command)) = history.next() {
                batch.push(command);
            }
        }
        lived.commands += batch.len();
        let started = std::time::Instant::now();
        for chunk in batch.chunks(4096) {
            lived.refused += platform
                .store
                .submit(chunk.to_vec())?
                .iter()
                .filter(|outcome| matches!(outcome, Outcome::Rejected(_)))
                .count();
        }
        lived.storing += started.elapsed();
        let started = std::time::Instant::now();
        lived.orders += desk.learn(platform, end)?;
        desk.work(platform, end, &mut lived)?;
        lived.working += started.elapsed();
        if next_sweep <= end {
            let started = std::time::Instant::now();
            let report = crate::workers::sweep::sweep_quietly(
                platform,
                end,
                &crate::workers::Tenure::unbounded(crate::workers::Worker::Sweep),
            );
            lived.sweeps += 1;
            lived.reports += report.reports_generated;
            for error in report.errors {
                if lived.sweep_errors.len() < 10 {
                    lived.sweep_errors.push(format!("{end}: {error}"));
                }
            }
            next_sweep = next_sweep_after(end);
            lived.sweeping += started.elapsed();
        }
        if end >= until {
            break;
        }
    }
    Ok(lived)
}

/// Sends each simulated service act through the business system of its region (应接尽接), as
/// the demo's registered systems say: the city's for the city's halls and for a county whose
/// system is down.
pub struct SystemRoutes {
    /// County (or city) code → source id, and the instant from which it is silent.
    routes: HashMap<String, (String, Option<DateTime<Utc>>)>,
    city: String,
}

impl SystemRoutes {
    pub fn new(
        systems: &[crate::demo::DemoSystem],
        city: &str,
        until: DateTime<Utc>,
        calendar: &Calendar,
    ) -> SystemRoutes {
        let mut routes = HashMap::new();
        for system in systems.iter().filter(|system| !system.never) {
            let silent_from = system.silent_for.map(|days| {
                let mut date = local_date(until);
                let mut left = days;
                while left > 0 {
                    date -= Duration::days(1);
                    let working = calendar
                        .reckon_working_day(date)
                        .map(|day| day.value)
                        .unwrap_or(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun));
                    if working {
                        left -= 1;
                    }
                }
                day_start(date)
            });
            routes.insert(system.scope.clone(), (system.id.clone(), silent_from));
        }
        SystemRoutes {
            routes,
            city: city.to_string(),
        }
    }

    /// `command` as it arrives: a service act through its region's system.
    pub fn route(&self, at: DateTime<Utc>, command: Command) -> Command {
        let Command::Service { source, input } = command else {
            return command;
        };
        let county = hcp_core::store::county_of(&input.area_code);
        let through = match self.routes.get(&county) {
            Some((id, silent_from)) if silent_from.is_none_or(|from| at < from) => Some(id),
            _ => self.routes.get(&self.city).map(|(id, _)| id),
        };
        Command::Service {
            source: through.cloned().unwrap_or(source),
            input,
        }
    }
}

/// The end of the storage window holding `at`.
fn window_end(at: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = i64::from(at.minute()) % WINDOW_MINUTES;
    let start = at
        - Duration::minutes(minutes)
        - Duration::seconds(i64::from(at.second()))
        - Duration::nanoseconds(i64::from(at.nanosecond()));
    start + Duration::minutes(WINDOW_MINUTES)
}

/// Sweeps run a little after midnight (flags due at 00:00) and three times in the working day,
/// China time: often enough for flags, invitations and messages to carry realistic times.
fn next_sweep_after(at: DateTime<Utc>) -> DateTime<Utc> {
    const HOURS: [(u32, u32); 4] = [(0, 5), (9, 0), (13, 0), (17, 0)];
    let local = at.with_timezone(&china_tz());
    let date = local.date_naive();
    for day in [date, date + Duration::days(1)] {
        for (hour, minute) in HOURS {
            let candidate = day_start(day)
                + Duration::hours(i64::from(hour))
                + Duration::minutes(i64::from(minute));
            if candidate > at {
                return candidate;
            }
        }
    }
    at + Duration::hours(2)
}

/// How quickly a unit works an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Well within every deadline.
    Prompt,
    /// Rectified on the last working day before the due.
    Slow,
    /// Rectified a few working days after the due: 预警 and 督办 on the way.
    Late,
    /// Left alone well past the due (督办, 通报), then finished.
    Stalled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Immediate,
    Scheduled,
    Explained,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Satisfied,
    Basically,
    /// Reopens the order once; the second round is reached and satisfied.
    Dissatisfied,
    /// Three unreachable attempts: the sweep completes the call-back by SMS.
    Unreachable,
}

/// What will become of one bad review, drawn when its order opens.
#[derive(Debug, Clone)]
struct Fate {
    pace: Pace,
    plan: Plan,
    /// An appeal, upheld or not.
    appeal: Option<bool>,
    transfer: bool,
    call: Call,
    /// Steps refused in a row (the order moved meanwhile): given up after a few.
    refusals: u32,
}

/// A systemic problem the demo confirms at `confirm_at` and, when `resolve_after` is set,
/// resolves that many working days later.
struct ProblemPlan {
    window: &'static str,
    title: &'static str,
    cause: CauseClass,
    plan: &'static str,
    basis: &'static str,
    action: &'static str,
    message: &'static str,
    confirm_at: DateTime<Utc>,
    resolve_after: Option<u32>,
    /// The problem's id once confirmed, and when it is to be resolved.
    confirmed: Option<(u64, Option<DateTime<Utc>>)>,
}

/// What the desk does with an order when it looks at it.
enum Next {
    /// Takes a step (who, the change, the decision it carries) and looks again then, if ever.
    Step(Box<Step>),
    /// Nothing to do now; looks again then.
    Later(DateTime<Utc>),
    /// Nothing more to do.
    Done,
}

/// One step the desk takes.
struct Step {
    actor: &'static str,
    change: OrderChange,
    /// The fresh deadlines of a reopened order.
    decision: Option<hcp_core::event::PolicyDecision>,
    /// When to look at the order again.
    next: Option<DateTime<Utc>>,
}

/// The simulated departments, supervisors, reviewers and call-back agents.
struct Desk {
    rng: StdRng,
    calendar: Arc<Calendar>,
    fates: HashMap<u64, Fate>,
    agenda: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    last_order: u64,
    problems: Vec<ProblemPlan>,
}

const CONTACTS: [&str; 3] = [
    "已电话联系评价人，了解具体情况",
    "已联系评价人，致歉并说明处理安排",
    "电话联系评价人，约定整改后回复",
];

impl Desk {
    fn new(calendar: Arc<Calendar>, seed: u64) -> Desk {
        Desk {
            rng: StdRng::seed_from_u64(seed ^ 0x00de_5c00),
            calendar,
            fates: HashMap::new(),
            agenda: BinaryHeap::new(),
            last_order: 0,
            problems: Vec::new(),
        }
    }

    /// Two systemic problems: long queues at the city's 不动产登记 window, confirmed two fifths
    /// into the history and resolved ten working days later; and incomplete 一次性告知 at 宝丰县's
    /// 市场监管 window, confirmed two weeks before the end and still being fixed.
    fn plan_problems(&mut self, first: DateTime<Utc>, until: DateTime<Utc>) {
        let span = until - first;
        self.problems = vec![
            ProblemPlan {
                window: "W410400-06",
                title: "不动产登记窗口高峰时段排队等候过长",
                cause: CauseClass::Process,
                plan: "高峰时段增开两个窗口，推行预约办理和导办分流",
                basis: "510",
                action: "高峰时段增开两个窗口，上线预约办理，安排导办人员分流",
                message: "针对排队等候时间过长的问题，已增开窗口并推行预约办理",
                confirm_at: first + span * 2 / 5,
                resolve_after: Some(10),
                confirmed: None,
            },
            ProblemPlan {
                window: "W410421-01",
                title: "市场监管窗口一次性告知不到位，材料反复补交",
                cause: CauseClass::Process,
                plan: "修订企业登记一次性告知清单，在窗口和网上公示并培训窗口人员",
                basis: "502",
                action: "",
                message: "",
                confirm_at: until - Duration::days(14),
                resolve_after: None,
                confirmed: None,
            },
        ];
    }

    fn next_due(&self) -> Option<DateTime<Utc>> {
        let agenda = self.agenda.peek().map(|Reverse((at, _))| *at);
        let problems = self
            .problems
            .iter()
            .filter_map(|plan| match plan.confirmed {
                None => Some(plan.confirm_at),
                Some((_, resolve)) => resolve,
            });
        agenda.into_iter().chain(problems).min()
    }

    /// Draws the fate of every order opened since the last call and puts its first step on the
    /// agenda. Returns how many there were.
    fn learn(&mut self, platform: &Platform, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let orders = platform.store.orders_after(self.last_order)?;
        let count = orders.len();
        for order in orders {
            self.last_order = self.last_order.max(order.id);
            if order.kind != OrderKind::BadReview || !order.is_open() {
                continue;
            }
            let fate = self.draw();
            let first = if fate.pace == Pace::Stalled {
                self.moment(now, 1)
            } else {
                let first = self.moment(now, 0);
                // A contact due within hours (宝丰县's 非常不满意: 4 hours) is taken at once.
                match order.deadline(PhaseKind::Contact).map(|d| d.due) {
                    Some(due) if first >= due => now + Duration::minutes(self.rng.gen_range(5..20)),
                    _ => first,
                }
            };
            self.fates.insert(order.id, fate);
            self.agenda.push(Reverse((first, order.id)));
        }
        Ok(count)
    }

    fn draw(&mut self) -> Fate {
        let roll = |rng: &mut StdRng| rng.gen_range(0..100);
        let pace = match roll(&mut self.rng) {
            0..72 => Pace::Prompt,
            72..86 => Pace::Slow,
            86..95 => Pace::Late,
            _ => Pace::Stalled,
        };
        let plan = match roll(&mut self.rng) {
            0..55 => Plan::Immediate,
            55..85 => Plan::Scheduled,
            _ => Plan::Explained,
        };
        let appeal = match roll(&mut self.rng) {
            0..3 => Some(true),
            3..7 => Some(false),
            _ => None,
        };
        let call = match roll(&mut self.rng) {
            0..68 => Call::Satisfied,
            68..82 => Call::Basically,
            82..88 => Call::Dissatisfied,
            _ => Call::Unreachable,
        };
        Fate {
            pace,
            plan,
            appeal,
            transfer: self.rng.gen_bool(0.04),
            call,
            refusals: 0,
        }
    }

    /// A moment in working hours (08:30–17:30 China time) `days` working days after `from`'s
    /// date; with 0, later the same day when it is a working day with time left.
    fn moment(&mut self, from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let local = from.with_timezone(&china_tz());
        let mut date = local.date_naive();
        let minute_of_day = i64::from(local.hour() * 60 + local.minute());
        let (open, close) = (8 * 60 + 30, 17 * 60 + 30);
        if days == 0 && self.working(date) && minute_of_day < close - 20 {
            let earliest = minute_of_day.max(open) + 10;
            let minute = self.rng.gen_range(earliest..close);
            return (day_start(date) + Duration::minutes(minute)).max(from + Duration::minutes(1));
        }
        let mut left = days.max(1);
        while left > 0 {
            date += Duration::days(1);
            if self.working(date) {
                left -= 1;
            }
        }
        day_start(date) + Duration::minutes(self.rng.gen_range(open..close))
    }

    /// A moment a random number of working days in `days` after `from`.
    fn within(
        &mut self,
        from: DateTime<Utc>,
        days: std::ops::RangeInclusive<u32>,
    ) -> DateTime<Utc> {
        let days = self.rng.gen_range(days);
        self.moment(from, days)
    }

    fn working(&self, date: NaiveDate) -> bool {
        self.calendar
            .reckon_working_day(date)
            .map(|day| day.value)
            .unwrap_or(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// A moment `offset` working days after the due of `phase` (negative: before it), never
    /// before `now`.
    fn around_due(
        &mut self,
        order: &Order,
        phase: PhaseKind,
        offset: i32,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let Some(due) = order.deadline(phase).map(|d| d.due) else {
            return self.moment(now, 1);
        };
        // The due instant is the end of the phase's last day.
        let last_day = due - Duration::seconds(1);
        let at = if offset >= 0 {
            self.moment(last_day, u32::try_from(offset).unwrap_or(0))
        } else {
            let mut date = local_date(last_day);
            let mut left = offset.unsigned_abs();
            while left > 0 {
                date -= Duration::days(1);
                if self.working(date) {
                    left -= 1;
                }
            }
            day_start(date) + Duration::minutes(self.rng.gen_range(9 * 60..17 * 60))
        };
        at.max(now + Duration::minutes(1))
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.rng.gen_range(0..choices.len())]
    }

    /// Takes the steps due by `now`, each at `now` (the pinned instant), and plans the next;
    /// confirms and resolves the systemic problems when their time comes.
    fn work(
        &mut self,
        platform: &Platform,
        now: DateTime<Utc>,
        lived: &mut Lived,
    ) -> anyhow::Result<()> {
        self.problems_due(platform, now, lived)?;
        let mut steps = Vec::new();
        while let Some(Reverse((at, order_id))) = self.agenda.peek().copied() {
            if at > now {
                break;
            }
            self.agenda.pop();
            let Some(order) = platform.store.order(order_id)? else {
                continue;
            };
            match self.next_step(platform, &order, now) {
                Next::Step(step) => {
                    steps.push((
                        order_id,
                        step.next,
                        Command::Loop(LoopCommand::ChangeOrder {
                            actor: step.actor.to_string(),
                            order_id,
                            change: step.change,
                            decision: step.decision,
                        }),
                    ));
                }
                Next::Later(at) => self.agenda.push(Reverse((at, order_id))),
                Next::Done => {}
            }
        }
        if steps.is_empty() {
            return Ok(());
        }
        let outcomes = platform.store.submit(
            steps
                .iter()
                .map(|(_, _, command)| command.clone())
                .collect(),
        )?;
        for ((order_id, next, _), outcome) in steps.into_iter().zip(outcomes) {
            lived.steps += 1;
            let retry = matches!(outcome, Outcome::Rejected(_));
            let Some(fate) = self.fates.get_mut(&order_id) else {
                continue;
            };
            if retry {
                lived.steps_refused += 1;
                fate.refusals += 1;
                if fate.refusals > 3 {
                    continue;
                }
            } else {
                fate.refusals = 0;
            }
            if let Some(next) = next {
                self.agenda.push(Reverse((next, order_id)));
            } else if retry {
                let again = self.moment(now, 1);
                self.agenda.push(Reverse((again, order_id)));
            }
        }
        Ok(())
    }

    /// The next step of an order as of `now` by its fate: who takes it, the change, the
    /// decision it carries (the fresh deadlines of a reopened order), and when to look again.
    fn next_step(&mut self, platform: &Platform, order: &Order, now: DateTime<Utc>) -> Next {
        let Some(fate) = self.fates.get(&order.id).cloned() else {
            return Next::Done;
        };
        let handler = "sim:handler";
        let soon = self.moment(now, 0);
        let tomorrow = self.moment(now, 1);
        if order.transfer.is_some() {
            let change = OrderChange::DecideTransfer {
                approve: false,
                unit: None,
                note: "经核查仍属本单位职责，请按期办理".into(),
            };
            return Next::Step(Box::new(Step {
                actor: "sim:supervisor",
                change,
                decision: None,
                next: Some(soon),
            }));
        }
        let (actor, change, decision, next) = match order.state {
            OrderState::Dispatched if fate.transfer && order.transfers == 0 => {
                if let Some(fate) = self.fates.get_mut(&order.id) {
                    fate.transfer = false;
                }
                let change = OrderChange::RequestTransfer {
                    reason: "经初审，该事项不属于本单位职责".into(),
                    to_unit: None,
                };
                (handler, change, None, Some(tomorrow))
            }
            OrderState::Dispatched => {
                let note = self.pick(&ACCEPT_NOTES).to_string();
                // The evaluator is called the same day; accepted late, right away.
                let contact_due = order.deadline(PhaseKind::Contact).map(|d| d.due);
                let next = match contact_due {
                    Some(due) if fate.pace != Pace::Stalled && soon >= due => {
                        now + Duration::minutes(self.rng.gen_range(5..30))
                    }
                    _ => soon,
                };
                (handler, OrderChange::Accept { note }, None, Some(next))
            }
            // The unit appeals once it has contacted the evaluator and checked the facts.
            OrderState::Verified
                if fate.appeal.is_some()
                    && order.appeal.is_none()
                    && order
                        .deadline(PhaseKind::Appeal)
                        .is_some_and(|window| now < window.due) =>
            {
                let change = OrderChange::Appeal {
                    reason: "评价人所述与事实不符，当日窗口未受理该事项".into(),
                    evidence: vec!["叫号系统记录".into(), "窗口监控录像".into()],
                };
                (handler, change, None, Some(tomorrow))
            }
            OrderState::Appealing => {
                let upheld = fate.appeal.unwrap_or(false);
                let note = if upheld {
                    "经调取录像和叫号记录，评价所述与事实不符，申诉成立"
                } else {
                    "经复核，评价反映的问题属实，申诉不成立，请按期整改"
                };
                let change = OrderChange::DecideAppeal {
                    upheld,
                    note: note.into(),
                };
                let next = (!upheld).then_some(tomorrow);
                ("sim:reviewer", change, None, next)
            }
            OrderState::Accepted
                if order
                    .deadline(PhaseKind::Contact)
                    .is_some_and(|d| d.done_at.is_none()) =>
            {
                let note = self.pick(&CONTACTS).to_string();
                (handler, OrderChange::Contact { note }, None, Some(soon))
            }
            OrderState::Accepted => {
                let finding = self.pick(&FINDINGS).to_string();
                let next = match (fate.pace, fate.plan) {
                    // An appeal is filed within its window, right after the verification.
                    _ if fate.appeal.is_some() => soon,
                    (Pace::Prompt, _) | (_, Plan::Scheduled) => self.moment(now, 1),
                    (Pace::Slow, _) => self.around_due(order, PhaseKind::Rectify, -1, now),
                    (Pace::Late, _) => {
                        let late = self.rng.gen_range(1..=4);
                        self.around_due(order, PhaseKind::Rectify, late, now)
                    }
                    (Pace::Stalled, _) => {
                        let late = self.rng.gen_range(4..=8);
                        self.around_due(order, PhaseKind::Rectify, late, now)
                    }
                };
                (handler, OrderChange::Verify { finding }, None, Some(next))
            }
            OrderState::Verified => {
                let disposition = match fate.plan {
                    Plan::Immediate => Disposition::Immediate {
                        action: self.pick(&ACTIONS).into(),
                    },
                    Plan::Explained => Disposition::Explained {
                        explanation: self.pick(&EXPLANATIONS).into(),
                    },
                    Plan::Scheduled => {
                        let due = order
                            .deadline(PhaseKind::Rectify)
                            .map(|d| local_date(d.due - Duration::seconds(1)))
                            .unwrap_or_else(|| local_date(now) + Duration::days(7));
                        Disposition::Scheduled {
                            plan: self.pick(&ACTIONS).into(),
                            committed_date: due.max(local_date(now)),
                        }
                    }
                };
                let next = match (fate.plan, fate.pace) {
                    (Plan::Scheduled, Pace::Prompt) => self.within(now, 2..=5),
                    (Plan::Scheduled, Pace::Slow) => {
                        self.around_due(order, PhaseKind::Rectify, -1, now)
                    }
                    (Plan::Scheduled, Pace::Late) => {
                        let late = self.rng.gen_range(1..=4);
                        self.around_due(order, PhaseKind::Rectify, late, now)
                    }
                    (Plan::Scheduled, Pace::Stalled) => {
                        let late = self.rng.gen_range(4..=8);
                        self.around_due(order, PhaseKind::Rectify, late, now)
                    }
                    _ => self.within(now, 0..=1),
                };
                (
                    handler,
                    OrderChange::Dispose { disposition },
                    None,
                    Some(next),
                )
            }
            OrderState::Rectifying if order.problem.is_some() => return Next::Done,
            OrderState::Rectifying => {
                let action = self.pick(&ACTIONS).to_string();
                (handler, OrderChange::Rectified { action }, None, Some(soon))
            }
            OrderState::Rectified => {
                let message = self.pick(&FEEDBACK).to_string();
                let next = match fate.pace {
                    Pace::Prompt | Pace::Slow => self.within(now, 0..=1),
                    Pace::Late | Pace::Stalled => self.within(now, 1..=2),
                };
                (handler, OrderChange::Feedback { message }, None, Some(next))
            }
            // The sweep completes it by SMS; the order is closed after that.
            OrderState::FeedbackGiven if order.needs_callback_sms() => {
                return Next::Later(tomorrow);
            }
            OrderState::FeedbackGiven => {
                let outcome = match fate.call {
                    Call::Satisfied => CallOutcome::Satisfied,
                    Call::Basically => CallOutcome::BasicallySatisfied,
                    Call::Dissatisfied if order.reopened == 0 => CallOutcome::Dissatisfied,
                    Call::Dissatisfied => CallOutcome::Satisfied,
                    // Without a phone number the SMS that completes an unreachable call-back
                    // cannot go out: the agent reaches the evaluator through the case file.
                    Call::Unreachable if !order.reachable => CallOutcome::BasicallySatisfied,
                    Call::Unreachable => CallOutcome::Unreachable,
                };
                let change = OrderChange::Callback {
                    outcome,
                    note: match outcome {
                        CallOutcome::Unreachable => "电话无人接听".into(),
                        CallOutcome::Dissatisfied => "评价人表示问题仍未解决".into(),
                        _ => "回访评价人，对整改结果表示认可".into(),
                    },
                    deadlines: Vec::new(),
                    awaiting: Vec::new(),
                };
                let (change, decision) =
                    crate::app::orders::with_reopen_deadlines(platform, order, change);
                if outcome == CallOutcome::Dissatisfied
                    && let Some(fate) = self.fates.get_mut(&order.id)
                {
                    // The second round is prompt and ends well.
                    fate.pace = Pace::Prompt;
                    fate.plan = Plan::Immediate;
                    fate.call = Call::Satisfied;
                }
                ("sim:callback", change, decision, Some(tomorrow))
            }
            OrderState::CalledBack => {
                let change = OrderChange::Close {
                    root_cause: crate::demo::desk::root_cause(&order.category),
                    action_taken: self.pick(&ACTIONS).into(),
                };
                (handler, change, None, None)
            }
            OrderState::Closed => return Next::Done,
        };
        Next::Step(Box::new(Step {
            actor,
            change,
            decision,
            next,
        }))
    }

    /// Confirms a planned problem with the open orders of its window, and resolves it when its
    /// time comes, feeding every evaluator back with their tracking link.
    fn problems_due(
        &mut self,
        platform: &Platform,
        now: DateTime<Utc>,
        lived: &mut Lived,
    ) -> anyhow::Result<()> {
        for index in 0..self.problems.len() {
            match self.problems[index].confirmed {
                None if self.problems[index].confirm_at <= now => {
                    self.confirm(platform, index, now, lived)?;
                }
                Some((id, Some(resolve_at))) if resolve_at <= now => {
                    self.resolve(platform, index, id, now)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn confirm(
        &mut self,
        platform: &Platform,
        index: usize,
        now: DateTime<Utc>,
        lived: &mut Lived,
    ) -> anyhow::Result<()> {
        let window = self.problems[index].window;
        let mut orders: Vec<Order> = platform
            .store
            .open_orders()?
            .into_iter()
            .filter(|order| {
                order.window.as_deref() == Some(window)
                    && order.problem.is_none()
                    && order.appeal.is_none()
                    && order.transfer.is_none()
                    && matches!(
                        order.state,
                        OrderState::Dispatched | OrderState::Accepted | OrderState::Verified
                    )
            })
            .collect();
        orders.truncate(12);
        if orders.len() < 2 {
            // Not enough alike yet: the supervisor looks again in a few days.
            self.problems[index].confirm_at = self.moment(now, 3);
            return Ok(());
        }
        let plan = &self.problems[index];
        let first = &orders[0];
        let region = first.county.clone();
        let due = local_date(now) + Duration::days(30);
        let input = ProblemInput {
            title: plan.title.into(),
            cause: plan.cause,
            owner: first.department.clone(),
            plan: plan.plan.into(),
            due,
            region,
            basis: plan.basis.into(),
            orders: orders.iter().map(|order| order.id).collect(),
        };
        let outcome = platform
            .store
            .submit_one(Command::Loop(LoopCommand::OpenProblem {
                actor: "sim:supervisor".into(),
                problem: input,
            }))?;
        let Outcome::Recorded { seq } = outcome else {
            self.problems[index].confirm_at = self.moment(now, 3);
            return Ok(());
        };
        lived.problems += 1;
        let resolve_at = self.problems[index]
            .resolve_after
            .map(|days| self.moment(now, days));
        self.problems[index].confirmed = Some((seq, resolve_at));
        Ok(())
    }

    fn resolve(
        &mut self,
        platform: &Platform,
        index: usize,
        problem_id: u64,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let plan = &self.problems[index];
        let (action, message) = (plan.action, plan.message);
        self.problems[index].confirmed = Some((problem_id, None));
        let Some(problem) = platform.store.problem(problem_id)? else {
            return Ok(());
        };
        let feedback = crate::app::outreach::problem_feedback(platform, &problem, message)?;
        let outcome = platform
            .store
            .submit_one(Command::Loop(LoopCommand::ResolveProblem {
                actor: "sim:handler".into(),
                problem_id,
                action: action.into(),
                message: message.into(),
                notices: feedback.notices,
            }))?;
        if let Outcome::Rejected(error) = outcome {
            tracing::warn!(%error, problem = problem_id, "demo problem not resolved");
            return Ok(());
        }
        // Fed back now: their call-backs follow.
        for order_id in feedback.following {
            let at = self.within(now, 1..=2);
            self.agenda.push(Reverse((at, order_id)));
        }
        Ok(())
    }
}
