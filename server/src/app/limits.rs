//! Abuse limits: keyed rate limiters for the open doors (sign-in, the citizens' posts) and the
//! sign-in lockout. They count real time (a monotonic clock), not the platform's clock: a
//! simulation's manual clock must not freeze or release a limit.
//!
//! Memory is bounded: each limiter holds at most [`MAX_KEYS`] keys; when full, keys whose
//! bucket has refilled are dropped first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hcp_core::store::SharedState;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::app::AppError;
use crate::app::config::LimitsConfig;

/// Most keys (addresses, accounts) one limiter remembers.
pub const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, as of `at`.
    tokens: f64,
    at: Instant,
}

/// A token bucket per key: `burst` requests at once, refilled at `per_minute` a minute.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter of `per_minute` requests a minute with a burst of as many; 0 turns it off.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter::per(per_minute, 60.0)
    }

    /// A limiter of `per_day` requests a day with a burst of as many; 0 turns it off.
    pub fn per_day(per_day: u32) -> RateLimiter {
        RateLimiter::per(per_day, 86_400.0)
    }

    fn per(count: u32, seconds: f64) -> RateLimiter {
        RateLimiter {
            burst: f64::from(count),
            per_second: f64::from(count) / seconds,
            buckets: Mutex::default(),
        }
    }

    fn off(&self) -> bool {
        self.burst <= 0.0
    }

    /// Takes one token for `key`; when none is left, how long until one is.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.off() {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refilled = (bucket.tokens
            + now.saturating_duration_since(bucket.at).as_secs_f64() * self.per_second)
            .min(self.burst);
        if refilled >= 1.0 {
            *bucket = Bucket {
                tokens: refilled - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket {
                tokens: refilled,
                at: now,
            };
            Err(Duration::from_secs_f64((1.0 - refilled) / self.per_second))
        }
    }

    /// Drops the keys whose bucket is full again; if none is, the least recently used tenth.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let full = |bucket: &Bucket| {
            bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * self.per_second
                >= self.burst
        };
        buckets.retain(|_, bucket| !full(bucket));
        if buckets.len() >= MAX_KEYS {
            let mut ages: Vec<Instant> = buckets.values().map(|bucket| bucket.at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 10];
            buckets.retain(|_, bucket| bucket.at > cut);
        }
    }
}

/// Failed sign-ins of one account: after `failures` within the window the account is locked
/// for `lockout`; a success clears the count.
#[derive(Debug)]
pub struct Lockout {
    failures: u32,
    lockout: Duration,
    accounts: Mutex<HashMap<String, (u32, Instant)>>,
    /// The nodes of a shared partition count each account's failures together (a record per
    /// account); out of reach, this node counts alone.
    shared: Option<Arc<dyn SharedState>>,
}

/// An account's failures as the nodes of a shared partition count them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SharedFailures {
    count: u32,
    /// Milliseconds since the Unix epoch of the last failure.
    last_ms: u64,
}

/// What a failed sign-in did to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Counted,
    /// This failure locked the account.
    Locked,
}

impl Lockout {
    pub fn new(failures: u32, lockout: Duration) -> Lockout {
        Lockout {
            failures,
            lockout,
            accounts: Mutex::default(),
            shared: None,
        }
    }

    /// Counted with the other nodes of a shared partition in `state`.
    pub fn shared(mut self, state: Option<Arc<dyn SharedState>>) -> Lockout {
        self.shared = state;
        self
    }

    fn shared_key(account: &str) -> String {
        format!("lockout.{}", hex::encode(account))
    }

    /// How long `account` stays locked by the shared count; `None` when the shared records
    /// are not used or out of reach.
    fn shared_locked(&self, account: &str) -> Option<Option<Duration>> {
        let state = self.shared.as_ref()?;
        let (record, _) =
            read_shared::<SharedFailures>(state.as_ref(), &Lockout::shared_key(account))?;
        Some(record.and_then(|record| {
            let elapsed = Duration::from_millis(now_ms().saturating_sub(record.last_ms));
            (record.count >= self.failures && elapsed < self.lockout)
                .then(|| self.lockout - elapsed)
        }))
    }

