//! Sign-in, users, sources and their API keys, master data, kept rejections and the audit trail.

use super::extract::{Json, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hcp_core::auth::{self, Permission, Principal, Role, Source, User};
use hcp_core::event::{AuditEntry, RejectedPayload};
use hcp_core::model::{Device, DeviceModel, OrgUnit, ServiceItem, Staff};
use hcp_core::store::{Command, MasterChange, Outcome};
use hcp_core::validate::Reason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::ingest::{BatchResult, CANONICAL_ADAPTER, replay};
use crate::app::platform::Platform;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: Principal,
}

/// Sign in with a user name and password; returns a session token.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "admin",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = super::ErrorBody))
)]
pub async fn login(
    State(platform): State<Platform>,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    blocking(move || {
        let user = platform
            .store
            .user(&request.username)?
            .filter(|user| !user.disabled);
        // Verify against a throwaway hash when the user is unknown, so timing does not tell.
        let valid = match &user {
            Some(user) => auth::verify_password(&request.password, &user.password_hash),
            None => auth::verify_password(&request.password, unknown_user_hash()),
        };
        let Some(user) = user.filter(|_| valid) else {
            return Err(ApiError::Unauthorized);
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
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        Ok(Json(LoginResponse {
            token,
            expires_at: now + platform.tokens.lifetime(),
            user: principal,
        }))
    })
    .await
}

/// argon2id hash of a random string nobody knows, made once per process.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password(&auth::new_api_key()).unwrap_or_default())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "admin", responses((status = 200, body = Principal)), security(("session" = [])))]
pub async fn me(auth: Auth) -> Json<Principal> {
    Json(auth.0)
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
    pub display_name: String,
    pub role: Role,
    /// Org unit whose subtree the user may see.
    pub scope: String,
    #[serde(default)]
    pub staff_id: Option<String>,
    /// At least 8 characters; stored only as an argon2id hash.
    #[schema(min_length = 8)]
    pub password: String,
    #[serde(default)]
    pub disabled: bool,
}

fn admin(auth: &Auth) -> Result<Principal, ApiError> {
    auth.require(Permission::Administer).cloned()
}

/// Records a command and turns a domain rejection into a 422. Blocking.
fn record(platform: &Platform, command: Command) -> Result<u64, ApiError> {
    match platform.store.submit_one(command)? {
        Outcome::Recorded { seq } | Outcome::Duplicate { seq } => Ok(seq),
        Outcome::Rejected(error) => Err(ApiError::Unprocessable(error.reason())),
    }
}

/// All users.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(PageQuery), responses((status = 200, body = Page<UserView>)), security(("session" = [])))]
pub async fn list_users(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    admin(&auth)?;
    blocking(move || {
        Ok(Json(
            Page::of(platform.store.users()?, &paging)?.map(UserView::from),
        ))
    })
    .await
}

/// Create or replace a user.
#[utoipa::path(
    post, path = "/api/v1/admin/users", tag = "admin",
    request_body = UserRequest,
    responses((status = 201, body = UserView), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn upsert_user(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<UserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let actor = admin(&auth)?;
    if request.password.chars().count() < 8 {
        return Err(ApiError::BadRequest(
            "password must have at least 8 characters".into(),
        ));
    }
    if request.username.trim().is_empty() || request.username.chars().count() > 64 {
        return Err(ApiError::BadRequest(
            "username must have 1 to 64 characters".into(),
        ));
    }
    blocking(move || {
        let user = User {
            username: request.username,
            display_name: request.display_name,
            role: request.role,
            scope: request.scope,
            staff_id: request.staff_id,
            password_hash: auth::hash_password(&request.password)
                .map_err(|error| ApiError::Internal(error.to_string()))?,
            disabled: request.disabled,
        };
        record(
            &platform,
            Command::Master {
                actor: actor.username,
                change: MasterChange::User(user.clone()),
            },
        )?;
        Ok((StatusCode::CREATED, Json(UserView::from(user))))
    })
    .await
}

/// All ingest sources.
#[utoipa::path(get, path = "/api/v1/admin/sources", tag = "admin", params(PageQuery), responses((status = 200, body = Page<Source>)), security(("session" = [])))]
pub async fn list_sources(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<Source>>, ApiError> {
    admin(&auth)?;
    blocking(move || Ok(Json(Page::of(platform.store.sources()?, &paging)?))).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SourceRequest {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    pub name: String,
    /// Adapter decoding `/api/v1/ingest/{source}` payloads; default `canonical-json`.
    #[serde(default)]
    pub adapter: Option<String>,
    /// Org unit whose subtree the source may submit data for.
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

/// Create a source (or re-issue its key) and return its new API key once.
#[utoipa::path(
    post, path = "/api/v1/admin/sources", tag = "admin",
    request_body = SourceRequest,
    responses((status = 201, body = IssuedSource), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn create_source(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<SourceRequest>,
) -> Result<(StatusCode, Json<IssuedSource>), ApiError> {
    let actor = admin(&auth)?;
    let valid_id = !request.id.is_empty()
        && request.id.len() <= 64
        && request
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_id {
        return Err(ApiError::BadRequest(
            "source id must be 1-64 letters, digits, - or _".into(),
        ));
    }
    blocking(move || {
        let (source, api_key) = issue_source(&platform, &actor.username, request)?;
        Ok((StatusCode::CREATED, Json(IssuedSource { source, api_key })))
    })
    .await
}

/// Creates or re-keys a source. Blocking; shared by the API and the demo.
pub fn issue_source(
    platform: &Platform,
    actor: &str,
    request: SourceRequest,
) -> Result<(Source, String), ApiError> {
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
    record(
        platform,
        Command::Master {
            actor: actor.to_string(),
            change: MasterChange::Source(source.clone()),
        },
    )?;
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

/// Create or replace master data: an org unit, a member of staff, a service item, a device, a
/// device model.
#[utoipa::path(
    post, path = "/api/v1/admin/master", tag = "admin",
    request_body = MasterRecord,
    responses((status = 201, description = "recorded; body is the log sequence number", body = u64, content_type = "application/json"), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn upsert_master(
    State(platform): State<Platform>,
    auth: Auth,
    Json(record_body): Json<MasterRecord>,
) -> Result<(StatusCode, Json<u64>), ApiError> {
    let actor = admin(&auth)?;
    let change = match record_body {
        MasterRecord::OrgUnit(unit) => MasterChange::OrgUnit(unit),
        MasterRecord::Staff(staff) => MasterChange::Staff(staff),
        MasterRecord::Item(item) => MasterChange::Item(item),
        MasterRecord::Device(device) => MasterChange::Device(device),
        MasterRecord::DeviceModel(model) => MasterChange::DeviceModel(model),
    };
    blocking(move || {
        let seq = record(
            &platform,
            Command::Master {
                actor: actor.username,
                change,
            },
        )?;
        Ok((StatusCode::CREATED, Json(seq)))
    })
    .await
}

/// A kept payload as listed: why it was refused, not its (sealed) bytes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RejectionView {
    pub seq: u64,
    pub source: String,
    pub content_type: String,
    pub reason: Reason,
}

impl RejectionView {
    fn new(seq: u64, rejected: RejectedPayload) -> RejectionView {
        RejectionView {
            seq,
            source: rejected.source,
            content_type: rejected.content_type,
            reason: rejected.reason,
        }
    }
}

/// Payloads and items that were refused and are kept for replay, oldest first.
#[utoipa::path(
    get, path = "/api/v1/admin/rejections", tag = "admin",
    params(PageQuery),
    responses((status = 200, body = Page<RejectionView>)),
    security(("session" = []))
)]
pub async fn list_rejections(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<RejectionView>>, ApiError> {
    admin(&auth)?;
    let limit = paging.limit()?;
    let after = paging.position_number()?.unwrap_or(0);
    blocking(move || {
        let rows = platform.store.rejections(after, limit)?;
        Ok(Json(
            Page::keyed(rows, limit, |(seq, _)| *seq)
                .map(|(seq, rejected)| RejectionView::new(seq, rejected)),
        ))
    })
    .await
}

/// Replay a kept payload (after master data or an adapter was fixed). When nothing in it is
/// refused any more it leaves the list; otherwise it stays and the new reasons are returned.
#[utoipa::path(
    post, path = "/api/v1/admin/rejections/{seq}/replay", tag = "admin",
    params(("seq" = u64, Path, description = "Sequence number of the kept payload")),
    responses((status = 200, body = BatchResult), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn replay_rejection(
    State(platform): State<Platform>,
    auth: Auth,
    Path(seq): Path<u64>,
) -> Result<Json<BatchResult>, ApiError> {
    let actor = admin(&auth)?;
    blocking(move || {
        let rejected = platform
            .store
            .rejection(seq)?
            .ok_or_else(|| ApiError::NotFound(format!("no open rejection {seq}")))?;
        let payload = platform
            .store
            .open_rejected_payload(&rejected)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let batch = replay(
            &platform,
            &rejected.source,
            &rejected.content_type,
            &payload,
        )?;
        if batch.rejected == 0 {
            record(
                &platform,
                Command::ResolveRejected {
                    actor: actor.username,
                    rejected_seq: seq,
                    resolution: format!(
                        "replayed: {} recorded, {} duplicates",
                        batch.recorded, batch.duplicates
                    ),
                },
            )?;
        }
        Ok(Json(batch))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditView {
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// The audit trail, newest first (reveals of personal data and other audited actions).
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "admin",
    params(PageQuery),
    responses((status = 200, body = Page<AuditView>)),
    security(("session" = []))
)]
pub async fn audit(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    auth.require(Permission::ReadAudit)?;
    let limit = paging.limit()?;
    let before = paging.position_number()?;
    blocking(move || {
        let rows = platform.store.audit(before, limit)?;
        Ok(Json(
            Page::keyed(rows, limit, |(seq, _)| *seq).map(|(seq, entry)| AuditView { seq, entry }),
        ))
    })
    .await
}
