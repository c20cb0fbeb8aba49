//! Byte layouts of the sled keys. Every key sorts the way its scans need: big-endian numbers,
//! NUL-terminated strings (ids never contain NUL; validation keeps control characters out).

use chrono::{Datelike, NaiveDate};

/// A dimension along which ratings are indexed and rolled up.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    /// A region and everything below it (市, 县区, 乡镇, 村).
    Region,
    Hall,
    Department,
    Window,
    Staff,
    /// A service item (taskCode).
    Item,
}

impl Dim {
    pub fn byte(self) -> u8 {
        match self {
            Dim::Region => 1,
            Dim::Hall => 2,
            Dim::Department => 3,
            Dim::Window => 4,
            Dim::Staff => 5,
            Dim::Item => 6,
        }
    }
}

/// Roll-up buckets: the five levels of first ratings, then counters that metrics need.
pub mod bucket {
    /// 0..=4: first ratings by level index.
    pub const SERVICES: u8 = 5;
    pub const REAL_NAME_BAD: u8 = 6;
    /// 10..=14: follow-up ratings (追评) by level index.
    pub const FOLLOW_UP_BASE: u8 = 10;
    /// 20..=24: first ratings made invalid by an upheld appeal, by level index. Assessment
    /// metrics subtract them; raw totals keep them.
    pub const INVALID_BASE: u8 = 20;
    /// Real-name 差评 made invalid by an upheld appeal (after the per-level buckets, which
    /// the roll-up reader matches as a range).
    pub const INVALID_REAL_NAME_BAD: u8 = 30;
    /// 40..: bad-review work orders, filed under the day their 差评 was received (a cohort):
    /// each counted once, when the fact first holds. See `closed_loop::count_facts`.
    pub const ORDERS: u8 = 40;
    pub const REAL_NAME_ORDERS: u8 = 41;
    pub const RECTIFIED: u8 = 42;
    pub const RECTIFIED_ON_TIME: u8 = 43;
    pub const REAL_NAME_RECTIFIED: u8 = 44;
    pub const REAL_NAME_RECTIFIED_ON_TIME: u8 = 45;
    pub const FED_BACK: u8 = 46;
    pub const CALLED_BACK: u8 = 47;
    pub const EVALUATED: u8 = 48;
    /// The evaluator rated the rectification 满意 or 基本满意.
    pub const SATISFIED: u8 = 49;
    pub const CLOSED: u8 = 50;
    pub const APPEAL_UPHELD: u8 = 51;
    pub const REAL_NAME_APPEAL_UPHELD: u8 = 52;
    /// Closed with a root cause that does not blame staff (policy, system, environment).
    pub const BLAMELESS: u8 = 53;
    /// Services have no channel.
    pub const NO_CHANNEL: u8 = 0xff;
}

pub fn day_number(date: NaiveDate) -> u32 {
    // Years before 0 never occur; clamp so the key stays well-formed anyway.
    let year = u32::try_from(date.year()).unwrap_or(0);
    year * 10_000 + date.month() * 100 + date.day()
}

pub fn date_of_day_number(day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::try_from(day / 10_000).ok()?,
        (day / 100) % 100,
        day % 100,
    )
}

/// `dim | unit \0` — the prefix of everything about one unit.
pub fn unit_prefix(dim: Dim, unit: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(unit.len() + 2);
    key.push(dim.byte());
    key.extend_from_slice(unit.as_bytes());
    key.push(0);
    key
}