    /// Counts a failure in the shared records; `None` when they are not used or out of reach.
    fn shared_fail(&self, account: &str) -> Option<Failure> {
        let state = self.shared.as_ref()?;
        let lockout_ms = u64::try_from(self.lockout.as_millis()).unwrap_or(u64::MAX);
        let failures = self.failures;
        update_shared::<SharedFailures, Failure>(
            state.as_ref(),
            &Lockout::shared_key(account),
            |record| {
                let now = now_ms();
                let mut record = record.unwrap_or(SharedFailures {
                    count: 0,
                    last_ms: now,
                });
                // A lockout that has run out starts a new count.
                if record.count >= failures || now.saturating_sub(record.last_ms) >= lockout_ms {
                    record = SharedFailures {
                        count: 0,
                        last_ms: now,
                    };
                }
                record.count += 1;
                record.last_ms = now;
                let failure = if record.count >= failures {
                    Failure::Locked
                } else {
                    Failure::Counted
                };
                (Some(record), failure)
            },
        )
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `account` stays locked, if it is.
    pub fn locked(&self, account: &str) -> Option<Duration> {
        if self.failures == 0 {
            return None;
        }
        if let Some(shared) = self.shared_locked(account) {
            return shared;
        }
        let accounts = self.accounts();
        let (count, last) = accounts.get(account)?;
        let elapsed = last.elapsed();
        (*count >= self.failures && elapsed < self.lockout).then(|| self.lockout - elapsed)
    }

    pub fn fail(&self, account: &str) -> Failure {
        if self.failures == 0 {
            return Failure::Counted;
        }
        if let Some(failure) = self.shared_fail(account) {
            return failure;
        }
        let mut accounts = self.accounts();
        if accounts.len() >= MAX_KEYS && !accounts.contains_key(account) {
            let lockout = self.lockout;
            accounts.retain(|_, (_, last)| last.elapsed() < lockout);
        }
        let now = Instant::now();
        let entry = accounts.entry(account.to_string()).or_insert((0, now));
        // A lockout that has run out starts a new count.
        if entry.0 >= self.failures || now.saturating_duration_since(entry.1) >= self.lockout {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
        if entry.0 >= self.failures {
            Failure::Locked
        } else {
            Failure::Counted
        }
    }

    pub fn succeed(&self, account: &str) {
        if let Some(state) = &self.shared
            && let Err(error) = state.remove(&Lockout::shared_key(account))
        {
            tracing::warn!(%error, "the shared sign-in failures are out of reach");
        }
        self.accounts().remove(account);
    }
}

/// The limits of one running platform.
#[derive(Debug)]
pub struct Limits {
    /// Sign-in attempts per client address.
    pub login_per_address: RateLimiter,
    /// Failed sign-ins per account.
    pub login_lockout: Lockout,
    /// Password hashes computed at once (sign-in, setting a password): argon2 takes 19 MiB
    /// and tens of milliseconds each, so a flood waits here instead of exhausting memory.
    pub argon2: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long a sign-in waits for the argon2 semaphore before it is asked to retry.
    pub argon2_wait: Duration,
    /// Citizens' posts (intake, ratings by link, tracking) per client address.
    pub public_posts: RateLimiter,
    /// Anonymous reads of the public pages per client address.
    pub public_reads: RateLimiter,
    /// Confirmation codes of citizens' phone numbers.
    pub phone_codes: PhoneCodes,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Limits {
    /// The limits of `config`; on the nodes of a shared partition (`shared`), sign-in failures
    /// and phone codes are kept with the other nodes, so a client sent to any node meets the
    /// same lockout and its code is good everywhere. The rate limits per client address stay
    /// per node.
    pub fn new(config: &LimitsConfig, shared: Option<Arc<dyn SharedState>>) -> Limits {
        Limits {
            login_per_address: RateLimiter::per_minute(config.login_per_address_per_minute),
            login_lockout: Lockout::new(
                config.login_failures,
                Duration::from_secs(config.login_lockout_seconds),
            )
            .shared(shared.clone()),
            argon2: std::sync::Arc::new(tokio::sync::Semaphore::new(
                config.argon2_concurrency.max(1),
            )),
            argon2_wait: Duration::from_millis(config.argon2_wait_ms),
            public_posts: RateLimiter::per_minute(config.public_posts_per_minute),
            public_reads: RateLimiter::per_minute(config.public_reads_per_minute),
            phone_codes: PhoneCodes::new(
                config.phone_codes_per_number_per_day,
                Duration::from_secs(config.phone_code_minutes.saturating_mul(60)),
                config.phone_code_attempts,
            )
            .shared(shared),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// The address a request comes from: the peer, or, when the peer is a trusted proxy, the
    /// last address of `X-Forwarded-For` that is not one.
    pub fn client_address(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> String {
        let Some(peer) = peer else {
            return "unknown".into();
        };
        if !self.trusted_proxies.contains(&peer) {
            return peer.to_string();
        }
        forwarded_for
            .into_iter()
            .flat_map(|header| header.rsplit(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .find(|hop| !self.trusted_proxies.contains(hop))
            .unwrap_or(peer)
            .to_string()
    }
}

/// The answer to a request over its limit: 429 with the wait in `Retry-After`.
pub fn too_many(what: &str, wait: Duration) -> AppError {
    let seconds = seconds(wait);
    AppError::TooManyRequests {
        message: format!("{what}: too many requests, retry in {seconds} s"),
        retry_after: seconds,
    }
}

/// A wait in whole seconds, rounded up, at least 1 (what `Retry-After` says).
pub fn seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The confirmation codes of the phone numbers citizens give at the intake. The platform texts
/// such a number (the tracking link, the call-back SMS, the feedback) only once its owner
/// proved it holds it by posting the code the platform sent there; until then a script cannot
/// make the platform text an arbitrary number, only send it a code, and that at most
/// `per_number` times a day.
///
/// Codes live in memory, keyed by order, for `ttl`: a restart forgets them (the number stays
/// unconfirmed and nothing is texted). A code is kept as a keyed digest, the number sealed.
#[derive(Debug)]
pub struct PhoneCodes {
    per_number: RateLimiter,
    per_number_per_day: u32,
    ttl: Duration,
    attempts: u32,
    pending: Mutex<HashMap<u64, PendingCode>>,
    /// The nodes of a shared partition keep the codes (and each number's codes of the day)
    /// together: a code sent through one node is checked on any.
    shared: Option<Arc<dyn SharedState>>,
}

/// A code waiting for its order, as the nodes of a shared partition keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SharedCode {
    contact: hcp_core::model::SealedField,
    digest: String,
    /// Milliseconds since the Unix epoch.
    expires_ms: u64,
    wrong: u32,
}

/// A number's codes of one day (China time), as the nodes of a shared partition count them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SharedDay {
    day: String,
    sent: u32,
}

#[derive(Debug, Clone)]
struct PendingCode {
    contact: hcp_core::model::SealedField,
    /// Keyed digest of order id and code.
    digest: String,
    expires: Instant,
    wrong: u32,
}

/// What a posted code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right: the number it was sent to, now confirmed (the pending code is gone).
    Confirmed(hcp_core::model::SealedField),
    /// Wrong; this many attempts are left.
    Wrong { left: u32 },
    /// Wrong too many times: the code is void and the number stays unconfirmed.
    Locked,
    /// No code waits for the order (never sent, expired, or used).
    NoCode,
}

impl PhoneCodes {
    pub fn new(per_number_per_day: u32, ttl: Duration, attempts: u32) -> PhoneCodes {
        PhoneCodes {
            per_number: RateLimiter::per_day(per_number_per_day),
            per_number_per_day,
            ttl,
            attempts: attempts.max(1),
            pending: Mutex::default(),
            shared: None,
        }
    }

    /// Kept with the other nodes of a shared partition in `state`.
    pub fn shared(mut self, state: Option<Arc<dyn SharedState>>) -> PhoneCodes {
        self.shared = state;
        self
    }

    fn code_key(order: u64) -> String {
        format!("code.{order}")
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, PendingCode>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long the code of a number is valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes one of the day's codes of the number whose keyed digest is `number`; when none
    /// is left, how long until one is.
    pub fn allow(&self, number: &str) -> Result<(), Duration> {
        if self.per_number_per_day > 0
            && let Some(state) = &self.shared
        {
            let limit = self.per_number_per_day;
            let today = hcp_core::calendar::local_date(chrono::Utc::now()).to_string();
            let allowed = update_shared::<SharedDay, bool>(
                state.as_ref(),
                &format!("codes.{}", hex::encode(number)),
                |record| {
                    let sent = record
                        .filter(|record| record.day == today)
                        .map_or(0, |record| record.sent);
                    if sent >= limit {
                        return (None, false);
                    }
                    let day = SharedDay {
                        day: today.clone(),
                        sent: sent + 1,
                    };
                    (Some(day), true)
                },
            );
            match allowed {
                Some(true) => return Ok(()),
                Some(false) => return Err(until_china_midnight()),
                None => {}
            }
        }
        self.per_number.take(number)
    }

    /// Keeps the code sent for `order` to `contact` (`digest`: the keyed digest of the order
    /// id and the code, see [`code_digest_input`]); replaces an earlier one of the order.
    pub fn keep(&self, order: u64, contact: hcp_core::model::SealedField, digest: String) {
        if let Some(state) = &self.shared {
            let code = SharedCode {
                contact: contact.clone(),
                digest: digest.clone(),
                expires_ms: now_ms()
                    .saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)),
                wrong: 0,
            };
            match serde_json::to_vec(&code) {
                Ok(bytes) => match state.put(&PhoneCodes::code_key(order), &bytes) {
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(%error, "the shared phone codes are out of reach; the code is kept on this node")
                    }
                },
                Err(error) => tracing::error!(%error, "a phone code does not encode"),
            }
        }
        self.keep_at(order, contact, digest, Instant::now());
    }

    fn keep_at(
        &self,
        order: u64,
        contact: hcp_core::model::SealedField,
        digest: String,
        now: Instant,
    ) {
        let mut pending = self.pending();
        if pending.len() >= MAX_KEYS && !pending.contains_key(&order) {
            pending.retain(|_, code| code.expires > now);
            if pending.len() >= MAX_KEYS {
                let mut expiries: Vec<Instant> =
                    pending.values().map(|code| code.expires).collect();
                expiries.sort_unstable();
                let cut = expiries[expiries.len() / 10];
                pending.retain(|_, code| code.expires > cut);
            }
        }
        pending.insert(
            order,
            PendingCode {
                contact,
                digest,
                expires: now + self.ttl,
                wrong: 0,
            },
        );
    }

    /// The masked number a code of `order` was sent to, while that code can still be entered.
    pub fn waiting(&self, order: u64) -> Option<String> {
        if let Some(state) = &self.shared
            && let Some((Some(code), _)) =
                read_shared::<SharedCode>(state.as_ref(), &PhoneCodes::code_key(order))
        {
            return (code.expires_ms > now_ms() && code.wrong < self.attempts)
                .then_some(code.contact.masked);
        }
        let pending = self.pending();
        let code = pending.get(&order)?;
        (code.expires > Instant::now() && code.wrong < self.attempts)
            .then(|| code.contact.masked.clone())
    }

    /// Checks a posted code of `order` (`digest`: its keyed digest, as kept).
    pub fn check(&self, order: u64, digest: &str) -> CodeCheck {
        if let Some(state) = &self.shared
            && let Some(checked) = self.check_shared(state.as_ref(), order, digest)
        {
            return checked;
        }
        self.check_at(order, digest, Instant::now())
    }

    /// [`PhoneCodes::check`] against the shared codes; `None` when they are out of reach and
    /// the code has not been found there (it may have been kept on this node).
    fn check_shared(&self, state: &dyn SharedState, order: u64, digest: &str) -> Option<CodeCheck> {
        let key = PhoneCodes::code_key(order);
        let attempts = self.attempts;
        let checked = update_shared::<SharedCode, CodeCheck>(state, &key, |code| {
            let Some(mut code) = code else {
                return (None, CodeCheck::NoCode);
            };
            if code.expires_ms <= now_ms() {
                return (None, CodeCheck::NoCode);
            }
            if code.wrong >= attempts {
                return (None, CodeCheck::Locked);
            }
            if hcp_core::auth::constant_time_eq(&code.digest, digest) {
                return (None, CodeCheck::Confirmed(code.contact));
            }
            code.wrong += 1;
            let answer = if code.wrong >= attempts {
                CodeCheck::Locked
            } else {
                CodeCheck::Wrong {
                    left: attempts - code.wrong,
                }
            };
            (Some(code), answer)
        })?;
        // A confirmed code is used up; a void or expired one goes too.
        if matches!(checked, CodeCheck::Confirmed(_))
            && let Err(error) = state.remove(&key)
        {
            tracing::warn!(%error, "a used phone code could not be removed from the shared records");
        }
        match checked {
            // Kept on this node while the shared records were out of reach, perhaps.
            CodeCheck::NoCode if self.pending().contains_key(&order) => None,
            checked => Some(checked),
        }
    }

    fn check_at(&self, order: u64, digest: &str, now: Instant) -> CodeCheck {
        let mut pending = self.pending();
        let Some(code) = pending.get_mut(&order) else {
            return CodeCheck::NoCode;
        };
        if code.expires <= now {
            pending.remove(&order);
            return CodeCheck::NoCode;
        }
        if code.wrong >= self.attempts {
            return CodeCheck::Locked;
        }
        if hcp_core::auth::constant_time_eq(&code.digest, digest) {
            let contact = code.contact.clone();
            pending.remove(&order);
            return CodeCheck::Confirmed(contact);
        }
        code.wrong += 1;
        if code.wrong >= self.attempts {
            CodeCheck::Locked
        } else {
            CodeCheck::Wrong {
                left: self.attempts - code.wrong,
            }
        }
    }
}

/// Milliseconds since the Unix epoch, now: what the nodes of a shared partition compare.
fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// How long until the next midnight, China time (when a number's codes of the day renew).
fn until_china_midnight() -> Duration {
    let now = chrono::Utc::now().with_timezone(&hcp_core::calendar::china_tz());
    let tomorrow = now
        .date_naive()
        .succ_opt()
        .and_then(|day| day.and_hms_opt(0, 0, 0));
    tomorrow
        .map(|midnight| midnight - now.naive_local())
        .and_then(|wait| wait.to_std().ok())
        .unwrap_or(Duration::from_secs(3600))
}

/// One shared record and its revision (`(None, 0)` when there is none); `None` when the shared
/// records are out of reach (the caller counts on this node alone).
fn read_shared<T: DeserializeOwned>(
    state: &dyn SharedState,
    key: &str,
) -> Option<(Option<T>, u64)> {
    match state.get(key) {
        Ok(None) => Some((None, 0)),
        // A record that does not decode counts as none, at its revision (to be replaced).
        Ok(Some((bytes, revision))) => Some((serde_json::from_slice(&bytes).ok(), revision)),
        Err(error) => {
            tracing::warn!(%error, key, "the shared records are out of reach; counting on this node");
            None
        }
    }
}

/// Changes one shared record by `change` (the record as it is → the record to write, `None`
/// to leave it, and the answer), compare-and-swap, tried again when another node wrote first.
/// `None` when the shared records are out of reach.
fn update_shared<T: Serialize + DeserializeOwned, R>(
    state: &dyn SharedState,
    key: &str,
    change: impl Fn(Option<T>) -> (Option<T>, R),
) -> Option<R> {
    for _ in 0..16 {
        let (current, revision) = read_shared::<T>(state, key)?;
        let (next, answer) = change(current);
        let Some(next) = next else {
            return Some(answer);
        };
        let bytes = serde_json::to_vec(&next).ok()?;
        match state.swap(key, &bytes, revision) {
            Ok(Some(_)) => return Some(answer),
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, key, "the shared records are out of reach; counting on this node");
                return None;
            }
        }
    }
    tracing::warn!(
        key,
        "a shared record kept changing under this node; counting on this node"
    );
    None
}

/// What the keyed digest of a code covers: the order it was sent for and the code, so that a
/// code is good for its own order only.
pub fn code_digest_input(order: u64, code: &str) -> String {
    format!("{order}:{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limiter = RateLimiter::per_minute(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take_at("a", start), Ok(()));
        }
        let wait = limiter.take_at("a", start).err();
        assert!(wait.is_some_and(|wait| wait.as_secs() == 20), "{wait:?}");
        // Another key has its own bucket.
        assert_eq!(limiter.take_at("b", start), Ok(()));
        assert_eq!(
            limiter.take_at("a", start + Duration::from_secs(21)),
            Ok(())
        );
        assert!(RateLimiter::per_minute(0).take("a").is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = RateLimiter::per_minute(1);
        let now = Instant::now();
        for n in 0..MAX_KEYS + 10 {
            let _ = limiter.take_at(&n.to_string(), now + Duration::from_micros(n as u64));
        }
        let held = limiter
            .buckets
            .lock()
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        assert!(held <= MAX_KEYS, "{held}");
    }

    #[test]
    fn failures_lock_an_account_and_success_clears_them() {
        let lockout = Lockout::new(3, Duration::from_secs(60));
        assert_eq!(lockout.fail("u"), Failure::Counted);
        lockout.succeed("u");
        assert_eq!(lockout.fail("u"), Failure::Counted);
        assert_eq!(lockout.fail("u"), Failure::Counted);
        assert_eq!(lockout.locked("u"), None);
        assert_eq!(lockout.fail("u"), Failure::Locked);
        assert!(lockout.locked("u").is_some());
        assert_eq!(lockout.locked("v"), None);
    }

    #[test]
    fn a_day_limit_allows_its_count_a_day() {
        let limiter = RateLimiter::per_day(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take_at("n", start), Ok(()));
        }
        let wait = limiter.take_at("n", start).err();
        assert!(
            wait.is_some_and(|wait| wait.as_secs() == 8 * 3600),
            "{wait:?}"
        );
        assert_eq!(
            limiter.take_at("n", start + Duration::from_secs(8 * 3600 + 1)),
            Ok(())
        );
    }

