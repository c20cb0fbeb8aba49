//! Posting chunks: the entries of an index under one `dim | unit | day` packed into a few
//! values instead of one sled key each.
//!
//! sled pays for every key far more than its bytes (measured: seven one-key-per-rating index
//! entries cost about 2.6 KB of disk per rating, against 1.1 KB as chunks of 64, and the
//! chunks are written 2.4× faster). A unit-day's entries go to its *open* chunk until it holds
//! [`CHUNK`] of them; then the chunk is *sealed* under its ordinal and a new open chunk starts.
//!
//! Keys: `unit_day | ordinal` (8 bytes big-endian) for a sealed chunk and `unit_day | ff×8` for
//! the open one, so a unit-day's chunks sort oldest first and the open one last. Values: the
//! number of chunks sealed before (a varint), then the records, each a varint length and its
//! bytes. An entry's *position* in its day, `ordinal × CHUNK + index`, orders it among the
//! day's entries and is what a page's cursor records.
//!
//! The layout depends only on the order of the appends, never on how they were batched, so a
//! rebuild writes the same bytes.

use sled::transaction::TransactionalTree;

use super::StoreError;
use super::apply::TxResult;
use super::keys::{self, Dim};

/// Records in a chunk before it is sealed. Measured on an index of seven units per rating:
/// at 32, a chunk rewritten on every commit of a single rating stays small enough that its
/// rewrites cost less disk than keys per entry do, and large batches still pack well.
pub const CHUNK: usize = 32;

const OPEN: [u8; 8] = [0xff; 8];

/// One entry found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub day: u32,
    /// Orders the entry among its day's entries; see the module's documentation.
    pub position: u64,
    pub record: Vec<u8>,
}

/// Appends each `(record, unique)` in order to the open chunk of `unit_day`, sealing it each
/// time it is full; a `unique` record already in the open chunk is not added again. Reads the
/// open chunk once and writes each chunk once: the same bytes as appending one by one.
pub(super) fn append_all(
    tree: &TransactionalTree,
    unit_day: &[u8],
    appends: &[(Vec<u8>, bool)],
) -> TxResult<()> {
    let open_key = [unit_day, &OPEN].concat();
    let stored = tree.get(&open_key)?;
    let (mut sealed, mut records) = match &stored {
        Some(value) => {
            decode(value).map_err(|error| super::apply::abort(StoreError::Damaged(error)))?
        }
        None => (0, Vec::new()),
    };
    let mut changed = false;
    for (record, unique) in appends {
        if *unique && records.contains(&record.as_slice()) {
            continue;
        }
        changed = true;
        records.push(record.as_slice());
        if records.len() == CHUNK {
            tree.insert(
                [unit_day, &sealed.to_be_bytes()].concat(),
                encode(sealed, &records),
            )?;
            sealed += 1;
            records.clear();
        }
    }
    if changed {
        tree.insert(open_key, encode(sealed, &records))?;
    }
    Ok(())
}

/// A chunk's value: the number of chunks sealed before it, then its records.
fn encode(sealed: u64, records: &[&[u8]]) -> Vec<u8> {
    let mut value =
        Vec::with_capacity(4 + records.iter().map(|record| record.len() + 2).sum::<usize>());
    put_varint(&mut value, sealed);
    for record in records {
        put_varint(&mut value, record.len() as u64);
        value.extend_from_slice(record);
    }
    value
}

/// The ordinal of the chunk at `key` (of length `unit_day_len + 8`) and its records.
fn chunk(key: &[u8], value: &[u8], unit_day_len: usize) -> Result<(u64, Vec<Vec<u8>>), String> {
    let suffix: [u8; 8] = key
        .get(unit_day_len..)
        .and_then(|suffix| suffix.try_into().ok())
        .ok_or_else(|| "a posting key without its chunk ordinal".to_string())?;
    let (sealed, records) = decode(value)?;
    let ordinal = if suffix == OPEN {
        sealed
    } else {
        u64::from_be_bytes(suffix)
    };
    Ok((ordinal, records.into_iter().map(<[u8]>::to_vec).collect()))
}

