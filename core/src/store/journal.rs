//! A shared, replicated log beside the local one (the province deployment; see the
//! `hcp-cluster` crate for the JetStream implementation).
//!
//! With a journal, the committer appends each batch's log entries to it before the batch
//! commits locally: the stored bytes of every entry, numbered from the batch's first sequence
//! number, after the journal position the store last saw. The journal refuses the append when
//! another node appended to the partition in between; the committer then catches up (projects
//! the other node's entries exactly as a rebuild would) and decides the batch again. A batch is
//! acknowledged only once the journal has it, so a node lost with its disk loses nothing that
//! was acknowledged: a new node catches up from the journal and converges to the same state,
//! byte for byte.
//!
//! The position is kept in the chain tree, written in the same transaction as the entries, so
//! the local log, its projections and the position never disagree.

use sled::Transactional as _;

use super::apply;
use super::chain;
use super::staged;
use super::{StoreError, Trees, codec, keys, tree};
use crate::event::LogEntry;

/// Key of the journal position in the chain tree.
pub(super) const POSITION: &[u8] = b"journal";

/// A replicated log the committer writes to before it commits. Blocking: it is called on the
/// committer thread.
pub trait Journal: Send + Sync {
    /// What and where it is, for messages ("JetStream stream HCP_LOG, partition 410400").
    fn describe(&self) -> String;

    /// Appends `entries` (stored bytes, numbered from `first_seq`) if the journal's last block
    /// is still at position `after` (0: none). Returns the new block's position. An append
    /// retried with the same entries after a lost answer must not store them twice.
    fn append(&self, first_seq: u64, entries: &[Vec<u8>], after: u64) -> Result<u64, JournalError>;

    /// Up to `limit` blocks after position `after`, in order.
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<JournalBlock>, JournalError>;
}

/// Entries appended together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalBlock {
    pub position: u64,
    pub first_seq: u64,
    pub entries: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JournalError {
    /// Another node appended first: catch up and decide again.
    #[error("another node appended to the shared log first ({0})")]
    Conflict(String),
    /// No answer from the journal's quorum: retry later.
    #[error("the shared log is unavailable: {0}")]
    Unavailable(String),
    #[error("the shared log refused the batch: {0}")]
    Refused(String),
}

/// Where the local store stands against its journal.
#[derive(Debug, Clone)]
pub(super) struct Cursor {
    pub next_seq: u64,
    pub last_hash: String,
    pub position: u64,
}

/// The journal position recorded in the chain tree (0: none yet).
pub(super) fn position(trees: &Trees) -> Result<u64, StoreError> {
    Ok(trees[tree::CHAIN]
        .get(POSITION)?
        .map_or(0, |bytes| keys::u64_value(&bytes)))
}

/// Projects the journal's blocks after the cursor, a block per transaction, exactly as a
/// rebuild projects the log. Returns the entries applied.
pub(super) fn catch_up(
    db: &sled::Db,
    trees: &Trees,
    journal: &dyn Journal,
    cursor: &mut Cursor,
    ring: Option<&crate::keyring::KeyRing>,
) -> Result<u64, StoreError> {
    let mut applied = 0;
    loop {
        let blocks = journal.read_after(cursor.position, 64)?;
        if blocks.is_empty() {
            return Ok(applied);
        }
        for block in blocks {
            applied += apply_block(trees, journal, cursor, &block, ring)?;
        }
        db.flush()?;
    }
}

fn diverged(journal: &dyn Journal, problem: String) -> StoreError {
    StoreError::Diverged(format!("{}: {problem}", journal.describe()))
}

fn apply_block(
    trees: &Trees,
    journal: &dyn Journal,
    cursor: &mut Cursor,
    block: &JournalBlock,
    ring: Option<&crate::keyring::KeyRing>,
) -> Result<u64, StoreError> {
    if block.first_seq != cursor.next_seq {
        return Err(diverged(
            journal,
            format!(
                "its block at position {} starts at entry {}, this store's log continues at {}",
                block.position, block.first_seq, cursor.next_seq
            ),
        ));
    }
    // Every entry checked against the chain before anything is written.
    let mut entries = Vec::with_capacity(block.entries.len());
    let mut prev = cursor.last_hash.clone();
    for (offset, bytes) in block.entries.iter().enumerate() {
        let seq = block.first_seq + offset as u64;
        let entry: LogEntry = codec::decode(bytes)?;
        if entry.seq != seq || entry.prev_hash != prev {
            return Err(diverged(
                journal,
                format!("entry {seq} does not continue this store's hash chain"),
            ));
        }
        prev = chain::hash(bytes);
        entries.push(entry);
    }
    let last_seq = block.first_seq + entries.len() as u64 - 1;
    trees
        .as_slice()
        .transaction(|tx| {
            let staged = staged::Tx::new(tx);
            for (entry, bytes) in entries.iter().zip(&block.entries) {
                tx[tree::LOG].insert(&entry.seq.to_be_bytes(), bytes.as_slice())?;
                apply::project(&staged, entry)?;
            }
            staged.finish()?;
            let head = chain::head_bytes(last_seq, &prev).map_err(apply::abort)?;
            tx[tree::CHAIN].insert(chain::HEAD, head)?;
            tx[tree::CHAIN].insert(POSITION, &block.position.to_be_bytes())?;
            Ok(())
        })
        .map_err(|error| match error {
            sled::transaction::TransactionError::Abort(error) => error,
            sled::transaction::TransactionError::Storage(error) => StoreError::Sled(error),
        })?;
    cursor.next_seq = last_seq + 1;
    cursor.last_hash = prev;
    cursor.position = block.position;
    // Keys another node destroyed leave this node's cache now, not when the cache expires.
    if let Some(ring) = ring {
        for entry in &entries {
            if let crate::event::Event::KeysDestroyed { destruction } = &entry.event {
                ring.forget(&destruction.keys);
            }
        }
    }
    Ok(entries.len() as u64)
}
