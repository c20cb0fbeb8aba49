//! Reports over HTTP: the monthly 调度 bulletin and the semiannual report of a region, made on
//! demand as an XLSX workbook or a printable page (each generation audited), and the reports the
//! schedule stored, listed and downloaded. Supervisors and administrators, within their scope.

use super::extract::{Json, Path, Query};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use hcp_core::auth::{Principal, Role};
use hcp_core::store::Dim;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::reports::{self, ReportFormat, ReportKind, StoredName};
use crate::app::scope::Target;

#[derive(OpenApi)]
#[openapi(
    paths(bulletin, semiannual, list, download),
    tags((name = "reports", description = "The monthly 调度 bulletin and the semiannual report as XLSX or a printable page; the reports stored by the schedule"))
)]
pub struct Doc;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/api/v1/reports", get(list))
        .route("/api/v1/reports/bulletin", get(bulletin))
        .route("/api/v1/reports/semiannual", get(semiannual))
        .route("/api/v1/reports/files/{name}", get(download))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// A month (`2026-11`) for the bulletin, a half-year (`2026-H1`) for the semiannual report.
    #[param(pattern = "^\\s*(20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?\\s*$")]
    pub period: String,
    /// The region; default the caller's scope.
    pub scope: Option<String>,
    /// `xlsx` (default) or `html`.
    #[param(value_type = Option<ReportFormat>)]
    pub format: Option<ReportFormat>,
}

/// A report the schedule stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StoredReport {
    /// The file name, as `/api/v1/reports/files/{name}` takes it.
    pub name: String,
    pub kind: ReportKind,
    pub period: String,
    pub scope: String,
    pub scope_name: String,
    pub format: ReportFormat,
    /// The name it downloads as.
    pub title: String,
    pub bytes: u64,
    pub modified_at: Option<DateTime<Utc>>,
    pub url: String,
}

/// Reports are for supervisors and administrators.
fn reporter(auth: &Auth) -> Result<Principal, ApiError> {
    match auth.0.role {
        Role::Admin | Role::Supervisor => Ok(auth.0.clone()),
        role => Err(ApiError::Forbidden(format!(
            "role {role:?} may not read reports"
        ))),
    }
}

