//! The provincial uplink's shipper and daily reconciliation. The event log is the outbox: a
//! step reads the records after the uplink's cursor (ratings, and bad reviews' rectifications
//! when their orders close), has the uplink adapter encode them, records the numbered batch
//! with its exact bytes, then POSTs it to the provincial endpoint and records the answer the
//! adapter reads from the response. A send that fails is recorded with the time of the next
//! try (exponential backoff with a cap) and the same bytes go again under the same number, so
//! the province, which deduplicates on the number, never counts a record twice, and a restart
//! resumes exactly where the store says the uplink stood. Everything runs on blocking threads
//! through the committer like every other write, so ingest never waits for the province.

use std::sync::Mutex;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::calendar::{china_tz, local_date};
use hcp_core::model::{EvaluatorInput, Rating, RatingInput};
use hcp_core::pii::PiiKind;
use hcp_core::store::uplink::UplinkCommand;
use hcp_core::store::{Command, EventLog as _, Outcome};
use hcp_core::uplink::{
    Attempt, InFlight, NotSent, OutboxRecord, PreparedBatch, Reconciliation, RecordRef, Resolution,
    retry_delay,
};
use hcp_plugins::{
    CallError, Plugin, PluginKind, UplinkRating, UplinkRecord, UplinkRecords, UplinkRectification,
};
use serde::Serialize;

use crate::app::AppError;
use crate::app::config::UplinkConfig;
use crate::app::disclosure::Masker;
use crate::app::outbound;
use crate::app::platform::Platform;
use crate::app::redact::redact;

/// Log entries one step reads at most while looking for records to report.
const MAX_SCAN_ENTRIES: usize = 200_000;

/// Steps one run takes at most before it lets the next run continue.
const MAX_STEPS: usize = 10_000;

/// Refused records the status lists (all of them are counted).
const LISTED_REFUSALS: usize = 200;

/// A reconciliation that found differences is run again after this long (scheduled runs).
const RECONCILE_RETRY: chrono::Duration = chrono::Duration::hours(1);

/// The uplink of one platform: its configuration, and the lock that keeps its runs (the
/// background loop, `POST /api/v1/admin/uplink/run`) one at a time.
pub struct Uplink {
    pub config: UplinkConfig,
    /// Held for a whole run: runs never overlap.
    run_lock: Mutex<()>,
    /// Held only to read or change a value, so the status never waits for a run.
    runtime: Mutex<Runtime>,
}

/// What a run keeps in memory only: none of it is needed to resume after a restart.
#[derive(Default)]
struct Runtime {
    /// From `cursor`, the log holds nothing to report through `through` (saves scanning the
    /// same entries again while nothing happens).
    idle: Option<(u64, u64)>,
    /// The last problem that stopped a step before a send (adapter missing, cannot encode).
    last_error: Option<(DateTime<Utc>, String)>,
    /// The last scheduled reconciliation that failed, and why.
    last_reconcile_error: Option<(DateTime<Utc>, String)>,
    last_scheduled_try: Option<DateTime<Utc>>,
}

impl Uplink {
    pub fn new(config: UplinkConfig) -> Uplink {
        Uplink {
            config,
            run_lock: Mutex::default(),
            runtime: Mutex::default(),
        }
    }

