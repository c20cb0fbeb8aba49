//! `hcp migrate`: converts a store of an earlier schema into the current one.
//!
//! Every log entry is rewritten in the current format (see [`super::codec`]) under its own
//! sequence number, so rating ids, order ids (and the tracking links derived from them) and the
//! uplink's acknowledged ids stay what they were; the projections are rebuilt in the current
//! layout (v4: the rating and case indexes as [`super::postings`] chunks, the roll-up counters
//! packed per unit and day, the decisions index pointing into the log instead of copying each
//! decision). The steps:
//!
//! 1. the old chain is verified; a broken chain stops the migration before anything is written;
//! 2. the entries are written to a new store beside the old one, each linked to the one before
//!    by the hash of its new bytes;
//! 3. the projections are rebuilt from the new log and compared with the old ones, value by
//!    value (as JSON), and the indexes entry by entry whatever their layout: every query
//!    answers as before, or the migration stops and says where;
//! 4. the new chain is bound to the old: an audit entry records the old head (its seq and the
//!    hash of its bytes), so the old chain's end is part of what the new chain proves;
//! 5. the stores change places: the old one is kept as `store.v<old version>` until the
//!    operator removes it.
//!
//! Signed-in sessions and the key ring are copied as they are. A migration that was killed leaves a partial
//! `store.v<version>-partial` that the next run removes and starts again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::chain::{self, Verification};
use super::{
    Store, StoreError, StoreOptions, case_record, codec, counters, keys, open_db, postings, tree,
};
use crate::clock::Clock;
use crate::event::{AuditEntry, LogEntry, SCHEMA_VERSION};
use crate::pii::PiiKey;

/// The schema versions this build converts.
pub const MIGRATES_FROM: [u32; 2] = [2, 3];

/// Entries written between two flushes of the new log.
const CHUNK: usize = 4096;

/// Where a migration is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Checking the old chain: `done` of `total` entries.
    Verify,
    /// Writing the new log: `done` of `total` entries.
    Rewrite,
    /// Rebuilding the projections from the new log (no count until it is done).
    Rebuild,
    /// Comparing the projections: `done` of `total` trees.
    Compare,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Verify => "verifying the old chain",
            Phase::Rewrite => "writing the new log",
            Phase::Rebuild => "rebuilding projections",
            Phase::Compare => "comparing projections",
        }
    }
}

/// What a migration did.
#[derive(Debug, Clone)]
pub struct Migrated {
    pub from: u32,
    /// Log entries carried over (the audit entry of the migration comes after them).
    pub entries: u64,
    /// The old chain's head: hash of the last entry's bytes.
    pub old_head: String,
    /// Keys of the projections compared, all equal.
    pub compared: u64,
    /// Bytes of keys and values of the log, before and after.
    pub old_log_bytes: u64,
    pub new_log_bytes: u64,
    /// Files on disk of the whole store, before and after.
    pub old_disk: u64,
    pub new_disk: u64,
    /// Where the old store is kept.
    pub kept: PathBuf,
}

/// The schema version of the store in `dir` (which must hold one), without opening it for use.
pub fn schema_of(dir: &Path, options: &StoreOptions) -> Result<u32, StoreError> {
    schema_of_db(&open_db(dir, options)?)
}

