//! The plugin host: one wasmtime engine with every limit set, and the installation checks a
//! component must pass before anything calls it (size, sha256, signature, compile or cached
//! code, imports, contract world and version, self-description, its own samples).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store,
};

use crate::bindings::{self, World};
use crate::cache::CodeCache;
use crate::error::PluginError;
use crate::plugin::{CallState, Plugin, run_call};
use crate::types::{PluginInfo, PluginKind, Sample};

/// How often the epoch ticker advances the engine's epoch; the unit of [`Limits::timeout`].
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// What plugins may use. Every call gets all of the per-call limits afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget (wasmtime fuel, roughly one unit per wasm instruction).
    pub fuel: u64,
    /// Wall-clock limit, enforced with epoch interruption at a 1 ms resolution.
    pub timeout: Duration,
    /// Linear memory the plugin may grow to, in bytes.
    pub memory_bytes: usize,
    /// Largest payload (`decode`, `parse_ack`) or batch text (`encode`) handed to a plugin.
    pub max_input_bytes: usize,
    /// Most records (decoded items, samples, acknowledged ids) one call may return.
    pub max_output_items: usize,
    /// Most bytes of text and binary data one call may return. The host also stops copying
    /// out of the plugin beyond this (plus per-record overhead), so a plugin cannot make the
    /// host allocate more than its own memory holds by returning the same string many times.
    pub max_output_bytes: usize,
    /// Largest `.wasm` file accepted for installation.
    pub max_component_bytes: usize,
    /// Calls that run at once, across all plugins of the host; further calls wait for one to
    /// finish. Instances then come from wasmtime's pooling allocator, ready-made (about 13 µs
    /// faster per call here than allocating on demand); each slot reserves, but does not
    /// commit, about 8 GiB of address space. 0 allocates every instance on demand, uncapped.
    pub max_concurrent_calls: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // Sized for the largest legitimate call, not a typical one: a 10,000-record
            // upload (the output limit, about 2.4 MiB of JSON) costs about 240 million fuel
            // with zw-e7, a 4 KiB upload about 400 thousand (see benches/decode.rs). Four
            // times the former still stops a runaway loop after about 70 ms here, before the
            // timeout, and fuel, unlike time, fails the same way on every replay.
            fuel: 1_000_000_000,
            timeout: Duration::from_millis(200),
            memory_bytes: 64 << 20,
            max_input_bytes: 4 << 20,
            max_output_items: 10_000,
            max_output_bytes: 16 << 20,
            max_component_bytes: 32 << 20,
            // Far more than two cores run at once; a call waits only behind 64 others.
            max_concurrent_calls: 64,
        }
    }
}

/// How the host is set up. Build it once at startup from the configuration.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    pub limits: Limits,
    /// Where compiled components are kept between runs (`<sha256>-<engine>.cwasm`). `None`
    /// compiles every component on every start. The folder must be writable only by the
    /// platform: code found there is run after its checksum matches.
    pub cache_dir: Option<PathBuf>,
    /// ed25519 public keys whose signatures are accepted. A plugin's signature is the ed25519
    /// signature of the `.wasm` file's exact bytes: 64 raw bytes, shipped as `<file>.wasm.sig`.
    pub trusted_keys: Vec<[u8; 32]>,
    /// Refuse unsigned plugins. Needs at least one trusted key.
    pub require_signature: bool,
}

/// The one place plugins are loaded and run: a wasmtime engine with fuel and epoch
/// interruption, and a ticker thread advancing the epoch every millisecond. Cheap to clone;
/// the ticker stops when the last clone and the last plugin loaded through it are dropped.
///
/// Every method blocks (compiling a component takes tens of milliseconds, a call up to the
/// timeout): call them from blocking threads, never from an async task directly.
#[derive(Clone)]
pub struct PluginHost {
    shared: Arc<Shared>,
}

