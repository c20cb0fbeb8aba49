//! The two error types of the plugin host: [`PluginError`] for a plugin that cannot be installed,
//! [`CallError`] for one call that failed. Both name what the caller (an administrator, a vendor,
//! a device's sender) can act on.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::PluginKind;

/// Why a call into a plugin failed.
///
/// The first two variants are the plugin's considered answer about the input; the others
/// (except [`CallError::InputTooLarge`], [`CallError::WrongKind`], [`CallError::NotInstalled`]
/// and [`CallError::Host`]) are faults of the plugin itself: see [`CallError::is_plugin_fault`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin says the payload is damaged or does not follow its format: the sender's fault.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// The plugin does not handle this content type or message kind (or, for `encode`, cannot
    /// express this batch in the province's format).
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("plugin {plugin} {version} trapped: {message}")]
    Trap {
        plugin: String,
        version: String,
        message: String,
    },
    #[error("plugin {plugin} {version} ran out of fuel (its instruction budget for one call)")]
    OutOfFuel { plugin: String, version: String },
    #[error("plugin {plugin} {version} timed out after {after:?}")]
    Timeout {
        plugin: String,
        version: String,
        after: Duration,
    },
    #[error("plugin {plugin} {version} exceeded its memory limit of {limit} bytes")]
    MemoryExceeded {
        plugin: String,
        version: String,
        limit: usize,
    },
    #[error("plugin {plugin} {version} returned too much: {what}")]
    OutputTooLarge {
        plugin: String,
        version: String,
        what: String,
    },
    #[error("input is larger than the limit of {limit} bytes")]
    InputTooLarge { limit: usize },
    #[error("plugin {plugin} {version} returned invalid output: {reason}")]
    InvalidOutput {
        plugin: String,
        version: String,
        reason: String,
    },
    /// The call does not exist for this kind of plugin (decoding with an uplink adapter, or
    /// encoding with an inbound one).
    #[error("plugin {plugin} is a {kind} adapter and cannot {operation}")]
    WrongKind {
        plugin: String,
        kind: PluginKind,
        operation: &'static str,
    },
    /// The plugin faulted too often in a row; calls fail fast until `until`.
    #[error("plugin {plugin} {version} is quarantined until {until} after repeated faults")]
    Quarantined {
        plugin: String,
        version: String,
        until: DateTime<Utc>,
    },
    #[error("no plugin with id {id} is installed")]
    NotInstalled { id: String },
    /// The host could not set up the call (for example, the operating system refused memory).
    /// Not the plugin's fault; worth retrying later.
    #[error("plugin host could not run {plugin} {version}: {message}")]
    Host {
        plugin: String,
        version: String,
        message: String,
    },
}

impl CallError {
    /// True when the plugin misbehaved (trap, limits, bad output, quarantine), as opposed to
    /// judging the input or the caller asking for something impossible. Faults count towards
    /// quarantine, and their payloads belong in the dead-letter store for replay.
    pub fn is_plugin_fault(&self) -> bool {
        match self {
            CallError::Trap { .. }
            | CallError::OutOfFuel { .. }
            | CallError::Timeout { .. }
            | CallError::MemoryExceeded { .. }
            | CallError::OutputTooLarge { .. }
            | CallError::InvalidOutput { .. }
            | CallError::Quarantined { .. } => true,
            CallError::Malformed(_)
            | CallError::Unsupported(_)
            | CallError::InputTooLarge { .. }
            | CallError::WrongKind { .. }
            | CallError::NotInstalled { .. }
            | CallError::Host { .. } => false,
        }
    }
}

/// Why a plugin cannot be installed. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("invalid plugin host options: {0}")]
    Options(String),
    #[error("could not start the webassembly engine: {0}")]
    Engine(String),
    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error(
        "plugin is not signed and this platform requires signatures: ship the ed25519 signature \
         of the .wasm file's exact bytes (64 raw bytes) as <file>.wasm.sig"
    )]
    Unsigned,
    #[error("plugin signature is not valid: {reason}")]
    BadSignature { reason: String },
    #[error("not a valid webassembly component: {reason}")]
    NotAComponent { reason: String },
    #[error(
        "plugin imports {}; adapters must import nothing (build for wasm32-unknown-unknown and \
         wrap the module with `wasm-tools component new`)",
        .names.join(", ")
    )]
    Imports { names: Vec<String> },
    #[error(
        "plugin exports no haochaping:adapter/inbound-adapter or uplink-adapter interface \
         (it exports: {})",
        if .exports.is_empty() { "nothing".to_owned() } else { .exports.join(", ") }
    )]
    NoAdapterWorld { exports: Vec<String> },
    #[error("plugin is built against contract {found}; this platform supports 1.x")]
    UnsupportedContract { found: String },
    #[error("plugin does not implement the {world} world of contract 1.x: {reason}")]
    ContractMismatch { world: &'static str, reason: String },
    #[error("plugin could not be prepared for instantiation: {reason}")]
    Instantiate { reason: String },
    #[error("plugin failed to describe itself or list its samples: {0}")]
    Describe(Box<CallError>),
    #[error("plugin describes itself wrongly: {reason}")]
    InvalidInfo { reason: String },
    #[error("plugin {plugin} {version} fails its own sample {index}: {error}")]
    SampleFailed {
        plugin: String,
        version: String,
        index: usize,
        error: Box<CallError>,
    },
}
