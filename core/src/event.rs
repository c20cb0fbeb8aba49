//! Canonical events: every change to the platform is one of these, appended to the event log.
//! The sled state is a projection of the log and can be rebuilt from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Source, User};
use crate::model::{
    Attribution, Device, DeviceModel, HeartbeatInput, OrgUnit, Rating, SealedField,
    ServiceEventInput, ServiceItem, Staff,
};
use crate::outreach::{
    DeliveryAttempt, Message, MessageInput, Moderation, ScheduledTask, ServiceCall,
    ServiceCallState, TaskOutcome,
};
use crate::validate::Reason;
use crate::workflow::{CallAttempt, Order, OrderChange, Problem};

/// Bumped when the meaning of stored bytes changes; a data folder of another version is refused
/// (`hcp migrate` converts the versions before). 3: values carry a format byte
/// (`store::codec`). 4: the rating and case indexes are posting chunks (`store::postings`),
/// the roll-up counters are packed per unit-day (`store::counters`), the decisions index points
/// at log entries, the ratings stored are counted.
pub const SCHEMA_VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    OrgUnitUpserted {
        unit: OrgUnit,
        /// A new window's first QR code (generation 1), issued with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        qr: Option<WindowQr>,
    },
    /// A window's QR code was issued anew (rotated, or issued for a window recorded before
    /// windows had codes): the previous code stops working.
    WindowQrIssued {
        window: String,
        qr: WindowQr,
    },
    StaffUpserted {
        staff: Staff,
    },
    ItemUpserted {
        item: ServiceItem,
    },
    DeviceUpserted {
        device: Device,
    },
    DeviceModelUpserted {
        model: DeviceModel,
    },
    /// A device's heartbeat with its cumulative counters.
    HeartbeatRecorded {
        heartbeat: HeartbeatInput,
    },
    UserUpserted {
        user: User,
    },
    SourceUpserted {
        source: Source,
    },
    ServiceRecorded {
        service: ServiceEventInput,
        attribution: Attribution,
        /// The applicant's mobile number, sealed (taken out of `service` before it is stored).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<SealedField>,
    },
    RatingRecorded {
        rating: Rating,
    },
    AuditRecorded {
        entry: AuditEntry,
    },
    /// A payload or item that was refused, kept (sealed: it may hold personal data) for replay.
    PayloadRejected {
        rejected: RejectedPayload,
    },
    /// A kept payload was replayed (or dismissed) and leaves the list of open rejections.
    RejectionResolved {
        rejected_seq: u64,
        resolution: String,
    },
    /// A version of the rules became active (after validation and its tests). The files are
    /// kept, so any earlier version can be activated again.
    PolicyActivated {
        activation: PolicyActivation,
    },
    /// A set of holiday tables became the calendar the rules count on (after they loaded and
    /// the rules' own tests passed on them). The tables are kept, so every node of a shared
    /// partition switches to the same calendar at the same point of the log.
    CalendarActivated {
        activation: CalendarActivation,
    },
    /// An adapter file became active on a node of a shared partition (installed from its
    /// plugins folder or uploaded, after it loaded and passed its checks there). Its exact bytes
    /// are kept, so every node of the partition installs the same adapter.
    AdapterInstalled {
        adapter: AdapterFile,
    },
    /// An adapter file was removed from a node of a shared partition: every node removes it.
    AdapterRemoved {
        file: String,
    },
    /// Keys of the key ring were destroyed (see [`crate::keyring`]): every value sealed under
    /// them is erased, in the log, on every node and in every backup.
    KeysDestroyed {
        destruction: KeyDestruction,
    },
    /// A decision a policy made about a record (a deadline, a route, a flag), with the version
    /// of the rules that made it and the input it saw, so that it can be explained and replayed.
    DecisionRecorded {
        decision: PolicyDecision,
    },
    /// A work order was opened (for a 差评, in the same transaction as the rating).
    OrderOpened {
        order: Box<Order>,
        /// The deadline and routing decisions of an intake (a 差评's are recorded with the
        /// rating), with `subject` `order:<id>`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        decisions: Vec<PolicyDecision>,
    },
    /// A work order changed: who, when (the entry) and what, with the reason in the change.
    OrderChanged {
        order_id: u64,
        change: OrderChange,
        /// The policy decision the change carries (the deadlines of a reopened order).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<PolicyDecision>,
    },
    /// A supervisor confirmed a systemic problem; its orders follow it.
    ProblemOpened {
        problem: Problem,
    },
    /// The problem's plan is done: its orders are rectified and fed back, and called back.
    ProblemResolved {
        problem_id: u64,
        action: String,
        message: String,
        /// The feedback messages to the affected evaluators (subject `order:<id>`): each is
        /// queued, in the same transaction, if its order was fed back by this resolution.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notices: Vec<MessageInput>,
    },
    /// A scheduled invitation or default rating was carried out (or skipped).
    TaskDone {
        task: ScheduledTask,
        outcome: TaskOutcome,
    },
    /// An unrated service act was put on the call list.
    ServiceCallListed {
        call: ServiceCall,
    },
    ServiceCallAttempted {
        project_no: String,
        service_number: u8,
        attempt: CallAttempt,
        state: ServiceCallState,
    },
    MessageQueued {
        message: Message,
    },
    /// One delivery attempt of a message; `next_at` is the retry, `None` when it was
    /// delivered or given up.
    MessageAttempted {
        message_id: u64,
        attempt: DeliveryAttempt,
        next_at: Option<DateTime<Utc>>,
    },
    /// An assessment run was frozen (published).
    AssessmentFrozen {
        run: Box<crate::assessment::AssessmentRun>,
    },
    /// A reviewer decided whether a rating's comment may be published.
    CommentModerated {
        rating_id: u64,
        moderation: Moderation,
    },
    /// The provincial uplink: a batch numbered, a send failed, the province answered, a
    /// refused record resolved, a day reconciled (see `crate::uplink`).
    Uplink {
        change: crate::uplink::UplinkChange,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::OrgUnitUpserted { .. } => "org_unit_upserted",
            Event::WindowQrIssued { .. } => "window_qr_issued",
            Event::StaffUpserted { .. } => "staff_upserted",
            Event::ItemUpserted { .. } => "item_upserted",
            Event::DeviceUpserted { .. } => "device_upserted",
            Event::DeviceModelUpserted { .. } => "device_model_upserted",
            Event::HeartbeatRecorded { .. } => "heartbeat_recorded",
            Event::UserUpserted { .. } => "user_upserted",
            Event::SourceUpserted { .. } => "source_upserted",
            Event::ServiceRecorded { .. } => "service_recorded",
            Event::RatingRecorded { .. } => "rating_recorded",
            Event::AuditRecorded { .. } => "audit_recorded",
            Event::PayloadRejected { .. } => "payload_rejected",
            Event::RejectionResolved { .. } => "rejection_resolved",
            Event::PolicyActivated { .. } => "policy_activated",
            Event::CalendarActivated { .. } => "calendar_activated",
            Event::AdapterInstalled { .. } => "adapter_installed",
            Event::AdapterRemoved { .. } => "adapter_removed",
            Event::KeysDestroyed { .. } => "keys_destroyed",
            Event::DecisionRecorded { .. } => "decision_recorded",
            Event::OrderOpened { .. } => "order_opened",
            Event::OrderChanged { .. } => "order_changed",
            Event::ProblemOpened { .. } => "problem_opened",
            Event::ProblemResolved { .. } => "problem_resolved",
            Event::TaskDone { .. } => "task_done",
            Event::ServiceCallListed { .. } => "service_call_listed",
            Event::ServiceCallAttempted { .. } => "service_call_attempted",
            Event::MessageQueued { .. } => "message_queued",
            Event::MessageAttempted { .. } => "message_attempted",
            Event::CommentModerated { .. } => "comment_moderated",
            Event::AssessmentFrozen { .. } => "assessment_frozen",
            Event::Uplink { .. } => "uplink",
        }
    }
}

