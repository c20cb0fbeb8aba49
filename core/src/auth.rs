//! Who may do what: users with one role scoped to an org subtree, ingest sources with API keys,
//! password hashing (argon2id) and signed session tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
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
    #[error("invalid or expired token")]
    Token,
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

#[derive(Serialize, Deserialize)]
struct TokenClaims {
    principal: Principal,
    expires: DateTime<Utc>,
}

/// Signs and checks session tokens (HMAC-SHA256 over the claims). Stateless, so a restart keeps
/// everyone signed in; tokens expire after [`TokenSigner::lifetime`].
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
    lifetime: Duration,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl TokenSigner {
    pub fn new(key: [u8; 32], lifetime: Duration) -> TokenSigner {
        TokenSigner { key, lifetime }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn mac(&self, body: &str) -> Result<Vec<u8>, AuthError> {
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| AuthError::Token)?;
        mac.update(body.as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    pub fn issue(&self, principal: &Principal, now: DateTime<Utc>) -> Result<String, AuthError> {
        let claims = TokenClaims {
            principal: principal.clone(),
            expires: now + self.lifetime,
        };
        let body = B64URL.encode(serde_json::to_vec(&claims).map_err(|_| AuthError::Token)?);
        let signature = B64URL.encode(self.mac(&body)?);
        Ok(format!("{body}.{signature}"))
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, AuthError> {
        let (body, signature) = token.split_once('.').ok_or(AuthError::Token)?;
        let signature = B64URL.decode(signature).map_err(|_| AuthError::Token)?;
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| AuthError::Token)?;
        mac.update(body.as_bytes());
        mac.verify_slice(&signature).map_err(|_| AuthError::Token)?;
        let claims: TokenClaims =
            serde_json::from_slice(&B64URL.decode(body).map_err(|_| AuthError::Token)?)
                .map_err(|_| AuthError::Token)?;
        if claims.expires <= now {
            return Err(AuthError::Token);
        }
        Ok(claims.principal)
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
    fn tokens_expire_and_resist_tampering() {
        let signer = TokenSigner::new([1; 32], Duration::hours(1));
        let principal = Principal {
            username: "u".into(),
            role: Role::Supervisor,
            scope: "410400".into(),
            staff_id: None,
        };
        let now = Utc::now();
        let token = signer.issue(&principal, now).unwrap_or_default();
        assert_eq!(signer.verify(&token, now).ok(), Some(principal.clone()));
        assert!(signer.verify(&token, now + Duration::hours(2)).is_err());
        let other = TokenSigner::new([2; 32], Duration::hours(1));
        assert!(other.verify(&token, now).is_err());
        let forged = TokenSigner::new([1; 32], Duration::hours(1));
        let admin = Principal {
            role: Role::Admin,
            ..principal
        };
        let (_, signature) = token.split_once('.').unwrap_or_default();
        let body = forged.issue(&admin, now).unwrap_or_default();
        let (body, _) = body.split_once('.').unwrap_or_default();
        assert!(signer.verify(&format!("{body}.{signature}"), now).is_err());
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
