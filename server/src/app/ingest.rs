//! Ingest: canonical ratings, service events and heartbeats (one or a batch) and raw payloads
//! decoded by a source's adapter, recorded durably; whatever is refused is kept (sealed) for
//! replay, and a kept payload is replayed through the path it first took.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use hcp_core::auth::Source;
use hcp_core::model::{HeartbeatInput, RatingInput, ServiceEventInput};
use hcp_core::store::{Command, Outcome};
use hcp_core::validate::{self, Reason, Trust};
use hcp_plugins::{CallError, Decoded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::platform::Platform;
use crate::app::redact::redact;

/// Largest number of items in one batch.
pub const MAX_BATCH_ITEMS: usize = 5000;

/// The adapter built into the platform: the canonical JSON of this API.
pub const CANONICAL_ADAPTER: &str = "canonical-json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored and durable.
    Recorded,
    /// Seen before (same source and event id); the original record stands.
    Duplicate,
    /// Refused with a reason; kept for replay.
    Rejected,
}

/// What became of one item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    pub status: ItemStatus,
    /// Id of the stored record (the log sequence number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// What became of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    pub recorded: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<ItemResult>,
}

/// Body of a raw `canonical-json` payload on `/api/v1/ingest/{source}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanonicalPayload {
    #[serde(default)]
    pub ratings: Vec<serde_json::Value>,
    #[serde(default)]
    pub service_events: Vec<serde_json::Value>,
}

/// What the items of a canonical batch are.
#[derive(Clone, Copy)]
pub enum Kind {
    Rating,
    Service,
    Heartbeat,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Rating => "ratings",
            Kind::Service => "service_events",
            Kind::Heartbeat => "heartbeats",
        }
    }

    /// Decodes an item without consuming it, so that the item is serialised again only if it
    /// has to be kept (the accepted ones, nearly all, never are).
    fn command(self, source: &str, value: &serde_json::Value) -> Result<Command, Reason> {
        // serde quotes the offending value, which may be a phone or an ID number.
        let invalid =
            |error: serde_json::Error| malformed(format!("malformed {}: {error}", self.label()));
        Ok(match self {
            Kind::Rating => Command::Rating {
                source: source.to_string(),
                input: RatingInput::deserialize(value).map_err(invalid)?,
            },
            Kind::Service => Command::Service {
                source: source.to_string(),
                input: ServiceEventInput::deserialize(value).map_err(invalid)?,
            },
            Kind::Heartbeat => Command::Heartbeat {
                source: source.to_string(),
                input: HeartbeatInput::deserialize(value).map_err(invalid)?,
            },
        })
    }
}

/// What a source is trusted for: a rating on a channel only the platform records on, or one
/// older than the trusted window, is refused (and kept, like every refusal).
fn trusted(command: &Command, trust: Trust<'_>, now: DateTime<Utc>) -> Result<(), Reason> {
    match command {
        Command::Rating { input, .. } => {
            validate::outside_rating(input, trust, now).map_err(|error| error.reason())
        }
        _ => Ok(()),
    }
}

/// A refusal of what could not be read: the message is redacted, since the parsers quote what
/// they could not read.
fn malformed(message: String) -> Reason {
    Reason {
        code: "malformed".into(),
        message: redact(&message),
    }
}

/// Whether refused items are kept: a replay must not keep its payload a second time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Refused,
    Nothing,
}

