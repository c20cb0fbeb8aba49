//! Retention and erasure of personal data over HTTP: what the key ring holds, the retention
//! sweep run now, a data subject's erasure request (see [`crate::app::privacy`]).

use super::extract::Json;
use axum::extract::State;
use hcp_core::auth::Permission;

use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::privacy::{self, ErasureRequest, ErasureResult, PrivacyStatus, SweepResult};

/// What is held of each class of personal data (the months, their retention, when the oldest
/// goes), how many people's keys are held, and the last destructions.
#[utoipa::path(
    get, path = "/api/v1/privacy", tag = "privacy",
    responses((status = 200, body = PrivacyStatus), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn status(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<Json<PrivacyStatus>, ApiError> {
    auth.require(Permission::ReadAudit)?;
    blocking(move || Ok(Json(privacy::status(&platform)?))).await
}

/// Runs the retention sweep now: erases every month of personal data past its retention (the
/// background sweep does the same every `retention.sweep_hours`).
#[utoipa::path(
    post, path = "/api/v1/privacy/sweep", tag = "privacy",
    responses((status = 200, body = SweepResult), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn sweep(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<Json<SweepResult>, ApiError> {
    let principal = auth.require(Permission::Administer)?.clone();
    blocking(move || Ok(Json(privacy::sweep_now(&platform, &principal)?))).await
}

/// A data subject's erasure request: erases the name, phone and ID number of every rating they
/// left, and their number wherever it was given (service acts, complaints, messages), whatever
/// its retention. Every count and assessment stays. Recorded in the audit trail, also when
/// nothing was held.
#[utoipa::path(
    post, path = "/api/v1/privacy/erasures", tag = "privacy",
    request_body = ErasureRequest,
    responses(
        (status = 200, body = ErasureResult),
        (status = 403, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn erase(
    State(platform): State<Platform>,
    auth: Auth,
    Json(request): Json<ErasureRequest>,
) -> Result<Json<ErasureResult>, ApiError> {
    let principal = auth.require(Permission::Administer)?.clone();
    blocking(move || {
        Ok(Json(privacy::erase_subject(
            &platform, &principal, &request,
        )?))
    })
    .await
}
