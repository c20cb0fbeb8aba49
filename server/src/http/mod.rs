//! The HTTP API: one router, one error type, authentication of users (session tokens) and
//! sources (API keys), and the OpenAPI document generated from the handlers.

pub mod admin;
mod analysis;
pub mod caps;
pub(crate) mod citizen;
pub mod console;
mod devices;
pub mod extract;
pub mod headers;
mod ingest;
pub mod metrics;
pub mod ops;
pub(crate) mod orders;
mod outreach;
pub mod page;
mod plugins;
mod privacy;
mod problems;
mod public;
pub(crate) mod read;
mod reports;
mod rules;
pub mod stats;
mod track;
mod uplink;
mod window;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hcp_core::auth::{self, Permission, Principal, Source};
use hcp_core::validate::Reason;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::app::platform::Platform;

/// The application's error, named for what it is here: what an API call answers.
pub use crate::app::AppError as ApiError;
pub use crate::app::error::RETRY_AFTER_SECONDS;

/// Error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: Reason,
}

/// The one error mapping: status, code and message of every error the API answers.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request".to_string()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized".to_string()),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden".to_string()),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found".to_string()),
            ApiError::Gone(_) => (StatusCode::GONE, "erased".to_string()),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict".to_string()),
            ApiError::Unprocessable(reason) => {
                (StatusCode::UNPROCESSABLE_ENTITY, reason.code.clone())
            }
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed".to_string(),
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large".to_string(),
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type".to_string(),
            ),
            ApiError::Unavailable(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason.code.clone()),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests".to_string(),
            ),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal".to_string()),
        };
        let retry = match &self {
            ApiError::Unavailable(_) => Some(RETRY_AFTER_SECONDS),
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let message = if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: Reason { code, message },
            }),
        )
            .into_response();
        if let Some(seconds) = retry {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

/// Runs blocking work (sled, argon2) off the async workers.
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(format!("blocking task failed: {error}")))?
}

/// A signed-in user, from `Authorization: Bearer <session token>` of an open session.
pub struct Auth(pub Principal);

impl Auth {
    pub fn require(&self, permission: Permission) -> Result<&Principal, ApiError> {
        if self.0.role.allows(permission) {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden(format!(
                "role {:?} may not {permission:?}",
                self.0.role
            )))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

impl FromRequestParts<Platform> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, platform: &Platform) -> Result<Auth, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        session_principal(platform, token).await.map(Auth)
    }
}

/// The principal of an open session's token. A request counts as the session's activity.
pub async fn session_principal(platform: &Platform, token: &str) -> Result<Principal, ApiError> {
    let platform = platform.clone();
    let token = token.to_string();
    blocking(move || crate::app::sessions::principal(&platform, &token)).await
}

/// The session token a request carries, if any.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers)
}

/// Checks a source's API key (`X-Api-Key`, or `Authorization: Bearer hcpk_…`). Blocking.
pub fn authenticate_source(
    platform: &Platform,
    source_id: &str,
    headers: &HeaderMap,
) -> Result<Source, ApiError> {
    let key = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .or_else(|| bearer(headers))
        .ok_or(ApiError::Unauthorized)?;
    let source = platform
        .store
        .source(source_id)?
        .filter(|source| !source.disabled)
        .ok_or(ApiError::Unauthorized)?;
    if auth::constant_time_eq(&auth::api_key_hash(key), &source.key_hash) {
        Ok(source)
    } else {
        Err(ApiError::Unauthorized)
    }
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "ops_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operations token of `[ops] token_file` (`/metrics`, the detail of `/readyz`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the error answers every operation can give, in the one error shape, next to what
/// each handler documents itself: 400 and 422 where there are parameters or a body, 401 and 403
/// where a credential is required, 404 where the path names something, 409 on writes, 413 and
/// 415 where there is a body, and 500 and 503 (with `Retry-After`) everywhere.
struct ErrorResponses;

/// Paths behind an abuse limit ([`crate::app::limits`]): their operations document 429.
pub const RATE_LIMITED: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/password",
    "/api/v1/intake",
    "/api/v1/track/{token}",
    "/api/v1/track/{token}/evaluation",
    "/api/v1/track/{token}/confirm-phone",
    "/api/v1/public/rate/{token}",
    "/r/{token}",
    "/w/{token}",
    "/api/v1/public/regions",
    "/api/v1/public/stats",
    "/api/v1/public/rankings",
    "/api/v1/public/rectified",
    "/api/v1/public/comments",
];