/// Calls `visit` with the entries of `dim`/`unit` on the days `from..=to`, newest first
/// (latest day, then latest position), skipping those at or after `before` (a day and a
/// position, from a cursor). Stops when `visit` answers false.
pub(super) fn scan_rev(
    tree: &sled::Tree,
    dim: Dim,
    unit: &str,
    from: u32,
    to: u32,
    before: Option<(u32, u64)>,
    visit: &mut dyn FnMut(Hit) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let start = keys::unit_day(dim, unit, from);
    let unit_day_len = start.len();
    let last_day = before.map_or(to, |(day, _)| day.min(to));
    let end = keys::prefix_end(&keys::unit_day(dim, unit, last_day));
    if start >= end {
        return Ok(());
    }
    for item in tree.range(start..end).rev() {
        let (key, value) = item?;
        let day = key
            .get(unit_day_len - 4..unit_day_len)
            .and_then(|day| day.try_into().ok())
            .map(u32::from_be_bytes)
            .unwrap_or_default();
        let (ordinal, records) = chunk(&key, &value, unit_day_len).map_err(StoreError::Damaged)?;
        for (index, record) in records.into_iter().enumerate().rev() {
            let position = ordinal * CHUNK as u64 + index as u64;
            if before.is_some_and(|cursor| (day, position) >= cursor) {
                continue;
            }
            if !visit(Hit {
                day,
                position,
                record,
            })? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One page of the entries of `dim`/`unit` on the days `from..=to`, newest first, starting
/// after `cursor` (one this function returned; another is ignored). `take` sees each entry and
/// answers whether the page is full. Returns the cursor of the next page when the page filled.
pub(super) fn page(
    tree: &sled::Tree,
    dim: Dim,
    unit: &str,
    from: u32,
    to: u32,
    cursor: Option<&str>,
    take: &mut dyn FnMut(&Hit) -> Result<bool, StoreError>,
) -> Result<Option<String>, StoreError> {
    let before = cursor.and_then(|cursor| parse_cursor(cursor, dim, unit));
    let mut next = None;
    scan_rev(tree, dim, unit, from, to, before, &mut |hit| {
        if take(&hit)? {
            next = Some(self::cursor(dim, unit, hit.day, hit.position));
            return Ok(false);
        }
        Ok(true)
    })?;
    Ok(next)
}

/// The chunks of a posting tree in key order, each as its `unit_day` and records: what the
/// index holds, whatever its chunking. For comparing an index with one laid out otherwise.
pub fn chunks(
    tree: &sled::Tree,
) -> impl Iterator<Item = Result<(Vec<u8>, Vec<Vec<u8>>), StoreError>> + '_ {
    tree.iter().map(|item| {
        let (key, value) = item?;
        let unit_day_len = key.len().saturating_sub(8);
        let (_, records) = chunk(&key, &value, unit_day_len).map_err(StoreError::Damaged)?;
        Ok((
            key.get(..unit_day_len).unwrap_or_default().to_vec(),
            records,
        ))
    })
}

/// A rating's posting: its id, then its level, channel and flags (bit 0: real name).
pub fn rating_record(id: u64, level: u8, channel: u8, flags: u8) -> Vec<u8> {
    let mut record = Vec::with_capacity(12);
    put_varint(&mut record, id);
    record.extend_from_slice(&[level, channel, flags]);
    record
}

/// The id, level, channel and flags of a rating's posting.
pub fn parse_rating_record(record: &[u8]) -> Option<(u64, u8, u8, u8)> {
    let mut at = 0;
    let id = get_varint(record, &mut at)?;
    match record.get(at..)? {
        [level, channel, flags] => Some((id, *level, *channel, *flags)),
        _ => None,
    }
}

/// The number of chunks sealed before, and the records of a chunk's value.
fn decode(value: &[u8]) -> Result<(u64, Vec<&[u8]>), String> {
    let mut at = 0;
    let sealed = get_varint(value, &mut at).ok_or("a posting chunk without its header")?;
    let mut records = Vec::new();
    while at < value.len() {
        let len = get_varint(value, &mut at).ok_or("a truncated posting chunk")?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|end| *end <= value.len())
            .ok_or("a truncated posting chunk")?;
        records.push(&value[at..end]);
        at = end;
    }
    Ok((sealed, records))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A page's cursor: where the last entry returned stands.
fn cursor(dim: Dim, unit: &str, day: u32, position: u64) -> String {
    let mut key = keys::unit_day(dim, unit, day);
    key.extend_from_slice(&position.to_be_bytes());
    hex::encode(key)
}

/// The day and position a cursor of `dim`/`unit` names; `None` for anything else.
fn parse_cursor(cursor: &str, dim: Dim, unit: &str) -> Option<(u32, u64)> {
    let bytes = hex::decode(cursor).ok()?;
    let prefix = keys::unit_prefix(dim, unit);
    let rest = bytes.strip_prefix(prefix.as_slice())?;
    let day = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let position = u64::from_be_bytes(rest.get(4..)?.try_into().ok()?);
    Some((day, position))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn appended(db: &sled::Db, records: &[Vec<u8>], unique: bool) -> sled::Tree {
        let tree = db.open_tree("postings").unwrap();
        let unit_day = keys::unit_day(Dim::Window, "W1", 20261206);
        for record in records {
            tree.transaction(|tx| append_all(tx, &unit_day, &[(record.clone(), unique)]))
                .unwrap();
        }
        tree
    }

    fn scanned(tree: &sled::Tree, before: Option<(u32, u64)>, limit: usize) -> Vec<Hit> {
        let mut hits = Vec::new();
        scan_rev(
            tree,
            Dim::Window,
            "W1",
            20261201,
            20261231,
            before,
            &mut |hit| {
                hits.push(hit);
                Ok(hits.len() < limit)
            },
        )
        .unwrap();
        hits
    }

    #[test]
    fn entries_come_back_newest_first_across_sealed_chunks_and_pages() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let records: Vec<Vec<u8>> = (1..=100).map(|id| rating_record(id, 0, 1, 0)).collect();
        let tree = appended(&db, &records, false);
        // 100 records: three sealed chunks of 32 and four in the open one.
        assert_eq!(tree.len(), 4);
        let all = scanned(&tree, None, usize::MAX);
        let ids: Vec<u64> = all
            .iter()
            .map(|hit| parse_rating_record(&hit.record).unwrap().0)
            .collect();
        assert_eq!(ids, (1..=100).rev().collect::<Vec<_>>());
        // A page stops after 30; the next starts right after it.
        let first = scanned(&tree, None, 30);
        let last = first.last().unwrap();
        let next = scanned(&tree, Some((last.day, last.position)), 30);
        assert_eq!(parse_rating_record(&next[0].record).unwrap().0, 70);
        let chunked: Vec<_> = chunks(&tree).map(Result::unwrap).collect();
        assert_eq!(
            chunked
                .iter()
                .map(|(_, records)| records.len())
                .sum::<usize>(),
            100
        );
    }

    #[test]
    fn the_layout_does_not_depend_on_batching() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let unit_day = keys::unit_day(Dim::Window, "W1", 20261206);
        for (unique, records) in [
            (
                false,
                (1..=70)
                    .map(|id| rating_record(id, 2, 3, 1))
                    .collect::<Vec<_>>(),
            ),
            (
                true,
                [1, 2, 1, 3, 2]
                    .map(|id| format!("P{id}").into_bytes())
                    .to_vec(),
            ),
        ] {
            let one_by_one = appended(&db, &records, unique);
            let appends: Vec<_> = records
                .iter()
                .map(|record| (record.clone(), unique))
                .collect();
            // All in one batch, and split in two batches across a sealed chunk.
            for split in [0, 40.min(appends.len())] {
                let batched = db.open_tree(format!("batched-{unique}-{split}")).unwrap();
                for part in [&appends[..split], &appends[split..]] {
                    batched
                        .transaction(|tx| append_all(tx, &unit_day, part))
                        .unwrap();
                }
                assert!(
                    one_by_one
                        .iter()
                        .map(Result::unwrap)
                        .eq(batched.iter().map(Result::unwrap))
                );
            }
            db.drop_tree("postings").unwrap();
        }
    }

    #[test]
    fn unique_records_are_kept_once_and_damage_is_an_error() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = appended(&db, &[b"P1".to_vec(), b"P2".to_vec(), b"P1".to_vec()], true);
        assert_eq!(scanned(&tree, None, usize::MAX).len(), 2);
        let (key, _) = tree.first().unwrap().unwrap();
        tree.insert(key, &[0u8, 9, b'x'][..]).unwrap();
        assert!(
            scan_rev(&tree, Dim::Window, "W1", 0, u32::MAX, None, &mut |_| Ok(
                true
            ))
            .is_err()
        );
    }

    #[test]
    fn cursors_name_their_unit_only() {
        let cursor = cursor(Dim::Staff, "S1", 20261206, 77);
        assert_eq!(
            parse_cursor(&cursor, Dim::Staff, "S1"),
            Some((20261206, 77))
        );
        assert_eq!(parse_cursor(&cursor, Dim::Staff, "S2"), None);
        assert_eq!(parse_cursor("zz", Dim::Staff, "S1"), None);
    }
}
