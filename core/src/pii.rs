//! Personal data of evaluators: sealed (encrypted) at rest, masked in every view, opened only by
//! code paths that audit the reveal.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::keyring::{Class, KeyRing, KeyStore, Month, period_key_id, subject_key_id};
use crate::model::{SealedField, StoredText};

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("cannot read or create the personal-data key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("personal-data key file {path} must hold 64 hex characters")]
    KeyFormat { path: String },
    #[error("sealed field cannot be opened (wrong key or damaged data)")]
    Open,
    #[error("the value is erased: its key {key} was destroyed (retention or a subject's erasure)")]
    Erased { key: String },
    #[error("the key ring cannot be read or written: {0}")]
    Ring(String),
    #[error("no key ring: personal values are sealed only by a store's key")]
    NoRing,
}

/// What a value to seal is and when: decides the keys it is sealed under (see
/// [`crate::keyring`]).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub class: Class,
    /// The person the value is about: their phone number, or ID number when there is no phone
    /// (a subject's erasure destroys their key). `None` for values about nobody in particular.
    pub subject: Option<&'a str>,
    /// When it is sealed: its month's period key (the retention sweep destroys it).
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The prefix of a value sealed under the key ring; values without it were sealed under the
/// master key alone (before the ring) and are opened with it.
const RING_SEALED: &str = "2:";

/// The field free text is sealed as (bound into its ciphertext, like a phone's `evaluator.phone`).
const TEXT_FIELD: &str = "text";

/// The key that seals personal fields. Keep its file outside backups of the data folder where
/// possible: whoever holds both can read every phone number.
#[derive(Clone)]
pub struct PiiKey {
    cipher: XChaCha20Poly1305,
    /// Derived from the key: makes the citizens' tracking tokens.
    tracking: [u8; 32],
    /// Derived from the key: wraps the keys of the ring.
    wrapping: [u8; 32],
    /// The keys values are sealed under (attached by the store).
    ring: Option<Arc<KeyRing>>,
}

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiKey(..)")
    }
}

