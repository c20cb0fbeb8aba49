//! Backups taken while the platform serves, and their restore into a fresh folder (`hcp
//! backup`, `hcp restore`, `POST /backup` on the operations routes).
//!
//! A backup is the event log up to its head when the backup began (see
//! `hcp_core::store::backup`), verified once written, with copies of the adapters and the
//! generated reports beside it, and the key ring as it is when the backup ends (`keyring.json`:
//! the keys wrapped under the personal-data key, so that a restore opens what was not erased and
//! nothing that was). The personal-data key is not copied: it is backed up apart from the data
//! it opens (the operator's guide says how), and a restore takes it as configured.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hcp_core::store::Store;
use hcp_core::store::backup::{self, Manifest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a running platform can be asked for a backup: written into its data folder when it
/// starts serving, removed when it stops.
pub const SERVING_FILE: &str = "serving.json";

/// The addresses of a running platform, as `hcp backup` finds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Serving {
    pub url: String,
    pub ops_url: Option<String>,
    pub pid: u32,
}

/// What `POST /backup` takes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BackupRequest {
    /// Absolute path of a new (or empty) folder on the platform's machine.
    #[schema(max_length = 2000)]
    pub to: String,
    /// An earlier backup folder: the new one holds only what came after it (incremental).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub since: Option<String>,
}

impl BackupRequest {
    /// Refuses paths past the API's cap on a text.
    pub fn check(&self) -> anyhow::Result<()> {
        let cap = hcp_core::validate::caps::TEXT;
        for path in std::iter::once(&self.to).chain(self.since.as_ref()) {
            anyhow::ensure!(
                path.chars().count() <= cap,
                "a path of more than {cap} characters"
            );
        }
        Ok(())
    }
}

/// What a backup wrote.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BackupSummary {
    pub to: String,
    /// The backup holds the entries after this one (0: a full backup).
    pub after: u64,
    /// Its last entry.
    pub last: u64,
    pub entries: u64,
    pub bytes: u64,
    /// Entries by kind of event.
    #[schema(value_type = Object)]
    pub events: std::collections::BTreeMap<String, u64>,
    /// Adapter files and reports copied beside the log.
    pub files: u64,
    /// Keys of the key ring written (wrapped) into `keyring.json`.
    pub keys: u64,
}

/// The key ring's file in a backup.
pub const KEY_RING_FILE: &str = "keyring.json";

/// A key of the ring as a backup keeps it: wrapped under the personal-data key.
#[derive(Debug, Serialize, Deserialize)]
struct BackedUpKey {
    id: String,
    /// base64 of nonce ‖ wrapped key.
    wrapped: String,
}

/// Writes the ring's keys (wrapped) into `to`; how many. Taken after the log, so every key
/// destroyed by an entry of the backup is already gone from it.
fn write_key_ring(store: &Store, to: &Path) -> anyhow::Result<u64> {
    use base64::Engine as _;
    let ring = store
        .pii()
        .ring()
        .context("the store has no key ring to back up")?;
    let keys: Vec<BackedUpKey> = ring
        .export()?
        .into_iter()
        .map(|(id, wrapped)| BackedUpKey {
            id,
            wrapped: base64::engine::general_purpose::STANDARD.encode(wrapped),
        })
        .collect();
    std::fs::write(to.join(KEY_RING_FILE), serde_json::to_vec(&keys)?)
        .with_context(|| format!("writing the key ring into {}", to.display()))?;
    Ok(keys.len() as u64)
}

