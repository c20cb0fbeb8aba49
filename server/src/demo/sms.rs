//! The demo's simulated SMS gateway: takes the platform's outbound messages like a real
//! gateway would (`POST /demo/sms`, answering an id), keeps the last ones with the number
//! masked, and lists them (`GET /demo/sms`). Mounted only by `hcp demo` without a configured
//! gateway.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Router};
use hcp_core::pii::PiiKind;
use serde_json::{Value, json};

use crate::app::platform::Platform;
use crate::http::extract::Json;
use crate::http::{ApiError, Auth};

/// Messages kept for display.
const KEPT: usize = 200;

/// The last messages taken, newest first (numbers masked).
pub type Outbox = Arc<Mutex<VecDeque<Value>>>;

pub fn routes(outbox: Outbox) -> Router<Platform> {
    Router::new()
        .route("/demo/sms", get(list).post(take))
        .layer(Extension(outbox))
}

async fn take(
    State(platform): State<Platform>,
    Extension(outbox): Extension<Outbox>,
    Json(message): Json<Value>,
) -> Json<Value> {
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

async fn list(
    Extension(outbox): Extension<Outbox>,
    auth: Auth,
) -> Result<Json<Vec<Value>>, ApiError> {
    auth.require(hcp_core::auth::Permission::Administer)?;
    let outbox = outbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .cloned()
        .collect();
    Ok(Json(outbox))
}
