//! The demo's simulated SMS gateway: takes the platform's outbound messages like a real
//! gateway would (`POST /demo/sms`, answering an id), keeps the last ones with the number
//! masked, and lists them (`GET /demo/sms`). Mounted only by `hcp demo` without a configured
//! gateway.

use super::extract::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use hcp_core::pii::PiiKind;
use serde_json::{Value, json};

use super::{ApiError, Auth};
use crate::state::Platform;

/// Messages kept for display.
const KEPT: usize = 200;

pub fn routes(platform: &Platform) -> Router<Platform> {
    if platform.demo_sms.is_none() {
        return Router::new();
    }
    Router::new().route("/demo/sms", get(list).post(take))
}

async fn take(State(platform): State<Platform>, Json(message): Json<Value>) -> Json<Value> {
    let Some(outbox) = &platform.demo_sms else {
        return Json(json!({"error": "no demo gateway"}));
    };
    let to = message["to"].as_str().map(|to| PiiKind::Phone.mask(to));
    let mut outbox = outbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let id = format!("demo-{}", message["id"]);
    outbox.push_front(json!({
        "gateway_id": id,
        "received_at": platform.clock.now(),
        "to": to,
        "purpose": message["purpose"],
        "text": message["text"],
    }));
    outbox.truncate(KEPT);
    Json(json!({"id": id}))
}

async fn list(State(platform): State<Platform>, auth: Auth) -> Result<Json<Vec<Value>>, ApiError> {
    auth.require(hcp_core::auth::Permission::Administer)?;
    let outbox = platform
        .demo_sms
        .as_ref()
        .map(|outbox| {
            outbox
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(outbox))
}