/// What the host and every plugin it loaded share.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) limits: Limits,
    /// Epoch ticks a call may run before it is interrupted.
    deadline_ticks: u64,
    /// Bytes wasmtime may copy out of a guest for one call's results.
    hostcall_fuel: usize,
    cache: Option<CodeCache>,
    trusted_keys: Vec<VerifyingKey>,
    require_signature: bool,
    /// Free pooling slots; `None` without pooling.
    slots: Option<Slots>,
    _ticker: EpochTicker,
}

impl Shared {
    /// Waits for a pooling slot; hold the guard until the call's store is dropped.
    pub(crate) fn call_slot(&self) -> Option<SlotGuard<'_>> {
        self.slots.as_ref().map(Slots::acquire)
    }

    /// A store for exactly one call: fresh fuel, deadline, memory limiter and copy budget.
    pub(crate) fn new_store(&self) -> wasmtime::Result<Store<CallState>> {
        let mut store = Store::new(&self.engine, CallState::new(self.limits.memory_bytes));
        store.limiter(|state| &mut state.limiter);
        store.set_fuel(self.limits.fuel)?;
        store.set_epoch_deadline(self.deadline_ticks);
        store.epoch_deadline_trap();
        store.set_hostcall_fuel(self.hostcall_fuel);
        Ok(store)
    }
}