impl ErrorResponses {
    fn response(
        description: &str,
        retry: bool,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
        if retry {
            response = response.header(
                "Retry-After",
                utoipa::openapi::HeaderBuilder::new()
                    .schema(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::Type::Integer)
                            .minimum(Some(0)),
                    )
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        response.build().into()
    }
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let named = path.contains('{');
            for (writes, operation) in [
                (false, &mut item.get),
                (true, &mut item.post),
                (true, &mut item.put),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ] {
                let Some(operation) = operation else {
                    continue;
                };
                let has_body = operation.request_body.is_some();
                let has_parameters = named
                    || operation
                        .parameters
                        .as_ref()
                        .is_some_and(|parameters| !parameters.is_empty());
                // A credential is required when there is a requirement and none of them is the
                // empty one (an optional credential, as on `/readyz`, is never refused).
                let secured = operation.security.as_ref().is_some_and(|security| {
                    !security.is_empty()
                        && !security
                            .iter()
                            .any(|requirement| *requirement == Default::default())
                });
                let answers = [
                    (
                        "400",
                        has_parameters || has_body,
                        "The request is malformed (a parameter or the body); the message says what to fix",
                    ),
                    ("401", secured, "No valid credential"),
                    ("403", secured, "The credential may not do this"),
                    (
                        "404",
                        named,
                        "Nothing of that name, or not within the caller's scope",
                    ),
                    (
                        "409",
                        writes,
                        "The request conflicts with how the platform is set up or with its state",
                    ),
                    (
                        "422",
                        has_parameters || has_body,
                        "Well-formed, but the values do not fit together or with the platform's state (an unknown reference, a wrong state, a range that ends before it starts)",
                    ),
                    ("413", has_body, "The body is over its limit"),
                    (
                        "415",
                        has_body,
                        "The body's content type is not the one documented",
                    ),
                    (
                        "429",
                        RATE_LIMITED.contains(&path.as_str()),
                        "Over an abuse limit (per client address or account); retry after `Retry-After` seconds",
                    ),
                    (
                        "500",
                        true,
                        "Internal error (logged in full; the answer says only that)",
                    ),
                    (
                        "503",
                        true,
                        "The platform could not take it now (a failed commit, an adapter that cannot take it); nothing was kept: retry after `Retry-After` seconds",
                    ),
                ];
                for (status, applies, description) in answers {
                    let responses = &mut operation.responses.responses;
                    match responses.get_mut(status) {
                        Some(utoipa::openapi::RefOr::T(existing))
                            if existing.description.is_empty() =>
                        {
                            existing.description = description.to_string();
                        }
                        Some(_) => {}
                        None if applies => {
                            responses.insert(
                                status.to_string(),
                                ErrorResponses::response(
                                    description,
                                    status == "503" || status == "429",
                                ),
                            );
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haochaping 好差评 API",
        description = "Collects 政务服务好差评 ratings from every channel and serves them to the people who act on them. Ingest endpoints take a source's API key (`X-Api-Key`); everything else a session token from `/api/v1/auth/login`."
    ),
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::backup,
        admin::login,
        admin::logout,
        admin::change_password,
        admin::me,
        ingest::ingest_raw,
        ingest::ingest_ratings,
        ingest::ingest_service_events,
        read::list_ratings,
        read::get_rating,
        read::reveal_evaluator,
        read::list_cases,
        read::get_case,
        read::rollups,
        read::org_unit,
        admin::list_users,
        admin::upsert_user,
        admin::list_sources,
        admin::create_source,
        admin::upsert_master,
        admin::list_rejections,
        admin::replay_rejection,
        admin::audit,
        plugins::list,
        plugins::upload,
        plugins::remove,
        devices::list,
        devices::online_rate,
        privacy::status,
        privacy::sweep,
        privacy::erase,
        rules::status,
        rules::versions,
        rules::rollback,
        rules::eval,
        rules::decisions,
        rules::simulate,
        rules::files,
        rules::check,
        rules::save,
        rules::what_if,
    ),
    components(schemas(ErrorBody, hcp_core::store::RollupGroup)),
    modifiers(&SecurityAddon),
    tags(
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "ingest", description = "Ratings and service events from devices and business systems"),
        (name = "query", description = "Ratings, cases and roll-ups, scoped to the caller's org subtree"),
        (name = "admin", description = "Users, sources, master data, rejected payloads, audit"),
        (name = "rules", description = "County policies: status, versions, rollback, evaluation"),
        (name = "privacy", description = "Retention and erasure of personal data: what is held, the retention sweep, a data subject's erasure request"),
        (name = "orders", description = "Bad-review work orders, complaints, suggestions, appeals, call-backs, moderation"),
        (name = "outreach", description = "Invitations, default ratings, the call list of unrated services, outbound messages"),
        (name = "stats", description = "Metrics of any unit and period, assessment with one-vote veto, frozen runs and explanations"),
        (name = "problems", description = "Systemic problems (批处理): proposals, confirmation, completion"),
        (name = "public", description = "Citizens, without signing in: tracking a bad review and rating its rectification, rating an invited service, the intake, and the disclosure of ratings, rates, rankings, rectified bad reviews and published comments"),
    )
)]
pub struct ApiDoc;

/// The whole HTTP surface, with `extra` routes beside it (the demo's simulated gateway).
pub fn router(platform: Platform, extra: Router<Platform>) -> Router {
    let api =
        Router::new()
            .route("/healthz", get(ops::healthz))
            .route("/readyz", get(ops::readyz))
            .route("/metrics", get(ops::metrics))
            .route("/backup", post(ops::backup))
            .route("/api/v1/auth/login", post(admin::login))
            .route("/api/v1/auth/logout", post(admin::logout))
            .route("/api/v1/auth/password", post(admin::change_password))
            .route("/api/v1/me", get(admin::me))
            .route(
                "/api/v1/ingest/{source}",
                post(ingest::ingest_raw).layer(ingest::body_limit()),
            )
            .route(
                "/api/v1/sources/{source}/ratings",
                post(ingest::ingest_ratings).layer(ingest::body_limit()),
            )
            .route(
                "/api/v1/sources/{source}/service-events",
                post(ingest::ingest_service_events).layer(ingest::body_limit()),
            )
            .route("/api/v1/ratings", get(read::list_ratings))
            .route("/api/v1/ratings/{id}", get(read::get_rating))
            .route("/api/v1/ratings/{id}/reveal", post(read::reveal_evaluator))
            .route("/api/v1/cases", get(read::list_cases))
            .route("/api/v1/cases/{project_no}", get(read::get_case))
            .route("/api/v1/rollups", get(read::rollups))
            .route("/api/v1/org/{id}", get(read::org_unit))
            .route(
                "/api/v1/admin/users",
                get(admin::list_users).post(admin::upsert_user),
            )
            .route(
                "/api/v1/admin/sources",
                get(admin::list_sources).post(admin::create_source),
            )
            .route("/api/v1/admin/master", post(admin::upsert_master))
            .route("/api/v1/admin/rejections", get(admin::list_rejections))
            .route(
                "/api/v1/admin/rejections/{seq}/replay",
                post(admin::replay_rejection),
            )
            .route("/api/v1/audit", get(admin::audit))
            .route(
                "/api/v1/admin/plugins",
                get(plugins::list).post(plugins::upload).layer(
                    axum::extract::DefaultBodyLimit::max(plugins::MAX_PLUGIN_BYTES),
                ),
            )
            .route(
                "/api/v1/admin/plugins/{id}",
                axum::routing::delete(plugins::remove),
            )
            .route("/api/v1/privacy", get(privacy::status))
            .route("/api/v1/privacy/sweep", post(privacy::sweep))
            .route("/api/v1/privacy/erasures", post(privacy::erase))
            .route("/api/v1/rules/status", get(rules::status))
            .route("/api/v1/rules/versions", get(rules::versions))
            .route("/api/v1/rules/rollback", post(rules::rollback))
            .route("/api/v1/rules/eval", post(rules::eval))
            .route(
                "/api/v1/rules/simulate",
                post(rules::simulate).layer(rules::body_limit()),
            )
            .route(
                "/api/v1/rules/files",
                get(rules::files)
                    .put(rules::save)
                    .layer(rules::body_limit()),
            )
            .route(
                "/api/v1/rules/check",
                post(rules::check).layer(rules::body_limit()),
            )
            .route(
                "/api/v1/rules/what-if",
                post(rules::what_if).layer(rules::body_limit()),
            )
            .route("/api/v1/ratings/{id}/decisions", get(rules::decisions))
            .route("/api/v1/devices", get(devices::list))
            .route("/api/v1/devices/online-rate", get(devices::online_rate))
            .route("/", get(ops::index))
            .route("/console", get(console::serve))
            .route("/console/", get(console::serve))
            .route("/console/{*rest}", get(console::serve))
            .merge(orders::routes(&platform))
            .merge(outreach::routes(&platform))
            .merge(problems::routes())
            .merge(analysis::routes())
            .merge(stats::routes())
            .merge(reports::routes())
            .merge(public::routes(&platform))
            .merge(uplink::routes())
            .merge(window::routes(&platform))
            .merge(extra)
            .fallback(extract::not_found)
            .method_not_allowed_fallback(extract::method_not_allowed)
            .layer(axum::middleware::map_response(extract::plain_errors))
            .layer(axum::middleware::from_fn_with_state(
                platform.clone(),
                metrics::track,
            ))
            .with_state(platform);
    // The UI's assets are compiled in (vendored), so the browsable docs work offline.
    api.merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", openapi()))
        .layer(axum::middleware::from_fn(headers::security_headers))
}

/// The OpenAPI document: the core API and the closed loop's parts.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(orders::Doc::openapi());
    doc.merge(track::Doc::openapi());
    doc.merge(outreach::Doc::openapi());
    doc.merge(problems::Doc::openapi());
    doc.merge(analysis::Doc::openapi());
    doc.merge(stats::Doc::openapi());
    doc.merge(reports::Doc::openapi());
    doc.merge(public::Doc::openapi());
    doc.merge(uplink::Doc::openapi());
    doc.merge(window::Doc::openapi());
    ErrorResponses.modify(&mut doc);
    optional_bodies(&mut doc);
    unique_operation_ids(&mut doc);
    doc
}

