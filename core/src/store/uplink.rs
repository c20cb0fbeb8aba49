//! The store side of the provincial uplink: checking uplink commands against the uplink's state,
//! projecting its events (and the records it counts) into the `uplink` tree, and reading the
//! log as the outbox. The log is the outbox: a batch names the range of the log it settles, and
//! the cursor moves past that range only when the province has answered, so a restart resumes
//! exactly where the uplink stood.
//!
//! `uplink` tree layout:
//!
//! | key | value |
//! |---|---|
//! | `s` | [`UplinkState`] JSON (cursor, last number, the in-flight batch with its sealed bytes) |
//! | `b` ‖ number | [`BatchSummary`] JSON |
//! | `h` ‖ day ‖ kind ‖ area ∅ ‖ channel ‖ level | records held (u64 BE) |
//! | `a` ‖ day ‖ kind ‖ area ∅ ‖ channel ‖ level | records the province accepted (u64 BE) |
//! | `x` ‖ record id | [`RefusedRecord`] JSON: refused or not sent, waiting for replay |
//! | `q` ‖ record id | [`RecordRef`] JSON: requeued for the next batch |
//! | `r` ‖ day | the day's last [`Reconciliation`] JSON |

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest as _, Sha256};
use sled::transaction::TransactionalTree;

use super::apply::{Decision, Reader, Reject, TxResult, abort, increment, put_json};
use super::keys;
use super::staged::Tx;
use super::{EventLog as _, Store, StoreError, tree};
use crate::calendar::local_date;
use crate::event::{Event, LogEntry};
use crate::model::{Channel, Level};
use crate::pii::PiiKey;
use crate::uplink::{
    BatchSummary, CountKey, InFlight, KEPT_ATTEMPTS, OutboxRecord, PlatformCounts, PreparedBatch,
    Reconciliation, RecordKind, RecordRef, Rectification, RefusedRecord, Resolution, UNANSWERED,
    UplinkChange, UplinkState,
};
use crate::validate::DomainError;
use crate::workflow::{OrderChange, OrderKind};

/// The associated-data label that binds sealed uplink request bodies.
pub const BODY_FIELD: &str = "uplink.body";

/// Marks a sealed body that was compressed (base64 never holds a colon).
const ZSTD_BODY: &str = "zstd:";

/// A change of the uplink, checked against its state by the committer.
#[derive(Debug, Clone)]
pub enum UplinkCommand {
    /// Number a batch and keep its bytes before the first send. `batch.number` must be the
    /// next number (or 0 when nothing is sent) and `batch.after_seq` the cursor; the body is
    /// sealed and hashed here.
    Prepare {
        batch: Box<PreparedBatch>,
        body: Vec<u8>,
    },
    /// A send of the in-flight batch failed.
    Attempted {
        number: u64,
        attempt: crate::uplink::Attempt,
    },
    /// The province answered the in-flight batch.
    Acked {
        number: u64,
        accepted: Vec<u64>,
        refused: Vec<(u64, String)>,
    },
    /// Take a refused record off the list, to send it again or not at all.
    Resolve {
        actor: String,
        id: u64,
        resolution: Resolution,
        note: String,
    },
    Reconciled {
        actor: String,
        reconciliation: Box<Reconciliation>,
    },
}

const STATE: &[u8] = b"s";

