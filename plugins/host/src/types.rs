//! The public data of the plugin host: what a plugin says about itself and what goes in and out
//! of its calls, in the engine's own types (`hcp_core::model`). Nothing here depends on the
//! contract version a plugin was built against.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use hcp_core::model::HeartbeatInput as Heartbeat;
use hcp_core::model::{RatingInput, ServiceEventInput};
pub use hcp_core::uplink::{DayCount, Rectification};

/// What a plugin is for, as it describes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// A model of hall rating device (评价器).
    HallDevice,
    /// A business system feeding service events (and possibly ratings).
    BusinessSystem,
    /// The provincial uplink encoder.
    Uplink,
}

impl PluginKind {
    /// Inbound plugins decode payloads; uplink plugins encode batches and read answers.
    pub fn is_inbound(self) -> bool {
        matches!(self, PluginKind::HallDevice | PluginKind::BusinessSystem)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::HallDevice => "hall_device",
            PluginKind::BusinessSystem => "business_system",
            PluginKind::Uplink => "uplink",
        }
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A plugin's own description (`describe`), checked at installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// Stable id: lowercase letters, digits and `-`. Sources name it.
    pub id: String,
    /// Version of this build, `MAJOR.MINOR.PATCH` with an optional suffix.
    pub version: String,
    pub vendor: String,
    pub kind: PluginKind,
    /// Device models or business systems it speaks for.
    pub models: Vec<String>,
    /// The contract version it was built against (major 1).
    pub abi: String,
    pub description: String,
}

/// A sample payload a plugin ships; the host runs every one at installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub content_type: String,
    pub payload: Vec<u8>,
}

/// One record decoded from a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Rating(RatingInput),
    /// A service act reported by a business system.
    Service(ServiceEventInput),
    Heartbeat(Heartbeat),
}

/// Ratings to report to the provincial platform in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkBatch {
    /// The province deduplicates on it: a retried batch keeps its number.
    pub number: u64,
    pub ratings: Vec<UplinkRating>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkRating {
    /// The platform's id of the rating.
    pub id: u64,
    pub rating: RatingInput,
    pub received_at: DateTime<Utc>,
}

/// The handling of a bad review to report (contract 1.1): the platform's id of this record
/// (the log entry that closed the order) and of the rating it handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkRectification {
    pub id: u64,
    pub rating_id: u64,
    pub rectification: Rectification,
}

/// One record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UplinkRecord {
    Rating(UplinkRating),
    Rectification(UplinkRectification),
}

/// Ratings and rectifications to report in one request (contract 1.1; a 1.0 plugin takes
/// ratings only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkRecords {
    /// The province deduplicates on it: a retried batch keeps its number.
    pub number: u64,
    pub records: Vec<UplinkRecord>,
}

/// The HTTP request body an uplink plugin built; the host sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkRequest {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The province's answer to an uplink request, per rating id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack {
    pub accepted: Vec<u64>,
    pub refused: Vec<(u64, String)>,
}
