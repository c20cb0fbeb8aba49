//! Administration of WASM adapters: status, upload while serving, removal.

use super::extract::{Json, Path};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hcp_core::auth::{Permission, Role};
use hcp_plugins::{LoadFailure, PluginStatus};
use serde::Serialize;

use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;

/// Largest adapter accepted by upload.
pub const MAX_PLUGIN_BYTES: usize = 32 * 1024 * 1024;

/// The adapters: the active ones and the files that failed to load.
#[derive(Debug, Serialize)]
pub struct PluginsView {
    /// Active adapters: version, sha256, origin, calls, failures, quarantine, last error.
    pub plugins: Vec<PluginStatus>,
    /// The last failed installation of each file, with the reason; the previous version (if
    /// any) keeps serving.
    pub load_failures: Vec<LoadFailure>,
}

/// Every active adapter (version, sha256, calls, failures, quarantine) and every file that
/// failed to load, with the reason.
#[utoipa::path(
    get, path = "/api/v1/admin/plugins", tag = "admin",
    responses((status = 200, description = "`{plugins: [...], load_failures: [...]}`", body = serde_json::Value)),
    security(("session" = []))
)]
pub async fn list(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<Json<PluginsView>, ApiError> {
    auth.require(Permission::Administer)?;
    Ok(Json(PluginsView {
        plugins: platform.plugins.status(),
        load_failures: platform.plugins.load_failures(),
    }))
}

/// Upload an adapter (`application/wasm` body; optional `X-Plugin-Signature` header with the
/// hex ed25519 signature). It is validated exactly as a file dropped into the plugins folder —
/// imports, contract version, describe, its own samples — then written to the folder (so it
/// survives restarts) and swapped in; calls in flight finish on the old version. An administrator
/// scoped to the root of the org tree.
#[utoipa::path(
    post, path = "/api/v1/admin/plugins", tag = "admin",
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses(
        (status = 201, description = "installed; the adapter's status", body = serde_json::Value),
        (status = 422, description = "refused, with the reason; the previous version keeps serving", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn upload(
    State(platform): State<Platform>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<PluginStatus>), ApiError> {
    // Adapters serve every source of the city: installing or removing one is the root's act.
    super::admin::city_act(
        &platform,
        &auth,
        &[Role::Admin],
        "adapters are installed for the whole city",
    )
    .await?;
    if body.len() > MAX_PLUGIN_BYTES {
        return Err(ApiError::BadRequest(format!(
            "adapter larger than {MAX_PLUGIN_BYTES} bytes"
        )));
    }
    let signature = match headers.get("x-plugin-signature") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(decode_hex)
                .ok_or_else(|| ApiError::BadRequest("X-Plugin-Signature must be hex".into()))?,
        ),
        None => None,
    };
    blocking(move || {
        let plugin = platform
            .plugin_host
            .load(&body, signature.as_deref())
            .map_err(|error| refused(error.to_string()))?;
        let path = crate::app::plugins::write_upload(
            &platform.plugins_dir,
            &plugin.info.id,
            &body,
            signature.as_deref(),
        )?;
        crate::app::plugins::install_file(
            &platform.plugins,
            &platform.store,
            &path,
            crate::app::plugins::Share::Change,
        );
        platform
            .plugins
            .status()
            .into_iter()
            .find(|status| status.id == plugin.info.id && status.sha256 == plugin.sha256)
            .map(|status| (StatusCode::CREATED, Json(status)))
            .ok_or_else(|| {
                refused(format!(
                    "{} was validated but not installed; see the plugin status",
                    plugin.info.id
                ))
            })
    })
    .await
}

/// Remove an adapter: its file leaves the folder and sources using it keep their payloads for
/// replay until an adapter with that id is installed again. Installing and removing adapters
/// are acts of an administrator scoped to the root of the org tree.
#[utoipa::path(
    delete, path = "/api/v1/admin/plugins/{id}", tag = "admin",
    params(("id" = String, Path, description = "Adapter id")),
    responses((status = 204, description = "removed"), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn remove(
    State(platform): State<Platform>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    super::admin::city_act(
        &platform,
        &auth,
        &[Role::Admin],
        "adapters are removed for the whole city",
    )
    .await?;
    blocking(move || {
        let origins: Vec<String> = platform
            .plugins
            .status()
            .into_iter()
            .filter(|status| status.id == id)
            .map(|status| status.origin)
            .collect();
        if origins.is_empty() {
            return Err(ApiError::NotFound(format!("no adapter {id}")));
        }
        for origin in origins {
            let path = platform.plugins_dir.join(&origin);
            for file in [
                path.clone(),
                std::path::PathBuf::from(format!("{}.sig", path.display())),
            ] {
                if file.exists() {
                    std::fs::remove_file(&file)
                        .map_err(|error| ApiError::Internal(error.to_string()))?;
                }
            }
        }
        platform.plugins.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

fn refused(message: String) -> ApiError {
    ApiError::Unprocessable(hcp_core::validate::Reason {
        code: "adapter_refused".into(),
        message,
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}
