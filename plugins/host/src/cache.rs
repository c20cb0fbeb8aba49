//! The on-disk cache of compiled components, so that a restart loads plugins in a fraction of a
//! millisecond instead of compiling each for tens of milliseconds. Entries are keyed by the
//! plugin's sha256 and a hash of the engine's compilation settings, written atomically with a
//! sha256 of their own, and any problem with an entry means "compile again", never a failure.

use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Distinguishes temporary files written concurrently by threads of one process.
static TEMPORARY_FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) struct CodeCache {
    dir: PathBuf,
    /// Hex of a hash of `Engine::precompile_compatibility_hash`: code compiled by an engine
    /// with other settings, or by another wasmtime, never matches a name.
    engine_hash: String,
}

impl CodeCache {
    /// Opens (creating) the cache folder; `None`, logged, when it cannot be used.
    pub(crate) fn open(dir: PathBuf, engine: &Engine) -> Option<CodeCache> {
        if let Err(error) = std::fs::create_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), %error, "plugin code cache disabled: cannot create its folder");
            return None;
        }
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..8]);
        Some(CodeCache { dir, engine_hash })
    }

    fn entry(&self, sha256: &str) -> (PathBuf, PathBuf) {
        let code = self
            .dir
            .join(format!("{sha256}-{}.cwasm", self.engine_hash));
        let checksum = self
            .dir
            .join(format!("{sha256}-{}.cwasm.sha256", self.engine_hash));
        (code, checksum)
    }

    /// The cached code of the plugin with this sha256, if a sound entry exists.
    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let (code_path, checksum_path) = self.entry(sha256);
        let code = match std::fs::read(&code_path) {
            Ok(code) => code,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(path = %code_path.display(), %error, "cannot read cached plugin code; compiling");
                return None;
            }
        };
        let expected = match std::fs::read_to_string(&checksum_path) {
            Ok(expected) => expected,
            Err(error) => {
                tracing::warn!(path = %checksum_path.display(), %error, "cached plugin code has no readable checksum; compiling");
                return None;
            }
        };
        let actual = hex::encode(Sha256::digest(&code));
        if actual != expected.trim() {
            tracing::warn!(path = %code_path.display(), "cached plugin code does not match its checksum; compiling");
            return None;
        }
        match deserialize(engine, &code) {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %code_path.display(), error = %format!("{error:#}"), "cannot load cached plugin code; compiling");
                None
            }
        }
    }

    /// Writes the entry; a failure only costs a compile on the next start, so it is logged.
    pub(crate) fn store(&self, sha256: &str, component: &Component) {
        let (code_path, checksum_path) = self.entry(sha256);
        let result = component
            .serialize()
            .map_err(|error| io::Error::other(format!("{error:#}")))
            .and_then(|code| {
                // Checksum first: a reader that finds new code always finds its checksum.
                write_atomically(
                    &checksum_path,
                    hex::encode(Sha256::digest(&code)).as_bytes(),
                )?;
                write_atomically(&code_path, &code)
            });
        if let Err(error) = result {
            tracing::warn!(path = %code_path.display(), %error, "cannot write plugin code cache");
        }
    }
}

/// Loads code that [`CodeCache::store`] wrote.
///
/// This is the one unsafe call of the platform: wasmtime cannot check that serialized machine
/// code is what it once produced, so it runs whatever it is given.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, code: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `code` was written by `CodeCache::store` of this host, from a component this
    // engine compiled: the file name holds the plugin's sha256 and the engine's compatibility
    // hash (wasmtime checks its version and settings header again), and the bytes were read
    // into memory and matched against the sha256 written beside them before this call, so a
    // truncated, damaged or half-written file is never run, and the file changing after the
    // check cannot matter (we do not map the file). The cache folder must be writable by the
    // platform only, as its documentation says: the checksum detects damage, not an attacker
    // who can write there.
    unsafe { Component::deserialize(engine, code) }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMPORARY_FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written =
        std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        // Best effort: a stray temporary file is harmless, only untidy.
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Feeds `Hash` output into sha256, which, unlike std's hashers, is the same in every build.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}
