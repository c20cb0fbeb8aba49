//! Leases on background work: which node of a partition runs the deadline sweep, message
//! delivery, the uplink and the reports, one at a time, and which takes over when it is lost.
//!
//! A lease is a key of a JetStream key-value bucket (`hcp_leases`, replicated like the log)
//! whose entries expire `ttl` after they were last written: `<partition>.<worker>` holds the
//! name of the node that runs the worker. A node takes a free lease by creating the key (refused
//! while another node's entry lives) and keeps it by updating the key at the revision it last
//! wrote (refused once anyone else wrote it). A node that stops renewing — killed, cut off —
//! loses the lease when its entry expires, and another node takes it. A node also stops
//! counting itself the holder once `ttl` minus a margin has passed since its last successful
//! renewal, whether or not it could reach the servers, so two nodes never both think they hold
//! a lease: the expiry on the servers comes after the holder has let go.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;

use crate::journal::{Journal, JournalError};

/// Name of the key-value bucket of the leases.
pub const BUCKET: &str = "hcp_leases";

/// What a node knows of one lease it holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    revision: u64,
    renewed: Instant,
}

/// The leases of one node in one partition.
pub struct Leases {
    store: kv::Store,
    partition: String,
    node: String,
    ttl: Duration,
    held: Mutex<BTreeMap<String, Held>>,
}

fn unavailable(error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(error.to_string())
}

impl Leases {
    /// The leases of `node` in `partition`, on the servers of `journal` (the bucket is created
    /// with the journal's replicas when it does not exist).
    pub async fn open(
        journal: &Journal,
        partition: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<Leases, JournalError> {
        if !crate::block::valid_partition(partition) {
            return Err(crate::BlockError::Partition(partition.to_string()).into());
        }
        let store = journal
            .key_value(
                BUCKET,
                "Haochaping: which node runs each background worker",
                ttl,
            )
            .await?;
        Ok(Leases {
            store,
            partition: partition.to_string(),
            node: node.to_string(),
            ttl,
            held: Mutex::new(BTreeMap::new()),
        })
    }

    fn key(&self, worker: &str) -> String {
        format!("{}.{worker}", self.partition)
    }

    /// How long a renewal counts: the holder lets go a fifth of the lease before the servers
    /// would expire its entry.
    fn valid_for(&self) -> Duration {
        self.ttl - self.ttl / 5
    }

    /// Whether this node holds `worker`'s lease now.
    pub fn holds(&self, worker: &str) -> bool {
        self.remaining(worker).is_some()
    }

    /// How long, at the least, no other node can take `worker`'s lease: the time left until the
    /// servers would expire this node's last renewal, while this node holds the lease (`None`
    /// when it does not). Work begun now that ends within it cannot overlap another holder's.
    pub fn remaining(&self, worker: &str) -> Option<Duration> {
        let held = self.held.lock().ok()?;
        let elapsed = held.get(worker)?.renewed.elapsed();
        (elapsed < self.valid_for()).then(|| self.ttl.saturating_sub(elapsed))
    }

    /// Renews `worker`'s lease if this node holds it, takes it if it is free. Call it a few
    /// times per `ttl` (every third is enough). Returns whether this node holds it afterwards.
    pub async fn tick(&self, worker: &str) -> bool {
        let key = self.key(worker);
        let previous = self
            .held
            .lock()
            .ok()
            .and_then(|held| held.get(worker).copied());
        let asked = Instant::now();
        let written = match previous {
            Some(held) => self
                .store
                .update(&key, self.node.clone().into(), held.revision)
                .await
                .map_err(|error| error.to_string()),
            None => self
                .store
                .create(&key, self.node.clone().into())
                .await
                .map_err(|error| error.to_string()),
        };
        let Ok(mut held) = self.held.lock() else {
            return false;
        };
        match written {
            Ok(revision) => {
                if previous.is_none() {
                    tracing::info!(worker, node = %self.node, "took the lease");
                }
                held.insert(
                    worker.to_string(),
                    Held {
                        revision,
                        // Counted from the request: the servers' clock started no earlier.
                        renewed: asked,
                    },
                );
                true
            }
            Err(error) => {
                if previous.is_some() {
                    tracing::warn!(worker, node = %self.node, %error, "lost the lease");
                }
                held.remove(worker);
                false
            }
        }
    }

    /// The node that holds `worker`'s lease, as the servers say.
    pub async fn holder(&self, worker: &str) -> Result<Option<String>, JournalError> {
        let value = self
            .store
            .get(self.key(worker))
            .await
            .map_err(unavailable)?;
        Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Gives the lease up (a node stopping cleanly), so another node takes it without waiting
    /// for the expiry.
    pub async fn release(&self, worker: &str) {
        let previous = self
            .held
            .lock()
            .ok()
            .and_then(|mut held| held.remove(worker));
        if let Some(held) = previous {
            let _ = self
                .store
                .delete_expect_revision(self.key(worker), Some(held.revision))
                .await;
        }
    }
}
