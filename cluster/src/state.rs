//! The small shared records of a partition (sessions, sign-in failures, phone codes: see
//! `hcp_core::store::SharedState`) in a replicated JetStream key-value bucket, `hcp_state`,
//! under `<partition>.<key>`. Every record expires from the bucket `max_age` after it was last
//! written; each record also says itself when it is over.

use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt as _;
use hcp_core::store::{self, SharedState};

use crate::journal::{Journal, JournalError};

/// The bucket's name.
pub const BUCKET: &str = "hcp_state";

/// The bucket of the partitions' key rings (see `hcp_core::keyring`): records that never
/// expire, removed (purged) only when a key is destroyed.
pub const KEY_BUCKET: &str = "hcp_keys";

/// One partition's records in the bucket, reached through a runtime that is not the caller's.
pub struct StateBucket {
    runtime: tokio::runtime::Handle,
    store: kv::Store,
    partition: String,
}

fn unavailable(error: impl std::fmt::Display) -> store::JournalError {
    store::JournalError::Unavailable(error.to_string())
}

impl StateBucket {
    /// The bucket on the servers of `journal` (created with its replicas when it does not
    /// exist; an existing bucket keeps its settings), reached through `runtime`.
    pub async fn open(
        journal: &Journal,
        partition: &str,
        max_age: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Result<StateBucket, JournalError> {
        StateBucket::open_bucket(
            journal,
            BUCKET,
            "Haochaping: sessions, sign-in failures and phone codes shared by the nodes of a partition",
            partition,
            max_age,
            runtime,
        )
        .await
    }

    /// The partition's records in `bucket` (`max_age` zero: they never expire).
    pub async fn open_bucket(
        journal: &Journal,
        bucket: &str,
        description: &str,
        partition: &str,
        max_age: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Result<StateBucket, JournalError> {
        if !crate::block::valid_partition(partition) {
            return Err(crate::BlockError::Partition(partition.to_string()).into());
        }
        let store = journal.key_value(bucket, description, max_age).await?;
        Ok(StateBucket {
            runtime,
            store,
            partition: partition.to_string(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.partition)
    }
}

impl SharedState for StateBucket {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>, store::JournalError> {
        let entry = self
            .runtime
            .block_on(self.store.entry(self.key(key)))
            .map_err(unavailable)?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| (entry.value.to_vec(), entry.revision)))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<u64, store::JournalError> {
        self.runtime
            .block_on(
                self.store
                    .put(self.key(key), bytes::Bytes::copy_from_slice(value)),
            )
            .map_err(unavailable)
    }

    fn swap(
        &self,
        key: &str,
        value: &[u8],
        revision: u64,
    ) -> Result<Option<u64>, store::JournalError> {
        let value = bytes::Bytes::copy_from_slice(value);
        let key = self.key(key);
        let written = self.runtime.block_on(async {
            if revision == 0 {
                self.store
                    .create(&key, value)
                    .await
                    .map_err(|error| match error.kind() {
                        kv::CreateErrorKind::AlreadyExists => None,
                        // Another node created it a moment before: a clustered bucket answers
                        // with error code 10164, which the client does not name.
                        _ if error.to_string().contains("wrong last sequence") => None,
                        _ => Some(error.to_string()),
                    })
            } else {
                self.store
                    .update(&key, value, revision)
                    .await
                    .map_err(|error| match error.kind() {
                        kv::UpdateErrorKind::WrongLastRevision => None,
                        // A clustered bucket answers with error code 10164, which the client
                        // does not name.
                        _ if error.to_string().contains("wrong last sequence") => None,
                        _ => Some(error.to_string()),
                    })
            }
        });
        match written {
            Ok(revision) => Ok(Some(revision)),
            Err(None) => Ok(None),
            Err(Some(error)) => Err(store::JournalError::Unavailable(error)),
        }
    }

    fn remove(&self, key: &str) -> Result<bool, store::JournalError> {
        let key = self.key(key);
        self.runtime.block_on(async {
            let present = self
                .store
                .entry(&key)
                .await
                .map_err(unavailable)?
                .is_some_and(|entry| entry.operation == kv::Operation::Put);
            if present {
                self.store.purge(&key).await.map_err(unavailable)?;
            }
            Ok(present)
        })
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, store::JournalError> {
        let ours = self.key(prefix);
        let strip = self.partition.len() + 1;
        self.runtime.block_on(async {
            let mut keys = self.store.keys().await.map_err(unavailable)?;
            let mut found = Vec::new();
            while let Some(key) = keys.next().await {
                let key = key.map_err(unavailable)?;
                if key.starts_with(&ours) {
                    found.push(key[strip..].to_string());
                }
            }
            Ok(found)
        })
    }
}
