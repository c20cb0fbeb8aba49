//! A loaded plugin and its calls. Every call runs in a fresh store and instance with fresh fuel,
//! deadline, memory limiter and copy budget, so no payload can see or disturb another, and a
//! fault is classified into the [`CallError`] that says whose fault it was.

use std::sync::Arc;

use wasmtime::{ResourceLimiter, Store, Trap, WasmBacktrace};

use crate::bindings::v1::Adapter;
use crate::error::CallError;
use crate::host::Shared;
use crate::types::{
    Ack, DayCount, Decoded, PluginInfo, PluginKind, Sample, UplinkBatch, UplinkRecords,
    UplinkRequest,
};

/// Tables a component may grow to, in elements: far above what compilers emit for indirect
/// calls, far below what could hurt the host.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The data of one call's store.
pub(crate) struct CallState {
    pub(crate) limiter: CallLimiter,
}

impl CallState {
    pub(crate) fn new(memory_bytes: usize) -> CallState {
        CallState {
            limiter: CallLimiter {
                memory_bytes,
                memory_denied: false,
            },
        }
    }
}

/// Caps linear memory and remembers a refusal: a guest whose allocation fails usually traps
/// (Rust aborts with `unreachable`), and the caller should hear "memory" rather than "trap".
pub(crate) struct CallLimiter {
    memory_bytes: usize,
    memory_denied: bool,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_denied = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    // A component built by wasm-tools holds a handful of core instances, tables and memories;
    // these leave room for that and nothing like the defaults of 10,000.
    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        8
    }
}

/// How a call failed, before it is told in terms of the plugin that failed.
pub(crate) enum Failure {
    /// Creating the instance failed.
    Instantiate(wasmtime::Error),
    /// The call itself failed: a trap, or results that could not be read.
    Call(wasmtime::Error),
    Malformed(String),
    Unsupported(String),
    OutputTooLarge(String),
    InvalidOutput(String),
    InputTooLarge,
    /// The operation belongs to the other world.
    WrongWorld(&'static str),
}

/// Runs one call in a fresh store and turns a failure into a [`CallError`] naming the plugin.
pub(crate) fn run_call<R>(
    shared: &Shared,
    plugin: &str,
    version: &str,
    call: impl FnOnce(&mut Store<CallState>) -> Result<R, Failure>,
) -> Result<R, CallError> {
    // Declared before the store, so dropped after it: the slot is free once the instance is.
    let _slot = shared.call_slot();
    let mut store = shared.new_store().map_err(|error| CallError::Host {
        plugin: plugin.to_owned(),
        version: version.to_owned(),
        message: format!("{error:#}"),
    })?;
    call(&mut store).map_err(|failure| classify(failure, store.data(), shared, plugin, version))
}

fn classify(
    failure: Failure,
    state: &CallState,
    shared: &Shared,
    plugin: &str,
    version: &str,
) -> CallError {
    let plugin = plugin.to_owned();
    let version = version.to_owned();
    let (error, instantiating) = match failure {
        Failure::Malformed(reason) => return CallError::Malformed(reason),
        Failure::Unsupported(reason) => return CallError::Unsupported(reason),
        Failure::OutputTooLarge(what) => {
            return CallError::OutputTooLarge {
                plugin,
                version,
                what,
            };
        }
        Failure::InvalidOutput(reason) => {
            return CallError::InvalidOutput {
                plugin,
                version,
                reason,
            };
        }
        Failure::InputTooLarge => {
            return CallError::InputTooLarge {
                limit: shared.limits.max_input_bytes,
            };
        }
        Failure::WrongWorld(operation) => {
            // `Plugin` checks the kind first and installation refuses a kind that disagrees
            // with the world, so this is a bug of the host, not of the plugin.
            return CallError::Host {
                plugin,
                version,
                message: format!("its world does not serve {operation}"),
            };
        }
        Failure::Instantiate(error) => (error, true),
        Failure::Call(error) => (error, false),
    };
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallError::OutOfFuel { plugin, version },
        Some(Trap::Interrupt) => CallError::Timeout {
            plugin,
            version,
            after: shared.limits.timeout,
        },
        _ if state.limiter.memory_denied => CallError::MemoryExceeded {
            plugin,
            version,
            limit: shared.limits.memory_bytes,
        },
        Some(trap) => CallError::Trap {
            plugin,
            version,
            message: trap_message(trap, &error),
        },
        None if is_copy_budget_exhausted(&error) => CallError::OutputTooLarge {
            plugin,
            version,
            what: format!(
                "more than {} bytes (its output limit) to copy out of the plugin",
                shared.limits.max_output_bytes
            ),
        },
        // Instantiation without a trap fails on the host's side (memory mappings, the
        // operating system); a call without a trap fails reading the guest's results.
        None if instantiating => CallError::Host {
            plugin,
            version,
            message: format!("{error:#}"),
        },
        None => CallError::InvalidOutput {
            plugin,
            version,
            reason: format!("{error:#}"),
        },
    }
}

/// wasmtime reports an exhausted hostcall fuel (the copy budget set with
/// `Store::set_hostcall_fuel`) with a private error type; its message is all there is to match.
/// wasmtime is pinned exactly, and the hostile-output test pins this message.
fn is_copy_budget_exhausted(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.to_string().contains("fuel allocated for hostcalls"))
}

