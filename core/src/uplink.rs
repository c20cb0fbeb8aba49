//! The provincial uplink (省级平台上报), pure: the records the platform reports upward (every
//! rating, and the rectification of every bad review when its work order is closed), the events
//! that make the uplink durable (a batch is numbered and its exact bytes kept before it is sent;
//! it is settled only by the province's answer), and daily reconciliation (对账) of what the
//! platform holds against what the province counts, by record kind, region, channel and level.
//! The store projects the events (`store::uplink`); the server does the I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::local_date;
use crate::hooks::PhaseKind;
use crate::model::{Channel, Level, Rating};
use crate::workflow::{
    CallbackResult, ClosureOutcome, Disposition, Order, OrderKind, RectificationLevel,
};

/// What a record reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A rating (好差评), reported once recorded.
    Rating,
    /// The handling of a bad review (差评整改), reported once its work order is closed.
    Rectification,
}

impl RecordKind {
    pub fn byte(self) -> u8 {
        match self {
            RecordKind::Rating => b'g',
            RecordKind::Rectification => b'z',
        }
    }

    /// The Chinese name, for people.
    pub fn name_zh(self) -> &'static str {
        match self {
            RecordKind::Rating => "评价",
            RecordKind::Rectification => "整改",
        }
    }
}

/// How the work order of a bad review ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RectificationOutcome {
    /// 整改完成: rectified or explained, fed back, called back, closed.
    Resolved,
    /// 申诉成立: the review was found mistaken or malicious.
    AppealUpheld,
}

/// How the responsible unit disposed of the bad review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispositionKind {
    /// 立行立改
    Immediate,
    /// 台账限期整改
    Scheduled,
    /// 解释说明
    Explained,
    /// Followed a systemic problem (批处理).
    Systemic,
}

impl DispositionKind {
    pub fn of(disposition: &Disposition) -> DispositionKind {
        match disposition {
            Disposition::Immediate { .. } => DispositionKind::Immediate,
            Disposition::Scheduled { .. } => DispositionKind::Scheduled,
            Disposition::Explained { .. } => DispositionKind::Explained,
            Disposition::Systemic { .. } => DispositionKind::Systemic,
        }
    }
}

/// The handling of one bad review as reported to the province: everything is read from the
/// closed work order, which no longer changes, so the record is the same whenever it is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rectification {
    pub project_no: String,
    pub service_number: u8,
    pub assess_number: u8,
    pub task_code: String,
    pub department: String,
    pub area_code: String,
    pub order_id: u64,
    /// 责任单位.
    pub unit: String,
    pub outcome: RectificationOutcome,
    pub disposition: Option<DispositionKind>,
    /// What was done, explained, or the reviewer's finding on the appeal.
    pub action: String,
    pub rectify_due: Option<DateTime<Utc>>,
    pub rectified_at: Option<DateTime<Utc>>,
    pub feedback_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub satisfaction: Option<RectificationLevel>,
    #[schema(value_type = Option<String>)]
    pub callback: Option<CallbackResult>,
    pub reopened: u32,
    pub closed_at: DateTime<Utc>,
}

impl Rectification {
    /// The record of a closed bad-review order and its rating; `None` for any other order (a
    /// complaint, an answered suggestion) or one that is not closed.
    pub fn of_closed_order(order: &Order, rating: &Rating) -> Option<Rectification> {
        if order.kind != OrderKind::BadReview {
            return None;
        }
        let closure = order.closure.as_ref()?;
        let outcome = match closure.outcome {
            ClosureOutcome::Resolved => RectificationOutcome::Resolved,
            ClosureOutcome::AppealUpheld => RectificationOutcome::AppealUpheld,
            ClosureOutcome::Answered => return None,
        };
        let rectify = order.deadline(PhaseKind::Rectify);
        Some(Rectification {
            project_no: rating.project_no.clone(),
            service_number: rating.service_number,
            assess_number: rating.assess_number,
            task_code: order.task_code.clone(),
            department: order.department.clone(),
            area_code: order.area_code.clone(),
            order_id: order.id,
            unit: order.unit.clone(),
            outcome,
            disposition: order.disposition.as_ref().map(DispositionKind::of),
            action: closure.action_taken.clone(),
            rectify_due: rectify.map(|deadline| deadline.due),
            rectified_at: rectify.and_then(|deadline| deadline.done_at),
            feedback_at: order
                .deadline(PhaseKind::Feedback)
                .and_then(|deadline| deadline.done_at),
            satisfaction: order.evaluation.as_ref().map(|evaluation| evaluation.level),
            callback: order.callback,
            reopened: order.reopened,
            closed_at: closure.closed_at,
        })
    }
}

