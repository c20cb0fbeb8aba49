//! Backups of the event log, taken while the platform serves, and their restore.
//!
//! The log is the record; everything else is projected from it. A backup holds the entries'
//! stored bytes from one sequence number to the log's head as it was when the backup began:
//! the log only grows, so nothing below that head changes while the backup reads, and writers
//! never wait for it. A restore projects the entries into a fresh folder exactly as a rebuild
//! projects them (the same path as a node catching up with a shared log), checking every link
//! of the hash chain on the way, so the restored store is the original's state at that point.
//!
//! A backup is a folder: `manifest.json` (what it holds and how to check it) and `log.bin`
//! (`HCPLOG1\n`, then per entry its sequence number as u64 and its length as u32, big-endian,
//! and its bytes). A full backup starts at entry 1; an incremental one right after the last
//! entry of the backup it follows, whose hash it names, so a chain of backups is checked link
//! by link like the log itself.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::journal::{Journal, JournalBlock, JournalError};
use super::{EventLog as _, Store, StoreError, StoreOptions, chain, keys, tree};
use crate::clock::Clock;
use crate::event::LogEntry;
use crate::pii::PiiKey;

/// The manifest's file name in a backup folder.
pub const MANIFEST: &str = "manifest.json";
/// The entries' file name in a backup folder.
pub const LOG_FILE: &str = "log.bin";
const MAGIC: &[u8] = b"HCPLOG1\n";
const FORMAT: u32 = 1;

/// What a backup holds and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: DateTime<Utc>,
    /// The backup holds the entries after this one (0: a full backup, from entry 1).
    pub after: u64,
    /// Its last entry: the log's head when the backup began.
    pub last: u64,
    /// Hash of entry `after` (empty for a full backup): the link to the backup it follows.
    pub after_hash: String,
    /// Hash of entry `last`: the chain head a store restored from it ends on.
    pub last_hash: String,
    /// sha256 (hex) of `log.bin`.
    pub file_sha256: String,
    /// Size of `log.bin`.
    pub bytes: u64,
    /// Entries by kind of event (`rating_recorded`: 1200 …).
    pub events: BTreeMap<String, u64>,
}

impl Manifest {
    /// Entries it holds.
    pub fn entries(&self) -> u64 {
        self.last - self.after
    }
}

fn io(error: std::io::Error) -> StoreError {
    StoreError::Backup(error.to_string())
}

fn refused(problem: impl Into<String>) -> StoreError {
    StoreError::Backup(problem.into())
}

impl Store {
    /// Writes the entries after `after` up to the log's head as it is now into the folder `to`
    /// (created; it must not hold a backup already), with its manifest. Reads committed entries
    /// only: writers go on meanwhile. Blocking.
    pub fn backup(&self, to: &Path, after: u64) -> Result<Manifest, StoreError> {
        let last = self.head()?;
        if after > last {
            return Err(refused(format!(
                "the log ends at entry {last}: there is nothing after entry {after}"
            )));
        }
        if to.join(MANIFEST).exists() || to.join(LOG_FILE).exists() {
            return Err(refused(format!("{} holds a backup already", to.display())));
        }
        std::fs::create_dir_all(to).map_err(io)?;
        let log = &self.trees()?[tree::LOG];
        let after_hash = if after == 0 {
            String::new()
        } else {
            let bytes = log
                .get(after.to_be_bytes())?
                .ok_or_else(|| refused(format!("entry {after} is not in the log")))?;
            chain::hash(&bytes)
        };
        let temp = to.join(format!("{LOG_FILE}.partial"));
        let mut file = BufWriter::new(std::fs::File::create(&temp).map_err(io)?);
        let mut digest = Sha256::new();
        let mut write = |bytes: &[u8]| -> Result<(), StoreError> {
            digest.update(bytes);
            file.write_all(bytes).map_err(io)
        };
        write(MAGIC)?;
        let mut events = BTreeMap::new();
        let mut last_hash = after_hash.clone();
        let mut size = MAGIC.len() as u64;
        for item in log.range((after + 1).to_be_bytes()..=last.to_be_bytes()) {
            let (key, bytes) = item?;
            let seq = keys::u64_value(&key);
            let entry: LogEntry = super::codec::decode(&bytes)?;
            *events.entry(entry.event.kind().to_string()).or_insert(0) += 1;
            let length = u32::try_from(bytes.len())
                .map_err(|_| refused(format!("entry {seq} is larger than 4 GiB")))?;
            write(&seq.to_be_bytes())?;
            write(&length.to_be_bytes())?;
            write(&bytes)?;
            size += 12 + u64::from(length);
            last_hash = chain::hash(&bytes);
        }
        file.flush().map_err(io)?;
        file.into_inner()
            .map_err(|error| io(error.into_error()))?
            .sync_all()
            .map_err(io)?;
        std::fs::rename(&temp, to.join(LOG_FILE)).map_err(io)?;
        let manifest = Manifest {
            format: FORMAT,
            created_at: Utc::now(),
            after,
            last,
            after_hash,
            last_hash,
            file_sha256: hex::encode(digest.finalize()),
            bytes: size,
            events,
        };
        let text = serde_json::to_vec_pretty(&manifest)?;
        let temp = to.join(format!("{MANIFEST}.partial"));
        std::fs::write(&temp, text).map_err(io)?;
        std::fs::rename(&temp, to.join(MANIFEST)).map_err(io)?;
        Ok(manifest)
    }
}

