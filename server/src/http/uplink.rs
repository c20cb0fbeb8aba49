//! The provincial uplink over HTTP, for administrators: its status (cursor, lag, the batch in
//! flight and its attempts, refused records), a run of the shipper now or as of an instant
//! (simulations, tests), reconciliation of a day, and the replay or dismissal of a refused
//! record.

use super::extract::{Json, Path};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use hcp_core::auth::Role;
use hcp_core::uplink::{BatchSummary, Reconciliation, Resolution};
use hcp_core::validate::Reason;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::uplink::{ReconcileError, RunReport, UplinkStatus};

#[derive(OpenApi)]
#[openapi(
    paths(status, run, reconcile, reconciliation, batch, resolve),
    tags((name = "uplink", description = "The provincial uplink (省级平台上报): batches, retries, refused records, daily reconciliation"))
)]
pub struct Doc;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/api/v1/admin/uplink", get(status))
        .route("/api/v1/admin/uplink/run", post(run))
        .route("/api/v1/admin/uplink/reconcile", post(reconcile))
        .route(
            "/api/v1/admin/uplink/reconciliations/{day}",
            get(reconciliation),
        )
        .route("/api/v1/admin/uplink/batches/{number}", get(batch))
        .route("/api/v1/admin/uplink/refused/{id}", post(resolve))
}

/// The uplink carries the whole city's records: an administrator scoped to the root runs it;
/// the caller's user name.
async fn city_admin(platform: &Platform, auth: &Auth) -> Result<String, ApiError> {
    let principal = super::admin::city_act(
        platform,
        auth,
        &[Role::Admin],
        "the uplink carries the whole city's records",
    )
    .await?;
    Ok(principal.username)
}

/// Administrators run the uplink; supervisors may look at it.
fn may_read(auth: &Auth) -> Result<(), ApiError> {
    if matches!(auth.0.role, Role::Admin | Role::Supervisor) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the uplink is for administrators and supervisors".into(),
        ))
    }
}

/// Where the uplink stands: cursor and lag, the batch in flight with its attempts and last
/// error, refused records, recent batches and reconciliations, and notes for the operator.
#[utoipa::path(
    get, path = "/api/v1/admin/uplink", tag = "uplink",
    responses((status = 200, body = UplinkStatus)),
    security(("session" = []))
)]
pub async fn status(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<Json<UplinkStatus>, ApiError> {
    may_read(&auth)?;
    blocking(move || Ok(Json(crate::app::uplink::status(&platform)?))).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = UplinkRunRequest)]
pub struct RunRequest {
    /// Run as of this instant (simulations, tests); default: the platform clock. A batch whose
    /// next try lies after it waits.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub as_of: Option<DateTime<Utc>>,
    /// Go on until nothing more can be done now (default), or take one step only.
    #[serde(default = "yes")]
    pub until_idle: bool,
}

fn yes() -> bool {
    true
}

