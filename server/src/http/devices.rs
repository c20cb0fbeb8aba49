//! Hall devices: registry with health (last seen, last upload, counters reconciled against the
//! ratings stored) and the online rate per hall.

use std::collections::BTreeMap;

use super::extract::{Json, Query};
use axum::extract::State;
use chrono::{DateTime, Utc};
use hcp_core::auth::Permission;
use hcp_core::model::DeviceState;
use hcp_core::store::Dim;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub model: String,
    pub window: String,
    pub hall: Option<String>,
    /// Heard from (heartbeat or rating) within the configured online window.
    pub online: bool,
    /// Ratings the device counted that never arrived (lost uploads).
    pub missing_ratings: u64,
    pub state: DeviceState,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HallDevices {
    pub hall: String,
    pub devices: u64,
    pub online: u64,
    /// online ÷ devices
    pub online_rate: f64,
    /// Devices with lost uploads.
    pub with_missing_ratings: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// Org unit (region, hall or window) whose devices to list; default the caller's scope.
    pub unit: Option<String>,
}

/// Devices under a unit with their health. Blocking.
fn devices_under(
    platform: &Platform,
    unit: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceView>, ApiError> {
    let mut views = Vec::new();
    for device in platform.store.devices()? {
        if !platform.store.within(Dim::Window, &device.window, unit)? {
            continue;
        }
        let state = platform.store.device_state(&device.id)?;
        let hall = platform
            .store
            .org_unit(&device.window)?
            .and_then(|window| window.parent);
        views.push(DeviceView {
            online: state
                .last_seen
                .is_some_and(|seen| now - seen <= platform.device_online),
            missing_ratings: state.missing(),
            id: device.id,
            model: device.model,
            window: device.window,
            hall,
            state,
        });
    }
    Ok(views)
}

fn resolve_unit(
    platform: &Platform,
    auth: &Auth,
    unit: Option<String>,
) -> Result<String, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?;
    let unit = unit.unwrap_or_else(|| principal.scope.clone());
    // Any org unit (region, hall, window, department) by its place in the tree.
    platform
        .scope()
        .ensure_unit(principal, Dim::Region, &unit)?;
    Ok(unit)
}

/// Devices under a unit: model, window, hall, last seen, last upload, counters and lost uploads.
#[utoipa::path(
    get, path = "/api/v1/devices", tag = "query",
    params(UnitQuery, PageQuery),
    responses((status = 200, body = Page<DeviceView>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn list(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<UnitQuery>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<DeviceView>>, ApiError> {
    blocking(move || {
        let unit = resolve_unit(&platform, &auth, query.unit)?;
        let devices = devices_under(&platform, &unit, platform.clock.now())?;
        Ok(Json(Page::of(devices, &paging)?))
    })
    .await
}

/// Online rate of the rating devices per hall under a unit.
#[utoipa::path(
    get, path = "/api/v1/devices/online-rate", tag = "query",
    params(UnitQuery),
    responses((status = 200, body = Vec<HallDevices>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn online_rate(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<UnitQuery>,
) -> Result<Json<Vec<HallDevices>>, ApiError> {
    blocking(move || {
        let unit = resolve_unit(&platform, &auth, query.unit)?;
        let mut halls: BTreeMap<String, HallDevices> = BTreeMap::new();
        for device in devices_under(&platform, &unit, platform.clock.now())? {
            let hall = device.hall.clone().unwrap_or_default();
            let entry = halls.entry(hall.clone()).or_insert_with(|| HallDevices {
                hall,
                devices: 0,
                online: 0,
                online_rate: 0.0,
                with_missing_ratings: 0,
            });
            entry.devices += 1;
            entry.online += u64::from(device.online);
            entry.with_missing_ratings += u64::from(device.missing_ratings > 0);
        }
        let mut rows: Vec<HallDevices> = halls.into_values().collect();
        for row in &mut rows {
            row.online_rate = if row.devices == 0 {
                0.0
            } else {
                row.online as f64 / row.devices as f64
            };
        }
        Ok(Json(rows))
    })
    .await
}