/// Decodes, records and keeps what was refused. Blocking.
fn record(
    platform: &Platform,
    source: &str,
    items: Vec<(Kind, serde_json::Value)>,
    policy: Keep,
) -> Result<BatchResult, AppError> {
    let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
    let mut commands = Vec::new();
    let mut positions = Vec::new();
    let mut keep = Vec::new();
    let trust = platform.ingest.trust(source);
    let now = platform.clock.now();
    for (index, (kind, value)) in items.into_iter().enumerate() {
        let checked = kind.command(source, &value).and_then(|command| {
            trusted(&command, trust, now)?;
            Ok(command)
        });
        match checked {
            Ok(command) => {
                commands.push(command);
                positions.push((index, kind, value));
            }
            Err(reason) => match keep_item(source, kind, &value, &reason) {
                Ok(command) => {
                    keep.push((index, command));
                    results[index] = Some(rejected(index, reason));
                }
                Err(not_kept) => results[index] = Some(rejected(index, not_kept)),
            },
        }
    }
    let outcomes = platform.store.submit(commands)?;
    for ((index, kind, value), outcome) in positions.into_iter().zip(outcomes) {
        results[index] = Some(match outcome {
            Outcome::Recorded { seq } => ItemResult {
                index,
                status: ItemStatus::Recorded,
                id: Some(seq),
                reason: None,
            },
            Outcome::Duplicate { seq } => ItemResult {
                index,
                status: ItemStatus::Duplicate,
                id: Some(seq),
                reason: None,
            },
            Outcome::Rejected(error) => {
                // Some refusals quote a value (an unknown id); what is kept is redacted.
                let mut reason = error.reason();
                reason.message = redact(&reason.message);
                // A second rating of a rated act is an answer, not a loss: nothing to replay.
                if reason.code != "duplicate_rating" {
                    match keep_item(source, kind, &value, &reason) {
                        Ok(command) => keep.push((index, command)),
                        Err(not_kept) => reason = not_kept,
                    }
                }
                rejected(index, reason)
            }
        });
    }
    // Kept in the order of the payload, so that replays follow it.
    keep.sort_by_key(|(index, _)| *index);
    if policy == Keep::Refused {
        platform
            .store
            .submit(keep.into_iter().map(|(_, command)| command).collect())?;
    }
    let results: Vec<ItemResult> = results.into_iter().flatten().collect();
    let count = |status| results.iter().filter(|item| item.status == status).count();
    let batch = BatchResult {
        recorded: count(ItemStatus::Recorded),
        duplicates: count(ItemStatus::Duplicate),
        rejected: count(ItemStatus::Rejected),
        results,
    };
    let metrics = &platform.telemetry;
    metrics
        .ingest_recorded
        .fetch_add(batch.recorded as u64, Ordering::Relaxed);
    metrics
        .ingest_duplicate
        .fetch_add(batch.duplicates as u64, Ordering::Relaxed);
    metrics
        .ingest_rejected
        .fetch_add(batch.rejected as u64, Ordering::Relaxed);
    Ok(batch)
}

/// The command keeping a refused item for replay; when the item is too large to keep, the
/// reason to answer with instead, saying so.
fn keep_item(
    source: &str,
    kind: Kind,
    item: &serde_json::Value,
    reason: &Reason,
) -> Result<Command, Reason> {
    let payload = serde_json::to_vec(item).unwrap_or_default();
    if payload.len() > MAX_KEPT_PAYLOAD_BYTES {
        return Err(not_kept(reason, payload.len()));
    }
    Ok(Command::KeepRejected {
        source: source.to_string(),
        content_type: kind.label().to_string(),
        payload,
        reason: reason.clone(),
    })
}

/// `reason`, saying that the payload of `bytes` was too large to be kept for replay.
fn not_kept(reason: &Reason, bytes: usize) -> Reason {
    Reason {
        code: reason.code.clone(),
        message: format!(
            "{} (the payload, {bytes} bytes, is larger than the {MAX_KEPT_PAYLOAD_BYTES} bytes kept for replay: not kept)",
            reason.message
        ),
    }
}

fn rejected(index: usize, reason: Reason) -> ItemResult {
    ItemResult {
        index,
        status: ItemStatus::Rejected,
        id: None,
        reason: Some(reason),
    }
}

