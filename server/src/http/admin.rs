//! Sign-in, users, sources and their API keys, master data, kept rejections and the audit trail
//! over HTTP; what changes anything is done by `app::admin`.

use super::extract::{Json, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use hcp_core::auth::{Permission, Principal, Role, Source};
use hcp_core::event::{AuditEntry, RejectedPayload};
use hcp_core::validate::{Reason, caps};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ClientAddr;
use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::admin::{self, IssuedSource, MasterRecord, SourceRequest, UserRequest, UserView};
use crate::app::ingest::BatchResult;
use crate::app::platform::Platform;
use crate::app::sessions::{self, LoginResponse, PasswordChange};

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(max_length = 64)]
    pub username: String,
    #[schema(max_length = 200)]
    pub password: String,
}

/// Sign in with a user name and password; opens a session and returns its token. Attempts are
/// limited per client address, and repeated failures lock the account for a while (429 with
/// `Retry-After` either way); sign-ins, failures and lockouts of an account are audited.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "admin",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = super::ErrorBody))
)]
pub async fn login(
    State(platform): State<Platform>,
    ClientAddr(address): ClientAddr,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    Ok(Json(
        sessions::sign_in(&platform, request.username, request.password, address).await?,
    ))
}

/// Sign out: the session of this token ends now.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "admin",
    responses((status = 204, description = "The session has ended")),
    security(("session" = []))
)]
pub async fn logout(
    State(platform): State<Platform>,
    auth: Auth,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = super::session_token(&headers)
        .ok_or(ApiError::Unauthorized)?
        .to_string();
    blocking(move || sessions::sign_out(&platform, &auth.0, &token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change one's own password: every session of the caller ends (on every device) and a new one
/// is opened for this client.
#[utoipa::path(
    post, path = "/api/v1/auth/password", tag = "admin",
    request_body = PasswordChange,
    responses((status = 200, body = LoginResponse), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn change_password(
    State(platform): State<Platform>,
    auth: Auth,
    ClientAddr(address): ClientAddr,
    Json(change): Json<PasswordChange>,
) -> Result<Json<LoginResponse>, ApiError> {
    let slot = sessions::hashing_slot(&platform.limits).await?;
    blocking(move || {
        let _slot = slot;
        Ok(Json(sessions::change_password(
            &platform, &auth.0, change, &address,
        )?))
    })
    .await
}

/// The signed-in user, the name of their scope, and what they may do (the console offers a
/// screen or a button only when its capability is listed; every route still checks its own rule).
#[utoipa::path(get, path = "/api/v1/me", tag = "admin", responses((status = 200, body = crate::app::capabilities::Me)), security(("session" = [])))]
pub async fn me(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<Json<crate::app::capabilities::Me>, ApiError> {
    blocking(move || Ok(Json(crate::app::capabilities::me(&platform, &auth.0)?))).await
}

fn require_admin(auth: &Auth) -> Result<Principal, ApiError> {
    auth.require(Permission::Administer).cloned()
}

/// A city-wide act (the clock, the uplink, adapters): one of `roles`, scoped to the root of the
/// org tree ([`crate::app::scope::Scope::ensure_city`]); the caller otherwise.
pub(super) async fn city_act(
    platform: &Platform,
    auth: &Auth,
    roles: &'static [Role],
    what: &'static str,
) -> Result<Principal, ApiError> {
    let (platform, principal) = (platform.clone(), auth.0.clone());
    blocking(move || {
        platform.scope().ensure_city(&principal, roles, what)?;
        Ok(principal)
    })
    .await
}

/// The users within the administrator's scope.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(PageQuery), responses((status = 200, body = Page<UserView>)), security(("session" = [])))]
pub async fn list_users(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let actor = require_admin(&auth)?;
    blocking(move || Ok(Json(Page::of(admin::users(&platform, &actor)?, &paging)?))).await
}

/// Create or replace a user within the administrator's scope: its scope (and staff record)
/// within theirs, replacing no account outside it; the bootstrap `admin` only from the root.
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
    let slot = sessions::hashing_slot(&platform.limits).await?;
    blocking(move || {
        let _slot = slot;
        let user = admin::upsert_user(&platform, &actor, request)?;
        Ok((StatusCode::CREATED, Json(user)))
    })
    .await
}

/// The ingest sources within the administrator's scope.
#[utoipa::path(get, path = "/api/v1/admin/sources", tag = "admin", params(PageQuery), responses((status = 200, body = Page<Source>)), security(("session" = [])))]
pub async fn list_sources(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<Source>>, ApiError> {
    let actor = require_admin(&auth)?;
    blocking(move || Ok(Json(Page::of(admin::sources(&platform, &actor)?, &paging)?))).await
}

/// Create a source (or re-issue its key) within the administrator's scope and return its new
/// API key once. The platform's own `system` source is never issued a key.
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
/// device model. What it replaces and what it names lie within the administrator's scope (no
/// unit moves into or out of it); a device model, shared by every device of it, from the root.
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

/// Payloads and items that were refused and are kept for replay, of the sources within the
/// administrator's scope, oldest first.
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
    let actor = require_admin(&auth)?;
    let limit = paging.limit()?;
    let after = paging.position_number()?.unwrap_or(0);
    blocking(move || {
        let rows = platform.store.rejections(after, limit)?;
        // The cursor follows the rows walked, so a page of other scopes' rows is short, not last.
        let page = Page::keyed(rows, limit, |(seq, _)| *seq);
        let mut items = Vec::with_capacity(page.items.len());
        for (seq, rejected) in page.items {
            if admin::sees_rejection(&platform, &actor, &rejected)? {
                items.push(RejectionView::new(seq, rejected));
            }
        }
        Ok(Json(Page {
            items,
            next_cursor: page.next_cursor,
        }))
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only what this user did.
    #[param(max_length = 64)]
    pub actor: Option<String>,
    /// Only what was done to this (`rating:123`, a user name, a rules version …).
    #[param(max_length = 200)]
    pub target: Option<String>,
}

/// The audit trail, newest first (reveals of personal data and other audited actions). An
/// account scoped below the root reads only what the users of its subtree (as they are scoped now)
/// did. A page looks at
/// no more than 5,000 entries; when a filter matches little it ends early with a cursor.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "admin",
    params(AuditFilter, PageQuery),
    responses((status = 200, body = Page<AuditView>)),
    security(("session" = []))
)]
pub async fn audit(
    State(platform): State<Platform>,
    auth: Auth,
    Query(filter): Query<AuditFilter>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    let principal = auth.require(Permission::ReadAudit)?.clone();
    let limit = paging.limit()?;
    let mut before = paging.position_number()?;
    for (field, value, cap) in [
        ("actor", &filter.actor, caps::CODE),
        ("target", &filter.target, caps::NAME),
    ] {
        if value
            .as_ref()
            .is_some_and(|value| value.chars().count() > cap)
        {
            return Err(ApiError::invalid_field(
                field,
                format!("at most {cap} characters"),
            ));
        }
    }
    blocking(move || {
        let store = &platform.store;
        let root = store
            .org_unit(&principal.scope)?
            .is_some_and(|unit| unit.parent.is_none());
        // Below the root: the users of the caller's subtree.
        let ours: Option<std::collections::BTreeSet<String>> = if root {
            None
        } else {
            let mut names = std::collections::BTreeSet::new();
            for user in store.users()? {
                if user.scope == principal.scope
                    || store.within(hcp_core::store::Dim::Region, &user.scope, &principal.scope)?
                {
                    names.insert(user.username);
                }
            }
            Some(names)
        };
        let wanted = |entry: &AuditEntry| {
            filter
                .actor
                .as_deref()
                .is_none_or(|actor| entry.actor == actor)
                && filter
                    .target
                    .as_deref()
                    .is_none_or(|target| entry.target == target)
                && ours
                    .as_ref()
                    .is_none_or(|names| names.contains(&entry.actor))
        };
        let mut items = Vec::new();
        let mut scanned = 0;
        let mut resume = None;
        'walk: loop {
            let chunk = store.audit(before, super::page::MAX_LIMIT)?;
            let exhausted = chunk.len() < super::page::MAX_LIMIT;
            for (seq, entry) in chunk {
                scanned += 1;
                before = Some(seq);
                if wanted(&entry) {
                    items.push(AuditView { seq, entry });
                    if items.len() == limit {
                        resume = Some(seq);
                        break 'walk;
                    }
                }
                if scanned >= super::page::MAX_SCAN {
                    resume = Some(seq);
                    break 'walk;
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(Json(Page {
            items,
            next_cursor: resume.map(super::page::encode_number),
        }))
    })
    .await
}
