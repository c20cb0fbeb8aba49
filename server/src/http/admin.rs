//! Sign-in, users, sources and their API keys, master data, kept rejections and the audit trail
//! over HTTP; what changes anything is done by `app::admin`.

use super::extract::{Json, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use hcp_core::auth::{Permission, Principal, Source};
use hcp_core::event::{AuditEntry, RejectedPayload};
use hcp_core::validate::Reason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::admin::{
    self, IssuedSource, LoginResponse, MasterRecord, SourceRequest, UserRequest, UserView,
};
use crate::app::ingest::BatchResult;
use crate::app::platform::Platform;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(max_length = 64)]
    pub username: String,
    #[schema(max_length = 200)]
    pub password: String,
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
        Ok(Json(admin::sign_in(
            &platform,
            &request.username,
            &request.password,
        )?))
    })
    .await
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "admin", responses((status = 200, body = Principal)), security(("session" = [])))]
pub async fn me(auth: Auth) -> Json<Principal> {
    Json(auth.0)
}

fn require_admin(auth: &Auth) -> Result<Principal, ApiError> {
    auth.require(Permission::Administer).cloned()
}

/// All users.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(PageQuery), responses((status = 200, body = Page<UserView>)), security(("session" = [])))]
pub async fn list_users(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    require_admin(&auth)?;
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
    let actor = require_admin(&auth)?;
    blocking(move || {
        let user = admin::upsert_user(&platform, &actor, request)?;
        Ok((StatusCode::CREATED, Json(user)))
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
    require_admin(&auth)?;
    blocking(move || Ok(Json(Page::of(platform.store.sources()?, &paging)?))).await
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
    let actor = require_admin(&auth)?;
    blocking(move || {
        let issued = admin::create_source(&platform, &actor, request)?;
        Ok((StatusCode::CREATED, Json(issued)))
    })
    .await
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
    Json(record): Json<MasterRecord>,
) -> Result<(StatusCode, Json<u64>), ApiError> {
    let actor = require_admin(&auth)?;
    blocking(move || {
        let seq = admin::upsert_master(&platform, &actor, record)?;
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
    require_admin(&auth)?;
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
    let actor = require_admin(&auth)?;
    blocking(move || Ok(Json(admin::replay_rejection(&platform, &actor, seq)?))).await
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