/// Bytes of a refused payload kept for replay at most. The store cannot yet hold a value much
/// larger in one record (a larger one fails its batch), so a larger payload is refused without
/// being kept, and the answer says so: the sender still has it.
pub const MAX_KEPT_PAYLOAD_BYTES: usize = 48 * 1024;

/// Keeps a payload that could not be decoded at all; the reason to answer with (saying when the
/// payload was too large to keep). Blocking.
fn refuse_payload(
    platform: &Platform,
    source: &str,
    content_type: &str,
    body: &[u8],
    reason: &Reason,
) -> Result<Reason, AppError> {
    let answer = if body.len() > MAX_KEPT_PAYLOAD_BYTES {
        not_kept(reason, body.len())
    } else {
        platform.store.submit_one(Command::KeepRejected {
            source: source.to_string(),
            content_type: content_type.to_string(),
            payload: body.to_vec(),
            reason: reason.clone(),
        })?;
        reason.clone()
    };
    platform
        .telemetry
        .ingest_rejected
        .fetch_add(1, Ordering::Relaxed);
    Ok(answer)
}

/// A JSON body holding one item or an array of items; the flag says it was a single object.
fn one_or_many(body: &[u8]) -> Result<(bool, Vec<serde_json::Value>), Reason> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| malformed(format!("body is not JSON: {error}")))?;
    match value {
        serde_json::Value::Array(items) if items.len() > MAX_BATCH_ITEMS => {
            Err(malformed(format!(
                "a batch holds at most {MAX_BATCH_ITEMS} items, got {}",
                items.len()
            )))
        }
        serde_json::Value::Array(items) => Ok((false, items)),
        object @ serde_json::Value::Object(_) => Ok((true, vec![object])),
        _ => Err(malformed(
            "body must be a JSON object or an array of objects".into(),
        )),
    }
}

/// What a batch of canonical items came to, and whether the body held one item (an object)
/// rather than an array.
pub struct Ingested {
    pub single: bool,
    pub batch: BatchResult,
}

/// Records the canonical items of one kind a source posted: one object or an array of them. A
/// body that is neither is kept and refused (422). Blocking.
pub fn ingest_items(
    platform: &Platform,
    source: &str,
    kind: Kind,
    body: &[u8],
) -> Result<Ingested, AppError> {
    let (single, values) = match one_or_many(body) {
        Ok(parsed) => parsed,
        Err(reason) => {
            let reason = refuse_payload(platform, source, kind.label(), body, &reason)?;
            return Err(AppError::Unprocessable(reason));
        }
    };
    let batch = record(
        platform,
        source,
        values.into_iter().map(|value| (kind, value)).collect(),
        Keep::Refused,
    )?;
    Ok(Ingested { single, batch })
}

/// Records a source's raw payload, decoded by its adapter. A payload that cannot be decoded is
/// kept and refused: 422, or 503 when the adapter failed rather than the payload. Blocking.
pub fn ingest_raw(
    platform: &Platform,
    source: &Source,
    content_type: &str,
    body: &[u8],
) -> Result<BatchResult, AppError> {
    match decode_raw(platform, &source.adapter, content_type, body) {
        Ok(items) => record(platform, &source.id, items, Keep::Refused),
        Err(refusal) => {
            let reason = refuse_payload(platform, &source.id, content_type, body, &refusal.reason)?;
            Err(if refusal.adapter_fault {
                AppError::Unavailable(reason)
            } else {
                AppError::Unprocessable(reason)
            })
        }
    }
}

