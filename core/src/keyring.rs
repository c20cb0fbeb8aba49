//! The keys personal values are sealed under, kept outside the log so that they can be
//! destroyed: the log is hash-chained and never rewritten, so erasing a value means making its
//! ciphertext unreadable everywhere it was copied (the log, every node, every backup) at once.
//!
//! A value is sealed under a data key derived from two keys of the ring (see
//! [`crate::pii::PiiKey::seal_in`]):
//!
//! - the **period key** of its class and month (`p.<class>.<yyyymm>`): destroyed by the retention
//!   sweep once every value of that month is past the class's retention;
//! - the **subject key** of the person it is about (`s.<16 hex>`, the keyed digest of their phone
//!   or ID number): destroyed when that person asks for erasure.
//!
//! Destroying either makes the value unrecoverable, also with the master key. Keys are stored
//! wrapped (encrypted) under a key derived from the master personal-data key, so the ring alone
//! reveals nothing. A single node keeps the ring in its store (the `keyring` tree, beside the
//! log, never rebuilt from it); the nodes of a shared partition keep it in the cluster's
//! replicated key bucket, cache keys for a minute at most and drop a key as soon as they read
//! its destruction in the shared log.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Datelike, Utc};
use rand::RngCore;

use crate::pii::PiiError;

/// What kind of personal value a sealed value is: each class has its own retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    EvaluatorName,
    EvaluatorPhone,
    EvaluatorIdNumber,
    /// An applicant's number given with a service act (for invitations), or a complainant's.
    ApplicantPhone,
    /// A refused payload kept for replay.
    RejectedPayload,
    /// A batch sent to the provincial platform, kept until it is acknowledged.
    UplinkBody,
    /// What a citizen wrote: a rating's comment, the text of a work order opened for a 差评 or
    /// from a complaint, suggestion or request.
    FreeText,
}

impl Class {
    pub const ALL: [Class; 7] = [
        Class::EvaluatorName,
        Class::EvaluatorPhone,
        Class::EvaluatorIdNumber,
        Class::ApplicantPhone,
        Class::RejectedPayload,
        Class::UplinkBody,
        Class::FreeText,
    ];

    /// One letter, in key ids and sealed values.
    pub fn code(self) -> char {
        match self {
            Class::EvaluatorName => 'n',
            Class::EvaluatorPhone => 'p',
            Class::EvaluatorIdNumber => 'i',
            Class::ApplicantPhone => 'a',
            Class::RejectedPayload => 'r',
            Class::UplinkBody => 'u',
            Class::FreeText => 't',
        }
    }

    pub fn from_code(code: char) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.code() == code)
    }

    /// The name in the configuration and the API.
    pub fn name(self) -> &'static str {
        match self {
            Class::EvaluatorName => "evaluator_name",
            Class::EvaluatorPhone => "evaluator_phone",
            Class::EvaluatorIdNumber => "evaluator_id_number",
            Class::ApplicantPhone => "applicant_phone",
            Class::RejectedPayload => "rejected_payload",
            Class::UplinkBody => "uplink_body",
            Class::FreeText => "free_text",
        }
    }

    /// The name in the console and reports.
    pub fn label(self) -> &'static str {
        match self {
            Class::EvaluatorName => "评价人姓名",
            Class::EvaluatorPhone => "评价人手机号",
            Class::EvaluatorIdNumber => "评价人证件号",
            Class::ApplicantPhone => "办事人/投诉人手机号",
            Class::RejectedPayload => "被拒收的原始数据",
            Class::UplinkBody => "上报省平台的批次",
            Class::FreeText => "群众填写的文字（评价内容、投诉内容）",
        }
    }
}

/// A calendar month (UTC), `yyyymm`: the period of a period key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month(pub u32);

impl Month {
    pub fn of(at: DateTime<Utc>) -> Month {
        Month(at.year().max(0) as u32 * 100 + at.month())
    }

    /// The first instant after the month.
    pub fn end(self) -> DateTime<Utc> {
        let (year, month) = (self.0 / 100, self.0 % 100);
        let (year, month) = if month >= 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        chrono::NaiveDate::from_ymd_opt(year as i32, month, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|start| start.and_utc())
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.0 / 100, self.0 % 100)
    }
}

