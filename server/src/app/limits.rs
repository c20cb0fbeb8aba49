//! Abuse limits: keyed rate limiters for the open doors (sign-in, the citizens' posts) and the
//! sign-in lockout. They count real time (a monotonic clock), not the platform's clock: a
//! simulation's manual clock must not freeze or release a limit.
//!
//! Memory is bounded: each limiter holds at most [`MAX_KEYS`] keys; when full, keys whose
//! bucket has refilled are dropped first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        RateLimiter {
            burst: f64::from(per_minute),
            per_second: f64::from(per_minute) / 60.0,
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
        }
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
        let accounts = self.accounts();
        let (count, last) = accounts.get(account)?;
        let elapsed = last.elapsed();
        (*count >= self.failures && elapsed < self.lockout).then(|| self.lockout - elapsed)
    }

    pub fn fail(&self, account: &str) -> Failure {
        if self.failures == 0 {
            return Failure::Counted;
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
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Limits {
        Limits {
            login_per_address: RateLimiter::per_minute(config.login_per_address_per_minute),
            login_lockout: Lockout::new(
                config.login_failures,
                Duration::from_secs(config.login_lockout_seconds),
            ),
            argon2: std::sync::Arc::new(tokio::sync::Semaphore::new(
                config.argon2_concurrency.max(1),
            )),
            argon2_wait: Duration::from_millis(config.argon2_wait_ms),
            public_posts: RateLimiter::per_minute(config.public_posts_per_minute),
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
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    AppError::TooManyRequests {
        message: format!("{what}: too many requests, retry in {seconds} s"),
        retry_after: seconds.max(1),
    }
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
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let limits = Limits::new(&LimitsConfig {
            trusted_proxies: vec!["10.0.0.1".parse().unwrap_or(IpAddr::from([0; 4]))],
            ..LimitsConfig::default()
        });
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
