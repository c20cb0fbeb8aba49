//! The store's [`Journal`](hcp_core::store::Journal) on JetStream: one partition's blocks,
//! appended and read on the committer thread through a small runtime of its own.

use bytes::Bytes;
use hcp_core::store::{self, JournalBlock};

use crate::block::LogBlock;
use crate::journal::{Journal, JournalConfig, JournalError};

/// How long an append waits before sending a block the servers did not take again.
const APPEND_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// A partition of the stream, as the committer of that partition's store sees it.
pub struct SharedLog {
    runtime: Option<tokio::runtime::Runtime>,
    journal: Journal,
    partition: String,
}

impl SharedLog {
    /// Connects to the stream (creating it when it does not exist yet). Callable from any
    /// thread, inside an async runtime or not.
    pub fn connect(config: JournalConfig, partition: &str) -> Result<SharedLog, JournalError> {
        if !crate::block::valid_partition(partition) {
            return Err(crate::BlockError::Partition(partition.to_string()).into());
        }
        let partition = partition.to_string();
        // A thread of its own: `block_on` may not run on a thread that drives another runtime.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("hcp-shared-log")
                .enable_all()
                .build()
                .map_err(|error| JournalError::Refused(format!("a runtime: {error}")))?;
            let journal = runtime.block_on(Journal::connect(config))?;
            Ok(SharedLog {
                runtime: Some(runtime),
                journal,
                partition,
            })
        })
        .join()
        .unwrap_or_else(|_| Err(JournalError::Refused("connecting panicked".into())))
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The partition's shared records (see [`crate::state`]), reached through this log's
    /// runtime and connection; records expire from the servers `max_age` after their last
    /// write. Blocking; not on an async worker.
    pub fn state(
        &self,
        max_age: std::time::Duration,
    ) -> Result<crate::state::StateBucket, JournalError> {
        let runtime = match &self.runtime {
            Some(runtime) => runtime.handle().clone(),
            None => unreachable!("the runtime lives until the log is dropped"),
        };
        self.block_on(crate::state::StateBucket::open(
            &self.journal,
            &self.partition,
            max_age,
            runtime,
        ))
    }

    /// The partition's key ring in the `hcp_keys` bucket (created with the log's replicas when
    /// it does not exist): wrapped keys that never expire, purged when destroyed.
    pub fn keys(&self) -> Result<crate::state::StateBucket, JournalError> {
        let runtime = match &self.runtime {
            Some(runtime) => runtime.handle().clone(),
            None => unreachable!("the runtime lives until the log is dropped"),
        };
        self.block_on(crate::state::StateBucket::open_bucket(
            &self.journal,
            crate::state::KEY_BUCKET,
            "Haochaping: the keys personal data is sealed under, per partition",
            &self.partition,
            std::time::Duration::ZERO,
            runtime,
        ))
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        match &self.runtime {
            Some(runtime) => runtime.block_on(future),
            None => unreachable!("the runtime lives until the log is dropped"),
        }
    }
}

impl Drop for SharedLog {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn to_store(error: JournalError) -> store::JournalError {
    match error {
        JournalError::Conflict { .. } => store::JournalError::Conflict(error.to_string()),
        JournalError::Unavailable(_) => store::JournalError::Unavailable(error.to_string()),
        JournalError::Block(_) | JournalError::Refused(_) => {
            store::JournalError::Refused(error.to_string())
        }
    }
}

impl store::Journal for SharedLog {
    fn describe(&self) -> String {
        format!(
            "JetStream stream {}, partition {}",
            self.journal.config().stream,
            self.partition
        )
    }

    fn append(
        &self,
        first_seq: u64,
        entries: &[Vec<u8>],
        after: u64,
    ) -> Result<u64, store::JournalError> {
        let block = LogBlock::new(
            &self.partition,
            first_seq,
            entries
                .iter()
                .map(|entry| Bytes::copy_from_slice(entry))
                .collect(),
        )
        .map_err(|error| store::JournalError::Refused(error.to_string()))?;
        // While no quorum answers (a leader being elected), the same block goes again: the
        // stream stores it once. Only when the servers stay silent for twice the time an
        // acknowledgement may take does the batch fail, its outcome then unknown to the sender.
        let began = std::time::Instant::now();
        let patience = self.journal.config().ack_timeout * 2;
        loop {
            match self.block_on(self.journal.append(&block, after)) {
                Ok(appended) => return Ok(appended.stream_seq),
                Err(JournalError::Unavailable(reason)) if began.elapsed() < patience => {
                    tracing::debug!(%reason, "the shared log did not take a block; sending it again");
                    std::thread::sleep(APPEND_RETRY);
                }
                Err(error) => return Err(to_store(error)),
            }
        }
    }

    fn read_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<JournalBlock>, store::JournalError> {
        let blocks = self
            .block_on(self.journal.blocks_after(&self.partition, after, limit))
            .map_err(to_store)?;
        Ok(blocks
            .into_iter()
            .map(|stored| JournalBlock {
                position: stored.stream_seq,
                first_seq: stored.block.first_seq,
                entries: stored
                    .block
                    .entries
                    .iter()
                    .map(|entry| entry.to_vec())
                    .collect(),
            })
            .collect())
    }
}
