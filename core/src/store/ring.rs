//! Where the key ring (see [`crate::keyring`]) keeps its wrapped keys: a tree of the store on a
//! single node, the cluster's key bucket on a shared partition.

use std::sync::Arc;

use crate::keyring::KeyStore;
use crate::pii::PiiError;

use super::SharedState;

fn ring_error(error: impl std::fmt::Display) -> PiiError {
    PiiError::Ring(error.to_string())
}

/// The ring of a single node: a tree of its store, let go while the store's database is opened
/// again after the disk refused a write.
pub struct LocalKeys(std::sync::RwLock<Option<sled::Tree>>);

impl LocalKeys {
    pub fn new(tree: sled::Tree) -> LocalKeys {
        LocalKeys(std::sync::RwLock::new(Some(tree)))
    }

    fn tree(&self) -> Result<sled::Tree, PiiError> {
        self.0
            .read()
            .ok()
            .and_then(|tree| tree.clone())
            .ok_or_else(|| ring_error("the store's database is being opened again"))
    }
}

impl KeyStore for LocalKeys {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, PiiError> {
        Ok(self
            .tree()?
            .get(id)
            .map_err(ring_error)?
            .map(|value| value.to_vec()))
    }

    fn create(&self, id: &str, wrapped: &[u8]) -> Result<Vec<u8>, PiiError> {
        // Not flushed here: the key is durable with the first commit that uses it (one sled
        // database, one flush), and a key whose value was never committed is harmless.
        match self
            .tree()?
            .compare_and_swap(id, None as Option<&[u8]>, Some(wrapped))
            .map_err(ring_error)?
        {
            Ok(()) => Ok(wrapped.to_vec()),
            Err(taken) => taken
                .current
                .map(|value| value.to_vec())
                .ok_or_else(|| ring_error("a key vanished while it was created")),
        }
    }

    fn remove(&self, id: &str) -> Result<bool, PiiError> {
        let tree = self.tree()?;
        let removed = tree.remove(id).map_err(ring_error)?.is_some();
        tree.flush().map_err(ring_error)?;
        Ok(removed)
    }

    fn ids(&self, prefix: &str) -> Result<Vec<String>, PiiError> {
        self.tree()?
            .scan_prefix(prefix)
            .keys()
            .map(|key| {
                key.map_err(ring_error)
                    .map(|key| String::from_utf8_lossy(&key).into_owned())
            })
            .collect()
    }
}

impl LocalKeys {
    /// Lets go of the store's database (it is about to be opened again).
    pub fn detach(&self) {
        if let Ok(mut tree) = self.0.write() {
            *tree = None;
        }
    }

    /// Takes the store's database opened again.
    pub fn attach(&self, db: &sled::Db) -> Result<(), PiiError> {
        let tree = db.open_tree(super::KEY_RING_TREE).map_err(ring_error)?;
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(tree);
        }
        Ok(())
    }
}

/// The ring of the nodes of a shared partition: the cluster's key bucket.
pub struct SharedKeys(pub Arc<dyn SharedState>);

impl KeyStore for SharedKeys {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, PiiError> {
        Ok(self.0.get(id).map_err(ring_error)?.map(|(value, _)| value))
    }

    fn create(&self, id: &str, wrapped: &[u8]) -> Result<Vec<u8>, PiiError> {
        // Another node's key wins; one destroyed between its creation and this read leaves the
        // id free again, and this node's key is offered once more.
        for _ in 0..3 {
            if self.0.swap(id, wrapped, 0).map_err(ring_error)?.is_some() {
                return Ok(wrapped.to_vec());
            }
            if let Some(theirs) = self.get(id)? {
                return Ok(theirs);
            }
        }
        Err(ring_error(
            "a key vanished while it was created, three times",
        ))
    }

    fn remove(&self, id: &str) -> Result<bool, PiiError> {
        self.0.remove(id).map_err(ring_error)
    }

    fn ids(&self, prefix: &str) -> Result<Vec<String>, PiiError> {
        self.0.keys(prefix).map_err(ring_error)
    }
}
