//! Haochaping across several machines.
//!
//! A city runs on one machine with the embedded sled store, its event log a sled tree written
//! in the same transaction as its projections. A province runs the same log on a replicated
//! NATS JetStream stream:
//!
//! - [`block`]: the unit written to the stream, one committer batch of a partition: the log
//!   entries' stored bytes exactly as the embedded log keeps them, so the hash chain and the
//!   byte-for-byte rebuild carry over;
//! - [`journal`]: the stream itself, one subject per partition (a city or a county), appended
//!   with optimistic concurrency so that each partition's sequence and chain have one writer at
//!   a time, whichever node it runs on;
//! - [`shared_log`]: a partition of the stream as the store's `Journal`: every committer batch
//!   appended before it commits locally, other nodes' blocks projected on catch-up;
//! - [`lease`]: which node of a partition runs each background worker, one at a time;
//! - [`state`]: the records every node of a partition shares beside the log (sessions, sign-in
//!   failures, phone codes), in a key-value bucket;
//! - [`servers`]: nats-server processes on loopback for the tests and benchmarks (a single
//!   node, or a cluster that loses and regains nodes).

pub mod block;
pub mod journal;
pub mod lease;
pub mod servers;
pub mod shared_log;
pub mod state;

pub use block::{BlockError, LogBlock};
pub use journal::{Appended, BlockHead, Journal, JournalConfig, JournalError, StoredBlock};
pub use shared_log::SharedLog;
