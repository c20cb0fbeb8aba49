//! The county policies over HTTP: status, version history, rollback, evaluating a hook by hand,
//! and the decisions recorded about a rating.

use super::extract::{Json, Path, Query};
use axum::extract::State;
use hcp_core::auth::{Permission, Role};
use hcp_core::event::{PolicyDecision, PolicyVersionRecord};
use hcp_core::policy::Hook;
use hcp_core::validate::caps;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::rules::RulesStatus;
use crate::app::scope::Target;

fn editor(auth: &Auth) -> Result<String, ApiError> {
    match auth.0.role {
        Role::Admin | Role::RuleEditor => Ok(auth.0.username.clone()),
        role => Err(ApiError::Forbidden(format!(
            "role {role:?} may not change the rules"
        ))),
    }
}

/// The active rules version, when and by whom it was activated, and why the last candidate was
/// refused, if it was.
#[utoipa::path(
    get, path = "/api/v1/rules/status", tag = "rules",
    responses((status = 200, body = RulesStatus)),
    security(("session" = []))
)]
pub async fn status(State(platform): State<Platform>, _auth: Auth) -> Json<RulesStatus> {
    Json(platform.policies.status())
}

/// Every activation, oldest first; the last is active.
#[utoipa::path(
    get, path = "/api/v1/rules/versions", tag = "rules",
    params(PageQuery),
    responses((status = 200, body = Page<PolicyVersionRecord>)),
    security(("session" = []))
)]
pub async fn versions(
    State(platform): State<Platform>,
    _auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<PolicyVersionRecord>>, ApiError> {
    blocking(move || {
        Ok(Json(Page::of(
            platform.store.policy_activations()?,
            &paging,
        )?))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RollbackRequest {
    /// A version (content hash) that was once active.
    #[schema(max_length = 64)]
    pub version: String,
    /// Roll back only this county's folder (6-digit code, within the caller's scope); without
    /// it the whole folder, every county's rules: only for an account scoped to the root.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{6}$", max_length = 12)]
    pub county: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RollbackResult {
    pub active_version: String,
}

/// Put the files of an earlier version back into the rules folder and activate them (they are
/// validated and tested like any change): one county's folder, or the whole folder.
#[utoipa::path(
    post, path = "/api/v1/rules/rollback", tag = "rules",
    request_body = RollbackRequest,
    responses(
        (status = 200, body = RollbackResult),
        (status = 403, description = "a county outside the caller's scope, or the whole folder from below the root", body = super::ErrorBody),
        (status = 422, body = super::ErrorBody)
    ),
    security(("session" = []))
)]
pub async fn rollback(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<RollbackRequest>,
) -> Result<Json<RollbackResult>, ApiError> {
    let principal = auth.0;
    blocking(move || {
        let active_version = crate::app::rules::rollback(
            &platform,
            &principal,
            &request.version,
            request.county.as_deref(),
        )?;
        Ok(Json(RollbackResult { active_version }))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EvalRequest {
    /// `deadline`, `routing`, `assessment`, `veto`, `invitation`, `default_rating`, `integrity`
    #[schema(
        max_length = 64,
        pattern = "^(deadline|routing|assessment|veto|invitation|default_rating|integrity)$"
    )]
    pub hook: String,
    /// 6-digit county code whose rules decide.
    #[schema(max_length = 64)]
    pub county: String,
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvalResult {
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
    /// `default` or the county folder that served the hook.
    pub scope: String,
    pub hook_version: String,
    /// Fingerprint of the calendar the due instants were counted on.
    pub calendar_version: String,
    /// The first year without an official holiday table the answer was counted on (phases
    /// marked `provisional`) or waits for (`awaiting`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisional_year: Option<i32>,
}

/// Run one hook of the active rules on an input, without recording anything.
#[utoipa::path(
    post, path = "/api/v1/rules/eval", tag = "rules",
    request_body = EvalRequest,
    responses((status = 200, body = EvalResult), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn eval(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<EvalRequest>,
) -> Result<Json<EvalResult>, ApiError> {
    let role = auth.0.role;
    if !(role.allows(Permission::ReadRatings) || matches!(role, Role::Admin | Role::RuleEditor)) {
        return Err(ApiError::Forbidden(format!(
            "role {role:?} may not evaluate rules"
        )));
    }
    let hook: Hook = request
        .hook
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown hook {}", request.hook)))?;
    let principal = auth.0;
    blocking(move || {
        if !platform
            .scope()
            .sees(&principal, Target::RulesCounty(&request.county))?
        {
            return Err(ApiError::Forbidden(format!(
                "the rules of {} lie outside your scope {}",
                request.county, principal.scope
            )));
        }
        let active = platform.policies.active();
        let evaluated = active
            .eval(hook, &request.county, &request.input)
            .map_err(|error| {
                ApiError::Unprocessable(hcp_core::validate::Reason {
                    code: "rule_failed".into(),
                    message: error.to_string(),
                })
            })?;
        Ok(Json(EvalResult {
            output: evaluated.output,
            scope: evaluated.scope,
            hook_version: evaluated.hook_version,
            calendar_version: active.calendar().version(),
            provisional_year: evaluated.provisional,
        }))
    })
    .await
}

/// The decisions the rules made about a rating (deadlines of a 差评), each with the version of
/// the rules that made it and the input it saw.
#[utoipa::path(
    get, path = "/api/v1/ratings/{id}/decisions", tag = "query",
    params(("id" = u64, Path, description = "Rating id"), PageQuery),
    responses((status = 200, body = Page<PolicyDecision>), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn decisions(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<PolicyDecision>>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let rating = crate::app::ratings::load_visible(&platform, &principal, id)?;
        let masker = crate::app::disclosure::Masker::for_reader(&platform, &principal)?;
        let mut decisions = platform.store.decisions(id)?;
        for decision in &mut decisions {
            decision.open_input_text(platform.store.pii())?;
            // Window staff read the comment a rule read as they read the rating's.
            if let Some(masker) = &masker
                && decision
                    .input
                    .get("text")
                    .is_some_and(|text| text.is_string())
            {
                decision.input["text"] = masker
                    .rating_text(&platform, &rating)
                    .map_or(serde_json::Value::Null, serde_json::Value::String);
            }
        }
        Ok(Json(Page::of(decisions, &paging)?))
    })
    .await
}

/// `files` of a simulation as documented: paths of at most [`caps::NAME`] characters to
/// contents of at most [`caps::FILE`].
/// The most files a rules folder sent in one request holds (the shipped folder has 30).
pub const MAX_FILES: usize = 200;

/// The largest body of a request carrying a rules folder: [`MAX_FILES`] files of at most
/// `caps::FILE` characters (up to 4 bytes each in UTF-8, more when JSON-escaped, so a folder of
/// that many full files is refused as too large rather than read whole).
pub fn body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)
}

fn too_many_files(files: &std::collections::BTreeMap<String, String>) -> Result<(), ApiError> {
    if files.len() > MAX_FILES {
        return Err(ApiError::invalid_field(
            "files",
            format!("at most {MAX_FILES} files"),
        ));
    }
    Ok(())
}

fn rules_files() -> utoipa::openapi::schema::Object {
    files_schema(true)
}

/// The files of a complete candidate folder (required, not null).
fn required_rules_files() -> utoipa::openapi::schema::Object {
    files_schema(false)
}

fn files_schema(nullable: bool) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let text = |max: usize| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(max))
    };
    ObjectBuilder::new()
        .schema_type(if nullable {
            [Type::Object, Type::Null]
                .into_iter()
                .collect::<SchemaType>()
        } else {
            SchemaType::Type(Type::Object)
        })
        .additional_properties(Some(text(caps::FILE)))
        .property_names(Some(text(caps::NAME)))
        .max_properties(Some(MAX_FILES))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SimulateRequest {
    /// A recorded version (content hash) to compare with the active one.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub version: Option<String>,
    /// Or the files of a candidate not yet saved into the rules folder (relative path →
    /// content, as in the folder: `default/deadline.rhai`, `410421/deadline.rhai`, tests …).
    /// With neither, the folder as it is now.
    #[serde(default)]
    #[schema(schema_with = rules_files)]
    pub files: Option<std::collections::BTreeMap<String, String>>,
    /// Region whose 差评 are replayed; default the caller's scope.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub unit: Option<String>,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    /// Most changes listed (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Replay the 差评 of a period through a candidate and list the deadlines that would move,
/// before activating it.
#[utoipa::path(
    post, path = "/api/v1/rules/simulate", tag = "rules",
    request_body = SimulateRequest,
    responses((status = 200, body = crate::app::rules::Simulation), (status = 404, description = "no recorded rules version of that hash", body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn simulate(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<SimulateRequest>,
) -> Result<Json<crate::app::rules::Simulation>, ApiError> {
    editor(&auth)?;
    if let Some(files) = &request.files {
        too_many_files(files)?;
    }
    let principal = auth.0;
    blocking(move || {
        let refused = |message: String| {
            ApiError::Unprocessable(hcp_core::validate::Reason {
                code: "candidate_refused".into(),
                message,
            })
        };
        let candidate = match (&request.files, &request.version) {
            (Some(files), _) => hcp_core::policy::PolicySet::from_files(
                files,
                platform.calendar().clone(),
                hcp_core::policy::Limits::default(),
            )
            .map_err(|error| refused(error.to_string()))?,
            (None, Some(version)) => {
                let files = platform.store.policy_files(version)?.ok_or_else(|| {
                    ApiError::NotFound(format!("no recorded rules version {version}"))
                })?;
                hcp_core::policy::PolicySet::from_files(
                    &files,
                    platform.calendar().clone(),
                    hcp_core::policy::Limits::default(),
                )
                .map_err(|error| refused(error.to_string()))?
            }
            (None, None) => platform.policies.folder_candidate().map_err(refused)?,
        };
        let unit = request.unit.unwrap_or_else(|| principal.scope.clone());
        platform
            .scope()
            .ensure_unit(&principal, hcp_core::store::Dim::Region, &unit)?;
        let simulation = crate::app::rules::simulate(
            &platform.store,
            &platform.policies.active(),
            &candidate,
            &unit,
            request.from,
            request.to,
            request.limit.unwrap_or(100),
        )?;
        Ok(Json(simulation))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilesQuery {
    /// A recorded version (content hash); default the active one.
    pub version: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RulesFiles {
    pub version: String,
    /// Relative path → content: `default/deadline.rhai`, `410421/tests/deadline.json` …
    pub files: std::collections::BTreeMap<String, String>,
}

fn reader(auth: &Auth) -> Result<(), ApiError> {
    let role = auth.0.role;
    if role.allows(Permission::ReadRatings) || matches!(role, Role::Admin | Role::RuleEditor) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "role {role:?} may not read the rules"
        )))
    }
}

/// The files of the active rules version, or of a recorded one.
#[utoipa::path(
    get, path = "/api/v1/rules/files", tag = "rules", params(FilesQuery),
    responses((status = 200, body = RulesFiles), (status = 404, description = "no recorded rules version of that hash", body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn files(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<FilesQuery>,
) -> Result<Json<RulesFiles>, ApiError> {
    reader(&auth)?;
    blocking(move || {
        let active = platform.policies.active();
        match query.version {
            None => Ok(Json(RulesFiles {
                version: active.version().to_string(),
                files: active.files().clone(),
            })),
            Some(version) => {
                let files = platform.store.policy_files(&version)?.ok_or_else(|| {
                    ApiError::NotFound(format!("no recorded rules version {version}"))
                })?;
                Ok(Json(RulesFiles { version, files }))
            }
        }
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckRequest {
    /// The complete candidate folder (relative path → content).
    #[schema(schema_with = required_rules_files)]
    pub files: std::collections::BTreeMap<String, String>,
}

/// Loads a candidate and runs its tests, activating nothing: whether it would be accepted, and
/// why not (file, line, column).
#[utoipa::path(
    post, path = "/api/v1/rules/check", tag = "rules", request_body = CheckRequest,
    responses((status = 200, body = crate::app::rules::RulesCheck)),
    security(("session" = []))
)]
pub async fn check(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<CheckRequest>,
) -> Result<Json<crate::app::rules::RulesCheck>, ApiError> {
    editor(&auth)?;
    too_many_files(&request.files)?;
    blocking(move || {
        Ok(Json(crate::app::rules::check_files(
            &request.files,
            &platform.calendar(),
        )))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SaveRequest {
    /// The county whose folder is written (6-digit code, within the caller's scope); without
    /// it the city's `default/` folder, for an account scoped to the root.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{6}$", max_length = 12)]
    pub county: Option<String>,
    /// The folder's whole new content (paths under `<county>/` or `default/`); files of the
    /// folder not listed are removed.
    #[schema(schema_with = required_rules_files)]
    pub files: std::collections::BTreeMap<String, String>,
}

/// Saves one folder of the rules and activates it (checked and tested first; a refused
/// candidate leaves the folder as it was). The answer is the status after activation.
#[utoipa::path(
    put, path = "/api/v1/rules/files", tag = "rules", request_body = SaveRequest,
    responses(
        (status = 200, body = RulesStatus),
        (status = 403, description = "a county outside the caller's scope, or `default/` from below the root", body = super::ErrorBody),
        (status = 422, description = "the candidate is refused (the reason names file, line and column)", body = super::ErrorBody)
    ),
    security(("session" = []))
)]
pub async fn save(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<SaveRequest>,
) -> Result<Json<RulesStatus>, ApiError> {
    editor(&auth)?;
    too_many_files(&request.files)?;
    let principal = auth.0;
    blocking(move || {
        crate::app::rules::save(
            &platform,
            &principal,
            request.county.as_deref(),
            &request.files,
        )?;
        Ok(Json(platform.policies.status()))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WhatIfRequest {
    /// The complete candidate folder (relative path → content).
    #[schema(schema_with = required_rules_files)]
    pub files: std::collections::BTreeMap<String, String>,
    /// `2026-11`, `2026-Q4`, `2026-H2` or `2026`.
    #[schema(
        max_length = 64,
        pattern = "^\\s*(20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?\\s*$"
    )]
    pub period: String,
    /// Which units: `region`, `hall`, `department`, `window` or `staff`.
    pub unit_kind: hcp_core::store::Dim,
    /// The region whose units are assessed; default the caller's scope.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub scope: Option<String>,
}

/// The assessment ranking and vetoes of a period under the active rules and under a candidate,
/// side by side; nothing is recorded.
#[utoipa::path(
    post, path = "/api/v1/rules/what-if", tag = "rules", request_body = WhatIfRequest,
    responses((status = 200, body = crate::app::rules::WhatIf), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn what_if(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<WhatIfRequest>,
) -> Result<Json<crate::app::rules::WhatIf>, ApiError> {
    too_many_files(&request.files)?;
    let principal = auth.0;
    blocking(move || {
        Ok(Json(crate::app::rules::what_if(
            &platform,
            &principal,
            &request.files,
            &request.period,
            request.unit_kind,
            request.scope,
        )?))
    })
    .await
}
