//! The event log on a JetStream stream.
//!
//! One stream (`HCP_LOG` unless configured otherwise) holds every partition's blocks, one
//! subject per partition (`hcp.log.<partition>`), replicated on one or three servers. A block is
//! appended with the stream sequence of the partition's last block as the expectation
//! (`Nats-Expected-Last-Subject-Sequence`): if another writer appended since, the stream refuses
//! it and the writer catches up before it decides again, so a partition's sequence numbers and
//! hash chain never fork, whichever node writes. Writers of different partitions never wait for
//! each other. A block carries its partition and first sequence number as its message id, so an
//! append retried after a lost acknowledgement (a leader that died after storing it) is stored
//! once.
//!
//! The stream refuses deletes and purges: the log is the source of truth.

use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, stream::LastRawMessageErrorKind};
use async_nats::{HeaderMap, ServerAddr};
use bytes::Bytes;

use crate::block::{self, BlockError, ENTRIES_HEADER, FIRST_SEQ_HEADER, LogBlock};

/// Where the log lives.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Servers of the cluster (`nats://host:port`); the client fails over between them.
    pub servers: Vec<String>,
    pub stream: String,
    /// 1, or 3 to survive the loss of a server.
    pub replicas: usize,
    /// How long an append waits for the stream's acknowledgement.
    pub ack_timeout: Duration,
    /// The largest block (the servers' `max_payload` must allow it).
    pub max_block_bytes: usize,
}

impl JournalConfig {
    pub fn new(servers: Vec<String>, replicas: usize) -> Self {
        JournalConfig {
            servers,
            stream: "HCP_LOG".into(),
            replicas,
            ack_timeout: Duration::from_secs(5),
            max_block_bytes: 8 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another writer appended to the partition since `expected`: catch up and decide again.
    #[error(
        "partition {partition}: another writer appended after stream sequence {expected} (its last block is at {})",
        head.map_or_else(|| "none".to_string(), |head| head.stream_seq.to_string())
    )]
    Conflict {
        partition: String,
        expected: u64,
        head: Option<BlockHead>,
    },
    /// No answer from a quorum (a server lost, a leader being elected, the network): the same
    /// block may be appended again, and is stored once.
    #[error("the log is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The stream or the servers refuse what was asked (configuration, sizes).
    #[error("the log refused: {0}")]
    Refused(String),
}

/// A partition's last block, as the stream holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHead {
    pub stream_seq: u64,
    pub first_seq: u64,
    pub entries: u64,
}

impl BlockHead {
    pub fn last_seq(&self) -> u64 {
        self.first_seq + self.entries.saturating_sub(1)
    }
}

/// A block read back, with where the stream keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    pub stream_seq: u64,
    pub block: LogBlock,
}

/// An append the stream acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub stream_seq: u64,
    /// The block was already stored (a retried append).
    pub duplicate: bool,
}

/// The log's stream, shared by every writer and reader of a node.
#[derive(Clone)]
pub struct Journal {
    context: jetstream::Context,
    stream: jetstream::stream::Stream,
    config: JournalConfig,
}

fn unavailable(error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(error.to_string())
}

