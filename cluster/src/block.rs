//! A log block: the entries one committer batch appended to one partition.
//!
//! On the stream a block is one message on `hcp.log.<partition>`: headers name its first
//! sequence number and its entry count, the payload is each entry's stored bytes (a format
//! byte and a body, exactly what the embedded log keeps under the entry's sequence number)
//! after its length as four big-endian bytes. A batch is durable when its block is: one
//! acknowledgement from the stream's quorum covers every entry of the batch, as one flush of
//! sled does on one machine.

use bytes::{BufMut, Bytes, BytesMut};

/// Headers of a block's message.
pub const FIRST_SEQ_HEADER: &str = "Hcp-First-Seq";
pub const ENTRIES_HEADER: &str = "Hcp-Entries";

/// The entries of one batch of one partition, numbered from `first_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBlock {
    pub partition: String,
    pub first_seq: u64,
    pub entries: Vec<Bytes>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    #[error(
        "partition {0:?} is not a partition name: letters, digits, '-' and '_' only (a region code such as 410400)"
    )]
    Partition(String),
    #[error("a block holds at least one entry")]
    Empty,
    #[error("block {first_seq} of partition {partition}: {problem}")]
    Damaged {
        partition: String,
        first_seq: u64,
        problem: String,
    },
}

/// Whether `name` can be a partition: one subject token of a few safe characters.
pub fn valid_partition(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

impl LogBlock {
    pub fn new(partition: &str, first_seq: u64, entries: Vec<Bytes>) -> Result<Self, BlockError> {
        if !valid_partition(partition) {
            return Err(BlockError::Partition(partition.to_string()));
        }
        if entries.is_empty() {
            return Err(BlockError::Empty);
        }
        Ok(LogBlock {
            partition: partition.to_string(),
            first_seq,
            entries,
        })
    }

    /// The sequence number of the block's last entry.
    pub fn last_seq(&self) -> u64 {
        self.first_seq + self.entries.len() as u64 - 1
    }

    /// The subject the block is written to.
    pub fn subject(&self) -> String {
        subject(&self.partition)
    }

    /// The id the stream deduplicates a block by: a retried append of the same block is stored
    /// once. It holds a digest of the entries, so a different block at the same position (a
    /// writer that decided again after an append it took for failed had landed) is never taken
    /// for a repeat of the first: it meets the expected-sequence check and is refused.
    pub fn message_id(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.payload());
        format!(
            "{}:{}:{}",
            self.partition,
            self.first_seq,
            hex::encode(&digest[..12])
        )
    }

    /// The message payload.
    pub fn payload(&self) -> Bytes {
        let size = self.entries.iter().map(|entry| 4 + entry.len()).sum();
        let mut out = BytesMut::with_capacity(size);
        for entry in &self.entries {
            // An entry is at most a few MiB (a stored value's limit is far below 4 GiB).
            out.put_u32(u32::try_from(entry.len()).unwrap_or(u32::MAX));
            out.put_slice(entry);
        }
        out.freeze()
    }

    /// The block a message carried, checked against what its headers say.
    pub fn decode(
        partition: &str,
        first_seq: u64,
        expected_entries: Option<u64>,
        payload: &Bytes,
    ) -> Result<Self, BlockError> {
        let damaged = |problem: String| BlockError::Damaged {
            partition: partition.to_string(),
            first_seq,
            problem,
        };
        let mut entries = Vec::new();
        let mut at = 0usize;
        while at < payload.len() {
            let Some(length) = payload.get(at..at + 4) else {
                return Err(damaged(format!("a length is cut off at byte {at}")));
            };
            let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
            let start = at + 4;
            let Some(end) = start
                .checked_add(length)
                .filter(|end| *end <= payload.len())
            else {
                return Err(damaged(format!(
                    "entry {} claims {length} bytes, past the end of the block",
                    entries.len() + 1
                )));
            };
            entries.push(payload.slice(start..end));
            at = end;
        }
        if let Some(expected) = expected_entries
            && expected != entries.len() as u64
        {
            return Err(damaged(format!(
                "its headers say {expected} entries, it holds {}",
                entries.len()
            )));
        }
        LogBlock::new(partition, first_seq, entries).map_err(|error| damaged(error.to_string()))
    }
}

/// The subjects of every partition's blocks.
pub const SUBJECTS: &str = "hcp.log.>";

/// The subject of a partition's blocks.
pub fn subject(partition: &str) -> String {
    format!("hcp.log.{partition}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_block_reads_back_exactly() {
        let block = LogBlock::new(
            "410400",
            17,
            vec![
                Bytes::from_static(b"\x01frame"),
                Bytes::new(),
                Bytes::from(vec![7u8; 70_000]),
            ],
        )
        .unwrap();
        assert_eq!(block.last_seq(), 19);
        assert_eq!(block.subject(), "hcp.log.410400");
        assert!(block.message_id().starts_with("410400:17:"));
        let other = LogBlock::new("410400", 17, vec![Bytes::from_static(b"other")]).unwrap();
        assert_ne!(other.message_id(), block.message_id());
        let payload = block.payload();
        assert_eq!(
            LogBlock::decode("410400", 17, Some(3), &payload).unwrap(),
            block
        );
    }

    #[test]
    fn a_damaged_block_is_refused_with_where() {
        let block = LogBlock::new("410400", 1, vec![Bytes::from_static(b"abc")]).unwrap();
        let payload = block.payload();
        for cut in 1..payload.len() {
            let error = LogBlock::decode("410400", 1, None, &payload.slice(..cut)).unwrap_err();
            assert!(matches!(error, BlockError::Damaged { .. }), "{error}");
        }
        let error = LogBlock::decode("410400", 1, Some(2), &payload).unwrap_err();
        assert!(
            error.to_string().contains("headers say 2 entries"),
            "{error}"
        );
    }

    #[test]
    fn partition_names_are_one_safe_subject_token() {
        assert!(valid_partition("410400"));
        assert!(valid_partition("city_pds-1"));
        for bad in ["", "a.b", "a b", "*", ">", "省"] {
            assert!(
                LogBlock::new(bad, 1, vec![Bytes::new()]).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            LogBlock::new("410400", 1, Vec::new()),
            Err(BlockError::Empty)
        );
    }
}