impl PluginHost {
    pub fn new(options: HostOptions) -> Result<PluginHost, PluginError> {
        let HostOptions {
            limits,
            cache_dir,
            trusted_keys,
            require_signature,
        } = options;
        check_limits(&limits)?;
        if require_signature && trusted_keys.is_empty() {
            return Err(PluginError::Options(
                "require_signature is set but no trusted keys are configured".to_owned(),
            ));
        }
        let trusted_keys = trusted_keys
            .iter()
            .enumerate()
            .map(|(index, key)| {
                VerifyingKey::from_bytes(key).map_err(|_| {
                    PluginError::Options(format!(
                        "trusted key {index} ({}) is not a valid ed25519 public key",
                        hex::encode(key)
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            .parallel_compilation(true);
        if limits.max_concurrent_calls > 0 {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(
                limits.max_concurrent_calls,
            )));
        }
        let engine =
            Engine::new(&config).map_err(|error| PluginError::Engine(format!("{error:#}")))?;
        let cache = cache_dir.and_then(|dir| CodeCache::open(dir, &engine));
        let ticker = EpochTicker::start(engine.clone()).map_err(|error| {
            PluginError::Engine(format!("could not start the epoch ticker thread: {error}"))
        })?;

        let deadline_ticks = u64::try_from(limits.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        // List elements are counted at their host size by wasmtime (a few hundred bytes per
        // record), so the copy budget adds room for that on top of the text limit.
        let hostcall_fuel = limits
            .max_output_bytes
            .saturating_add(limits.max_output_items.saturating_mul(1024));
        let slots =
            (limits.max_concurrent_calls > 0).then(|| Slots::new(limits.max_concurrent_calls));
        Ok(PluginHost {
            shared: Arc::new(Shared {
                engine,
                limits,
                deadline_ticks,
                hostcall_fuel,
                cache,
                trusted_keys,
                require_signature,
                slots,
                _ticker: ticker,
            }),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Loads and validates a plugin, in this order: size, sha256, signature, compile (or the
    /// cached code), imports (any import is refused), contract world and major version by
    /// export names, one instance for `describe` (abi major 1, id format, kind matching the
    /// world) and `samples`, then every sample through a normal call (`decode`, or `parse_ack`
    /// with status 200 for uplink plugins). Nothing is installed here: see `Registry::install`.
    pub fn load(&self, bytes: &[u8], signature: Option<&[u8]>) -> Result<Arc<Plugin>, PluginError> {
        let shared = &self.shared;
        if bytes.len() > shared.limits.max_component_bytes {
            return Err(PluginError::TooLarge {
                size: bytes.len(),
                limit: shared.limits.max_component_bytes,
            });
        }
        let sha256 = sha256_hex(bytes);
        self.check_signature(bytes, signature)?;
        let (component, from_cache) = self.compile(bytes, &sha256)?;

        let component_type = component.component_type();
        let imports: Vec<String> = component_type
            .imports(&shared.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        if !imports.is_empty() {
            return Err(PluginError::Imports { names: imports });
        }
        let exports: Vec<String> = component_type
            .exports(&shared.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let (world, minor) = detect_world(&exports)?;

        let linker = Linker::<CallState>::new(&shared.engine);
        let instance_pre =
            linker
                .instantiate_pre(&component)
                .map_err(|error| PluginError::Instantiate {
                    reason: format!("{error:#}"),
                })?;
        let adapter = bindings::v1::Adapter::new(instance_pre, world, minor).map_err(|error| {
            PluginError::ContractMismatch {
                world: world.name(),
                reason: format!("{error:#}"),
            }
        })?;

        let label = format!("sha256:{}", &sha256[..12]);
        let (info, samples) = run_call(shared, &label, "(version unknown)", |store| {
            adapter.describe(store, &shared.limits)
        })
        .map_err(|error| PluginError::Describe(Box::new(error)))?;
        check_info(&info, world)?;

        let plugin = Arc::new(Plugin::new(
            info,
            sha256,
            samples,
            from_cache,
            adapter,
            Arc::clone(shared),
        ));
        check_samples(&plugin)?;
        Ok(plugin)
    }

    fn check_signature(&self, bytes: &[u8], signature: Option<&[u8]>) -> Result<(), PluginError> {
        let shared = &self.shared;
        let Some(signature) = signature else {
            return if shared.require_signature {
                Err(PluginError::Unsigned)
            } else {
                Ok(())
            };
        };
        if shared.trusted_keys.is_empty() {
            tracing::warn!("plugin signature ignored: no trusted keys are configured");
            return Ok(());
        }
        let signature =
            Signature::from_slice(signature).map_err(|_| PluginError::BadSignature {
                reason: format!(
                    "an ed25519 signature is 64 raw bytes; this one is {} bytes",
                    signature.len()
                ),
            })?;
        if shared
            .trusted_keys
            .iter()
            .any(|key| key.verify_strict(bytes, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(PluginError::BadSignature {
                reason: format!(
                    "it does not verify against any of the {} trusted keys (it must sign the \
                     .wasm file's exact bytes)",
                    shared.trusted_keys.len()
                ),
            })
        }
    }

    /// The compiled component, from the cache when it holds this exact code for this engine.
    fn compile(&self, bytes: &[u8], sha256: &str) -> Result<(Component, bool), PluginError> {
        let shared = &self.shared;
        if let Some(component) = shared
            .cache
            .as_ref()
            .and_then(|cache| cache.load(&shared.engine, sha256))
        {
            return Ok((component, true));
        }
        if wasmtime::Engine::detect_precompiled(bytes).is_some() {
            // Precompiled code from elsewhere would run unchecked: only source is accepted.
            return Err(PluginError::NotAComponent {
                reason: "this is precompiled wasmtime code; install the .wasm component".to_owned(),
            });
        }
        if bytes.starts_with(b"\0asm\x01\0\0\0") {
            return Err(PluginError::NotAComponent {
                reason: "this is a core webassembly module; wrap it into a component with \
                         `wasm-tools component new`"
                    .to_owned(),
            });
        }
        let started = Instant::now();
        let component =
            Component::new(&shared.engine, bytes).map_err(|error| PluginError::NotAComponent {
                reason: format!("{error:#}"),
            })?;
        tracing::debug!(sha256, elapsed = ?started.elapsed(), "compiled plugin");
        if let Some(cache) = &shared.cache {
            cache.store(sha256, &component);
        }
        Ok((component, false))
    }
}

/// The hex sha256 of a plugin file, as [`Plugin::sha256`] and the status report it: compare it
/// with an installed plugin's to skip reinstalling the same bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Which world a component implements and the minor version of the contract its exports carry,
/// from its export names, refusing majors this host has no bindings for.
fn detect_world(exports: &[String]) -> Result<(World, u64), PluginError> {
    let mut found = Vec::new();
    for name in exports {
        let Some(rest) = name.strip_prefix("haochaping:adapter/") else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let world = match interface {
            "inbound-adapter" => World::Inbound,
            "uplink-adapter" => World::Uplink,
            _ => continue,
        };
        found.push((world, version));
    }
    match found.as_slice() {
        [] => Err(PluginError::NoAdapterWorld {
            exports: exports.to_vec(),
        }),
        [(world, version)] => {
            if major(version) == Some(bindings::v1::MAJOR) {
                Ok((*world, minor(version).unwrap_or(0)))
            } else if version.is_empty() {
                Err(PluginError::UnsupportedContract {
                    found: "an unversioned contract".to_owned(),
                })
            } else {
                Err(PluginError::UnsupportedContract {
                    found: (*version).to_owned(),
                })
            }
        }
        _ => Err(PluginError::ContractMismatch {
            world: "inbound or uplink",
            reason: "it exports both adapter interfaces; a plugin implements exactly one world"
                .to_owned(),
        }),
    }
}

/// The minor version of `MAJOR.MINOR.PATCH[-pre][+build]`.
fn minor(version: &str) -> Option<u64> {
    major(version)?;
    let (core, _) = version.split_once(['-', '+']).unwrap_or((version, ""));
    core.split('.').nth(1)?.parse().ok()
}

/// The major version of `MAJOR.MINOR.PATCH[-pre][+build]`.
fn major(version: &str) -> Option<u64> {
    let (core, _) = version.split_once(['-', '+']).unwrap_or((version, ""));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|part| part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return None;
    }
    parts[0].parse().ok()
}

fn check_info(info: &PluginInfo, world: World) -> Result<(), PluginError> {
    let invalid = |reason: String| Err(PluginError::InvalidInfo { reason });
    let id_ok = !info.id.is_empty()
        && info.id.len() <= 64
        && info
            .id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !info.id.starts_with('-')
        && !info.id.ends_with('-');
    if !id_ok {
        return invalid(format!(
            "id {:?} must be 1 to 64 lowercase letters, digits and inner `-` (e.g. hx-pj200)",
            info.id
        ));
    }
    if major(&info.version).is_none() {
        return invalid(format!(
            "version {:?} of {} must be MAJOR.MINOR.PATCH (e.g. 1.2.0)",
            info.version, info.id
        ));
    }
    match major(&info.abi) {
        Some(bindings::v1::MAJOR) => {}
        Some(_) => {
            return Err(PluginError::UnsupportedContract {
                found: info.abi.clone(),
            });
        }
        None => {
            return invalid(format!(
                "abi {:?} of {} must be the contract version it was built against (e.g. 1.0.0)",
                info.abi, info.id
            ));
        }
    }
    let kind_fits = match world {
        World::Inbound => info.kind.is_inbound(),
        World::Uplink => info.kind == PluginKind::Uplink,
    };
    if !kind_fits {
        return invalid(format!(
            "{} says it is a {} adapter but implements the {} world",
            info.id,
            info.kind,
            world.name()
        ));
    }
    Ok(())
}

/// Runs every sample the plugin ships through a normal call; one failure refuses the plugin.
fn check_samples(plugin: &Plugin) -> Result<(), PluginError> {
    for (
        index,
        Sample {
            content_type,
            payload,
        },
    ) in plugin.samples().iter().enumerate()
    {
        let result = if plugin.kind().is_inbound() {
            plugin.decode(content_type, payload).map(drop)
        } else {
            plugin.parse_ack(200, payload).map(drop)
        };
        if let Err(error) = result {
            return Err(PluginError::SampleFailed {
                plugin: plugin.info.id.clone(),
                version: plugin.info.version.clone(),
                index,
                error: Box::new(error),
            });
        }
    }
    Ok(())
}

fn check_limits(limits: &Limits) -> Result<(), PluginError> {
    let problem = if limits.fuel == 0 {
        Some("fuel must be above 0")
    } else if limits.timeout < EPOCH_TICK {
        Some("timeout must be at least 1 ms")
    } else if limits.memory_bytes < 64 << 10 {
        Some("memory_bytes must be at least one wasm page (65536)")
    } else if limits.max_input_bytes == 0
        || limits.max_output_items == 0
        || limits.max_output_bytes == 0
        || limits.max_component_bytes == 0
    {
        Some("size limits must be above 0")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(PluginError::Options(problem.to_owned())),
        None => Ok(()),
    }
}

/// Core instances, memories and tables a component may hold: a component made by
/// `wasm-tools component new` from one Rust module has one or a few of each.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

/// A pool sized so that `slots` components can always be instantiated at once; [`Slots`]
/// keeps calls from asking for more, so the pool never runs out.
fn pooling(slots: u32) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT));
    pool
}

/// A counting semaphore over the pool's component slots.
struct Slots {
    free: Mutex<u32>,
    released: Condvar,
}

impl Slots {
    fn new(count: u32) -> Slots {
        Slots {
            free: Mutex::new(count),
            released: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, u32> {
        // A bare counter: consistent after any panic.
        self.free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.lock();
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *free -= 1;
        SlotGuard { slots: self }
    }
}

/// One taken slot, given back on drop.
pub(crate) struct SlotGuard<'a> {
    slots: &'a Slots,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.slots.lock() += 1;
        self.slots.released.notify_one();
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so that deadlines expire; stops on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("hcp-plugin-epoch".to_owned())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread wakes within one tick; a panic there has nothing left to report.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_versions() {
        for (version, expected) in [
            ("1.0.0", Some(0)),
            ("1.1.0", Some(1)),
            ("1.12.3-rc.1", Some(12)),
            ("1.1", None),
        ] {
            assert_eq!(minor(version), expected, "{version}");
        }
    }

    #[test]
    fn major_versions() {
        for (version, expected) in [
            ("1.0.0", Some(1)),
            ("1.2.3-rc.1", Some(1)),
            ("2.0.0+build.5", Some(2)),
            ("1.0", None),
            ("", None),
            ("v1.0.0", None),
            ("1..0", None),
        ] {
            assert_eq!(major(version), expected, "{version}");
        }
    }

    #[test]
    fn worlds_by_export_name() {
        let names = |list: &[&str]| {
            list.iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>()
        };
        let check = |exports: &[&str], expected: &str| {
            let found = match detect_world(&names(exports)) {
                Ok((world, minor)) => format!("{} 1.{minor}", world.name()),
                Err(error) => error.to_string(),
            };
            assert_eq!(found, expected, "{exports:?}");
        };
        check(
            &[
                "haochaping:adapter/types@1.0.0",
                "haochaping:adapter/inbound-adapter@1.0.0",
            ],
            "inbound 1.0",
        );
        check(&["haochaping:adapter/uplink-adapter@1.3.1"], "uplink 1.3");
        check(&["haochaping:adapter/uplink-adapter@1.1.0"], "uplink 1.1");
        check(
            &["haochaping:adapter/inbound-adapter@2.0.0"],
            "plugin is built against contract 2.0.0; this platform supports 1.x",
        );
        check(
            &["wasi:cli/run@0.2.0"],
            "plugin exports no haochaping:adapter/inbound-adapter or uplink-adapter interface \
             (it exports: wasi:cli/run@0.2.0)",
        );
        check(
            &[
                "haochaping:adapter/inbound-adapter@1.0.0",
                "haochaping:adapter/uplink-adapter@1.0.0",
            ],
            "plugin does not implement the inbound or uplink world of contract 1.x: it exports \
             both adapter interfaces; a plugin implements exactly one world",
        );
    }
}