/// `dim | unit \0 | day`: the key of a unit-day's roll-up counters (`store::counters`) and
/// the prefix of its index chunks (`store::postings`).
pub fn unit_day(dim: Dim, unit: &str, day: u32) -> Vec<u8> {
    let mut key = unit_prefix(dim, unit);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

/// The number of ratings stored (first and follow-up), kept in the roll-up tree, where it sorts
/// before every unit's counters: what `/metrics` and `hcp store stats` read without walking an
/// index.
pub const RATINGS_STORED: &[u8] = b"\0ratings";

/// `project_no \0 service_number assess_number` — one rating per service act and assess number.
pub fn rating_slot(project_no: &str, service_number: u8, assess_number: u8) -> Vec<u8> {
    let mut key = Vec::with_capacity(project_no.len() + 3);
    key.extend_from_slice(project_no.as_bytes());
    key.push(0);
    key.push(service_number);
    key.push(assess_number);
    key
}

/// An open service call in the `calls` tree: `0xff` ‖ its key (a project number is UTF-8,
/// which never holds `0xff`, so the index sorts after every call).
pub fn open_call(project_no: &str, service_number: u8) -> Vec<u8> {
    let mut key = vec![0xff];
    key.extend_from_slice(&rating_slot(project_no, service_number, 0));
    key
}

pub fn dedup(source: &str, event_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(source.len() + event_id.len() + 1);
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.extend_from_slice(event_id.as_bytes());
    key
}

pub fn child(parent: &str, child: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(parent.len() + child.len() + 1);
    key.extend_from_slice(parent.as_bytes());
    key.push(0);
    key.extend_from_slice(child.as_bytes());
    key
}

/// Files of a rules version: `f` ‖ version hash.
pub fn policy_files(version: &str) -> Vec<u8> {
    let mut key = vec![b'f'];
    key.extend_from_slice(version.as_bytes());
    key
}

/// One activation: `a` ‖ seq, so activations list in order and the last is the active one.
/// The last record of an adapter file in the policy-versions tree: `p` + its file name.
pub fn adapter_file(file: &str) -> Vec<u8> {
    let mut key = vec![b'p'];
    key.extend_from_slice(file.as_bytes());
    key
}

/// A calendar activation in the policy-versions tree: `c` + its sequence number.
pub fn calendar_activation(seq: u64) -> Vec<u8> {
    let mut key = vec![b'c'];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// A destruction of keys in the policy-versions tree: `k` + its sequence number.
pub fn key_destruction(seq: u64) -> Vec<u8> {
    let mut key = vec![b'k'];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub fn policy_activation(seq: u64) -> Vec<u8> {
    let mut key = vec![b'a'];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// A decision about a rating: rating id ‖ hook.
pub fn decision(rating_id: u64, hook: &str) -> Vec<u8> {
    let mut key = rating_id.to_be_bytes().to_vec();
    key.extend_from_slice(hook.as_bytes());
    key
}

pub fn u64_value(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|slice| <[u8; 8]>::try_from(slice).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Where a decision is in the log: the seq of the entry that holds it and its place among that
/// entry's decisions.
pub fn decision_pointer(seq: u64, index: usize) -> [u8; 10] {
    let mut value = [0; 10];
    value[..8].copy_from_slice(&seq.to_be_bytes());
    value[8..].copy_from_slice(&u16::try_from(index).unwrap_or(u16::MAX).to_be_bytes());
    value
}

/// The seq and place of a [`decision_pointer`].
pub fn parse_decision_pointer(value: &[u8]) -> Option<(u64, usize)> {
    let seq = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let index = u16::from_be_bytes(value.get(8..10)?.try_into().ok()?);
    (value.len() == 10).then_some((seq, usize::from(index)))
}

/// The exclusive upper bound of a prefix scan.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; prefix.len() + 1]
}

/// A decision: about a rating, rating id ‖ hook; about another subject, `0xff` ‖ subject ‖
/// NUL ‖ hook (rating ids never reach 2^56, so the two never meet).
pub fn decision_of(decision: &crate::event::PolicyDecision) -> Vec<u8> {
    if decision.subject.is_empty() {
        return self::decision(decision.rating_id, &decision.hook);
    }
    subject_decisions(&decision.subject)
        .into_iter()
        .chain(decision.hook.bytes())
        .collect()
}

/// The prefix of every decision about a subject.
pub fn subject_decisions(subject: &str) -> Vec<u8> {
    let mut key = vec![0xff];
    key.extend_from_slice(subject.as_bytes());
    key.push(0);
    key
}

/// Order index: an open order.
pub fn open_order(id: u64) -> Vec<u8> {
    let mut key = vec![b'o'];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// Order index: an order (open or closed) with phases counted on a provisional year or
/// waiting for a holiday table.
pub fn provisional_order(id: u64) -> Vec<u8> {
    let mut key = vec![b'p'];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// Order index: the order of a 差评.
pub fn order_by_rating(rating_id: u64) -> Vec<u8> {
    let mut key = vec![b'r'];
    key.extend_from_slice(&rating_id.to_be_bytes());
    key
}

/// Order index: the order of a tracking token's hash.
pub fn order_by_token(hash: &str) -> Vec<u8> {
    let mut key = vec![b't'];
    key.extend_from_slice(hash.as_bytes());
    key
}

/// A scheduled task: due instant (ms) ‖ action ‖ project NUL ‖ service number, so that a scan
/// up to "now" finds exactly the tasks due.
pub fn schedule(task: &crate::outreach::ScheduledTask) -> Vec<u8> {
    let millis = u64::try_from(task.at.timestamp_millis()).unwrap_or(0);
    let mut key = millis.to_be_bytes().to_vec();
    key.push(task.action.byte());
    key.extend_from_slice(task.project_no.as_bytes());
    key.push(0);
    key.push(task.service_number);
    key
}

/// The exclusive end of the schedule keys due at `at`.
pub fn schedule_until(at: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    millis.saturating_add(1).to_be_bytes().to_vec()
}

pub fn message(id: u64) -> Vec<u8> {
    let mut key = vec![b'm'];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// A message still to be delivered.
pub fn pending_message(id: u64) -> Vec<u8> {
    let mut key = vec![b'q'];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_sort_like_dates() {
        let a = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default();
        let b = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        assert!(day_number(a) < day_number(b));
        assert_eq!(date_of_day_number(day_number(a)), Some(a));
        assert!(
            unit_day(Dim::Region, "410402", day_number(a))
                < unit_day(Dim::Region, "410402", day_number(b))
        );
        // A unit id that is a prefix of another must not interleave with it.
        assert!(
            prefix_end(&unit_prefix(Dim::Region, "4104")) <= unit_prefix(Dim::Region, "410402")
        );
    }
}

/// What a source's activity counts: accepted ratings, service events, heartbeats; refused items.
pub mod activity {
    pub const RATING: u8 = 1;
    pub const SERVICE: u8 = 2;
    pub const HEARTBEAT: u8 = 3;
    pub const REFUSED: u8 = 4;
}

/// Source activity: `d` ‖ source ∅ ‖ day (yyyymmdd BE) ‖ kind → count.
pub fn source_day(source: &str, day: u32, kind: u8) -> Vec<u8> {
    let mut key = source_days(source);
    key.extend_from_slice(&day.to_be_bytes());
    key.push(kind);
    key
}

/// The prefix of a source's daily counts.
pub fn source_days(source: &str) -> Vec<u8> {
    let mut key = vec![b'd'];
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key
}

/// Source activity: `l` ‖ source ∅ ‖ kind → the last instant (ms since the epoch, BE) of it.
pub fn source_last(source: &str, kind: u8) -> Vec<u8> {
    let mut key = vec![b'l'];
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.push(kind);
    key
}

/// The payloads a source had refused and kept for replay, as a queue oldest first, so that past
/// its cap the oldest is found without a scan (a transaction cannot scan). In the
/// `source_activity` tree, beside the counts:
/// - `k` ‖ source → how many are kept (open);
/// - `x` ‖ source → how many were evicted, ever;
/// - `h` ‖ source, `t` ‖ source → the queue's first position and the next free one;
/// - `q` ‖ source ∅ ‖ position (BE) → the kept payload's seq (a replayed one stays, as a hole
///   the next eviction steps over);
/// - `o` ‖ seq (BE) → its source, while it is kept.
pub mod kept {
    pub fn count(source: &str) -> Vec<u8> {
        tagged(b'k', source)
    }

    pub fn evicted(source: &str) -> Vec<u8> {
        tagged(b'x', source)
    }

    pub fn head(source: &str) -> Vec<u8> {
        tagged(b'h', source)
    }

    pub fn tail(source: &str) -> Vec<u8> {
        tagged(b't', source)
    }

    pub fn queued(source: &str, position: u64) -> Vec<u8> {
        let mut key = tagged(b'q', source);
        key.push(0);
        key.extend_from_slice(&position.to_be_bytes());
        key
    }

    pub fn owner(seq: u64) -> Vec<u8> {
        let mut key = vec![b'o'];
        key.extend_from_slice(&seq.to_be_bytes());
        key
    }

    fn tagged(tag: u8, source: &str) -> Vec<u8> {
        let mut key = vec![tag];
        key.extend_from_slice(source.as_bytes());
        key
    }
}

/// `g` ‖ window: the current generation of the window's QR code.
pub fn window_qr_generation(window: &str) -> Vec<u8> {
    let mut key = vec![b'g'];
    key.extend_from_slice(window.as_bytes());
    key
}

/// `t` ‖ token hash: the window and generation a QR token opens.
pub fn window_qr_token(token_hash: &str) -> Vec<u8> {
    let mut key = vec![b't'];
    key.extend_from_slice(token_hash.as_bytes());
    key
}