/// Reads a backup folder's manifest.
pub fn manifest(dir: &Path) -> Result<Manifest, StoreError> {
    let path = dir.join(MANIFEST);
    let text =
        std::fs::read(&path).map_err(|error| refused(format!("{}: {error}", path.display())))?;
    let manifest: Manifest = serde_json::from_slice(&text)?;
    if manifest.format != FORMAT {
        return Err(refused(format!(
            "{} is a backup of format {}; this build reads format {FORMAT}",
            dir.display(),
            manifest.format
        )));
    }
    Ok(manifest)
}

/// The entries of one backup folder, read in order.
struct Entries {
    dir: PathBuf,
    reader: BufReader<std::fs::File>,
}

impl Entries {
    fn open(dir: &Path) -> Result<Entries, StoreError> {
        let path = dir.join(LOG_FILE);
        let file = std::fs::File::open(&path)
            .map_err(|error| refused(format!("{}: {error}", path.display())))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 8];
        reader.read_exact(&mut magic).map_err(io)?;
        if magic != MAGIC {
            return Err(refused(format!(
                "{} is not a log backup file",
                path.display()
            )));
        }
        Ok(Entries {
            dir: dir.to_path_buf(),
            reader,
        })
    }

    /// The next entry: its sequence number and stored bytes; `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let mut header = [0u8; 12];
        match self.reader.read_exact(&mut header[..1]) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(io(error)),
        }
        self.reader
            .read_exact(&mut header[1..])
            .map_err(|_| self.cut())?;
        let seq = u64::from_be_bytes(header[..8].try_into().unwrap_or_default());
        let length = u32::from_be_bytes(header[8..].try_into().unwrap_or_default());
        let mut bytes = vec![0u8; length as usize];
        self.reader.read_exact(&mut bytes).map_err(|_| self.cut())?;
        Ok(Some((seq, bytes)))
    }

    fn cut(&self) -> StoreError {
        refused(format!(
            "{} ends in the middle of an entry",
            self.dir.join(LOG_FILE).display()
        ))
    }
}

/// Checks a backup folder: the file against its digest and size, every entry's number and
/// link to the one before, the first link against `after_hash` and the last entry against
/// `last_hash`. Returns its manifest. Blocking; reads the whole file twice at most.
pub fn verify(dir: &Path) -> Result<Manifest, StoreError> {
    let manifest = manifest(dir)?;
    let path = dir.join(LOG_FILE);
    let mut file = std::fs::File::open(&path)
        .map_err(|error| refused(format!("{}: {error}", path.display())))?;
    let mut digest = Sha256::new();
    let size = std::io::copy(&mut file, &mut digest).map_err(io)?;
    if size != manifest.bytes || hex::encode(digest.finalize()) != manifest.file_sha256 {
        return Err(refused(format!(
            "{} is not the file its manifest describes (size or sha256 differ)",
            path.display()
        )));
    }
    let mut entries = Entries::open(dir)?;
    let mut expected = manifest.after + 1;
    let mut previous = manifest.after_hash.clone();
    while let Some((seq, bytes)) = entries.next()? {
        check_entry(&manifest, expected, &previous, seq, &bytes)?;
        previous = chain::hash(&bytes);
        expected += 1;
    }
    if expected != manifest.last + 1 || previous != manifest.last_hash {
        return Err(refused(format!(
            "{} ends at entry {}, its manifest says {}",
            dir.display(),
            expected - 1,
            manifest.last
        )));
    }
    Ok(manifest)
}

fn check_entry(
    manifest: &Manifest,
    expected: u64,
    previous: &str,
    seq: u64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    if seq != expected {
        return Err(refused(format!(
            "entry {expected} is missing from the backup of entries {}..={} (the next is {seq})",
            manifest.after + 1,
            manifest.last
        )));
    }
    let entry: LogEntry = super::codec::decode(bytes).map_err(|error| {
        refused(format!(
            "entry {seq} of the backup does not decode: {error}"
        ))
    })?;
    if entry.seq != seq || entry.prev_hash != previous {
        return Err(refused(format!(
            "entry {seq} of the backup does not continue the chain"
        )));
    }
    Ok(())
}

