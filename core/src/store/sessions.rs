//! Signed-in sessions, kept beside the log rather than in it: a session is not a fact of the
//! record (a rebuild neither needs nor clears it), and opening one must not cost a group
//! commit. Ending a session is flushed before it returns, so a revoked token stays revoked
//! across a crash; opening and touching one are not (a crash at worst signs someone out).

use crate::auth::SessionRecord;

use super::{Store, StoreError};

impl Store {
    fn session_tree(&self) -> &sled::Tree {
        &self.inner.sessions
    }

    pub fn session(&self, key: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.session_tree()
            .get(key)?
            .map(|bytes| super::codec::decode(&bytes).map_err(StoreError::Decode))
            .transpose()
    }

    /// Stores a session (opened or touched). Not flushed.
    pub fn put_session(&self, key: &[u8; 32], record: &SessionRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::Decode)?;
        self.session_tree().insert(key, bytes)?;
        Ok(())
    }

    /// Ends the sessions whose record `end` picks, durably; how many ended.
    pub fn end_sessions(
        &self,
        mut end: impl FnMut(&[u8], &SessionRecord) -> bool,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for entry in self.session_tree().iter() {
            let (key, bytes) = entry?;
            // A record that does not decode is ended too: it can sign nobody in.
            let over = super::codec::decode::<SessionRecord>(&bytes)
                .map(|record| end(&key, &record))
                .unwrap_or(true);
            if over {
                self.session_tree().remove(key)?;
                ended += 1;
            }
        }
        if ended > 0 {
            self.session_tree().flush()?;
        }
        Ok(ended)
    }

    /// Ends one session, durably; whether it was open.
    pub fn end_session(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        let removed = self.session_tree().remove(key)?.is_some();
        if removed {
            self.session_tree().flush()?;
        }
        Ok(removed)
    }

    /// Every session with its key, for housekeeping (few: one or two per user).
    pub fn sessions(&self) -> Result<Vec<(Vec<u8>, SessionRecord)>, StoreError> {
        self.session_tree()
            .iter()
            .map(|entry| {
                let (key, bytes) = entry?;
                let record = super::codec::decode(&bytes).map_err(StoreError::Decode)?;
                Ok((key.to_vec(), record))
            })
            .collect()
    }
}
