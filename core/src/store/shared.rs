//! Small records every node of a partition reads and writes beside the log (the province
//! deployment): signed-in sessions, sign-in failures, phone confirmation codes. They are not
//! facts of the record (a rebuild neither needs nor restores them) but a client sent to any
//! node must find them there. `hcp-cluster` keeps them in a replicated JetStream key-value
//! bucket; a single node keeps them in its own store and memory.

use super::JournalError;

/// A replicated map of small records with compare-and-swap. Blocking.
pub trait SharedState: Send + Sync {
    /// The record under `key` and its revision.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>, JournalError>;

    /// Writes `value` under `key` whatever is there; its new revision.
    fn put(&self, key: &str, value: &[u8]) -> Result<u64, JournalError>;

    /// Writes `value` under `key` if the record is still at `revision` (0: there is none);
    /// `None` when another node wrote first.
    fn swap(&self, key: &str, value: &[u8], revision: u64) -> Result<Option<u64>, JournalError>;

    /// Removes the record under `key`; whether there was one.
    fn remove(&self, key: &str) -> Result<bool, JournalError>;

    /// The keys that begin with `prefix`.
    fn keys(&self, prefix: &str) -> Result<Vec<String>, JournalError>;
}

impl std::fmt::Debug for dyn SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedState")
    }
}
