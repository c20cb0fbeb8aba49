//! Wiring of the WASM adapters: the registry built from the configuration, the installed folder
//! loaded at start-up (start-up is the first reload) and watched afterwards, so that a vendor's
//! file dropped into the folder is validated and swapped in while the platform serves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hcp_core::event::{AdapterFile, AuditEntry};
use hcp_core::store::{Command, Outcome, Store};
use hcp_plugins::{Backoff, HostOptions, Limits, PluginHost, Registry};

use crate::app::config::Config;

/// Builds the host and the registry with the configured limits. Blocking (starts the engine).
pub fn registry(config: &Config) -> anyhow::Result<(PluginHost, Registry)> {
    let plugins = &config.plugins;
    let host = PluginHost::new(HostOptions {
        limits: Limits {
            fuel: plugins.fuel,
            timeout: Duration::from_millis(plugins.timeout_ms),
            memory_bytes: plugins.memory_mb * 1024 * 1024,
            ..Limits::default()
        },
        cache_dir: Some(config.plugin_cache_dir()),
        trusted_keys: config.trusted_keys()?,
        require_signature: plugins.require_signature,
    })
    .context("starting the plugin host")?;
    let registry = Registry::new(
        host.clone(),
        Backoff {
            threshold: plugins.quarantine_after.max(1),
            initial: Duration::from_secs(plugins.quarantine_secs.max(1)),
            max: Duration::from_secs(3600),
        },
    );
    Ok((host, registry))
}

/// Installs or removes the plugins behind changed paths of the folder. Files that are not
/// `*.wasm` or `*.wasm.sig` are ignored; a signature change reloads its adapter. Every install
/// is recorded in the audit trail. Blocking.
pub fn reload_paths(registry: &Registry, store: &Store, paths: &BTreeSet<PathBuf>, when: Share) {
    let mut adapters = BTreeSet::new();
    for path in paths {
        let name = path.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".sig") {
            adapters.insert(PathBuf::from(stem));
        } else if name.ends_with(".wasm") {
            adapters.insert(path.clone());
        }
    }
    for path in adapters {
        let origin = origin_of(&path);
        if !path.exists() {
            let removed: Vec<String> = registry
                .status()
                .into_iter()
                .filter(|status| status.origin == origin)
                .map(|status| status.id)
                .collect();
            for id in removed {
                if registry.remove(&id) {
                    tracing::info!(plugin = %id, file = %origin, "adapter removed with its file");
                    let mut commands = vec![audit_command("plugin_removed", &id, &origin)];
                    if store.shared() && mentioned(store, &origin).is_some_and(|sha| sha.is_some())
                    {
                        commands.push(Command::RemoveAdapter {
                            actor: "system".into(),
                            file: origin.clone(),
                        });
                    }
                    record(store, commands);
                }
            }
            continue;
        }
        install_file(registry, store, &path, when);
    }
}

/// Why an adapter file is being installed, which decides whether a shared partition's log
/// takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// At start-up: the log takes a file it has never mentioned (added while the node was
    /// down); one it knows with other bytes is a stale copy, which the catch-up replaces.
    StartUp,
    /// A change of the folder or an upload: the log takes the file unless it holds these very
    /// bytes already (this node wrote them following the log).
    Change,
}

/// What the log last said of `file`: `Some(Some(sha256))` installed, `Some(None)` removed,
/// `None` never mentioned (or not readable).
fn mentioned(store: &Store, file: &str) -> Option<Option<String>> {
    match store.adapter_file(file) {
        Ok(record) => record.map(|record| record.adapter.map(|adapter| adapter.sha256)),
        Err(error) => {
            tracing::error!(%error, file, "cannot read what the log says of an adapter file");
            None
        }
    }
}

fn origin_of(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string())
}

