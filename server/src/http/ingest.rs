//! Ingest over HTTP: canonical ratings and service events (one or a batch), and raw payloads
//! routed to the source's adapter (`app::ingest`). A response is sent only after what it
//! acknowledges is durable; whatever is refused is kept (sealed) for replay.

use super::extract::{Json, Path};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hcp_core::model::{RatingInput, ServiceEventInput};

use super::{ApiError, authenticate_source, blocking};
use crate::app::ingest::{
    self, BatchResult, CanonicalPayload, Ingested, ItemResult, ItemStatus, Kind,
};
use crate::app::platform::Platform;

/// Largest body an ingest request may carry.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The ingest routes' body limit, [`MAX_BODY_BYTES`] (every other route keeps axum's 2 MB); a
/// larger body is refused with 413 before it is read.
pub fn body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES)
}

/// One item answers with its own status; a batch with 200 and the per-item results.
fn respond(single: bool, batch: BatchResult) -> Response {
    if single && let Some(item) = batch.results.first() {
        let status = match item.status {
            ItemStatus::Recorded => StatusCode::CREATED,
            ItemStatus::Duplicate => StatusCode::OK,
            ItemStatus::Rejected
                if item
                    .reason
                    .as_ref()
                    .is_some_and(|reason| reason.code == "duplicate_rating") =>
            {
                StatusCode::CONFLICT
            }
            ItemStatus::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        };
        return (status, Json(item.clone())).into_response();
    }
    (StatusCode::OK, Json(batch)).into_response()
}

async fn ingest_json(
    platform: Platform,
    source: String,
    headers: HeaderMap,
    body: Bytes,
    kind: Kind,
) -> Result<Response, ApiError> {
    blocking(move || {
        let source = authenticate_source(&platform, &source, &headers)?;
        let Ingested { single, batch } = ingest::ingest_items(&platform, &source.id, kind, &body)?;
        Ok(respond(single, batch))
    })
    .await
}

/// Record canonical ratings: one object (201 recorded, 200 duplicate, 409 the act is already
/// rated, 422 refused) or an array (200 with per-item results).
#[utoipa::path(
    post, path = "/api/v1/sources/{source}/ratings", tag = "ingest",
    params(("source" = String, Path, description = "Source id")),
    request_body(content = RatingInput, description = "A rating, or an array of ratings"),
    responses(
        (status = 201, description = "recorded", body = ItemResult),
        (status = 200, description = "batch results, or a repeat of a recorded event", content((BatchResult = "application/json"), (ItemResult = "application/json"))),
        (status = 401, description = "missing or wrong API key", body = super::ErrorBody),
        (status = 409, description = "the service act already has this rating", body = ItemResult),
        (status = 422, description = "refused; the payload is kept for replay", body = ItemResult),
    ),
    security(("api_key" = []))
)]
pub async fn ingest_ratings(
    State(platform): State<Platform>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    ingest_json(platform, source, headers, body, Kind::Rating).await
}

/// Record service acts of cases reported by a business system (the denominators of 评价率).
#[utoipa::path(
    post, path = "/api/v1/sources/{source}/service-events", tag = "ingest",
    params(("source" = String, Path, description = "Source id")),
    request_body(content = ServiceEventInput, description = "A service event, or an array of them"),
    responses(
        (status = 201, description = "recorded", body = ItemResult),
        (status = 200, description = "batch results, or a repeat", content((BatchResult = "application/json"), (ItemResult = "application/json"))),
        (status = 401, description = "missing or wrong API key", body = super::ErrorBody),
        (status = 422, description = "refused; kept for replay", body = ItemResult),
    ),
    security(("api_key" = []))
)]
pub async fn ingest_service_events(
    State(platform): State<Platform>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    ingest_json(platform, source, headers, body, Kind::Service).await
}

/// Take a device's or system's raw payload; the source's adapter decodes it. The built-in
/// `canonical-json` adapter takes `{"ratings": [...], "service_events": [...]}`.
#[utoipa::path(
    post, path = "/api/v1/ingest/{source}", tag = "ingest",
    params(("source" = String, Path, description = "Source id")),
    request_body(content = CanonicalPayload, description = "Raw payload in the source's format"),
    responses(
        (status = 200, description = "per-item results", body = BatchResult),
        (status = 401, description = "missing or wrong API key", body = super::ErrorBody),
        (status = 422, description = "payload cannot be decoded; kept for replay", body = super::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn ingest_raw(
    State(platform): State<Platform>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    blocking(move || {
        let source = authenticate_source(&platform, &source, &headers)?;
        let batch = ingest::ingest_raw(&platform, &source, &content_type, &body)?;
        Ok((StatusCode::OK, Json(batch)).into_response())
    })
    .await
}
