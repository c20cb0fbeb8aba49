//! Signed-in sessions, kept beside the log rather than in it: a session is not a fact of the
//! record (a rebuild neither needs nor clears it), and opening one must not cost a group
//! commit. Ending a session is flushed before it returns, so a revoked token stays revoked
//! across a crash; opening and touching one are not (a crash at worst signs someone out).
//!
//! A single node keeps them in a tree of its store; the nodes of a shared partition keep them
//! in the partition's [`SharedState`], so a session opened on one node is good on every node
//! and a sign-out on one ends it on all.

use std::sync::Arc;

use crate::auth::SessionRecord;

use super::{JournalError, SharedState, Store, StoreError};

/// Where a platform keeps its sessions, under the digest of their tokens. Blocking.
pub trait SessionBook: Send + Sync {
    fn session(&self, key: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError>;

    /// Stores a session (opened or touched).
    fn put_session(&self, key: &[u8; 32], record: &SessionRecord) -> Result<(), StoreError>;

    /// Ends the sessions whose record `end` picks (and those that do not decode); how many.
    fn end_sessions(
        &self,
        end: &mut dyn FnMut(&[u8], &SessionRecord) -> bool,
    ) -> Result<usize, StoreError>;

    /// Ends one session; whether it was open.
    fn end_session(&self, key: &[u8; 32]) -> Result<bool, StoreError>;

    /// Every session with its key (few: one or two per user).
    fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>, StoreError>;
}

impl SessionBook for Store {
    fn session(&self, key: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        Store::session(self, key)
    }

    fn put_session(&self, key: &[u8; 32], record: &SessionRecord) -> Result<(), StoreError> {
        Store::put_session(self, key, record)
    }

    fn end_sessions(
        &self,
        end: &mut dyn FnMut(&[u8], &SessionRecord) -> bool,
    ) -> Result<usize, StoreError> {
        Store::end_sessions(self, end)
    }

    fn end_session(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        Store::end_session(self, key)
    }

    fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>, StoreError> {
        Store::sessions(self)
    }
}

/// The sessions of a shared partition, in its [`SharedState`] under `session.<hex digest>`.
pub struct SharedSessions {
    state: Arc<dyn SharedState>,
}

/// A session's key in the shared state, with its record (`None`: it does not decode).
type SharedEntry = (Vec<u8>, Option<SessionRecord>);

/// What a session's key begins with in the shared state.
const SESSION_PREFIX: &str = "session.";

impl SharedSessions {
    pub fn new(state: Arc<dyn SharedState>) -> SharedSessions {
        SharedSessions { state }
    }

    fn key(key: &[u8]) -> String {
        format!("{SESSION_PREFIX}{}", hex::encode(key))
    }

    fn decode(bytes: &[u8]) -> Result<SessionRecord, StoreError> {
        serde_json::from_slice(bytes).map_err(StoreError::Decode)
    }
}

fn shared(error: JournalError) -> StoreError {
    StoreError::Journal(error)
}

impl SessionBook for SharedSessions {
    fn session(&self, key: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.state
            .get(&SharedSessions::key(key))
            .map_err(shared)?
            .map(|(bytes, _)| SharedSessions::decode(&bytes))
            .transpose()
    }

    fn put_session(&self, key: &[u8; 32], record: &SessionRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::Decode)?;
        self.state
            .put(&SharedSessions::key(key), &bytes)
            .map_err(shared)?;
        Ok(())
    }

    fn end_sessions(
        &self,
        end: &mut dyn FnMut(&[u8], &SessionRecord) -> bool,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for (key, record) in self.entries()? {
            let over = match &record {
                Some(record) => end(&key, record),
                None => true,
            };
            if over
                && self
                    .state
                    .remove(&SharedSessions::key(&key))
                    .map_err(shared)?
            {
                ended += 1;
            }
        }
        Ok(ended)
    }

    fn end_session(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        self.state.remove(&SharedSessions::key(key)).map_err(shared)
    }

    fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>, StoreError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter_map(|(key, record)| record.map(|record| (key, record)))
            .collect())
    }
}

impl SharedSessions {
    /// Every session's key with its record (`None`: it does not decode).
    fn entries(&self) -> Result<Vec<SharedEntry>, StoreError> {
        let mut entries = Vec::new();
        for name in self.state.keys(SESSION_PREFIX).map_err(shared)? {
            let Some(key) = name
                .strip_prefix(SESSION_PREFIX)
                .and_then(|hex| hex::decode(hex).ok())
            else {
                continue;
            };
            // Gone since it was listed (ended on another node): nothing to do.
            let Some((bytes, _)) = self.state.get(&name).map_err(shared)? else {
                continue;
            };
            entries.push((key, SharedSessions::decode(&bytes).ok()));
        }
        Ok(entries)
    }
}

impl Store {
    fn session_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.handles()?.sessions.clone())
    }

    pub fn session(&self, key: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.session_tree()?
            .get(key)?
            .map(|bytes| super::codec::decode(&bytes).map_err(StoreError::Decode))
            .transpose()
    }

    /// Stores a session (opened or touched). Not flushed.
    pub fn put_session(&self, key: &[u8; 32], record: &SessionRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::Decode)?;
        self.session_tree()?.insert(key, bytes)?;
        Ok(())
    }

    /// Ends the sessions whose record `end` picks, durably; how many ended.
    pub fn end_sessions(
        &self,
        mut end: impl FnMut(&[u8], &SessionRecord) -> bool,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for entry in self.session_tree()?.iter() {
            let (key, bytes) = entry?;
            // A record that does not decode is ended too: it can sign nobody in.
            let over = super::codec::decode::<SessionRecord>(&bytes)
                .map(|record| end(&key, &record))
                .unwrap_or(true);
            if over {
                self.session_tree()?.remove(key)?;
                ended += 1;
            }
        }
        if ended > 0 {
            self.session_tree()?.flush()?;
        }
        Ok(ended)
    }

    /// Ends one session, durably; whether it was open.
    pub fn end_session(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        let removed = self.session_tree()?.remove(key)?.is_some();
        if removed {
            self.session_tree()?.flush()?;
        }
        Ok(removed)
    }

    /// Every session with its key, for housekeeping (few: one or two per user).
    pub fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>, StoreError> {
        self.session_tree()?
            .iter()
            .map(|entry| {
                let (key, bytes) = entry?;
                let record = super::codec::decode(&bytes).map_err(StoreError::Decode)?;
                Ok((key.to_vec(), record))
            })
            .collect()
    }
}
