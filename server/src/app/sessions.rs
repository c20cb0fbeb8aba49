//! Sessions: signing in and out, the session check of every request, and changing one's own
//! password.
//!
//! A session token is random; the server keeps a record of it (by the token's hash) and checks
//! it on each request against the user as stored now. A session ends when its user signs out,
//! when it has been idle for the idle timeout, at the end of its lifetime, and at once when the
//! user's role, scope, staff record or password changes or the user is disabled (the record
//! carries the user's [`User::stamp`] and must still match it).
//!
//! Sign-in is guarded three ways: attempts per client address ([`Limits::login_per_address`]),
//! failures per account (a lockout, audited), and the argon2 work itself (a semaphore).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hcp_core::auth::{self, Principal, SessionRecord, User};
use hcp_core::event::AuditEntry;
use hcp_core::store::{Command, MasterChange};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::limits::{self, Failure, Limits};
use crate::app::platform::Platform;

/// Longest user name the platform keeps (longer ones are refused before any hashing).
pub const MAX_USERNAME_CHARS: usize = 64;

/// A session's last request is written back at most this often, so a busy session does not
/// write on every request; the idle timeout is exact to within it.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// How sessions live: set from `[security]`.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session ends this long after it was opened, however busy.
    pub lifetime: Duration,
    /// A session ends this long after its last request.
    pub idle: Duration,
    /// Open sessions one user may have; opening one more ends the oldest.
    pub per_user: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The session ends here at the latest.
    pub expires_at: DateTime<Utc>,
    /// And earlier after this many seconds without a request.
    pub idle_timeout_seconds: i64,
    pub user: Principal,
}

/// A hashing slot: argon2 (19 MiB, tens of milliseconds) runs only while one is held. Waits
/// up to `argon2_wait`, then answers 429.
pub async fn hashing_slot(
    limits: &Arc<Limits>,
) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
    match tokio::time::timeout(limits.argon2_wait, limits.argon2.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(AppError::Internal("the hashing semaphore is closed".into())),
        Err(_) => Err(limits::too_many(
            "sign-in is busy",
            std::time::Duration::from_secs(1),
        )),
    }
}

/// Signs a user in from `address`: the limits first, then the password (in a hashing slot, on
/// a blocking thread), then a new session. Every outcome that concerns an account is audited.
pub async fn sign_in(
    platform: &Platform,
    username: String,
    password: String,
    address: String,
) -> Result<LoginResponse, AppError> {
    let limits = &platform.limits;
    limits
        .login_per_address
        .take(&address)
        .map_err(|wait| limits::too_many("sign-in attempts from this address", wait))?;
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(AppError::Unauthorized);
    }
    // The lockout may be counted with other nodes (a blocking call), so it is asked off the
    // async workers.
    let locked = {
        let platform = platform.clone();
        let username = username.clone();
        tokio::task::spawn_blocking(move || platform.limits.login_lockout.locked(&username))
            .await
            .map_err(|error| AppError::Internal(format!("sign-in task failed: {error}")))?
    };
    if let Some(wait) = locked {
        return Err(limits::too_many(
            "this account is locked after repeated failed sign-ins",
            wait,
        ));
    }
    let slot = hashing_slot(limits).await?;
    let platform = platform.clone();
    tokio::task::spawn_blocking(move || {
        // A user created on another node a moment ago is looked for again once caught up.
        let user = platform.store.read_fresh(|store| store.user(&username))?;
        // Verify against a throwaway hash when the user is unknown, so timing does not tell.
        let valid = match &user {
            Some(user) => auth::verify_password(&password, &user.password_hash),
            None => auth::verify_password(&password, unknown_user_hash()),
        };
        drop(slot);
        match user {
            Some(user) if valid && !user.disabled => {
                platform.limits.login_lockout.succeed(&username);
                audit(&platform, &username, "sign_in", &username, &address)?;
                open(&platform, &user, &address)
            }
            known => {
                let failure = platform.limits.login_lockout.fail(&username);
                if let Some(user) = known {
                    let action = match failure {
                        Failure::Locked => "account_locked",
                        Failure::Counted => "sign_in_failed",
                    };
                    audit(&platform, "anonymous", action, &user.username, &address)?;
                }
                Err(AppError::Unauthorized)
            }
        }
    })
    .await
    .map_err(|error| AppError::Internal(format!("sign-in task failed: {error}")))?
}

fn audit(
    platform: &Platform,
    actor: &str,
    action: &str,
    target: &str,
    address: &str,
) -> Result<(), AppError> {
    platform.record(Command::Audit {
        entry: AuditEntry {
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            detail: format!("from {address}"),
        },
    })?;
    Ok(())
}

/// argon2id hash of a random string nobody knows, made once per process.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password(&auth::new_api_key()).unwrap_or_default())
}