fn refused_key(id: u64) -> Vec<u8> {
    let mut key = vec![b'x'];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn queued_key(id: u64) -> Vec<u8> {
    let mut key = vec![b'q'];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn batch_key(number: u64) -> Vec<u8> {
    let mut key = vec![b'b'];
    key.extend_from_slice(&number.to_be_bytes());
    key
}

fn reconciliation_key(day: NaiveDate) -> Vec<u8> {
    let mut key = vec![b'r'];
    key.extend_from_slice(&keys::day_number(day).to_be_bytes());
    key
}

const NO_CODE: u8 = 0xff;

/// `h` or `a` ‖ day ‖ kind ‖ area ∅ ‖ channel ‖ level: a day's counters are one prefix scan.
fn count_key(prefix: u8, day: NaiveDate, key: &CountKey) -> Vec<u8> {
    let mut bytes = count_day(prefix, day);
    bytes.push(key.kind.byte());
    bytes.extend_from_slice(key.area_code.as_bytes());
    bytes.push(0);
    bytes.push(key.channel.map_or(NO_CODE, Channel::index));
    bytes.push(key.level.map_or(NO_CODE, Level::index));
    bytes
}

fn count_day(prefix: u8, day: NaiveDate) -> Vec<u8> {
    let mut bytes = vec![prefix];
    bytes.extend_from_slice(&keys::day_number(day).to_be_bytes());
    bytes
}

/// The count key of a counter's sled key (after the day), or `None` for damaged bytes.
fn parse_count_key(bytes: &[u8]) -> Option<CountKey> {
    let (&kind, rest) = bytes.split_first()?;
    let kind = match kind {
        byte if byte == RecordKind::Rating.byte() => RecordKind::Rating,
        byte if byte == RecordKind::Rectification.byte() => RecordKind::Rectification,
        _ => return None,
    };
    let nul = rest.iter().position(|byte| *byte == 0)?;
    let area_code = String::from_utf8(rest[..nul].to_vec()).ok()?;
    let codes = rest.get(nul + 1..nul + 3)?;
    let channel = match codes[0] {
        NO_CODE => None,
        index => Some(*Channel::ALL.get(usize::from(index))?),
    };
    let level = match codes[1] {
        NO_CODE => None,
        index => Some(*Level::ALL.get(usize::from(index))?),
    };
    Some(CountKey {
        kind,
        area_code,
        channel,
        level,
    })
}

fn refuse(reason: String) -> Reject {
    Reject::Domain(DomainError::Workflow {
        code: "uplink_state",
        message: reason,
    })
}

fn state(trees: &[TransactionalTree]) -> TxResult<UplinkState> {
    Ok((Reader::new(trees))
        .json::<UplinkState>(tree::UPLINK, STATE)?
        .unwrap_or_default())
}

fn in_flight_number(state: &UplinkState) -> Option<u64> {
    state.in_flight.as_ref().map(|flight| flight.batch.number)
}

/// Checks an uplink command and turns it into its event.
pub(super) fn decide(
    reader: &Reader<'_>,
    pii: &PiiKey,
    command: UplinkCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Decision, Reject> {
    let current = state(reader.trees).map_err(Reject::Store)?;
    let append = |actor: &str, change: UplinkChange| {
        Ok(Decision::Append {
            actor: actor.to_owned(),
            origin: None,
            event: Box::new(Event::Uplink { change }),
        })
    };
    match command {
        UplinkCommand::Prepare { mut batch, body } => {
            if let Some(number) = in_flight_number(&current) {
                return Err(refuse(format!(
                    "batch {number} is still waiting for the province's answer"
                )));
            }
            if batch.after_seq != current.cursor || batch.through_seq < batch.after_seq {
                return Err(refuse(format!(
                    "the batch starts after entry {} but the uplink stands at entry {}",
                    batch.after_seq, current.cursor
                )));
            }
            let expected = current.last_number + 1;
            if batch.number != 0 && batch.number != expected {
                return Err(refuse(format!(
                    "batch number {} is not the next one ({expected})",
                    batch.number
                )));
            }
            if (batch.number == 0) != batch.records.is_empty() {
                return Err(refuse(
                    "a numbered batch carries records, and only a numbered batch does".into(),
                ));
            }
            batch.body_sha256 = hex::encode(Sha256::digest(&body));
            batch.body_bytes = u64::try_from(body.len()).unwrap_or(u64::MAX);
            batch.sealed_body = if body.is_empty() {
                String::new()
            } else {
                // Compressed before it is sealed (sealed bytes do not compress): a batch of the
                // provincial JSON shrinks about eightfold.
                let packed = zstd::block::compress(&body, 3).map_err(|error| {
                    refuse(format!("the uplink body does not compress: {error}"))
                })?;
                let scope = crate::pii::Scope {
                    class: crate::keyring::Class::UplinkBody,
                    subject: None,
                    at: now,
                };
                pii.seal_in(
                    BODY_FIELD,
                    &format!("{ZSTD_BODY}{}", BASE64.encode(packed)),
                    &scope,
                )
                .map_err(|error| Reject::Store(super::apply::abort(error)))?
            };
            append("uplink", UplinkChange::BatchPrepared { batch })
        }
        UplinkCommand::Attempted { number, attempt } => {
            if in_flight_number(&current) != Some(number) {
                return Err(refuse(format!("batch {number} is not in flight")));
            }
            append("uplink", UplinkChange::Attempted { number, attempt })
        }
        UplinkCommand::Acked {
            number,
            accepted,
            refused,
        } => {
            if in_flight_number(&current) != Some(number) {
                return Err(refuse(format!("batch {number} is not in flight")));
            }
            append(
                "uplink",
                UplinkChange::BatchAcked {
                    number,
                    accepted,
                    refused,
                },
            )
        }
        UplinkCommand::Resolve {
            actor,
            id,
            resolution,
            note,
        } => {
            let listed = reader.trees[tree::UPLINK]
                .get(refused_key(id))
                .map_err(|error| Reject::Store(error.into()))?;
            if listed.is_none() {
                return Err(Reject::Domain(DomainError::Unknown {
                    kind: "refused uplink record",
                    id: id.to_string(),
                }));
            }
            append(
                &actor,
                UplinkChange::RefusalResolved {
                    id,
                    resolution,
                    note,
                },
            )
        }
        UplinkCommand::Reconciled {
            actor,
            reconciliation,
        } => append(&actor, UplinkChange::Reconciled { reconciliation }),
    }
}

/// Projects what the uplink counts and keeps. Every event passes through here (a rating is
/// counted as held, the close of a bad review's order as a rectification held); the uplink's
/// own events change its state. Runs before the closed loop's projection, so an order is read
/// as it was before the change. The counts of records held are staged (written once per batch).
pub(super) fn project(trees: &Tx<'_>, entry: &LogEntry) -> TxResult<()> {
    match &entry.event {
        Event::RatingRecorded { rating } => {
            let record = RecordRef::rating(rating);
            trees.add_one(tree::UPLINK, count_key(b'h', record.day, &record.key()));
            Ok(())
        }
        Event::OrderChanged {
            order_id, change, ..
        } if closes(change) => {
            let Some(order) = (Reader::new(trees)).order(*order_id)? else {
                return Ok(());
            };
            if order.kind != OrderKind::BadReview {
                return Ok(());
            }
            let key = CountKey {
                kind: RecordKind::Rectification,
                area_code: order.area_code,
                channel: None,
                level: None,
            };
            trees.add_one(tree::UPLINK, count_key(b'h', local_date(entry.at), &key));
            Ok(())
        }
        Event::Uplink { change } => project_change(trees, entry, change),
        _ => Ok(()),
    }
}

/// The changes that close a bad review's order, making its rectification reportable.
fn closes(change: &OrderChange) -> bool {
    matches!(
        change,
        OrderChange::Close { .. } | OrderChange::DecideAppeal { upheld: true, .. }
    )
}

fn list_refused(
    trees: &[TransactionalTree],
    record: &RecordRef,
    batch: u64,
    reason: &str,
    at: DateTime<Utc>,
) -> TxResult<()> {
    trees[tree::UPLINK].remove(queued_key(record.id))?;
    put_json(
        &trees[tree::UPLINK],
        &refused_key(record.id),
        &RefusedRecord {
            record: record.clone(),
            batch,
            reason: reason.to_owned(),
            at,
        },
    )
}

fn project_change(
    trees: &[TransactionalTree],
    entry: &LogEntry,
    change: &UplinkChange,
) -> TxResult<()> {
    let uplink = &trees[tree::UPLINK];
    let reader = Reader::new(trees);
    let mut current = state(trees)?;
    match change {
        UplinkChange::BatchPrepared { batch } => {
            for not_sent in &batch.not_sent {
                list_refused(trees, &not_sent.record, 0, &not_sent.reason, entry.at)?;
            }
            if batch.number == 0 {
                current.cursor = batch.through_seq;
            } else {
                for record in &batch.records {
                    uplink.remove(queued_key(record.id))?;
                }
                current.last_number = batch.number;
                current.in_flight = Some(InFlight {
                    batch: (**batch).clone(),
                    prepared_at: entry.at,
                    attempts: 0,
                    last_attempt: None,
                });
                put_json(
                    uplink,
                    &batch_key(batch.number),
                    &BatchSummary {
                        number: batch.number,
                        after_seq: batch.after_seq,
                        through_seq: batch.through_seq,
                        records: batch.records.len() as u64,
                        body_sha256: batch.body_sha256.clone(),
                        body_bytes: batch.body_bytes,
                        adapter_version: batch.adapter_version.clone(),
                        prepared_at: entry.at,
                        attempts: Vec::new(),
                        failures: 0,
                        acked_at: None,
                        accepted: 0,
                        refused: 0,
                    },
                )?;
            }
        }
        UplinkChange::Attempted { number, attempt } => {
            if let Some(flight) = current.in_flight.as_mut() {
                flight.attempts += 1;
                flight.last_attempt = Some(attempt.clone());
            }
            if let Some(mut summary) =
                reader.json::<BatchSummary>(tree::UPLINK, &batch_key(*number))?
            {
                summary.failures += 1;
                if summary.attempts.len() < KEPT_ATTEMPTS {
                    summary.attempts.push(attempt.clone());
                }
                put_json(uplink, &batch_key(*number), &summary)?;
            }
        }
        UplinkChange::BatchAcked {
            number,
            accepted,
            refused,
        } => {
            let Some(flight) = current.in_flight.take() else {
                return Err(abort(StoreError::Batch(format!(
                    "uplink batch {number} was answered but is not in flight"
                ))));
            };
            let accepted: std::collections::HashSet<u64> = accepted.iter().copied().collect();
            let refused: std::collections::HashMap<u64, &str> = refused
                .iter()
                .map(|(id, reason)| (*id, reason.as_str()))
                .collect();
            let (mut taken, mut turned_down) = (0u64, 0u64);
            for record in &flight.batch.records {
                if accepted.contains(&record.id) {
                    taken += 1;
                    uplink.remove(refused_key(record.id))?;
                    increment(uplink, count_key(b'a', record.day, &record.key()))?;
                } else {
                    turned_down += 1;
                    let reason = refused.get(&record.id).copied().unwrap_or(UNANSWERED);
                    list_refused(trees, record, *number, reason, entry.at)?;
                }
            }
            current.cursor = flight.batch.through_seq;
            current.batches_acked += 1;
            current.records_accepted += taken;
            current.records_refused += turned_down;
            current.last_acked_at = Some(entry.at);
            if let Some(mut summary) =
                reader.json::<BatchSummary>(tree::UPLINK, &batch_key(*number))?
            {
                summary.acked_at = Some(entry.at);
                summary.accepted = taken;
                summary.refused = turned_down;
                put_json(uplink, &batch_key(*number), &summary)?;
            }
        }
        UplinkChange::RefusalResolved { id, resolution, .. } => {
            if let Some(listed) = reader.json::<RefusedRecord>(tree::UPLINK, &refused_key(*id))? {
                uplink.remove(refused_key(*id))?;
                if *resolution == Resolution::Requeue {
                    put_json(uplink, &queued_key(*id), &listed.record)?;
                }
            }
            return Ok(());
        }
        UplinkChange::Reconciled { reconciliation } => {
            put_json(
                uplink,
                &reconciliation_key(reconciliation.day),
                reconciliation,
            )?;
            return Ok(());
        }
    }
    put_json(uplink, STATE, &current)
}

/// What one scan of the log found to report.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub records: Vec<OutboxRecord>,
    /// The last entry looked at: the batch settles the log through it.
    pub through_seq: u64,
}

/// Log entries read per round trip while scanning.
const SCAN_CHUNK: usize = 1024;

impl Store {
    pub fn uplink_state(&self) -> Result<UplinkState, StoreError> {
        Ok(self.json(tree::UPLINK, STATE)?.unwrap_or_default())
    }

    /// The in-flight batch and its request body, opened. Blocking.
    pub fn uplink_in_flight(&self) -> Result<Option<(InFlight, Vec<u8>)>, StoreError> {
        let Some(flight) = self.uplink_state()?.in_flight else {
            return Ok(None);
        };
        let opened = self
            .pii()
            .open(BODY_FIELD, &flight.batch.sealed_body)
            .map_err(|error| StoreError::Batch(format!("uplink body: {error}")))?;
        let body = match opened.strip_prefix(ZSTD_BODY) {
            Some(packed) => {
                let packed = BASE64
                    .decode(packed)
                    .map_err(|error| StoreError::Batch(format!("uplink body: {error}")))?;
                let capacity = usize::try_from(flight.batch.body_bytes).unwrap_or(usize::MAX);
                zstd::block::decompress(&packed, capacity)
                    .map_err(|error| StoreError::Batch(format!("uplink body: {error}")))?
            }
            // Sealed before bodies were compressed (schema v2).
            None => BASE64
                .decode(opened)
                .map_err(|error| StoreError::Batch(format!("uplink body: {error}")))?,
        };
        Ok(Some((flight, body)))
    }

    /// The records of the log after `after` to report, at most `max_records`, scanning at
    /// most `max_entries` entries. Stops before a gap in the sequence numbers (a batch being
    /// committed), so no record is ever skipped.
    pub fn uplink_scan(
        &self,
        after: u64,
        max_records: usize,
        max_entries: usize,
    ) -> Result<Scan, StoreError> {
        let mut scan = Scan {
            records: Vec::new(),
            through_seq: after,
        };
        let mut scanned = 0;
        while scan.records.len() < max_records && scanned < max_entries {
            let entries = self.read_after(scan.through_seq, SCAN_CHUNK)?;
            if entries.is_empty() {
                break;
            }
            for entry in entries {
                if entry.seq != scan.through_seq + 1 {
                    return Ok(scan);
                }
                if let Some(record) = self.record_of(&entry)? {
                    scan.records.push(record);
                }
                scan.through_seq = entry.seq;
                scanned += 1;
                if scan.records.len() >= max_records || scanned >= max_entries {
                    break;
                }
            }
        }
        Ok(scan)
    }

    /// The record with this platform id, for a replay: a rating, or the rectification of the
    /// order the entry `id` closed.
    pub fn uplink_record(&self, id: u64) -> Result<Option<OutboxRecord>, StoreError> {
        match self.log_entry(id)? {
            Some(entry) => self.record_of(&entry),
            None => Ok(None),
        }
    }

    fn record_of(&self, entry: &LogEntry) -> Result<Option<OutboxRecord>, StoreError> {
        match &entry.event {
            Event::RatingRecorded { rating } => {
                Ok(Some(OutboxRecord::Rating(Box::new(rating.clone()))))
            }
            Event::OrderChanged {
                order_id, change, ..
            } if closes(change) => {
                // A closed order never changes again, so reading it now reads it as closed.
                let Some(order) = self.order(*order_id)? else {
                    return Ok(None);
                };
                let Some(rating_id) = order.rating_id else {
                    return Ok(None);
                };
                let Some(rating) = self.rating(rating_id)? else {
                    return Ok(None);
                };
                Ok(
                    Rectification::of_closed_order(&order, &rating).map(|rectification| {
                        OutboxRecord::Rectification {
                            id: entry.seq,
                            rating_id,
                            rectification: Box::new(rectification),
                        }
                    }),
                )
            }
            _ => Ok(None),
        }
    }

    /// Records requeued for replay, in id order, at most `limit`.
    pub fn uplink_queue(&self, limit: usize) -> Result<Vec<RecordRef>, StoreError> {
        self.trees()?[tree::UPLINK]
            .scan_prefix(b"q")
            .take(limit)
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// Records refused or not sent, in id order.
    pub fn uplink_refused(&self) -> Result<Vec<RefusedRecord>, StoreError> {
        self.trees()?[tree::UPLINK]
            .scan_prefix(b"x")
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// The last `limit` batches, newest first.
    pub fn uplink_batches(&self, limit: usize) -> Result<Vec<BatchSummary>, StoreError> {
        self.trees()?[tree::UPLINK]
            .scan_prefix(b"b")
            .rev()
            .take(limit)
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    pub fn uplink_batch(&self, number: u64) -> Result<Option<BatchSummary>, StoreError> {
        self.json(tree::UPLINK, &batch_key(number))
    }

    /// A day's records held and accepted by count key, and those listed as refused.
    pub fn uplink_counts(&self, day: NaiveDate) -> Result<PlatformCounts, StoreError> {
        let mut counts = PlatformCounts::default();
        for (prefix, into) in [(b'h', &mut counts.held), (b'a', &mut counts.accepted)] {
            let start = count_day(prefix, day);
            for item in self.trees()?[tree::UPLINK].scan_prefix(&start) {
                let (key, value) = item?;
                if let Some(key) = parse_count_key(&key[start.len()..]) {
                    *into.entry(key).or_default() += keys::u64_value(&value);
                }
            }
        }
        for refused in self.uplink_refused()? {
            if refused.record.day == day {
                *counts.refused.entry(refused.record.key()).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// The day's last reconciliation.
    pub fn uplink_reconciliation(
        &self,
        day: NaiveDate,
    ) -> Result<Option<Reconciliation>, StoreError> {
        self.json(tree::UPLINK, &reconciliation_key(day))
    }

    /// The last `limit` days reconciled, newest first.
    pub fn uplink_reconciliations(&self, limit: usize) -> Result<Vec<Reconciliation>, StoreError> {
        self.trees()?[tree::UPLINK]
            .scan_prefix(b"r")
            .rev()
            .take(limit)
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_keys_round_trip_and_sort_by_day() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default();
        for key in [
            CountKey {
                kind: RecordKind::Rating,
                area_code: "410421".into(),
                channel: Some(Channel::SystemDefault),
                level: Some(Level::VeryDissatisfied),
            },
            CountKey {
                kind: RecordKind::Rectification,
                area_code: "410421001".into(),
                channel: None,
                level: None,
            },
        ] {
            let bytes = count_key(b'h', day, &key);
            assert_eq!(parse_count_key(&bytes[5..]), Some(key));
        }
        let next = day.succ_opt().unwrap_or_default();
        assert!(count_day(b'h', day) < count_day(b'h', next));
        assert_eq!(parse_count_key(b"?410421\0\x00\x00"), None);
        assert_eq!(parse_count_key(b"g410421"), None);
    }
}