/// A window's static QR code: its generation (1 for the first, one more per rotation) and the
/// sha256 of its token ([`crate::pii::PiiKey::window_token`]), so the log alone says which
/// token opens which window, and the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowQr {
    pub generation: u32,
    pub token_hash: String,
}

/// Where an event came from outside: the source and the source's own id, for idempotency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub source: String,
    pub event_id: String,
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: u64,
    /// When the platform recorded it (the injectable clock).
    pub at: DateTime<Utc>,
    /// User name, `source:<id>` or `system`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    pub event: Event,
    /// sha256 (hex) of the previous entry's stored bytes: the log is a hash chain, so a changed
    /// or removed entry is detected (`hcp audit verify`). Empty for the first entry.
    #[serde(default)]
    pub prev_hash: String,
}

/// An audited action: who looked at or changed what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub target: String,
    #[serde(default)]
    pub detail: String,
}

/// A refused payload as kept: the reason in clear, the bytes sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectedPayload {
    pub source: String,
    /// `ratings`, `service_events` or the raw content type of `/ingest`.
    pub content_type: String,
    /// base64 of the sealed payload bytes.
    #[schema(ignore)]
    pub sealed_payload: String,
    pub reason: Reason,
}

/// One activation of a rules version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyActivation {
    /// Content hash of the whole rules folder.
    pub version: String,
    /// Why: `start-up`, `file change`, `rollback to …`.
    pub reason: String,
    /// Relative path → content of every rules file of this version.
    #[schema(value_type = Object)]
    pub files: std::collections::BTreeMap<String, String>,
}

