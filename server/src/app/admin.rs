//! Administration: signing in, users, sources and their API keys, master data, and the replay
//! of kept rejections.

use chrono::{DateTime, Utc};
use hcp_core::auth::{self, Principal, Role, Source, User};
use hcp_core::model::{Device, DeviceModel, OrgUnit, ServiceItem, Staff};
use hcp_core::store::{Command, MasterChange};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::ingest::{BatchResult, CANONICAL_ADAPTER, replay};
use crate::app::platform::Platform;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: Principal,
}

/// Signs a user in with a password and issues a session token. Blocking (argon2).
pub fn sign_in(
    platform: &Platform,
    username: &str,
    password: &str,
) -> Result<LoginResponse, AppError> {
    let user = platform.store.user(username)?.filter(|user| !user.disabled);
    // Verify against a throwaway hash when the user is unknown, so timing does not tell.
    let valid = match &user {
        Some(user) => auth::verify_password(password, &user.password_hash),
        None => auth::verify_password(password, unknown_user_hash()),
    };
    let Some(user) = user.filter(|_| valid) else {
        return Err(AppError::Unauthorized);
    };
    let principal = Principal {
        username: user.username,
        role: user.role,
        scope: user.scope,
        staff_id: user.staff_id,
    };
    let now = platform.clock.now();
    let token = platform
        .tokens
        .issue(&principal, now)
        .map_err(|error| AppError::Internal(error.to_string()))?;
    Ok(LoginResponse {
        token,
        expires_at: now + platform.tokens.lifetime(),
        user: principal,
    })
}

/// argon2id hash of a random string nobody knows, made once per process.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password(&auth::new_api_key()).unwrap_or_default())
}

/// A user as listed (no password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub scope: String,
    pub staff_id: Option<String>,
    pub disabled: bool,
}

impl From<User> for UserView {
    fn from(user: User) -> UserView {
        UserView {
            username: user.username,
            display_name: user.display_name,
            role: user.role,
            scope: user.scope,
            staff_id: user.staff_id,
            disabled: user.disabled,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRequest {
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub username: String,
    #[schema(max_length = 200)]
    pub display_name: String,
    pub role: Role,
    /// Org unit whose subtree the user may see.
    #[schema(max_length = 64)]
    pub scope: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub staff_id: Option<String>,
    /// At least 8 characters; stored only as an argon2id hash.
    #[schema(max_length = 200, min_length = 8)]
    pub password: String,
    #[serde(default)]
    pub disabled: bool,
}

/// Creates or replaces a user; the password is kept only as its hash. Blocking (argon2).
pub fn upsert_user(
    platform: &Platform,
    actor: &Principal,
    request: UserRequest,
) -> Result<UserView, AppError> {
    if request.password.chars().count() < 8 {
        return Err(AppError::BadRequest(
            "password must have at least 8 characters".into(),
        ));
    }
    if request.username.trim().is_empty() || request.username.chars().count() > 64 {
        return Err(AppError::BadRequest(
            "username must have 1 to 64 characters".into(),
        ));
    }
    let user = User {
        username: request.username,
        display_name: request.display_name,
        role: request.role,
        scope: request.scope,
        staff_id: request.staff_id,
        password_hash: auth::hash_password(&request.password)
            .map_err(|error| AppError::Internal(error.to_string()))?,
        disabled: request.disabled,
    };
    platform.record(Command::Master {
        actor: actor.username.clone(),
        change: MasterChange::User(user.clone()),
    })?;
    Ok(UserView::from(user))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SourceRequest {
    #[schema(max_length = 64, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// Adapter decoding `/api/v1/ingest/{source}` payloads; default `canonical-json`.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub adapter: Option<String>,
    /// Org unit whose subtree the source may submit data for.
    #[schema(max_length = 64)]
    pub scope: String,
    /// What reports through it; default `other`.
    #[serde(default)]
    pub kind: hcp_core::auth::SourceKind,
    /// Expected to report (应接尽接): counted in its region's "systems connected" ratio and
    /// listed when silent. Register every business system and device fleet that should report,
    /// before it is connected.
    #[serde(default)]
    pub expected: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedSource {
    pub source: Source,
    /// Shown only now; the platform keeps only its hash. Issuing again replaces the key.
    pub api_key: String,
}

/// Creates a source (or re-issues its key) once its id is checked; the key is returned only
/// now. Blocking.
pub fn create_source(
    platform: &Platform,
    actor: &Principal,
    request: SourceRequest,
) -> Result<IssuedSource, AppError> {
    let valid_id = !request.id.is_empty()
        && request.id.len() <= 64
        && request
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_id {
        return Err(AppError::BadRequest(
            "source id must be 1-64 letters, digits, - or _".into(),
        ));
    }
    let (source, api_key) = issue_source(platform, &actor.username, request)?;
    Ok(IssuedSource { source, api_key })
}

/// Creates or re-keys a source. Blocking; shared by the API and the demo.
pub fn issue_source(
    platform: &Platform,
    actor: &str,
    request: SourceRequest,
) -> Result<(Source, String), AppError> {
    let api_key = auth::new_api_key();
    let source = Source {
        id: request.id,
        name: request.name,
        adapter: request
            .adapter
            .unwrap_or_else(|| CANONICAL_ADAPTER.to_string()),
        scope: request.scope,
        key_hash: auth::api_key_hash(&api_key),
        disabled: false,
        kind: request.kind,
        expected: request.expected,
    };
    platform.record(Command::Master {
        actor: actor.to_string(),
        change: MasterChange::Source(source.clone()),
    })?;
    Ok((source, api_key))
}

/// A master-data record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "record", rename_all = "snake_case")]
pub enum MasterRecord {
    OrgUnit(OrgUnit),
    Staff(Staff),
    Item(ServiceItem),
    Device(Device),
    DeviceModel(DeviceModel),
}

/// Creates or replaces a master-data record; returns its log sequence number. Blocking.
pub fn upsert_master(
    platform: &Platform,
    actor: &Principal,
    record: MasterRecord,
) -> Result<u64, AppError> {
    let change = match record {
        MasterRecord::OrgUnit(unit) => MasterChange::OrgUnit(unit),
        MasterRecord::Staff(staff) => MasterChange::Staff(staff),
        MasterRecord::Item(item) => MasterChange::Item(item),
        MasterRecord::Device(device) => MasterChange::Device(device),
        MasterRecord::DeviceModel(model) => MasterChange::DeviceModel(model),
    };
    platform.record(Command::Master {
        actor: actor.username.clone(),
        change,
    })
}

/// Replays a kept payload; when nothing in it is refused any more it is resolved (it leaves the
/// list), otherwise it stays kept. Blocking.
pub fn replay_rejection(
    platform: &Platform,
    actor: &Principal,
    seq: u64,
) -> Result<BatchResult, AppError> {
    let rejected = platform
        .store
        .rejection(seq)?
        .ok_or_else(|| AppError::NotFound(format!("no open rejection {seq}")))?;
    let payload = platform
        .store
        .open_rejected_payload(&rejected)
        .map_err(|error| AppError::Internal(error.to_string()))?;
    let batch = replay(platform, &rejected.source, &rejected.content_type, &payload)?;
    if batch.rejected == 0 {
        platform.record(Command::ResolveRejected {
            actor: actor.username.clone(),
            rejected_seq: seq,
            resolution: format!(
                "replayed: {} recorded, {} duplicates",
                batch.recorded, batch.duplicates
            ),
        })?;
    }
    Ok(batch)
}
