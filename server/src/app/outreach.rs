//! Invitations, default ratings and outbound messages (the sweep's second and third steps), and
//! what the outreach endpoints share with them: the `system` source, the rating link of a service
//! act, and a rating of an act built from what the platform knows of it.
//!
//! An invitation's task is removed by the `TaskDone` recorded after the message or call it
//! produced, so a crash in between repeats it at the next sweep: the SMS may go out twice (the
//! call list refuses a second entry). A default rating removes its act's tasks in the very
//! transaction that records it. A message is handed to the gateway before its attempt is
//! recorded, so the gateway may see a message id twice and is told to drop repeats.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use hcp_core::auth::{self, Source};
use hcp_core::model::{Case, Channel, EvaluatorInput, Level, RatingInput, ServiceAct};
use hcp_core::outreach::{
    DeliveryAttempt, Message, MessageChannel, MessageInput, MessagePurpose, MessageState,
    ScheduledAction, ScheduledTask, ServiceCall, ServiceCallState, TaskOutcome,
};
use hcp_core::pii::{PiiKey, PiiKind};
use hcp_core::store::{Command, Dim, LoopCommand, MasterChange, Outcome};
use hcp_core::validate::DomainError;

use hcp_core::workflow::{OrderState, Problem};

use crate::app::config::MessagesConfig;
use crate::app::platform::Platform;
use crate::app::{orders::submit_all, work::SweepReport};

/// The source of the ratings the platform records itself: default ratings, answers given on
/// the phone, ratings through an invitation link. Its API key is never shown to anyone.
pub const SYSTEM_SOURCE: &str = "system";

/// Scheduled tasks handled per round trip to the store (two batches: what they produce, then
/// their `TaskDone`).
const TASK_CHUNK: usize = 512;

/// Delivery attempts recorded per batch while messages are handed to the gateway.
const ATTEMPT_CHUNK: usize = 64;

/// Calls in a row the gateway leaves unanswered before a sweep stops delivering: the rest wait
/// for the next sweep instead of each waiting out the time limit while the sweep holds its lock.
const GATEWAY_SILENT_LIMIT: usize = 3;

/// `service:<projectNo>/<serviceNumber>`: the subject of an act's decisions and messages.
pub fn service_subject(project_no: &str, service_number: u8) -> String {
    format!("service:{project_no}/{service_number}")
}

/// Creates the `system` source on first use, scoped to the root of the org tree. Blocking.
pub fn ensure_system_source(platform: &Platform) -> anyhow::Result<()> {
    if platform.store.source(SYSTEM_SOURCE)?.is_some() {
        return Ok(());
    }
    let root = platform
        .root_unit()?
        .context("the org tree has no root yet, so the system source cannot be created")?;
    let source = Source {
        id: SYSTEM_SOURCE.into(),
        name: "平台系统（默认评价、电话邀评、短信邀评）".into(),
        // Never used: nobody holds the key, so nothing arrives on the raw ingest path.
        adapter: "canonical-json".into(),
        scope: root,
        key_hash: auth::api_key_hash(&auth::new_api_key()),
        disabled: false,
        kind: auth::SourceKind::Platform,
        expected: false,
    };
    match platform.store.submit_one(Command::Master {
        actor: "system".into(),
        change: MasterChange::Source(source),
    })? {
        Outcome::Rejected(error) => anyhow::bail!("cannot create the system source: {error}"),
        _ => Ok(()),
    }
}