/// The backups of a restore, read one after the other as a journal the store catches up with:
/// a block of entries at a time, its position the sequence number of its last entry.
struct BackupJournal {
    description: String,
    state: Mutex<Reading>,
}

struct Reading {
    pending: std::collections::VecDeque<PathBuf>,
    current: Option<Entries>,
    position: u64,
}

/// Entries a restore projects per transaction.
const RESTORE_BLOCK: usize = 512;

impl Journal for BackupJournal {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn append(
        &self,
        _first_seq: u64,
        _entries: &[Vec<u8>],
        _after: u64,
    ) -> Result<u64, JournalError> {
        Err(JournalError::Refused(
            "a restore writes nothing of its own".into(),
        ))
    }

    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<JournalBlock>, JournalError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| JournalError::Refused("the restore's reader failed".into()))?;
        if after != state.position {
            return Err(JournalError::Refused(format!(
                "the restore was asked for entries after {after}, it stands at {}",
                state.position
            )));
        }
        let mut blocks = Vec::new();
        while blocks.len() < limit {
            let mut entries = Vec::new();
            let mut first_seq = 0;
            while entries.len() < RESTORE_BLOCK {
                let Some(current) = state.current.as_mut() else {
                    match state.pending.pop_front() {
                        Some(dir) => {
                            state.current = Some(
                                Entries::open(&dir)
                                    .map_err(|error| JournalError::Refused(error.to_string()))?,
                            );
                            continue;
                        }
                        None => break,
                    }
                };
                match current
                    .next()
                    .map_err(|error| JournalError::Refused(error.to_string()))?
                {
                    Some((seq, bytes)) => {
                        if entries.is_empty() {
                            first_seq = seq;
                        }
                        entries.push(bytes);
                    }
                    None => state.current = None,
                }
            }
            if entries.is_empty() {
                break;
            }
            let position = first_seq + entries.len() as u64 - 1;
            state.position = position;
            blocks.push(JournalBlock {
                position,
                first_seq,
                entries,
            });
        }
        Ok(blocks)
    }
}

/// Restores `backups` (a full backup, then the incremental ones that follow it, in order) into
/// the folder `dir`, which must hold no store: each backup is verified, the chain of backups
/// checked link by link, and every entry projected as a rebuild projects it. Returns the
/// restored store's last entry. Blocking.
pub fn restore(
    backups: &[PathBuf],
    dir: &Path,
    pii: PiiKey,
    clock: Arc<dyn Clock>,
    options: StoreOptions,
) -> Result<u64, StoreError> {
    let mut expected = (0, String::new());
    for backup in backups {
        let manifest = verify(backup)?;
        if (manifest.after, &manifest.after_hash) != (expected.0, &expected.1) {
            return Err(refused(if manifest.after == 0 {
                format!(
                    "{} is a full backup; a restore starts with one and continues with the incremental backups that follow it",
                    backup.display()
                )
            } else if expected.0 == 0 {
                format!(
                    "{} is an incremental backup (of the entries after {}): a restore starts with the full backup it follows",
                    backup.display(),
                    manifest.after
                )
            } else {
                format!(
                    "{} follows entry {}, the backups before it end at entry {}",
                    backup.display(),
                    manifest.after,
                    expected.0
                )
            }));
        }
        expected = (manifest.last, manifest.last_hash);
    }
    if backups.is_empty() {
        return Err(refused("no backup to restore from"));
    }
    if dir.exists() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(refused(format!(
            "{} is not empty: a restore goes into a fresh folder",
            dir.display()
        )));
    }
    let journal = Arc::new(BackupJournal {
        description: format!("the backups {}", describe(backups)),
        state: Mutex::new(Reading {
            pending: backups.iter().cloned().collect(),
            current: None,
            position: 0,
        }),
    });
    let store = Store::open_with_journal(dir, pii, clock, options, Some(journal))?;
    let head = store.head()?;
    // The position counted entries of the backups, not a shared log's: it goes.
    store.trees()?[tree::CHAIN].remove(super::journal::POSITION)?;
    store.close()?;
    if head != expected.0 {
        return Err(refused(format!(
            "the restore ended at entry {head}, the backups at {}",
            expected.0
        )));
    }
    Ok(head)
}

fn describe(backups: &[PathBuf]) -> String {
    backups
        .iter()
        .map(|backup| backup.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