/// One record to report, with everything the adapter encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxRecord {
    /// The rating as stored (personal data sealed; the server opens what it may send).
    Rating(Box<Rating>),
    Rectification {
        /// Sequence number of the log entry that closed the order: the record's platform id.
        id: u64,
        rating_id: u64,
        rectification: Box<Rectification>,
    },
}

impl OutboxRecord {
    pub fn id(&self) -> u64 {
        match self {
            OutboxRecord::Rating(rating) => rating.id,
            OutboxRecord::Rectification { id, .. } => *id,
        }
    }

    pub fn reference(&self) -> RecordRef {
        match self {
            OutboxRecord::Rating(rating) => RecordRef::rating(rating),
            OutboxRecord::Rectification {
                id,
                rating_id,
                rectification,
            } => RecordRef {
                id: *id,
                kind: RecordKind::Rectification,
                day: local_date(rectification.closed_at),
                area_code: rectification.area_code.clone(),
                channel: None,
                level: None,
                rating_id: Some(*rating_id),
            },
        }
    }
}

/// What the uplink keeps about a record: enough to count it and to find it again in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordRef {
    /// Platform id: a rating's id, or the sequence number of the entry that closed the order.
    pub id: u64,
    pub kind: RecordKind,
    /// The day it is counted on (China time): a rating's `rated_at`, a rectification's close.
    pub day: NaiveDate,
    pub area_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The bad review a rectification handles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_id: Option<u64>,
}

impl RecordRef {
    /// The reference of a rating's record.
    pub fn rating(rating: &Rating) -> RecordRef {
        RecordRef {
            id: rating.id,
            kind: RecordKind::Rating,
            day: local_date(rating.rated_at),
            area_code: rating.area_code.clone(),
            channel: Some(rating.channel),
            level: Some(rating.level),
            rating_id: None,
        }
    }

    pub fn key(&self) -> CountKey {
        CountKey {
            kind: self.kind,
            area_code: self.area_code.clone(),
            channel: self.channel,
            level: self.level,
        }
    }
}

/// What reconciliation counts by: kind, region (the record's area code), channel and level
/// (the last two for ratings only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub struct CountKey {
    pub kind: RecordKind,
    pub area_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
}

/// One of the province's counts of a day, as its adapter read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayCount {
    #[serde(flatten)]
    pub key: CountKey,
    pub count: u64,
}

/// A record the province (or the adapter, before sending) did not take; kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotSent {
    pub record: RecordRef,
    pub reason: String,
}

/// A batch as numbered and kept before its first send. Its bytes never change: every retry
/// sends `sealed_body` again, whatever happened to the adapter or the configuration meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PreparedBatch {
    /// Batch number (`batchNo`), one more than the last; 0 when nothing is to be sent (every
    /// record of the range was refused before sending).
    pub number: u64,
    /// The log range it settles: entries after `after_seq` up to and including `through_seq`.
    /// The cursor moves to `through_seq` only when the province answers.
    pub after_seq: u64,
    pub through_seq: u64,
    /// The records sent, in order (replays of refused records first).
    pub records: Vec<RecordRef>,
    /// Records of the range that are not sent, with why: the adapter cannot express them, or
    /// its contract version has no such record. Listed with the refused ones, for replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_sent: Vec<NotSent>,
    pub content_type: String,
    /// The request body, sealed like every kept payload (it may carry names and numbers).
    #[serde(default)]
    #[schema(ignore)]
    pub sealed_body: String,
    /// sha256 (hex) of the request body.
    #[serde(default)]
    pub body_sha256: String,
    pub body_bytes: u64,
    /// The adapter that encoded it: id, version, sha256 and contract version.
    pub adapter: String,
    pub adapter_version: String,
    pub adapter_sha256: String,
    pub contract: String,
}

/// A send that did not get an answer the adapter could read as an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub error: String,
    /// When the batch is sent again.
    pub next_at: DateTime<Utc>,
}

/// Why a refused record leaves the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Sent again in the next batch (after the cause was fixed).
    Requeue,
    /// Not to be sent (reported another way, or not the province's business).
    Dismiss,
}

/// The uplink's events, recorded in the log like every other change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UplinkChange {
    BatchPrepared {
        batch: Box<PreparedBatch>,
    },
    /// A send of the in-flight batch failed; it is sent again at `attempt.next_at`.
    Attempted {
        number: u64,
        attempt: Attempt,
    },
    /// The province answered the in-flight batch: the cursor moves to its `through_seq`.
    BatchAcked {
        number: u64,
        accepted: Vec<u64>,
        refused: Vec<(u64, String)>,
    },
    RefusalResolved {
        id: u64,
        resolution: Resolution,
        #[serde(default)]
        note: String,
    },
    Reconciled {
        reconciliation: Box<Reconciliation>,
    },
}

