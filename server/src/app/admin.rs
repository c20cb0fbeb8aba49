//! Administration: signing in, users, sources and their API keys, master data, and the replay
//! of kept rejections.

use hcp_core::auth::{self, Principal, Role, Source, User};
use hcp_core::event::RejectedPayload;
use hcp_core::model::{Device, DeviceModel, OrgUnit, ServiceItem, Staff};
use hcp_core::store::{Command, Dim, MasterChange};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::ingest::{BatchResult, CANONICAL_ADAPTER, replay};
use crate::app::platform::Platform;
use crate::app::scope::Target;

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
    if request.username == actor.username {
        // Nobody demotes, moves or disables themselves by mistake (or by a stolen session):
        // one's own password changes at /api/v1/auth/password, the rest by another
        // administrator.
        return Err(AppError::Forbidden(
            "an administrator does not replace their own account: change your password at \
             /api/v1/auth/password; another administrator changes your role or scope"
                .into(),
        ));
    }
    crate::app::sessions::check_password(&request.password)?;
    if request.username.trim().is_empty() || request.username.chars().count() > 64 {
        return Err(AppError::BadRequest(
            "username must have 1 to 64 characters".into(),
        ));
    }
    platform.scope().ensure_manages_user(
        actor,
        platform.store.user(&request.username)?.as_ref(),
        &request.username,
        &request.scope,
        request.staff_id.as_deref(),
    )?;
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
    // A new password, role, scope, staff record or a disabling ends the user's sessions.
    crate::app::sessions::end_sessions_of(platform, &user.username, Some(&user.stamp()))?;
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
    platform.scope().ensure_manages_source(
        actor,
        platform.store.source(&request.id)?.as_ref(),
        &request.id,
        &request.scope,
    )?;
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

/// Creates or replaces a master-data record within the administrator's scope (what it replaces
/// and everything it names); returns its log sequence number. Blocking.
pub fn upsert_master(
    platform: &Platform,
    actor: &Principal,
    record: MasterRecord,
) -> Result<u64, AppError> {
    master_in_scope(platform, actor, &record)?;
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

/// The scope guard's questions about a master-data record: what it replaces and what it names
/// lie within the administrator's scope; a device model (shared by every device of it) is the
/// root's. Blocking.
fn master_in_scope(
    platform: &Platform,
    actor: &Principal,
    record: &MasterRecord,
) -> Result<(), AppError> {
    let scope = platform.scope();
    let store = &platform.store;
    match record {
        MasterRecord::OrgUnit(unit) => scope.ensure_org_change(actor, unit),
        MasterRecord::Staff(staff) => {
            if store.staff(&staff.id)?.is_some() {
                scope.ensure_reference(actor, "staff", Dim::Staff, &staff.id)?;
            }
            scope.ensure_reference(actor, "department", Dim::Region, &staff.department)?;
            match &staff.window {
                Some(window) => scope.ensure_reference(actor, "window", Dim::Region, window),
                None => Ok(()),
            }
        }
        MasterRecord::Item(item) => {
            if store.item(&item.task_code)?.is_some() {
                scope.ensure_reference(actor, "item", Dim::Item, &item.task_code)?;
            }
            scope.ensure_reference(actor, "department", Dim::Region, &item.department)
        }
        MasterRecord::Device(device) => {
            if let Some(existing) = store.device(&device.id)? {
                scope.ensure_reference(
                    actor,
                    &format!("device {} at window", device.id),
                    Dim::Region,
                    &existing.window,
                )?;
            }
            scope.ensure_reference(actor, "window", Dim::Region, &device.window)
        }
        MasterRecord::DeviceModel(_) => scope.ensure_city(
            actor,
            &[Role::Admin],
            "a device model applies to every device of it",
        ),
    }
}

/// The users an administrator manages: those within their scope. Blocking.
pub fn users(platform: &Platform, actor: &Principal) -> Result<Vec<UserView>, AppError> {
    let scope = platform.scope();
    let mut users = Vec::new();
    for user in platform.store.users()? {
        if scope.sees(actor, Target::User(&user))? {
            users.push(UserView::from(user));
        }
    }
    Ok(users)
}

/// The sources an administrator manages: those within their scope. Blocking.
pub fn sources(platform: &Platform, actor: &Principal) -> Result<Vec<Source>, AppError> {
    let scope = platform.scope();
    let mut sources = Vec::new();
    for source in platform.store.sources()? {
        if scope.sees(actor, Target::Source(&source))? {
            sources.push(source);
        }
    }
    Ok(sources)
}

/// Whether a kept payload came through a source within the administrator's scope. Blocking.
pub fn sees_rejection(
    platform: &Platform,
    actor: &Principal,
    rejected: &RejectedPayload,
) -> Result<bool, AppError> {
    Ok(match platform.store.source(&rejected.source)? {
        Some(source) => platform.scope().sees(actor, Target::Source(&source))?,
        // A source since removed: its payloads are the root's to deal with.
        None => platform.scope().at_root(actor)?,
    })
}

/// Replays a kept payload of a source within the administrator's scope; when nothing in it is
/// refused any more it is resolved (it leaves the list), otherwise it stays kept. Blocking.
pub fn replay_rejection(
    platform: &Platform,
    actor: &Principal,
    seq: u64,
) -> Result<BatchResult, AppError> {
    let rejected = match platform.store.rejection(seq)? {
        Some(rejected) if sees_rejection(platform, actor, &rejected)? => rejected,
        _ => {
            return Err(AppError::NotFound(format!(
                "no open rejection {seq} within your scope"
            )));
        }
    };
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
