//! Reads: ratings, cases and roll-ups by unit and day range with cursor pagination, master data,
//! users, sources, audit entries and scope checks. Reads never go through the committer.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::keys::{self, Dim, bucket};
use super::postings;
use super::{Store, StoreError, tree};
use crate::auth::{Source, User};
use crate::metrics::{OrderCounts, RollupRow};

/// The refused payloads of one source kept for replay, and those evicted past the cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptRejections {
    pub source: String,
    pub kept: u64,
    pub evicted: u64,
}

/// What an ingest source delivered and had refused over a period, day by day (only days with
/// something), and when it last did, ever (应接尽接: is it connected, how much does it send, how
/// much of it is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceActivity {
    pub source: String,
    /// The last rating, service event or heartbeat it delivered that was stored.
    pub last_accepted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last item or payload of it that was refused (and kept for replay).
    pub last_refused_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ratings: u64,
    pub service_events: u64,
    pub heartbeats: u64,
    pub refused: u64,
    pub by_day: Vec<SourceDay>,
}

/// One day of a source's activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceDay {
    pub day: NaiveDate,
    pub ratings: u64,
    pub service_events: u64,
    pub heartbeats: u64,
    pub refused: u64,
}
use crate::event::{
    AuditEntry, Event, LogEntry, PolicyDecision, PolicyVersionRecord, RejectedPayload,
};
use crate::model::{
    Case, Channel, Device, DeviceModel, DeviceState, Level, OrgUnit, Rating, ServiceItem, Staff,
};
use crate::pii::PiiError;

