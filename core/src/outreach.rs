//! Reaching citizens: invitations of unrated services, default ratings, the call list of
//! unrated services, and outbound messages (SMS) with their delivery attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Level, SealedField};
use crate::workflow::CallAttempt;

/// Something the sweep does at an instant for one service act, planned by the invitation or
/// default-rating policy when the act was completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduledTask {
    pub at: DateTime<Utc>,
    pub project_no: String,
    pub service_number: u8,
    pub action: ScheduledAction,
    /// Log sequence number of the decision that planned it.
    pub decision_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScheduledAction {
    /// Invite by SMS with a rating link.
    InviteSms,
    /// Put the act on the call list (电话邀评).
    InvitePhone,
    /// A message in the government app.
    InviteApp,
    /// Give the default rating (系统默认评价) if still unrated.
    DefaultRating { level: Level },
}

impl ScheduledAction {
    pub fn byte(&self) -> u8 {
        match self {
            ScheduledAction::InviteSms => 1,
            ScheduledAction::InvitePhone => 2,
            ScheduledAction::InviteApp => 3,
            ScheduledAction::DefaultRating { .. } => 9,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ScheduledAction::InviteSms => "invite_sms",
            ScheduledAction::InvitePhone => "invite_phone",
            ScheduledAction::InviteApp => "invite_app",
            ScheduledAction::DefaultRating { .. } => "default_rating",
        }
    }
}

/// What became of a scheduled task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskOutcome {
    /// `done`, `skipped: rated`, `skipped: no contact`, `failed: …`.
    pub outcome: String,
    /// The message, call or rating it produced.
    pub produced: Option<u64>,
}

/// An unrated service act on the call list (电话邀评): the agent calls the applicant and records
/// the outcome; a reached applicant's answer becomes a rating on the phone channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceCall {
    pub project_no: String,
    pub service_number: u8,
    pub task_code: String,
    pub department: String,
    pub area_code: String,
    pub regions: Vec<String>,
    pub listed_at: DateTime<Utc>,
    pub attempts: Vec<CallAttempt>,
    pub state: ServiceCallState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceCallState {
    Open,
    /// Reached; the answer was recorded as a rating.
    Rated,
    /// Rated meanwhile on another channel.
    AlreadyRated,
    /// Unreachable after the attempts; an SMS invitation was sent instead.
    Unreachable,
}

/// Outbound channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageChannel {
    Sms,
    App,
}

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessagePurpose {
    /// 邀评: please rate the service.
    Invitation,
    /// The tracking link of a bad review, when its order opens.
    Tracking,
    /// 反馈: what was done about a bad review or complaint.
    Feedback,
    /// The call-back could not reach the evaluator.
    Callback,
    /// The code that confirms a number a citizen gave (the only text an unconfirmed number
    /// gets, a few times a day at most).
    Confirmation,
}

/// A message as queued; the phone number stays sealed until the moment it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Log sequence number of the event that queued it; also the idempotency key at the
    /// gateway.
    pub id: u64,
    pub channel: MessageChannel,
    pub purpose: MessagePurpose,
    /// `order:12`, `service:P-1/2`.
    pub subject: String,
    #[schema(ignore)]
    pub to: SealedField,
    /// Masked number, for display.
    pub to_masked: String,
    pub text: String,
    pub queued_at: DateTime<Utc>,
    pub attempts: Vec<DeliveryAttempt>,
    pub state: MessageState,
    /// When the next attempt is due (queued or retrying).
    pub next_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Queued,
    Sent,
    /// Gave up after the attempts; listed for an administrator.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// The gateway's id of the accepted message.
    pub gateway_id: Option<String>,
    pub error: Option<String>,
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageInput {
    pub channel: MessageChannel,
    pub purpose: MessagePurpose,
    pub subject: String,
    pub to: SealedField,
    pub text: String,
}

/// Marks a reviewer or an appeal put on a rating; the rating itself never changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RatingMarks {
    /// Set when an appeal was upheld: the rating is invalid for assessment and stays in the
    /// raw totals with this reason.
    pub invalid: Option<Invalidation>,
    pub moderation: Option<Moderation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invalidation {
    pub reason: String,
    pub order: u64,
    pub reviewer: String,
    pub at: DateTime<Utc>,
}

/// Whether a comment may be published (政务公开), as a reviewer decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Moderation {
    pub publish: bool,
    pub note: String,
    pub reviewer: String,
    pub at: DateTime<Utc>,
}

/// `service:<projectNo>/<serviceNumber>`: the subject of a service act's decisions and messages.
pub fn service_subject(project_no: &str, service_number: u8) -> String {
    format!("service:{project_no}/{service_number}")
}

/// The service act a subject names ([`service_subject`]); `None` for any other subject.
pub fn act_of_subject(subject: &str) -> Option<(&str, u8)> {
    let (project_no, number) = subject.strip_prefix("service:")?.rsplit_once('/')?;
    Some((project_no, number.parse().ok()?))
}

#[cfg(test)]
mod subject_tests {
    use super::*;

    #[test]
    fn a_service_subject_names_its_act_and_nothing_else_does() {
        for (project, number) in [("BF-2026-000123", 1), ("办件/甲 01", 99)] {
            let subject = service_subject(project, number);
            assert_eq!(act_of_subject(&subject), Some((project, number)));
        }
        for other in [
            "order:7",
            "service:P-1",
            "service:P-1/x",
            "service:P-1/300",
            "",
        ] {
            assert_eq!(act_of_subject(other), None, "{other}");
        }
    }
}