impl PiiKey {
    pub fn from_bytes(bytes: [u8; 32]) -> PiiKey {
        let derive = |purpose: &[u8]| -> [u8; 32] {
            use sha2::Digest as _;
            let mut hasher = sha2::Sha256::new();
            hasher.update(purpose);
            hasher.update(bytes);
            hasher.finalize().into()
        };
        PiiKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            tracking: derive(b"hcp tracking token key\0"),
            wrapping: derive(b"hcp key ring wrapping key\0"),
            ring: None,
        }
    }

    /// This key with a ring of keys kept in `store`, wrapped under a key derived from this one
    /// (see [`crate::keyring::KeyRing`]).
    pub fn with_ring(mut self, store: Box<dyn KeyStore>, cache_for: Option<Duration>) -> PiiKey {
        self.ring = Some(Arc::new(KeyRing::new(self.wrapping, store, cache_for)));
        self
    }

    pub fn ring(&self) -> Option<&KeyRing> {
        self.ring.as_deref()
    }

    /// The id of a data subject (their phone or ID number, trimmed, an ID's `x` taken as `X`)
    /// in the ring: 64 bits of a keyed digest, so the ring does not hold the number.
    pub fn subject_id(&self, subject: &str) -> String {
        let mut digest = self.keyed_digest("subject", &subject.trim().to_uppercase());
        digest.truncate(16);
        digest
    }

    /// The data key of a value: HMAC-SHA256 under the period key of the subject key (or of
    /// nothing), so that destroying either key makes it unrecoverable.
    fn data_key(period: &[u8; 32], subject: Option<&[u8; 32]>) -> XChaCha20Poly1305 {
        use hmac::Mac as _;
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(period);
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new(&key.into());
        mac.update(b"hcp data key\0");
        if let Some(subject) = subject {
            mac.update(subject);
        }
        let derived: [u8; 32] = mac.finalize().into_bytes().into();
        XChaCha20Poly1305::new(&derived.into())
    }

    /// The ids of the ring's keys a value of `scope` is sealed under (its period key, and its
    /// subject's key when it has one).
    pub fn key_ids(&self, scope: &Scope<'_>) -> Vec<String> {
        let mut ids = vec![period_key_id(scope.class, Month::of(scope.at))];
        if let Some(subject) = scope.subject.filter(|subject| !subject.trim().is_empty()) {
            ids.push(subject_key_id(&self.subject_id(subject)));
        }
        ids
    }

    /// Encrypts `plain`, bound to `field` (so a sealed phone cannot be replayed as an ID
    /// number), under the ring's keys for `scope`:
    /// `2:<class><yyyymm>:<subject id or ->:<base64 of nonce ‖ ciphertext>`.
    pub fn seal_in(&self, field: &str, plain: &str, scope: &Scope<'_>) -> Result<String, PiiError> {
        let subject = scope
            .subject
            .filter(|subject| !subject.trim().is_empty())
            .map(|subject| self.subject_id(subject));
        self.seal_under(field, plain, scope.class, Month::of(scope.at), subject)
    }

    /// Seals under the keys of a class, a month and a subject id (see [`PiiKey::seal_in`]).
    fn seal_under(
        &self,
        field: &str,
        plain: &str,
        class: Class,
        month: Month,
        subject: Option<String>,
    ) -> Result<String, PiiError> {
        let ring = self.ring.as_deref().ok_or(PiiError::NoRing)?;
        let period = ring.key_for_sealing(&period_key_id(class, month))?;
        let subject_key = match &subject {
            Some(id) => Some(ring.key_for_sealing(&subject_key_id(id))?),
            None => None,
        };
        let label = format!(
            "{}{:06}:{}",
            class.code(),
            month.0,
            subject.as_deref().unwrap_or("-")
        );
        let body = seal_with(
            &PiiKey::data_key(&period, subject_key.as_ref()),
            &format!("{field}\0{label}"),
            plain,
        );
        Ok(format!("{RING_SEALED}{label}:{body}"))
    }

    pub fn seal_field_in(
        &self,
        kind: PiiKind,
        plain: &str,
        scope: &Scope<'_>,
    ) -> Result<SealedField, PiiError> {
        Ok(SealedField {
            sealed: self.seal_in(kind.field_name(), plain, scope)?,
            masked: kind.mask(plain),
        })
    }

    /// Opens a value sealed under the ring's keys.
    fn open_in(&self, field: &str, sealed: &str) -> Result<String, PiiError> {
        let ring = self.ring.as_deref().ok_or(PiiError::NoRing)?;
        let Labelled {
            class,
            month,
            period,
            subject,
            body,
        } = Labelled::of(sealed)?;
        let period_key = ring.key_for_opening(&period_key_id(class, month))?;
        let subject_key = match subject {
            "-" => None,
            id => Some(ring.key_for_opening(&subject_key_id(id))?),
        };
        open_with(
            &PiiKey::data_key(&period_key, subject_key.as_ref()),
            &format!("{field}\0{period}:{subject}"),
            body,
        )
    }

    /// The opaque token of a work order's tracking link: 128 bits of HMAC-SHA256 of the order
    /// id under a key derived from this one. Nothing about the person is in it, it cannot be
    /// guessed from the order id, and it is never stored (only its hash is, to look it up).
    pub fn tracking_token(&self, order_id: u64) -> String {
        use hmac::Mac as _;
        let mut mac = self.token_mac();
        mac.update(b"order");
        mac.update(&order_id.to_be_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The proof in a citizen's link for rating a service act (`subject` is
    /// `service:<projectNo>/<serviceNumber>`): 128 bits of HMAC-SHA256 of the subject under the
    /// same derived key as [`PiiKey::tracking_token`], domain-separated from it. The link carries
    /// the act next to the proof, and the proof is checked by computing it again, so nothing is
    /// stored and a link for another act cannot be made without the key.
    pub fn rating_token(&self, subject: &str) -> String {
        use hmac::Mac as _;
        let mut mac = self.token_mac();
        mac.update(b"rating\0");
        mac.update(subject.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A keyed digest of `value` for `purpose` (32 hex digits of HMAC-SHA256 under the same
    /// derived key, domain-separated from the tokens): lets the platform recognise a value
    /// again (a phone number that was sent codes, a code it sent) without keeping the value.
    pub fn keyed_digest(&self, purpose: &str, value: &str) -> String {
        use hmac::Mac as _;
        let mut mac = self.token_mac();
        mac.update(b"digest\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// HMAC-SHA256 keyed with the derived token key. HMAC pads a key shorter than its block
    /// with zeros, so the padded 64-byte key is the same key, taken without a fallible call.
    /// The opaque token of a window's static QR code (`/w/{token}`): 128 bits of HMAC-SHA256 of
    /// the window's id and the code's generation under the same derived key as
    /// [`PiiKey::tracking_token`], domain-separated from it. The generation is recorded in the
    /// log (a rotation makes the next one), so the token is the same after a rebuild; the unit
    /// code cannot be read from it and a token for another window cannot be made without the
    /// key. Only its hash is stored, to look it up.
    pub fn window_token(&self, window: &str, generation: u32) -> String {
        use hmac::Mac as _;
        let mut mac = self.token_mac();
        mac.update(b"window\0");
        mac.update(window.as_bytes());
        mac.update(b"\0");
        mac.update(&generation.to_be_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    fn token_mac(&self) -> hmac::Hmac<sha2::Sha256> {
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.tracking);
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new(&key.into())
    }

    /// Reads the key file, creating it with a fresh random key (mode 0600) if it is absent.
    pub fn load_or_create(path: &Path) -> Result<PiiKey, PiiError> {
        load_or_create_secret(path).map(PiiKey::from_bytes)
    }

    /// Opens a sealed value: one sealed under the ring's keys, or (sealed before the ring) under
    /// this key alone.
    pub fn open(&self, field: &str, sealed: &str) -> Result<String, PiiError> {
        match sealed.strip_prefix(RING_SEALED) {
            Some(rest) => self.open_in(field, rest),
            None => open_with(&self.cipher, field, sealed),
        }
    }

    pub fn open_field(&self, kind: PiiKind, field: &SealedField) -> Result<String, PiiError> {
        self.open(kind.field_name(), &field.sealed)
    }

    /// Seals what a citizen wrote (class free text) under `scope`'s keys.
    pub fn seal_text(&self, plain: &str, scope: &Scope<'_>) -> Result<StoredText, PiiError> {
        Ok(StoredText::Sealed {
            sealed: self.seal_in(TEXT_FIELD, plain, scope)?,
        })
    }

    /// Seals `plain` under the keys `beside` was sealed under: for a copy of a text, or of part
    /// of it, kept elsewhere (the input a rule decided on), which must go when the text goes.
    /// Beside a text kept plain, the copy is kept plain too.
    pub fn seal_text_beside(
        &self,
        beside: &StoredText,
        plain: &str,
    ) -> Result<StoredText, PiiError> {
        let StoredText::Sealed { sealed } = beside else {
            return Ok(StoredText::Plain(plain.to_string()));
        };
        let label = Labelled::of(sealed.strip_prefix(RING_SEALED).ok_or(PiiError::Open)?)?;
        let (class, month) = (label.class, label.month);
        let subject = (label.subject != "-").then(|| label.subject.to_string());
        Ok(StoredText::Sealed {
            sealed: self.seal_under(TEXT_FIELD, plain, class, month, subject)?,
        })
    }

    /// What a citizen wrote, `None` when it was erased (its key destroyed: past its retention,
    /// or its writer's erasure).
    pub fn open_text(&self, text: &StoredText) -> Result<Option<String>, PiiError> {
        match text {
            StoredText::Plain(plain) => Ok(Some(plain.clone())),
            StoredText::Sealed { sealed } => match self.open(TEXT_FIELD, sealed) {
                Ok(plain) => Ok(Some(plain)),
                Err(PiiError::Erased { .. }) => Ok(None),
                Err(error) => Err(error),
            },
        }
    }

    /// Opens a field, `None` when it was erased (its key destroyed): for the paths that go on
    /// without it (an invitation not sent, a record uplinked without the evaluator).
    pub fn open_kept(
        &self,
        kind: PiiKind,
        field: &SealedField,
    ) -> Result<Option<String>, PiiError> {
        match self.open_field(kind, field) {
            Ok(plain) => Ok(Some(plain)),
            Err(PiiError::Erased { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A value sealed under the ring, its prefix taken off: `<class><yyyymm>:<subject>:<body>`.
struct Labelled<'a> {
    class: Class,
    month: Month,
    /// `<class><yyyymm>`, as bound into the ciphertext.
    period: &'a str,
    /// The subject id, or `-`.
    subject: &'a str,
    body: &'a str,
}

impl<'a> Labelled<'a> {
    fn of(sealed: &'a str) -> Result<Labelled<'a>, PiiError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(period), Some(subject), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(PiiError::Open);
        };
        let mut chars = period.chars();
        let class = chars
            .next()
            .and_then(Class::from_code)
            .ok_or(PiiError::Open)?;
        let month = Month(chars.as_str().parse().map_err(|_| PiiError::Open)?);
        Ok(Labelled {
            class,
            month,
            period,
            subject,
            body,
        })
    }
}

fn seal_with(cipher: &XChaCha20Poly1305, aad: &str, plain: &str) -> String {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let payload = Payload {
        msg: plain.as_bytes(),
        aad: aad.as_bytes(),
    };
    // Encryption with a valid key and nonce only fails on messages larger than the cipher
    // allows (256 GiB), which input caps rule out; keep the empty string as a safe fallback.
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), payload)
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    BASE64.encode(out)
}

fn open_with(cipher: &XChaCha20Poly1305, aad: &str, sealed: &str) -> Result<String, PiiError> {
    let bytes = BASE64.decode(sealed).map_err(|_| PiiError::Open)?;
    if bytes.len() < 24 {
        return Err(PiiError::Open);
    }
    let (nonce, body) = bytes.split_at(24);
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| PiiError::Open)?;
    String::from_utf8(plain).map_err(|_| PiiError::Open)
}

/// sha256 (hex) of a tracking token: what the store keeps to find the order.
pub fn tracking_hash(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Reads a 32-byte secret stored as hex, creating the file with a fresh random secret (mode
/// 0600) if it is absent. Used for the personal-data key and the token-signing key.
pub fn load_or_create_secret(path: &Path) -> Result<[u8; 32], PiiError> {
    let shown = path.display().to_string();
    let io = |source| PiiError::KeyFile {
        path: shown.clone(),
        source,
    };
    if !path.exists() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        write_private(path, hex::encode(bytes).as_bytes()).map_err(io)?;
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let bytes = hex::decode(text.trim()).map_err(|_| PiiError::KeyFormat {
        path: shown.clone(),
    })?;
    bytes
        .try_into()
        .map_err(|_| PiiError::KeyFormat { path: shown })
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Which personal field a value is; decides its mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    Name,
    Phone,
    IdNumber,
}

impl PiiKind {
    pub fn field_name(self) -> &'static str {
        match self {
            PiiKind::Name => "evaluator.name",
            PiiKind::Phone => "evaluator.phone",
            PiiKind::IdNumber => "evaluator.id_number",
        }
    }

    pub fn mask(self, plain: &str) -> String {
        match self {
            PiiKind::Name => mask_name(plain),
            PiiKind::Phone => keep_ends(plain, 3, 4),
            PiiKind::IdNumber => keep_ends(plain, 6, 4),
        }
    }
}

/// 张三 → 张*, 欧阳娜娜 → 欧***.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

/// Keeps `head` leading and `tail` trailing characters: 13812341234 → 138****1234. Short values
/// are masked whole, so that nothing of a malformed number leaks either.
fn keep_ends(plain: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = plain.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len().max(4));
    }
    let hidden = chars.len() - head - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(hidden));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: PiiKind, plain: &str, expected: &str) {
        assert_eq!(kind.mask(plain), expected, "{kind:?} {plain}");
    }

    #[test]
    fn masks() {
        check(PiiKind::Phone, "13812341234", "138****1234");
        check(
            PiiKind::IdNumber,
            "41040219900101123X",
            "410402********123X",
        );
        check(PiiKind::Name, "张三", "张*");
        check(PiiKind::Name, "欧阳娜娜", "欧***");
        check(PiiKind::Name, "李", "李*");
        check(PiiKind::Phone, "12345", "*****");
        check(PiiKind::Phone, "", "****");
    }

    fn ringed(bytes: [u8; 32]) -> ((), PiiKey) {
        let keys = Box::<crate::keyring::tests::MemoryKeys>::default();
        ((), PiiKey::from_bytes(bytes).with_ring(keys, None))
    }

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn seal_round_trips_and_binds_the_field() {
        let (_dir, key) = ringed([7; 32]);
        let scope = Scope {
            class: Class::EvaluatorPhone,
            subject: Some("13812341234"),
            at: at("2026-12-06T08:00:00Z"),
        };
        let sealed = key
            .seal_field_in(PiiKind::Phone, "13812341234", &scope)
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(sealed.masked, "138****1234");
        assert!(!sealed.sealed.contains("1381234"));
        let subject = key.subject_id("13812341234");
        assert!(
            sealed.sealed.starts_with(&format!("2:p202612:{subject}:")),
            "{}",
            sealed.sealed
        );
        assert_eq!(
            key.open_field(PiiKind::Phone, &sealed).ok().as_deref(),
            Some("13812341234")
        );
        assert!(key.open_field(PiiKind::IdNumber, &sealed).is_err());
        // Another master key opens neither the ring nor the value.
        let (_other_dir, other) = ringed([8; 32]);
        assert!(other.open_field(PiiKind::Phone, &sealed).is_err());
        // Moving the value to another month or subject does not open it either.
        let moved = sealed.sealed.replacen("p202612", "p202611", 1);
        let _ = key.seal_in(
            "x",
            "x",
            &Scope {
                at: at("2026-11-06T08:00:00Z"),
                ..scope
            },
        );
        assert!(matches!(
            key.open("evaluator.phone", &moved),
            Err(PiiError::Open)
        ));
    }

    #[test]
    fn destroying_either_key_erases_the_value() {
        let (_dir, key) = ringed([7; 32]);
        let seal = |subject, at_text| {
            key.seal_in(
                "evaluator.name",
                "张三",
                &Scope {
                    class: Class::EvaluatorName,
                    subject,
                    at: at(at_text),
                },
            )
            .unwrap_or_else(|error| panic!("{error}"))
        };
        let november = seal(Some("13812341234"), "2026-11-30T23:00:00Z");
        let december = seal(Some("13812341234"), "2026-12-01T00:00:00Z");
        let other = seal(Some("13900001111"), "2026-12-02T00:00:00Z");
        let nobody = seal(None, "2026-12-03T00:00:00Z");
        let ring = key.ring().unwrap_or_else(|| panic!("a ring"));
        // The retention of November's names ends: December's stay.
        ring.destroy(&["p.n.202611".into()])
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(
            key.open("evaluator.name", &november),
            Err(PiiError::Erased { .. })
        ));
        assert_eq!(
            key.open("evaluator.name", &december).ok().as_deref(),
            Some("张三")
        );
        // The person asks for erasure: their December value goes, others stay.
        let subject = key.subject_id(" 13812341234 ");
        ring.destroy(&[crate::keyring::subject_key_id(&subject)])
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(
            key.open("evaluator.name", &december),
            Err(PiiError::Erased { .. })
        ));
        assert_eq!(
            key.open("evaluator.name", &other).ok().as_deref(),
            Some("张三")
        );
        assert_eq!(
            key.open("evaluator.name", &nobody).ok().as_deref(),
            Some("张三")
        );
        // A new key made for the same person later does not open the old value.
        let _ = seal(Some("13812341234"), "2026-12-05T00:00:00Z");
        assert!(matches!(
            key.open("evaluator.name", &december),
            Err(PiiError::Open)
        ));
    }

    #[test]
    fn free_text_is_sealed_and_erased_like_any_value() {
        let (_dir, key) = ringed([7; 32]);
        let scope = Scope {
            class: Class::FreeText,
            subject: Some("13812341234"),
            at: at("2026-12-06T08:00:00Z"),
        };
        let text = key
            .seal_text("窗口人员态度差，排队两小时", &scope)
            .unwrap_or_else(|error| panic!("{error}"));
        let StoredText::Sealed { sealed } = &text else {
            panic!("sealed: {text:?}");
        };
        assert!(sealed.starts_with("2:t202612:"), "{sealed}");
        assert!(!format!("{text:?}").contains("态度"));
        assert_eq!(
            key.open_text(&text).ok().flatten().as_deref(),
            Some("窗口人员态度差，排队两小时")
        );
        // Sealed as text, it does not open as a phone.
        assert!(key.open("evaluator.phone", sealed).is_err());
        // Its writer's erasure, or its month's retention, leaves no text (and no error).
        let ring = key.ring().unwrap_or_else(|| panic!("a ring"));
        ring.destroy(&["p.t.202612".into()])
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(key.open_text(&text).ok(), Some(None));
        // Text written before it was sealed reads as it was; a damaged value is an error.
        let plain = StoredText::Plain("办理很快".into());
        assert_eq!(
            key.open_text(&plain).ok().flatten().as_deref(),
            Some("办理很快")
        );
        let november = Scope {
            subject: None,
            at: at("2026-11-06T08:00:00Z"),
            ..scope
        };
        key.seal_text("x", &november)
            .unwrap_or_else(|error| panic!("{error}"));
        let damaged = StoredText::Sealed {
            sealed: "2:t202611:-:AAAA".into(),
        };
        assert!(key.open_text(&damaged).is_err());
        // Stored, either form reads back as itself.
        for stored in [text, plain] {
            let json = serde_json::to_string(&stored).unwrap_or_default();
            let back: StoredText =
                serde_json::from_str(&json).unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(back, stored, "{json}");
        }
    }

    #[test]
    fn values_sealed_before_the_ring_still_open() {
        let (_dir, key) = ringed([7; 32]);
        let legacy = seal_with(&key.cipher, "evaluator.phone", "13812341234");
        assert_eq!(
            key.open("evaluator.phone", &legacy).ok().as_deref(),
            Some("13812341234")
        );
        assert!(
            PiiKey::from_bytes([7; 32])
                .seal_in(
                    "f",
                    "x",
                    &Scope {
                        class: Class::EvaluatorName,
                        subject: None,
                        at: at("2026-12-06T00:00:00Z")
                    }
                )
                .is_err()
        );
    }

    #[test]
    fn tokens_are_hmac_under_the_derived_key() {
        use hmac::Mac as _;
        let key = PiiKey::from_bytes([9; 32]);
        let reference = |parts: &[&[u8]]| {
            let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key.tracking)
                .unwrap_or_else(|error| panic!("{error}"));
            for part in parts {
                mac.update(part);
            }
            hex::encode(&mac.finalize().into_bytes()[..16])
        };
        assert_eq!(
            key.tracking_token(12),
            reference(&[b"order", &12u64.to_be_bytes()])
        );
        assert_eq!(
            key.rating_token("service:P-1/2"),
            reference(&[b"rating\0", b"service:P-1/2"])
        );
        assert_ne!(
            key.rating_token("service:P-1/2"),
            key.rating_token("service:P-1/3")
        );
        assert_eq!(
            key.keyed_digest("phone", "13812341234"),
            reference(&[b"digest\0", b"phone\0", b"13812341234"])
        );
        assert_ne!(
            key.keyed_digest("phone", "13812341234"),
            key.keyed_digest("code", "13812341234")
        );
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = dir.path().join("keys/pii.key");
        let first = PiiKey::load_or_create(&path).unwrap_or_else(|error| panic!("{error}"));
        let sealed = seal_with(&first.cipher, "f", "x");
        let second = PiiKey::load_or_create(&path).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(second.open("f", &sealed).ok().as_deref(), Some("x"));
    }
}