/// Takes the key ring of the backup `from` into the (closed) store in `store_dir`; how many keys.
fn read_key_ring(from: &Path, store_dir: &Path, pii: hcp_core::pii::PiiKey) -> anyhow::Result<u64> {
    use base64::Engine as _;
    let path = from.join(KEY_RING_FILE);
    if !path.exists() {
        // A backup from before the key ring: its values are sealed under the personal-data key.
        tracing::warn!(backup = %from.display(), "the backup holds no key ring");
        return Ok(0);
    }
    let keys: Vec<BackedUpKey> = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{} does not parse", path.display()))?;
    let keys = keys
        .into_iter()
        .map(|key| {
            base64::engine::general_purpose::STANDARD
                .decode(&key.wrapped)
                .map(|wrapped| (key.id, wrapped))
        })
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds a key that is not base64", path.display()))?;
    let db = hcp_core::store::open_sled(store_dir)?;
    let pii = pii.with_ring(
        Box::new(hcp_core::store::LocalKeys::new(
            db.open_tree(hcp_core::store::KEY_RING_TREE)?,
        )),
        None,
    );
    let taken = pii
        .ring()
        .context("a key ring")?
        .import(&keys)
        .with_context(|| {
            format!(
                "the keys of {} do not open under this personal-data key: is it the key of the backed-up platform?",
                path.display()
            )
        })?;
    db.flush()?;
    Ok(taken as u64)
}

/// Writes a backup of `store` into `to` (the entries after those of the backup `since`, or
/// all of them), copies the adapters of `plugins_dir` and the reports of `reports_dir` beside
/// it, and verifies what it wrote. Writers go on meanwhile. Blocking.
pub fn backup(
    store: &Store,
    plugins_dir: &Path,
    reports_dir: &Path,
    to: &Path,
    since: Option<&Path>,
) -> anyhow::Result<BackupSummary> {
    anyhow::ensure!(
        to.is_absolute(),
        "{} is not an absolute path: name the backup folder in full",
        to.display()
    );
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty: each backup goes into a folder of its own",
            to.display()
        );
    }
    let after = match since {
        Some(since) => {
            let earlier = backup::verify(since)
                .with_context(|| format!("checking the earlier backup {}", since.display()))?;
            earlier.last
        }
        None => 0,
    };
    store
        .backup(to, after)
        .with_context(|| format!("writing the backup into {}", to.display()))?;
    let mut files = copy_files(plugins_dir, &to.join("plugins"))?;
    files += copy_files(reports_dir, &to.join("reports"))?;
    let keys = write_key_ring(store, to)?;
    let manifest: Manifest = backup::verify(to)
        .with_context(|| format!("verifying the backup just written into {}", to.display()))?;
    tracing::info!(to = %to.display(), after = manifest.after, last = manifest.last, files, "backup written and verified");
    Ok(BackupSummary {
        to: to.display().to_string(),
        after: manifest.after,
        last: manifest.last,
        entries: manifest.entries(),
        bytes: manifest.bytes,
        events: manifest.events,
        files,
        keys,
    })
}

/// Copies the files of `from` (recursively) into `to`; how many. A missing `from` copies none.
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<u64> {
    if !from.is_dir() {
        return Ok(0);
    }
    let mut copied = 0;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().context("a file name")?);
        if path.is_dir() {
            copied += copy_files(&path, &target)?;
        } else if path.is_file() {
            std::fs::create_dir_all(to)?;
            std::fs::copy(&path, &target)
                .with_context(|| format!("copying {} into the backup", path.display()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Restores the backups `from` (a full one, then the incremental ones that follow it) into the
/// new data folder `data`: the store, the adapters and the reports of the last backup. Returns
/// the last entry restored. Blocking.
pub fn restore(
    from: &[PathBuf],
    data: &Path,
    store_dir: &Path,
    pii: hcp_core::pii::PiiKey,
    options: hcp_core::store::StoreOptions,
) -> anyhow::Result<u64> {
    for folder in ["plugins", "reports"] {
        let path = data.join(folder);
        if path.exists() && std::fs::read_dir(&path)?.next().is_some() {
            anyhow::bail!(
                "{} is not empty: a restore goes into a fresh data folder",
                path.display()
            );
        }
    }
    let last = backup::restore(
        from,
        store_dir,
        pii.clone(),
        std::sync::Arc::new(hcp_core::clock::SystemClock),
        options,
    )?;
    if let Some(latest) = from.last() {
        // The last backup's ring: every key its entries did not destroy.
        let keys = read_key_ring(latest, store_dir, pii)?;
        tracing::info!(keys, "key ring restored");
        copy_files(&latest.join("plugins"), &data.join("plugins"))?;
        copy_files(&latest.join("reports"), &data.join("reports"))?;
    }
    Ok(last)
}