/// Operation ids are the handlers' names, which repeat across modules (`list`, `status`,
/// `run` …); a client generator needs them unique, so a repeated one becomes the method and
/// path (`get_api_v1_problems`).
fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for item in doc.paths.paths.values() {
        for operation in operations(item) {
            if let Some(id) = &operation.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            let repeated = operation
                .operation_id
                .as_ref()
                .is_some_and(|id| seen.get(id).copied().unwrap_or(0) > 1);
            if repeated {
                let name: String = path
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                let name = name
                    .split('_')
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join("_");
                operation.operation_id = Some(format!("{method}_{name}"));
            }
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> Vec<&utoipa::openapi::path::Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch]
        .into_iter()
        .flatten()
        .collect()
}

fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> Vec<(&'static str, &mut utoipa::openapi::path::Operation)> {
    let utoipa::openapi::PathItem {
        get,
        put,
        post,
        delete,
        patch,
        ..
    } = item;
    [
        ("get", get),
        ("put", put),
        ("post", post),
        ("delete", delete),
        ("patch", patch),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
    .collect()
}

/// Operations whose handler takes its JSON body as optional (`Option<Json<_>>`: every field
/// has a default): their request body is documented as not required.
const OPTIONAL_BODIES: [&str; 3] = [
    "/api/v1/admin/sweep",
    "/api/v1/admin/uplink/run",
    "/api/v1/admin/uplink/reconcile",
];

fn optional_bodies(doc: &mut utoipa::openapi::OpenApi) {
    for path in OPTIONAL_BODIES {
        let body = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.request_body.as_mut());
        match body {
            Some(body) => body.required = Some(utoipa::openapi::Required::False),
            None => tracing::error!(path, "no POST body documented for an optional body"),
        }
    }
}