/// The trap, and where it happened when the component kept its function names.
fn trap_message(trap: &Trap, error: &wasmtime::Error) -> String {
    let place = error.downcast_ref::<WasmBacktrace>().and_then(|backtrace| {
        backtrace
            .frames()
            .iter()
            .find_map(|frame| frame.func_name().map(str::to_owned))
    });
    match place {
        Some(function) => format!("{trap} (in {function})"),
        None => trap.to_string(),
    }
}

/// A validated plugin, ready for calls from any thread. Holding an `Arc<Plugin>` keeps this
/// version usable while a newer one is installed.
pub struct Plugin {
    pub info: PluginInfo,
    /// Hex sha256 of the `.wasm` file: the plugin version decisions record.
    pub sha256: String,
    samples: Vec<Sample>,
    from_cache: bool,
    adapter: Adapter,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Plugin")
            .field("info", &self.info)
            .field("sha256", &self.sha256)
            .field("from_cache", &self.from_cache)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub(crate) fn new(
        info: PluginInfo,
        sha256: String,
        samples: Vec<Sample>,
        from_cache: bool,
        adapter: Adapter,
        shared: Arc<Shared>,
    ) -> Plugin {
        Plugin {
            info,
            sha256,
            samples,
            from_cache,
            adapter,
            shared,
        }
    }

    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }

    /// The sample payloads the plugin ships (all of them passed at installation).
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The contract version the host speaks to the plugin with: `1.0.0`, or `1.1.0` for an
    /// uplink adapter built against 1.1 or later.
    pub fn contract(&self) -> &'static str {
        self.adapter.contract()
    }

    /// Whether the plugin reports rectifications and the province's daily counts (an uplink
    /// adapter of contract 1.1 or later). A 1.0 uplink adapter reports ratings only.
    pub fn reports_rectifications(&self) -> bool {
        self.kind() == PluginKind::Uplink && self.contract() != "1.0.0"
    }

    /// Whether the code came from the on-disk cache rather than a fresh compile.
    pub fn compiled_from_cache(&self) -> bool {
        self.from_cache
    }

    /// Decodes one payload as received from a device or business system.
    pub fn decode(&self, content_type: &str, payload: &[u8]) -> Result<Vec<Decoded>, CallError> {
        self.require_inbound("decode")?;
        if payload.len().saturating_add(content_type.len()) > self.shared.limits.max_input_bytes {
            return Err(self.input_too_large());
        }
        self.run(|store| {
            self.adapter
                .decode(store, content_type, payload, &self.shared.limits)
        })
    }

    /// Builds the provincial request for a batch of ratings.
    pub fn encode(&self, batch: &UplinkBatch) -> Result<UplinkRequest, CallError> {
        self.require_uplink("encode")?;
        self.run(|store| self.adapter.encode(store, batch, &self.shared.limits))
    }

    /// Builds the provincial request for a batch of ratings and rectifications. A 1.0 plugin
    /// takes ratings only: a rectification makes the call [`CallError::Unsupported`].
    pub fn encode_records(&self, batch: &UplinkRecords) -> Result<UplinkRequest, CallError> {
        self.require_uplink("encode")?;
        self.run(|store| {
            self.adapter
                .encode_records(store, batch, &self.shared.limits)
        })
    }

    /// Builds the request asking the province for its counts of `day` (China date).
    /// [`CallError::Unsupported`] for a 1.0 plugin.
    pub fn count_query(&self, day: chrono::NaiveDate) -> Result<UplinkRequest, CallError> {
        self.require_uplink("ask for counts")?;
        self.run(|store| self.adapter.count_query(store, day, &self.shared.limits))
    }

    /// Reads the province's answer (HTTP status and body) to a count query.
    pub fn parse_counts(&self, status: u16, body: &[u8]) -> Result<Vec<DayCount>, CallError> {
        self.require_uplink("read counts")?;
        if body.len() > self.shared.limits.max_input_bytes {
            return Err(self.input_too_large());
        }
        self.run(|store| {
            self.adapter
                .parse_counts(store, status, body, &self.shared.limits)
        })
    }

    /// Reads the province's answer (HTTP status and body) to a request.
    pub fn parse_ack(&self, status: u16, body: &[u8]) -> Result<Ack, CallError> {
        self.require_uplink("parse acknowledgements")?;
        if body.len() > self.shared.limits.max_input_bytes {
            return Err(self.input_too_large());
        }
        self.run(|store| {
            self.adapter
                .parse_ack(store, status, body, &self.shared.limits)
        })
    }

    fn run<R>(
        &self,
        call: impl FnOnce(&mut Store<CallState>) -> Result<R, Failure>,
    ) -> Result<R, CallError> {
        run_call(&self.shared, &self.info.id, &self.info.version, call)
    }

    fn input_too_large(&self) -> CallError {
        CallError::InputTooLarge {
            limit: self.shared.limits.max_input_bytes,
        }
    }

    fn require_inbound(&self, operation: &'static str) -> Result<(), CallError> {
        if self.kind().is_inbound() {
            Ok(())
        } else {
            Err(self.wrong_kind(operation))
        }
    }

    fn require_uplink(&self, operation: &'static str) -> Result<(), CallError> {
        if self.kind() == PluginKind::Uplink {
            Ok(())
        } else {
            Err(self.wrong_kind(operation))
        }
    }

    fn wrong_kind(&self, operation: &'static str) -> CallError {
        CallError::WrongKind {
            plugin: self.info.id.clone(),
            kind: self.kind(),
            operation,
        }
    }
}