/// Installs one adapter file unless the same bytes are already active from it; on a shared
/// partition the log takes it as `when` says, so that every node installs it. Blocking.
pub fn install_file(registry: &Registry, store: &Store, path: &Path, when: Share) {
    let origin = origin_of(path);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(file = %path.display(), %error, "cannot read adapter file");
            return;
        }
    };
    let signature_path = PathBuf::from(format!("{}.sig", path.display()));
    let signature = std::fs::read(&signature_path).ok();
    let sha256 = hcp_plugins::sha256_hex(&bytes);
    let unchanged = registry
        .status()
        .iter()
        .any(|status| status.origin == origin && status.sha256 == sha256);
    if unchanged {
        return;
    }
    match registry.install(&bytes, signature.as_deref(), &origin) {
        Ok(plugin) => {
            tracing::info!(
                plugin = %plugin.info.id,
                version = %plugin.info.version,
                sha256 = %plugin.sha256,
                file = %origin,
                "adapter installed"
            );
            let mut commands = vec![audit_command(
                "plugin_installed",
                &format!("{}@{}", plugin.info.id, plugin.info.version),
                &format!("sha256 {} from {origin}", plugin.sha256),
            )];
            let shared = store.shared()
                && match (when, mentioned(store, &origin)) {
                    (Share::StartUp, known) => known.is_none(),
                    (Share::Change, Some(Some(sha256))) => sha256 != plugin.sha256,
                    (Share::Change, _) => true,
                };
            if shared {
                commands.push(Command::InstallAdapter {
                    actor: "system".into(),
                    adapter: AdapterFile {
                        file: origin.clone(),
                        sha256: plugin.sha256.clone(),
                        component: BASE64.encode(&bytes),
                        signature: signature
                            .as_deref()
                            .map(|signature| BASE64.encode(signature)),
                    },
                });
            }
            record(store, commands);
        }
        Err(error) => {
            tracing::error!(file = %origin, %error, "adapter refused; the previous version keeps serving");
        }
    }
}

fn audit_command(action: &str, target: &str, detail: &str) -> Command {
    Command::Audit {
        entry: AuditEntry {
            actor: "system".into(),
            action: action.into(),
            target: target.into(),
            detail: detail.into(),
        },
    }
}

/// Records an adapter change (its audit entry and, on a shared partition, the file itself) in
/// one batch.
fn record(store: &Store, commands: Vec<Command>) {
    match store.submit(commands) {
        Ok(outcomes) => {
            for outcome in outcomes {
                if let Outcome::Rejected(error) = outcome {
                    tracing::error!(%error, "the adapter change was not recorded");
                }
            }
        }
        Err(error) => tracing::error!(%error, "cannot record the adapter change"),
    }
}

/// Installs here the adapter files other nodes of the shared partition installed, and removes
/// those they removed, as the log says: each file is written into the plugins folder (with its
/// signature) and installed with the same checks as any file; one that does not load here is
/// refused and reported, the previous version serving on. Files the log never mentioned are
/// left alone. Blocking.
pub fn follow(registry: &Registry, store: &Store, dir: &Path) {
    let records = match store.adapter_files() {
        Ok(records) => records,
        Err(error) => {
            tracing::error!(%error, "cannot read the partition's adapters from the log");
            return;
        }
    };
    let active = registry.status();
    for record in records {
        let plain = !record.file.is_empty()
            && !record.file.starts_with('.')
            && record.file.ends_with(".wasm")
            && !record.file.contains(['/', '\\']);
        if !plain {
            tracing::error!(file = %record.file, "an adapter file name from the log is not a plain file name; ignored");
            continue;
        }
        let path = dir.join(&record.file);
        let signature_path = PathBuf::from(format!("{}.sig", path.display()));
        match record.adapter {
            Some(adapter) => {
                if active
                    .iter()
                    .any(|status| status.origin == record.file && status.sha256 == adapter.sha256)
                {
                    continue;
                }
                let decoded = BASE64.decode(&adapter.component).and_then(|component| {
                    adapter
                        .signature
                        .as_deref()
                        .map(|signature| BASE64.decode(signature))
                        .transpose()
                        .map(|signature| (component, signature))
                });
                let Ok((component, signature)) = decoded else {
                    tracing::error!(file = %record.file, "an adapter from the log does not decode; ignored");
                    continue;
                };
                let written = std::fs::create_dir_all(dir)
                    .map_err(anyhow::Error::from)
                    .and_then(|()| match &signature {
                        Some(signature) => write_atomic(&signature_path, signature),
                        None if signature_path.exists() => {
                            std::fs::remove_file(&signature_path).map_err(anyhow::Error::from)
                        }
                        None => Ok(()),
                    })
                    .and_then(|()| write_atomic(&path, &component));
                if let Err(error) = written {
                    tracing::error!(file = %record.file, error = %format!("{error:#}"), "cannot write an adapter from the log into the folder");
                    continue;
                }
                tracing::info!(file = %record.file, sha256 = %adapter.sha256, "adapter installed on another node, installing it here");
                install_file(registry, store, &path, Share::Change);
            }
            None => {
                if !path.exists() {
                    continue;
                }
                tracing::info!(file = %record.file, "adapter removed on another node, removing it here");
                let _ = std::fs::remove_file(&signature_path);
                if let Err(error) = std::fs::remove_file(&path) {
                    tracing::error!(file = %record.file, %error, "cannot remove an adapter the log says was removed");
                    continue;
                }
                reload_paths(registry, store, &BTreeSet::from([path]), Share::Change);
            }
        }
    }
}

