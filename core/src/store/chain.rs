//! The log as a hash chain: every entry records the sha256 of the previous entry's stored
//! bytes, and the head (last seq and the hash of its bytes) is kept beside the log, written in
//! the same transaction. A changed, removed or appended-behind-our-back entry breaks the chain,
//! and `verify` names where.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::TransactionalTree;

use super::apply::{TxResult, abort};
use super::{Store, StoreError, keys, tree};
use crate::event::LogEntry;

pub(super) const HEAD: &[u8] = b"head";

pub(super) fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// Appends entries to the log inside a transaction, linking each to the one before; the head
/// is written once, by [`Appender::finish`], when the transaction's last entry is appended.
pub(super) struct Appender {
    prev: String,
    first: Option<u64>,
    last: Option<u64>,
    /// The stored bytes of the entries appended, kept for a journal.
    written: Option<Vec<Vec<u8>>>,
}

impl Appender {
    pub fn new(prev: String) -> Appender {
        Appender {
            prev,
            first: None,
            last: None,
            written: None,
        }
    }

    /// An appender that also keeps the stored bytes of what it appends ([`Appender::written`]).
    pub fn keeping(prev: String) -> Appender {
        Appender {
            written: Some(Vec::new()),
            ..Appender::new(prev)
        }
    }

    /// The first sequence number appended and the stored bytes of every entry, when kept.
    pub fn written(&self) -> Option<(u64, &[Vec<u8>])> {
        Some((self.first?, self.written.as_deref()?))
    }

    /// The hash the next entry must record as `prev_hash`.
    pub fn prev(&self) -> &str {
        &self.prev
    }

    pub fn append(&mut self, trees: &[TransactionalTree], entry: &LogEntry) -> TxResult<()> {
        let bytes = super::codec::encode(entry).map_err(|error| {
            sled::transaction::ConflictableTransactionError::Abort(error.into())
        })?;
        self.prev = hash(&bytes);
        self.first.get_or_insert(entry.seq);
        self.last = Some(entry.seq);
        if let Some(written) = &mut self.written {
            written.push(bytes.clone());
        }
        trees[tree::LOG].insert(&entry.seq.to_be_bytes(), bytes)?;
        Ok(())
    }

    /// Records the head (the last entry appended and its hash) in the same transaction.
    pub fn finish(&self, trees: &[TransactionalTree]) -> TxResult<()> {
        if let Some(seq) = self.last {
            let head = head_bytes(seq, &self.prev).map_err(abort)?;
            trees[tree::CHAIN].insert(HEAD, head)?;
        }
        Ok(())
    }
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verification {
    /// Every entry links to the one before and the last matches the recorded head.
    Intact { entries: u64 },
    /// The first place the chain does not hold, in words an auditor can act on.
    Broken { seq: u64, problem: String },
}

impl Store {
    /// Walks the whole log and checks every link. Blocking; reads every entry once.
    pub fn verify_chain(&self) -> Result<Verification, StoreError> {
        verify(
            &self.trees()?[tree::LOG],
            &self.trees()?[tree::CHAIN],
            &mut |_| {},
        )
    }
}

/// The stored bytes of a chain head.
pub(super) fn head_bytes(seq: u64, hash: &str) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(&Head {
        seq,
        hash: hash.to_string(),
    })?)
}

/// The recorded head of a chain: its last seq and the hash of that entry's bytes.
pub(super) fn head(chain: &sled::Tree) -> Result<Option<(u64, String)>, StoreError> {
    Ok(match chain.get(HEAD)? {
        Some(bytes) => {
            let head: Head = super::codec::decode(&bytes)?;
            Some((head.seq, head.hash))
        }
        None => None,
    })
}

/// Checks every link of `log` against the head recorded in `chain`, telling `progress` each
/// entry checked.
pub(super) fn verify(
    log: &sled::Tree,
    chain: &sled::Tree,
    progress: &mut dyn FnMut(u64),
) -> Result<Verification, StoreError> {
    {
        let mut prev_hash = String::new();
        let mut count = 0;
        for (expected_seq, item) in (1u64..).zip(log.iter()) {
            let (key, bytes) = item?;
            let seq = keys::u64_value(&key);
            if seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    problem: format!("entry {expected_seq} is missing (the next entry is {seq})"),
                });
            }
            let entry: LogEntry = match super::codec::decode(&bytes) {
                Ok(entry) => entry,
                Err(error) => {
                    return Ok(Verification::Broken {
                        seq,
                        problem: format!("entry {seq} is not a log entry any more: {error}"),
                    });
                }
            };
            if entry.seq != seq {
                return Ok(Verification::Broken {
                    seq,
                    problem: format!("entry {seq} claims to be entry {}", entry.seq),
                });
            }
            if entry.prev_hash != prev_hash {
                return Ok(Verification::Broken {
                    seq: seq.saturating_sub(1),
                    problem: format!(
                        "entry {} was changed: its bytes hash to {prev_hash}, but entry {seq} recorded {}",
                        seq.saturating_sub(1),
                        entry.prev_hash
                    ),
                });
            }
            prev_hash = hash(&bytes);
            count = expected_seq;
            progress(count);
        }
        let head: Option<Head> = match chain.get(HEAD)? {
            Some(bytes) => Some(super::codec::decode(&bytes)?),
            None => None,
        };
        match head {
            None if count == 0 => Ok(Verification::Intact { entries: 0 }),
            None => Ok(Verification::Broken {
                seq: count,
                problem: "the chain head is missing".into(),
            }),
            Some(head) if head.seq != count => Ok(Verification::Broken {
                seq: head.seq.max(count),
                problem: format!(
                    "the log ends at entry {count}, the chain head says {}",
                    head.seq
                ),
            }),
            Some(head) if head.hash != prev_hash => Ok(Verification::Broken {
                seq: count,
                problem: format!(
                    "entry {count} was changed: its bytes hash to {prev_hash}, the chain head recorded {}",
                    head.hash
                ),
            }),
            Some(_) => Ok(Verification::Intact { entries: count }),
        }
    }
}