#[cfg(test)]
mod tests {
    use hcp_core::store::StoreError;

    use super::*;

    #[test]
    fn operation_ids_are_unique() {
        let doc = openapi();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            for operation in operations(item) {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "an operation of {path} has no id");
                assert!(ids.insert(id.clone()), "operation id {id} repeats");
            }
        }
    }

    /// The console's API types are generated from `console/openapi.json` (`npm run gen`), so an
    /// API change that breaks the console fails its type check: the file must be this document.
    #[test]
    fn console_openapi_document_is_current() -> Result<(), Box<dyn std::error::Error>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../console/openapi.json");
        let current = serde_json::to_string_pretty(&openapi())? + "\n";
        if std::env::var_os("HCP_BLESS").is_some() {
            std::fs::write(path, &current)?;
            return Ok(());
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == current,
            "console/openapi.json is not the API's document: run \
             `HCP_BLESS=1 cargo test -p hcp-server console_openapi`, then `make console`"
        );
        Ok(())
    }

    fn retry_after(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
    }

    #[test]
    fn optional_bodies_are_documented_as_not_required() {
        let doc = openapi();
        for path in OPTIONAL_BODIES {
            let required = doc.paths.paths[path]
                .post
                .as_ref()
                .and_then(|operation| operation.request_body.as_ref())
                .and_then(|body| body.required.clone());
            assert!(
                matches!(required, Some(utoipa::openapi::Required::False)),
                "{path}"
            );
        }
    }

    #[test]
    fn failed_commits_ask_to_retry_and_bugs_stay_internal() {
        for retryable in [StoreError::Batch("flush failed".into()), StoreError::Closed] {
            let response = ApiError::from(retryable).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                retry_after(&response),
                Some(RETRY_AFTER_SECONDS.to_string().as_str())
            );
        }
        let Err(decode) = serde_json::from_str::<u8>("x") else {
            return;
        };
        let response = ApiError::from(StoreError::Decode(decode)).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry_after(&response), None);
    }
}