/// Every adapter file of the folder, for the first load.
pub fn installed_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
                .collect()
        })
        .unwrap_or_default()
}

/// Watches the adapters folder and installs or removes what changed. Returns the watcher;
/// dropping it stops the watching.
pub fn watch(
    dir: &Path,
    registry: Registry,
    store: Store,
    settle: Duration,
) -> anyhow::Result<notify::RecommendedWatcher> {
    crate::app::watch::watch_folder(dir, false, settle, "plugins", move |changed| {
        reload_paths(&registry, &store, &changed, Share::Change)
    })
}

/// Writes an uploaded adapter into the folder (atomically), where the watcher or the caller
/// installs it; the folder stays the one truth of what is installed across restarts.
pub fn write_upload(
    dir: &Path,
    id: &str,
    bytes: &[u8],
    signature: Option<&[u8]>,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(format!("{id}.wasm"));
    if let Some(signature) = signature {
        write_atomic(
            &PathBuf::from(format!("{}.sig", target.display())),
            signature,
        )?;
    }
    write_atomic(&target, bytes)?;
    Ok(target)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = path.with_extension("upload-tmp");
    std::fs::write(&temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// `hcp plugin test FILE.wasm [PAYLOAD…]`: loads the adapter exactly as the server would
/// (same limits, same validation) and prints what it decodes from each payload file, or why it
/// fails. Returns whether everything passed. Blocking.
pub fn test_command(
    config: &Config,
    file: &Path,
    payloads: &[PathBuf],
    content_type: Option<&str>,
) -> anyhow::Result<bool> {
    let (host, _) = registry(config)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let signature = std::fs::read(format!("{}.sig", file.display())).ok();
    let started = std::time::Instant::now();
    let plugin = match host.load(&bytes, signature.as_deref()) {
        Ok(plugin) => plugin,
        Err(error) => {
            println!("REFUSED {}: {error}", file.display());
            return Ok(false);
        }
    };
    let info = &plugin.info;
    println!(
        "OK {} {} by {} ({:?}), contract {}, sha256 {}",
        info.id, info.version, info.vendor, info.kind, info.abi, plugin.sha256
    );
    println!("  models: {}", info.models.join(", "));
    println!("  {}", info.description);
    println!(
        "  imports none; own samples decoded; loaded in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut passed = true;
    for payload in payloads {
        let body =
            std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
        let content_type = content_type.unwrap_or_else(|| guess_content_type(payload));
        match plugin.decode(content_type, &body) {
            Ok(items) => {
                println!(
                    "{} ({content_type}): {} item(s)",
                    payload.display(),
                    items.len()
                );
                for item in items {
                    println!("  {}", describe_decoded(&item));
                }
            }
            Err(error) => {
                passed = false;
                println!("{} ({content_type}): FAILED {error}", payload.display());
            }
        }
    }
    Ok(passed)
}

fn guess_content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    }
}

fn describe_decoded(item: &hcp_plugins::Decoded) -> String {
    let (kind, value) = match item {
        hcp_plugins::Decoded::Rating(rating) => ("rating", serde_json::to_string(rating)),
        hcp_plugins::Decoded::Service(service) => ("service", serde_json::to_string(service)),
        hcp_plugins::Decoded::Heartbeat(beat) => ("heartbeat", serde_json::to_string(beat)),
    };
    format!("{kind} {}", value.unwrap_or_default())
}