/// A page of results; pass `next_cursor` back as `cursor` for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Ratings filed under one unit, newest day first.
#[derive(Debug, Clone)]
pub struct RatingQuery {
    pub dim: Dim,
    pub unit: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub level: Option<Level>,
    pub channel: Option<Channel>,
    pub bad_only: bool,
    pub real_name_only: bool,
    pub cursor: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct CaseQuery {
    pub dim: Dim,
    pub unit: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub cursor: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RollupGroup {
    /// One row for the whole range.
    #[default]
    Total,
    Day,
    Channel,
}

#[derive(Debug, Clone)]
pub struct RollupQuery {
    pub dim: Dim,
    pub unit: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group: RollupGroup,
}

/// Adds a roll-up counter of bad-review work orders to the field its bucket byte names.
fn add_order_count(counts: &mut OrderCounts, bucket: u8, count: u64) {
    let field = match bucket {
        bucket::ORDERS => &mut counts.orders,
        bucket::REAL_NAME_ORDERS => &mut counts.real_name_orders,
        bucket::RECTIFIED => &mut counts.rectified,
        bucket::RECTIFIED_ON_TIME => &mut counts.rectified_on_time,
        bucket::REAL_NAME_RECTIFIED => &mut counts.real_name_rectified,
        bucket::REAL_NAME_RECTIFIED_ON_TIME => &mut counts.real_name_rectified_on_time,
        bucket::FED_BACK => &mut counts.fed_back,
        bucket::CALLED_BACK => &mut counts.called_back,
        bucket::EVALUATED => &mut counts.evaluated,
        bucket::SATISFIED => &mut counts.satisfied,
        bucket::CLOSED => &mut counts.closed,
        bucket::APPEAL_UPHELD => &mut counts.appeal_upheld,
        bucket::REAL_NAME_APPEAL_UPHELD => &mut counts.real_name_appeal_upheld,
        bucket::BLAMELESS => &mut counts.blameless,
        _ => return,
    };
    *field += count;
}

/// Adds a roll-up counter to the row it is summed into.
fn add_counter(row: &mut RollupRow, bucket: u8, channel: Option<Channel>, count: u64) {
    match bucket {
        bucket::SERVICES => row.services += count,
        bucket::REAL_NAME_BAD => row.real_name_bad += count,
        bucket::INVALID_REAL_NAME_BAD => row.invalid_real_name_bad += count,
        b if b >= bucket::ORDERS => add_order_count(&mut row.orders, b, count),
        b if b >= bucket::INVALID_BASE => {
            row.invalid += count;
            if let Some(level) = Level::from_index(b - bucket::INVALID_BASE) {
                *row.invalid_by_level.entry(level).or_default() += count;
                if level.is_bad() {
                    row.invalid_bad += count;
                }
            }
        }
        b if b >= bucket::FOLLOW_UP_BASE => row.follow_ups += count,
        b => {
            let Some(level) = Level::from_index(b) else {
                return;
            };
            row.ratings += count;
            *row.by_level.entry(level).or_default() += count;
            if let Some(channel) = channel {
                *row.by_channel.entry(channel).or_default() += count;
                if channel.is_default() {
                    row.default_ratings += count;
                }
            }
            if level.is_bad() {
                row.bad += count;
            }
        }
    }
}

const MAX_LIMIT: usize = 500;
/// Index entries a filtered page may skip before it returns what it has, with a cursor.
const MAX_SCAN: usize = 50_000;

impl Store {
    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        which: usize,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.trees()?[which].get(key)? {
            Some(bytes) => Ok(Some(super::codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    pub(super) fn all<T: serde::de::DeserializeOwned>(
        &self,
        which: usize,
    ) -> Result<Vec<T>, StoreError> {
        self.trees()?[which]
            .iter()
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// The current generation of a window's QR code; `None` before its first.
    pub fn window_qr_generation(&self, window: &str) -> Result<Option<u32>, StoreError> {
        Ok(self.trees()?[tree::WINDOW_QR]
            .get(keys::window_qr_generation(window))?
            .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_ref()).ok())
            .map(u32::from_be_bytes))
    }

    /// The window a QR token was issued for and the generation it was issued as (compare
    /// with [`Store::window_qr_generation`]: an earlier one was replaced).
    pub fn window_of_qr_token(&self, token: &str) -> Result<Option<(String, u32)>, StoreError> {
        let hash = crate::pii::tracking_hash(token);
        Ok(self.trees()?[tree::WINDOW_QR]
            .get(keys::window_qr_token(&hash))?
            .and_then(|value| {
                let generation = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
                let window = String::from_utf8(value.get(4..)?.to_vec()).ok()?;
                Some((window, generation))
            }))
    }

    /// The cases with a service act at `window` on the days `from..=to` (China time), newest
    /// day first, at most `limit`.
    pub fn window_cases(
        &self,
        window: &str,
        from: NaiveDate,
        to: NaiveDate,
        limit: usize,
    ) -> Result<Vec<Case>, StoreError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut cases = Vec::new();
        postings::scan_rev(
            &self.trees()?[tree::CASE_INDEX],
            Dim::Window,
            window,
            keys::day_number(from),
            keys::day_number(to),
            None,
            &mut |hit| {
                let project_no = String::from_utf8_lossy(&hit.record).to_string();
                if seen.insert(project_no.clone())
                    && let Some(case) = self.case(&project_no)?
                {
                    cases.push(case);
                }
                Ok(cases.len() < limit)
            },
        )?;
        Ok(cases)
    }

    pub fn log_entry(&self, seq: u64) -> Result<Option<LogEntry>, StoreError> {
        self.json(tree::LOG, &seq.to_be_bytes())
    }

    pub fn rating(&self, id: u64) -> Result<Option<Rating>, StoreError> {
        Ok(self.log_entry(id)?.and_then(|entry| match entry.event {
            Event::RatingRecorded { rating } => Some(rating),
            _ => None,
        }))
    }

    pub fn rating_for_slot(
        &self,
        project_no: &str,
        service_number: u8,
        assess_number: u8,
    ) -> Result<Option<Rating>, StoreError> {
        match self.trees()?[tree::RATING_SLOTS].get(keys::rating_slot(
            project_no,
            service_number,
            assess_number,
        ))? {
            Some(id) => self.rating(keys::u64_value(&id)),
            None => Ok(None),
        }
    }

    pub fn ratings(&self, query: &RatingQuery) -> Result<Page<Rating>, StoreError> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let mut items = Vec::new();
        let mut scanned = 0;
        let next_cursor = postings::page(
            &self.trees()?[tree::RATING_INDEX],
            query.dim,
            &query.unit,
            keys::day_number(query.from),
            keys::day_number(query.to),
            query.cursor.as_deref(),
            &mut |hit| {
                scanned += 1;
                let (id, level, channel, flags) = postings::parse_rating_record(&hit.record)
                    .ok_or_else(|| StoreError::Damaged("a rating index entry".into()))?;
                let level = Level::from_index(level);
                let keep = query.level.is_none_or(|wanted| level == Some(wanted))
                    && query
                        .channel
                        .is_none_or(|wanted| Channel::from_index(channel) == Some(wanted))
                    && (!query.bad_only || level.is_some_and(Level::is_bad))
                    && (!query.real_name_only || flags & 1 == 1);
                if keep && let Some(rating) = self.rating(id)? {
                    items.push(rating);
                }
                Ok(items.len() >= limit || scanned >= MAX_SCAN)
            },
        )?;
        Ok(Page { items, next_cursor })
    }

    pub fn case(&self, project_no: &str) -> Result<Option<Case>, StoreError> {
        match self.trees()?[tree::CASES].get(project_no.as_bytes())? {
            Some(bytes) => Ok(Some(super::case_record::decode(
                project_no.as_bytes(),
                &bytes,
            )?)),
            None => Ok(None),
        }
    }

    pub fn cases(&self, query: &CaseQuery) -> Result<Page<Case>, StoreError> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let mut items = Vec::new();
        let next_cursor = postings::page(
            &self.trees()?[tree::CASE_INDEX],
            query.dim,
            &query.unit,
            keys::day_number(query.from),
            keys::day_number(query.to),
            query.cursor.as_deref(),
            &mut |hit| {
                if let Some(case) = self.case(&String::from_utf8_lossy(&hit.record))? {
                    items.push(case);
                }
                Ok(items.len() >= limit)
            },
        )?;
        Ok(Page { items, next_cursor })
    }

    /// Sums the roll-up counters of one unit over a day range.
    pub fn rollup(&self, query: &RollupQuery) -> Result<Vec<RollupRow>, StoreError> {
        let start = keys::unit_day(query.dim, &query.unit, keys::day_number(query.from));
        let end = keys::prefix_end(&keys::unit_day(
            query.dim,
            &query.unit,
            keys::day_number(query.to),
        ));
        let prefix_len = keys::unit_prefix(query.dim, &query.unit).len();
        let mut rows: BTreeMap<String, RollupRow> = BTreeMap::new();
        if start >= end {
            return Ok(Vec::new());
        }
        for item in self.trees()?[tree::ROLLUP].range(start..end) {
            let (key, value) = item?;
            let Some(day) = key
                .get(prefix_len..)
                .and_then(|day| <[u8; 4]>::try_from(day).ok())
                .map(u32::from_be_bytes)
            else {
                continue;
            };
            for counter in super::counters::decode(&value)? {
                let channel = Channel::from_index(counter.channel);
                let group = match query.group {
                    RollupGroup::Total => "total".to_string(),
                    RollupGroup::Day => keys::date_of_day_number(day)
                        .map(|date| date.to_string())
                        .unwrap_or_default(),
                    RollupGroup::Channel => match channel {
                        Some(channel) => serde_json::to_value(channel)
                            .ok()
                            .and_then(|value| value.as_str().map(String::from))
                            .unwrap_or_default(),
                        None => "none".to_string(),
                    },
                };
                let row = rows.entry(group.clone()).or_insert_with(|| RollupRow {
                    group,
                    ..RollupRow::default()
                });
                add_counter(row, counter.bucket, channel, counter.count);
            }
        }
        Ok(rows.into_values().collect())
    }

    pub fn org_unit(&self, id: &str) -> Result<Option<OrgUnit>, StoreError> {
        self.json(tree::ORG, id.as_bytes())
    }

    pub fn org_children(&self, id: &str) -> Result<Vec<OrgUnit>, StoreError> {
        let prefix = keys::child(id, "");
        let mut children = Vec::new();
        for item in self.trees()?[tree::ORG_CHILDREN].scan_prefix(&prefix) {
            let (key, _) = item?;
            let child = String::from_utf8_lossy(&key[prefix.len()..]).to_string();
            if let Some(unit) = self.org_unit(&child)? {
                children.push(unit);
            }
        }
        Ok(children)
    }

    pub fn org_units(&self) -> Result<Vec<OrgUnit>, StoreError> {
        self.all(tree::ORG)
    }

    /// The org units above `id`, nearest first, including `id` itself. Staff resolve through
    /// their department, items through theirs.
    pub fn ancestors(&self, dim: Dim, id: &str) -> Result<Vec<String>, StoreError> {
        let start = match dim {
            Dim::Staff => match self.staff(id)? {
                Some(staff) => staff.window.unwrap_or(staff.department),
                None => return Ok(Vec::new()),
            },
            Dim::Item => match self.item(id)? {
                Some(item) => item.department,
                None => return Ok(Vec::new()),
            },
            _ => id.to_string(),
        };
        let mut chain = Vec::new();
        let mut next = Some(start);
        while let Some(id) = next.take() {
            if chain.len() > 16 {
                break;
            }
            if let Some(unit) = self.org_unit(&id)? {
                next = unit.parent.clone();
                chain.push(unit.id);
            }
        }
        Ok(chain)
    }

    /// Whether the unit lies in the subtree of `scope`.
    pub fn within(&self, dim: Dim, id: &str, scope: &str) -> Result<bool, StoreError> {
        Ok(self.ancestors(dim, id)?.iter().any(|unit| unit == scope))
    }

    pub fn staff(&self, id: &str) -> Result<Option<Staff>, StoreError> {
        self.json(tree::STAFF, id.as_bytes())
    }

    pub fn staff_list(&self) -> Result<Vec<Staff>, StoreError> {
        self.all(tree::STAFF)
    }

    pub fn item(&self, task_code: &str) -> Result<Option<ServiceItem>, StoreError> {
        self.json(tree::ITEMS, task_code.as_bytes())
    }

    pub fn items(&self) -> Result<Vec<ServiceItem>, StoreError> {
        self.all(tree::ITEMS)
    }

    pub fn devices(&self) -> Result<Vec<Device>, StoreError> {
        self.all(tree::DEVICES)
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.json(tree::DEVICES, id.as_bytes())
    }

    pub fn device_models(&self) -> Result<Vec<DeviceModel>, StoreError> {
        self.all(tree::DEVICE_MODELS)
    }

    /// Health of a device; a device never heard from has a default state.
    pub fn device_state(&self, id: &str) -> Result<DeviceState, StoreError> {
        Ok(self
            .json(tree::DEVICE_STATE, id.as_bytes())?
            .unwrap_or_else(|| DeviceState {
                device: id.to_string(),
                ..DeviceState::default()
            }))
    }

    pub fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.json(tree::USERS, username.as_bytes())
    }

    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.all(tree::USERS)
    }

    pub fn source(&self, id: &str) -> Result<Option<Source>, StoreError> {
        self.json(tree::SOURCES, id.as_bytes())
    }

    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        self.all(tree::SOURCES)
    }

    /// Audit entries, newest first, with their log sequence numbers.
    pub fn audit(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let end = before.unwrap_or(u64::MAX).to_be_bytes();
        self.trees()?[tree::AUDIT]
            .range(..end)
            .rev()
            .take(limit.clamp(1, MAX_LIMIT))
            .map(|item| {
                let (key, value) = item?;
                Ok((keys::u64_value(&key), super::codec::decode(&value)?))
            })
            .collect()
    }

    /// Open rejections, oldest first, with their log sequence numbers.
    pub fn rejections(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, RejectedPayload)>, StoreError> {
        self.trees()?[tree::REJECTS]
            .range(after.saturating_add(1).to_be_bytes()..)
            .take(limit.clamp(1, MAX_LIMIT))
            .map(|item| {
                let (key, value) = item?;
                Ok((keys::u64_value(&key), super::codec::decode(&value)?))
            })
            .collect()
    }

    pub fn rejection(&self, seq: u64) -> Result<Option<RejectedPayload>, StoreError> {
        self.json(tree::REJECTS, &seq.to_be_bytes())
    }

    /// The original bytes of a kept payload.
    pub fn open_rejected_payload(&self, rejected: &RejectedPayload) -> Result<Vec<u8>, PiiError> {
        use base64::Engine as _;
        let encoded = self.pii().open(
            super::apply::REJECTED_PAYLOAD_FIELD,
            &rejected.sealed_payload,
        )?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| PiiError::Open)
    }

    /// Decisions recorded about a rating, by hook.
    pub fn decisions(&self, rating_id: u64) -> Result<Vec<PolicyDecision>, StoreError> {
        self.trees()?[tree::DECISIONS]
            .scan_prefix(rating_id.to_be_bytes())
            .map(|item| self.decision_at(&item?.1))
            .collect()
    }

    /// The decision a value of the decisions index points at, read from the log.
    pub(super) fn decision_at(&self, pointer: &[u8]) -> Result<PolicyDecision, StoreError> {
        let damaged = || StoreError::Damaged(format!("decision pointer {}", hex::encode(pointer)));
        let (seq, index) = keys::parse_decision_pointer(pointer).ok_or_else(damaged)?;
        let entry = self.log_entry(seq)?.ok_or_else(damaged)?;
        let decision = match entry.event {
            Event::DecisionRecorded { decision } if index == 0 => Some(decision),
            Event::OrderChanged {
                decision: Some(decision),
                ..
            } if index == 0 => Some(decision),
            Event::OrderOpened { decisions, .. } => decisions.into_iter().nth(index),
            _ => None,
        };
        decision.ok_or_else(damaged)
    }

    /// Every activation of a rules version, oldest first; the last one is active.
    pub fn policy_activations(&self) -> Result<Vec<PolicyVersionRecord>, StoreError> {
        self.trees()?[tree::POLICY_VERSIONS]
            .scan_prefix(b"a")
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// The last rules activation recorded: the version active now.
    pub fn last_policy_activation(&self) -> Result<Option<PolicyVersionRecord>, StoreError> {
        match self.trees()?[tree::POLICY_VERSIONS]
            .scan_prefix(b"a")
            .next_back()
            .transpose()?
        {
            Some((_, value)) => Ok(Some(super::codec::decode(&value)?)),
            None => Ok(None),
        }
    }

    /// The log's last word on every adapter file it mentions (a shared partition's adapters).
    pub fn adapter_files(&self) -> Result<Vec<crate::event::AdapterFileRecord>, StoreError> {
        self.trees()?[tree::POLICY_VERSIONS]
            .scan_prefix(b"p")
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// The log's last word on one adapter file, if it mentions it.
    pub fn adapter_file(
        &self,
        file: &str,
    ) -> Result<Option<crate::event::AdapterFileRecord>, StoreError> {
        self.trees()?[tree::POLICY_VERSIONS]
            .get(keys::adapter_file(file))?
            .map(|value| Ok(super::codec::decode(&value)?))
            .transpose()
    }

    /// Every activation of holiday tables, oldest first.
    pub fn calendar_activations(
        &self,
    ) -> Result<Vec<crate::event::CalendarActivationRecord>, StoreError> {
        self.trees()?[tree::POLICY_VERSIONS]
            .scan_prefix(b"c")
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// Every destruction of keys recorded (retention sweeps, erasure requests), oldest first.
    pub fn key_destructions(&self) -> Result<Vec<crate::event::KeyDestructionRecord>, StoreError> {
        self.trees()?[tree::POLICY_VERSIONS]
            .scan_prefix(b"k")
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// The last activation of holiday tables recorded: the calendar active now.
    pub fn last_calendar_activation(
        &self,
    ) -> Result<Option<crate::event::CalendarActivationRecord>, StoreError> {
        match self.trees()?[tree::POLICY_VERSIONS]
            .scan_prefix(b"c")
            .next_back()
            .transpose()?
        {
            Some((_, value)) => Ok(Some(super::codec::decode(&value)?)),
            None => Ok(None),
        }
    }

    /// The files of a rules version that was once active.
    pub fn policy_files(
        &self,
        version: &str,
    ) -> Result<Option<BTreeMap<String, String>>, StoreError> {
        self.json(tree::POLICY_VERSIONS, &keys::policy_files(version))
    }

    /// What a source delivered and had refused from `from` to `to` (China dates, inclusive),
    /// day by day, and when it last delivered or had something refused, ever.
    pub fn source_activity(
        &self,
        source: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<SourceActivity, StoreError> {
        use keys::activity;
        let tree = &self.trees()?[tree::SOURCE_ACTIVITY];
        let last = |kind: u8| -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
            Ok(tree
                .get(keys::source_last(source, kind))?
                .and_then(|bytes| i64::try_from(keys::u64_value(&bytes)).ok())
                .and_then(chrono::DateTime::from_timestamp_millis))
        };
        let mut result = SourceActivity {
            source: source.to_string(),
            last_accepted_at: [activity::RATING, activity::SERVICE, activity::HEARTBEAT]
                .into_iter()
                .map(last)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .max(),
            last_refused_at: last(activity::REFUSED)?,
            ..SourceActivity::default()
        };
        let prefix = keys::source_days(source);
        let mut days: BTreeMap<NaiveDate, SourceDay> = BTreeMap::new();
        let start = keys::source_day(source, keys::day_number(from), 0);
        let end = keys::source_day(source, keys::day_number(to), u8::MAX);
        for item in tree.range(start..=end) {
            let (key, value) = item?;
            let Some(rest) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            let (Some(day), Some(kind)) = (
                rest.get(..4)
                    .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
                    .map(u32::from_be_bytes)
                    .and_then(keys::date_of_day_number),
                rest.get(4).copied(),
            ) else {
                continue;
            };
            let count = keys::u64_value(&value);
            let slot = days.entry(day).or_insert_with(|| SourceDay {
                day,
                ..SourceDay::default()
            });
            match kind {
                activity::RATING => slot.ratings += count,
                activity::SERVICE => slot.service_events += count,
                activity::HEARTBEAT => slot.heartbeats += count,
                activity::REFUSED => slot.refused += count,
                _ => {}
            }
        }
        result.by_day = days.into_values().collect();
        for day in &result.by_day {
            result.ratings += day.ratings;
            result.service_events += day.service_events;
            result.heartbeats += day.heartbeats;
            result.refused += day.refused;
        }
        Ok(result)
    }

    /// Refused payloads each source keeps for replay now, and how many it had evicted past its
    /// cap, ever; by source.
    pub fn kept_rejections(&self) -> Result<Vec<KeptRejections>, StoreError> {
        let tree = &self.trees()?[tree::SOURCE_ACTIVITY];
        let mut by_source: BTreeMap<String, KeptRejections> = BTreeMap::new();
        for (tag, evicted) in [(b'k', false), (b'x', true)] {
            for item in tree.scan_prefix([tag]) {
                let (key, value) = item?;
                let source = String::from_utf8_lossy(&key[1..]).into_owned();
                let counts = by_source
                    .entry(source.clone())
                    .or_insert_with(|| KeptRejections {
                        source,
                        ..KeptRejections::default()
                    });
                if evicted {
                    counts.evicted = keys::u64_value(&value);
                } else {
                    counts.kept = keys::u64_value(&value);
                }
            }
        }
        Ok(by_source.into_values().collect())
    }

    /// Ratings stored (first and follow-up): one counter read.
    pub fn rating_count(&self) -> usize {
        self.trees()
            .ok()
            .and_then(|trees| trees[tree::ROLLUP].get(keys::RATINGS_STORED).ok())
            .flatten()
            .map_or(0, |value| {
                usize::try_from(keys::u64_value(&value)).unwrap_or(usize::MAX)
            })
    }
}
