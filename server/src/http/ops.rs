//! Health, readiness, metrics and the landing page.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use hcp_core::store::EventLog as _;

use super::{ApiError, blocking};
use crate::app::platform::Platform;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers and the calendar is loaded; a missing holiday table is named (ready, with
/// a warning: deadlines go on provisionally or wait, see the rules status).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready, with any warning on a second line"),
    (status = 503, description = "not ready, with the reason")
))]
pub async fn readyz(State(platform): State<Platform>) -> impl IntoResponse {
    let result = blocking(move || {
        let head = platform.store.head()?;
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
    })
    .await;
    match result {
        Ok(text) => (StatusCode::OK, text),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {error}"),
        ),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(platform): State<Platform>) -> Result<impl IntoResponse, ApiError> {
    let text = blocking(move || Ok(super::metrics::render(&platform))).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

/// A short landing page for people who open the bare URL.
pub async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>好差评平台</title></head>\
         <body><h1>政务服务“好差评”平台</h1><ul>\
         <li><a href=\"/public\">评价结果公开</a></li>\
         <li><a href=\"/docs/\">接口文档 (OpenAPI)</a></li>\
         <li><a href=\"/readyz\">运行状态</a></li>\
         <li><a href=\"/metrics\">监控指标</a></li></ul></body></html>",
    )
}