/// Opens a session of `user`; ends its sessions that are over and, beyond the per-user
/// number, its oldest. Blocking.
pub fn open(platform: &Platform, user: &User, address: &str) -> Result<LoginResponse, AppError> {
    let settings = platform.sessions;
    let now = platform.clock.now();
    let mut own: Vec<(DateTime<Utc>, Vec<u8>)> = platform
        .session_book
        .sessions()?
        .into_iter()
        .filter(|(_, record)| {
            record.username == user.username && record.open_at(now, settings.idle)
        })
        .map(|(key, record)| (record.opened_at, key))
        .collect();
    own.sort_unstable();
    // With this one there are to be `per_user` at most: the oldest of the others end.
    let excess = (own.len() + 1).saturating_sub(settings.per_user);
    let oldest: Vec<Vec<u8>> = own.into_iter().take(excess).map(|(_, key)| key).collect();
    platform.session_book.end_sessions(&mut |key, record| {
        !record.open_at(now, settings.idle) || oldest.iter().any(|old| old.as_slice() == key)
    })?;
    let token = auth::new_session_token();
    let record = SessionRecord {
        username: user.username.clone(),
        stamp: user.stamp(),
        opened_at: now,
        expires_at: now + settings.lifetime,
        last_seen: now,
        address: address.to_string(),
    };
    platform
        .session_book
        .put_session(&auth::session_key(&token), &record)?;
    Ok(LoginResponse {
        token,
        expires_at: record.expires_at,
        idle_timeout_seconds: settings.idle.num_seconds(),
        user: user.principal(),
    })
}

/// The principal of a session token, if the session is open and its user unchanged; the
/// request counts as activity. Blocking.
pub fn principal(platform: &Platform, token: &str) -> Result<Principal, AppError> {
    let key = auth::session_key(token);
    let record = platform
        .session_book
        .session(&key)?
        .ok_or(AppError::Unauthorized)?;
    let now = platform.clock.now();
    let current = |store: &hcp_core::store::Store| {
        Ok(store
            .user(&record.username)?
            .filter(|user| !user.disabled && user.stamp() == record.stamp))
    };
    // A session opened on another node under a change this node has not caught up with yet
    // (a password just set there) is looked at again once caught up.
    let user = platform.store.read_fresh(current)?;
    let Some(user) = user.filter(|_| record.open_at(now, platform.sessions.idle)) else {
        platform.session_book.end_session(&key)?;
        tracing::info!(
            username = %record.username,
            opened_at = %record.opened_at,
            last_seen = %record.last_seen,
            %now,
            "session over (idle, expired, or its user changed)"
        );
        return Err(AppError::Unauthorized);
    };
    if now - record.last_seen >= TOUCH_EVERY {
        platform.session_book.put_session(
            &key,
            &SessionRecord {
                last_seen: now,
                ..record
            },
        )?;
    }
    Ok(user.principal())
}

/// Ends the session of `token` (signing out). Blocking.
pub fn sign_out(platform: &Platform, principal: &Principal, token: &str) -> Result<(), AppError> {
    platform
        .session_book
        .end_session(&auth::session_key(token))?;
    platform.record(Command::Audit {
        entry: AuditEntry {
            actor: principal.username.clone(),
            action: "sign_out".into(),
            target: principal.username.clone(),
            detail: String::new(),
        },
    })?;
    Ok(())
}

/// Ends every session of `username` not opened under `stamp` (all of them when `None`): what
/// a change of the user does. Sessions under an old stamp are refused anyway; this clears
/// them away. Blocking.
pub fn end_sessions_of(
    platform: &Platform,
    username: &str,
    stamp: Option<&str>,
) -> Result<usize, AppError> {
    let ended = platform.session_book.end_sessions(&mut |_, record| {
        record.username == username && stamp.is_none_or(|stamp| record.stamp != stamp)
    })?;
    if ended > 0 {
        tracing::info!(username, ended, "sessions ended: the user changed");
    }
    Ok(ended)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    #[schema(max_length = 200)]
    pub current_password: String,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 200)]
    pub new_password: String,
}

/// Longest password the platform hashes (argon2 takes any length; the cap keeps a request's
/// work bounded).
pub const MAX_PASSWORD_CHARS: usize = 200;

/// Checks a new password's length: 8 to [`MAX_PASSWORD_CHARS`] characters.
pub fn check_password(password: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err(AppError::BadRequest(
            "password must have at least 8 characters".into(),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "password must have at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Changes the caller's own password: every session of theirs ends, and a new one is opened
/// for the caller. Blocking (argon2: hold a [`hashing_slot`]).
pub fn change_password(
    platform: &Platform,
    principal: &Principal,
    change: PasswordChange,
    address: &str,
) -> Result<LoginResponse, AppError> {
    check_password(&change.new_password)?;
    let user = platform
        .store
        .user(&principal.username)?
        .ok_or(AppError::Unauthorized)?;
    if change.current_password.chars().count() > MAX_PASSWORD_CHARS
        || !auth::verify_password(&change.current_password, &user.password_hash)
    {
        return Err(AppError::Forbidden("the current password is wrong".into()));
    }
    let user = User {
        password_hash: auth::hash_password(&change.new_password)
            .map_err(|error| AppError::Internal(error.to_string()))?,
        ..user
    };
    platform.record(Command::Master {
        actor: principal.username.clone(),
        change: MasterChange::User(user.clone()),
    })?;
    end_sessions_of(platform, &user.username, None)?;
    open(platform, &user, address)
}