/// The token of the link that rates one service act: the 32 hex digits of
/// [`PiiKey::rating_token`], the service number in two digits, then the project number in hex.
/// It carries no personal data and nothing is stored for it; a link for another act cannot be
/// made without the key. It works until the act is rated, which the default rating does at the
/// latest, so it lives as long as the act can still be rated.
pub fn rating_token(pii: &PiiKey, project_no: &str, service_number: u8) -> String {
    let mut token = pii.rating_token(&service_subject(project_no, service_number));
    token.push_str(&format!("{service_number:02}"));
    for byte in project_no.as_bytes() {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

/// The act a rating token names, if the token is genuine.
pub fn act_of_token(pii: &PiiKey, token: &str) -> Option<(String, u8)> {
    // 64 characters of project number at most (the store's limit for identifiers), in hex.
    if token.len() < 36 || token.len() > 34 + 2 * 64 || !token.is_ascii() {
        return None;
    }
    let (proof, rest) = token.split_at(32);
    let (number, project_hex) = rest.split_at(2);
    if !number.bytes().all(|byte| byte.is_ascii_digit()) || project_hex.len() % 2 != 0 {
        return None;
    }
    let service_number: u8 = number.parse().ok().filter(|n| (1..=99).contains(n))?;
    let bytes = (0..project_hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(project_hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let project_no = String::from_utf8(bytes).ok()?;
    let expected = pii.rating_token(&service_subject(&project_no, service_number));
    auth::constant_time_eq(&expected, &proof.to_ascii_lowercase())
        .then_some((project_no, service_number))
}

/// The citizen's link that rates one service act.
pub fn rating_url(platform: &Platform, project_no: &str, service_number: u8) -> String {
    format!(
        "{}/r/{}",
        platform.messages.public_url.trim_end_matches('/'),
        rating_token(platform.store.pii(), project_no, service_number)
    )
}

/// The invitation text: the service item by name (master data, never the applicant's) and the
/// rating link.
pub fn invitation_text(item_name: Option<&str>, url: &str) -> String {
    let what = match item_name {
        Some(name) if !name.trim().is_empty() => format!("“{}”事项", name.trim()),
        _ => "政务服务事项".to_string(),
    };
    format!(
        "【政务服务好差评】您办理的{what}已办结，诚邀您对本次服务作出评价（自愿参与，约需1分钟）：{url}"
    )
}

/// The queued invitation of one act, with its rating link. Blocking.
pub fn invitation_message(
    platform: &Platform,
    case: &Case,
    act: &ServiceAct,
    channel: MessageChannel,
) -> anyhow::Result<Option<MessageInput>> {
    let Some(to) = act.contact.clone() else {
        return Ok(None);
    };
    let item = platform.store.item(&case.task_code)?;
    let url = rating_url(platform, &case.project_no, act.service_number);
    Ok(Some(MessageInput {
        channel,
        purpose: MessagePurpose::Invitation,
        subject: service_subject(&case.project_no, act.service_number),
        to,
        text: invitation_text(item.as_ref().map(|item| item.name.as_str()), &url),
    }))
}

/// A case and one of its service acts. Blocking.
pub fn find_act(
    platform: &Platform,
    project_no: &str,
    service_number: u8,
) -> anyhow::Result<Option<(Case, ServiceAct)>> {
    let Some(case) = platform.store.case(project_no)? else {
        return Ok(None);
    };
    let act = case
        .services
        .iter()
        .find(|act| act.service_number == service_number)
        .cloned();
    Ok(act.map(|act| (case, act)))
}

/// A rating the platform records for an act.
#[derive(Debug, Clone)]
pub struct ActRating {
    /// Unique per act and channel (`default:…`, `phone:…`, `link:…`), so a repeat is recorded
    /// once.
    pub event_id: String,
    pub level: Level,
    pub channel: Channel,
    pub text: Option<String>,
    pub rated_at: DateTime<Utc>,
    pub evaluator: EvaluatorInput,
}

/// The canonical rating of an act: where it is filed comes from the case and the act as the
/// business system reported them.
pub fn rating_input(case: &Case, act: &ServiceAct, rating: ActRating) -> RatingInput {
    RatingInput {
        event_id: rating.event_id,
        project_no: case.project_no.clone(),
        service_number: act.service_number,
        assess_number: 1,
        task_code: case.task_code.clone(),
        department: case.department.clone(),
        area_code: case.area_code.clone(),
        service_name: Some(act.service_name.clone()),
        window: act.window.clone(),
        staff: act.staff.clone(),
        device: None,
        level: rating.level,
        channel: rating.channel,
        indicators: Vec::new(),
        text: rating.text,
        evaluator: rating.evaluator,
        rated_at: rating.rated_at,
    }
}

/// The applicant as the evaluator of a rating given when invited, on the phone or through the
/// link sent to their number: real-name, with the number the invitation reached, so that a 差评
/// can be called back (回访). The number is sealed again by the store. Blocking.
pub fn applicant_evaluator(
    platform: &Platform,
    case: &Case,
    act: &ServiceAct,
) -> anyhow::Result<EvaluatorInput> {
    let phone = act
        .contact
        .as_ref()
        .map(|sealed| platform.store.pii().open_field(PiiKind::Phone, sealed))
        .transpose()
        .context("the applicant's number cannot be opened")?;
    Ok(EvaluatorInput {
        real_name: phone.is_some(),
        applicant_type: case.applicant_type,
        name: None,
        phone,
        id_number: None,
    })
}

/// Records a rating of an act through the `system` source. Blocking.
pub fn record_act_rating(
    platform: &Platform,
    case: &Case,
    act: &ServiceAct,
    rating: ActRating,
) -> anyhow::Result<Outcome> {
    ensure_system_source(platform)?;
    Ok(platform.store.submit_one(Command::Rating {
        source: SYSTEM_SOURCE.into(),
        input: rating_input(case, act, rating),
    })?)
}

/// What the sweep makes of one due task.
enum Step {
    /// Record `TaskDone` with this outcome.
    Finish { outcome: String, counts: Counts },
    /// Record this command first; its outcome decides the task's.
    Produce {
        command: Box<Command>,
        counts: Counts,
    },
    /// Leave it scheduled for a later sweep.
    Leave,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counts {
    Nothing,
    Invitation,
    DefaultRating,
    Skipped,
}

fn count(report: &mut SweepReport, counts: Counts) {
    match counts {
        Counts::Nothing => {}
        Counts::Invitation => report.invitations += 1,
        Counts::DefaultRating => report.default_ratings += 1,
        Counts::Skipped => report.skipped += 1,
    }
}

fn finish(outcome: &str, counts: Counts) -> Step {
    Step::Finish {
        outcome: outcome.to_string(),
        counts,
    }
}

fn describe(task: &ScheduledTask) -> String {
    format!(
        "{} of {}/{} at {}",
        task.action.name(),
        task.project_no,
        task.service_number,
        task.at
    )
}

/// Carries out the invitations and default ratings due at `as_of`. Blocking.
pub fn run_due_tasks(
    platform: &Platform,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    // Tasks handled in this sweep, and those of them still scheduled (left for later, or their
    // TaskDone refused): fetching past the latter guarantees progress, and no task is handled
    // twice in one sweep.
    let mut handled: HashSet<String> = HashSet::new();
    let mut remaining = 0usize;
    // One invitation per act and channel, one default rating per act, even if a policy planned
    // more.
    let mut produced: HashSet<(String, u8, &'static str)> = HashSet::new();
    loop {
        let due = platform.store.due_tasks(as_of, remaining + TASK_CHUNK)?;
        let mut fresh = Vec::new();
        for task in due {
            if handled.insert(serde_json::to_string(&task)?) {
                fresh.push(task);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let mut steps = Vec::with_capacity(fresh.len());
        for task in &fresh {
            let key = (
                task.project_no.clone(),
                task.service_number,
                task.action.name(),
            );
            let step = if produced.contains(&key) {
                finish("skipped: planned twice", Counts::Skipped)
            } else {
                plan(platform, as_of, task, report)?
            };
            if matches!(step, Step::Produce { .. }) {
                produced.insert(key);
            }
            steps.push(step);
        }
        remaining += carry_out(platform, &fresh, steps, report)?;
    }
}

/// Decides what one due task becomes, from the act as stored now. Blocking.
fn plan(
    platform: &Platform,
    as_of: DateTime<Utc>,
    task: &ScheduledTask,
    report: &mut SweepReport,
) -> anyhow::Result<Step> {
    let Some((case, act)) = find_act(platform, &task.project_no, task.service_number)? else {
        report
            .errors
            .push(format!("{}: the service act is unknown", describe(task)));
        return Ok(finish("failed: unknown service act", Counts::Nothing));
    };
    if !act.ratings.is_empty() {
        return Ok(finish("skipped: rated", Counts::Skipped));
    }
    let invitation = !matches!(task.action, ScheduledAction::DefaultRating { .. });
    let stale_after = chrono::Duration::hours(i64::from(platform.workflow.invitation_stale_hours));
    if invitation && as_of - task.at > stale_after {
        return Ok(finish("skipped: stale", Counts::Skipped));
    }
    Ok(match &task.action {
        ScheduledAction::InviteSms | ScheduledAction::InviteApp => {
            let channel = if task.action == ScheduledAction::InviteApp {
                MessageChannel::App
            } else {
                MessageChannel::Sms
            };
            match invitation_message(platform, &case, &act, channel)? {
                Some(message) => Step::Produce {
                    command: Box::new(Command::Loop(LoopCommand::QueueMessage {
                        actor: "system".into(),
                        message,
                    })),
                    counts: Counts::Invitation,
                },
                None => finish("skipped: no contact", Counts::Skipped),
            }
        }
        ScheduledAction::InvitePhone => {
            if platform
                .store
                .service_call(&case.project_no, act.service_number)?
                .is_some()
            {
                finish("skipped: already on the call list", Counts::Skipped)
            } else {
                Step::Produce {
                    command: Box::new(Command::Loop(LoopCommand::ListServiceCall {
                        call: ServiceCall {
                            regions: platform.store.ancestors(Dim::Region, &case.area_code)?,
                            project_no: case.project_no,
                            service_number: act.service_number,
                            task_code: case.task_code,
                            department: case.department,
                            area_code: case.area_code,
                            listed_at: as_of,
                            attempts: Vec::new(),
                            state: ServiceCallState::Open,
                        },
                    })),
                    counts: Counts::Invitation,
                }
            }
        }
        ScheduledAction::DefaultRating { level } => {
            if level.is_bad() {
                report.fail(
                    describe(task),
                    format!(
                        "a default rating cannot be a bad review ({})",
                        level.label_zh()
                    ),
                );
                return Ok(finish(
                    "failed: a default rating cannot be a bad review",
                    Counts::Nothing,
                ));
            }
            if let Err(error) = ensure_system_source(platform) {
                report.fail(describe(task), format!("{error:#}"));
                return Ok(Step::Leave);
            }
            let rating = ActRating {
                event_id: format!("default:{}/{}", case.project_no, act.service_number),
                level: *level,
                channel: Channel::SystemDefault,
                text: None,
                rated_at: task.at,
                evaluator: EvaluatorInput::default(),
            };
            Step::Produce {
                command: Box::new(Command::Rating {
                    source: SYSTEM_SOURCE.into(),
                    input: rating_input(&case, &act, rating),
                }),
                counts: Counts::DefaultRating,
            }
        }
    })
}

fn task_done(task: &ScheduledTask, outcome: &str, produced: Option<u64>) -> Command {
    Command::Loop(LoopCommand::TaskDone {
        task: task.clone(),
        outcome: TaskOutcome {
            outcome: outcome.to_string(),
            produced,
        },
    })
}

/// A `TaskDone` refused because the task is no longer scheduled: a rating of its act removed
/// it meanwhile. Nothing is left to record.
fn gone(error: &DomainError) -> bool {
    matches!(
        error,
        DomainError::Unknown {
            kind: "scheduled task",
            ..
        }
    )
}

/// Records the tasks' outcomes in two batches and returns how many stay scheduled. The first
/// batch holds the `TaskDone` of tasks settled without producing anything, then what the others
/// produce (messages, calls, ratings): the settled ones go first because a rating removes every
/// task of its act. The second holds the `TaskDone` of the invitations with what they produced.
/// A default rating needs none: recording it removes its act's tasks, and the rating (event id
/// `default:…`) is the record. Blocking.
fn carry_out(
    platform: &Platform,
    tasks: &[ScheduledTask],
    steps: Vec<Step>,
    report: &mut SweepReport,
) -> anyhow::Result<usize> {
    let mut remaining = 0;
    let mut first = Vec::new();
    let mut first_of = Vec::new();
    for (task, step) in tasks.iter().zip(&steps) {
        if let Step::Finish { outcome, counts } = step {
            first.push(task_done(task, outcome, None));
            first_of.push((task, *counts, false));
        }
    }
    for (task, step) in tasks.iter().zip(steps) {
        match step {
            Step::Produce { command, counts } => {
                first.push(*command);
                first_of.push((task, counts, true));
            }
            Step::Leave => remaining += 1,
            Step::Finish { .. } => {}
        }
    }
    let outcomes = if first.is_empty() {
        Vec::new()
    } else {
        platform.store.submit(first)?
    };
    let mut second = Vec::new();
    let mut second_of = Vec::new();
    for ((task, counts, producing), outcome) in first_of.into_iter().zip(outcomes) {
        if !producing {
            match outcome {
                Outcome::Rejected(error) if gone(&error) => {}
                Outcome::Rejected(error) => {
                    report.fail(describe(task), error);
                    remaining += 1;
                }
                _ => count(report, counts),
            }
            continue;
        }
        let default_rating = matches!(task.action, ScheduledAction::DefaultRating { .. });
        match outcome {
            Outcome::Recorded { .. } if default_rating => count(report, counts),
            Outcome::Recorded { seq } | Outcome::Duplicate { seq } => {
                second.push(task_done(task, "done", Some(seq)));
                second_of.push((task, counts));
            }
            Outcome::Rejected(DomainError::DuplicateRating { .. }) => {
                second.push(task_done(task, "skipped: rated", None));
                second_of.push((task, Counts::Skipped));
            }
            // Swept ahead of the platform clock: the rating would lie in the future. Later.
            Outcome::Rejected(error @ DomainError::InFuture { .. }) => {
                report.fail(describe(task), error);
                remaining += 1;
            }
            Outcome::Rejected(error) => {
                report.fail(describe(task), &error);
                second.push(task_done(task, &format!("failed: {error}"), None));
                second_of.push((task, Counts::Nothing));
            }
        }
    }
    if second.is_empty() {
        return Ok(remaining);
    }
    for ((task, counts), outcome) in second_of.into_iter().zip(platform.store.submit(second)?) {
        match outcome {
            // Rated meanwhile: what the task produced stands, the task is gone.
            Outcome::Rejected(error) if gone(&error) => count(report, counts),
            Outcome::Rejected(error) => {
                report.fail(describe(task), error);
                remaining += 1;
            }
            _ => count(report, counts),
        }
    }
    Ok(remaining)
}

/// The delay before the next attempt after `failures` failed ones (1, 2, 3 …): `retry_secs`,
/// doubling on each further failure.
pub fn retry_delay(retry_secs: u64, failures: usize) -> chrono::Duration {
    let doublings = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(20);
    let secs = retry_secs.saturating_mul(1u64 << doublings);
    chrono::Duration::seconds(
        i64::try_from(secs)
            .unwrap_or(i64::MAX / 1000)
            .min(i64::MAX / 1000),
    )
}

/// What the resolution of a systemic problem tells the evaluators of its orders.
pub struct ProblemFeedback {
    /// The orders still following the problem (rectifying with it): they are fed back.
    pub following: Vec<u64>,
    /// Those of them without a phone number: nobody can be told (or called back).
    pub without_phone: Vec<u64>,
    /// One feedback SMS per order with a number, with its tracking link.
    pub notices: Vec<MessageInput>,
}

/// The feedback SMS of every order still following `problem`, saying `message`; the store
/// queues them in the resolution's own transaction. Blocking.
pub fn problem_feedback(
    platform: &Platform,
    problem: &Problem,
    message: &str,
) -> Result<ProblemFeedback, hcp_core::store::StoreError> {
    let mut feedback = ProblemFeedback {
        following: Vec::new(),
        without_phone: Vec::new(),
        notices: Vec::new(),
    };
    for order_id in &problem.orders {
        let Some(order) = platform.store.order(*order_id)? else {
            continue;
        };
        if order.problem != Some(problem.id) || order.state != OrderState::Rectifying {
            continue;
        }
        feedback.following.push(order.id);
        let Some(to) = crate::app::orders::evaluator_phone(&platform.store, &order)? else {
            feedback.without_phone.push(order.id);
            continue;
        };
        feedback.notices.push(MessageInput {
            channel: MessageChannel::Sms,
            purpose: MessagePurpose::Feedback,
            subject: format!("order:{}", order.id),
            to,
            text: format!(
                "【政务服务好差评】您反映的问题（工单{}）已整改：{}。查看处理结果并对整改情况评价：{}",
                order.id,
                message.trim().trim_end_matches('。'),
                crate::app::orders::tracking_url(platform, order.id)
            ),
        });
    }
    Ok(feedback)
}

/// Hands the queued messages that are due to the SMS gateway. Blocking.
pub fn deliver(
    platform: &Platform,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    let config = &platform.messages;
    if config.gateway_url.trim().is_empty() {
        // No gateway: messages are recorded and stay queued until one is configured.
        return Ok(());
    }
    let due: Vec<Message> = platform
        .store
        .pending_messages()?
        .into_iter()
        .filter(|message| {
            message.state == MessageState::Queued
                && message.next_at.is_some_and(|next| next <= as_of)
        })
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let gateway = Gateway::new(config)?;
    let max_attempts = usize::try_from(config.max_attempts.max(1)).unwrap_or(usize::MAX);
    let mut commands = Vec::new();
    let mut silent = 0;
    let total = due.len();
    for (index, message) in due.into_iter().enumerate() {
        let result = match platform.store.pii().open_field(PiiKind::Phone, &message.to) {
            Ok(phone) => gateway.send(&message, &phone),
            Err(error) => Err(Failure {
                error: format!("the recipient cannot be opened: {error}"),
                permanent: true,
                answered: true,
            }),
        };
        silent = match &result {
            Err(failure) if !failure.answered => silent + 1,
            _ => 0,
        };
        let (attempt, next_at) = match result {
            Ok(gateway_id) => {
                report.messages_sent += 1;
                let attempt = DeliveryAttempt {
                    at: as_of,
                    ok: true,
                    gateway_id,
                    error: None,
                };
                (attempt, None)
            }
            Err(failure) => {
                report.messages_failed += 1;
                let failures = message.attempts.len() + 1;
                let next_at = (!failure.permanent && failures < max_attempts)
                    .then(|| as_of + retry_delay(config.retry_secs, failures));
                if next_at.is_none() {
                    report.fail(
                        format!("message {}", message.id),
                        format!("given up after {failures} attempts: {}", failure.error),
                    );
                }
                let attempt = DeliveryAttempt {
                    at: as_of,
                    ok: false,
                    gateway_id: None,
                    error: Some(failure.error),
                };
                (attempt, next_at)
            }
        };
        commands.push(Command::Loop(LoopCommand::MessageAttempt {
            message_id: message.id,
            attempt,
            next_at,
        }));
        if commands.len() >= ATTEMPT_CHUNK {
            submit_all(platform, std::mem::take(&mut commands), report)?;
        }
        if silent >= GATEWAY_SILENT_LIMIT && index + 1 < total {
            report.fail(
                "",
                format!(
                    "the SMS gateway did not answer {silent} calls in a row; messages left for the next sweep: {}",
                    total - index - 1
                ),
            );
            break;
        }
    }
    submit_all(platform, commands, report)
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    /// Retrying cannot help.
    pub permanent: bool,
    /// The gateway answered (with an error); `false` when it could not be reached in time.
    pub answered: bool,
}

/// The SMS gateway: a URL that takes one message per POST.
pub struct Gateway {
    client: reqwest::blocking::Client,
    url: String,
    token: String,
}

impl Gateway {
    /// A client with the configured time limit. Blocking; not on an async worker.
    pub fn new(config: &MessagesConfig) -> anyhow::Result<Gateway> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .build()
            .context("building the HTTP client of the SMS gateway")?;
        Ok(Gateway {
            client,
            url: config.gateway_url.trim().to_string(),
            token: config.gateway_token.clone(),
        })
    }

    /// POSTs `{"id", "channel", "to", "text", "purpose"}`. A 2xx answer accepts the message;
    /// the gateway's id is read from an `id` or `message_id` field of a JSON answer.
    pub fn send(&self, message: &Message, phone: &str) -> Result<Option<String>, Failure> {
        let body = serde_json::json!({
            "id": message.id,
            "channel": message.channel,
            "to": phone,
            "text": message.text,
            "purpose": message.purpose,
        });
        let mut request = self.client.post(&self.url).json(&body);
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let response = request.send().map_err(|error| Failure {
            error: error_chain(&error),
            permanent: false,
            answered: false,
        })?;
        let status = response.status();
        let text = response.text().unwrap_or_default();
        if !status.is_success() {
            let snippet: String = text.chars().take(200).collect();
            return Err(Failure {
                error: format!("the gateway answered {status}: {snippet}"),
                permanent: false,
                answered: true,
            });
        }
        Ok(gateway_id(&text))
    }
}

/// The gateway's id of an accepted message, from a JSON answer's `id` or `message_id`.
fn gateway_id(answer: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(answer).ok()?;
    ["id", "message_id"]
        .into_iter()
        .find_map(|field| match value.get(field)? {
            serde_json::Value::String(id) if !id.is_empty() => Some(id.clone()),
            serde_json::Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
}

/// An error and its causes, `error: cause: cause` (reqwest's own message leaves out why a
/// connection failed).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn rating_token_names_its_act_and_nothing_else() {
        let key = PiiKey::from_bytes([3; 32]);
        for (project, number) in [("BF-2026-000123", 1), ("办件/甲 01", 99), ("x", 7)] {
            let token = rating_token(&key, project, number);
            assert!(
                token.bytes().all(|byte| byte.is_ascii_hexdigit()),
                "{token}"
            );
            assert_eq!(
                act_of_token(&key, &token),
                Some((project.to_string(), number))
            );
            assert_eq!(act_of_token(&PiiKey::from_bytes([4; 32]), &token), None);
        }
        let token = rating_token(&key, "BF-2026-000123", 1);
        // Another act with the same proof, a changed proof, a cut token, junk.
        let other = format!("{}02{}", &token[..32], &token[34..]);
        let mut flipped = token.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        for bad in [
            other.as_str(),
            flipped.as_str(),
            &token[..token.len() - 1],
            &token[..35],
            "",
            "not a token",
            &format!("{}+1{}", &token[..32], &token[34..]),
        ] {
            assert_eq!(act_of_token(&key, bad), None, "{bad}");
        }
    }

    #[test]
    fn invitation_text_names_the_item_and_carries_the_link() {
        let url = "https://hcp.example.gov.cn/r/abc";
        let text = invitation_text(Some("企业设立登记"), url);
        assert!(text.starts_with("【政务服务好差评】"), "{text}");
        assert!(
            text.contains("“企业设立登记”事项") && text.ends_with(url),
            "{text}"
        );
        assert!(invitation_text(None, url).contains("政务服务事项已办结"));
    }

    #[test]
    fn retries_double_from_the_configured_delay() {
        let delays: Vec<i64> = (1..=5)
            .map(|failures| retry_delay(60, failures).num_seconds())
            .collect();
        assert_eq!(delays, [60, 120, 240, 480, 960]);
        assert!(retry_delay(u64::MAX, 99).num_seconds() > 0);
    }

    #[test]
    fn gateway_ids_come_from_json_answers() {
        assert_eq!(gateway_id(r#"{"id":"sms-1"}"#).as_deref(), Some("sms-1"));
        assert_eq!(gateway_id(r#"{"message_id":42}"#).as_deref(), Some("42"));
        assert_eq!(gateway_id(r#"{"ok":true}"#), None);
        assert_eq!(gateway_id("accepted"), None);
    }

    /// One answer of the test gateway: status line and body.
    type Answer = (&'static str, &'static str);

    /// A gateway on a local socket that answers each request with the next answer (the last one
    /// repeats; `None` never answers) and keeps what it was sent.
    fn test_gateway(answers: Vec<Option<Answer>>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
        let url = format!(
            "http://{}/sms",
            listener
                .local_addr()
                .unwrap_or_else(|error| panic!("{error}"))
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut reader =
                    BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                if let Ok(mut seen) = kept.lock() {
                    seen.push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
                }
                match answers.get(index).or(answers.last()).cloned().flatten() {
                    Some((status, body)) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    None => held.push(stream),
                }
            }
        });
        (url, seen)
    }

    fn message() -> Message {
        let key = PiiKey::from_bytes([5; 32]);
        Message {
            id: 77,
            channel: MessageChannel::Sms,
            purpose: MessagePurpose::Invitation,
            subject: "service:P-1/1".into(),
            to: key.seal_field(PiiKind::Phone, "13912345678"),
            to_masked: "139****5678".into(),
            text: "【政务服务好差评】……".into(),
            queued_at: Utc::now(),
            attempts: Vec::new(),
            state: MessageState::Queued,
            next_at: None,
        }
    }

    fn config(url: &str, timeout_ms: u64) -> MessagesConfig {
        MessagesConfig {
            gateway_url: url.into(),
            gateway_token: "secret-token".into(),
            timeout_ms,
            ..MessagesConfig::default()
        }
    }

    #[test]
    fn gateway_accepts_refuses_and_times_out() {
        let (url, seen) = test_gateway(vec![
            Some(("200 OK", r#"{"id":"gw-9"}"#)),
            Some(("500 Internal Server Error", "down")),
        ]);
        let gateway = Gateway::new(&config(&url, 5000)).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            gateway.send(&message(), "13912345678"),
            Ok(Some("gw-9".to_string()))
        );
        let failure = gateway.send(&message(), "13912345678");
        assert!(
            matches!(&failure, Err(Failure { error, permanent: false, answered: true }) if error.contains("500")),
            "{failure:?}"
        );
        let seen = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 2);
        let first = &seen[0];
        assert!(first.starts_with("POST /sms "), "{first}");
        assert!(
            first
                .to_ascii_lowercase()
                .contains("authorization: bearer secret-token"),
            "{first}"
        );
        let body: serde_json::Value = first
            .split_once("\n\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"id": 77, "channel": "sms", "to": "13912345678",
                "text": "【政务服务好差评】……", "purpose": "invitation"})
        );

        let (silent, _) = test_gateway(vec![None]);
        let gateway = Gateway::new(&config(&silent, 200)).unwrap_or_else(|error| panic!("{error}"));
        let failure = gateway.send(&message(), "13912345678");
        assert!(
            matches!(
                &failure,
                Err(Failure {
                    permanent: false,
                    answered: false,
                    ..
                })
            ),
            "{failure:?}"
        );
    }
}