    fn contact() -> hcp_core::model::SealedField {
        hcp_core::model::SealedField {
            sealed: "sealed".into(),
            masked: "139****5678".into(),
        }
    }

    #[test]
    fn a_code_confirms_once_and_wrong_codes_lock_it() {
        let codes = PhoneCodes::new(3, Duration::from_secs(600), 3);
        let now = Instant::now();
        codes.keep_at(7, contact(), "right".into(), now);
        assert_eq!(codes.check_at(8, "right", now), CodeCheck::NoCode);
        assert_eq!(
            codes.check_at(7, "wrong", now),
            CodeCheck::Wrong { left: 2 }
        );
        assert_eq!(
            codes.check_at(7, "right", now),
            CodeCheck::Confirmed(contact())
        );
        assert_eq!(codes.check_at(7, "right", now), CodeCheck::NoCode, "used");
        codes.keep_at(7, contact(), "right".into(), now);
        assert_eq!(codes.check_at(7, "a", now), CodeCheck::Wrong { left: 2 });
        assert_eq!(codes.check_at(7, "b", now), CodeCheck::Wrong { left: 1 });
        assert_eq!(codes.check_at(7, "c", now), CodeCheck::Locked);
        assert_eq!(codes.check_at(7, "right", now), CodeCheck::Locked);
        codes.keep_at(9, contact(), "right".into(), now);
        assert_eq!(
            codes.check_at(9, "right", now + Duration::from_secs(600)),
            CodeCheck::NoCode,
            "expired"
        );
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let limits = Limits::new(
            &LimitsConfig {
                trusted_proxies: vec!["10.0.0.1".parse().unwrap_or(IpAddr::from([0; 4]))],
                ..LimitsConfig::default()
            },
            None,
        );
        let proxy = "10.0.0.1".parse().ok();
        let other = "192.0.2.7".parse().ok();
        assert_eq!(
            limits.client_address(proxy, Some("203.0.113.9, 10.0.0.1")),
            "203.0.113.9"
        );
        assert_eq!(
            limits.client_address(other, Some("203.0.113.9")),
            "192.0.2.7"
        );
        assert_eq!(limits.client_address(proxy, None), "10.0.0.1");
        assert_eq!(limits.client_address(None, Some("1.2.3.4")), "unknown");
    }
}