/// The id of the period key of `class` in `month`.
pub fn period_key_id(class: Class, month: Month) -> String {
    format!("p.{}.{:06}", class.code(), month.0)
}

/// The class and month of a period key id.
pub fn parse_period_key_id(id: &str) -> Option<(Class, Month)> {
    let rest = id.strip_prefix("p.")?;
    let (code, month) = rest.split_once('.')?;
    let mut chars = code.chars();
    let class = Class::from_code(chars.next()?)?;
    if chars.next().is_some() || month.len() != 6 {
        return None;
    }
    let month: u32 = month.parse().ok()?;
    (1..=12)
        .contains(&(month % 100))
        .then_some((class, Month(month)))
}

/// The id of a subject key, from the subject's 16-hex id.
pub fn subject_key_id(subject: &str) -> String {
    format!("s.{subject}")
}

/// Where wrapped keys are kept. Blocking.
pub trait KeyStore: Send + Sync {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, PiiError>;
    /// Stores `wrapped` under `id` unless a key is there already; the key that is there after
    /// (ours, or the one another writer stored first).
    fn create(&self, id: &str, wrapped: &[u8]) -> Result<Vec<u8>, PiiError>;
    /// Destroys the key under `id`, durably; whether there was one.
    fn remove(&self, id: &str) -> Result<bool, PiiError>;
    /// The ids that begin with `prefix`.
    fn ids(&self, prefix: &str) -> Result<Vec<String>, PiiError>;
}

/// A store of keys shared behind an `Arc` (the store keeps a handle of its own to let go of
/// its database and take it back).
impl<T: KeyStore + ?Sized> KeyStore for Arc<T> {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, PiiError> {
        (**self).get(id)
    }

    fn create(&self, id: &str, wrapped: &[u8]) -> Result<Vec<u8>, PiiError> {
        (**self).create(id, wrapped)
    }

    fn remove(&self, id: &str) -> Result<bool, PiiError> {
        (**self).remove(id)
    }

    fn ids(&self, prefix: &str) -> Result<Vec<String>, PiiError> {
        (**self).ids(prefix)
    }
}