/// Where the uplink stands, as projected from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UplinkState {
    /// The log is settled through this sequence number: every record up to it was answered
    /// by the province (accepted or refused) or listed as not sent.
    pub cursor: u64,
    /// The last batch number given.
    pub last_number: u64,
    pub in_flight: Option<InFlight>,
    pub batches_acked: u64,
    pub records_accepted: u64,
    /// Refusals received (a record refused twice counts twice).
    pub records_refused: u64,
    pub last_acked_at: Option<DateTime<Utc>>,
}

/// The batch waiting for the province's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InFlight {
    pub batch: PreparedBatch,
    pub prepared_at: DateTime<Utc>,
    /// Failed sends so far.
    pub attempts: u32,
    pub last_attempt: Option<Attempt>,
}

impl InFlight {
    /// When it is (or was) due to be sent.
    pub fn next_at(&self) -> DateTime<Utc> {
        self.last_attempt
            .as_ref()
            .map_or(self.prepared_at, |attempt| attempt.next_at)
    }
}

/// Failed sends kept per batch in its summary; later ones are only counted.
pub const KEPT_ATTEMPTS: usize = 20;

/// One batch as listed: what it carried and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchSummary {
    pub number: u64,
    pub after_seq: u64,
    pub through_seq: u64,
    pub records: u64,
    pub body_sha256: String,
    pub body_bytes: u64,
    pub adapter_version: String,
    pub prepared_at: DateTime<Utc>,
    /// Failed sends, in order (the first [`KEPT_ATTEMPTS`]).
    pub attempts: Vec<Attempt>,
    pub failures: u32,
    pub acked_at: Option<DateTime<Utc>>,
    pub accepted: u64,
    pub refused: u64,
}

/// A record the province refused (or that was not sent), waiting for a replay or a dismissal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefusedRecord {
    pub record: RecordRef,
    /// The batch that carried it; 0 when it was never sent.
    pub batch: u64,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The reason given for a record of a batch that the province's answer did not mention.
pub const UNANSWERED: &str = "省平台应答未包含此记录";

/// One line of a reconciliation: a count key, with what the platform holds, what the province
/// acknowledged, what the province reports, and what explains a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationRow {
    #[serde(flatten)]
    pub key: CountKey,
    /// Records the platform holds for the day.
    pub platform: u64,
    /// Of those, acknowledged as accepted by the province.
    pub accepted: u64,
    /// Listed as refused (or not sent), waiting for a replay or a dismissal.
    pub refused: u64,
    /// Neither acknowledged nor refused yet: not sent, or in flight.
    pub pending: u64,
    /// What the province counts.
    pub province: u64,
}

impl ReconciliationRow {
    pub fn differs(&self) -> bool {
        self.platform != self.province
    }
}

/// Totals of one record kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationTotals {
    pub platform: u64,
    pub accepted: u64,
    pub refused: u64,
    pub pending: u64,
    pub province: u64,
}

/// The result of comparing one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reconciliation {
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    /// Every count agrees.
    pub clean: bool,
    pub ratings: ReconciliationTotals,
    pub rectifications: ReconciliationTotals,
    /// The lines where the province's count differs from the platform's.
    pub differences: Vec<ReconciliationRow>,
    /// The adapter that read the province's counts.
    pub adapter: String,
    pub adapter_sha256: String,
}

/// The platform's side of a day: per count key, the records it holds and those accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformCounts {
    pub held: BTreeMap<CountKey, u64>,
    pub accepted: BTreeMap<CountKey, u64>,
    /// Records of the day listed as refused.
    pub refused: BTreeMap<CountKey, u64>,
}