    /// Holds the uplink for a run, waiting for a run in progress to end.
    fn begin(&self) -> std::sync::MutexGuard<'_, ()> {
        self.run_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Holds the uplink for a run, or `None` at once while another run holds it.
    fn try_begin(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        match self.run_lock.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    fn runtime(&self) -> std::sync::MutexGuard<'_, Runtime> {
        // Plain values, consistent after any panic in between.
        self.runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one step did. (Named `UplinkStep` in the API document: an order's timeline has its own
/// `Step`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = UplinkStep)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Nothing to report: the log is settled up to its head.
    Idle,
    /// A batch was numbered and kept; it is sent next.
    Prepared { number: u64, records: usize },
    /// Records the adapter cannot express (or its contract cannot carry) were listed as not
    /// sent, and nothing else was due: the cursor moved past them.
    Skipped { records: usize },
    Acknowledged {
        number: u64,
        accepted: usize,
        refused: usize,
    },
    /// The send failed; the batch goes again at `next_at`.
    Failed {
        number: u64,
        error: String,
        next_at: DateTime<Utc>,
    },
    /// The batch waits for its next try.
    Waiting { number: u64, until: DateTime<Utc> },
    /// Something must be fixed before the uplink can go on (the reason says what).
    Blocked { reason: String },
}

impl Step {
    /// Whether another step right away can make progress.
    fn continues(&self) -> bool {
        matches!(
            self,
            Step::Prepared { .. } | Step::Skipped { .. } | Step::Acknowledged { .. }
        )
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub as_of: DateTime<Utc>,
    pub steps: Vec<Step>,
}

/// Runs steps as of `as_of` until nothing more can be done now (or only one, with
/// `until_idle` false). Blocking.
pub fn run(platform: &Platform, as_of: DateTime<Utc>, until_idle: bool) -> RunReport {
    run_while(platform, as_of, until_idle, &|| true)
}

/// [`run`] by a process that may lose the uplink to another node meanwhile: a step (one batch
/// sent) begins only while `holds` says the process still runs the uplink. Blocking.
pub fn run_while(
    platform: &Platform,
    as_of: DateTime<Utc>,
    until_idle: bool,
    holds: &dyn Fn() -> bool,
) -> RunReport {
    let _running = platform.uplink.begin();
    run_holding_lock(platform, as_of, until_idle, holds)
}

/// A run asked for by a person (`POST /api/v1/admin/uplink/run`): like [`run`], but refused at
/// once with `Conflict` while another run (the shipper's) holds the uplink, rather than waiting
/// for it to end. Blocking.
pub fn run_now(
    platform: &Platform,
    as_of: DateTime<Utc>,
    until_idle: bool,
) -> Result<RunReport, AppError> {
    let Some(_running) = platform.uplink.try_begin() else {
        return Err(AppError::Conflict(
            "an uplink run is in progress (the shipper's); ask again when it has ended".into(),
        ));
    };
    Ok(run_holding_lock(platform, as_of, until_idle, &|| true))
}

fn run_holding_lock(
    platform: &Platform,
    as_of: DateTime<Utc>,
    until_idle: bool,
    holds: &dyn Fn() -> bool,
) -> RunReport {
    let uplink = &platform.uplink;
    let mut report = RunReport {
        as_of,
        steps: Vec::new(),
    };
    let client = match client(&uplink.config) {
        Ok(client) => client,
        Err(error) => {
            report.steps.push(Step::Blocked {
                reason: format!("{error:#}"),
            });
            return report;
        }
    };
    for _ in 0..MAX_STEPS {
        if !holds() {
            break;
        }
        let step = match step(platform, &client, as_of) {
            Ok(step) => step,
            Err(error) => Step::Blocked {
                reason: format!("{error:#}"),
            },
        };
        match &step {
            Step::Blocked { reason } => {
                tracing::warn!(%reason, "uplink blocked");
                uplink.runtime().last_error = Some((as_of, reason.clone()));
            }
            Step::Idle | Step::Prepared { .. } | Step::Acknowledged { .. } => {
                uplink.runtime().last_error = None;
            }
            _ => {}
        }
        let go_on = until_idle && step.continues();
        report.steps.push(step);
        if !go_on {
            break;
        }
    }
    report
}

fn client(config: &UplinkConfig) -> anyhow::Result<reqwest::blocking::Client> {
    outbound::client("the uplink", config.timeout_ms, config.ca_file.as_deref())
}

fn step(
    platform: &Platform,
    client: &reqwest::blocking::Client,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Step> {
    let config = &platform.uplink.config;
    if config.endpoint.is_empty() {
        return Ok(Step::Blocked {
            reason: "未配置省级平台地址 ([uplink] endpoint)".into(),
        });
    }
    match platform.store.uplink_in_flight()? {
        Some((flight, body)) => send(platform, client, &flight, body, as_of),
        None => prepare(platform),
    }
}

/// Numbers the next batch and keeps it, or says there is nothing to report.
fn prepare(platform: &Platform) -> anyhow::Result<Step> {
    let config = &platform.uplink.config;
    let store = &platform.store;
    let Some(plugin) = platform.plugins.get(&config.adapter) else {
        return Ok(Step::Blocked {
            reason: format!("上报适配器 {} 未安装", config.adapter),
        });
    };
    if plugin.kind() != PluginKind::Uplink {
        return Ok(Step::Blocked {
            reason: format!("插件 {} 不是上报适配器", config.adapter),
        });
    }
    let state = store.uplink_state()?;
    let mut records: Vec<OutboxRecord> = Vec::new();
    for queued in store.uplink_queue(config.batch_size)? {
        if let Some(record) = store.uplink_record(queued.id)? {
            records.push(record);
        }
    }
    let idle = platform.uplink.runtime().idle;
    let scan_from = match idle {
        Some((cursor, through)) if cursor == state.cursor => through,
        _ => state.cursor,
    };
    let scan = store.uplink_scan(
        scan_from,
        config.batch_size.saturating_sub(records.len()),
        MAX_SCAN_ENTRIES,
    )?;
    records.extend(scan.records);
    if records.is_empty() {
        platform.uplink.runtime().idle = Some((state.cursor, scan.through_seq));
        return Ok(if scan.through_seq >= store.head()? {
            Step::Idle
        } else {
            // Only entries without records so far; the next step scans on.
            Step::Skipped { records: 0 }
        });
    }
    platform.uplink.runtime().idle = None;

    let mut not_sent = Vec::new();
    let mut sendable = Vec::new();
    let masker = Masker::new(platform)?;
    for record in records {
        let reference = record.reference();
        match uplink_record(platform, &masker, &record) {
            Ok(converted) => {
                if matches!(converted, UplinkRecord::Rectification(_))
                    && !plugin.reports_rectifications()
                {
                    not_sent.push(NotSent {
                        record: reference,
                        reason: format!(
                            "上报适配器 {} {} 按合同 {} 仅上报评价，不上报整改记录；换用合同 1.1 及以上的适配器后可重新上报",
                            plugin.info.id,
                            plugin.info.version,
                            plugin.contract()
                        ),
                    });
                } else {
                    sendable.push((reference, converted));
                }
            }
            Err(error) => not_sent.push(NotSent {
                record: reference,
                reason: format!("记录无法读取：{error:#}"),
            }),
        }
    }
    let number = state.last_number + 1;
    let encoded = match encode(platform, &plugin, number, &sendable) {
        _ if sendable.is_empty() => None,
        Ok(request) => Some(request),
        Err(CallError::Unsupported(_)) => {
            // The adapter cannot express some record: find which, list them, send the rest.
            let mut kept = Vec::new();
            for (reference, record) in sendable {
                match encode(
                    platform,
                    &plugin,
                    number,
                    &[(reference.clone(), record.clone())],
                ) {
                    Ok(_) => kept.push((reference, record)),
                    Err(CallError::Unsupported(reason)) => not_sent.push(NotSent {
                        record: reference,
                        reason: format!("上报适配器无法编码：{reason}"),
                    }),
                    Err(error) => return Ok(blocked_by(&plugin, &error)),
                }
            }
            sendable = kept;
            if sendable.is_empty() {
                None
            } else {
                match encode(platform, &plugin, number, &sendable) {
                    Ok(request) => Some(request),
                    Err(error) => return Ok(blocked_by(&plugin, &error)),
                }
            }
        }
        Err(error) => return Ok(blocked_by(&plugin, &error)),
    };
    let (number, content_type, body) = match encoded {
        Some(request) if !sendable.is_empty() => (number, request.content_type, request.body),
        _ => (0, String::new(), Vec::new()),
    };
    let sent = sendable.len();
    let skipped = not_sent.len();
    let batch = PreparedBatch {
        number,
        after_seq: state.cursor,
        through_seq: scan.through_seq,
        records: sendable
            .into_iter()
            .map(|(reference, _)| reference)
            .collect(),
        not_sent,
        content_type,
        sealed_body: String::new(),
        body_sha256: String::new(),
        body_bytes: 0,
        adapter: plugin.info.id.clone(),
        adapter_version: plugin.info.version.clone(),
        adapter_sha256: plugin.sha256.clone(),
        contract: plugin.contract().to_owned(),
    };
    match store.submit_one(Command::Uplink(UplinkCommand::Prepare {
        batch: Box::new(batch),
        body,
    }))? {
        Outcome::Rejected(error) => Ok(Step::Blocked {
            reason: error.to_string(),
        }),
        _ if number == 0 => Ok(Step::Skipped { records: skipped }),
        _ => Ok(Step::Prepared {
            number,
            records: sent,
        }),
    }
}

fn encode(
    platform: &Platform,
    plugin: &Plugin,
    number: u64,
    records: &[(RecordRef, UplinkRecord)],
) -> Result<hcp_plugins::UplinkRequest, CallError> {
    if records.is_empty() {
        return Err(CallError::Unsupported("no records".into()));
    }
    let batch = UplinkRecords {
        number,
        records: records.iter().map(|(_, record)| record.clone()).collect(),
    };
    platform
        .plugins
        .encode_records(&plugin.info.id, &batch)
        .map(|(_, request)| request)
}

fn blocked_by(plugin: &Plugin, error: &CallError) -> Step {
    Step::Blocked {
        reason: format!("上报适配器 {} 出错：{error}", plugin.info.id),
    }
}

/// The record as the adapter receives it. Names and numbers are opened only when the
/// configuration says the province receives them; the ID number never leaves.
fn uplink_record(
    platform: &Platform,
    masker: &Masker,
    record: &OutboxRecord,
) -> anyhow::Result<UplinkRecord> {
    Ok(match record {
        OutboxRecord::Rating(rating) => {
            UplinkRecord::Rating(uplink_rating(platform, masker, rating)?)
        }
        OutboxRecord::Rectification {
            id,
            rating_id,
            rectification,
        } => UplinkRecord::Rectification(UplinkRectification {
            id: *id,
            rating_id: *rating_id,
            rectification: (**rectification).clone(),
        }),
    })
}

fn uplink_rating(
    platform: &Platform,
    masker: &Masker,
    rating: &Rating,
) -> anyhow::Result<UplinkRating> {
    let personal = platform.uplink.config.personal_data;
    // Without personal data, the comment leaves as the public pages show it: the evaluator's
    // and the platform's people's names and every number struck.
    // An erased comment leaves no text; a key ring out of reach fails the batch, to be retried.
    let opened = crate::app::ratings::comment(platform, rating)
        .map_err(|error| anyhow::anyhow!("opening the comment of rating {}: {error}", rating.id))?;
    let text = if personal {
        opened
    } else if opened.is_none() {
        None
    } else {
        masker.rating_text(platform, rating)
    };
    let open = |kind: PiiKind, field: &Option<hcp_core::model::SealedField>| {
        field
            .as_ref()
            .filter(|_| personal)
            .map(|sealed| platform.store.pii().open_kept(kind, sealed))
            .transpose()
            .map(Option::flatten)
            .with_context(|| format!("opening the evaluator's {kind:?} of rating {}", rating.id))
    };
    Ok(UplinkRating {
        id: rating.id,
        rating: RatingInput {
            event_id: rating.event_id.clone(),
            project_no: rating.project_no.clone(),
            service_number: rating.service_number,
            assess_number: rating.assess_number,
            task_code: rating.attribution.task_code.clone(),
            department: rating.attribution.department.clone(),
            area_code: rating.area_code.clone(),
            service_name: rating.service_name.clone(),
            window: rating.attribution.window.clone(),
            staff: rating.attribution.staff.clone(),
            device: rating.device.clone(),
            level: rating.level,
            channel: rating.channel,
            indicators: rating.indicators.clone(),
            text,
            evaluator: EvaluatorInput {
                real_name: rating.evaluator.real_name,
                applicant_type: rating.evaluator.applicant_type,
                name: open(PiiKind::Name, &rating.evaluator.name)?,
                phone: open(PiiKind::Phone, &rating.evaluator.phone)?,
                id_number: None,
            },
            rated_at: rating.rated_at,
        },
        received_at: rating.received_at,
    })
}

/// Sends the in-flight batch (when due) and records what became of it.
fn send(
    platform: &Platform,
    client: &reqwest::blocking::Client,
    flight: &InFlight,
    body: Vec<u8>,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Step> {
    let config = &platform.uplink.config;
    let batch = &flight.batch;
    // A batch never sent is due at once (it was prepared a moment after `as_of` was taken);
    // a failed one waits for its next try.
    if flight.attempts > 0 && as_of < flight.next_at() {
        return Ok(Step::Waiting {
            number: batch.number,
            until: flight.next_at(),
        });
    }
    let answer =
        post(client, &config.endpoint, &batch.content_type, body).and_then(|(status, answer)| {
            platform
                .plugins
                .parse_ack(&batch.adapter, status, &answer)
                .map(|(_, ack)| ack)
                // The adapter's message may quote the province's answer.
                .map_err(|error| redact(&error.to_string()))
        });
    match answer {
        Ok(ack) => {
            let (accepted, refused) = (ack.accepted.len(), ack.refused.len());
            let outcome = platform
                .store
                .submit_one(Command::Uplink(UplinkCommand::Acked {
                    number: batch.number,
                    accepted: ack.accepted,
                    refused: ack.refused,
                }))?;
            if let Outcome::Rejected(error) = outcome {
                return Ok(Step::Blocked {
                    reason: error.to_string(),
                });
            }
            Ok(Step::Acknowledged {
                number: batch.number,
                accepted,
                refused,
            })
        }
        Err(error) => {
            let failures = flight.attempts.saturating_add(1);
            let delay = retry_delay(config.retry_base_secs, config.retry_max_secs, failures);
            let next_at =
                as_of + chrono::Duration::seconds(i64::try_from(delay).unwrap_or(i64::MAX));
            tracing::warn!(number = batch.number, failures, %error, %next_at, "uplink batch not acknowledged");
            let outcome = platform
                .store
                .submit_one(Command::Uplink(UplinkCommand::Attempted {
                    number: batch.number,
                    attempt: Attempt {
                        at: as_of,
                        error: error.clone(),
                        next_at,
                    },
                }))?;
            if let Outcome::Rejected(refusal) = outcome {
                return Ok(Step::Blocked {
                    reason: refusal.to_string(),
                });
            }
            Ok(Step::Failed {
                number: batch.number,
                error,
                next_at,
            })
        }
    }
}

/// POSTs a body; the status and the body of the answer (at most
/// [`outbound::UPLINK_ANSWER_BYTES`]; a redirect is not followed), or why there is none,
/// redacted.
fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .map_err(|error| format!("省级平台无应答：{}", outbound::failure(&error)))?;
    outbound::read_answer(response, outbound::UPLINK_ANSWER_BYTES)
        .map_err(|error| format!("省级平台应答未读取：{error}"))
}

/// Why a reconciliation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The configuration or the adapter cannot reconcile.
    #[error("{0}")]
    Unavailable(String),
    /// The province did not answer, or its answer could not be read.
    #[error("{0}")]
    Province(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Asks the province for its counts of `day`, compares them with the platform's and records
/// the result. Blocking.
pub fn reconcile(
    platform: &Platform,
    day: NaiveDate,
    actor: &str,
) -> Result<Reconciliation, ReconcileError> {
    let config = &platform.uplink.config;
    if config.reconcile_endpoint.is_empty() {
        return Err(ReconcileError::Unavailable(
            "未配置对账地址 ([uplink] reconcile_endpoint)".into(),
        ));
    }
    let Some(plugin) = platform.plugins.get(&config.adapter) else {
        return Err(ReconcileError::Unavailable(format!(
            "上报适配器 {} 未安装",
            config.adapter
        )));
    };
    if !plugin.reports_rectifications() {
        return Err(ReconcileError::Unavailable(format!(
            "上报适配器 {} {} 按合同 {} 不支持对账；对账需要合同 1.1 及以上的适配器",
            plugin.info.id,
            plugin.info.version,
            plugin.contract()
        )));
    }
    let (_, query) = platform
        .plugins
        .count_query(&plugin.info.id, day)
        .map_err(|error| ReconcileError::Unavailable(error.to_string()))?;
    let client = client(config)?;
    let (status, answer) = post(
        &client,
        &config.reconcile_endpoint,
        &query.content_type,
        query.body,
    )
    .map_err(ReconcileError::Province)?;
    let (plugin, province) = platform
        .plugins
        .parse_counts(&plugin.info.id, status, &answer)
        .map_err(|error| ReconcileError::Province(redact(&error.to_string())))?;
    let counts = platform
        .store
        .uplink_counts(day)
        .context("reading the platform's counts")?;
    let result = hcp_core::uplink::reconcile(
        day,
        platform.clock.now(),
        &counts,
        &province,
        (&plugin.info.id, &plugin.sha256),
    );
    let outcome = platform
        .store
        .submit_one(Command::Uplink(UplinkCommand::Reconciled {
            actor: actor.to_owned(),
            reconciliation: Box::new(result.clone()),
        }))
        .context("recording the reconciliation")?;
    if let Outcome::Rejected(error) = outcome {
        return Err(ReconcileError::Internal(anyhow::anyhow!(
            "reconciliation not recorded: {error}"
        )));
    }
    if !result.clean {
        tracing::warn!(%day, differences = result.differences.len(), "uplink reconciliation found differences");
    }
    Ok(result)
}

/// The scheduled reconciliation: once `reconcile_at` has passed (China time) and the uplink has
/// caught up (its last run ended idle: nothing in flight, nothing more to send), the previous
/// day is reconciled, and again every hour while it still differs. Blocking.
pub fn reconcile_if_due(platform: &Platform, now: DateTime<Utc>, caught_up: bool) {
    let uplink = &platform.uplink;
    let Some(at) = uplink.config.reconcile_time() else {
        return;
    };
    if !caught_up {
        return;
    }
    if uplink.config.reconcile_endpoint.is_empty() {
        return;
    }
    let local = now.with_timezone(&china_tz());
    if local.time() < at {
        return;
    }
    let Some(day) = local_date(now).pred_opt() else {
        return;
    };
    if uplink
        .runtime()
        .last_scheduled_try
        .is_some_and(|tried| now < tried + RECONCILE_RETRY)
    {
        return;
    }
    let due = match platform.store.uplink_reconciliation(day) {
        Ok(None) => true,
        Ok(Some(last)) => !last.clean && now >= last.at + RECONCILE_RETRY,
        Err(error) => {
            tracing::warn!(%error, "cannot read the last reconciliation");
            false
        }
    };
    if !due {
        return;
    }
    uplink.runtime().last_scheduled_try = Some(now);
    if let Err(error) = reconcile(platform, day, "system") {
        tracing::warn!(%day, %error, "scheduled reconciliation failed");
        uplink.runtime().last_reconcile_error = Some((now, error.to_string()));
    } else {
        uplink.runtime().last_reconcile_error = None;
    }
}

/// Replays a refused record in the next batch (after its cause was fixed) or dismisses it;
/// returns the log sequence number of the recorded resolution. Blocking.
pub fn resolve_refused(
    platform: &Platform,
    actor: &str,
    id: u64,
    resolution: Resolution,
    note: String,
) -> Result<u64, AppError> {
    platform.record(Command::Uplink(UplinkCommand::Resolve {
        actor: actor.to_string(),
        id,
        resolution,
        note,
    }))
}

/// The uplink as the status endpoint shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UplinkStatus {
    pub enabled: bool,
    pub endpoint: String,
    pub reconcile_endpoint: String,
    pub adapter: AdapterView,
    /// What an operator should know (in Chinese): a 1.0 adapter, a missing adapter …
    pub notes: Vec<String>,
    /// The log is settled through this entry.
    pub cursor: u64,
    pub head: u64,
    /// Log entries after the cursor that were not yet looked at (0 when the shipper found
    /// nothing more to report at its last run and nothing was recorded since).
    pub lag_entries: u64,
    pub last_number: u64,
    pub in_flight: Option<InFlightView>,
    pub batches_acked: u64,
    pub records_accepted: u64,
    pub records_refused: u64,
    pub last_acked_at: Option<DateTime<Utc>>,
    /// Records refused by the province or not sent, waiting for a replay or a dismissal (the
    /// first [`LISTED_REFUSALS`]).
    pub refused: Vec<hcp_core::uplink::RefusedRecord>,
    pub refused_total: usize,
    /// Records requeued for the next batch.
    pub queued: usize,
    /// The last problem that stopped the shipper before a send.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_reconcile_error: Option<String>,
    pub recent_batches: Vec<hcp_core::uplink::BatchSummary>,
    pub reconciliations: Vec<Reconciliation>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdapterView {
    pub id: String,
    pub installed: bool,
    pub version: Option<String>,
    pub contract: Option<String>,
    /// Contract 1.1 or later: rectifications and reconciliation.
    pub reports_rectifications: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InFlightView {
    pub number: u64,
    pub records: usize,
    pub after_seq: u64,
    pub through_seq: u64,
    pub body_sha256: String,
    pub body_bytes: u64,
    pub prepared_at: DateTime<Utc>,
    /// Failed sends so far.
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// The status of the uplink. Blocking.
pub fn status(platform: &Platform) -> anyhow::Result<UplinkStatus> {
    let uplink = &platform.uplink;
    let config = &uplink.config;
    let store = &platform.store;
    let state = store.uplink_state()?;
    let head = store.head()?;
    let plugin = platform.plugins.get(&config.adapter);
    let mut notes = Vec::new();
    if !config.enabled {
        notes.push("省级平台上报未启用 ([uplink] enabled = false)".to_owned());
    }
    match &plugin {
        None => notes.push(format!("上报适配器 {} 未安装", config.adapter)),
        Some(plugin) if !plugin.reports_rectifications() => notes.push(format!(
            "上报适配器 {} {} 按合同 {} 仅上报评价：整改记录不上报（列入待处理，换用合同 1.1 适配器后可重新上报），也不能对账",
            plugin.info.id,
            plugin.info.version,
            plugin.contract()
        )),
        Some(_) => {}
    }
    if config.reconcile_endpoint.is_empty() {
        notes.push("未配置对账地址：不做每日对账".to_owned());
    }
    let refused = store.uplink_refused()?;
    let runtime = uplink.runtime();
    let looked_through = match runtime.idle {
        Some((cursor, through)) if cursor == state.cursor => through,
        _ => state.cursor,
    };
    Ok(UplinkStatus {
        enabled: config.enabled,
        endpoint: config.endpoint.clone(),
        reconcile_endpoint: config.reconcile_endpoint.clone(),
        adapter: AdapterView {
            id: config.adapter.clone(),
            installed: plugin.is_some(),
            version: plugin.as_ref().map(|plugin| plugin.info.version.clone()),
            contract: plugin.as_ref().map(|plugin| plugin.contract().to_owned()),
            reports_rectifications: plugin
                .as_ref()
                .is_some_and(|plugin| plugin.reports_rectifications()),
        },
        notes,
        cursor: state.cursor,
        head,
        lag_entries: head.saturating_sub(looked_through),
        last_number: state.last_number,
        in_flight: state.in_flight.as_ref().map(|flight| InFlightView {
            number: flight.batch.number,
            records: flight.batch.records.len(),
            after_seq: flight.batch.after_seq,
            through_seq: flight.batch.through_seq,
            body_sha256: flight.batch.body_sha256.clone(),
            body_bytes: flight.batch.body_bytes,
            prepared_at: flight.prepared_at,
            attempts: flight.attempts,
            next_at: flight.next_at(),
            last_error: flight
                .last_attempt
                .as_ref()
                .map(|attempt| attempt.error.clone()),
        }),
        batches_acked: state.batches_acked,
        records_accepted: state.records_accepted,
        records_refused: state.records_refused,
        last_acked_at: state.last_acked_at,
        refused_total: refused.len(),
        refused: refused.into_iter().take(LISTED_REFUSALS).collect(),
        queued: store.uplink_queue(usize::MAX)?.len(),
        last_error: runtime.last_error.as_ref().map(|(_, error)| error.clone()),
        last_error_at: runtime.last_error.as_ref().map(|(at, _)| *at),
        last_reconcile_error: runtime
            .last_reconcile_error
            .as_ref()
            .map(|(_, error)| error.clone()),
        recent_batches: store.uplink_batches(20)?,
        reconciliations: store.uplink_reconciliations(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_asked_for_meanwhile_is_refused_not_queued() {
        let uplink = Uplink::new(UplinkConfig::default());
        let running = uplink.begin();
        assert!(uplink.try_begin().is_none());
        drop(running);
        assert!(uplink.try_begin().is_some());
    }
}
