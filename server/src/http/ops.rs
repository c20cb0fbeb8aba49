//! Health, readiness, metrics and the landing page. On the main address `/metrics` and the
//! detail of `/readyz` need the operations token (`[ops] token_file`); the operations address
//! (`[ops] listen`, [`router`]) serves them to whoever reaches it.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hcp_core::store::CommitterStatus;
use hcp_core::store::EventLog as _;

use super::{ApiError, blocking};
use crate::app::platform::Platform;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready or not: the store's committer runs and the store answers. With the operations token
/// (or on the operations address, `[ops] listen`) the answer says more: the log head, the
/// holiday tables loaded, a missing holiday table (ready, with a warning: deadlines go on
/// provisionally or wait, see the rules status) and why it is not ready.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "`ready`; with the operations token, the detail and any warning on a second line", content_type = "text/plain"),
        (status = 503, description = "not ready (`not_ready`); with the operations token, the message says why (e.g. the store's committer stopped)", body = super::ErrorBody)
    ),
    security((), ("ops_token" = []))
)]
pub async fn readyz(
    State(platform): State<Platform>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let detail = platform.ops.allows(super::bearer(&headers));
    readiness(platform, detail).await
}

/// Prometheus metrics: with the operations token on the main address (`[ops] token_file`),
/// to anyone on the operations address (`[ops] listen`).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "no or a wrong operations token; always, when no token is configured (`[ops] token_file`): then only the operations address (`[ops] listen`) serves it", body = super::ErrorBody),
    ),
    security(("ops_token" = []))
)]
pub async fn metrics(
    State(platform): State<Platform>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Without a configured token nothing opens it here (the operations address serves it).
    if !platform.ops.allows(super::bearer(&headers)) {
        return Err(ApiError::Unauthorized);
    }
    prometheus(platform).await
}

/// Writes a backup of the platform while it serves (what `hcp backup` asks a running platform
/// for): the event log up to its head now, or what came after an earlier backup, with the
/// adapters and reports beside it, verified once written. Needs the operations token, on
/// either address.
#[utoipa::path(post, path = "/backup", tag = "ops",
    request_body = crate::app::backup::BackupRequest,
    responses(
        (status = 200, description = "written and verified", body = crate::app::backup::BackupSummary),
        (status = 401, description = "no operations token, or not the configured one", body = super::ErrorBody),
        (status = 422, description = "the folder is not new, the earlier backup does not check, or the disk refused", body = super::ErrorBody)
    ),
    security(("ops_token" = []))
)]
pub async fn backup(
    State(platform): State<Platform>,
    headers: HeaderMap,
    super::extract::Json(request): super::extract::Json<crate::app::backup::BackupRequest>,
) -> Result<axum::Json<crate::app::backup::BackupSummary>, ApiError> {
    if !platform.ops.configured() || !platform.ops.allows(super::bearer(&headers)) {
        return Err(ApiError::Unauthorized);
    }
    blocking(move || {
        request.check().map_err(|error| {
            ApiError::Unprocessable(hcp_core::validate::Reason {
                code: "backup_refused".into(),
                message: format!("{error:#}"),
            })
        })?;
        crate::app::backup::backup(
            &platform.store,
            &platform.plugins_dir,
            &platform.reports_dir,
            std::path::Path::new(&request.to),
            request.since.as_deref().map(std::path::Path::new),
        )
        .map(axum::Json)
        .map_err(|error| {
            ApiError::Unprocessable(hcp_core::validate::Reason {
                code: "backup_refused".into(),
                message: format!("{error:#}"),
            })
        })
    })
    .await
}

/// The routes of the operations address: health, readiness with its detail, metrics, backup.
pub fn router(platform: Platform) -> axum::Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/backup", axum::routing::post(backup))
        .route(
            "/readyz",
            get(|State(platform): State<Platform>| readiness(platform, true)),
        )
        .route(
            "/metrics",
            get(|State(platform): State<Platform>| prometheus(platform)),
        )
        .fallback(super::extract::not_found)
        .with_state(platform)
}

async fn prometheus(platform: Platform) -> Result<Response, ApiError> {
    let text = blocking(move || Ok(super::metrics::render(&platform))).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// 200 with `ready` (or the detail), or 503 in the one error shape (`not_ready`, with the reason
/// when the detail may be shown) and `Retry-After`.
async fn readiness(platform: Platform, detail: bool) -> Result<Response, ApiError> {
    let result = blocking(move || Ok(ready(&platform))).await;
    let text = match result {
        Ok(Ok(text)) => text,
        Ok(Err(reason)) => format!("not ready: {reason}"),
        Err(error) => format!("not ready: {error}"),
    };
    let ready = text.starts_with("ready");
    let text = match (detail, ready) {
        (true, _) => text,
        (false, true) => "ready".to_string(),
        (false, false) => "not ready".to_string(),
    };
    if !ready {
        return Err(ApiError::Unavailable(hcp_core::validate::Reason {
            code: "not_ready".into(),
            message: text,
        }));
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], text).into_response())
}

/// The detail of a ready platform, or why it is not ready. Blocking.
fn ready(platform: &Platform) -> Result<String, String> {
    match platform.store.committer_status() {
        CommitterStatus::Running => {}
        CommitterStatus::Closed => return Err("the store is shut down".into()),
        CommitterStatus::Recovering(reason) => {
            return Err(format!(
                "the disk refused a write ({reason}): writes wait until the database opens again"
            ));
        }
        CommitterStatus::Failed(reason) => {
            return Err(format!(
                "the store's committer stopped ({reason}): no write can be made durable"
            ));
        }
    }
    let head = platform.store.head().map_err(|error| error.to_string())?;
    let calendar = platform.calendar();
    let mut text = format!(
        "ready: log head {head}, holiday tables {}-{}",
        calendar.first_year(),
        calendar.last_year()
    );
    if let Some((first, last)) = calendar.provisional_years() {
        text.push_str(&format!(" (provisional {first}-{last})"));
    }
    if let Some(alarm) = platform.policies.status().calendar.alarm {
        text.push_str(&format!("\nwarning: {alarm}"));
    }
    Ok(text)
}

/// A landing page for people who open the bare URL.
pub async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>好差评平台</title></head>\
         <body><h1>政务服务“好差评”平台</h1><ul>\
         <li><a href=\"/console/\">工作人员控制台</a></li>\
         <li><a href=\"/public\">评价结果公开</a></li>\
         <li><a href=\"/docs/\">接口文档 (OpenAPI)</a></li>\
         <li><a href=\"/readyz\">运行状态</a></li></ul></body></html>",
    )
}