/// A decision made by a policy hook about one rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyDecision {
    /// The rating decided about; 0 when the decision is about another `subject`.
    pub rating_id: u64,
    /// What else it is about: `service:<projectNo>/<serviceNumber>` for invitations and
    /// default ratings, `order:<id>` for a reopened order's deadlines. Empty for a rating.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `deadline`, `routing`, `integrity` …
    pub hook: String,
    /// The county whose rules decided, and the scope that served it (`default` or the county).
    pub county: String,
    pub scope: String,
    /// Content hash of the rules that decided.
    pub hook_version: String,
    /// Fingerprint of the holiday tables the due instants were computed on.
    #[serde(default)]
    pub calendar_version: String,
    /// The first year without an official holiday table the decision was counted on (its
    /// provisional table) or waits for; absent when it rests on official tables only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisional_year: Option<i32>,
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
}

impl PolicyDecision {
    /// Seals the text its input carries (the routing rule reads the comment or submission)
    /// under the keys `beside` (that text, as stored) was sealed under, so that it goes when
    /// the text goes.
    pub fn seal_input_text(
        &mut self,
        pii: &crate::pii::PiiKey,
        beside: &crate::model::StoredText,
    ) -> Result<(), crate::pii::PiiError> {
        if let Some(serde_json::Value::String(plain)) = self.input.get("text")
            && !plain.is_empty()
        {
            let sealed = pii.seal_text_beside(beside, plain)?;
            self.input["text"] = serde_json::to_value(sealed).unwrap_or_default();
        }
        Ok(())
    }

    /// The input's text opened, as the rule read it; `null` with `text_erased: true` beside it
    /// once the text was erased. Whether it was erased.
    pub fn open_input_text(
        &mut self,
        pii: &crate::pii::PiiKey,
    ) -> Result<bool, crate::pii::PiiError> {
        let Some(text) = self.input.get("text") else {
            return Ok(false);
        };
        let Ok(stored) = serde_json::from_value::<crate::model::StoredText>(text.clone()) else {
            return Ok(false);
        };
        let opened = pii.open_text(&stored)?;
        let erased = opened.is_none();
        self.input["text"] = opened.map_or(serde_json::Value::Null, serde_json::Value::String);
        if erased {
            self.input["text_erased"] = serde_json::Value::Bool(true);
        }
        Ok(erased)
    }
}

/// One activation of a set of holiday tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CalendarActivation {
    /// Fingerprint of the official tables (as [`crate::calendar::Calendar::version`] without
    /// provisional years, which each node adds by its own configuration).
    pub version: String,
    /// "official 2025-2027", and why: `file change`, `a table added from the console`.
    pub reason: String,
    /// File name (`2027.toml`) → content of every table.
    #[schema(value_type = Object)]
    pub tables: std::collections::BTreeMap<String, String>,
}

/// A calendar activation as kept: the activation, and when and by whom it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarActivationRecord {
    pub activation: CalendarActivation,
    /// Log sequence number of the activation.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// Why keys were destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReason {
    /// The retention sweep: the values of these months are past their time.
    Retention,
    /// A data subject asked for their personal data to be erased.
    Request,
}

/// Keys destroyed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyDestruction {
    pub reason: ErasureReason,
    /// The ids of the keys (`p.<class>.<yyyymm>`, `s.<subject id>`): never the values or the
    /// numbers they are about.
    pub keys: Vec<String>,
    /// In words: the classes and months, or the request's reference.
    pub detail: String,
}

/// A destruction of keys as kept: the destruction, and when and by whom it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyDestructionRecord {
    pub destruction: KeyDestruction,
    /// Log sequence number of the destruction.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// An adapter file as a node of a shared partition installed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdapterFile {
    /// File name in the plugins folder (`hx-pj200.wasm`).
    pub file: String,
    /// sha256 (hex) of the component.
    pub sha256: String,
    /// The component, base64.
    pub component: String,
    /// Its detached signature (`<file>.sig`), base64, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The log's last word on an adapter file: installed (with its bytes) or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterFileRecord {
    pub file: String,
    /// `None`: removed.
    pub adapter: Option<AdapterFile>,
    /// Log sequence number of the install or removal.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// One activation as listed: which version, when, by whom, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersionRecord {
    pub version: String,
    /// Log sequence number of the activation.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: String,
}