/// Runs the shipper now: prepares, sends and settles batches until it is caught up, waits for
/// a retry, or is blocked. An administrator scoped to the root of the org tree.
#[utoipa::path(
    post, path = "/api/v1/admin/uplink/run", tag = "uplink", request_body = RunRequest,
    responses(
        (status = 200, body = RunReport),
        (status = 409, description = "the uplink is not enabled, or a run (the shipper's) is in progress", body = super::ErrorBody),
        (status = 422, description = "`as_of` given while the platform runs on the system clock", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn run(
    State(platform): State<Platform>,
    auth: Auth,
    body: Option<Json<RunRequest>>,
) -> Result<Json<RunReport>, ApiError> {
    city_admin(&platform, &auth).await?;
    if !platform.uplink.config.enabled {
        return Err(ApiError::Conflict(
            "省级平台上报未启用 ([uplink] enabled = false)".into(),
        ));
    }
    let request = body.map(|Json(request)| request).unwrap_or(RunRequest {
        as_of: None,
        until_idle: true,
    });
    let as_of = platform.as_of(request.as_of)?;
    blocking(move || {
        Ok(Json(crate::app::uplink::run_now(
            &platform,
            as_of,
            request.until_idle,
        )?))
    })
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReconcileRequest {
    /// The day to reconcile (China date); default: yesterday.
    #[schema(value_type = Option<NaiveDate>, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub day: Option<NaiveDate>,
}

/// Asks the province for its counts of a day, compares them with the platform's by record
/// kind, region, channel and level, and records the result. An administrator scoped to the root
/// of the org tree.
#[utoipa::path(
    post, path = "/api/v1/admin/uplink/reconcile", tag = "uplink", request_body = ReconcileRequest,
    responses(
        (status = 200, body = Reconciliation),
        (status = 503, description = "the province did not answer, or reconciliation is not set up", body = super::ErrorBody)
    ),
    security(("session" = []))
)]
pub async fn reconcile(
    State(platform): State<Platform>,
    auth: Auth,
    body: Option<Json<ReconcileRequest>>,
) -> Result<Json<Reconciliation>, ApiError> {
    let actor = city_admin(&platform, &auth).await?;
    let today = hcp_core::calendar::local_date(platform.clock.now());
    let day = body
        .and_then(|Json(request)| request.day)
        .or_else(|| today.pred_opt())
        .ok_or_else(|| ApiError::BadRequest("no day to reconcile".into()))?;
    blocking(
        move || match crate::app::uplink::reconcile(&platform, day, &actor) {
            Ok(result) => Ok(Json(result)),
            // Not configured: how the platform is set up, not a passing failure.
            Err(ReconcileError::Unavailable(message)) => Err(ApiError::Conflict(message)),
            Err(ReconcileError::Province(message)) => Err(ApiError::Unavailable(Reason {
                code: "province_unavailable".into(),
                message,
            })),
            Err(ReconcileError::Internal(error)) => Err(error.into()),
        },
    )
    .await
}

/// The last reconciliation of a day.
#[utoipa::path(
    get, path = "/api/v1/admin/uplink/reconciliations/{day}", tag = "uplink",
    params(("day" = NaiveDate, Path, description = "China date, yyyy-MM-dd")),
    responses((status = 200, body = Reconciliation), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn reconciliation(
    State(platform): State<Platform>,
    auth: Auth,
    Path(day): Path<NaiveDate>,
) -> Result<Json<Reconciliation>, ApiError> {
    may_read(&auth)?;
    blocking(move || {
        platform
            .store
            .uplink_reconciliation(day)?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("{day} has not been reconciled")))
    })
    .await
}

/// One batch: its range, bytes, failed sends and answer.
#[utoipa::path(
    get, path = "/api/v1/admin/uplink/batches/{number}", tag = "uplink",
    params(("number" = u64, Path, description = "batch number")),
    responses((status = 200, body = BatchSummary), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn batch(
    State(platform): State<Platform>,
    auth: Auth,
    Path(number): Path<u64>,
) -> Result<Json<BatchSummary>, ApiError> {
    may_read(&auth)?;
    blocking(move || {
        platform
            .store
            .uplink_batch(number)?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("no batch {number}")))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UplinkResolveRequest)]
pub struct ResolveRequest {
    /// `replay`: send it again in the next batch (after its cause was fixed); `dismiss`: take
    /// it off the list without sending.
    pub action: ResolveAction,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolveAction {
    Replay,
    Dismiss,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resolved {
    /// Log sequence number of the recorded resolution.
    pub seq: u64,
}

/// Replays or dismisses a refused record. An administrator scoped to the root of the org tree.
#[utoipa::path(
    post, path = "/api/v1/admin/uplink/refused/{id}", tag = "uplink", request_body = ResolveRequest,
    params(("id" = u64, Path, description = "platform id of the refused record")),
    responses((status = 200, body = Resolved), (status = 422, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn resolve(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<u64>,
    Json(request): Json<ResolveRequest>,
) -> Result<Json<Resolved>, ApiError> {
    let actor = city_admin(&platform, &auth).await?;
    let resolution = match request.action {
        ResolveAction::Replay => Resolution::Requeue,
        ResolveAction::Dismiss => Resolution::Dismiss,
    };
    blocking(move || {
        let seq =
            crate::app::uplink::resolve_refused(&platform, &actor, id, resolution, request.note)?;
        Ok(Json(Resolved { seq }))
    })
    .await
}