/// Converts the store in `dir` (a folder of the data folder, e.g. `DATA/store`) in place: the
/// new store takes its name, the old one becomes `<dir>.v<old version>`. Blocking.
pub fn migrate(
    dir: &Path,
    pii: PiiKey,
    clock: Arc<dyn Clock>,
    options: StoreOptions,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<Migrated, StoreError> {
    let old = open_db(dir, &options)?;
    let from = schema_of_db(&old)?;
    if from == SCHEMA_VERSION {
        return Err(refused(format!(
            "{} is already at schema version {SCHEMA_VERSION}",
            dir.display()
        )));
    }
    if !MIGRATES_FROM.contains(&from) {
        return Err(StoreError::SchemaVersion {
            found: from,
            expected: SCHEMA_VERSION,
        });
    }
    let rewrite = Rewrite::new(
        dir,
        &format!("v{from}"),
        &format!("v{SCHEMA_VERSION}-partial"),
        "migration",
    )?;
    let old_log = old.open_tree(tree::NAMES[tree::LOG])?;
    let old_chain = old.open_tree(tree::NAMES[tree::CHAIN])?;
    let total = old_log
        .last()?
        .map(|(key, _)| super::keys::u64_value(&key))
        .unwrap_or(0);

    // 1. The old chain must hold.
    let verification = chain::verify(&old_log, &old_chain, &mut |done| {
        if done % 10_000 == 0 {
            progress(Phase::Verify, done, total);
        }
    })?;
    let entries = match verification {
        Verification::Intact { entries } => entries,
        Verification::Broken { seq, problem } => {
            return Err(refused(format!(
                "the v{from} chain is broken at entry {seq} ({problem}); nothing was migrated"
            )));
        }
    };
    progress(Phase::Verify, entries, total);
    let old_head = chain::head(&old_chain)?
        .map(|(_, hash)| hash)
        .unwrap_or_default();

    // 2. The new log, entry by entry, under the same sequence numbers.
    let partial = rewrite.start()?;
    let new = open_db(&partial, &options)?;
    new.insert(b"schema_version", &SCHEMA_VERSION.to_be_bytes())?;
    let new_log = new.open_tree(tree::NAMES[tree::LOG])?;
    let new_chain = new.open_tree(tree::NAMES[tree::CHAIN])?;
    let mut prev = String::new();
    let mut last = 0;
    let (mut old_log_bytes, mut new_log_bytes) = (0u64, 0u64);
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in old_log.iter() {
        let (key, value) = item?;
        let mut entry: LogEntry = codec::decode(&value)?;
        entry.prev_hash = prev;
        let bytes = codec::encode(&entry)?;
        prev = chain::hash(&bytes);
        last = entry.seq;
        old_log_bytes += (key.len() + value.len()) as u64;
        new_log_bytes += (key.len() + bytes.len()) as u64;
        batch.insert(&key, bytes);
        pending += 1;
        if pending == CHUNK {
            new_log.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
            progress(Phase::Rewrite, last, total);
        }
    }
    new_log.apply_batch(batch)?;
    new_chain.insert(chain::HEAD, chain::head_bytes(last, &prev)?)?;
    let old_sessions = old.open_tree("sessions")?;
    let new_sessions = new.open_tree("sessions")?;
    let (old_ring, new_ring) = (
        old.open_tree(super::KEY_RING_TREE)?,
        new.open_tree(super::KEY_RING_TREE)?,
    );
    for item in old_ring.iter() {
        let (key, value) = item?;
        new_ring.insert(key, value)?;
    }
    for item in old_sessions.iter() {
        let (key, value) = item?;
        new_sessions.insert(key, value)?;
    }
    new.flush()?;
    progress(Phase::Rewrite, last, total);
    drop((new_log, new_chain, new_sessions, new_ring, new));

    // 3. Projections rebuilt from the new log, compared with the old ones.
    progress(Phase::Rebuild, 0, 0);
    let store = Store::open(&partial, pii, clock, options.clone())?;
    store.rebuild()?;
    progress(Phase::Rebuild, entries, entries);
    let mut compared = 0;
    let projections =
        (0..tree::NAMES.len()).filter(|index| *index != tree::LOG && *index != tree::CHAIN);
    let trees = projections.clone().count() as u64;
    for (done, index) in projections.enumerate() {
        let (name, old_tree) = (tree::NAMES[index], old.open_tree(tree::NAMES[index])?);
        compared += match index {
            tree::RATING_INDEX | tree::CASE_INDEX => {
                compare_index(name, &old_tree, &store.trees()?[index], index)?
            }
            tree::DECISIONS => compare_decisions(name, &old_tree, &store)?,
            // Cases were JSON before their own format: compared as the cases they decode to.
            tree::CASES => in_step(
                name,
                pairs(&old_tree),
                pairs(&store.trees()?[index]),
                |key, old, new| {
                    if old != new
                        && case_record::decode(key, &old)? != case_record::decode(key, &new)?
                    {
                        return Err(differs(name, key, "has another value after the rebuild"));
                    }
                    Ok(1)
                },
            )?,
            // Schemas before 4 kept a key per counter and did not count the ratings stored:
            // the new counter must equal the old store's number of rated slots.
            tree::ROLLUP => {
                let stored = store.rating_count() as u64;
                let slots = old.open_tree(tree::NAMES[tree::RATING_SLOTS])?.len() as u64;
                if stored != slots {
                    return Err(differs(
                        name,
                        keys::RATINGS_STORED,
                        &format!("counts {stored} ratings where the old store rated {slots} slots"),
                    ));
                }
                compare_rollup(name, &old_tree, &store.trees()?[index])?
            }
            // Schemas before 4 kept an open order's index key without a value; the new value
            // summarises the order (its day and pending deadline), and the orders themselves
            // are compared value by value.
            tree::ORDER_INDEX => in_step(
                name,
                pairs(&old_tree),
                pairs(&store.trees()?[index]),
                |key, old, new| {
                    if old != new && !(key.first() == Some(&b'o') && old.is_empty()) {
                        return Err(differs(name, key, "has another value after the rebuild"));
                    }
                    Ok(1)
                },
            )?,
            _ => compare(name, &old_tree, &store.trees()?[index])?,
        };
        progress(Phase::Compare, done as u64 + 1, trees);
    }

    // 4. The new chain bound to the old one's head.
    store.submit_one(super::Command::Audit {
        entry: AuditEntry {
            actor: "hcp migrate".into(),
            action: "store_migrated".into(),
            target: format!("schema:{SCHEMA_VERSION}"),
            detail: format!(
                "from schema {from}: {entries} entries; the v{from} chain ended at entry {entries} with hash {old_head}"
            ),
        },
    })?;
    store.close()?;
    let new_disk = store.size_on_disk();
    drop(store);
    let old_disk = old.size_on_disk()?;
    drop((old_log, old_chain, old_sessions, old_ring, old));

    // 5. The stores change places.
    let kept = rewrite.finish(dir)?;
    Ok(Migrated {
        from,
        entries,
        old_head,
        compared,
        old_log_bytes,
        new_log_bytes,
        old_disk,
        new_disk,
        kept,
    })
}

/// Walks the old and the new side of a tree in step, both in key order: every key on both
/// sides, and each pair `same` (which answers how many entries it compared, or why they differ).
fn in_step<A, B>(
    name: &str,
    mut olds: impl Iterator<Item = Result<(Vec<u8>, A), StoreError>>,
    mut news: impl Iterator<Item = Result<(Vec<u8>, B), StoreError>>,
    mut same: impl FnMut(&[u8], A, B) -> Result<u64, StoreError>,
) -> Result<u64, StoreError> {
    let mut count = 0;
    loop {
        match (olds.next().transpose()?, news.next().transpose()?) {
            (None, None) => return Ok(count),
            (Some((key, _)), None) => {
                return Err(differs(name, &key, "is missing after the rebuild"));
            }
            (None, Some((key, _))) => return Err(differs(name, &key, "appeared in the rebuild")),
            (Some((old_key, old)), Some((new_key, new))) => {
                if old_key != new_key {
                    let (key, what) = if old_key < new_key {
                        (old_key, "is missing after the rebuild")
                    } else {
                        (new_key, "appeared in the rebuild")
                    };
                    return Err(differs(name, &key, what));
                }
                count += same(&old_key, old, new)?;
            }
        }
    }
}

/// A tree's keys and values, owned, for [`in_step`].
fn pairs(tree: &sled::Tree) -> impl Iterator<Item = Result<(Vec<u8>, sled::IVec), StoreError>> {
    tree.iter()
        .map(|item| Ok(item.map(|(key, value)| (key.to_vec(), value))?))
}

/// Every key of `old` in `new` with the same value (as JSON where the bytes differ), and no
/// more. Returns the keys compared.
fn compare(name: &str, old: &sled::Tree, new: &sled::Tree) -> Result<u64, StoreError> {
    in_step(name, pairs(old), pairs(new), |key, old, new| {
        if old != new && codec::json(&old).ok() != codec::json(&new).ok() {
            return Err(differs(name, key, "has another value after the rebuild"));
        }
        Ok(1)
    })
}

/// The entries of an index of schema 2 or 3 (a key per entry: `unit_day` and the rating id or
/// project number; a rating's level, channel and flags as the value) and of the current one
/// (posting chunks), compared as sets per unit and day, both read in key order. Returns the
/// entries compared.
fn compare_index(
    name: &str,
    old: &sled::Tree,
    new: &sled::Tree,
    index: usize,
) -> Result<u64, StoreError> {
    let old_entries = pairs(old).map(|item| {
        let (key, value) = item?;
        // `dim | unit \0 | day | suffix`: units never hold NUL.
        let unit_day_len = key
            .iter()
            .skip(1)
            .position(|byte| *byte == 0)
            .map(|at| at + 2 + 4)
            .filter(|len| *len <= key.len())
            .ok_or_else(|| differs(name, &key, "is not an index key of the old layout"))?;
        let (unit_day, suffix) = key.split_at(unit_day_len);
        let record = if index == tree::RATING_INDEX {
            let id = <[u8; 8]>::try_from(suffix).map(u64::from_be_bytes);
            match (id, value.as_ref()) {
                (Ok(id), [level, channel, flags]) => {
                    postings::rating_record(id, *level, *channel, *flags)
                }
                _ => return Err(differs(name, &key, "is not a rating index entry")),
            }
        } else {
            suffix.to_vec()
        };
        Ok((unit_day.to_vec(), vec![record]))
    });
    in_step(
        name,
        grouped(old_entries),
        grouped(postings::chunks(new)),
        |key, old, new| {
            if old != new {
                return Err(differs(name, key, "holds other entries after the rebuild"));
            }
            Ok(old.len() as u64)
        },
    )
}

/// The decisions index of schemas 2 and 3 (each decision copied, as JSON) against the current
/// one (each value pointing at the log entry that holds the decision): the same keys, and each
/// old copy equal to the decision the new pointer reaches. Returns the keys compared.
fn compare_decisions(name: &str, old: &sled::Tree, store: &Store) -> Result<u64, StoreError> {
    let new = &store.trees()?[tree::DECISIONS];
    in_step(name, pairs(old), pairs(new), |key, copy, pointer| {
        let copied: serde_json::Value = serde_json::from_slice(&codec::json(&copy)?)?;
        if copied != serde_json::to_value(store.decision_at(&pointer)?)? {
            return Err(differs(
                name,
                key,
                "points at another decision than the old store held",
            ));
        }
        Ok(1)
    })
}

/// The roll-up counters of schemas 2 and 3 (a key per counter: `unit_day | bucket | channel`,
/// the count as 8 bytes) against the current ones (packed per unit-day, see
/// [`super::counters`]), unit-day by unit-day; the count of ratings stored is checked apart.
/// Returns the counters compared.
fn compare_rollup(name: &str, old: &sled::Tree, new: &sled::Tree) -> Result<u64, StoreError> {
    let olds = pairs(old).map(|item| {
        let (key, value) = item?;
        let split = key.len().saturating_sub(2);
        let counter = counters::Counter {
            bucket: key.get(split).copied().unwrap_or_default(),
            channel: key.get(split + 1).copied().unwrap_or_default(),
            count: keys::u64_value(&value),
        };
        Ok((key.get(..split).unwrap_or_default().to_vec(), vec![counter]))
    });
    let news = pairs(new)
        .filter(|item| !matches!(item, Ok((key, _)) if key == keys::RATINGS_STORED))
        .map(|item| {
            let (key, value) = item?;
            Ok((key, counters::decode(&value)?))
        });
    in_step(name, grouped(olds), grouped(news), |key, old, new| {
        if old != new {
            return Err(differs(name, key, "counts otherwise after the rebuild"));
        }
        Ok(old.len() as u64)
    })
}

/// Consecutive `(unit_day, items)` of one unit-day merged into one set.
fn grouped<T: Ord>(
    items: impl Iterator<Item = Result<(Vec<u8>, Vec<T>), StoreError>>,
) -> impl Iterator<Item = Result<(Vec<u8>, BTreeSet<T>), StoreError>> {
    let mut items = items.peekable();
    std::iter::from_fn(move || {
        let (unit_day, records) = match items.next()? {
            Ok(item) => item,
            Err(error) => return Some(Err(error)),
        };
        let mut set: BTreeSet<T> = records.into_iter().collect();
        while let Some(Ok((next, _))) = items.peek() {
            if *next != unit_day {
                break;
            }
            if let Some(Ok((_, records))) = items.next() {
                set.extend(records);
            }
        }
        Some(Ok((unit_day, set)))
    })
}

fn differs(name: &str, key: &[u8], what: &str) -> StoreError {
    let shown = match std::str::from_utf8(key) {
        Ok(text) => text.to_string(),
        Err(_) => hex::encode(key),
    };
    refused(format!(
        "key {shown} of {name} {what}: the old store's projections do not match its log (run `hcp rebuild` with the release that wrote it, then migrate again); the old store is untouched"
    ))
}

fn refused(message: String) -> StoreError {
    StoreError::Migration(message)
}

fn io(error: std::io::Error) -> StoreError {
    StoreError::Sled(sled::Error::Io(error))
}

/// The folders of a rewrite of the store in `dir`: the new store is built in `partial` and
/// takes `dir`'s place, and the old one is kept as `kept` until the operator removes it.
struct Rewrite {
    kept: PathBuf,
    partial: PathBuf,
}

impl Rewrite {
    /// Refuses to start while an earlier rewrite's old store is still kept.
    fn new(dir: &Path, kept: &str, partial: &str, what: &str) -> Result<Rewrite, StoreError> {
        let rewrite = Rewrite {
            kept: sibling(dir, kept),
            partial: sibling(dir, partial),
        };
        if rewrite.kept.exists() {
            return Err(refused(format!(
                "{} exists: an earlier {what}'s old store is still kept; remove it (or move it away) first",
                rewrite.kept.display()
            )));
        }
        Ok(rewrite)
    }

    /// The folder to build the new store in, emptied of a killed run's remains.
    fn start(&self) -> Result<PathBuf, StoreError> {
        if self.partial.exists() {
            std::fs::remove_dir_all(&self.partial).map_err(io)?;
        }
        Ok(self.partial.clone())
    }

    /// The stores change places; returns where the old one is kept.
    fn finish(self, dir: &Path) -> Result<PathBuf, StoreError> {
        std::fs::rename(dir, &self.kept).map_err(io)?;
        std::fs::rename(&self.partial, dir).map_err(io)?;
        Ok(self.kept)
    }
}

/// `<dir>.<suffix>` beside `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

/// What a compaction did.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// Keys copied, over every tree.
    pub keys: u64,
    pub old_disk: u64,
    pub new_disk: u64,
    /// Where the store as it was is kept.
    pub kept: PathBuf,
}

