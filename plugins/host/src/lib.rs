//! The plugin host of Haochaping: the only code that touches wasmtime. It loads vendors'
//! adapter components (contract `haochaping:adapter@1.x`, `plugins/wit/`), validates them before
//! anything calls them, runs every call in a fresh sandboxed instance with fuel, time, memory
//! and output limits, and keeps the installed plugins hot-swappable with quarantine for those
//! that keep faulting. Generated WIT types never leave `bindings`; callers see `hcp_core`
//! records and the types of this crate.
//!
//! Every call blocks (compiles take tens of milliseconds, calls up to their timeout): run them
//! on blocking threads.

mod bindings;
mod cache;
mod error;
mod host;
mod plugin;
mod registry;
mod types;

pub use error::{CallError, PluginError};
pub use host::{HostOptions, Limits, PluginHost, sha256_hex};
pub use plugin::Plugin;
pub use registry::{Backoff, LoadFailure, PluginStatus, Registry};
pub use types::{
    Ack, DayCount, Decoded, Heartbeat, PluginInfo, PluginKind, Rectification, Sample, UplinkBatch,
    UplinkRating, UplinkRecord, UplinkRecords, UplinkRectification, UplinkRequest,
};
