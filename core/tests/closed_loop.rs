//! The closed loop in the store: a 差评 opens its order in the rating's transaction; changes are
//! checked by the state machine and refused with a reason; problems, calls, messages, schedules
//! and marks are projections of the log — a rebuild reproduces them byte for byte. Real sled
//! files in a temporary folder; the clock is manual and the decider is a fixed one written here
//! (the policy decider is tested end to end in `tests/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use hcp_core::auth::Source;
use hcp_core::calendar::{Calendar, DurationUnit};
use hcp_core::clock::{Clock, ManualClock};
use hcp_core::event::PolicyDecision;
use hcp_core::model::{
    ApplicantType, CaseStatus, Channel, EvaluatorInput, Level, OrgKind, OrgUnit, Rating,
    RatingFacts, RatingInput, ServiceEventInput, ServiceItem,
};
use hcp_core::outreach::{
    DeliveryAttempt, MessageChannel, MessageInput, MessagePurpose, MessageState, ScheduledAction,
    TaskOutcome,
};
use hcp_core::pii::{PiiKey, PiiKind};
use hcp_core::policy::{DeadlineOutput, Phase, PhaseKind};
use hcp_core::store::{
    Command, Decider, Dim, LoopCommand, MasterChange, Outcome, RollupGroup, RollupQuery, Store,
    StoreOptions,
};
use hcp_core::validate::credit_check_char;
use hcp_core::workflow::{
    CauseClass, Disposition, OrderChange, OrderState, ProblemInput, ProblemState,
};

const CITY: &str = "410400";
const COUNTY: &str = "410421";
const HALL: &str = "H-1";
const WINDOW: &str = "W-1";
const WINDOW_2: &str = "W-2";
const ITEM: &str = "T-1";

fn department() -> String {
    let first17 = "11410421MB0000001";
    format!("{first17}{}", credit_check_char(first17).unwrap())
}

fn calendar() -> Arc<Calendar> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/calendar");
    Arc::new(Calendar::load_dir(&dir).unwrap())
}

/// Fixed deadlines (contact 1, verify 2, rectify 5, feedback 7, call-back 9, appeal 3 working
/// days), the rated department as the unit, an SMS invitation after 24 hours and a default
/// 满意 after 7 working days.
struct FixedDecider {
    calendar: Arc<Calendar>,
}

impl FixedDecider {
    fn decision(
        &self,
        rating_id: u64,
        subject: String,
        hook: &str,
        output: serde_json::Value,
    ) -> PolicyDecision {
        PolicyDecision {
            rating_id,
            subject,
            hook: hook.into(),
            county: COUNTY.into(),
            scope: "default".into(),
            hook_version: "fixed".into(),
            calendar_version: self.calendar.version(),
            provisional_year: None,
            input: serde_json::json!({}),
            output,
        }
    }
}

impl Decider for FixedDecider {
    fn decide(
        &self,
        rating: &Rating,
        _comment: Option<&str>,
        _facts: &RatingFacts,
    ) -> Vec<PolicyDecision> {
        if !rating.is_bad() {
            return Vec::new();
        }
        let phases = [
            (PhaseKind::Contact, 1),
            (PhaseKind::Verify, 2),
            (PhaseKind::Rectify, 5),
            (PhaseKind::Feedback, 7),
            (PhaseKind::Callback, 9),
            (PhaseKind::Appeal, 3),
        ]
        .into_iter()
        .map(|(phase, amount)| Phase {
            phase,
            amount,
            unit: DurationUnit::WorkingDays,
            due: self
                .calendar
                .add_working_days(rating.received_at, amount)
                .unwrap(),
            provisional: false,
            from: Some(rating.received_at),
        })
        .collect();
        let deadline = DeadlineOutput {
            phases,
            awaiting: Vec::new(),
            notice_after: None,
        };
        vec![
            self.decision(rating.id, String::new(), "deadline", serde_json::to_value(deadline).unwrap()),
            self.decision(
                rating.id,
                String::new(),
                "routing",
                serde_json::json!({"unit": rating.attribution.department, "category": "waiting", "priority": "high"}),
            ),
        ]
    }