impl Journal {
    /// Connects and makes sure the stream exists with the configured replicas.
    pub async fn connect(config: JournalConfig) -> Result<Journal, JournalError> {
        let servers = config
            .servers
            .iter()
            .map(|url| url.parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| JournalError::Refused(format!("a server address: {error}")))?;
        let client = async_nats::ConnectOptions::new()
            .name("hcp")
            .connection_timeout(config.ack_timeout)
            .request_timeout(Some(config.ack_timeout))
            .connect(servers)
            .await
            .map_err(unavailable)?;
        let mut context = jetstream::new(client);
        context.set_timeout(config.ack_timeout);
        let wanted = jetstream::stream::Config {
            name: config.stream.clone(),
            description: Some("Haochaping event log: one subject per partition".into()),
            subjects: vec![block::SUBJECTS.to_string()],
            storage: jetstream::stream::StorageType::File,
            num_replicas: config.replicas,
            max_message_size: i32::try_from(config.max_block_bytes).unwrap_or(i32::MAX),
            duplicate_window: Duration::from_secs(120),
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            ..Default::default()
        };
        let stream = context
            .get_or_create_stream(wanted.clone())
            .await
            .map_err(unavailable)?;
        let mut journal = Journal {
            context,
            stream,
            config,
        };
        let replicas = journal
            .stream
            .info()
            .await
            .map_err(unavailable)?
            .config
            .num_replicas;
        if replicas != journal.config.replicas {
            // Scaling a stream up or down keeps its messages; the servers move them.
            journal
                .context
                .update_stream(wanted)
                .await
                .map_err(|error| JournalError::Refused(format!("replicas: {error}")))?;
            journal.stream = journal
                .context
                .get_stream(&journal.config.stream)
                .await
                .map_err(unavailable)?;
        }
        Ok(journal)
    }

    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// The JetStream context of the log's connection (for the leases' bucket).
    pub fn context(&self) -> &jetstream::Context {
        &self.context
    }

