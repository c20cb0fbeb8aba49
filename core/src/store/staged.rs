//! The writes of a batch that only ever add: roll-up counters, posting-chunk appends and
//! running totals. Projections stage them here instead of reading and rewriting the same sled
//! value once per rating; [`Tx::finish`] writes each key once at the end of the batch's
//! transaction. Nothing in a transaction reads these values back (the queries read them after
//! commit), so staging them changes no decision, and since counters depend only on their sums
//! and chunks only on the order of their appends, a batch writes the same bytes as its
//! commands one by one would (a rebuild stays byte for byte).
//!
//! Measured on a 300k-rating import: the committer's projection phase fell from 16 to 10 µs
//! per command (seven posting chunks and seven counter values were read, decoded, re-encoded
//! and written per rating).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;

use sled::transaction::TransactionalTree;

use super::apply::{MasterCache, TxResult};
use super::counters::{self, Counter};
use super::keys::{self, Dim};
use super::postings;

/// The trees of a batch's transaction, what it staged and its master-data cache. Derefs to the
/// trees, so projection code reads and writes everything else as before.
pub(super) struct Tx<'a> {
    trees: &'a [TransactionalTree],
    staged: RefCell<Staged>,
    master: RefCell<MasterCache>,
}

/// A key of a tree of the batch's transaction: the tree's index and the key.
type TreeKey = (usize, Vec<u8>);

/// A record to append to a posting chunk, and whether it is kept once per open chunk.
type Append = (Vec<u8>, bool);

#[derive(Default)]
struct Staged {
    /// Counter deltas per unit-day key of the roll-up tree, sorted as the value keeps them.
    counters: HashMap<Vec<u8>, Vec<Counter>>,
    /// Posting appends per (tree, unit-day), in the order they were made.
    postings: HashMap<TreeKey, Vec<Append>>,
    /// Additions to big-endian u64 totals per (tree, key).
    totals: HashMap<TreeKey, u64>,
}

impl<'a> Tx<'a> {
    pub(super) fn new(trees: &'a [TransactionalTree]) -> Tx<'a> {
        Tx {
            trees,
            staged: RefCell::default(),
            master: RefCell::default(),
        }
    }

    /// The batch's master-data cache, for its [`Reader`](super::apply::Reader).
    pub(super) fn master(&self) -> &RefCell<MasterCache> {
        &self.master
    }

    /// Empties the master-data cache: a projection just wrote master data.
    pub(super) fn forget_master(&self) {
        *self.master.borrow_mut() = MasterCache::default();
    }

    /// Adds one to the roll-up counter `bucket`/`channel` of `dim`/`unit` on `day`.
    pub(super) fn count(&self, dim: Dim, unit: &str, day: u32, bucket: u8, channel: u8) {
        let mut staged = self.staged.borrow_mut();
        let deltas = staged
            .counters
            .entry(keys::unit_day(dim, unit, day))
            .or_default();
        counters::add(deltas, bucket, channel, 1);
    }

    /// Appends `record` to the posting chunks of `unit_day` in tree `which` (see
    /// [`postings::append`]).
    pub(super) fn post(&self, which: usize, unit_day: Vec<u8>, record: &[u8], unique: bool) {
        self.staged
            .borrow_mut()
            .postings
            .entry((which, unit_day))
            .or_default()
            .push((record.to_vec(), unique));
    }

    /// Adds one to the big-endian u64 total at `key` of tree `which`.
    pub(super) fn add_one(&self, which: usize, key: Vec<u8>) {
        *self
            .staged
            .borrow_mut()
            .totals
            .entry((which, key))
            .or_default() += 1;
    }

    /// Writes what was staged, each key once. Call it last in the transaction.
    pub(super) fn finish(self) -> TxResult<()> {
        let staged = self.staged.into_inner();
        let rollup = &self.trees[super::tree::ROLLUP];
        for (key, deltas) in staged.counters {
            counters::merge(rollup, key, &deltas)?;
        }
        for ((which, unit_day), appends) in staged.postings {
            postings::append_all(&self.trees[which], &unit_day, &appends)?;
        }
        for ((which, key), added) in staged.totals {
            let tree = &self.trees[which];
            let current = tree
                .get(&key)?
                .map(|bytes| keys::u64_value(&bytes))
                .unwrap_or(0);
            tree.insert(key, &(current + added).to_be_bytes())?;
        }
        Ok(())
    }
}

impl Deref for Tx<'_> {
    type Target = [TransactionalTree];

    fn deref(&self) -> &[TransactionalTree] {
        self.trees
    }
}