/// Compares a day's platform counts with the province's. The province may list a key twice
/// (the adapter passes what it reads); the counts add up.
pub fn reconcile(
    day: NaiveDate,
    at: DateTime<Utc>,
    platform: &PlatformCounts,
    province: &[DayCount],
    adapter: (&str, &str),
) -> Reconciliation {
    let mut reported: BTreeMap<CountKey, u64> = BTreeMap::new();
    for count in province {
        *reported.entry(count.key.clone()).or_default() += count.count;
    }
    let keys: std::collections::BTreeSet<&CountKey> = platform
        .held
        .keys()
        .chain(platform.accepted.keys())
        .chain(platform.refused.keys())
        .chain(reported.keys())
        .collect();
    let mut ratings = ReconciliationTotals::default();
    let mut rectifications = ReconciliationTotals::default();
    let mut differences = Vec::new();
    for key in keys {
        let get = |map: &BTreeMap<CountKey, u64>| map.get(key).copied().unwrap_or(0);
        let held = get(&platform.held);
        let accepted = get(&platform.accepted);
        let refused = get(&platform.refused);
        let row = ReconciliationRow {
            key: key.clone(),
            platform: held,
            accepted,
            refused,
            pending: held.saturating_sub(accepted).saturating_sub(refused),
            province: get(&reported),
        };
        let totals = match key.kind {
            RecordKind::Rating => &mut ratings,
            RecordKind::Rectification => &mut rectifications,
        };
        totals.platform += row.platform;
        totals.accepted += row.accepted;
        totals.refused += row.refused;
        totals.pending += row.pending;
        totals.province += row.province;
        if row.differs() {
            differences.push(row);
        }
    }
    Reconciliation {
        day,
        at,
        clean: differences.is_empty(),
        ratings,
        rectifications,
        differences,
        adapter: adapter.0.to_owned(),
        adapter_sha256: adapter.1.to_owned(),
    }
}

/// Seconds to wait before sending a batch again after `failures` failed sends in a row: the
/// base, doubled per further failure, never more than the cap.
pub fn retry_delay(base_secs: u64, max_secs: u64, failures: u32) -> u64 {
    let factor = 1u64
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u64::MAX);
    base_secs.saturating_mul(factor).min(max_secs).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(
        kind: RecordKind,
        area: &str,
        channel: Option<Channel>,
        level: Option<Level>,
    ) -> CountKey {
        CountKey {
            kind,
            area_code: area.to_owned(),
            channel,
            level,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default()
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let delays: Vec<u64> = (1..=8)
            .map(|failures| retry_delay(30, 600, failures))
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600, 600]);
        assert_eq!(retry_delay(30, 600, u32::MAX), 600);
        assert_eq!(retry_delay(0, 600, 1), 1);
    }

    #[test]
    fn a_day_that_agrees_is_clean() {
        let device = key(
            RecordKind::Rating,
            "410421",
            Some(Channel::HallDevice),
            Some(Level::VerySatisfied),
        );
        let closed = key(RecordKind::Rectification, "410421", None, None);
        let platform = PlatformCounts {
            held: BTreeMap::from([(device.clone(), 3), (closed.clone(), 1)]),
            accepted: BTreeMap::from([(device.clone(), 3), (closed.clone(), 1)]),
            refused: BTreeMap::new(),
        };
        let province = [
            DayCount {
                key: device.clone(),
                count: 2,
            },
            DayCount {
                key: device,
                count: 1,
            },
            DayCount {
                key: closed,
                count: 1,
            },
        ];
        let result = reconcile(day(), Utc::now(), &platform, &province, ("a", "b"));
        assert!(result.clean, "{result:?}");
        assert_eq!(result.ratings.platform, 3);
        assert_eq!(result.ratings.province, 3);
        assert_eq!(result.rectifications.accepted, 1);
    }

    #[test]
    fn gaps_are_listed_with_what_explains_them() {
        let sms_bad = key(
            RecordKind::Rating,
            "410421",
            Some(Channel::Sms),
            Some(Level::Dissatisfied),
        );
        let qr_good = key(
            RecordKind::Rating,
            "410402",
            Some(Channel::QrCode),
            Some(Level::Satisfied),
        );
        let only_province = key(
            RecordKind::Rating,
            "410403",
            Some(Channel::Pc),
            Some(Level::Satisfied),
        );
        let platform = PlatformCounts {
            held: BTreeMap::from([(sms_bad.clone(), 4), (qr_good.clone(), 2)]),
            accepted: BTreeMap::from([(sms_bad.clone(), 1), (qr_good.clone(), 2)]),
            refused: BTreeMap::from([(sms_bad.clone(), 1)]),
        };
        let province = [
            DayCount {
                key: sms_bad.clone(),
                count: 1,
            },
            DayCount {
                key: qr_good,
                count: 2,
            },
            DayCount {
                key: only_province.clone(),
                count: 5,
            },
        ];
        let result = reconcile(day(), Utc::now(), &platform, &province, ("a", "b"));
        assert!(!result.clean);
        // Rows come in key order: area, then channel and level.
        assert_eq!(
            result.differences,
            vec![
                ReconciliationRow {
                    key: only_province,
                    platform: 0,
                    accepted: 0,
                    refused: 0,
                    pending: 0,
                    province: 5,
                },
                ReconciliationRow {
                    key: sms_bad,
                    platform: 4,
                    accepted: 1,
                    refused: 1,
                    pending: 2,
                    province: 1,
                },
            ]
        );
        assert_eq!(result.ratings.pending, 2);
        assert_eq!(result.ratings.province, 8);
    }
}
