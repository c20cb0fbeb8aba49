//! Invitations, default ratings and outbound messages (the sweep's second and third steps), and
//! what the outreach endpoints share with them: the `system` source, the rating link of a service
//! act, and a rating of an act built from what the platform knows of it; the phone invitation of
//! unrated services (电话邀评) with the reveal of the applicant's number, and the rating given
//! through an invitation link.
//!
//! An invitation's task is removed by the `TaskDone` recorded after the message or call it
//! produced, so a crash in between repeats it at the next sweep: the SMS may go out twice (the
//! call list refuses a second entry). A default rating removes its act's tasks in the very
//! transaction that records it. A message is handed to the gateway before its attempt is
//! recorded, so the gateway may see a message id twice and is told to drop repeats.

use std::collections::HashSet;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use hcp_core::auth::{self, Principal, Source};
use hcp_core::event::AuditEntry;
use hcp_core::model::{Case, Channel, EvaluatorInput, Level, RatingInput, ServiceAct};
use hcp_core::outreach::{
    MessageChannel, MessageInput, MessagePurpose, ScheduledAction, ScheduledTask, ServiceCall,
    ServiceCallState, TaskOutcome,
};
use hcp_core::pii::PiiKind;
use hcp_core::store::{Command, Dim, LoopCommand, MasterChange, Outcome};
use hcp_core::validate::{DomainError, MAX_TEXT_CHARS, Reason};
use hcp_core::workflow::{CALL_ATTEMPTS_BEFORE_SMS, CallOutcome, OrderState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::platform::Platform;
use crate::app::scope::Target;
use crate::app::tokens::{act_of_token, rating_url};
use crate::app::work::SweepReport;

/// The source of the ratings the platform records itself: default ratings, answers given on
/// the phone, ratings through an invitation link. Its API key is never shown to anyone.
pub const SYSTEM_SOURCE: &str = "system";

/// Scheduled tasks handled per round trip to the store (two batches: what they produce, then
/// their `TaskDone`).
const TASK_CHUNK: usize = 512;

pub use hcp_core::outreach::service_subject;

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
    // An erased number (past its retention, or at the applicant's request) is no contact.
    let phone = act
        .contact
        .as_ref()
        .map(|sealed| platform.store.pii().open_kept(PiiKind::Phone, sealed))
        .transpose()
        .context("the applicant's number cannot be opened")?
        .flatten();
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

// ---------------------------------------------------------------------------------------------
// the call list's service calls and the invitation link

/// A service call whose regions hold the caller's scope. Blocking.
fn load_call(
    platform: &Platform,
    principal: &Principal,
    project_no: &str,
    service_number: u8,
) -> Result<ServiceCall, AppError> {
    match platform.store.service_call(project_no, service_number)? {
        Some(call) if platform.scope().sees(principal, Target::Call(&call))? => Ok(call),
        _ => Err(AppError::NotFound(format!(
            "no service call of {project_no}/{service_number} within your scope"
        ))),
    }
}

fn existing_act(
    platform: &Platform,
    project_no: &str,
    service_number: u8,
) -> Result<(Case, ServiceAct), AppError> {
    find_act(platform, project_no, service_number)?
        .ok_or_else(|| AppError::NotFound(format!("no service act {project_no}/{service_number}")))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceCallResult {
    pub project_no: String,
    pub service_number: u8,
    /// `open` while more attempts are due; `rated`, `already_rated` or `unreachable` when done.
    pub state: ServiceCallState,
    pub attempts: usize,
    /// The rating recorded from the applicant's answer.
    pub rating_id: Option<u64>,
    /// The SMS invitation queued after the last unreachable attempt.
    pub message_id: Option<u64>,
}

/// One call of an unrated service (电话邀评) by a call-back agent: a reached applicant's answer
/// becomes the act's rating on the phone channel; after three unreachable attempts the
/// applicant is sent the SMS invitation instead; an act rated meanwhile ends the call as
/// `already_rated`. Blocking.
pub fn call_service(
    platform: &Platform,
    principal: &Principal,
    project_no: String,
    service_number: u8,
    outcome: CallOutcome,
    note: &str,
) -> Result<ServiceCallResult, AppError> {
    let note = note.trim().to_string();
    if note.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::BadRequest(format!(
            "the note has at most {MAX_TEXT_CHARS} characters"
        )));
    }
    if outcome == CallOutcome::Dissatisfied && note.is_empty() {
        return Err(AppError::Unprocessable(Reason {
            code: "note_required".into(),
            message:
                "a dissatisfied answer needs the applicant's reason in the note (差评须说明原因)"
                    .into(),
        }));
    }
    let call = load_call(platform, principal, &project_no, service_number)?;
    if call.state != ServiceCallState::Open {
        return Err(AppError::Conflict(format!(
            "the call of {project_no}/{service_number} is finished ({:?})",
            call.state
        )));
    }
    let (case, act) = existing_act(platform, &project_no, service_number)?;
    let mut rating_id = None;
    let mut message_id = None;
    let state = if !act.ratings.is_empty() {
        ServiceCallState::AlreadyRated
    } else {
        match outcome {
            CallOutcome::Unreachable => {
                let unreachable = 1 + call
                    .attempts
                    .iter()
                    .filter(|attempt| attempt.outcome == CallOutcome::Unreachable)
                    .count();
                if unreachable >= CALL_ATTEMPTS_BEFORE_SMS {
                    if let Some(message) =
                        invitation_message(platform, &case, &act, MessageChannel::Sms)?
                    {
                        message_id =
                            Some(platform.record(Command::Loop(LoopCommand::QueueMessage {
                                actor: principal.username.clone(),
                                message,
                            }))?);
                    }
                    ServiceCallState::Unreachable
                } else {
                    ServiceCallState::Open
                }
            }
            reached => {
                let level = match reached {
                    CallOutcome::Satisfied => Level::Satisfied,
                    CallOutcome::BasicallySatisfied => Level::BasicallySatisfied,
                    _ => Level::Dissatisfied,
                };
                let rating = ActRating {
                    event_id: format!("phone:{project_no}/{service_number}"),
                    level,
                    channel: Channel::Phone,
                    text: level.is_bad().then(|| note.clone()),
                    rated_at: platform.clock.now(),
                    evaluator: applicant_evaluator(platform, &case, &act)?,
                };
                match record_act_rating(platform, &case, &act, rating)? {
                    Outcome::Recorded { seq } | Outcome::Duplicate { seq } => {
                        rating_id = Some(seq);
                        ServiceCallState::Rated
                    }
                    Outcome::Rejected(DomainError::DuplicateRating { .. }) => {
                        ServiceCallState::AlreadyRated
                    }
                    Outcome::Rejected(error) => {
                        return Err(AppError::Unprocessable(error.reason()));
                    }
                }
            }
        }
    };
    match platform
        .store
        .submit_one(Command::Loop(LoopCommand::ServiceCallAttempt {
            actor: principal.username.clone(),
            project_no: project_no.clone(),
            service_number,
            outcome,
            note,
            state,
        }))? {
        Outcome::Rejected(error) => Err(AppError::Conflict(error.to_string())),
        _ => Ok(ServiceCallResult {
            project_no,
            service_number,
            state,
            attempts: call.attempts.len() + 1,
            rating_id,
            message_id,
        }),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevealedApplicant {
    pub project_no: String,
    pub service_number: u8,
    pub phone: Option<String>,
    /// Log sequence number of the audit entry that recorded this reveal.
    pub audit_seq: u64,
}

/// The applicant's number of an open service call, for a call-back agent to call them, with
/// the `reason`; the reveal is recorded durably in the audit trail before anything is returned.
/// Blocking.
pub fn reveal_applicant(
    platform: &Platform,
    principal: &Principal,
    project_no: String,
    service_number: u8,
    reason: &str,
) -> Result<RevealedApplicant, AppError> {
    let reason = reason.trim().to_string();
    if reason.chars().count() < 2 || reason.chars().count() > 200 {
        return Err(AppError::BadRequest(
            "reason must have 2 to 200 characters".into(),
        ));
    }
    let call = load_call(platform, principal, &project_no, service_number)?;
    if call.state != ServiceCallState::Open {
        return Err(AppError::Conflict(format!(
            "the call of {project_no}/{service_number} is finished ({:?})",
            call.state
        )));
    }
    let (_, act) = existing_act(platform, &project_no, service_number)?;
    let audit_seq = match platform.store.submit_one(Command::Audit {
        entry: AuditEntry {
            actor: principal.username.clone(),
            action: "reveal_applicant".into(),
            target: service_subject(&project_no, service_number),
            detail: reason,
        },
    })? {
        Outcome::Recorded { seq } => seq,
        other => {
            return Err(AppError::Internal(format!(
                "audit entry not recorded: {other:?}"
            )));
        }
    };
    let phone = act
        .contact
        .as_ref()
        .map(|sealed| platform.store.pii().open_field(PiiKind::Phone, sealed))
        .transpose()?;
    Ok(RevealedApplicant {
        project_no,
        service_number,
        phone,
        audit_seq,
    })
}

/// Records the first rating of the act a link names, on the SMS channel. Blocking.
pub fn rate_by_link(
    platform: &Platform,
    token: &str,
    level: Level,
    text: Option<String>,
) -> Result<u64, AppError> {
    let invalid = || AppError::NotFound("unknown rating link".into());
    let (project_no, service_number) =
        act_of_token(platform.store.pii(), token).ok_or_else(invalid)?;
    let (case, act) = find_act(platform, &project_no, service_number)?.ok_or_else(invalid)?;
    if !act.ratings.is_empty() {
        return Err(AppError::Conflict("the service is already rated".into()));
    }
    let text = text
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty());
    if text
        .as_ref()
        .is_some_and(|text| text.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(AppError::invalid_field(
            "text",
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if level.is_bad() && text.is_none() {
        return Err(AppError::Unprocessable(
            DomainError::BadReviewWithoutDetail.reason(),
        ));
    }
    let input = ActRating {
        event_id: format!("link:{project_no}/{service_number}"),
        level,
        channel: Channel::Sms,
        text,
        rated_at: platform.clock.now(),
        evaluator: applicant_evaluator(platform, &case, &act)?,
    };
    match record_act_rating(platform, &case, &act, input)? {
        Outcome::Recorded { seq } => Ok(seq),
        Outcome::Duplicate { .. } | Outcome::Rejected(DomainError::DuplicateRating { .. }) => {
            Err(AppError::Conflict("the service is already rated".into()))
        }
        Outcome::Rejected(error) => Err(AppError::Unprocessable(error.reason())),
    }
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
                crate::app::tokens::tracking_url(platform, order.id)
            ),
        });
    }
    Ok(feedback)
}

/// An error and its causes, `error: cause: cause` (reqwest's own message leaves out why a
/// connection failed).
pub fn error_chain(error: &dyn std::error::Error) -> String {
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
    use super::*;

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
}