/// `hcp store compact`: copies the store in `dir` key by key into a fresh folder, which leaves
/// behind sled's half-full pages and the garbage of rewritten ones, checks the copy (every
/// tree's keys and values, the hash chain) and swaps the folders, keeping the old store as
/// `<dir>.pre-compact` until the operator removes it. Run while the platform is stopped.
pub fn compact(
    dir: &Path,
    options: StoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Compacted, StoreError> {
    let rewrite = Rewrite::new(dir, "pre-compact", "compact-partial", "compaction")?;
    let old = open_db(dir, &options)?;
    let version = schema_of_db(&old)?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::SchemaVersion {
            found: version,
            expected: SCHEMA_VERSION,
        });
    }
    let partial = rewrite.start()?;
    let new = open_db(&partial, &options)?;
    let names = old.tree_names();
    let total = names.len() as u64;
    let mut keys: u64 = 0;
    for (done, name) in names.iter().enumerate() {
        let (from, to) = (old.open_tree(name)?, new.open_tree(name)?);
        let mut batch = sled::Batch::default();
        let mut pending: u64 = 0;
        for item in from.iter() {
            let (key, value) = item?;
            batch.insert(key, value);
            pending += 1;
            if pending == CHUNK as u64 {
                to.apply_batch(std::mem::take(&mut batch))?;
                keys += pending;
                pending = 0;
            }
        }
        to.apply_batch(batch)?;
        keys += pending;
        new.flush()?;
        // The copy holds exactly what the old tree holds.
        if !from.iter().map(Result::ok).eq(to.iter().map(Result::ok)) {
            return Err(refused(format!(
                "the copy of tree {} differs from the original; the store is untouched",
                String::from_utf8_lossy(name)
            )));
        }
        progress(done as u64 + 1, total);
    }
    let log = new.open_tree(tree::NAMES[tree::LOG])?;
    let chain_tree = new.open_tree(tree::NAMES[tree::CHAIN])?;
    if let Verification::Broken { seq, problem } = chain::verify(&log, &chain_tree, &mut |_| {})? {
        return Err(refused(format!(
            "the copy's chain is broken at entry {seq} ({problem}); the store is untouched"
        )));
    }
    let (old_disk, new_disk) = (old.size_on_disk()?, new.size_on_disk()?);
    drop((log, chain_tree, new, old));
    let kept = rewrite.finish(dir)?;
    Ok(Compacted {
        keys,
        old_disk,
        new_disk,
        kept,
    })
}

fn schema_of_db(db: &sled::Db) -> Result<u32, StoreError> {
    Ok(db
        .get(b"schema_version")?
        .and_then(|bytes| bytes.as_ref().try_into().ok().map(u32::from_be_bytes))
        .unwrap_or(0))
}