thread_local! {
    /// Whether this thread runs a store transaction: sled holds its global lock then, so the
    /// ring must not reach its tree (it would wait on this very thread forever).
    static IN_TRANSACTION: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` as a store transaction: in it the ring answers only keys prepared before
/// ([`KeyRing::prepare`]) or cached, and refuses any other instead of reaching its tree.
pub fn within_transaction<T>(work: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_TRANSACTION.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(IN_TRANSACTION.with(|flag| flag.replace(true)));
    work()
}

fn in_transaction() -> bool {
    IN_TRANSACTION.with(Cell::get)
}

/// Keys held in memory at most (then the cache starts again).
const CACHE_LIMIT: usize = 100_000;

/// The ring: wrapped keys in a [`KeyStore`], unwrapped keys cached.
pub struct KeyRing {
    wrapping: XChaCha20Poly1305,
    store: Box<dyn KeyStore>,
    /// How long a cached key is trusted: `None` on a single node (destruction goes through
    /// this ring), a minute on a shared partition (another node may destroy it).
    cache_for: Option<Duration>,
    cache: Mutex<HashMap<String, ([u8; 32], Instant)>>,
    /// Keys prepared for the batch being decided, kept until [`KeyRing::release`].
    prepared: Mutex<HashMap<String, [u8; 32]>>,
    /// Counts the destructions this ring has carried out or learned of (see
    /// [`KeyRing::destructions`]).
    destructions: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing(..)")
    }
}

impl KeyRing {
    pub fn new(wrapping: [u8; 32], store: Box<dyn KeyStore>, cache_for: Option<Duration>) -> Self {
        KeyRing {
            wrapping: XChaCha20Poly1305::new(&wrapping.into()),
            store,
            cache_for,
            cache: Mutex::default(),
            prepared: Mutex::default(),
            destructions: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Makes sure the keys `ids` exist (creating those that do not) and holds them for the
    /// transaction about to run, which reaches no tree of the ring.
    pub fn prepare(&self, ids: &[String]) -> Result<(), PiiError> {
        for id in ids {
            let key = self.key_for_sealing(id)?;
            if let Ok(mut prepared) = self.prepared.lock() {
                prepared.insert(id.clone(), key);
            }
        }
        Ok(())
    }

    /// Lets go of the keys prepared for a transaction.
    pub fn release(&self) {
        if let Ok(mut prepared) = self.prepared.lock() {
            prepared.clear();
        }
    }

    fn held(&self, id: &str) -> Option<[u8; 32]> {
        if let Some(key) = self
            .prepared
            .lock()
            .ok()
            .and_then(|prepared| prepared.get(id).copied())
        {
            return Some(key);
        }
        self.cached(id)
    }

    fn not_prepared(id: &str) -> PiiError {
        PiiError::Ring(format!(
            "key {id} was not prepared before the transaction that seals under it"
        ))
    }

    fn cached(&self, id: &str) -> Option<[u8; 32]> {
        let cache = self.cache.lock().ok()?;
        let (key, since) = cache.get(id)?;
        match self.cache_for {
            Some(limit) if since.elapsed() > limit => None,
            _ => Some(*key),
        }
    }

    fn remember(&self, id: &str, key: [u8; 32]) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(id.to_string(), (key, Instant::now()));
        }
    }

    fn wrap(&self, id: &str, key: &[u8; 32]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .wrapping
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key,
                    aad: id.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    fn unwrap_key(&self, id: &str, wrapped: &[u8]) -> Result<[u8; 32], PiiError> {
        if wrapped.len() < 24 {
            return Err(PiiError::Open);
        }
        let (nonce, body) = wrapped.split_at(24);
        let plain = self
            .wrapping
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| PiiError::Open)?;
        plain.try_into().map_err(|_| PiiError::Open)
    }

    /// The key `id`, created when there is none yet (for sealing).
    pub fn key_for_sealing(&self, id: &str) -> Result<[u8; 32], PiiError> {
        if let Some(key) = self.held(id) {
            return Ok(key);
        }
        if in_transaction() {
            return Err(KeyRing::not_prepared(id));
        }
        let stored = match self.store.get(id)? {
            Some(wrapped) => wrapped,
            None => {
                let mut fresh = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut fresh);
                self.store.create(id, &self.wrap(id, &fresh))?
            }
        };
        let key = self.unwrap_key(id, &stored)?;
        self.remember(id, key);
        Ok(key)
    }

    /// The key `id`, for opening: [`PiiError::Erased`] when it was destroyed.
    pub fn key_for_opening(&self, id: &str) -> Result<[u8; 32], PiiError> {
        if let Some(key) = self.held(id) {
            return Ok(key);
        }
        if in_transaction() {
            return Err(KeyRing::not_prepared(id));
        }
        let wrapped = self.store.get(id)?.ok_or_else(|| PiiError::Erased {
            key: id.to_string(),
        })?;
        let key = self.unwrap_key(id, &wrapped)?;
        self.remember(id, key);
        Ok(key)
    }

    /// Drops the keys `ids` from memory (another node destroyed them in the shared ring).
    pub fn forget(&self, ids: &[String]) {
        for id in ids {
            if let Ok(mut cache) = self.cache.lock() {
                cache.remove(id);
            }
            if let Ok(mut prepared) = self.prepared.lock() {
                prepared.remove(id);
            }
        }
        self.destructions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves on each destruction carried out here or learned of from the log: what keeps
    /// values it opened (the public answers' cache) drops them when it changes.
    pub fn destructions(&self) -> u64 {
        self.destructions.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Destroys the keys `ids`; how many there were.
    pub fn destroy(&self, ids: &[String]) -> Result<usize, PiiError> {
        let mut destroyed = 0;
        self.forget(ids);
        for id in ids {
            if self.store.remove(id)? {
                destroyed += 1;
            }
        }
        self.destructions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(destroyed)
    }

    /// The ids of the keys beginning with `prefix` (`p.` for period keys, `s.` for subjects).
    pub fn ids(&self, prefix: &str) -> Result<Vec<String>, PiiError> {
        self.store.ids(prefix)
    }

    /// Every key as stored (wrapped), for a backup.
    pub fn export(&self) -> Result<Vec<(String, Vec<u8>)>, PiiError> {
        let mut keys = Vec::new();
        for id in self.store.ids("")? {
            if let Some(wrapped) = self.store.get(&id)? {
                keys.push((id, wrapped));
            }
        }
        Ok(keys)
    }

    /// Takes in keys exported from a ring wrapped under the same master key (a restore).
    /// Checks each unwraps; keeps what is already there.
    pub fn import(&self, keys: &[(String, Vec<u8>)]) -> Result<usize, PiiError> {
        let mut taken = 0;
        for (id, wrapped) in keys {
            self.unwrap_key(id, wrapped)?;
            if self.store.create(id, wrapped)? == *wrapped {
                taken += 1;
            }
        }
        Ok(taken)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone as _;

    /// Keys in memory (the store's trees are a layer above this module).
    #[derive(Default)]
    pub(crate) struct MemoryKeys(Mutex<HashMap<String, Vec<u8>>>);

    impl KeyStore for MemoryKeys {
        fn get(&self, id: &str) -> Result<Option<Vec<u8>>, PiiError> {
            Ok(self.0.lock().ok().and_then(|keys| keys.get(id).cloned()))
        }

        fn create(&self, id: &str, wrapped: &[u8]) -> Result<Vec<u8>, PiiError> {
            let mut keys = self
                .0
                .lock()
                .map_err(|_| PiiError::Ring("poisoned".into()))?;
            Ok(keys
                .entry(id.to_string())
                .or_insert_with(|| wrapped.to_vec())
                .clone())
        }

        fn remove(&self, id: &str) -> Result<bool, PiiError> {
            Ok(self
                .0
                .lock()
                .is_ok_and(|mut keys| keys.remove(id).is_some()))
        }

        fn ids(&self, prefix: &str) -> Result<Vec<String>, PiiError> {
            let keys = self
                .0
                .lock()
                .map_err(|_| PiiError::Ring("poisoned".into()))?;
            Ok(keys
                .keys()
                .filter(|id| id.starts_with(prefix))
                .cloned()
                .collect())
        }
    }

    fn ring() -> ((), KeyRing) {
        (
            (),
            KeyRing::new([5; 32], Box::<MemoryKeys>::default(), None),
        )
    }

    #[test]
    fn months_and_ids() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        let month = Month::of(at);
        assert_eq!(month, Month(202612));
        assert_eq!(month.to_string(), "2026-12");
        assert_eq!(
            month.end(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            Month(202602).end(),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
        let id = period_key_id(Class::ApplicantPhone, month);
        assert_eq!(id, "p.a.202612");
        assert_eq!(
            parse_period_key_id(&id),
            Some((Class::ApplicantPhone, month))
        );
        assert_eq!(parse_period_key_id("p.a.202613"), None);
        assert_eq!(parse_period_key_id("p.x.202612"), None);
        assert_eq!(parse_period_key_id("s.0123"), None);
    }

    #[test]
    fn keys_are_created_once_wrapped_and_destroyed() {
        let (_dir, ring) = ring();
        let first = ring
            .key_for_sealing("p.p.202612")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(ring.key_for_opening("p.p.202612").ok(), Some(first));
        let exported = ring.export().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(exported.len(), 1);
        assert!(!exported[0].1.windows(32).any(|window| window == first));
        assert!(matches!(
            ring.key_for_opening("p.p.202611"),
            Err(PiiError::Erased { .. })
        ));
        assert_eq!(ring.destroy(&["p.p.202612".into()]).ok(), Some(1));
        assert!(matches!(
            ring.key_for_opening("p.p.202612"),
            Err(PiiError::Erased { .. })
        ));
        // A restore takes the exported key back; a ring under another master key refuses it.
        assert_eq!(ring.import(&exported).ok(), Some(1));
        assert_eq!(ring.key_for_opening("p.p.202612").ok(), Some(first));
        let other = KeyRing::new([6; 32], Box::<MemoryKeys>::default(), None);
        assert!(other.import(&exported).is_err());
    }
}