    fn decide_service(&self, service: &ServiceEventInput, reachable: bool) -> Vec<PolicyDecision> {
        let subject = format!("service:{}/{}", service.project_no, service.service_number);
        let invitations = if reachable {
            serde_json::json!([{"channel": "sms", "at": service.occurred_at + TimeDelta::hours(24)}])
        } else {
            serde_json::json!([])
        };
        vec![
            self.decision(
                0,
                subject.clone(),
                "invitation",
                serde_json::json!({"invitations": invitations}),
            ),
            self.decision(
                0,
                subject,
                "default_rating",
                serde_json::json!({
                    "apply": true,
                    "level": "satisfied",
                    "at": self.calendar.add_working_days(service.occurred_at, 7).unwrap(),
                }),
            ),
        ]
    }
}

fn unit(id: &str, kind: OrgKind, parent: &str) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: id.into(),
        parent: (!parent.is_empty()).then(|| parent.into()),
        department: matches!(kind, OrgKind::Window).then(department),
        has_device: false,
        has_qr_code: false,
    }
}

fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Store {
    let clock: Arc<dyn Clock> = clock;
    let store = Store::open(
        dir,
        PiiKey::from_bytes([9; 32]),
        clock,
        StoreOptions {
            cache_bytes: 8 * 1024 * 1024,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    store.set_decider(Arc::new(FixedDecider {
        calendar: calendar(),
    }));
    store
}

fn seed(store: &Store) {
    let changes = vec![
        MasterChange::OrgUnit(unit(CITY, OrgKind::City, "")),
        MasterChange::OrgUnit(unit(COUNTY, OrgKind::County, CITY)),
        MasterChange::OrgUnit(unit(&department(), OrgKind::Department, COUNTY)),
        MasterChange::OrgUnit(unit(HALL, OrgKind::Hall, COUNTY)),
        MasterChange::OrgUnit(unit(WINDOW, OrgKind::Window, HALL)),
        MasterChange::OrgUnit(unit(WINDOW_2, OrgKind::Window, HALL)),
        MasterChange::Item(ServiceItem {
            task_code: ITEM.into(),
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

fn start() -> DateTime<Utc> {
    // Monday 2026-11-02, 10:00 China time.
    Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap()
}

fn bad_rating(event: &str, project: &str, window: &str, at: DateTime<Utc>) -> Command {
    Command::Rating {
        source: "s".into(),
        input: RatingInput {
            event_id: event.into(),
            project_no: project.into(),
            service_number: 1,
            assess_number: 1,
            task_code: ITEM.into(),
            department: department(),
            area_code: COUNTY.into(),
            service_name: None,
            window: Some(window.into()),
            staff: None,
            device: None,
            level: Level::Dissatisfied,
            channel: Channel::QrCode,
            indicators: vec!["510".into()],
            text: Some("等太久".into()),
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

fn change(store: &Store, actor: &str, order_id: u64, change: OrderChange) -> Outcome {
    store
        .submit_one(Command::Loop(LoopCommand::ChangeOrder {
            actor: actor.into(),
            order_id,
            change,
            decision: None,
        }))
        .unwrap()
}

fn recorded(outcome: Outcome) -> u64 {
    match outcome {
        Outcome::Recorded { seq } => seq,
        other => panic!("expected Recorded, got {other:?}"),
    }
}

#[test]
fn the_loop_is_a_projection_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(dir.path(), clock.clone());
    seed(&store);

    // A 差评 opens its order in the same transaction, right after its decisions.
    let first = recorded(
        store
            .submit_one(bad_rating(
                "e1",
                "P1",
                WINDOW,
                start() - TimeDelta::minutes(5),
            ))
            .unwrap(),
    );
    let order = store.order_of_rating(first).unwrap().expect("an order");
    assert_eq!(order.id, first + 3, "rating, two decisions, then the order");
    assert_eq!(order.state, OrderState::Dispatched);
    assert_eq!(order.unit, department());
    assert!(order.reachable);
    assert_eq!(order.deadlines.len(), 6);
    assert_eq!(
        store
            .order_of_token(&store.pii().tracking_token(order.id))
            .unwrap()
            .map(|o| o.id),
        Some(order.id)
    );
    assert_eq!(store.order_of_token("0123").unwrap(), None);

    // A step the state does not allow is refused, with the state in the reason.
    match change(
        &store,
        "h",
        order.id,
        OrderChange::Feedback {
            message: "好".into(),
        },
    ) {
        Outcome::Rejected(error) => {
            assert_eq!(error.code(), "wrong_state");
            assert!(error.to_string().contains("Dispatched"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    for step in [
        OrderChange::Accept {
            note: String::new(),
        },
        OrderChange::Verify {
            finding: "属实".into(),
        },
        OrderChange::Dispose {
            disposition: Disposition::Scheduled {
                plan: "增开窗口".into(),
                committed_date: NaiveDate::from_ymd_opt(2026, 11, 6).unwrap(),
            },
        },
    ] {
        recorded(change(&store, "h", order.id, step));
    }

    // Two more on another window: a problem takes all three; its completion feeds them back.
    let second = recorded(
        store
            .submit_one(bad_rating("e2", "P2", WINDOW_2, start()))
            .unwrap(),
    );
    let third = recorded(
        store
            .submit_one(bad_rating("e3", "P3", WINDOW, start()))
            .unwrap(),
    );
    let orders: Vec<u64> = [first, second, third]
        .iter()
        .map(|rating| store.order_of_rating(*rating).unwrap().unwrap().id)
        .collect();
    let problem = recorded(
        store
            .submit_one(Command::Loop(LoopCommand::OpenProblem {
                actor: "sup".into(),
                problem: ProblemInput {
                    title: "叫号系统高峰拥堵".into(),
                    cause: CauseClass::System,
                    owner: department(),
                    plan: "扩容叫号系统".into(),
                    due: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                    region: COUNTY.into(),
                    basis: "indicator:510".into(),
                    orders: orders.clone(),
                },
            }))
            .unwrap(),
    );
    for id in &orders {
        let order = store.order(*id).unwrap().unwrap();
        assert_eq!(order.state, OrderState::Rectifying);
        assert_eq!(order.problem, Some(problem));
    }
    // An order already in a problem cannot join another.
    let again = store
        .submit_one(Command::Loop(LoopCommand::OpenProblem {
            actor: "sup".into(),
            problem: ProblemInput {
                title: "x".into(),
                cause: CauseClass::Process,
                owner: department(),
                plan: "y".into(),
                due: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                region: COUNTY.into(),
                basis: String::new(),
                orders: vec![orders[0]],
            },
        }))
        .unwrap();
    assert!(matches!(again, Outcome::Rejected(_)), "{again:?}");
    clock.advance(TimeDelta::days(3));
    recorded(
        store
            .submit_one(Command::Loop(LoopCommand::ResolveProblem {
                actor: "sup".into(),
                problem_id: problem,
                action: "叫号系统已扩容".into(),
                message: "您反映的排队问题已统一整改".into(),
                // One per linked order, plus one for an order the problem does not hold:
                // only the three it fed back are queued.
                notices: orders
                    .iter()
                    .chain(&[999_999])
                    .map(|id| MessageInput {
                        channel: MessageChannel::Sms,
                        purpose: MessagePurpose::Feedback,
                        subject: format!("order:{id}"),
                        to: hcp_core::store::seal_phone(
                            store.pii(),
                            "13812345678",
                            chrono::Utc::now(),
                        )
                        .unwrap(),
                        text: "您反映的问题已整改".into(),
                    })
                    .collect(),
            }))
            .unwrap(),
    );
    assert_eq!(
        store.problem(problem).unwrap().unwrap().state,
        ProblemState::Done
    );
    for id in &orders {
        assert_eq!(
            store.order(*id).unwrap().unwrap().state,
            OrderState::FeedbackGiven
        );
    }
    // The evaluator's one 追评 rates the rectification of the order it follows.
    let mut follow_up = bad_rating("e1-2", "P1", WINDOW, clock.now());
    if let Command::Rating { input, .. } = &mut follow_up {
        input.assess_number = 2;
        input.level = Level::Satisfied;
    }
    recorded(store.submit_one(follow_up).unwrap());
    let evaluation = store.order(orders[0]).unwrap().unwrap().evaluation.unwrap();
    assert_eq!(
        (evaluation.level, evaluation.via),
        (
            hcp_core::workflow::RectificationLevel::Satisfied,
            hcp_core::workflow::EvaluationVia::FollowUp
        )
    );
    let queued: Vec<String> = store
        .pending_messages()
        .unwrap()
        .into_iter()
        .map(|message| message.subject)
        .collect();
    assert_eq!(
        queued,
        orders
            .iter()
            .map(|id| format!("order:{id}"))
            .collect::<Vec<_>>()
    );

    // A message queued, failed once, then sent.
    let phone = store
        .rating(first)
        .unwrap()
        .unwrap()
        .evaluator
        .phone
        .unwrap();
    let message = recorded(
        store
            .submit_one(Command::Loop(LoopCommand::QueueMessage {
                actor: "system".into(),
                message: MessageInput {
                    channel: MessageChannel::Sms,
                    purpose: MessagePurpose::Feedback,
                    subject: format!("order:{}", orders[0]),
                    to: phone,
                    text: "已整改".into(),
                },
            }))
            .unwrap(),
    );
    assert_eq!(store.pending_messages().unwrap().len(), 4);
    for ok in [false, true] {
        recorded(
            store
                .submit_one(Command::Loop(LoopCommand::MessageAttempt {
                    message_id: message,
                    attempt: DeliveryAttempt {
                        at: clock.now(),
                        ok,
                        gateway_id: ok.then(|| "g-1".into()),
                        error: (!ok).then(|| "HTTP 500".into()),
                    },
                    next_at: (!ok).then(|| clock.now() + TimeDelta::minutes(1)),
                }))
                .unwrap(),
        );
    }
    assert_eq!(
        store.message(message).unwrap().unwrap().state,
        MessageState::Sent
    );
    assert_eq!(
        store.pending_messages().unwrap().len(),
        3,
        "the feedback SMS still wait"
    );

    // Three unreachable call-backs: the SMS that completes the 回访 is queued with the change,
    // in its transaction.
    for _ in 0..3 {
        recorded(change(
            &store,
            "agent",
            orders[1],
            OrderChange::Callback {
                outcome: hcp_core::workflow::CallOutcome::Unreachable,
                note: String::new(),
                deadlines: Vec::new(),
                awaiting: Vec::new(),
            },
        ));
    }
    let sms = MessageInput {
        channel: MessageChannel::Sms,
        purpose: MessagePurpose::Callback,
        subject: format!("order:{}", orders[1]),
        to: hcp_core::store::seal_phone(store.pii(), "13812345678", chrono::Utc::now()).unwrap(),
        text: "多次致电未能联系到您".into(),
    };
    let completed = recorded(change(
        &store,
        "system",
        orders[1],
        OrderChange::CallbackBySms { sms: sms.clone() },
    ));
    assert_eq!(
        store.order(orders[1]).unwrap().unwrap().state,
        OrderState::CalledBack
    );
    let message = store
        .message(completed + 1)
        .unwrap()
        .expect("queued with it");
    assert_eq!(
        (message.purpose, message.subject),
        (sms.purpose, sms.subject.clone())
    );
    // Refused once complete: nothing more is queued.
    let again = change(
        &store,
        "system",
        orders[1],
        OrderChange::CallbackBySms { sms },
    );
    assert!(matches!(again, Outcome::Rejected(_)), "{again:?}");
    assert_eq!(store.pending_messages().unwrap().len(), 4);

    // Appeal upheld on a fresh order: invalid in the roll-up, kept in the raw totals.
    let fourth = recorded(
        store
            .submit_one(bad_rating("e4", "P4", WINDOW, clock.now()))
            .unwrap(),
    );
    let appealed = store.order_of_rating(fourth).unwrap().unwrap().id;
    recorded(change(
        &store,
        "h",
        appealed,
        OrderChange::Appeal {
            reason: "误评".into(),
            evidence: vec!["录像".into()],
        },
    ));
    recorded(change(
        &store,
        "r",
        appealed,
        OrderChange::DecideAppeal {
            upheld: true,
            note: "申诉成立".into(),
        },
    ));
    assert!(store.rating_marks(fourth).unwrap().invalid.is_some());
    let day = hcp_core::calendar::local_date(clock.now());
    let rows = store
        .rollup(&RollupQuery {
            dim: Dim::Region,
            unit: COUNTY.into(),
            from: day,
            to: day,
            group: RollupGroup::Total,
        })
        .unwrap();
    // Today: the appealed 差评 (raw, and invalid) and the 追评 above.
    assert_eq!(
        (rows[0].bad, rows[0].invalid_bad, rows[0].follow_ups),
        (1, 1, 1)
    );

    // A completed service with a phone plans an invitation and a default rating; a rating of
    // the act drops both.
    let service = |event: &str, project: &str| Command::Service {
        source: "s".into(),
        input: ServiceEventInput {
            event_id: event.into(),
            project_no: project.into(),
            project_name: String::new(),
            task_code: ITEM.into(),
            department: department(),
            area_code: COUNTY.into(),
            service_number: 1,
            service_name: "办结".into(),
            status: CaseStatus::Completed,
            occurred_at: clock.now(),
            window: Some(WINDOW.into()),
            staff: None,
            applicant_type: ApplicantType::NaturalPerson,
            applicant_phone: Some("13900001111".into()),
            online: false,
        },
    };
    recorded(store.submit_one(service("s1", "Q1")).unwrap());
    recorded(store.submit_one(service("s2", "Q2")).unwrap());
    let planned = store.tasks_of("Q1", 1).unwrap();
    assert_eq!(planned.len(), 2, "{planned:?}");
    assert!(
        planned
            .iter()
            .any(|task| task.action == ScheduledAction::InviteSms)
    );
    let case = store.case("Q1").unwrap().unwrap();
    let contact = case.services[0].contact.clone().expect("sealed contact");
    assert_eq!(
        store.pii().open_field(PiiKind::Phone, &contact).unwrap(),
        "13900001111"
    );
    let mut rated = bad_rating("q2", "Q2", WINDOW, clock.now());
    if let Command::Rating { input, .. } = &mut rated {
        input.level = Level::Satisfied;
    }
    recorded(store.submit_one(rated).unwrap());
    assert!(
        store.tasks_of("Q2", 1).unwrap().is_empty(),
        "a rating drops the plan"
    );
    // Due tasks: none now, the invitation a day later; carrying one out removes it.
    assert!(store.due_tasks(clock.now(), 10).unwrap().is_empty());
    let due = store
        .due_tasks(clock.now() + TimeDelta::hours(25), 10)
        .unwrap();
    assert_eq!(due.len(), 1);
    recorded(
        store
            .submit_one(Command::Loop(LoopCommand::TaskDone {
                task: due[0].clone(),
                outcome: TaskOutcome {
                    outcome: "done".into(),
                    produced: None,
                },
            }))
            .unwrap(),
    );
    assert_eq!(store.tasks_of("Q1", 1).unwrap().len(), 1);

    // Everything above is a projection of the log.
    let before = store.projection_dump().unwrap();
    store.rebuild().unwrap();
    assert_eq!(
        before,
        store.projection_dump().unwrap(),
        "rebuild reproduces the loop"
    );
    store.close().unwrap();
    drop(store);
    let store = open(dir.path(), clock);
    assert_eq!(before, store.projection_dump().unwrap(), "reopened");
    assert!(matches!(
        store.verify_chain().unwrap(),
        hcp_core::store::chain::Verification::Intact { .. }
    ));
}
