//! The demo's simulated staff: departments' handlers, the supervisor, the reviewer and the
//! call-back agent work the open orders a few steps at a time, the way people would, so that a
//! newcomer sees orders move through every phase. Every step goes through the same store
//! commands (and the same state machine) as a person's, under an actor named `sim:<role>`.

use hcp_core::store::{Command, LoopCommand};
use hcp_core::workflow::{CallOutcome, CauseClass, Disposition, Order, OrderChange, OrderState};
use rand::Rng;
use rand::rngs::StdRng;

use crate::app::platform::Platform;

pub(crate) const ACCEPT_NOTES: [&str; 3] =
    ["受理", "已受理，安排专人核实", "受理，转窗口负责人核实"];
pub(crate) const FINDINGS: [&str; 4] = [
    "调取叫号记录，高峰时段等候超过一小时，评价属实",
    "与评价人电话核实，窗口一次性告知不到位，评价属实",
    "查看窗口录像，工作人员解释不耐心，评价属实",
    "核实系统日志，当日业务系统响应缓慢，评价属实",
];
pub(crate) const ACTIONS: [&str; 4] = [
    "高峰时段增开窗口，安排导办人员分流",
    "修订一次性告知单并张贴在窗口",
    "对窗口人员进行服务规范培训并约谈",
    "协调信息中心扩容，恢复系统正常",
];
pub(crate) const EXPLANATIONS: [&str; 2] = [
    "该事项依法需要现场核验原件，已向评价人说明政策依据",
    "评价人所需材料属于法定要件，已电话解释并致歉",
];
pub(crate) const FEEDBACK: [&str; 3] = [
    "您反映的问题已整改，感谢您的监督。",
    "已按您的意见改进，欢迎再次评价。",
    "针对您的评价，我们已完成整改并加强管理。",
];

/// Steps taken per round.
const STEPS_PER_ROUND: usize = 12;

/// One round of work: the next step of up to [`STEPS_PER_ROUND`] open orders, oldest first.
/// Blocking (reads the store).
pub fn round(platform: &Platform, rng: &mut StdRng) -> Vec<Command> {
    let Ok(orders) = platform.store.open_orders() else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    for order in orders {
        if commands.len() >= STEPS_PER_ROUND {
            break;
        }
        // People do not work every order at once; some wait for another round.
        if rng.gen_bool(0.4) {
            continue;
        }
        if let Some((actor, change)) = next_step(platform, &order, rng) {
            commands.push(Command::Loop(LoopCommand::ChangeOrder {
                actor: actor.into(),
                order_id: order.id,
                change,
                decision: None,
            }));
        }
    }
    commands
}

fn pick<'a>(rng: &mut StdRng, choices: &[&'a str]) -> &'a str {
    choices[rng.gen_range(0..choices.len())]
}

fn next_step(
    platform: &Platform,
    order: &Order,
    rng: &mut StdRng,
) -> Option<(&'static str, OrderChange)> {
    if order.transfer.is_some() {
        return Some((
            "sim:supervisor",
            OrderChange::DecideTransfer {
                approve: false,
                unit: None,
                note: "经核查仍属本单位职责，请按期办理".into(),
            },
        ));
    }
    let handler = "sim:handler";
    Some(match order.state {
        OrderState::Dispatched if rng.gen_bool(0.04) => (
            handler,
            OrderChange::RequestTransfer {
                reason: "经初审，该事项不属于本单位职责".into(),
                to_unit: None,
            },
        ),
        OrderState::Dispatched => (
            handler,
            OrderChange::Accept {
                note: pick(rng, &ACCEPT_NOTES).into(),
            },
        ),
        OrderState::Accepted if order.kind.is_answered() => (
            handler,
            OrderChange::Answer {
                reply: "感谢您的建议，已纳入改进计划并将按期落实。".into(),
            },
        ),
        OrderState::Accepted => (
            handler,
            OrderChange::Verify {
                finding: pick(rng, &FINDINGS).into(),
            },
        ),
        OrderState::Verified => {
            let roll = rng.gen_range(0..100);
            let disposition = if roll < 60 {
                Disposition::Immediate {
                    action: pick(rng, &ACTIONS).into(),
                }
            } else if roll < 85 {
                Disposition::Scheduled {
                    plan: pick(rng, &ACTIONS).into(),
                    committed_date: hcp_core::calendar::local_date(platform.clock.now())
                        + chrono::Days::new(3),
                }
            } else {
                Disposition::Explained {
                    explanation: pick(rng, &EXPLANATIONS).into(),
                }
            };
            (handler, OrderChange::Dispose { disposition })
        }
        OrderState::Rectifying if order.problem.is_none() => (
            handler,
            OrderChange::Rectified {
                action: pick(rng, &ACTIONS).into(),
            },
        ),
        OrderState::Rectified => (
            handler,
            OrderChange::Feedback {
                message: pick(rng, &FEEDBACK).into(),
            },
        ),
        OrderState::FeedbackGiven => {
            let roll = rng.gen_range(0..100);
            let outcome = match roll {
                0..80 => CallOutcome::Satisfied,
                80..92 => CallOutcome::BasicallySatisfied,
                _ => CallOutcome::Unreachable,
            };
            if order.needs_callback_sms() {
                // The sweep completes these by SMS.
                return None;
            }
            (
                "sim:callback",
                OrderChange::Callback {
                    outcome,
                    note: "模拟回访".into(),
                    deadlines: Vec::new(),
                    awaiting: Vec::new(),
                },
            )
        }
        OrderState::CalledBack => (
            handler,
            OrderChange::Close {
                root_cause: root_cause(&order.category),
                action_taken: pick(rng, &ACTIONS).into(),
            },
        ),
        OrderState::Rectifying | OrderState::Appealing | OrderState::Closed => return None,
    })
}

/// The root cause the simulated staff give when they close an order of `category` (the
/// analytics benchmark's desk closes its orders the same way).
pub fn root_cause(category: &str) -> CauseClass {
    match category {
        "attitude" => CauseClass::Attitude,
        "system" => CauseClass::System,
        "materials" => CauseClass::Policy,
        "waiting" => CauseClass::Process,
        _ => CauseClass::Other,
    }
}