/// Replays a kept payload through the path it first took; it stays kept (once) until a replay
/// refuses nothing. Blocking.
pub fn replay(
    platform: &Platform,
    source: &str,
    content_type: &str,
    payload: &[u8],
) -> Result<BatchResult, AppError> {
    let kind = [Kind::Rating, Kind::Service, Kind::Heartbeat]
        .into_iter()
        .find(|kind| kind.label() == content_type);
    let items = match kind {
        Some(kind) => {
            let (_, values) = one_or_many(payload).map_err(AppError::Unprocessable)?;
            values.into_iter().map(|value| (kind, value)).collect()
        }
        None => {
            let adapter = platform
                .store
                .source(source)?
                .map(|source| source.adapter)
                .unwrap_or_else(|| CANONICAL_ADAPTER.to_string());
            decode_raw(platform, &adapter, content_type, payload)
                .map_err(|refusal| AppError::Unprocessable(refusal.reason))?
        }
    };
    record(platform, source, items, Keep::Nothing)
}

/// Why a raw payload was not decoded, and whose fault it was.
struct Refusal {
    reason: Reason,
    /// The adapter failed (trap, limit, quarantine, not installed), not the payload: the sender
    /// is told to retry later (503); the payload is kept either way.
    adapter_fault: bool,
}

/// Decodes a raw payload with the source's adapter: the built-in canonical JSON, or a WASM
/// plugin. Blocking.
fn decode_raw(
    platform: &Platform,
    adapter: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(Kind, serde_json::Value)>, Refusal> {
    if adapter != CANONICAL_ADAPTER {
        return decode_with_plugin(platform, adapter, content_type, body);
    }
    let refuse = |message: String| Refusal {
        reason: malformed(message),
        adapter_fault: false,
    };
    let payload: CanonicalPayload = serde_json::from_slice(body)
        .map_err(|error| refuse(format!("not a canonical-json payload: {error}")))?;
    if payload.ratings.len() + payload.service_events.len() > MAX_BATCH_ITEMS {
        return Err(refuse(format!(
            "a payload holds at most {MAX_BATCH_ITEMS} items"
        )));
    }
    // Service acts first, so that ratings of acts in the same payload find their case.
    Ok(payload
        .service_events
        .into_iter()
        .map(|value| (Kind::Service, value))
        .chain(
            payload
                .ratings
                .into_iter()
                .map(|value| (Kind::Rating, value)),
        )
        .collect())
}

fn decode_with_plugin(
    platform: &Platform,
    adapter: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(Kind, serde_json::Value)>, Refusal> {
    let (_, decoded) = platform
        .plugins
        .decode(adapter, content_type, body)
        .map_err(|error| {
            let code = match &error {
                CallError::Malformed(_) => "malformed",
                CallError::Unsupported(_) => "unsupported",
                CallError::InputTooLarge { .. } => "payload_too_large",
                CallError::NotInstalled { .. } => "adapter_unavailable",
                _ => "adapter_failed",
            };
            let plugin_fault = error.is_plugin_fault();
            let not_installed = matches!(error, CallError::NotInstalled { .. });
            // An adapter's message may quote the payload.
            let error = redact(&error.to_string());
            if plugin_fault {
                tracing::warn!(%adapter, %error, "adapter failed; payload kept for replay");
            }
            Refusal {
                adapter_fault: plugin_fault || not_installed,
                reason: Reason {
                    code: code.into(),
                    message: format!("{adapter}: {error}"),
                },
            }
        })?;
    let mut items = Vec::with_capacity(decoded.len());
    for item in decoded {
        let (kind, value) = match item {
            Decoded::Rating(input) => (Kind::Rating, serde_json::to_value(input)),
            Decoded::Service(input) => (Kind::Service, serde_json::to_value(input)),
            Decoded::Heartbeat(beat) => (Kind::Heartbeat, serde_json::to_value(beat)),
        };
        // Canonical records always serialise; keep the error path honest anyway.
        let value = value.map_err(|error| Refusal {
            reason: Reason {
                code: "adapter_failed".into(),
                message: format!("{adapter}: cannot encode a decoded record: {error}"),
            },
            adapter_fault: true,
        })?;
        items.push((kind, value));
    }
    // Service acts first, so that ratings of acts in the same payload find their case.
    items.sort_by_key(|(kind, _)| !matches!(kind, Kind::Service));
    Ok(items)
}