    /// The partition's last block; `None` before its first.
    pub async fn head(&self, partition: &str) -> Result<Option<BlockHead>, JournalError> {
        check_partition(partition)?;
        match self
            .stream
            .get_last_raw_message_by_subject(&block::subject(partition))
            .await
        {
            Ok(message) => Ok(Some(head_of(
                partition,
                message.sequence,
                &message.headers,
                message.payload.len(),
            )?)),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Appends `block` if the partition's last block is still at stream sequence `after` (0:
    /// the partition is empty). A conflict names the block that came first.
    pub async fn append(&self, block: &LogBlock, after: u64) -> Result<Appended, JournalError> {
        let payload = block.payload();
        if payload.len() > self.config.max_block_bytes {
            return Err(JournalError::Refused(format!(
                "a block of {} bytes is larger than the log takes ({} bytes): lower [store] max_batch, or raise the servers' max_payload and the log's block limit together",
                payload.len(),
                self.config.max_block_bytes
            )));
        }
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .message_id(block.message_id())
            .expected_last_subject_sequence(after)
            .header(FIRST_SEQ_HEADER, block.first_seq.to_string().as_str())
            .header(ENTRIES_HEADER, block.entries.len().to_string().as_str());
        let acknowledged = match self.context.send_publish(block.subject(), publish).await {
            Ok(future) => future.await,
            Err(error) => Err(error),
        };
        match acknowledged {
            // A repeat of a block stored before: the id holds the entries' digest, and the
            // stored payload is compared all the same before it counts as ours.
            Ok(ack) if ack.duplicate && self.payload_at(ack.sequence).await? != payload => {
                Err(JournalError::Conflict {
                    partition: block.partition.clone(),
                    expected: after,
                    head: self.head(&block.partition).await?,
                })
            }
            Ok(ack) => Ok(Appended {
                stream_seq: ack.sequence,
                duplicate: ack.duplicate,
            }),
            Err(error) => match error.kind() {
                // nats-server answers a clustered stream's failed expectation with error code
                // 10164 (the same words, no sequence), which the client does not name.
                kind if kind == PublishErrorKind::WrongLastSequence
                    || error.to_string().contains("wrong last sequence") =>
                {
                    // Ours, stored by an attempt whose acknowledgement was lost, or another
                    // writer's: the partition's last block says which.
                    match self.head(&block.partition).await? {
                        Some(head)
                            if head.first_seq == block.first_seq
                                && self.payload_at(head.stream_seq).await? == payload =>
                        {
                            Ok(Appended {
                                stream_seq: head.stream_seq,
                                duplicate: true,
                            })
                        }
                        head => Err(JournalError::Conflict {
                            partition: block.partition.clone(),
                            expected: after,
                            head,
                        }),
                    }
                }
                PublishErrorKind::MaxPayloadExceeded => Err(JournalError::Refused(format!(
                    "a block of {} bytes: {error}",
                    payload.len()
                ))),
                _ => Err(unavailable(error)),
            },
        }
    }

    async fn payload_at(&self, stream_seq: u64) -> Result<Bytes, JournalError> {
        let message = self
            .stream
            .get_raw_message(stream_seq)
            .await
            .map_err(unavailable)?;
        Ok(message.payload)
    }

    /// The key-value bucket `bucket` on these servers: created with the stream's replicas, one
    /// value per key, entries expiring `max_age` after their last write, when it does not exist;
    /// an existing bucket keeps its settings.
    pub async fn key_value(
        &self,
        bucket: &str,
        description: &str,
        max_age: Duration,
    ) -> Result<jetstream::kv::Store, JournalError> {
        let store = match self.context.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => self
                .context
                .create_key_value(jetstream::kv::Config {
                    bucket: bucket.into(),
                    description: description.into(),
                    history: 1,
                    max_age,
                    num_replicas: self.config.replicas,
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(unavailable)?,
        };
        // The client creates buckets that any replica may answer reads of ("direct get"), and a
        // replica may not have applied a write just acknowledged: a session opened a moment ago
        // read as absent (401), a key just created read as vanished. Reads go to the stream's
        // leader instead, which answers what was acknowledged.
        if !store.stream.cached_info().config.allow_direct {
            return Ok(store);
        }
        let mut config = store.stream.cached_info().config.clone();
        config.allow_direct = false;
        self.context
            .update_stream(config)
            .await
            .map_err(unavailable)?;
        self.context
            .get_key_value(bucket)
            .await
            .map_err(unavailable)
    }

    /// The partition's first block after stream sequence `after`; `None` when there is none yet.
    pub async fn next_block(
        &self,
        partition: &str,
        after: u64,
    ) -> Result<Option<StoredBlock>, JournalError> {
        check_partition(partition)?;
        let message = match self
            .stream
            .raw_message_builder()
            .sequence(after + 1)
            .next_by_subject(block::subject(partition))
            .send()
            .await
        {
            Ok(message) => message,
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {
                return Ok(None);
            }
            Err(error) => return Err(unavailable(error)),
        };
        let head = head_of(
            partition,
            message.sequence,
            &message.headers,
            message.payload.len(),
        )?;
        let block = LogBlock::decode(
            partition,
            head.first_seq,
            Some(head.entries),
            &message.payload,
        )?;
        Ok(Some(StoredBlock {
            stream_seq: message.sequence,
            block,
        }))
    }

    /// Up to `limit` blocks of the partition after stream sequence `after`, in order.
    pub async fn blocks_after(
        &self,
        partition: &str,
        mut after: u64,
        limit: usize,
    ) -> Result<Vec<StoredBlock>, JournalError> {
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(stored) = self.next_block(partition, after).await? else {
                break;
            };
            after = stored.stream_seq;
            out.push(stored);
        }
        Ok(out)
    }

    /// The server that leads the stream now (its `server_name`), if one does.
    pub async fn leader(&self) -> Result<Option<String>, JournalError> {
        let mut stream = self
            .context
            .get_stream(&self.config.stream)
            .await
            .map_err(unavailable)?;
        let info = stream.info().await.map_err(unavailable)?;
        Ok(info
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.leader.clone()))
    }
}

fn check_partition(partition: &str) -> Result<(), JournalError> {
    if block::valid_partition(partition) {
        Ok(())
    } else {
        Err(BlockError::Partition(partition.to_string()).into())
    }
}

/// What a block's headers say of it.
fn head_of(
    partition: &str,
    stream_seq: u64,
    headers: &HeaderMap,
    payload_len: usize,
) -> Result<BlockHead, JournalError> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.as_str().parse::<u64>().ok())
            .ok_or_else(|| BlockError::Damaged {
                partition: partition.to_string(),
                first_seq: 0,
                problem: format!(
                    "the message at stream sequence {stream_seq} ({payload_len} bytes) has no {name} header: it was not written by the platform"
                ),
            })
    };
    Ok(BlockHead {
        stream_seq,
        first_seq: number(FIRST_SEQ_HEADER)?,
        entries: number(ENTRIES_HEADER)?,
    })
}