/// The file as an attachment (the workbook) or inline (the page), with its Chinese name.
fn file_response(
    format: ReportFormat,
    ascii_name: &str,
    name: &str,
    body: Vec<u8>,
) -> Result<Response, ApiError> {
    let disposition = match format {
        ReportFormat::Xlsx => "attachment",
        ReportFormat::Html => "inline",
    };
    let disposition =
        HeaderValue::from_str(&reports::content_disposition(disposition, ascii_name, name))
            .map_err(|error| ApiError::Internal(format!("content disposition: {error}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        body,
    )
        .into_response())
}

/// Builds a report as of now, records the generation in the audit log, renders it. Blocking.
fn on_demand(
    platform: &Platform,
    principal: &Principal,
    kind: ReportKind,
    query: &ReportQuery,
) -> Result<Response, ApiError> {
    let scope = query
        .scope
        .clone()
        .unwrap_or_else(|| principal.scope.clone());
    if !platform
        .scope()
        .sees(principal, Target::Unit(Dim::Region, &scope))?
    {
        return Err(ApiError::Forbidden(format!(
            "{scope} lies outside your scope {}",
            principal.scope
        )));
    }
    let format = query.format.unwrap_or_default();
    let report = reports::build(platform, kind, &query.period, &scope, platform.clock.now())?;
    let body = match format {
        ReportFormat::Xlsx => reports::to_xlsx(&report)
            .map_err(|error| ApiError::Internal(format!("xlsx: {error}")))?,
        ReportFormat::Html => reports::to_html(&report).into_bytes(),
    };
    let stem = report.stem();
    reports::audit(
        platform,
        &principal.username,
        &stem,
        format!(
            "on demand; {}; as of {}; {} {} bytes",
            report.title,
            report.as_of.to_rfc3339(),
            format.extension(),
            body.len()
        ),
    )?;
    file_response(
        format,
        &format!("{stem}.{}", format.extension()),
        &report.download_name(format),
        body,
    )
}

/// The monthly 调度 bulletin of a region: rankings of its regions, halls and departments by the
/// assessment (vetoed units marked), every rate with its parts and its change against the month
/// before, the overdue and 督办/通报 orders, the top problems and the systemic problems.
#[utoipa::path(
    get, path = "/api/v1/reports/bulletin", tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The workbook (`xlsx`) or the printable page (`html`), with its Chinese file name in `Content-Disposition`", content(("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("text/html"))),
        (status = 400, description = "not a period", body = super::ErrorBody),
        (status = 403, description = "not a supervisor or administrator, or outside the caller's scope", body = super::ErrorBody),
        (status = 404, description = "no such region", body = super::ErrorBody),
        (status = 422, description = "a period of another kind, or one not begun", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn bulletin(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let principal = reporter(&auth)?;
    blocking(move || on_demand(&platform, &principal, ReportKind::Bulletin, &query)).await
}

/// The semiannual report of a region (due by 06-30 and 12-30): the half-year's figures against
/// the half before, the trend by month, the assessment's rankings, the problems fixed.
#[utoipa::path(
    get, path = "/api/v1/reports/semiannual", tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The workbook (`xlsx`) or the printable page (`html`), with its Chinese file name in `Content-Disposition`", content(("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("text/html"))),
        (status = 400, description = "not a period", body = super::ErrorBody),
        (status = 403, description = "not a supervisor or administrator, or outside the caller's scope", body = super::ErrorBody),
        (status = 404, description = "no such region", body = super::ErrorBody),
        (status = 422, description = "a period of another kind, or one not begun", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn semiannual(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let principal = reporter(&auth)?;
    blocking(move || on_demand(&platform, &principal, ReportKind::Semiannual, &query)).await
}

/// The reports the schedule stored for regions within the caller's scope, newest period first.
#[utoipa::path(
    get, path = "/api/v1/reports", tag = "reports",
    params(PageQuery),
    responses(
        (status = 200, body = Page<StoredReport>),
        (status = 403, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn list(
    State(platform): State<Platform>,
    auth: Auth,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<StoredReport>>, ApiError> {
    let principal = reporter(&auth)?;
    blocking(move || {
        let files = reports::stored(&platform.reports_dir)
            .map_err(|error| ApiError::Internal(format!("listing reports: {error}")))?;
        let mut list = Vec::new();
        for reports::StoredFile {
            name,
            bytes,
            modified_at,
        } in files
        {
            if !platform
                .scope()
                .sees(&principal, Target::Unit(Dim::Region, &name.scope))?
            {
                continue;
            }
            let scope_name = platform
                .store
                .org_unit(&name.scope)?
                .map_or_else(|| name.scope.clone(), |unit| unit.name);
            let file_name = name.file_name();
            list.push(StoredReport {
                url: format!("/api/v1/reports/files/{file_name}"),
                title: reports::download_name(name.kind, &name.period, &scope_name, name.format),
                name: file_name,
                kind: name.kind,
                period: name.period,
                scope: name.scope,
                scope_name,
                format: name.format,
                bytes,
                modified_at,
            });
        }
        list.sort_by(|a, b| {
            b.period
                .cmp(&a.period)
                .then_with(|| a.scope.cmp(&b.scope))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(Json(Page::of(list, &paging)?))
    })
    .await
}

/// One stored report, as an attachment (the workbook) or inline (the page).
#[utoipa::path(
    get, path = "/api/v1/reports/files/{name}", tag = "reports",
    params(("name" = String, Path, description = "A stored report's file name, e.g. `bulletin-2026-11-410421.xlsx`")),
    responses(
        (status = 200, description = "The stored file, with its Chinese file name in `Content-Disposition`", content(("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("text/html"))),
        (status = 403, body = super::ErrorBody),
        (status = 404, description = "no such report within the caller's scope", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn download(
    State(platform): State<Platform>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let principal = reporter(&auth)?;
    blocking(move || {
        let missing = || ApiError::NotFound(format!("no report {name} within your scope"));
        let Some(stored) = StoredName::parse(&name) else {
            return Err(missing());
        };
        if !platform
            .scope()
            .sees(&principal, Target::Unit(Dim::Region, &stored.scope))?
        {
            return Err(missing());
        }
        let file_name = stored.file_name();
        let body = match std::fs::read(platform.reports_dir.join(&file_name)) {
            Ok(body) => body,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
            Err(error) => return Err(ApiError::Internal(format!("reading {file_name}: {error}"))),
        };
        let scope_name = platform
            .store
            .org_unit(&stored.scope)?
            .map_or_else(|| stored.scope.clone(), |unit| unit.name);
        file_response(
            stored.format,
            &file_name,
            &reports::download_name(stored.kind, &stored.period, &scope_name, stored.format),
            body,
        )
    })
    .await
}
