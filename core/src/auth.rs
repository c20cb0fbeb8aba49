//! Who may do what: users with one role scoped to an org subtree, ingest sources with API keys,
//! password hashing (argon2id) and server-side sessions.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The roles of the platform; each user holds one, within one org subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: users, master data, sources, devices, plugins
    Admin,
    /// 县/市监督人员: dashboards, supervision, assessment
    Supervisor,
    /// 部门办理人员: bad-review work orders of the department
    DepartmentHandler,
    /// 窗口工作人员: own results, never a rating live as it is pressed
    WindowStaff,
    /// 回访人员: the call-back list; may reveal an evaluator's phone to call
    CallbackAgent,
    /// 审核人员: appeals and moderation
    Reviewer,
    /// 规则编辑: county policies
    RuleEditor,
}

/// What a request wants to do; checked against the role in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read ratings, cases and roll-ups (masked).
    ReadRatings,
    /// See an evaluator's personal data in clear (audited).
    RevealEvaluator,
    /// Manage users, sources, master data.
    Administer,
    /// Read the audit trail.
    ReadAudit,
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Supervisor => matches!(permission, ReadRatings | ReadAudit),
            Role::DepartmentHandler | Role::CallbackAgent => {
                matches!(permission, ReadRatings | RevealEvaluator)
            }
            Role::WindowStaff | Role::Reviewer => matches!(permission, ReadRatings),
            Role::RuleEditor => false,
        }
    }

    /// Window staff see their results from the previous days only, so that no rating can be
    /// watched as it is pressed (social pressure, 诱导好评).
    pub fn sees_live_ratings(self) -> bool {
        self != Role::WindowStaff
    }
}

/// A user account as stored (the password only as an argon2id PHC string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Org unit whose subtree the user may see.
    pub scope: String,
    /// Window staff: the staff record whose results they see.
    #[serde(default)]
    pub staff_id: Option<String>,
    pub password_hash: String,
    #[serde(default)]
    pub disabled: bool,
}

/// What reports through a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A business system (业务系统: 一体化政务服务平台, a department's own system) reporting service
    /// acts and the ratings it takes.
    BusinessSystem,
    /// A fleet of hall rating devices (评价器) or QR-code pages.
    Devices,
    /// The platform itself (default ratings, ratings taken through its own links).
    Platform,
    #[default]
    Other,
}

impl SourceKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            SourceKind::BusinessSystem => "业务系统",
            SourceKind::Devices => "评价设备",
            SourceKind::Platform => "平台自身",
            SourceKind::Other => "其他",
        }
    }
}

/// A system or device fleet allowed to push data, with the hash of its API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    pub id: String,
    pub name: String,
    /// Which adapter decodes its raw payloads on `/api/v1/ingest/{source}`.
    pub adapter: String,
    /// Org unit whose subtree this source may submit data for.
    pub scope: String,
    /// sha256 (hex) of the API key; the key itself is shown once, when issued.
    #[schema(ignore)]
    #[serde(default)]
    pub key_hash: String,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub kind: SourceKind,
    /// Expected to report (应接尽接): counted in the "systems connected" ratio of its region, and
    /// listed when it falls silent.
    #[serde(default)]
    pub expected: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|error| AuthError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AuthError::Hash(error.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random API key, `hcpk_` + 43 characters. API keys carry 256 bits of entropy, so a plain
/// sha256 suffices to store them (argon2 would cost every ingest request 20 ms).
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("hcpk_{}", B64URL.encode(bytes))
}

pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two hashes without leaking the position of the first difference.
pub fn constant_time_eq(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    pub scope: String,
    #[serde(default)]
    pub staff_id: Option<String>,
}

/// A new random session token, `hcps_` + 43 characters (256 bits). Only its hash
/// ([`session_key`]) is stored, so a copy of the data folder signs nobody in.
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("hcps_{}", B64URL.encode(bytes))
}

/// The key a session is stored under: the sha256 of its token.
pub fn session_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl User {
    /// A digest of what a session of this user stands on: role, scope, staff record, password
    /// and whether the account is disabled. A session opened under another stamp is over, so
    /// changing any of them ends the user's sessions at once.
    pub fn stamp(&self) -> String {
        let mut digest = Sha256::new();
        for part in [
            serde_json::to_string(&self.role)
                .unwrap_or_default()
                .as_str(),
            self.scope.as_str(),
            self.staff_id.as_deref().unwrap_or("\u{0}"),
            self.password_hash.as_str(),
            if self.disabled { "disabled" } else { "enabled" },
        ] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        hex::encode(digest.finalize())
    }

    /// The principal this user acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            username: self.username.clone(),
            role: self.role,
            scope: self.scope.clone(),
            staff_id: self.staff_id.clone(),
        }
    }
}

/// A signed-in session as the server keeps it (under [`session_key`] of its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub username: String,
    /// [`User::stamp`] when the session was opened.
    pub stamp: String,
    pub opened_at: DateTime<Utc>,
    /// The session ends here whatever happens (the configured lifetime).
    pub expires_at: DateTime<Utc>,
    /// Last request seen, to within a minute; the idle timeout counts from it.
    pub last_seen: DateTime<Utc>,
    /// The client address it was opened from.
    pub address: String,
}

impl SessionRecord {
    /// Whether the session is still open at `now` with an idle timeout of `idle`.
    pub fn open_at(&self, now: DateTime<Utc>, idle: Duration) -> bool {
        now < self.expires_at && now < self.last_seen + idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let hash = hash_password("s3cret").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn a_user_change_changes_the_stamp() {
        let user = User {
            username: "u".into(),
            display_name: "U".into(),
            role: Role::Supervisor,
            scope: "410400".into(),
            staff_id: None,
            password_hash: "h".into(),
            disabled: false,
        };
        let stamp = user.stamp();
        assert_eq!(stamp, user.clone().stamp());
        let renamed = User {
            display_name: "V".into(),
            ..user.clone()
        };
        assert_eq!(
            renamed.stamp(),
            stamp,
            "a display name does not end sessions"
        );
        for changed in [
            User {
                role: Role::Admin,
                ..user.clone()
            },
            User {
                scope: "410421".into(),
                ..user.clone()
            },
            User {
                staff_id: Some("s1".into()),
                ..user.clone()
            },
            User {
                password_hash: "h2".into(),
                ..user.clone()
            },
            User {
                disabled: true,
                ..user.clone()
            },
        ] {
            assert_ne!(changed.stamp(), stamp, "{changed:?}");
        }
    }

    #[test]
    fn sessions_idle_out_and_expire() {
        let now = Utc::now();
        let record = SessionRecord {
            username: "u".into(),
            stamp: String::new(),
            opened_at: now,
            expires_at: now + Duration::hours(12),
            last_seen: now,
            address: "127.0.0.1".into(),
        };
        let idle = Duration::minutes(30);
        assert!(record.open_at(now + Duration::minutes(29), idle));
        assert!(!record.open_at(now + Duration::minutes(30), idle));
        let busy = SessionRecord {
            last_seen: now + Duration::hours(12),
            ..record
        };
        assert!(!busy.open_at(now + Duration::hours(12), idle));
        let token = new_session_token();
        assert!(token.starts_with("hcps_") && token.len() > 40);
        assert_ne!(session_key(&token), session_key(&new_session_token()));
    }

    #[test]
    fn api_keys() {
        let key = new_api_key();
        assert!(key.starts_with("hcpk_") && key.len() > 40);
        assert!(constant_time_eq(&api_key_hash(&key), &api_key_hash(&key)));
        assert!(!constant_time_eq(
            &api_key_hash(&key),
            &api_key_hash("other")
        ));
    }
}
